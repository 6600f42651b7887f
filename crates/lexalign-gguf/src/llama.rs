//! A decoder GGUF (llama, qwen2, qwen3, gemma3) seen the way transformers loads it (`from_pretrained(dir, gguf_file=...)`):
//! HF tensor names, HF shapes, q/k rows un-permuted, and an HF config.
//!
//! transformers (legacy GGUF loader, `modeling_gguf_pytorch_utils.py`) dequantises each tensor
//! with `gguf.dequantize`, undoes llama.cpp's rotary row permutation of `attn_q`/`attn_k`
//! (`LlamaTensorProcessor._reverse_permute_weights`) and renames via gguf-py's tensor map.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::arch::Arch;
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
    if n_head == 0 || rows % (2 * n_head) != 0 || data.len() != rows * cols {
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

/// The HF `config.json` fields transformers derives from a decoder GGUF.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// The GGUF architecture (`general.architecture`).
    #[serde(skip)]
    pub arch: Option<Arch>,
    pub architectures: Vec<String>,
    pub model_type: String,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    /// f32 from the file, widened exactly (transformers: 9.999999747378752e-06 for 1e-5).
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    /// `{arch}.rope.scaling.*` when the file has a scaling type other than "none".
    /// NB: transformers' llama GGUF loader ignores these keys and the `rope_freqs.weight` tensor
    /// (Llama 3.1 style); we report them, the model should follow HF (= ignore) for parity.
    pub rope_scaling: Option<serde_json::Value>,
    pub max_position_embeddings: usize,
    pub vocab_size: usize,
    pub bos_token_id: Option<u32>,
    pub eos_token_id: Option<u32>,
    pub pad_token_id: Option<u32>,
    pub unk_token_id: Option<u32>,
    pub tie_word_embeddings: bool,
    pub hidden_act: String,
    pub attention_bias: bool,
    pub mlp_bias: bool,
    /// `general.name`, for provenance.
    pub name: Option<String>,
    /// Whether the file has a `rope_freqs.weight` tensor (ignored by transformers).
    pub has_rope_freqs: bool,
    /// `{arch}.attention.sliding_window` (Gemma 3).
    pub sliding_window: Option<usize>,
}

