//! HF safetensors checkpoints: one `model.safetensors` or shards listed in
//! `model.safetensors.index.json`, memory-mapped; tensors are copied out one at a time.

use anyhow::{bail, Context, Result};
use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

pub struct SafetensorsDir {
    /// Memory maps, one per shard.
    maps: Vec<(PathBuf, Mmap)>,
    /// Tensor name -> index into `maps`.
    index: BTreeMap<String, usize>,
}

impl SafetensorsDir {
    pub fn open(dir: &Path) -> Result<Self> {
        let index_path = dir.join("model.safetensors.index.json");
        let files: Vec<PathBuf> = if index_path.exists() {
            let text = std::fs::read_to_string(&index_path)
                .with_context(|| format!("cannot read {}", index_path.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", index_path.display()))?;
            let map = v
                .get("weight_map")
                .and_then(|m| m.as_object())
                .with_context(|| format!("{} has no `weight_map` object", index_path.display()))?;
            let mut files: Vec<String> = map
                .values()
                .filter_map(|f| f.as_str().map(String::from))
                .collect();
            files.sort();
            files.dedup();
            files.into_iter().map(|f| dir.join(f)).collect()
        } else if dir.join("model.safetensors").exists() {
            vec![dir.join("model.safetensors")]
        } else {
            bail!(
                "no model.safetensors or model.safetensors.index.json in {}: point --model at an HF checkpoint folder or a .gguf file",
                dir.display()
            );
        };
        let mut maps = Vec::new();
        let mut index = BTreeMap::new();
        for (i, path) in files.iter().enumerate() {
            let file = File::open(path)
                .with_context(|| format!("cannot open weights file {}", path.display()))?;
            // SAFETY: the file is opened read-only and not modified while the map lives.
            let mmap = unsafe { Mmap::map(&file) }
                .with_context(|| format!("cannot memory-map {}", path.display()))?;
            let st = SafeTensors::deserialize(&mmap).map_err(|e| {
                anyhow::anyhow!(
                    "{} is not a valid safetensors file (truncated or corrupt?): {e}",
                    path.display()
                )
            })?;
            for name in st.names() {
                index.insert(name.to_string(), i);
            }
            maps.push((path.clone(), mmap));
        }
        Ok(Self { maps, index })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.index.keys()
    }

    /// The tensor on the CPU in its stored dtype.
    pub fn get(&self, name: &str) -> Result<Tensor> {
        let &i = self
            .index
            .get(name)
            .with_context(|| format!("tensor `{name}` is missing from the checkpoint"))?;
        let (path, mmap) = &self.maps[i];
        let st = SafeTensors::deserialize(mmap).map_err(|e| {
            anyhow::anyhow!("{} is not a valid safetensors file: {e}", path.display())
        })?;
        let view = st
            .tensor(name)
            .map_err(|e| anyhow::anyhow!("tensor `{name}` in {}: {e}", path.display()))?;
        let kind = match view.dtype() {
            Dtype::F32 => Kind::Float,
            Dtype::F16 => Kind::Half,
            Dtype::BF16 => Kind::BFloat16,
            other => bail!(
                "tensor `{name}` in {} has dtype {other:?}; only f32, f16 and bf16 are supported",
                path.display()
            ),
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        Ok(Tensor::from_data_size(view.data(), &shape, kind))
    }
}
