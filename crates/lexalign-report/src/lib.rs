//! The reproduction report: which of the paper's claims hold, with evidence.
//!
//! Inputs are `paper/claims.toml` and a run folder (`runs/<id>/published-data/` always, and the
//! model stages when they ran). Outputs, under an output root: `figures/*.svg`,
//! `paper/reproduction.md` and `paper/generated/*.tex`. Everything generated is deterministic
//! (no timestamps, no git commit) so `--check` can compare it byte for byte with the committed tree.

pub mod check;
pub mod claims;
pub mod figures;
pub mod fmt;
pub mod render;
pub mod run;
pub mod study;
pub mod tolerance;
pub mod values;

pub use check::{check_tree, CheckReport};
pub use claims::{evaluate, load_claims, ClaimResult, ClaimsFile, Verdict};
/// The published-data analysis and the evaluation-table statistics are lexalign-published's.
pub use lexalign_published::{EvalRow, EvalStats, PublishedSummary};
pub use render::{generate, Generated};
pub use run::RunFolder;

/// The command that re-measures the model-based claims with the real model.
pub const REAL_MODEL_COMMAND: &str = "cargo xtask reproduce --model DIR --device cuda";
