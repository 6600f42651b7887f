//! Statistics for the reproduction, with scipy's conventions (so numbers can be checked against
//! the authors' scipy output) and tail probabilities that stay accurate far below 1e-200.
//!
//! Everything is pure Rust (statrs underneath for the special functions); no tch.

mod binom;
mod describe;
mod multiple;
mod paired;
mod seeds;
mod tdist;
mod tests_t;
mod tost;
mod wilcoxon;

pub use binom::{mcnemar_exact_p, sign_test, sign_test_p};
pub use describe::{mean, percent_change, sd};
pub use multiple::{binom_greater_p, holm};
pub use paired::PairedSummary;
pub use seeds::{describe_seeds, hierarchical_ci, SeedSummary};
pub use tdist::{t_quantile, t_two_sided_p};
pub use tests_t::{cohens_dz, mean_diff_ci, ttest_rel, ttest_welch, TTest};
pub use tost::{diff_ci_independent, tost_from, tost_paired, tost_welch, tost_welch_summary, Tost};
pub use wilcoxon::{wilcoxon, Wilcoxon, WilcoxonMethod};
