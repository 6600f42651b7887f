//! GGUF -> HF folder (`model.safetensors` f32 with HF names, `config.json`, `tokenizer.json`,
//! `tokenizer_config.json`), written into a temporary sibling folder and swapped into place (`lexalign_run::swap_dir`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

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

    let tmp = lexalign_run::temp_dir_beside(out_dir)?;

    let result = (|| -> Result<()> {
        write_safetensors(&tensors, &tmp.join("model.safetensors"))?;
        let write_json = |name: &str, v: &serde_json::Value| -> Result<()> {
            lexalign_run::write_atomic(tmp.join(name), serde_json::to_string_pretty(v)? + "\n")
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

    // Swap into place (fsynced; any old folder is replaced whole).
    lexalign_run::swap_dir(&tmp, out_dir)?;
    log::info!(
        "converted {} -> {} ({} tensors)",
        gguf_path.display(),
        out_dir.display(),
        tensors.len()
    );
    Ok(())
}
