//! The `authors-scripts` stage's `summary.json` (the authors' scripts 04 and 05 on the embedded
//! models), shared by the writer (`lang-study authors`) and the report: the probe audit of each
//! embedded model's generations (base against tuned, per decoding) and the numbers of each
//! t-SNE panel.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::ProbeAudit;

/// The audit of one model's generations: `base` / `tuned` of the audit are the model without
/// and with the adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelAudit {
    pub model: String,
    /// The stage whose adapter was applied.
    pub adapter: String,
    /// `sampled` (the authors' settings) or `greedy`.
    pub decoding: String,
    pub audit: ProbeAudit,
}

/// One t-SNE panel (a hidden state, before or after the adapter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TsnePanel {
    pub layer: usize,
    /// `before` or `after`.
    pub state: String,
    pub kl_divergence: f64,
    pub n_iter: usize,
    /// scikit-learn's trustworthiness at 5 neighbours.
    pub trustworthiness_5: f64,
    /// Mean over the 25 pairs of the translation's rank among the 25 targets (original space).
    pub mean_rank: f64,
    /// Pairs whose translation is the nearest target.
    pub rank_1: usize,
}

/// `authors-scripts/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptsSummary {
    pub audits: Vec<ModelAudit>,
    /// The model of script 04's t-SNE.
    pub tsne_model: String,
    pub tsne_adapter: String,
    /// The swen-scan's best layer (the second pair of panels).
    pub best_layer: usize,
    pub tsne: Vec<TsnePanel>,
    /// Sampling seed of every generation.
    pub seed: u64,
    pub seconds: f64,
}

impl ScriptsSummary {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not the authors-scripts summary", path.display()))
    }

    /// The audit of `model`'s `decoding` generations.
    pub fn audit(&self, model: &str, decoding: &str) -> Option<&ModelAudit> {
        self.audits
            .iter()
            .find(|a| a.model == model && a.decoding == decoding)
    }
}
