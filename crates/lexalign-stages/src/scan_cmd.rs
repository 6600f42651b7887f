//! `lexalign scan` and the pilot experiment share this: load pairs, run the scan with a progress
//! bar, write the CSVs, `summary.json` and `provenance.json`.

use crate::model_args::{LoadedRun, ModelArgs};
use crate::stage_io::write_summary;
use crate::vectors_out::{describe, f32_rows, tensor_name, VectorSink};
use anyhow::{Context, Result};
use clap::Args;
use lexalign_metrics::Lexicon;
use lexalign_model::{Pooling, QuantMode};
use lexalign_scan::{parse_layers, write_outputs, ScanOptions, ScanResult};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Pair file: the authors' JSON (`[{"swahili":..,"english":..}]`), CSV/TSV with a header, or a
    /// MUSE/VecMap dictionary (`SOURCE TARGET` a line, no header); the format is detected.
    #[arg(long, required_unless_present = "lexicon", conflicts_with = "lexicon")]
    pub pairs: Option<PathBuf>,
    /// Read --pairs as this format instead of detecting it: json | csv | tsv | muse.
    #[arg(long, value_name = "FORMAT", value_parser = parse_pair_format)]
    pub pairs_format: Option<lexalign_data::PairFormat>,
    /// A lexicon instead of a pair file, read and SHA-256-checked through lexalign-data:
    /// kengdic (ko-en) | freedict-sw-en | cldr-ko-en | cldr-sw-en.
    #[arg(long, value_parser = ["kengdic", "freedict-sw-en", "cldr-ko-en", "cldr-sw-en"])]
    pub lexicon: Option<String>,
    /// Where the lexicons are (default: $LEXALIGN_LEXICONS, ../shared/lexicons, the setup cache).
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
    /// `all` or a comma list of HF hidden-state indices (0 = embeddings).
    #[arg(long, default_value = "all", value_parser = crate::model_args::parse_layer_spec)]
    pub layers: String,
    /// mean | mean-content | first | last, or a comma list (one forward serves them all).
    #[arg(long, default_value = "mean", value_parser = crate::model_args::check_poolings)]
    pub pooling: String,
    /// Extra BLI candidates (one target-language word per line) beyond the pairs' targets.
    #[arg(long)]
    pub candidates: Option<PathBuf>,
    /// Bootstrap resamples for the P@1 and centred-cosine 95 % intervals.
    #[arg(long, default_value_t = 1000, value_parser = crate::model_args::at_least_one)]
    pub bootstrap: usize,
    #[arg(long, default_value_t = 64, value_parser = crate::model_args::at_least_one)]
    pub batch_size: usize,
    /// Seed of the shuffled-pair baseline.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub vectors: crate::vectors_out::SaveVectorsArgs,
}

/// `--pairs-format json|csv|tsv|muse`, checked while the command line is parsed.
pub fn parse_pair_format(s: &str) -> Result<lexalign_data::PairFormat, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

/// The pairs of a named lexicon (every pair; gold translations repeat the source), and its first file.
pub fn lexicon_pairs(
    name: &str,
    dir: Option<&Path>,
) -> Result<(Vec<String>, Vec<String>, PathBuf)> {
    let lex = lexalign_data::Lexicons::locate(dir)?;
    let l = match name {
        "kengdic" => lex.kengdic()?,
        "freedict-sw-en" => lex.freedict_swh_eng()?,
        "cldr-ko-en" => lex.cldr_ko_en()?,
        "cldr-sw-en" => lex.cldr_sw_en()?,
        other => anyhow::bail!(
            "unknown lexicon `{other}`: use kengdic, freedict-sw-en, cldr-ko-en or cldr-sw-en"
        ),
    };
    log::info!(
        "{name}: {} pairs, {} source words",
        l.stats.pairs,
        l.stats.sources
    );
    let file = l
        .pairs
        .first()
        .and_then(|p| p.origin.as_ref())
        .map(|o| PathBuf::from(&o.file))
        .unwrap_or_else(|| PathBuf::from(name));
    let (s, t) = l.pairs.into_iter().map(|p| (p.source, p.target)).unzip();
    Ok((s, t, file))
}

