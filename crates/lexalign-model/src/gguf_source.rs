//! GGUF checkpoints through `lexalign-gguf`: tensors dequantised to f32 with HF names and
//! layout (llama.cpp's q/k row order undone), the HF-equivalent config and tokenizer.

use crate::config::ModelConfig;
use crate::load::{build, LoadOptions, LoadedModel, ModelInfo, TensorSource};
use crate::tokenize::WordTokenizer;
use anyhow::{Context, Result};
use lexalign_gguf::LlamaGguf;
use std::path::Path;
use tch::{Device, Kind, Tensor};

impl TensorSource for LlamaGguf {
    /// Dequantised straight into the tensor's own memory: a `Vec` then `from_slice` held every
    /// tensor twice at once (Gemma's 262k x 640 embedding table: 0.67 GB extra at load).
    fn tensor(&self, name: &str) -> Result<Tensor> {
        let shape: Vec<i64> = self.hf_shape(name)?.iter().map(|&d| d as i64).collect();
        let mut t = Tensor::zeros(shape.as_slice(), (Kind::Float, Device::Cpu));
        let n = t.numel();
        // Safety: `t` is a fresh, contiguous f32 CPU tensor of exactly `n` elements, borrowed
        // mutably for the duration of the write and by nothing else.
        let out = unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, n) };
        self.load_hf_into(name, out)?;
        let _ = &mut t;
        Ok(t)
    }
    fn has(&self, name: &str) -> bool {
        self.tensor_info(name).is_ok()
    }
    fn names(&self) -> Vec<String> {
        self.hf_tensor_names()
    }
}

/// The config and tokenizer transformers derives from a GGUF, without its weights.
pub fn gguf_tokenizer(path: &Path) -> Result<(WordTokenizer, ModelConfig)> {
    let g = LlamaGguf::open(path)?;
    let cfg = ModelConfig::from_json_str(&g.config().to_hf_json().to_string())
        .with_context(|| format!("config derived from {}", path.display()))?;
    let tok = g
        .tokenizer()
        .with_context(|| format!("tokenizer of {}", path.display()))?;
    let mut tokenizer = WordTokenizer::from_gguf(tok);
    tokenizer.apply_family_rule(cfg.family()?)?;
    Ok((tokenizer, cfg))
}

pub fn load_gguf(path: &Path, opts: &LoadOptions) -> Result<LoadedModel> {
    let g = LlamaGguf::open(path)?;
    let cfg = ModelConfig::from_json_str(&g.config().to_hf_json().to_string())
        .with_context(|| format!("config derived from {}", path.display()))?;
    let tok = g
        .tokenizer()
        .with_context(|| format!("tokenizer of {}", path.display()))?;
    let mut tokenizer = WordTokenizer::from_gguf(tok);
    tokenizer.apply_family_rule(cfg.family()?)?;
    let model = build(&cfg, &g, opts)
        .with_context(|| format!("loading weights from {}", path.display()))?;
    let name = g.config().name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Ok(LoadedModel {
        model,
        tokenizer,
        info: ModelInfo {
            path: path.to_path_buf(),
            format: "gguf",
            name,
        },
    })
}
