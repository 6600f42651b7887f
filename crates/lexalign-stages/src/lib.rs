//! The stage library: the commands of the `lexalign` binary and the experiment binaries (scan,
//! train, eval, generate, lm-loss, LASER-2, bench, memory, convert), with the model flags they share, so that every
//! entry point loads models, picks devices and records provenance the same way. The binaries
//! only parse their flags and call in here.

pub mod bench_cmd;
pub mod bench_flops;
pub mod bench_model;
pub mod convert_cmd;
pub mod e5_cmd;
pub mod eval_cmd;
pub mod eval_vectors;
pub mod generate_cmd;
pub mod gpu_cmd;
pub mod laser_cmd;
pub mod lm_loss_cmd;
pub mod memory;
pub mod model_args;
pub mod oom;
pub mod scan_cmd;
pub mod stage_io;
pub mod tables;
pub mod text_input;
pub mod train_cmd;
pub mod vectors_out;

pub use model_args::{LoadedRun, ModelArgs};