/// Reads a pair file into (source, target) lists, in file order (format detected).
pub fn read_pairs(path: &Path) -> Result<(Vec<String>, Vec<String>)> {
    read_pairs_as(path, None)
}

/// [`read_pairs`] in `format` (`None`: detected from the content).
pub fn read_pairs_as(
    path: &Path,
    format: Option<lexalign_data::PairFormat>,
) -> Result<(Vec<String>, Vec<String>)> {
    let file = lexalign_data::read_pairs_as(path, &lexalign_data::Columns::default(), format)?;
    Ok(file.pairs.into_iter().map(|p| (p.source, p.target)).unzip())
}

/// Runs a scan and writes everything into `args.out`. `default_quant` follows the script reproduced.
pub fn run_scan(
    args: &ScanArgs,
    stage: &str,
    default_quant: QuantMode,
) -> Result<(LoadedRun, Vec<ScanResult>)> {
    crate::stage_io::prepare_out_dir(&args.out)?;
    let poolings = crate::model_args::parse_poolings(&args.pooling).map_err(anyhow::Error::msg)?;
    let (sources, targets, pairs_file) = match (&args.pairs, &args.lexicon) {
        (Some(p), _) => {
            let (s, t) = read_pairs_as(p, args.pairs_format)?;
            (s, t, p.clone())
        }
        (None, Some(name)) => lexicon_pairs(name, args.lexicon_dir.as_deref())?,
        (None, None) => anyhow::bail!("give --pairs FILE or --lexicon NAME"),
    };
    let candidates = match &args.candidates {
        Some(p) => read_word_list(p)?,
        None => Vec::new(),
    };
    // Load only the blocks the highest requested layer needs.
    let max_layer = if args.layers.trim() == "all" {
        None
    } else {
        args.layers
            .split(',')
            .filter_map(|s| s.trim().parse::<usize>().ok())
            .max()
    };
    let sink = VectorSink::open(&args.vectors)?;
    let mut run = args.model.load(default_quant, max_layer)?;
    run.dequantize_for_inference(args.model.low_memory);
    let job = ScanJob {
        sources: &sources,
        targets: &targets,
        pairs_file: &pairs_file,
        layers: &args.layers,
        poolings: &poolings,
        batch_size: args.batch_size,
        seed: args.seed,
        bootstrap: args.bootstrap,
        candidates: &candidates,
        out: &args.out,
        stage,
    };
    let result = match sink {
        None => scan_and_write(&run, &job)?,
        Some(mut sink) => {
            let lex = Lexicon::from_pairs(
                &sources.iter().zip(&targets).collect::<Vec<_>>(),
                &candidates,
            )?;
            let result = scan_and_write_visit(&run, &job, |v| {
                let p = v.pooling.name();
                sink.add(
                    &tensor_name(p, v.layer, None, "source"),
                    "source",
                    &lex.sources,
                    v.sources.cols,
                    &f32_rows(v.sources),
                )?;
                sink.add(
                    &tensor_name(p, v.layer, None, "target"),
                    "target",
                    &lex.candidates,
                    v.candidates.cols,
                    &f32_rows(v.candidates),
                )
            })?;
            let pairs: Vec<lexalign_data::Pair> = sources
                .iter()
                .zip(&targets)
                .map(|(s, t)| lexalign_data::Pair::new(s.as_str(), t.as_str()))
                .collect();
            let meta = vector_metadata(&run, stage, &pairs_file, lex.n_pair_targets)?;
            sink.finish(meta, &pairs)?;
            log::info!(
                "vectors: {}",
                describe(
                    args.vectors.save_vectors.as_deref().unwrap_or(&args.out),
                    args.vectors.vec
                )
            );
            result
        }
    };
    Ok((run, result))
}

/// The safetensors metadata of a saved-vectors folder: model, stage, pair file, row order.
pub fn vector_metadata(
    run: &LoadedRun,
    stage: &str,
    pairs_file: &Path,
    n_pair_targets: usize,
) -> Result<BTreeMap<String, String>> {
    Ok(BTreeMap::from([
        ("model".to_string(), run.model.info.name.clone()),
        ("model_path".to_string(), run.model_path.display().to_string()),
        ("stage".to_string(), stage.to_string()),
        ("pairs_file".to_string(), pairs_file.display().to_string()),
        ("dtype".to_string(), run.dtype.to_string()),
        ("quant".to_string(), run.quant.name().to_string()),
        ("n_pair_targets".to_string(), n_pair_targets.to_string()),
        (
            "rows".to_string(),
            "source rows: distinct sources in pair order; target rows: the pairs' distinct targets, then extra candidates".to_string(),
        ),
    ]))
}

