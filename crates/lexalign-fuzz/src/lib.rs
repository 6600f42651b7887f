//! In-process mutation fuzzing of lexalign's file parsers on the stable toolchain.
//!
//! Why not cargo-fuzz: libFuzzer needs nightly, which this project cannot assume. AFL++ through
//! cargo-afl builds on stable, but it needs an extra tool installed outside cargo and a second,
//! instrumented build of every dependency, too much for a smoke step in `cargo xtask test` on a
//! fresh clone. This harness is plain Rust: seeded ChaCha mutations of small seed inputs made in
//! code, each target call under `catch_unwind`, and a counting global allocator that flags any
//! exec whose heap peak passes a budget (and aborts, saving the input, on a single request that no
//! small input can justify), so a corrupt length field shows up as a finding instead of an OOM.
//!
//! See docs/CONVENTIONS.md ("Fuzzing") for how to run it.

pub mod engine;
pub mod gguf_seed;
pub mod guard;
pub mod mutate;
pub mod targets;

pub use engine::{Budget, Outcome, Report, Target};
