//! `lexalign`: measure and change how the words of two languages line up inside decoder language
//! models. A thin binary: it parses the flags and calls the stage library (`lexalign-stages`).

use anyhow::Result;
use clap::{Parser, Subcommand};
use lexalign_model::QuantMode;
use lexalign_stages::eval_cmd::{print_table, run_eval, EvalArgs};
use lexalign_stages::scan_cmd::{run_scan, ScanArgs};
use lexalign_stages::tables::{print_json, scan_json};
use lexalign_stages::train_cmd::{run_train, TrainArgs};
use lexalign_stages::{bench_cmd, convert_cmd, e5_cmd, gpu_cmd, laser_cmd, memory, tables};
use std::path::PathBuf;

/// `0.1.0 (git 1a2b3c4)`: the crate version and the commit it was built from (build.rs; `unknown`
/// when built outside a git checkout, e.g. from a source tarball).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("LEXALIGN_GIT_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "lexalign",
    version = VERSION,
    about = "Measure, and change, how the words of two languages line up inside a language model's hidden states.",
    long_about = "Measure, and change, how the words of two languages line up inside a language model's
hidden states.

Give it translation pairs (a MUSE/VecMap dictionary, CSV/TSV with a header, or JSON) and a model
(an HF folder, a .gguf file, an ORG/NAME already in the Hugging Face cache, or an embedded model),
and it reports, for every layer, how close translations sit compared with random pairs and how
often a word's nearest neighbour across languages is its translation (bilingual lexicon
induction: P@1/5/10 with NN and CSLS). It can then train a small LoRA adapter that pulls
translations together at one layer (Targeted Lexical Injection) and measure the change.

Start with:
  lexalign bli   --model gemma3-270m --pairs ko-en.txt --layers 12 --out bli/
  lexalign scan  --model gemma3-270m --pairs pairs.tsv --out scan/
  lexalign train --pairs pairs.json --out tli/
  lexalign eval  --pairs pairs.json --control-pairs control.json --adapter tli/adapter --out eval/

--save-vectors DIR (scan, bli, eval) exports the pooled vectors (safetensors; word2vec .vec with
--vec) for MUSE, VecMap or fastText; --json prints any table as JSON.",
    after_help = "Each command has its own --help (`lexalign bli --help`)."
)]
struct Cli {
    /// Print the command's table as one JSON document on stdout instead of tab-separated text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing the flag structs buys nothing
enum Cmd {
    /// Per layer: how close translations sit (pair cosine) against shuffled pairs, raw and
    /// centred, with every retrieval metric (layers.csv, pairs.csv).
    Scan(ScanArgs),
    /// Bilingual lexicon induction: how often a word's nearest neighbour across languages is its
    /// translation (P@1/5/10, NN and CSLS, both directions, raw and centred) per layer.
    Bli(ScanArgs),
    /// Targeted Lexical Injection: train a LoRA adapter that pulls translations together at one layer.
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
    /// multilingual-e5-small (installed by setup): sentence vectors, and LASER's xSIM / P@1
    /// protocol on the Korean-English and Swahili-English sentence pairs of the corpora.
    #[command(subcommand)]
    E5(e5_cmd::E5Cmd),
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

/// `wrote PATH`: on stdout after a table, on stderr after JSON (stdout stays one document).
fn wrote(json: bool, path: &std::path::Path) {
    if json {
        eprintln!("wrote {}", path.display());
    } else {
        println!("wrote {}", path.display());
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let json = cli.json;
    match cli.cmd {
        Cmd::Scan(args) => {
            let (_, results) = run_scan(&args, "scan", QuantMode::None)?;
            if json {
                print_json(&scan_json(&results)?)?
            } else {
                tables::print_scan(&results)
            }
            wrote(json, &args.out);
        }
        Cmd::Bli(args) => {
            let (_, results) = run_scan(&args, "bli", QuantMode::None)?;
            if json {
                print_json(&scan_json(&results)?)?
            } else {
                tables::print_bli(&results)
            }
            wrote(json, &args.out.join("layers.csv"));
        }
        Cmd::Train(args) => {
            let (_, o) = run_train(&args, "train")?;
            if o.interrupted {
                eprintln!(
                    "stopped after epoch {} of {}; continue with --resume",
                    o.epochs_done,
                    args.config()?.epochs
                );
                std::process::exit(130);
            }
            println!(
                "trained {} steps; final-epoch mean loss {:.4}; wrote {}",
                o.steps_done,
                o.final_epoch_mean_loss.unwrap_or(f64::NAN),
                args.out.display()
            );
        }
        Cmd::Eval(args) => {
            let (_, o) = run_eval(&args, "eval")?;
            if json {
                print_json(&o.sets)?
            } else {
                print_table(&o)
            }
            wrote(json, &args.out);
        }
        Cmd::Generate(args) => {
            let rows = lexalign_stages::generate_cmd::run_generate(&args, "generate")?;
            if json {
                print_json(&rows)?
            } else {
                for r in &rows {
                    println!(
                        "{}\t{}",
                        r.prompt.replace('\n', "\\n"),
                        r.text.replace('\n', "\\n")
                    );
                }
            }
            wrote(json, &args.out.join("generations.jsonl"));
        }
        Cmd::LmLoss(args) => {
            let (_, s) = lexalign_stages::lm_loss_cmd::run_lm_loss(&args, "lm-loss")?;
            if json {
                print_json(&s)?
            } else {
                println!("texts\ttokens\tbytes\tnll_per_token\tbits_per_byte");
                println!(
                    "{}\t{}\t{}\t{:.4}\t{:.4}",
                    s.texts, s.tokens, s.bytes, s.mean_nll_per_token, s.bits_per_byte
                );
            }
            wrote(json, &args.out.join("lm_loss.csv"));
        }
        Cmd::Laser(c) => laser_cmd::run_laser(&c, &mut std::io::stdout().lock(), json)?,
        Cmd::E5(c) => e5_cmd::run_e5(&c, &mut std::io::stdout().lock(), json)?,
        Cmd::Bench(args) => match (&args.model, &args.case.case) {
            (Some(m), Some(case)) => {
                let model = lexalign_stages::bench_model::resolve(m)?;
                if let Some(line) = lexalign_stages::bench_model::run_case(&args, &model, case)? {
                    println!("{}", line.json_line()?);
                }
            }
            _ => {
                let report = bench_cmd::run_bench(&args)?;
                if json {
                    print_json(&report)?
                } else {
                    bench_cmd::print_report(&report)
                }
            }
        },
        Cmd::Gpu(c) => std::process::exit(gpu_cmd::run_gpu(&c)?),
        Cmd::Memory {
            model,
            project_config,
        } => memory::run_memory(&model, project_config.as_deref())?,
        Cmd::Convert { gguf, out, force } => convert_cmd::run_convert(&gguf, &out, force)?,
    }
    Ok(())
}
