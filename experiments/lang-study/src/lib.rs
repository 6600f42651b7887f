//! `lang-study`'s stages as a library, so that tests run the same code paths as the binary
//! (`src/main.rs` only parses the command line) on a handful of pairs and a small model.

pub mod arms;
pub mod arms_eval;
pub mod authors;
pub mod baseline_layers;
pub mod baselines;
pub mod behaviour;
pub mod behaviour_measure;
pub mod behaviour_prompts;
pub mod behaviour_stats;
pub mod breakdown;
pub mod data;
pub mod e5ref;
pub mod eval;
pub mod laser;
pub mod loanword;
pub mod open_pool;
pub mod open_pool_eval;
pub mod scan;
pub mod splits;
pub mod train;
