//! GGUF -> HF folder (`model.safetensors` f32 with HF names, `config.json`, `tokenizer.json`,
//! `tokenizer_config.json`), written into a temporary sibling folder and renamed into place.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use safetensors::{Dtype, View};

use crate::llama::{HfTensor, LlamaGguf};

/// f32 tensor as a safetensors view (bytes produced one tensor at a time while writing).
struct F32View<'a>(&'a HfTensor);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.0.data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
    fn data_len(&self) -> usize {
        self.0.data.len() * 4
    }
}

/// Writes `tensors` as an f32 safetensors file (`{"format": "pt"}` metadata, as HF writes).
pub fn write_safetensors(tensors: &[HfTensor], path: &Path) -> Result<()> {
    let meta = Some(HashMap::from([("format".to_string(), "pt".to_string())]));
    safetensors::serialize_to_file(
        tensors.iter().map(|t| (t.name.clone(), F32View(t))),
        &meta,
        path,
    )
    .map_err(|e| anyhow!("{e:?}"))
    .with_context(|| format!("writing {}", path.display()))
}

/// Converts a llama GGUF into an HF model folder at `out_dir` (replacing it if present).
/// A tied `lm_head.weight` is omitted, as `save_pretrained` does; `tie_word_embeddings` says so.
pub fn convert_to_hf_dir(gguf_path: impl AsRef<Path>, out_dir: impl AsRef<Path>) -> Result<()> {
    let gguf_path = gguf_path.as_ref();
    let out_dir = out_dir.as_ref();
    let model = LlamaGguf::open(gguf_path)?;
    let tok = model.tokenizer()?;
    let tensors = model.load_all_hf()?;

    let parent = match out_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let base = out_dir
        .file_name()
        .ok_or_else(|| anyhow!("output folder {} has no name", out_dir.display()))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        base.to_string_lossy(),
        std::process::id()
    ));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| format!("removing stale {}", tmp.display()))?;
    }
    fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;

    let result = (|| -> Result<()> {
        write_safetensors(&tensors, &tmp.join("model.safetensors"))?;
        let write_json = |name: &str, v: &serde_json::Value| -> Result<()> {
            let p = tmp.join(name);
            fs::write(&p, serde_json::to_string_pretty(v)? + "\n")
                .with_context(|| format!("writing {}", p.display()))
        };
        write_json("config.json", &model.config().to_hf_json())?;
        write_json("tokenizer_config.json", &tok.hf_tokenizer_config())?;
        let tj = tmp.join("tokenizer.json");
        tok.tokenizer
            .save(&tj, false)
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("writing {}", tj.display()))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e.context(format!(
            "converting {} into {}",
            gguf_path.display(),
            out_dir.display()
        )));
    }

    // Swap into place: move any old folder aside first so the new one appears in one rename.
    let old = parent.join(format!(
        ".{}.old-{}",
        base.to_string_lossy(),
        std::process::id()
    ));
    let had_old = out_dir.exists();
    if had_old {
        fs::rename(out_dir, &old)
            .with_context(|| format!("moving old {} aside", out_dir.display()))?;
    }
    fs::rename(&tmp, out_dir)
        .with_context(|| format!("renaming {} to {}", tmp.display(), out_dir.display()))?;
    if had_old {
        fs::remove_dir_all(&old).with_context(|| format!("removing old {}", old.display()))?;
    }
    log::info!(
        "converted {} -> {} ({} tensors)",
        gguf_path.display(),
        out_dir.display(),
        tensors.len()
    );
    Ok(())
}
