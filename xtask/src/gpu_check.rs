//! `cargo xtask gpu-check`: the GPU checks, one line each, for a machine with an NVIDIA GPU and a
//! torch 2.11 (the set-up venv after `setup --cuda`, or `LIBTORCH` / `LD_LIBRARY_PATH` at a
//! system torch's `lib/`; the binaries carry a RUNPATH, so `LD_LIBRARY_PATH` wins). Budgeted to
//! finish in under 8 minutes. Without a GPU it says so and fails: it never reports a pass it did
//! not run.
//!
//! Checks: a CUDA matmul; CUDA vs CPU pooled vectors of every embedded model (f32 within 1e-4,
//! bf16 within bf16 tolerance); lexalign's CUDA 4-bit rounding vs bitsandbytes' CUDA kernel
//! (where bitsandbytes is installed); the 8B benchmark on random weights (NF4, bf16 compute).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::paths::Paths;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct GpuCheckArgs {
    /// Words of the 8B benchmark's pilot scan.
    #[arg(long, default_value_t = 10_000)]
    pub words: usize,
}

/// Whether `nvidia-smi` lists a GPU, and what it says.
fn gpu_listed() -> std::result::Result<String, String> {
    match Command::new("nvidia-smi")
        .args(["--query-gpu=name,memory.total", "--format=csv,noheader"])
        .output()
    {
        Ok(o) if o.status.success() && !String::from_utf8_lossy(&o.stdout).trim().is_empty() => {
            Ok(String::from_utf8_lossy(&o.stdout)
                .trim()
                .replace('\n', "; "))
        }
        Ok(o) => Err(format!(
            "nvidia-smi lists no GPU ({})",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(_) => Err("nvidia-smi was not found (no NVIDIA driver)".into()),
    }
}

/// The built `lexalign` binary (built here when missing; plain cargo picks up LIBTORCH).
pub fn lexalign_binary(paths: &Paths) -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| paths.repo.join("target"));
    let bin = target.join("debug").join("lexalign");
    crate::util::run_status(
        Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "lexalign-cli", "--bin", "lexalign"])
            .current_dir(&paths.repo),
        "building the lexalign binary",
        "run `cargo xtask setup` (and `--cuda` on a GPU machine) first",
    )?;
    if !bin.is_file() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}

/// Runs one check with a time limit; returns (exit code, last output line).
fn check(bin: &PathBuf, args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let mut child = match Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return (None, format!("could not start {}: {e}", bin.display())),
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return (None, format!("timed out after {} s", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return (None, e.to_string()),
        }
    }
    let out = child.wait_with_output().expect("child output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    let last = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    let last = if last.is_empty() {
        err.lines().last().unwrap_or("").to_string()
    } else {
        last
    };
    (out.status.code(), last)
}

pub fn run(args: &GpuCheckArgs) -> Result<()> {
    let started = Instant::now();
    let gpu = match gpu_listed() {
        Ok(g) => g,
        Err(why) => {
            println!("gpu-check: no GPU is present: {why}; nothing was checked");
            bail!("gpu-check needs a machine with an NVIDIA GPU");
        }
    };
    println!("gpu-check: {gpu}");
    let paths = Paths::from_env()?;
    let bin = lexalign_binary(&paths)?;
    let mut failed = Vec::new();
    let mut line = |prog: &PathBuf, name: &str, argv: &[&str], secs: u64| {
        let (code, text) = check(prog, argv, Duration::from_secs(secs));
        let verdict = match code {
            Some(0) => "ok",
            Some(3) => "NO CUDA",
            _ => "FAILED",
        };
        println!("{verdict:7} {name}: {text}");
        if code != Some(0) {
            failed.push(name.to_string());
        }
        code
    };
    if line(&bin, "cuda matmul", &["gpu", "probe"], 60) == Some(3) {
        bail!("CUDA is not usable from the lexalign binary (see the line above): run `cargo xtask setup --cuda` or point LD_LIBRARY_PATH at a torch 2.11's lib/");
    }
    for m in lexalign_run::EMBEDDED_MODELS {
        for dtype in ["f32", "bf16"] {
            line(
                &bin,
                &format!("pooled {} {dtype}", m.name),
                &["gpu", "compare", "--model", m.name, "--dtype", dtype],
                90,
            );
        }
    }
    bnb_rounding(&paths, &mut line);
    let words = args.words.to_string();
    line(
        &bin,
        "bench llama-3.1-8b nf4 bf16",
        &[
            "bench",
            "--random-weights",
            "llama-3.1-8b",
            "--device",
            "cuda",
            "--quant",
            "nf4",
            "--words",
            &words,
        ],
        240,
    );
    println!("gpu-check: {:.0} s", started.elapsed().as_secs_f64());
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

/// 4-bit CUDA rounding vs bitsandbytes, where the reference Python (`$LEXALIGN_REF_PYTHON`, else
/// `python3`) has bitsandbytes with CUDA: gen_bnb_cuda.py writes the CUDA fixture, then
/// lexalign-quant's ignored `bnb_cuda_fixtures` test compares `Kernel::BnbCuda` with it.
fn bnb_rounding(paths: &Paths, line: &mut impl FnMut(&PathBuf, &str, &[&str], u64) -> Option<i32>) {
    let python = std::env::var_os("LEXALIGN_REF_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let probe = Command::new(&python)
        .args([
            "-c",
            "import torch, bitsandbytes; assert torch.cuda.is_available()",
        ])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!(
            "SKIPPED 4-bit CUDA rounding vs bitsandbytes: {} has no bitsandbytes with CUDA (set LEXALIGN_REF_PYTHON to a venv of requirements-ref.txt)",
            python.display()
        );
        return;
    }
    let script = paths
        .repo
        .join("crates/lexalign-quant/tests/fixtures/gen_bnb_cuda.py");
    let script = script.to_string_lossy();
    if line(
        &python,
        "bnb CUDA fixture (gen_bnb_cuda.py)",
        &[&script],
        120,
    ) != Some(0)
    {
        return;
    }
    let manifest = paths.repo.join("Cargo.toml");
    let manifest = manifest.to_string_lossy();
    let cargo = PathBuf::from(env!("CARGO"));
    line(
        &cargo,
        "4-bit CUDA rounding vs bitsandbytes",
        &[
            "test",
            "-q",
            "--manifest-path",
            &manifest,
            "-p",
            "lexalign-quant",
            "--test",
            "bnb_cuda_fixtures",
            "--",
            "--ignored",
        ],
        300,
    );
}
