//! `lexalign`: measure and change cross-lingual word alignment inside Llama-family models.

use anyhow::Result;
use clap::{Parser, Subcommand};
use lexalign_cli::eval_cmd::{print_table, run_eval, EvalArgs};
use lexalign_cli::scan_cmd::{run_scan, ScanArgs};
use lexalign_cli::train_cmd::{run_train, TrainArgs};
use lexalign_model::QuantMode;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "lexalign", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Average translation-pair cosine (and a shuffled-pair baseline) per hidden layer.
    Scan(ScanArgs),
    /// Targeted Lexical Injection: train LoRA adapters so translations align at an early layer.
    Train(TrainArgs),
    /// Pair cosine before and after merging an adapter (the authors' evaluation).
    Eval(EvalArgs),
    /// Write a GGUF model out as an HF safetensors folder (config.json, model.safetensors, tokenizer.json).
    Convert {
        /// The .gguf file.
        #[arg(long)]
        gguf: PathBuf,
        /// The output folder (must not exist yet).
        #[arg(long)]
        out: PathBuf,
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
            let (_, result) = run_scan(&args, "scan", QuantMode::None)?;
            println!("layer\tpairs_mean\tshuffled_mean");
            for l in &result.layers {
                println!("{}\t{:.4}\t{:.4}", l.layer, l.pairs_mean, l.shuffled_mean);
            }
            println!("wrote {}", args.out.display());
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
        Cmd::Convert { gguf, out } => {
            lexalign_gguf::convert_to_hf_dir(&gguf, &out)?;
            println!("wrote {}", out.display());
        }
    }
    Ok(())
}
