//! `cargo xtask <command>`: project automation (set-up of libtorch, the default model and the
//! paper's data; workspace tests; the full reproduction). Never links tch, so it builds before
//! libtorch exists. Layout follows rust-analyzer's xtask: one module per subcommand.

mod bench;
mod doctor;
mod gpu_check;
mod lexicons;
mod paths;
mod reproduce;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "lexalign automation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install libtorch (PyPI torch wheel in a cache venv), the default model and the paper's data (idempotent).
    Setup(setup::SetupArgs),
    /// Print torch version, CUDA usability, threads, cache paths, model and data hashes.
    Doctor(doctor::DoctorArgs),
    /// On a machine with an NVIDIA GPU: CUDA matmul, CUDA vs CPU pooled vectors, the 8B benchmark (one line each).
    GpuCheck(gpu_check::GpuCheckArgs),
    /// Set up, run the whole workspace's tests, then `reproduce --check`.
    Test(test::TestArgs),
    /// lexalign beside the transformers/peft anchors of bench/ (alternated repetitions, ratios, targets) into paper/generated/bench.md.
    Bench(bench::BenchArgs),
    /// Set up, run every experiment stage in order into runs/<id>/, then regenerate the committed outputs.
    Reproduce(reproduce::ReproduceArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Setup(a) => setup::run(&a).map(|_| ()),
        Cmd::Doctor(a) => doctor::run(&a),
        Cmd::GpuCheck(a) => gpu_check::run(&a),
        Cmd::Test(a) => test::run(&a),
        Cmd::Reproduce(a) => reproduce::run(&a),
        Cmd::Bench(a) => bench::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
