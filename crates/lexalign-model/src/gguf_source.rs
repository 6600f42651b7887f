//! GGUF checkpoints through `lexalign-gguf`: tensors dequantised to f32 with HF names and
//! layout (llama.cpp's q/k row order undone), the HF-equivalent config and tokenizer.

use crate::config::ModelConfig;
use crate::load::{build, LoadOptions, LoadedModel, ModelInfo, TensorSource};
use crate::tokenize::WordTokenizer;
use anyhow::{Context, Result};
use lexalign_gguf::LlamaGguf;
use std::path::Path;
use tch::Tensor;

impl TensorSource for LlamaGguf {
    fn tensor(&self, name: &str) -> Result<Tensor> {
        let t = self.load_hf(name)?;
        let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
        Ok(Tensor::from_slice(&t.data).view(shape.as_slice()))
    }
    fn has(&self, name: &str) -> bool {
        self.tensor_info(name).is_ok()
    }
    fn names(&self) -> Vec<String> {
        self.hf_tensor_names()
    }
}

pub fn load_gguf(path: &Path, opts: &LoadOptions) -> Result<LoadedModel> {
    let g = LlamaGguf::open(path)?;
    let cfg = ModelConfig::from_json_str(&g.config().to_hf_json().to_string())
        .with_context(|| format!("config derived from {}", path.display()))?;
    let tok = g.tokenizer().with_context(|| format!("tokenizer of {}", path.display()))?;
    let tokenizer = WordTokenizer::from_gguf(tok);
    let model = build(&cfg, &g, opts).with_context(|| format!("loading weights from {}", path.display()))?;
    let name = g
        .config()
        .name
        .clone()
        .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    Ok(LoadedModel { model, tokenizer, info: ModelInfo { path: path.to_path_buf(), format: "gguf", name } })
}
