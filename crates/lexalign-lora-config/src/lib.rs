//! peft's LoRA `adapter_config.json` as a plain serde type, with the adapter folder's file
//! names and peft's tensor keys: what the training code writes, the evaluation loads and the
//! report reads from the authors' released adapter. Pure Rust (no tch), so the report can use it;
//! `lexalign_model::lora` re-exports everything here.

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The linear layers of a Llama block, in module order (peft's `named_modules` order).
pub const MODULES: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";
pub const ADAPTER_CONFIG: &str = "adapter_config.json";

/// `layers_to_transform`: one layer index or a list (peft accepts both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Layers {
    One(usize),
    Many(Vec<usize>),
}

/// peft's `adapter_config.json` (LoRA). Fields we do not interpret are kept in `extra` and
/// written back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    pub peft_type: String,
    pub r: usize,
    pub lora_alpha: f64,
    pub lora_dropout: f64,
    pub target_modules: Vec<String>,
    #[serde(default)]
    pub layers_to_transform: Option<Layers>,
    #[serde(default = "bias_none")]
    pub bias: String,
    #[serde(default)]
    pub fan_in_fan_out: bool,
    #[serde(default)]
    pub task_type: Option<String>,
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
    #[serde(default)]
    pub inference_mode: bool,
    #[serde(default = "init_true")]
    pub init_lora_weights: serde_json::Value,
    #[serde(default)]
    pub use_rslora: bool,
    #[serde(default)]
    pub use_dora: bool,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn bias_none() -> String {
    "none".into()
}
fn init_true() -> serde_json::Value {
    serde_json::Value::Bool(true)
}

impl Default for LoraConfig {
    /// The authors' adapter: r 16, alpha 32, dropout 0.05, q_proj + v_proj on every layer.
    fn default() -> Self {
        Self::new(16, 32.0, 0.05, &["q_proj", "v_proj"])
    }
}

impl LoraConfig {
    pub fn new(r: usize, lora_alpha: f64, lora_dropout: f64, target_modules: &[&str]) -> Self {
        let mut extra = BTreeMap::new();
        // The other keys peft 0.11 writes, with its defaults (so older and newer peft read the file).
        for (k, v) in [
            ("alpha_pattern", serde_json::json!({})),
            ("auto_mapping", serde_json::Value::Null),
            ("layer_replication", serde_json::Value::Null),
            ("layers_pattern", serde_json::Value::Null),
            ("loftq_config", serde_json::json!({})),
            ("megatron_config", serde_json::Value::Null),
            ("megatron_core", serde_json::json!("megatron.core")),
            ("modules_to_save", serde_json::Value::Null),
            ("rank_pattern", serde_json::json!({})),
            ("revision", serde_json::Value::Null),
        ] {
            extra.insert(k.to_string(), v);
        }
        Self {
            peft_type: "LORA".into(),
            r,
            lora_alpha,
            lora_dropout,
            target_modules: target_modules.iter().map(|s| s.to_string()).collect(),
            layers_to_transform: None,
            bias: "none".into(),
            fan_in_fan_out: false,
            task_type: Some("CAUSAL_LM".into()),
            base_model_name_or_path: None,
            inference_mode: false,
            init_lora_weights: serde_json::Value::Bool(true),
            use_rslora: false,
            use_dora: false,
            extra,
        }
    }

    /// `lora_alpha / r` (peft), or `lora_alpha / sqrt(r)` with rsLoRA.
    pub fn scale(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// The block modules targeted, in module order (`all-linear` = all seven).
    pub fn modules(&self) -> Result<Vec<&'static str>> {
        let mut out = Vec::new();
        for t in &self.target_modules {
            if t == "all-linear" {
                return Ok(MODULES.to_vec());
            }
            // peft matches a name or a dotted suffix (`self_attn.q_proj`).
            let last = t.rsplit('.').next().unwrap_or(t);
            match MODULES.iter().find(|m| **m == last) {
                Some(m) => out.push(*m),
                None => bail!(
                    "target module `{t}` is not a linear layer of a Llama block: use some of {MODULES:?} or `all-linear`"
                ),
            }
        }
        out.sort_by_key(|m| MODULES.iter().position(|x| x == m));
        out.dedup();
        Ok(out)
    }

    pub fn transforms_layer(&self, i: usize) -> bool {
        match &self.layers_to_transform {
            None => true,
            Some(Layers::One(l)) => *l == i,
            Some(Layers::Many(ls)) => ls.contains(&i),
        }
    }

