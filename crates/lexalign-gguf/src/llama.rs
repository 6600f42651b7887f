//! A decoder GGUF (llama, qwen2, qwen3, gemma3) seen the way transformers loads it (`from_pretrained(dir, gguf_file=...)`):
//! HF tensor names, HF shapes, q/k rows un-permuted, and an HF config.
//!
//! transformers (legacy GGUF loader, `modeling_gguf_pytorch_utils.py`) dequantises each tensor
//! with `gguf.dequantize`, undoes llama.cpp's rotary row permutation of `attn_q`/`attn_k`
//! (`LlamaTensorProcessor._reverse_permute_weights`) and renames via gguf-py's tensor map.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::arch::Arch;
use crate::hf_config::GgufModelConfig;
use crate::reader::{Gguf, TensorInfo};
use crate::tokenizer::{tokenizer_from_gguf_full, GgufTokenizer};

/// A dequantised tensor in HF layout.
#[derive(Clone, Debug)]
pub struct HfTensor {
    /// HF parameter name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    pub name: String,
    /// HF shape (`[out, in]` for linear weights).
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// Maps a llama.cpp tensor name of a `llama` GGUF to the HF name (see [`crate::arch::gguf_to_hf`]).
pub fn gguf_to_hf_name(name: &str) -> Option<String> {
    crate::arch::gguf_to_hf(Arch::Llama, name)
}

/// The inverse of [`gguf_to_hf_name`].
pub fn hf_to_gguf_name(hf: &str) -> Option<String> {
    crate::arch::hf_to_gguf(Arch::Llama, hf)
}

/// Undoes llama.cpp's `permute(w, n_head)` on the rows of a `[rows, cols]` row-major matrix
/// (transformers' `_reverse_permute_weights`: `w.reshape(n_head, dim, 2, cols).swapaxes(2, 1)`,
/// `dim = rows / n_head / 2`). Also valid for a bias (`cols == 1`).
pub fn reverse_permute_rows(
    data: &[f32],
    rows: usize,
    cols: usize,
    n_head: usize,
) -> Result<Vec<f32>> {
    // Checked: head counts and dims come from the file (a corrupt 2^63 heads must be an error).
    let two_heads = n_head.checked_mul(2).unwrap_or(0);
    if two_heads == 0 || rows % two_heads != 0 || rows.checked_mul(cols) != Some(data.len()) {
        bail!(
            "cannot un-permute a [{rows}, {cols}] tensor ({} values) over {n_head} heads",
            data.len()
        );
    }
    let dim = rows / n_head / 2;
    let mut out = vec![0f32; data.len()];
    for h in 0..n_head {
        for j in 0..2 {
            for d in 0..dim {
                let dst = h * 2 * dim + j * dim + d;
                let src = h * 2 * dim + d * 2 + j;
                out[dst * cols..(dst + 1) * cols]
                    .copy_from_slice(&data[src * cols..(src + 1) * cols]);
            }
        }
    }
    Ok(out)
}

/// A decoder GGUF with the HF config its metadata gives; the entry point for the model crate.
#[derive(Debug)]
pub struct LlamaGguf {
    gguf: Gguf,
    config: GgufModelConfig,
}

impl LlamaGguf {
    /// Opens the file and derives the config (errors for a non-llama architecture).
    pub fn open(path: impl AsRef<Path>) -> Result<LlamaGguf> {
        let gguf = Gguf::open(path)?;
        Self::from_gguf(gguf)
    }

    pub fn from_gguf(gguf: Gguf) -> Result<LlamaGguf> {
        let config = GgufModelConfig::from_gguf(&gguf)?;
        Ok(LlamaGguf { gguf, config })
    }

    pub fn gguf(&self) -> &Gguf {
        &self.gguf
    }
    /// What the file's metadata says, in HF's terms (`to_hf_json` gives the `config.json`).
    pub fn config(&self) -> &GgufModelConfig {
        &self.config
    }

    pub fn arch(&self) -> Arch {
        self.config.arch.unwrap_or(Arch::Llama)
    }

    /// The tokenizer transformers builds from this file, with BOS/EOS/PAD info.
    pub fn tokenizer(&self) -> Result<GgufTokenizer> {
        tokenizer_from_gguf_full(&self.gguf)
    }

    /// HF names of every tensor the file provides, in file order (no `lm_head.weight` when tied).
    pub fn hf_tensor_names(&self) -> Vec<String> {
        self.gguf
            .tensors()
            .iter()
            .filter_map(|t| crate::arch::gguf_to_hf(self.arch(), &t.name))
            .collect()
    }