impl LlamaConfig {
    /// Reads the config from GGUF metadata; refuses any architecture but `llama`.
    pub fn from_gguf(g: &Gguf) -> Result<LlamaConfig> {
        let p = g.path().display();
        let arch = g
            .get_str("general.architecture")?
            .ok_or_else(|| anyhow!("{p}: GGUF metadata 'general.architecture' is missing"))?;
        let kind = Arch::from_gguf(arch, &p.to_string())?;
        let ak = kind.key();
        let name = g.get_str("general.name")?.map(str::to_owned);
        // transformers switches llama files named mistral (`"mistral" in [general.name]`) to Mistral.
        let is_mistral = kind == Arch::Llama && name.as_deref() == Some("mistral");
        let (hf_arch, model_type) = match kind {
            Arch::Llama if is_mistral => ("MistralForCausalLM", "mistral"),
            Arch::Llama => ("LlamaForCausalLM", "llama"),
            Arch::Qwen2 => ("Qwen2ForCausalLM", "qwen2"),
            Arch::Qwen3 => ("Qwen3ForCausalLM", "qwen3"),
            Arch::Gemma3 => ("Gemma3ForCausalLM", "gemma3_text"),
        };
        let req = |k: &str| -> Result<u64> {
            g.get_u64(&format!("{ak}.{k}"))?
                .ok_or_else(|| anyhow!("{p}: GGUF metadata '{ak}.{k}' is missing"))
        };
        let hidden_size = req("embedding_length")? as usize;
        let num_attention_heads = req("attention.head_count")? as usize;
        let num_key_value_heads = match g.get_u64(&format!("{ak}.attention.head_count_kv"))? {
            Some(v) => v as usize,
            None => num_attention_heads,
        };
        if num_attention_heads == 0
            || num_key_value_heads == 0
            || num_attention_heads % num_key_value_heads != 0
        {
            bail!(
                "{p}: bad head counts: {num_attention_heads} heads, {num_key_value_heads} kv heads"
            );
        }
        // transformers maps gemma3's `attention.key_length` to head_dim, llama's `rope.dimension_count`.
        let head_key = if kind == Arch::Gemma3 { "attention.key_length" } else { "rope.dimension_count" };
        let head_dim = match g.get_u64(&format!("{ak}.{head_key}"))? {
            Some(v) => v as usize,
            None => hidden_size / num_attention_heads,
        };
        let vocab_size = match g.get_u64(&format!("{ak}.vocab_size"))? {
            Some(v) => v as usize,
            None => g
                .get("tokenizer.ggml.tokens")
                .and_then(|v| v.as_array())
                .map(|a| a.len())
                .ok_or_else(|| {
                    anyhow!(
                        "{p}: neither '{ak}.vocab_size' nor 'tokenizer.ggml.tokens' is present"
                    )
                })?,
        };
        let rope_scaling = match g.get_str(&format!("{ak}.rope.scaling.type"))? {
            None | Some("none") => None,
            Some(t) => {
                let mut m = serde_json::Map::new();
                m.insert("rope_type".into(), t.into());
                for (k, v) in g.metadata() {
                    if let Some(s) = k.strip_prefix(&format!("{ak}.rope.scaling.")) {
                        if s == "type" {
                            continue;
                        }
                        let key = if s == "original_context_length" {
                            "original_max_position_embeddings"
                        } else {
                            s
                        };
                        m.insert(key.into(), v.to_json());
                    }
                }
                Some(serde_json::Value::Object(m))
            }
        };
        let id = |k: &str| -> Result<Option<u32>> {
            g.get_u64(&format!("tokenizer.ggml.{k}"))?
                .map(|v| {
                    u32::try_from(v)
                        .map_err(|_| anyhow!("{p}: tokenizer.ggml.{k} = {v} does not fit u32"))
                })
                .transpose()
        };
        Ok(LlamaConfig {
            arch: Some(kind),
            architectures: vec![hf_arch.into()],
            model_type: model_type.into(),
            hidden_size,
            intermediate_size: req("feed_forward_length")? as usize,
            num_hidden_layers: req("block_count")? as usize,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            rms_norm_eps: g
                .get_f64(&format!("{ak}.attention.layer_norm_rms_epsilon"))?
                .ok_or_else(|| {
                    anyhow!(
                        "{p}: GGUF metadata '{ak}.attention.layer_norm_rms_epsilon' is missing"
                    )
                })?,
            // The HF config class's default when the key is absent.
            rope_theta: g
                .get_f64(&format!("{ak}.rope.freq_base"))?
                .unwrap_or(if kind == Arch::Gemma3 { 1_000_000.0 } else { 10000.0 }),
            rope_scaling,
            max_position_embeddings: req("context_length")? as usize,
            vocab_size,
            bos_token_id: id("bos_token_id")?,
            eos_token_id: id("eos_token_id")?,
            pad_token_id: id("padding_token_id")?,
            unk_token_id: id("unknown_token_id")?,
            tie_word_embeddings: g.tensor("output.weight").is_none(),
            hidden_act: if kind == Arch::Gemma3 { "gelu_pytorch_tanh" } else { "silu" }.into(),
            attention_bias: g.tensor("blk.0.attn_q.bias").is_some(),
            mlp_bias: g.tensor("blk.0.ffn_up.bias").is_some(),
            name,
            has_rope_freqs: g.tensor("rope_freqs.weight").is_some(),
            sliding_window: g
                .get_u64(&format!("{ak}.attention.sliding_window"))?
                .map(|w| w as usize),
        })
    }

