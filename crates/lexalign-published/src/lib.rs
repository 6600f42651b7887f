//! The published-data analysis: the authors' released files (`tli_project/` at commit e158b76)
//! checked against the committed SHA-256 sums and summarised, and the statistics of a per-pair
//! evaluation table (theirs and ours, computed the same way).
//!
//! A library: the `published-data` experiment writes the stage's files ([`stage_files`]) and the
//! report reads them back ([`PublishedSummary`], [`read_quantitative`]). Pure Rust (no tch).

pub mod analysis;
pub mod eval;
pub mod probe;
pub mod stage;

pub use analysis::{
    analyse_paper_data, Adapter, FileSum, LayerRow, PairSets, PaperData, Pilot, PublishedSummary,
    ADAPTER_CONFIG, CONTROL_PAIRS, DEFAULT_SUMS, EVAL_CSV, PILOT_CSV, SOURCE, TRAIN_PAIRS,
};
pub use eval::{read_quantitative, EvalRow, EvalStats, Group};
pub use stage::{stage_files, PAIRS_FILE, PUBLISHED_DIR, SUMMARY_FILE};
