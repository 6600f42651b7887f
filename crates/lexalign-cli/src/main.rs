//! `lexalign`: measure and change cross-lingual word alignment inside Llama-family models.

use anyhow::Result;
use clap::{Parser, Subcommand};
use lexalign_cli::eval_cmd::{print_table, run_eval, EvalArgs};
use lexalign_cli::scan_cmd::{run_scan, ScanArgs};
use lexalign_cli::train_cmd::{run_train, TrainArgs};
use lexalign_model::QuantMode;
use std::path::PathBuf;

mod laser_cmd;

#[derive(Parser)]
#[command(name = "lexalign", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing the flag structs buys nothing
enum Cmd {
    /// Per hidden layer: translation-pair cosine against a shuffled-pair baseline, raw and
    /// centred, and every BLI retrieval metric (written to layers.csv).
    Scan(ScanArgs),
    /// Bilingual lexicon induction: P@1/5/10 with NN and CSLS retrieval, both directions, raw and
    /// centred, per layer (`--layers 12` for one); the same run and files as `scan`.
    Bli(ScanArgs),
    /// Targeted Lexical Injection: train LoRA adapters so translations align at an early layer.
    Train(TrainArgs),
    /// Pair cosine before and after merging an adapter (the authors' evaluation).
    Eval(EvalArgs),
    /// LASER-2 reference encoder: sentence vectors, and pair alignment in LASER-2 space.
    #[command(subcommand)]
    Laser(laser_cmd::LaserCmd),
    /// Time the paper's workload on seeded random weights of a real shape (llama-3.1-8b or a config.json).
    Bench(lexalign_cli::bench_cmd::BenchArgs),
    /// CUDA checks for `cargo xtask doctor` / `gpu-check` (exit 3: no CUDA device).
    #[command(subcommand, hide = true)]
    Gpu(lexalign_cli::gpu_cmd::GpuCmd),
    /// Resident weight memory (none vs 4-bit), measured peak memory, and the projection for an 8B Llama.
    Memory {
        #[command(flatten)]
        model: lexalign_cli::ModelArgs,
        /// config.json of the model to project to (default: Llama-3.1-8B, the shape of Lugha-Llama-8B-wura).
        #[arg(long)]
        project_config: Option<PathBuf>,
    },
    /// Write a GGUF model out as an HF safetensors folder (config.json, model.safetensors, tokenizer.json).
    Convert {
        /// The .gguf file.
        #[arg(long)]
        gguf: PathBuf,
        /// The output folder (must not exist yet, unless --force).
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing --out folder (the old one is removed only once the new one is complete).
        #[arg(long)]
        force: bool,
    },
}

fn main() {
    lexalign_run::init_logging();
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Scan(args) => {
            let (_, results) = run_scan(&args, "scan", QuantMode::None)?;
            println!("pooling\tlayer\tpairs_mean\tshuffled_mean\tcentered_mean\tcentered_shuffled\tp1_csls\tcentered_p1_csls");
            for r in &results {
                for l in &r.layers {
                    let m = &l.metrics;
                    println!(
                        "{}\t{}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.3}\t{:.3}",
                        r.pooling, l.layer, l.pairs_mean, l.shuffled_mean, m.centered_mean, m.centered_shuffled_mean,
                        m.p1_csls, m.centered_p1_csls
                    );
                }
            }
            println!("wrote {}", args.out.display());
        }
        Cmd::Bli(args) => {
            let (_, results) = run_scan(&args, "bli", QuantMode::None)?;
            print_bli(&results);
            println!("wrote {}", args.out.join("layers.csv").display());
        }
        Cmd::Train(args) => {
            let (_, o) = run_train(&args, "train")?;
            if o.interrupted {
                eprintln!("stopped after epoch {} of {}; continue with --resume", o.epochs_done, args.config()?.epochs);
                std::process::exit(130);
            }
            println!("trained {} steps; final-epoch mean loss {:.4}; wrote {}", o.steps_done, o.final_epoch_mean_loss.unwrap_or(f64::NAN), args.out.display());
        }
        Cmd::Eval(args) => {
            let (_, o) = run_eval(&args, "eval")?;
            print_table(&o);
            println!("wrote {}", args.out.display());
        }
        Cmd::Laser(c) => laser_cmd::run_laser(&c, &mut std::io::stdout().lock())?,
        Cmd::Bench(args) => lexalign_cli::bench_cmd::print_report(&lexalign_cli::bench_cmd::run_bench(&args)?),
        Cmd::Gpu(c) => std::process::exit(lexalign_cli::gpu_cmd::run_gpu(&c)?),
        Cmd::Memory { model, project_config } => memory(&model, project_config.as_deref())?,
        Cmd::Convert { gguf, out, force } => {
            check_convert_out(&out, force)?;
            lexalign_gguf::convert_to_hf_dir(&gguf, &out)?;
            println!("wrote {}", out.display());
        }
    }
    Ok(())
}

