//! Everything reported for one pre/post group (trained or control set).

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::{
    cohens_dz, mean, mean_diff_ci, percent_change, sd, ttest_rel, wilcoxon, TTest, Wilcoxon,
};

/// Summary of paired pre/post similarities: the paper's numbers plus the extra statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedSummary {
    pub n: usize,
    pub mean_pre: f64,
    pub sd_pre: f64,
    pub mean_post: f64,
    pub sd_post: f64,
    pub mean_diff: f64,
    pub sd_diff: f64,
    /// The authors' percent change of the means, delta / (|pre| + 1e-9) * 100.
    pub percent_change: f64,
    /// scipy `ttest_rel(post, pre)`.
    pub ttest: TTest,
    /// scipy `wilcoxon(post, pre)` with defaults.
    pub wilcoxon: Wilcoxon,
    pub cohens_dz: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// Pairs with post > pre.
    pub n_improved: usize,
}

impl PairedSummary {
    pub fn compute(pre: &[f64], post: &[f64]) -> Result<Self> {
        let diff: Vec<f64> = post.iter().zip(pre).map(|(a, b)| a - b).collect();
        let ttest = ttest_rel(post, pre)?;
        let (lo, hi) = mean_diff_ci(post, pre, 0.95)?;
        Ok(Self {
            n: pre.len(),
            mean_pre: mean(pre),
            sd_pre: sd(pre),
            mean_post: mean(post),
            sd_post: sd(post),
            mean_diff: mean(&diff),
            sd_diff: sd(&diff),
            percent_change: percent_change(mean(pre), mean(post)),
            ttest,
            wilcoxon: wilcoxon(post, pre)?,
            cohens_dz: cohens_dz(post, pre)?,
            ci95_low: lo,
            ci95_high: hi,
            n_improved: diff.iter().filter(|d| **d > 0.0).count(),
        })
    }
}
