//! The rows of the training arms' CSV outputs (issue 26: arms a-d, each trained with several
//! seeds), one type each, shared by the writer (`lang-study arm` / `arms-eval`) and the reader
//! (the report), plus a header-checked reader.

use anyhow::Result;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The frozen model's centred CSLS P@1 on the development pairs at one hidden state
/// (`<arm>/dev_layers.csv`): the arms (c) and (d) train at the best of these rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevLayerRow {
    pub layer: usize,
    pub n_sources: usize,
    pub p1_csls: f64,
}

/// One seed's training run of an arm (`<arm>/seeds.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedTrainRow {
    /// `a`, `b`, `c` or `d`.
    pub arm: String,
    pub seed: u64,
    pub target_layer: usize,
    /// The loss's pooling (`mean`: BOS included; `mean-content`).
    pub pooling: String,
    /// Trained on deranged pairs (each source with another pair's target).
    pub deranged: bool,
    pub n_pairs: usize,
    pub epochs: usize,
    pub steps: usize,
    pub first_loss: f64,
    pub final_epoch_mean_loss: f64,
    /// Mean gradient L2 norm over the first and the last epoch's steps.
    pub first_epoch_grad_norm: f64,
    pub final_epoch_grad_norm: f64,
    pub train_seconds: f64,
}

/// One seed's adapter on one set at one hidden state (`arms-eval/seed_p1.csv`): centred CSLS
/// P@1 of the adapted vectors and of a Procrustes map fitted on the adapted training vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedEvalRow {
    pub arm: String,
    pub seed: u64,
    pub set: String,
    pub layer: usize,
    pub n_sources: usize,
    pub tli_p1: f64,
    pub tli_procrustes_p1: f64,
}

/// One arm on one set at one hidden state over its seeds (`arms-eval/arms.csv`): the frozen
/// model's baselines and the adapters' P@1 (centred CSLS, `mean-content`, k = 10; maps fitted on
/// the training pairs), with the change's seed statistics and hierarchical bootstrap CIs
/// (seeds, then the shared source words; `lexalign_stats::hierarchical_ci`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmRow {
    pub arm: String,
    /// `held-out` or `cldr`.
    pub set: String,
    pub layer: usize,
    /// `target` (the arm trains here), `best` (the dev-chosen best layer), or `target+best`.
    pub role: String,
    pub n_seeds: usize,
    pub n_sources: usize,
    pub base_p1: f64,
    /// The post-processing (z-score, whitening, removing 1-3 PCs) with the highest P@1 on the
    /// dev pairs at this hidden state (fitted on the training pairs less the dev pairs).
    pub best_post_method: String,
    pub best_post_p1: f64,
    pub procrustes_p1: f64,
    pub tli_mean: f64,
    pub tli_sd: Option<f64>,
    pub tli_min: f64,
    pub tli_max: f64,
    /// TLI minus base: the seeds' mean and the hierarchical 95 % CI.
    pub delta_mean: f64,
    pub delta_ci_low: f64,
    pub delta_ci_high: f64,
    /// TLI minus the frozen model's Procrustes map.
    pub vs_procrustes_mean: f64,
    pub vs_procrustes_ci_low: f64,
    pub vs_procrustes_ci_high: f64,
    /// A Procrustes map fitted on the adapted training vectors.
    pub tli_procrustes_mean: f64,
    pub tli_procrustes_sd: Option<f64>,
    /// TLI + Procrustes minus the frozen model's Procrustes map.
    pub tlip_vs_procrustes_ci_low: f64,
    pub tlip_vs_procrustes_ci_high: f64,
    pub final_loss_mean: f64,
    pub margin: f64,
}

/// Rows of one of these CSV files, read by header name; errors name the file and line.
pub fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    crate::typed_files::read_csv(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_errors_name_the_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("dev_layers.csv");
        let rows = vec![DevLayerRow {
            layer: 3,
            n_sources: 130,
            p1_csls: 0.25,
        }];
        let mut w = csv::Writer::from_path(&p).unwrap();
        w.serialize(&rows[0]).unwrap();
        w.flush().unwrap();
        assert_eq!(read_rows::<DevLayerRow>(&p).unwrap(), rows);
        std::fs::write(&p, "layer,n_sources,p1_csls\n3,130,x\n").unwrap();
        let e = format!("{:#}", read_rows::<DevLayerRow>(&p).unwrap_err());
        assert!(e.contains("line 2") && e.contains("dev_layers.csv"), "{e}");
    }
}
