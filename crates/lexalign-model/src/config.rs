//! `config.json` of a decoder-only model, as HF transformers reads it, for the families lexalign
//! reproduces (Llama, Mistral, Qwen2, Qwen3, Gemma 3 text).
//!
//! One serde type holds the union of the fields these families use; [`Family`] says which of
//! them apply. Anything the forward pass cannot compute faithfully is refused by name rather than
//! approximated.

use crate::family::{Family, LayerType};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One token id or a list of them (Llama 3.1 lists several EOS ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    One(i64),
    Many(Vec<i64>),
}

impl TokenIds {
    pub fn to_vec(&self) -> Vec<i64> {
        match self {
            TokenIds::One(id) => vec![*id],
            TokenIds::Many(ids) => ids.clone(),
        }
    }
}

/// `rope_scaling` variants that HF supports for these families and we reproduce.
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    Linear {
        factor: f64,
    },
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position_embeddings: f64,
    },
}

/// RoPE settings of one attention layer type.
#[derive(Debug, Clone, PartialEq)]
pub struct RopeSpec {
    pub base: f64,
    pub scaling: Option<RopeScaling>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelConfig {
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub model_type: Option<String>,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    #[serde(default)]
    pub head_dim: Option<usize>,
    pub vocab_size: usize,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    #[serde(default)]
    pub rope_theta: Option<f64>,
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// transformers >= 5 writes `rope_theta` and the scaling together under this name; Gemma 3
    /// nests one such object per layer type (`full_attention`, `sliding_attention`).
    #[serde(default)]
    pub rope_parameters: Option<serde_json::Value>,
    /// Gemma 3 (transformers 4.x): RoPE base of the sliding-window layers.
    #[serde(default)]
    pub rope_local_base_freq: Option<f64>,
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub tie_word_embeddings: Option<bool>,
    #[serde(default)]
    pub bos_token_id: Option<TokenIds>,
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    #[serde(default)]
    pub pad_token_id: Option<TokenIds>,
    #[serde(default)]
    pub hidden_act: Option<String>,
    /// Gemma's name for the MLP activation.
    #[serde(default)]
    pub hidden_activation: Option<String>,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
    /// Gemma: attention scores are scaled by `query_pre_attn_scalar ** -0.5`.
    #[serde(default)]
    pub query_pre_attn_scalar: Option<f64>,
    #[serde(default)]
    pub attn_logit_softcapping: Option<f64>,
    /// Gemma: logits become `cap * tanh(logits / cap)` (null in Gemma 3's released configs).
    #[serde(default)]
    pub final_logit_softcapping: Option<f64>,
    #[serde(default)]
    pub sliding_window: Option<usize>,
    /// Qwen2/Qwen3: sliding-window attention switch (off in every released checkpoint).
    #[serde(default)]
    pub use_sliding_window: Option<bool>,
    /// Per-layer attention type (`full_attention` / `sliding_attention`), transformers >= 4.53.
    #[serde(default)]
    pub layer_types: Option<Vec<String>>,
    /// Gemma 3 before `layer_types`: every n-th layer is global.
    #[serde(default)]
    pub sliding_window_pattern: Option<usize>,
    #[serde(default)]
    pub num_experts: Option<usize>,
    #[serde(default)]
    pub torch_dtype: Option<String>,
    #[serde(default)]
    pub quantization_config: Option<serde_json::Value>,
}

fn default_eps() -> f64 {
    1e-6
}
fn default_max_pos() -> usize {
    2048
}

impl ModelConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read model config {}", path.display()))?;
        Self::from_json_str(&text).with_context(|| format!("in model config {}", path.display()))
    }

    pub fn from_json_str(text: &str) -> Result<Self> {
        let cfg: ModelConfig = serde_json::from_str(text)
            .context("config.json is not a valid decoder config (a required field is missing or has the wrong type)")?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The model family, from `model_type` (or `architectures` when it is absent).
    pub fn family(&self) -> Result<Family> {
        Family::detect(self.model_type.as_deref(), &self.architectures)
    }

    /// Refuses what the forward pass does not implement, naming the field.
    pub fn validate(&self) -> Result<()> {
        let family = self.family()?;
        let act = self.activation();
        if act != family.default_activation()
            && !(family == Family::Gemma3 && act == "gelu_pytorch_tanh")
        {
            bail!(
                "unsupported activation `{act}` for {}: only `{}` is implemented",
                family.name(),
                family.default_activation()
            );
        }
        if self.num_attention_heads == 0
            || self.num_kv_heads() == 0
            || !self.num_attention_heads.is_multiple_of(self.num_kv_heads())
        {
            bail!(
                "`num_attention_heads` ({}) must be a positive multiple of `num_key_value_heads` ({})",
                self.num_attention_heads,
                self.num_kv_heads()
            );
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            bail!("`hidden_size` is not divisible by `num_attention_heads` and no `head_dim` is given");
        }
        if self.attn_logit_softcapping.is_some() {
            bail!("`attn_logit_softcapping` is not supported (Gemma 2 style soft-capping): lexalign does not reproduce it");
        }
        if self.num_experts.unwrap_or(0) > 1 {
            bail!(
                "`num_experts` = {}: mixture-of-experts models are not supported",
                self.num_experts.unwrap_or(0)
            );
        }
        if self.use_sliding_window == Some(true) && matches!(family, Family::Qwen2 | Family::Qwen3)
        {
            bail!(
                "`use_sliding_window` = true is not supported for {}",
                family.name()
            );
        }
        if let Some(types) = &self.layer_types {
            if types.len() != self.num_hidden_layers {
                bail!(
                    "`layer_types` has {} entries but `num_hidden_layers` is {}",
                    types.len(),
                    self.num_hidden_layers
                );
            }
        }
        for i in 0..self.num_hidden_layers {
            let ty = self.layer_type(i)?;
            self.rope_for(ty)?;
        }
        Ok(())
    }

    pub fn num_kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    /// The MLP activation's HF name (`hidden_activation` for Gemma, else `hidden_act`).
    pub fn activation(&self) -> String {
        let family = self.family().unwrap_or(Family::Llama);
        let given = if family == Family::Gemma3 {
            self.hidden_activation
                .clone()
                .or_else(|| self.hidden_act.clone())
        } else {
            self.hidden_act.clone()
        };
        given.unwrap_or_else(|| family.default_activation().to_string())
    }

    pub fn tie_word_embeddings(&self) -> bool {
        self.tie_word_embeddings
            .unwrap_or(self.family().map(|f| f == Family::Gemma3).unwrap_or(false))
    }

    pub fn bos_ids(&self) -> Vec<i64> {
        self.bos_token_id
            .as_ref()
            .map(|t| t.to_vec())
            .unwrap_or_default()
    }

    pub fn eos_ids(&self) -> Vec<i64> {
        self.eos_token_id
            .as_ref()
            .map(|t| t.to_vec())
            .unwrap_or_default()
    }

    /// The attention-score scale: `query_pre_attn_scalar ** -0.5` for Gemma, else `head_dim ** -0.5`.
    pub fn attention_scale(&self) -> f64 {
        match (self.family(), self.query_pre_attn_scalar) {
            (Ok(Family::Gemma3), Some(q)) => q.powf(-0.5),
            (Ok(Family::Gemma3), None) => 256f64.powf(-0.5),
            _ => (self.head_dim() as f64).powf(-0.5),
        }
    }

    /// Attention type of block `i` (HF `config.layer_types[i]`, or the family's default pattern).
    pub fn layer_type(&self, i: usize) -> Result<LayerType> {
        if let Some(types) = &self.layer_types {
            let t = types
                .get(i)
                .with_context(|| format!("`layer_types` has no entry for layer {i}"))?;
            return match t.as_str() {
                "full_attention" => Ok(LayerType::Full),
                "sliding_attention" => Ok(LayerType::Sliding(self.window()?)),
                other => bail!("unsupported `layer_types[{i}]` `{other}`: use full_attention or sliding_attention"),
            };
        }
        match self.family()? {
            Family::Gemma3 => {
                let pattern = self.sliding_window_pattern.unwrap_or(6).max(1);
                if (i + 1).is_multiple_of(pattern) {
                    Ok(LayerType::Full)
                } else {
                    Ok(LayerType::Sliding(self.window()?))
                }
            }
            Family::Mistral => Ok(match self.sliding_window {
                Some(w) => LayerType::Sliding(w),
                None => LayerType::Full,
            }),
            _ => Ok(LayerType::Full),
        }
    }

    fn window(&self) -> Result<usize> {
        match self.sliding_window {
            Some(w) if w > 0 => Ok(w),
            _ => bail!("a sliding-attention layer needs a positive `sliding_window`"),
        }
    }

    /// RoPE base and scaling of one layer type. transformers 5 writes `rope_parameters` (nested
    /// per layer type for Gemma 3); transformers 4 writes `rope_theta` + `rope_scaling` (+ Gemma's
    /// `rope_local_base_freq`, whose layers are never scaled).
    pub fn rope_for(&self, ty: LayerType) -> Result<RopeSpec> {
        let family = self.family()?;
        let key = match ty {
            LayerType::Full => "full_attention",
            LayerType::Sliding(_) => "sliding_attention",
        };
        if let Some(p) = self.rope_parameters.as_ref().filter(|p| !p.is_null()) {
            let (obj, field) = match p.get(key) {
                Some(nested) => (nested, format!("rope_parameters.{key}")),
                None => (p, "rope_parameters".to_string()),
            };
            let base = obj
                .get("rope_theta")
                .and_then(|t| t.as_f64())
                .or(self.rope_theta);
            let base = base.with_context(|| format!("`{field}.rope_theta` is missing"))?;
            return Ok(RopeSpec {
                base,
                scaling: parse_scaling(obj, &field)?,
            });
        }
        let gemma_local = family == Family::Gemma3 && matches!(ty, LayerType::Sliding(_));
        if gemma_local {
            return Ok(RopeSpec {
                base: self.rope_local_base_freq.unwrap_or(10_000.0),
                scaling: None,
            });
        }
        let base = self.rope_theta.unwrap_or(family.default_rope_theta());
        let scaling = match self.rope_scaling.as_ref().filter(|v| !v.is_null()) {
            Some(v) => parse_scaling(v, "rope_scaling")?,
            None => None,
        };
        Ok(RopeSpec { base, scaling })
    }

    /// RoPE base of full-attention layers (kept for reports).
    pub fn rope_base(&self) -> f64 {
        self.rope_for(LayerType::Full)
            .map(|r| r.base)
            .unwrap_or(10_000.0)
    }

    /// Scaling of full-attention layers.
    pub fn rope_scaling(&self) -> Result<Option<RopeScaling>> {
        Ok(self.rope_for(LayerType::Full)?.scaling)
    }

    /// The fields `lexalign_run::identify` compares with its registry of known models.
    pub fn fingerprint(&self) -> lexalign_run::ConfigFingerprint {
        let rope_type = match self.rope_scaling() {
            Ok(Some(RopeScaling::Linear { .. })) => "linear",
            Ok(Some(RopeScaling::Llama3 { .. })) => "llama3",
            _ => "default",
        };
        lexalign_run::ConfigFingerprint {
            architecture: self.architectures.first().cloned().unwrap_or_default(),
            hidden_size: self.hidden_size,
            num_layers: self.num_hidden_layers,
            num_heads: self.num_attention_heads,
            num_kv_heads: self.num_kv_heads(),
            vocab_size: self.vocab_size,
            rope_theta: self.rope_base(),
            rope_type: rope_type.into(),
        }
    }
}