    /// Refuses what this crate does not reproduce, by field name.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.peft_type == "LORA",
            "adapter_config.json: peft_type is `{}`, only LORA is supported",
            self.peft_type
        );
        ensure!(self.r > 0, "adapter_config.json: r must be > 0");
        ensure!(
            (0.0..1.0).contains(&self.lora_dropout),
            "adapter_config.json: lora_dropout {} is not in [0, 1)",
            self.lora_dropout
        );
        ensure!(
            self.bias == "none",
            "adapter_config.json: bias `{}` is not supported (use none)",
            self.bias
        );
        ensure!(
            !self.fan_in_fan_out,
            "adapter_config.json: fan_in_fan_out true is wrong for Llama's nn.Linear layers"
        );
        ensure!(
            !self.use_dora,
            "adapter_config.json: use_dora (DoRA) is not supported"
        );
        for key in ["rank_pattern", "alpha_pattern"] {
            if let Some(v) = self.extra.get(key) {
                ensure!(
                    v.is_null() || v.as_object().is_some_and(|o| o.is_empty()),
                    "adapter_config.json: a non-empty {key} is not supported"
                );
            }
        }
        if let Some(v) = self.extra.get("modules_to_save") {
            ensure!(
                v.is_null(),
                "adapter_config.json: modules_to_save is not supported"
            );
        }
        if let Some(v) = self.extra.get("layers_pattern") {
            ensure!(
                v.is_null()
                    || v.as_str() == Some("layers")
                    || v.as_array().is_some_and(|a| a.is_empty()),
                "adapter_config.json: layers_pattern {v} is not supported"
            );
        }
        self.modules()?;
        Ok(())
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let cfg: LoraConfig = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a peft LoRA adapter_config.json", path.display())
        })?;
        cfg.validate()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(cfg)
    }

    pub fn to_json(&self) -> Result<String> {
        let mut v = serde_json::to_value(self)?;
        // peft writes integral alphas as ints.
        if self.lora_alpha.fract() == 0.0 && self.lora_alpha.abs() < 1e15 {
            v["lora_alpha"] = serde_json::json!(self.lora_alpha as i64);
        }
        Ok(serde_json::to_string_pretty(&v)?)
    }
}

/// peft's key of one adapter matrix (`which` = `lora_A` | `lora_B`).
pub fn peft_key(layer: usize, module: &str, which: &str) -> String {
    let part = if module.ends_with("_proj")
        && ["q_proj", "k_proj", "v_proj", "o_proj"].contains(&module)
    {
        "self_attn"
    } else {
        "mlp"
    };
    format!("base_model.model.model.layers.{layer}.{part}.{module}.{which}.weight")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_config_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(ADAPTER_CONFIG);
        let cfg = LoraConfig::default();
        std::fs::write(&p, cfg.to_json().unwrap()).unwrap();
        assert_eq!(LoraConfig::from_file(&p).unwrap(), cfg);
        // peft writes an integral alpha as an int.
        assert!(cfg.to_json().unwrap().contains("\"lora_alpha\": 32,"));
        assert_eq!(cfg.scale(), 2.0);
        assert_eq!(cfg.modules().unwrap(), ["q_proj", "v_proj"]);
    }

    #[test]
    fn unsupported_fields_are_refused_by_name() {
        let cfg = LoraConfig {
            use_dora: true,
            ..LoraConfig::default()
        };
        assert!(format!("{:#}", cfg.validate().unwrap_err()).contains("use_dora"));
        let mut cfg = LoraConfig::new(4, 8.0, 0.0, &["self_attn.q_proj", "lm_head"]);
        assert!(format!("{:#}", cfg.validate().unwrap_err()).contains("`lm_head`"));
        cfg.target_modules = vec!["all-linear".into()];
        assert_eq!(cfg.modules().unwrap(), MODULES.to_vec());
        cfg.layers_to_transform = Some(Layers::Many(vec![0, 2]));
        assert!(cfg.transforms_layer(2) && !cfg.transforms_layer(1));
    }

    #[test]
    fn peft_keys() {
        assert_eq!(
            peft_key(3, "v_proj", "lora_A"),
            "base_model.model.model.layers.3.self_attn.v_proj.lora_A.weight"
        );
        assert_eq!(
            peft_key(0, "down_proj", "lora_B"),
            "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"
        );
    }
}
