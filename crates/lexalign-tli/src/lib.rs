//! Targeted Lexical Injection (Ngugi 2025): LoRA on the early blocks of a Llama model, trained
//! so that a Swahili word's pooled hidden state at one early layer moves towards its English
//! translation, then the before/after evaluation of pair similarity.
//!
//! Everything the authors' scripts fixed is a [`TrainConfig`] / [`EvalConfig`] value; the
//! training loop stops the forward at the target layer (the authors ran all blocks), writes a
//! resumable peft-format checkpoint per epoch and is bitwise reproducible on the CPU.

pub mod adamw;
pub mod checkpoint;
pub mod config;
pub mod eval;
pub mod loss;
pub mod schedule;
pub mod step;
pub mod train;

pub use adamw::AdamW;
pub use config::{EvalConfig, TrainConfig};
pub use eval::{evaluate, EvalOutcome, EvalRow, Group, SetStats};
pub use loss::hardest_negative_triplet;
pub use schedule::LinearWarmup;
pub use train::{train, LossRow, TrainOptions, TrainOutcome};

/// A translation pair (source = Swahili anchor, target = English positive), with the file and
/// line it was read from: lexalign-data's one `Pair`.
pub use lexalign_data::Pair;
