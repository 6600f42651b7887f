//! `cargo xtask doctor`: what this machine has (torch, CUDA, threads, cache, model and data
//! hashes). Installs nothing; exits non-zero only when a file fails its hash check.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Result};

use crate::paths::{self, Paths, ENV_PAPER_DATA, ENV_PAPER_URL};
use crate::setup::{resolve_paper_source, PaperSource};
use crate::util::{self, disp};
use lexalign_run::{check_hash, HashCheck};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct DoctorArgs {
    /// The authors' `tli_project` folder to check (default: as `setup` would choose).
    #[arg(long, value_name = "DIR")]
    pub paper_data: Option<std::path::PathBuf>,
}

pub fn run(args: &DoctorArgs) -> Result<()> {
    let paths = Paths::from_env()?;
    let mut bad = Vec::new();
    println!("repository:   {}", disp(&paths.repo));
    println!("cache:        {}", disp(&paths.cache));
    println!("venv:         {}", disp(&paths.venv()));

    print_torch(&paths);
    println!("nvidia-smi:   {}", nvidia_smi());
    println!("CUDA matmul:  {}", cuda_matmul(&paths));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let omp = std::env::var("OMP_NUM_THREADS").unwrap_or_else(|_| "unset".into());
    println!("threads:      {threads} available (OMP_NUM_THREADS={omp}; experiments default to --threads 2)");
    println!(
        "nextest:      {}",
        if util::have("cargo-nextest") {
            "installed"
        } else {
            "not installed (cargo test is used)"
        }
    );

    bad.extend(check_models(&paths)?);

    // paper data
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let source = resolve_paper_source(
        args.paper_data.as_deref(),
        nonempty(ENV_PAPER_DATA).map(Into::into),
        None,
        nonempty(ENV_PAPER_URL).map(|v| v.to_string_lossy().into_owned()),
        &paths,
    );
    let (dir, how) = match source {
        PaperSource::Folder { dir, origin } => (dir, format!("from {origin}")),
        PaperSource::Download { base, dest } => (dest, format!("download cache, from {base}")),
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    println!("paper data:   {} ({how})", disp(&dir));
    let sums_path = paths.paper_sums();
    let sums = lexalign_run::parse_sums(&std::fs::read_to_string(&sums_path)?, &disp(&sums_path))?;
    for (rel, expected) in &sums {
        let p = dir.join(rel);
        let status = match check_hash(&p, expected)? {
            HashCheck::Ok => "ok".to_string(),
            HashCheck::Missing => "missing".to_string(),
            HashCheck::Mismatch { actual } => {
                bad.push(disp(&p));
                format!("MISMATCH: {actual}, expected {expected}")
            }
        };
        println!("  {rel}: {status}");
    }
    if !bad.is_empty() {
        bail!("{} failed the SHA-256 check: delete it and run `cargo xtask setup` again (or restore the original)", bad.join(", "));
    }
    Ok(())
}

/// The venv's torch, the `.libtorch` link and whether CUDA could be used.
fn print_torch(paths: &Paths) {
    match paths::find_torch_dir(&paths.venv()) {
        Some(torch) => {
            let v = paths::torch_version(&torch).unwrap_or_else(|| "unknown".into());
            let cuda = paths::version_py_field(&torch, "cuda").unwrap_or_else(|| "none".into());
            println!(
                "torch:        {v} (built for CUDA {cuda}) at {}",
                disp(&torch)
            );
            let link = paths.libtorch_link();
            match std::fs::read_link(&link) {
                Ok(t) if t == torch => {
                    println!("LIBTORCH:     {} -> {} (ok)", disp(&link), disp(&t))
                }
                Ok(t) => println!(
                    "LIBTORCH:     {} -> {} (stale: run `cargo xtask setup`)",
                    disp(&link),
                    disp(&t)
                ),
                Err(_) => println!(
                    "LIBTORCH:     {} missing (run `cargo xtask setup`)",
                    disp(&link)
                ),
            }
            println!("CUDA:         {}", cuda_status(&torch));
        }
        None => println!("torch:        not installed (run `cargo xtask setup`)"),
    }
}

/// Each embedded model's file and SHA-256; the files that fail their check.
fn check_models(paths: &Paths) -> Result<Vec<String>> {
    let mut bad = Vec::new();
    for m in lexalign_run::EMBEDDED_MODELS
        .iter()
        .chain(lexalign_run::EMBEDDED_ENCODERS)
    {
        let gguf = m.path_in(&paths.cache);
        let label = format!("model {}:", m.name);
        match check_hash(&gguf, m.sha256)? {
            HashCheck::Ok => println!("{label} {} (SHA-256 ok)", disp(&gguf)),
            HashCheck::Missing => {
                println!("{label} {} missing (run `cargo xtask setup`)", disp(&gguf))
            }
            HashCheck::Mismatch { actual } => {
                println!(
                    "{label} {} SHA-256 MISMATCH: {actual}, expected {}",
                    disp(&gguf),
                    m.sha256
                );
                bad.push(disp(&gguf));
            }
        }
    }
    Ok(bad)
}

/// Whether the wheel's CUDA libraries could load: libtorch_cuda.so present, its dependencies
/// resolvable (`ldd`), and a driver (libcuda.so.1) known to the dynamic loader.
fn cuda_status(torch: &Path) -> String {
    let lib = torch.join("lib").join("libtorch_cuda.so");
    if !lib.is_file() {
        return "not usable: this torch has no libtorch_cuda.so (CPU-only build)".into();
    }
    let missing = match crate::setup::cuda::missing_libs(&lib) {
        Some(m) => m,
        None => return "unknown (ldd not available)".into(),
    };
    if !missing.is_empty() {
        return format!(
            "not usable: libtorch_cuda.so cannot resolve {} (run `cargo xtask setup --cuda`, or point LD_LIBRARY_PATH at a full torch 2.11's lib/)",
            missing.join(", ")
        );
    }
    let driver = Command::new("ldconfig")
        .arg("-p")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("libcuda.so.1"))
        .unwrap_or(false)
        || [
            "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
            "/usr/lib64/libcuda.so.1",
            "/usr/local/nvidia/lib64/libcuda.so.1",
        ]
        .iter()
        .any(|p| Path::new(p).exists());
    if driver {
        "libraries resolve and a driver (libcuda.so.1) is installed: usable if a GPU is visible"
            .into()
    } else {
        "libraries resolve, but no NVIDIA driver (libcuda.so.1) is installed: CPU only".into()
    }
}

/// Proves CUDA end to end: `lexalign gpu probe` runs a matmul on cuda:0 against the CPU (or
/// says plainly why there is no CUDA device).
fn cuda_matmul(paths: &Paths) -> String {
    let bin = match crate::gpu_check::lexalign_binary(paths) {
        Ok(b) => b,
        Err(e) => return format!("not run: {e:#}"),
    };
    match Command::new(&bin).args(["gpu", "probe"]).output() {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
            match o.status.code() {
                Some(0) | Some(3) => text,
                _ => format!(
                    "FAILED: {text} {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            }
        }
        Err(e) => format!("not run: cannot start {} ({e})", disp(&bin)),
    }
}

fn nvidia_smi() -> String {
    match Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,driver_version,memory.total",
            "--format=csv,noheader",
        ])
        .output()
    {
        Ok(o) if o.status.success() => {
            let s = String::from_utf8_lossy(&o.stdout)
                .trim()
                .replace('\n', "; ");
            if s.is_empty() {
                "present, no GPU listed".into()
            } else {
                s
            }
        }
        Ok(_) => "present but failed (no GPU or driver problem)".into(),
        Err(_) => "not found".into(),
    }
}
