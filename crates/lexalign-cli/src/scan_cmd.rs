//! `lexalign scan` and the pilot experiment share this: load pairs, run the scan with a progress
//! bar, write the CSVs, `summary.json` and `provenance.json`.

use crate::model_args::{LoadedRun, ModelArgs};
use crate::stage_io::write_summary;
use anyhow::{Context, Result};
use clap::Args;
use lexalign_model::{Pooling, QuantMode};
use lexalign_scan::{parse_layers, scan, write_outputs, ScanOptions, ScanResult};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Pair file: the authors' JSON (`[{"swahili":..,"english":..}]`) or CSV/TSV with a header.
    #[arg(long)]
    pub pairs: PathBuf,
    /// `all` or a comma list of HF hidden-state indices (0 = embeddings).
    #[arg(long, default_value = "all")]
    pub layers: String,
    /// mean | mean-content | first | last
    #[arg(long, default_value = "mean")]
    pub pooling: String,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Seed of the shuffled-pair baseline.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Reads a pair file into (source, target) lists, in file order.
pub fn read_pairs(path: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let file = lexalign_data::read_pairs(path)?;
    Ok(file.pairs.into_iter().map(|p| (p.source, p.target)).unzip())
}

/// Runs a scan and writes everything into `args.out`. `default_quant` follows the script reproduced.
pub fn run_scan(args: &ScanArgs, stage: &str, default_quant: QuantMode) -> Result<(LoadedRun, ScanResult)> {
    let pooling: Pooling = args.pooling.parse()?;
    let (sources, targets) = read_pairs(&args.pairs)?;
    // Load only the blocks the highest requested layer needs.
    let max_layer = if args.layers.trim() == "all" {
        None
    } else {
        args.layers.split(',').filter_map(|s| s.trim().parse::<usize>().ok()).max()
    };
    let run = args.model.load(default_quant, max_layer)?;
    let job = ScanJob {
        sources: &sources,
        targets: &targets,
        pairs_file: &args.pairs,
        layers: &args.layers,
        pooling,
        batch_size: args.batch_size,
        seed: args.seed,
        out: &args.out,
        stage,
    };
    let result = scan_and_write(&run, &job)?;
    Ok((run, result))
}

/// One scan over an already loaded model.
pub struct ScanJob<'a> {
    pub sources: &'a [String],
    pub targets: &'a [String],
    pub pairs_file: &'a Path,
    pub layers: &'a str,
    pub pooling: Pooling,
    pub batch_size: usize,
    pub seed: u64,
    pub out: &'a Path,
    pub stage: &'a str,
}

/// Scans, then writes `layers.csv`, `pairs.csv`, `summary.json` and `provenance.json` into `job.out`.
pub fn scan_and_write(run: &LoadedRun, job: &ScanJob) -> Result<ScanResult> {
    let layers = parse_layers(job.layers, run.model.model.num_hidden_states())?;
    let opts = ScanOptions { layers, pooling: job.pooling, batch_size: job.batch_size, seed: job.seed };
    let src: Vec<&str> = job.sources.iter().map(String::as_str).collect();
    let tgt: Vec<&str> = job.targets.iter().map(String::as_str).collect();
    let bar = lexalign_run::progress_bar((2 * src.len()) as u64, &format!("{} ({})", job.stage, job.pooling));
    let started = std::time::Instant::now();
    let result = scan(&run.model, &src, &tgt, &opts, |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    log::info!("scanned {} pairs x {} layers ({} pooling) in {secs:.1} s", src.len(), opts.layers.len(), job.pooling);

    std::fs::create_dir_all(job.out).with_context(|| format!("cannot create {}", job.out.display()))?;
    write_outputs(job.out, &src, &tgt, &result)?;
    let prov = run.provenance(job.stage)?;
    let summary = serde_json::json!({
        "pooling": job.pooling.name(),
        "n_pairs": src.len(),
        "n_layers": run.model.model.cfg.num_hidden_layers,
        "layers": opts.layers,
        "seed": job.seed,
        "batch_size": job.batch_size,
    });
    write_summary(job.out, run, &prov, summary)?;
    prov.data_file(job.pairs_file)?
        .seed(job.seed)
        .setting("pooling", job.pooling.name())?
        .setting("layers", &opts.layers)?
        .setting("batch_size", job.batch_size)?
        .setting("scan_seconds", (secs * 10.0).round() / 10.0)?
        .write(job.out)?;
    Ok(result)
}