    /// llama.cpp tensors that have no HF counterpart and are skipped (e.g. `rope_freqs.weight`).
    pub fn skipped_tensors(&self) -> Vec<&str> {
        self.gguf
            .tensors()
            .iter()
            .filter(|t| crate::arch::gguf_to_hf(self.arch(), &t.name).is_none())
            .map(|t| t.name.as_str())
            .collect()
    }

    /// The GGUF tensor info behind an HF name (`lm_head.weight` falls back to the embedding when tied).
    pub fn tensor_info(&self, hf_name: &str) -> Result<&TensorInfo> {
        let p = self.gguf.path().display();
        let g = crate::arch::hf_to_gguf(self.arch(), hf_name).ok_or_else(|| {
            anyhow!(
                "{p}: '{hf_name}' is not a parameter name of a {} model",
                self.arch().key()
            )
        })?;
        match self.gguf.tensor(&g) {
            Some(t) => Ok(t),
            None if hf_name == "lm_head.weight" && self.config.tie_word_embeddings => self
                .gguf
                .tensor("token_embd.weight")
                .ok_or_else(|| anyhow!("{p}: tied embeddings but no 'token_embd.weight' tensor")),
            None => bail!("{p}: no tensor '{g}' (HF '{hf_name}') in the GGUF file"),
        }
    }

    /// The HF shape of a tensor (the GGUF dims reversed).
    pub fn hf_shape(&self, hf_name: &str) -> Result<Vec<usize>> {
        Ok(self.tensor_info(hf_name)?.hf_shape())
    }

    /// Loads one tensor by HF name as f32 in HF layout, exactly as transformers does
    /// (dequantised, q/k rows un-permuted). `lm_head.weight` returns the embedding when tied.
    pub fn load_hf(&self, hf_name: &str) -> Result<HfTensor> {
        let info = self.tensor_info(hf_name)?;
        let shape = info.hf_shape();
        // The header parse checked that the element count fits and the data lies in the file.
        let mut data = vec![0f32; info.n_elements() as usize];
        self.load_hf_into(hf_name, &mut data)?;
        Ok(HfTensor {
            name: hf_name.to_string(),
            shape,
            data,
        })
    }

    /// [`Self::load_hf`] into `out` (exactly the tensor's element count), so a caller can
    /// dequantise straight into its own buffer (a torch tensor) without a second copy.
    pub fn load_hf_into(&self, hf_name: &str, out: &mut [f32]) -> Result<()> {
        let info = self.tensor_info(hf_name)?;
        crate::dequant::dequantize_into(info.ggml_type, self.gguf.tensor_bytes(info), out)
            .with_context(|| {
                format!(
                    "{}: dequantizing tensor '{}'",
                    self.gguf.path().display(),
                    info.name
                )
            })?;
        let data = out;
        let shape = info.hf_shape();
        let arch = self.arch();
        if arch.norms_offset_by_one() && info.name.contains("norm.weight") {
            // transformers' Gemma2TensorProcessor: `weights - 1` in f32.
            data.iter_mut().for_each(|x| *x -= 1.0);
        }
        let heads = if !arch.permutes_qk() {
            None
        } else if hf_name.ends_with("self_attn.q_proj.weight")
            || hf_name.ends_with("self_attn.q_proj.bias")
        {
            Some(self.config.num_attention_heads)
        } else if hf_name.ends_with("self_attn.k_proj.weight")
            || hf_name.ends_with("self_attn.k_proj.bias")
        {
            Some(self.config.num_key_value_heads)
        } else {
            None
        };
        if let Some(n) = heads {
            let rows = shape[0];
            // Checked: with a 0 dim the file's element count is 0 whatever the other dims are.
            let cols = shape
                .iter()
                .skip(1)
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .ok_or_else(|| {
                    anyhow!(
                        "{}: tensor '{}' has dims {:?} whose product overflows",
                        self.gguf.path().display(),
                        info.name,
                        info.dims
                    )
                })?
                .max(1);
            let permuted = reverse_permute_rows(data, rows, cols, n).with_context(|| {
                format!(
                    "{}: un-permuting '{}'",
                    self.gguf.path().display(),
                    info.name
                )
            })?;
            data.copy_from_slice(&permuted);
        }
        Ok(())
    }

    /// Loads every HF tensor (see [`Self::hf_tensor_names`]); for small models and `convert`.
    pub fn load_all_hf(&self) -> Result<Vec<HfTensor>> {
        self.hf_tensor_names()
            .iter()
            .map(|n| self.load_hf(n))
            .collect()
    }
}