    /// An HF `config.json` (transformers 4.x keys `rope_theta`/`rope_scaling`, which 5.x also reads).
    /// Gemma 3 keys the GGUF leaves out take `Gemma3TextConfig`'s defaults, as transformers does.
    pub fn to_hf_json(&self) -> serde_json::Value {
        let mut v = self.base_hf_json();
        let obj = v.as_object_mut().expect("an object");
        if self.arch == Some(Arch::Gemma3) {
            obj.remove("hidden_act");
            obj.insert("hidden_activation".into(), "gelu_pytorch_tanh".into());
            obj.insert("query_pre_attn_scalar".into(), 256.into());
            obj.insert("rope_local_base_freq".into(), 10000.0.into());
            obj.insert("sliding_window".into(), self.sliding_window.unwrap_or(4096).into());
            obj.insert("sliding_window_pattern".into(), 6.into());
            obj.insert("attn_logit_softcapping".into(), serde_json::Value::Null);
            obj.insert("final_logit_softcapping".into(), serde_json::Value::Null);
        }
        v
    }

    fn base_hf_json(&self) -> serde_json::Value {
        serde_json::json!({
            "architectures": self.architectures,
            "model_type": self.model_type,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": self.rope_scaling,
            "max_position_embeddings": self.max_position_embeddings,
            "vocab_size": self.vocab_size,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "tie_word_embeddings": self.tie_word_embeddings,
            "hidden_act": self.hidden_act,
            "attention_bias": self.attention_bias,
            "attention_dropout": 0.0,
            "mlp_bias": self.mlp_bias,
            "initializer_range": 0.02,
            "pretraining_tp": 1,
            "use_cache": true,
            "torch_dtype": "float32",
        })
    }
}

/// A llama GGUF with its HF config; the entry point for the model crate.
#[derive(Debug)]
pub struct LlamaGguf {
    gguf: Gguf,
    config: LlamaConfig,
}

impl LlamaGguf {
    /// Opens the file and derives the config (errors for a non-llama architecture).
    pub fn open(path: impl AsRef<Path>) -> Result<LlamaGguf> {
        let gguf = Gguf::open(path)?;
        Self::from_gguf(gguf)
    }

    pub fn from_gguf(gguf: Gguf) -> Result<LlamaGguf> {
        let config = LlamaConfig::from_gguf(&gguf)?;
        Ok(LlamaGguf { gguf, config })
    }

    pub fn gguf(&self) -> &Gguf {
        &self.gguf
    }
    pub fn config(&self) -> &LlamaConfig {
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
        let g = crate::arch::hf_to_gguf(self.arch(), hf_name)
            .ok_or_else(|| anyhow!("{p}: '{hf_name}' is not a parameter name of a {} model", self.arch().key()))?;
        match self.gguf.tensor(&g) {
            Some(t) => Ok(t),
            None if hf_name == "lm_head.weight" && self.config.tie_word_embeddings => self
                .gguf
                .tensor("token_embd.weight")
                .ok_or_else(|| anyhow!("{p}: tied embeddings but no 'token_embd.weight' tensor")),
            None => bail!("{p}: no tensor '{g}' (HF '{hf_name}') in the GGUF file"),
        }
    }

    /// Loads one tensor by HF name as f32 in HF layout, exactly as transformers does
    /// (dequantised, q/k rows un-permuted). `lm_head.weight` returns the embedding when tied.
    pub fn load_hf(&self, hf_name: &str) -> Result<HfTensor> {
        let info = self.tensor_info(hf_name)?;
        let mut data = self.gguf.dequantize(&info.name)?;
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
        let data = match heads {
            Some(n) => {
                let rows = shape[0];
                let cols = shape.iter().skip(1).product::<usize>().max(1);
                reverse_permute_rows(&data, rows, cols, n).with_context(|| {
                    format!(
                        "{}: un-permuting '{}'",
                        self.gguf.path().display(),
                        info.name
                    )
                })?
            }
            None => data,
        };
        Ok(HfTensor {
            name: hf_name.to_string(),
            shape,
            data,
        })
    }

    /// Loads every HF tensor (see [`Self::hf_tensor_names`]); for small models and `convert`.
    pub fn load_all_hf(&self) -> Result<Vec<HfTensor>> {
        self.hf_tensor_names()
            .iter()
            .map(|n| self.load_hf(n))
            .collect()
    }
}
