//! `lang-study`'s stages as a library, so that tests run the same code paths as the binary
//! (`src/main.rs` only parses the command line) on a handful of pairs and a small model.

pub mod authors;
pub mod baseline_layers;
pub mod baselines;
pub mod data;
pub mod e5ref;
pub mod eval;
pub mod laser;
pub mod scan;
pub mod splits;
pub mod train;
