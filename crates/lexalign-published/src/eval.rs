//! Statistics of a per-pair evaluation table (`swahili,english,sim_pre_tli,sim_post_tli,group,improvement`).
//! The same code reads the authors' released results and our own `tli-eval` output, so both are
//! summarised identically.

use anyhow::{bail, Context, Result};
use lexalign_stats::{mean, ttest_welch, PairedSummary, TTest};
use serde::{Deserialize, Serialize};

/// One evaluated pair: the same row type (and reader, [`read_quantitative`]) as the authors'
/// `quantitative_results.csv` in `lexalign-data`.
pub use lexalign_data::{read_quantitative, Group, QuantitativeRow as EvalRow};

/// Everything computed from one evaluation table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalStats {
    pub n_all: usize,
    /// Mean pre-TLI similarity over all pairs (the paper's "baseline on the whole set").
    pub all_pre_mean: f64,
    pub all_post_mean: f64,
    pub trained: PairedSummary,
    pub control: PairedSummary,
    /// Welch test of per-pair gains, trained vs control: is the effect specific to trained pairs?
    pub gain_welch: TTest,
    /// Largest |improvement - (post - pre)| in the table (a consistency check of the column).
    pub improvement_column_max_dev: f64,
}

impl EvalStats {
    pub fn compute(rows: &[EvalRow]) -> Result<Self> {
        let col = |g: Group| -> (Vec<f64>, Vec<f64>) {
            let r: Vec<&EvalRow> = rows.iter().filter(|r| r.group == g).collect();
            (
                r.iter().map(|r| r.sim_pre_tli).collect(),
                r.iter().map(|r| r.sim_post_tli).collect(),
            )
        };
        let (tpre, tpost) = col(Group::Trained);
        let (cpre, cpost) = col(Group::Control);
        if tpre.len() < 2 || cpre.len() < 2 {
            bail!(
                "evaluation table needs at least 2 trained and 2 control pairs, has {} and {}",
                tpre.len(),
                cpre.len()
            );
        }
        let gain = |pre: &[f64], post: &[f64]| -> Vec<f64> {
            post.iter().zip(pre).map(|(a, b)| a - b).collect()
        };
        let all_pre: Vec<f64> = rows.iter().map(|r| r.sim_pre_tli).collect();
        let all_post: Vec<f64> = rows.iter().map(|r| r.sim_post_tli).collect();
        Ok(Self {
            n_all: rows.len(),
            all_pre_mean: mean(&all_pre),
            all_post_mean: mean(&all_post),
            trained: PairedSummary::compute(&tpre, &tpost).context("trained set")?,
            control: PairedSummary::compute(&cpre, &cpost).context("control set")?,
            gain_welch: ttest_welch(&gain(&tpre, &tpost), &gain(&cpre, &cpost))?,
            improvement_column_max_dev: rows
                .iter()
                .map(|r| (r.improvement - (r.sim_post_tli - r.sim_pre_tli)).abs())
                .fold(0.0, f64::max),
        })
    }
}
