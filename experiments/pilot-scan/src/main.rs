//! The authors' pilot (their script 01): every hidden state of the model, each of the 623
//! training pairs embedded word by word with `mean` pooling (BOS included), L2-normalised,
//! cosine averaged per layer; NF4 weights with bf16 compute (f32 on CPU).
//!
//! Beyond the paper, every layer also gets a shuffled-pair baseline, and the scan is repeated
//! with the evaluation script's `mean-content` pooling (BOS/EOS/PAD excluded) so the two
//! poolings the authors mixed can be compared. Outputs: `--out` (the authors' pooling) and
//! `<out>-mean-content`.

use anyhow::Result;
use clap::Parser;
use lexalign_model::{Pooling, QuantMode};
use lexalign_stages::scan_cmd::{read_pairs, scan_and_write, ScanJob};
use lexalign_stages::train_cmd::pair_file;
use lexalign_stages::ModelArgs;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "pilot-scan",
    about = "The paper's pilot layer scan (script 01)"
)]
struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The authors' `tli_project` folder (default: ../shared/paper-data/tli_project or $LEXALIGN_PAPER_DATA).
    #[arg(long)]
    paper_data: Option<PathBuf>,
    /// A pair file to scan instead of the authors' training pairs.
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// Poolings to scan; the first is written to --out, the others to `<out>-<pooling>`.
    #[arg(long, default_value = "mean,mean-content", value_delimiter = ',', value_parser = lexalign_stages::model_args::pooling_parser())]
    pooling: Vec<String>,
    #[arg(long, default_value = "all", value_parser = lexalign_stages::model_args::parse_layer_spec)]
    layers: String,
    #[arg(long, default_value_t = 64, value_parser = lexalign_stages::model_args::at_least_one)]
    batch_size: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
}

fn main() {
    lexalign_run::init_logging();
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    // Every output folder is checked before the model loads.
    let poolings = args
        .pooling
        .iter()
        .map(|p| p.parse::<Pooling>())
        .collect::<Result<Vec<_>>>()?;
    let outs: Vec<PathBuf> = poolings
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i == 0 {
                args.out.clone()
            } else {
                PathBuf::from(format!("{}-{}", args.out.display(), p.name()))
            }
        })
        .collect();
    for out in &outs {
        lexalign_stages::stage_io::prepare_out_dir(out)?;
    }
    let pairs_path = pair_file(
        &args.pairs,
        &args.paper_data,
        lexalign_data::TRAINING_PAIRS,
        "--pairs",
    )?;
    let (sources, targets) = read_pairs(&pairs_path)?;
    // The authors' pilot: NF4 with bf16 compute.
    let mut run = args.model.load(QuantMode::Nf4, None)?;
    run.dequantize_for_inference(args.model.low_memory);
    for (&pooling, out) in poolings.iter().zip(&outs) {
        let job = ScanJob {
            sources: &sources,
            targets: &targets,
            pairs_file: &pairs_path,
            layers: &args.layers,
            poolings: &[pooling],
            batch_size: args.batch_size,
            seed: args.seed,
            bootstrap: 1000,
            candidates: &[],
            out,
            stage: "pilot-scan",
        };
        let result = scan_and_write(&run, &job)?.remove(0);
        let peak = result
            .layers
            .iter()
            .max_by(|a, b| a.pairs_mean.total_cmp(&b.pairs_mean))
            .unwrap();
        println!(
            "{} pooling: peak at layer {} ({:.4}; shuffled {:.4}); wrote {}",
            pooling,
            peak.layer,
            peak.pairs_mean,
            peak.shuffled_mean,
            out.display()
        );
    }
    Ok(())
}
