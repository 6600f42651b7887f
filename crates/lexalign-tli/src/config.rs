//! Hyper-parameters of training and evaluation: the authors' values by default, every one
//! settable from a TOML file (`--config`) and overridable by command-line flags.

use crate::adamw::AdamWParams;
use anyhow::{ensure, Context, Result};
use lexalign_model::lora::{Layers, LoraConfig};
use lexalign_model::Pooling;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// LoRA rank.
    pub r: usize,
    pub lora_alpha: f64,
    pub lora_dropout: f64,
    pub target_modules: Vec<String>,
    /// `None`: every layer (peft's `layers_to_transform = null`).
    pub layers_to_transform: Option<Vec<usize>>,
    /// HF hidden-state index the loss reads (2 = output of block 1).
    pub target_layer: usize,
    /// `mean` (BOS included) as the authors' training script.
    pub pooling: String,
    pub margin: f64,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub warmup_steps: usize,
    pub epochs: usize,
    pub batch_size: usize,
    /// Seeds the adapter init, the per-epoch shuffle and the per-step dropout masks.
    pub seed: u64,
    /// Train on the first N pairs only (fast configurations for tests and demos).
    pub max_pairs: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        let adam = AdamWParams::default();
        Self {
            r: 16,
            lora_alpha: 32.0,
            lora_dropout: 0.05,
            target_modules: vec!["q_proj".into(), "v_proj".into()],
            layers_to_transform: None,
            target_layer: 2,
            pooling: "mean".into(),
            margin: 0.4,
            lr: 2e-4,
            beta1: adam.beta1,
            beta2: adam.beta2,
            eps: adam.eps,
            weight_decay: adam.weight_decay,
            warmup_steps: 50,
            epochs: 5,
            batch_size: 8,
            seed: 42,
            max_pairs: None,
        }
    }
}

impl TrainConfig {
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let cfg: Self = section(path, "train")?;
        cfg.validate()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(self.target_layer >= 1, "target_layer must be >= 1 (hidden state 0 is the embedding table, which LoRA on blocks cannot change)");
        ensure!(
            self.batch_size >= 2,
            "batch_size must be >= 2 (the negatives are the other pairs of the batch)"
        );
        ensure!(self.epochs >= 1, "epochs must be >= 1");
        ensure!(self.lr > 0.0, "lr must be > 0");
        self.pooling()?;
        self.lora().validate()?;
        Ok(())
    }

    pub fn pooling(&self) -> Result<Pooling> {
        self.pooling.parse()
    }

    pub fn adamw(&self) -> AdamWParams {
        AdamWParams {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
        }
    }

    pub fn lora(&self) -> LoraConfig {
        let modules: Vec<&str> = self.target_modules.iter().map(String::as_str).collect();
        let mut c = LoraConfig::new(self.r, self.lora_alpha, self.lora_dropout, &modules);
        c.layers_to_transform = self.layers_to_transform.clone().map(Layers::Many);
        c
    }

    pub fn steps_per_epoch(&self, n_pairs: usize) -> usize {
        n_pairs.div_ceil(self.batch_size)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    pub target_layer: usize,
    /// `mean-content` (BOS/EOS/PAD excluded) as the authors' evaluation script.
    pub pooling: String,
    pub batch_size: usize,
    /// Seed of the shuffled-pair baseline (English side permuted).
    pub shuffle_seed: u64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            target_layer: 2,
            pooling: "mean-content".into(),
            batch_size: 64,
            shuffle_seed: 0,
        }
    }
}

impl EvalConfig {
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let cfg: Self = section(path, "eval")?;
        cfg.pooling()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(cfg)
    }

    pub fn pooling(&self) -> Result<Pooling> {
        self.pooling.parse()
    }
}

/// A config file holds the settings at the top level, or in `[train]` / `[eval]` tables (one file
/// for both stages; the other stage's table is ignored).
fn section<T: serde::de::DeserializeOwned>(path: &Path, name: &str) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut v: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let has_sections = v.contains_key("train") || v.contains_key("eval");
    let v = if has_sections {
        match v.remove(name) {
            Some(toml::Value::Table(t)) => t,
            Some(_) => anyhow::bail!("{}: `{name}` must be a table", path.display()),
            None => toml::Table::new(),
        }
    } else {
        v
    };
    v.try_into().with_context(|| {
        format!(
            "{}: not a valid {name} config (see `--help` for the settings)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_sections_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[train]\nepochs = 2\nlr = 1e-3\n[eval]\npooling = \"mean\"\n",
        )
        .unwrap();
        let t = TrainConfig::from_toml_file(&p).unwrap();
        assert_eq!((t.epochs, t.lr, t.r), (2, 1e-3, 16));
        assert_eq!(EvalConfig::from_toml_file(&p).unwrap().pooling, "mean");
        std::fs::write(&p, "epochs = 3\n").unwrap();
        assert_eq!(TrainConfig::from_toml_file(&p).unwrap().epochs, 3);
        std::fs::write(&p, "epoch = 3\n").unwrap();
        let e = format!("{:#}", TrainConfig::from_toml_file(&p).unwrap_err());
        assert!(e.contains("epoch") && e.contains("c.toml"), "{e}");
        std::fs::write(&p, "batch_size = 1\n").unwrap();
        assert!(
            format!("{:#}", TrainConfig::from_toml_file(&p).unwrap_err()).contains("batch_size")
        );
    }
}
