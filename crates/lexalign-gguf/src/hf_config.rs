//! The HF `config.json` that transformers derives from a decoder GGUF's metadata
//! (`modeling_gguf_pytorch_utils.py`: `{arch}.*` keys renamed, its config classes' defaults).

use anyhow::{anyhow, bail, Result};

use crate::arch::Arch;
use crate::reader::Gguf;

/// The HF `config.json` fields transformers derives from a decoder GGUF's metadata.
///
/// Not a model config of its own: the model crate parses [`GgufModelConfig::to_hf_json`] with
/// `lexalign_model::ModelConfig`, the one config type, as it parses a safetensors folder's
/// `config.json`; `lexalign convert` writes the same JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufModelConfig {
    /// The GGUF architecture (`general.architecture`).
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

/// The HF architecture class and `model_type` transformers gives a GGUF of this architecture.
fn hf_names(kind: Arch, is_mistral: bool) -> (&'static str, &'static str) {
    match kind {
        Arch::Llama if is_mistral => ("MistralForCausalLM", "mistral"),
        Arch::Llama => ("LlamaForCausalLM", "llama"),
        Arch::Qwen2 => ("Qwen2ForCausalLM", "qwen2"),
        Arch::Qwen3 => ("Qwen3ForCausalLM", "qwen3"),
        Arch::Gemma3 => ("Gemma3ForCausalLM", "gemma3_text"),
    }
}

/// `<arch>.vocab_size`, else the length of the tokenizer's token list.
fn vocab_size(g: &Gguf, ak: &str) -> Result<usize> {
    let p = g.path().display();
    Ok(match g.get_u64(&format!("{ak}.vocab_size"))? {
        Some(v) => v as usize,
        None => g
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.as_array())
            .map(|a| a.len())
            .ok_or_else(|| {
                anyhow!("{p}: neither '{ak}.vocab_size' nor 'tokenizer.ggml.tokens' is present")
            })?,
    })
}

/// `<arch>.rope.scaling.*` as HF's `rope_scaling` object (llama.cpp's `original_context_length`
/// is HF's `original_max_position_embeddings`); `None` for no scaling.
fn rope_scaling(g: &Gguf, ak: &str) -> Result<Option<serde_json::Value>> {
    Ok(match g.get_str(&format!("{ak}.rope.scaling.type"))? {
        None | Some("none") => None,
        Some(t) => {
            let mut m = serde_json::Map::new();
            m.insert("rope_type".into(), t.into());
            let prefix = format!("{ak}.rope.scaling.");
            for (k, v) in g.metadata() {
                if let Some(s) = k.strip_prefix(&prefix).filter(|s| *s != "type") {
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
    })
}

impl GgufModelConfig {
    /// Reads the config from GGUF metadata; refuses an architecture that [`Arch`] does not know.
    pub fn from_gguf(g: &Gguf) -> Result<GgufModelConfig> {
        let p = g.path().display();
        let arch = g
            .get_str("general.architecture")?
            .ok_or_else(|| anyhow!("{p}: GGUF metadata 'general.architecture' is missing"))?;
        let kind = Arch::from_gguf(arch, &p.to_string())?;
        let ak = kind.key();
        let name = g.get_str("general.name")?.map(str::to_owned);
        // transformers switches llama files named mistral (`"mistral" in [general.name]`) to Mistral.
        let is_mistral = kind == Arch::Llama && name.as_deref() == Some("mistral");
        let (hf_arch, model_type) = hf_names(kind, is_mistral);
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
        let head_key = if kind == Arch::Gemma3 {
            "attention.key_length"
        } else {
            "rope.dimension_count"
        };
        let head_dim = match g.get_u64(&format!("{ak}.{head_key}"))? {
            Some(v) => v as usize,
            None => hidden_size / num_attention_heads,
        };
        let vocab_size = vocab_size(g, ak)?;
        let rope_scaling = rope_scaling(g, ak)?;
        let id = |k: &str| -> Result<Option<u32>> {
            g.get_u64(&format!("tokenizer.ggml.{k}"))?
                .map(|v| {
                    u32::try_from(v)
                        .map_err(|_| anyhow!("{p}: tokenizer.ggml.{k} = {v} does not fit u32"))
                })
                .transpose()
        };
        Ok(GgufModelConfig {
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
                    anyhow!("{p}: GGUF metadata '{ak}.attention.layer_norm_rms_epsilon' is missing")
                })?,
            // The HF config class's default when the key is absent.
            rope_theta: g.get_f64(&format!("{ak}.rope.freq_base"))?.unwrap_or(
                if kind == Arch::Gemma3 {
                    1_000_000.0
                } else {
                    10000.0
                },
            ),
            rope_scaling,
            max_position_embeddings: req("context_length")? as usize,
            vocab_size,
            bos_token_id: id("bos_token_id")?,
            eos_token_id: id("eos_token_id")?,
            pad_token_id: id("padding_token_id")?,
            unk_token_id: id("unknown_token_id")?,
            tie_word_embeddings: g.tensor("output.weight").is_none(),
            hidden_act: if kind == Arch::Gemma3 {
                "gelu_pytorch_tanh"
            } else {
                "silu"
            }
            .into(),
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
            obj.insert(
                "sliding_window".into(),
                self.sliding_window.unwrap_or(4096).into(),
            );
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