/// `convert --out`: never an existing file; an existing folder only with `--force`; otherwise
/// its parent folder must exist or be creatable. Checked before the GGUF is read.
fn check_convert_out(out: &std::path::Path, force: bool) -> Result<()> {
    use anyhow::{bail, Context};
    if out.exists() {
        if !out.is_dir() {
            bail!("--out {} is an existing file, not a folder: choose a new folder path", out.display());
        }
        if !force {
            bail!("--out {} already exists: choose a new folder, or pass --force to replace it", out.display());
        }
        return Ok(());
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("--out {}: cannot create its parent folder {}", out.display(), parent.display()))?;
    }
    Ok(())
}

fn memory(args: &lexalign_cli::ModelArgs, project_config: Option<&std::path::Path>) -> Result<()> {
    use lexalign_cli::memory::{gib, peak_rss_bytes, project, LLAMA31_8B_CONFIG};
    let quant = match &args.quant {
        Some(q) => q.parse()?,
        None => QuantMode::Nf4,
    };
    let run = args.load(quant, None)?;
    let (linear, other) = run.model.model.resident_weight_bytes();
    let cfg = &run.model.model.cfg;
    let dense_bytes = if run.dtype == "f32" { 4 } else { 2 };
    let dense = project(cfg, QuantMode::None, false, dense_bytes);
    println!("model {} ({}), quant {}{}, compute {}", run.model.info.name, run.model_path.display(), quant.name(),
        if args.double_quant { "+dq" } else { "" }, run.dtype);
    println!("  resident weights (accounting): linear {} + other {} = {}", gib(linear), gib(other), gib(linear + other));
    println!("  same model unquantized ({}):   linear {} + other {} = {}", run.dtype, gib(dense.linear), gib(dense.other), gib(dense.lexalign_total()));
    if let Some(p) = peak_rss_bytes() {
        println!("  measured peak resident memory of this process: {}", gib(p));
    }
    let (name, text) = match project_config {
        Some(p) => (p.display().to_string(), std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?),
        None => ("Llama-3.1-8B (Lugha-Llama-8B-wura)".to_string(), LLAMA31_8B_CONFIG.to_string()),
    };
    let target = lexalign_model::ModelConfig::from_json_str(&text)?;
    for (label, q, dq) in [("bf16", QuantMode::None, false), ("nf4", QuantMode::Nf4, false), ("nf4+dq", QuantMode::Nf4, true)] {
        let p = project(&target, q, dq, 2);
        println!("  projected {name} {label:6}: lexalign {} (no lm_head), transformers {} (with lm_head)",
            gib(p.lexalign_total()), gib(p.transformers_total()));
    }
    Ok(())
}

/// The retrieval table of `lexalign bli` (source->target unless `t2s`; `c.` = centred).
fn print_bli(results: &[lexalign_scan::ScanResult]) {
    println!("pooling\tlayer\tnn@1\tnn@5\tnn@10\tcsls@1\tcsls@5\tcsls@10\tc.nn@1\tc.csls@1 [95% CI]\tc.csls@10\tt2s c.csls@1\tc.mexa\tcandidates");
    for r in results {
        for l in &r.layers {
            let m = &l.metrics;
            println!(
                "{}\t{}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3} [{:.3}, {:.3}]\t{:.3}\t{:.3}\t{:.3}\t{}",
                r.pooling, l.layer, m.p1_nn, m.p5_nn, m.p10_nn, m.p1_csls, m.p5_csls, m.p10_csls, m.centered_p1_nn,
                m.centered_p1_csls, m.centered_p1_csls_ci_low, m.centered_p1_csls_ci_high, m.centered_p10_csls,
                m.t2s_centered_p1_csls, m.centered_mexa, m.n_candidates
            );
        }
    }
}
