//! `config.json` of a Llama-family model, as HF transformers reads it.
//!
//! Anything this crate cannot compute faithfully is refused by name rather than approximated.

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

/// `rope_scaling` variants that HF's Llama supports and we reproduce.
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    Linear { factor: f64 },
    Llama3 { factor: f64, low_freq_factor: f64, high_freq_factor: f64, original_max_position_embeddings: f64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LlamaConfig {
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
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// transformers >= 5 writes `rope_theta` and the scaling together under this name.
    #[serde(default)]
    pub rope_parameters: Option<serde_json::Value>,
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default)]
    pub bos_token_id: Option<TokenIds>,
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    #[serde(default)]
    pub pad_token_id: Option<TokenIds>,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
    #[serde(default)]
    pub torch_dtype: Option<String>,
    #[serde(default)]
    pub quantization_config: Option<serde_json::Value>,
}

fn default_eps() -> f64 {
    1e-6
}
fn default_theta() -> f64 {
    10000.0
}
fn default_max_pos() -> usize {
    2048
}
fn default_act() -> String {
    "silu".into()
}

impl LlamaConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read model config {}", path.display()))?;
        Self::from_json_str(&text).with_context(|| format!("in model config {}", path.display()))
    }

    pub fn from_json_str(text: &str) -> Result<Self> {
        let cfg: LlamaConfig = serde_json::from_str(text)
            .context("config.json is not a valid Llama config (a required field is missing or has the wrong type)")?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Refuses what the forward pass does not implement, naming the field.
    pub fn validate(&self) -> Result<()> {
        const OK_ARCH: &[&str] = &["LlamaForCausalLM", "LlamaModel", "MistralForCausalLM"];
        if let Some(arch) = self.architectures.iter().find(|a| !OK_ARCH.contains(&a.as_str())) {
            bail!("unsupported architecture `{arch}` in field `architectures`: lexalign implements the Llama family only (LlamaForCausalLM)");
        }
        if let Some(mt) = &self.model_type {
            if mt != "llama" && mt != "mistral" {
                bail!("unsupported `model_type` `{mt}`: lexalign implements the Llama family only");
            }
        }
        if self.hidden_act != "silu" {
            bail!("unsupported `hidden_act` `{}`: only `silu` is implemented", self.hidden_act);
        }
        if self.attention_bias || self.mlp_bias {
            bail!("`attention_bias`/`mlp_bias` = true is not supported");
        }
        if self.num_attention_heads == 0 || self.num_kv_heads() == 0 || self.num_attention_heads % self.num_kv_heads() != 0 {
            bail!(
                "`num_attention_heads` ({}) must be a positive multiple of `num_key_value_heads` ({})",
                self.num_attention_heads,
                self.num_kv_heads()
            );
        }
        if self.head_dim.is_none() && self.hidden_size % self.num_attention_heads != 0 {
            bail!("`hidden_size` is not divisible by `num_attention_heads` and no `head_dim` is given");
        }
        self.rope_scaling()?;
        Ok(())
    }

    pub fn num_kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    pub fn bos_ids(&self) -> Vec<i64> {
        self.bos_token_id.as_ref().map(|t| t.to_vec()).unwrap_or_default()
    }

    pub fn eos_ids(&self) -> Vec<i64> {
        self.eos_token_id.as_ref().map(|t| t.to_vec()).unwrap_or_default()
    }

    /// RoPE base: `rope_parameters.rope_theta` (transformers 5) or `rope_theta` (transformers 4).
    pub fn rope_base(&self) -> f64 {
        self.rope_parameters
            .as_ref()
            .and_then(|p| p.get("rope_theta"))
            .and_then(|t| t.as_f64())
            .unwrap_or(self.rope_theta)
    }

    /// Parsed `rope_parameters` / `rope_scaling`; unknown types are refused by name.
    pub fn rope_scaling(&self) -> Result<Option<RopeScaling>> {
        let Some(v) = self.rope_parameters.as_ref().or(self.rope_scaling.as_ref()) else { return Ok(None) };
        if v.is_null() {
            return Ok(None);
        }
        let ty = v
            .get("rope_type")
            .or_else(|| v.get("type"))
            .and_then(|t| t.as_str())
            .unwrap_or("default");
        let field = if self.rope_parameters.is_some() { "rope_parameters" } else { "rope_scaling" };
        let num = |k: &str| -> Result<f64> {
            v.get(k)
                .and_then(|x| x.as_f64())
                .with_context(|| format!("`{field}.{k}` is missing or not a number (rope_type `{ty}`)"))
        };
        match ty {
            "default" => Ok(None),
            "linear" => Ok(Some(RopeScaling::Linear { factor: num("factor")? })),
            "llama3" => Ok(Some(RopeScaling::Llama3 {
                factor: num("factor")?,
                low_freq_factor: num("low_freq_factor")?,
                high_freq_factor: num("high_freq_factor")?,
                original_max_position_embeddings: num("original_max_position_embeddings")?,
            })),
            other => bail!("unsupported `{field}` type `{other}`: only `linear` and `llama3` are implemented"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LLAMA31: &str = r#"{"architectures":["LlamaForCausalLM"],"hidden_size":4096,"intermediate_size":14336,
      "num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":128256,
      "rms_norm_eps":1e-5,"rope_theta":500000.0,"max_position_embeddings":131072,
      "rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},
      "bos_token_id":128000,"eos_token_id":[128001,128008,128009],"model_type":"llama"}"#;

    #[test]
    fn parses_llama31() {
        let c = LlamaConfig::from_json_str(LLAMA31).unwrap();
        assert_eq!(c.num_kv_heads(), 8);
        assert_eq!(c.head_dim(), 128);
        assert_eq!(c.eos_ids(), vec![128001, 128008, 128009]);
        assert_eq!(c.bos_ids(), vec![128000]);
        assert!(matches!(c.rope_scaling().unwrap(), Some(RopeScaling::Llama3 { factor, .. }) if factor == 8.0));
    }

    #[test]
    fn refuses_unknown_architecture_by_name() {
        let text = LLAMA31.replace("LlamaForCausalLM", "GPT2LMHeadModel");
        let err = format!("{:#}", LlamaConfig::from_json_str(&text).unwrap_err());
        assert!(err.contains("GPT2LMHeadModel"), "{err}");
    }

    #[test]
    fn refuses_unknown_rope_type_by_name() {
        let text = LLAMA31.replace("\"llama3\"", "\"yarn\"");
        let err = format!("{:#}", LlamaConfig::from_json_str(&text).unwrap_err());
        assert!(err.contains("yarn"), "{err}");
    }
}