/// Parses one rope object (`rope_type`/`type` + its numbers); unknown types are refused by name.
fn parse_scaling(v: &serde_json::Value, field: &str) -> Result<Option<RopeScaling>> {
    let ty = v
        .get("rope_type")
        .or_else(|| v.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or("default");
    let num = |k: &str| -> Result<f64> {
        v.get(k)
            .and_then(|x| x.as_f64())
            .with_context(|| format!("`{field}.{k}` is missing or not a number (rope_type `{ty}`)"))
    };
    match ty {
        "default" => Ok(None),
        "linear" => Ok(Some(RopeScaling::Linear {
            factor: num("factor")?,
        })),
        "llama3" => Ok(Some(RopeScaling::Llama3 {
            factor: num("factor")?,
            low_freq_factor: num("low_freq_factor")?,
            high_freq_factor: num("high_freq_factor")?,
            original_max_position_embeddings: num("original_max_position_embeddings")?,
        })),
        other => bail!(
            "unsupported `{field}` type `{other}`: only `linear` and `llama3` are implemented"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama31_8b_config_has_the_paper_models_fingerprint() {
        let fp = ModelConfig::from_json_str(LLAMA31).unwrap().fingerprint();
        assert_eq!(
            fp,
            lexalign_run::known_model("lugha-llama-8b-wura")
                .unwrap()
                .fingerprint()
        );
        let g = ModelConfig::from_json_str(GEMMA3_270M)
            .unwrap()
            .fingerprint();
        assert_eq!(
            g,
            lexalign_run::known_model("gemma3-270m")
                .unwrap()
                .fingerprint()
        );
    }

    const LLAMA31: &str = r#"{"architectures":["LlamaForCausalLM"],"hidden_size":4096,"intermediate_size":14336,
      "num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":128256,
      "rms_norm_eps":1e-5,"rope_theta":500000.0,"max_position_embeddings":131072,
      "rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},
      "bos_token_id":128000,"eos_token_id":[128001,128008,128009],"model_type":"llama"}"#;

    const GEMMA3_270M: &str = r#"{"architectures":["Gemma3ForCausalLM"],"model_type":"gemma3_text","hidden_size":640,
      "intermediate_size":2048,"num_hidden_layers":18,"num_attention_heads":4,"num_key_value_heads":1,"head_dim":256,
      "vocab_size":262144,"rms_norm_eps":1e-6,"rope_theta":1000000.0,"rope_local_base_freq":10000.0,
      "query_pre_attn_scalar":256,"sliding_window":512,"hidden_activation":"gelu_pytorch_tanh",
      "attn_logit_softcapping":null,"final_logit_softcapping":null,"rope_scaling":null}"#;

    #[test]
    fn parses_llama31() {
        let c = ModelConfig::from_json_str(LLAMA31).unwrap();
        assert_eq!(c.num_kv_heads(), 8);
        assert_eq!(c.head_dim(), 128);
        assert_eq!(c.eos_ids(), vec![128001, 128008, 128009]);
        assert_eq!(c.bos_ids(), vec![128000]);
        assert!(
            matches!(c.rope_scaling().unwrap(), Some(RopeScaling::Llama3 { factor, .. }) if factor == 8.0)
        );
        assert_eq!(c.family().unwrap(), Family::Llama);
    }

    #[test]
    fn gemma3_pattern_bases_and_scale() {
        let c = ModelConfig::from_json_str(GEMMA3_270M).unwrap();
        assert_eq!(c.family().unwrap(), Family::Gemma3);
        let full: Vec<usize> = (0..18)
            .filter(|&i| c.layer_type(i).unwrap() == LayerType::Full)
            .collect();
        assert_eq!(full, vec![5, 11, 17]);
        assert_eq!(c.rope_for(LayerType::Sliding(512)).unwrap().base, 10_000.0);
        assert_eq!(c.rope_for(LayerType::Full).unwrap().base, 1_000_000.0);
        assert_eq!(c.attention_scale(), 1.0 / 16.0);
        assert!(c.tie_word_embeddings());
    }

    #[test]
    fn refuses_unknown_architecture_by_name() {
        let text = LLAMA31
            .replace("LlamaForCausalLM", "GPT2LMHeadModel")
            .replace("\"llama\"", "\"gpt2\"");
        let err = format!("{:#}", ModelConfig::from_json_str(&text).unwrap_err());
        assert!(err.contains("GPT2LMHeadModel"), "{err}");
    }

    #[test]
    fn refuses_unknown_rope_type_by_name() {
        let text = LLAMA31.replace("\"llama3\"", "\"yarn\"");
        let err = format!("{:#}", ModelConfig::from_json_str(&text).unwrap_err());
        assert!(err.contains("yarn"), "{err}");
    }

    #[test]
    fn refuses_softcapping_and_moe_by_name() {
        let text = GEMMA3_270M.replace(
            "\"attn_logit_softcapping\":null",
            "\"attn_logit_softcapping\":50.0",
        );
        let err = format!("{:#}", ModelConfig::from_json_str(&text).unwrap_err());
        assert!(err.contains("attn_logit_softcapping"), "{err}");
        let text = LLAMA31.replace(
            "\"model_type\":\"llama\"",
            "\"model_type\":\"llama\",\"num_experts\":8",
        );
        let err = format!("{:#}", ModelConfig::from_json_str(&text).unwrap_err());
        assert!(err.contains("num_experts"), "{err}");
    }
}
