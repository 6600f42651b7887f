//! The shape every HF tensor must have under a config, so that a `config.json` that disagrees
//! with its weights is refused at load, naming the tensor, its shape and the config fields.

use crate::config::ModelConfig;
use crate::load::TensorSource;
use anyhow::{bail, Result};

pub struct ExpectedShapes {
    hidden: i64,
    vocab: i64,
    q: i64,
    kv: i64,
    head_dim: i64,
    inter: i64,
    n_layers: usize,
}

impl ExpectedShapes {
    pub fn new(cfg: &ModelConfig) -> Self {
        let hd = cfg.head_dim();
        Self {
            hidden: cfg.hidden_size as i64,
            vocab: cfg.vocab_size as i64,
            q: (cfg.num_attention_heads * hd) as i64,
            kv: (cfg.num_kv_heads() * hd) as i64,
            head_dim: hd as i64,
            inter: cfg.intermediate_size as i64,
            n_layers: cfg.num_hidden_layers,
        }
    }

    /// The expected shape and the config fields that determine it; `None` for an unknown name.
    pub fn expected(&self, name: &str) -> Option<(Vec<i64>, &'static str)> {
        let (h, v) = (self.hidden, self.vocab);
        match name {
            "model.embed_tokens.weight" | "lm_head.weight" => {
                return Some((vec![v, h], "vocab_size, hidden_size"))
            }
            "model.norm.weight" => return Some((vec![h], "hidden_size")),
            _ => {}
        }
        let rest = name.strip_prefix("model.layers.")?;
        let (layer, part) = rest.split_once('.')?;
        let layer: usize = layer.parse().ok()?;
        if layer >= self.n_layers {
            return None;
        }
        let attn = "num_attention_heads, head_dim, hidden_size";
        let kv = "num_key_value_heads, head_dim, hidden_size";
        let mlp = "intermediate_size, hidden_size";
        Some(match part {
            "input_layernorm.weight"
            | "post_attention_layernorm.weight"
            | "pre_feedforward_layernorm.weight"
            | "post_feedforward_layernorm.weight" => (vec![h], "hidden_size"),
            "self_attn.q_proj.weight" => (vec![self.q, h], attn),
            "self_attn.q_proj.bias" => (vec![self.q], attn),
            "self_attn.k_proj.weight" | "self_attn.v_proj.weight" => (vec![self.kv, h], kv),
            "self_attn.k_proj.bias" | "self_attn.v_proj.bias" => (vec![self.kv], kv),
            "self_attn.o_proj.weight" => (vec![h, self.q], attn),
            "self_attn.o_proj.bias" => (vec![h], "hidden_size"),
            "self_attn.q_norm.weight" | "self_attn.k_norm.weight" => {
                (vec![self.head_dim], "head_dim")
            }
            "mlp.gate_proj.weight" | "mlp.up_proj.weight" => (vec![self.inter, h], mlp),
            "mlp.gate_proj.bias" | "mlp.up_proj.bias" => (vec![self.inter], mlp),
            "mlp.down_proj.weight" => (vec![h, self.inter], mlp),
            "mlp.down_proj.bias" => (vec![h], "hidden_size"),
            _ => return None,
        })
    }

    pub fn check(&self, name: &str, shape: &[i64]) -> Result<()> {
        match self.expected(name) {
            Some((want, fields)) if want.as_slice() != shape => bail!(
                "tensor `{name}` has shape {shape:?} but config.json ({fields}) implies {want:?}: the config does not describe these weights"
            ),
            Some(_) => Ok(()),
            None => bail!("tensor `{name}` is not a parameter of this model's config"),
        }
    }

    /// Names in the source that no parameter of the config accounts for (transformers warns of these).
    pub fn unexpected(&self, src: &dyn TensorSource) -> Vec<String> {
        src.names()
            .into_iter()
            .filter(|n| self.expected(n).is_none())
            .collect()
    }
}
