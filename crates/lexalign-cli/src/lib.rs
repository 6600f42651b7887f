//! Flags and helpers shared by the `lexalign` binary and the experiment binaries, so that every
//! entry point loads models, picks devices and records provenance the same way.

pub mod memory;
pub mod model_args;
pub mod oom;
pub mod scan_cmd;
pub mod stage_io;
pub mod train_cmd;
pub mod eval_cmd;
pub mod bench_cmd;
pub mod gpu_cmd;

pub use model_args::{LoadedRun, ModelArgs};
