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
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let cfg: Self = toml::from_str(&text).with_context(|| format!("{}: not a valid training config", path.display()))?;
        cfg.validate().with_context(|| format!("in {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(self.target_layer >= 1, "target_layer must be >= 1 (hidden state 0 is the embedding table, which LoRA on blocks cannot change)");
        ensure!(self.batch_size >= 2, "batch_size must be >= 2 (the negatives are the other pairs of the batch)");
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
        AdamWParams { beta1: self.beta1, beta2: self.beta2, eps: self.eps, weight_decay: self.weight_decay }
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
        Self { target_layer: 2, pooling: "mean-content".into(), batch_size: 64, shuffle_seed: 0 }
    }
}

impl EvalConfig {
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let cfg: Self = toml::from_str(&text).with_context(|| format!("{}: not a valid evaluation config", path.display()))?;
        cfg.pooling().with_context(|| format!("in {}", path.display()))?;
        Ok(cfg)
    }

    pub fn pooling(&self) -> Result<Pooling> {
        self.pooling.parse()
    }
}