/// One scan over an already loaded model.
pub struct ScanJob<'a> {
    pub sources: &'a [String],
    pub targets: &'a [String],
    pub pairs_file: &'a Path,
    pub layers: &'a str,
    pub poolings: &'a [Pooling],
    pub batch_size: usize,
    pub seed: u64,
    pub bootstrap: usize,
    pub candidates: &'a [String],
    pub out: &'a Path,
    pub stage: &'a str,
}

/// One word per line (blank lines and `#` comments skipped), for `--candidates`.
pub fn read_word_list(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read word list {}", path.display()))?;
    let words: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    if words.is_empty() {
        anyhow::bail!(
            "{} lists no words (one word per line expected)",
            path.display()
        );
    }
    Ok(words)
}

/// Scans, then writes `layers.csv`, `pairs.csv`, `summary.json` and `provenance.json` into `job.out`.
pub fn scan_and_write(run: &LoadedRun, job: &ScanJob) -> Result<Vec<ScanResult>> {
    scan_and_write_visit(run, job, |_| Ok(()))
}

/// [`scan_and_write`], handing every (pooling, layer)'s vectors to `visit` (`lexalign_scan::scan_visit`).
pub fn scan_and_write_visit(
    run: &LoadedRun,
    job: &ScanJob,
    visit: impl FnMut(&lexalign_scan::LayerVectors) -> Result<()>,
) -> Result<Vec<ScanResult>> {
    let layers = parse_layers(job.layers, run.model.model.num_hidden_states())?;
    let opts = ScanOptions {
        layers,
        poolings: job.poolings.to_vec(),
        batch_size: job.batch_size,
        seed: job.seed,
        bootstrap: job.bootstrap,
        candidates: job.candidates.to_vec(),
    };
    let pooling_names = job
        .poolings
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(",");
    let src: Vec<&str> = job.sources.iter().map(String::as_str).collect();
    let tgt: Vec<&str> = job.targets.iter().map(String::as_str).collect();
    let n_words = src
        .iter()
        .chain(&tgt)
        .chain(
            job.candidates
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .iter(),
        )
        .collect::<std::collections::HashSet<_>>()
        .len();
    let bar =
        lexalign_run::progress_bar(n_words as u64, &format!("{} ({pooling_names})", job.stage));
    let started = std::time::Instant::now();
    let result = crate::oom::with_oom_hint(job.batch_size, &run.device, || {
        lexalign_scan::scan_visit(
            &run.model,
            &src,
            &tgt,
            &opts,
            |done| bar.set_position(done as u64),
            visit,
        )
    })?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    log::info!(
        "scanned {} pairs x {} layers ({pooling_names} pooling) in {secs:.1} s",
        src.len(),
        opts.layers.len()
    );

    std::fs::create_dir_all(job.out)
        .with_context(|| format!("cannot create {}", job.out.display()))?;
    write_outputs(job.out, &src, &tgt, &result)?;
    let prov = run.provenance(job.stage)?;
    let summary = serde_json::json!({
        "pooling": pooling_names,
        "bootstrap": job.bootstrap,
        "n_candidates": result.first().and_then(|r| r.layers.first().map(|l| l.metrics.n_candidates)),
        "n_pairs": src.len(),
        "n_layers": run.model.model.cfg.num_hidden_layers,
        "layers": opts.layers,
        "seed": job.seed,
        "batch_size": job.batch_size,
    });
    write_summary(job.out, run, &prov, summary)?;
    prov.data_file(job.pairs_file)?
        .seed(job.seed)
        .setting("pooling", &pooling_names)?
        .setting("bootstrap", job.bootstrap)?
        .setting("layers", &opts.layers)?
        .setting("batch_size", job.batch_size)?
        .setting("scan_seconds", (secs * 10.0).round() / 10.0)?
        .write(job.out)?;
    Ok(result)
}
