//! `lexalign`: measure and change cross-lingual word alignment inside decoder language models.
//! A thin binary: it parses the flags and calls the stage library (`lexalign-stages`).

use anyhow::Result;
use clap::{Parser, Subcommand};
use lexalign_model::QuantMode;
use lexalign_stages::eval_cmd::{print_table, run_eval, EvalArgs};
use lexalign_stages::scan_cmd::{run_scan, ScanArgs};
use lexalign_stages::train_cmd::{run_train, TrainArgs};
use lexalign_stages::{bench_cmd, convert_cmd, gpu_cmd, laser_cmd, memory, tables};
use std::path::PathBuf;

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
    /// Continue prompts with the model (greedy, or sampled with --temperature/--top-k/--top-p/--seed),
    /// with or without a peft adapter: generations.jsonl, generations.md.
    Generate(lexalign_stages::generate_cmd::GenerateArgs),
    /// Language-model loss of a text file (one text per line), with or without a peft adapter:
    /// lm_loss.csv, mean NLL per token and bits per UTF-8 byte.
    LmLoss(lexalign_stages::lm_loss_cmd::LmLossArgs),
    /// LASER-2 reference encoder: sentence vectors, and pair alignment in LASER-2 space.
    #[command(subcommand)]
    Laser(laser_cmd::LaserCmd),
    /// Time the paper's workload on seeded random weights of a real shape (llama-3.1-8b or a config.json),
    /// or one case (`--model M --case words|load|scan|tli-step`, one JSON line) for `cargo xtask bench`.
    Bench(bench_cmd::BenchArgs),
    /// CUDA checks for `cargo xtask doctor` / `gpu-check` (exit 3: no CUDA device).
    #[command(subcommand, hide = true)]
    Gpu(gpu_cmd::GpuCmd),
    /// Resident weight memory (none vs 4-bit), measured peak memory, and the projection for an 8B Llama.
    Memory {
        #[command(flatten)]
        model: lexalign_stages::ModelArgs,
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
            tables::print_scan(&results);
            println!("wrote {}", args.out.display());
        }
        Cmd::Bli(args) => {
            let (_, results) = run_scan(&args, "bli", QuantMode::None)?;
            tables::print_bli(&results);
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
        Cmd::Generate(args) => {
            let rows = lexalign_stages::generate_cmd::run_generate(&args, "generate")?;
            for r in &rows {
                println!("{}\t{}", r.prompt.replace('\n', "\\n"), r.text.replace('\n', "\\n"));
            }
            println!("wrote {}", args.out.join("generations.jsonl").display());
        }
        Cmd::LmLoss(args) => {
            let (_, s) = lexalign_stages::lm_loss_cmd::run_lm_loss(&args, "lm-loss")?;
            println!("texts\ttokens\tbytes\tnll_per_token\tbits_per_byte");
            println!("{}\t{}\t{}\t{:.4}\t{:.4}", s.texts, s.tokens, s.bytes, s.mean_nll_per_token, s.bits_per_byte);
            println!("wrote {}", args.out.join("lm_loss.csv").display());
        }
        Cmd::Laser(c) => laser_cmd::run_laser(&c, &mut std::io::stdout().lock())?,
        Cmd::Bench(args) => match (&args.model, &args.case.case) {
            (Some(m), Some(case)) => {
                let model = lexalign_stages::bench_model::resolve(m)?;
                if let Some(line) = lexalign_stages::bench_model::run_case(&args, &model, case)? {
                    println!("{}", line.json_line()?);
                }
            }
            _ => bench_cmd::print_report(&bench_cmd::run_bench(&args)?),
        },
        Cmd::Gpu(c) => std::process::exit(gpu_cmd::run_gpu(&c)?),
        Cmd::Memory { model, project_config } => memory::run_memory(&model, project_config.as_deref())?,
        Cmd::Convert { gguf, out, force } => convert_cmd::run_convert(&gguf, &out, force)?,
    }
    Ok(())
}

