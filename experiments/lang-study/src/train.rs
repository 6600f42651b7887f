//! `lang-study train`: the authors' TLI recipe (lexalign-tli's defaults: LoRA r 16 / alpha 32 /
//! dropout 0.05 on q_proj+v_proj, hardest-negative triplet loss with margin 0.4, AdamW 2e-4,
//! 50 warm-up steps, 5 epochs, batch 8) on the study's training pairs ([`crate::data`]), at
//! hidden state 2 (the paper's) or at the layer where the scan found the best centred CSLS P@1.
//!
//! Writes what `tli-train` writes into `--out`: `loss.csv`, `adapter/` (peft), `checkpoints/
//! epoch-N/`, `summary.json` (with the chosen layer and why) and `provenance.json`.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use lexalign_model::QuantMode;
use lexalign_stages::stage_io::write_summary;
use lexalign_stages::train_cmd::interrupt_flag;
use lexalign_stages::{LoadedRun, ModelArgs};
use lexalign_tli::{train, TrainConfig, TrainOptions, TrainOutcome};
use serde::Serialize;

use crate::data::{study_pairs_in, LangPair, StudyPairs};

/// The study's model unless `--model` names another.
pub const DEFAULT_MODEL: &str = "gemma3-270m";
/// The scan's metric that picks `--target-layer best`, and the pooling whose rows it reads.
pub const BEST_COLUMN: &str = "centered_p1_csls";
pub const BEST_POOLING: &str = "mean-content";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// ko-en | sw-en
    #[arg(long, value_enum)]
    pub pair: LangPair,
    /// HF hidden-state index of the loss (the paper's is 2), or `best`: the layer with the
    /// highest centred CSLS P@1 in the scan's layers.csv (mean-content rows).
    #[arg(long, default_value = "2")]
    pub target_layer: TargetLayer,
    /// The scan's run folder (its layers.csv); needed by `--target-layer best`.
    #[arg(long)]
    pub scan: Option<PathBuf>,
    /// Run folder: loss.csv, adapter/, checkpoints/epoch-N/, summary.json, provenance.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Model flags; `--model` defaults to the study's gemma3-270m.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Lexicon folder (default: located as lexalign-data does).
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
    /// The authors' tli_project folder (sw-en; default: located as lexalign-data does).
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    /// TOML file with training settings (lexalign-tli's TrainConfig; the recipe by default).
    /// `target_layer` in it is replaced by --target-layer.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override the recipe's pooling of the loss (`mean`, BOS included, as the authors trained).
    #[arg(long, value_parser = lexalign_stages::model_args::pooling_parser())]
    pub pooling: Option<String>,
    /// Override the recipe's epochs (quick runs only).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Train on the first N training pairs only (quick runs only).
    #[arg(long)]
    pub max_pairs: Option<usize>,
    /// Continue from the last complete checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many epochs have completed (a later --resume continues).
    #[arg(long)]
    pub stop_after_epochs: Option<usize>,
}

/// `--target-layer N|best`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetLayer {
    Fixed(usize),
    Best,
}

impl std::fmt::Display for TargetLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(l) => write!(f, "{l}"),
            Self::Best => f.write_str("best"),
        }
    }
}

impl FromStr for TargetLayer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "best" => Ok(Self::Best),
            t => t
                .parse()
                .map(Self::Fixed)
                .map_err(|_| format!("`{s}` is neither a hidden-state index nor `best`")),
        }
    }
}

/// The layer the scan picked: its row of layers.csv.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestLayer {
    pub layer: usize,
    pub value: f64,
    pub column: String,
    /// `None` when layers.csv has no pooling column.
    pub pooling: Option<String>,
    pub file: String,
    /// Hidden state 0 (the embedding table) is never picked: LoRA on blocks cannot change it.
    pub skipped_layer_0: bool,
}

/// The layer of `layers.csv` with the highest [`BEST_COLUMN`] (ties: the lowest layer), among
/// the [`BEST_POOLING`] rows when the file has a `pooling` column; hidden state 0 excluded.
pub fn best_layer(layers_csv: &Path) -> Result<BestLayer> {
    let file = layers_csv.display().to_string();
    let mut r = csv::Reader::from_path(layers_csv).with_context(|| {
        format!(
            "cannot read the scan's {file} (run `lang-study scan` first, or pass --target-layer N)"
        )
    })?;
    let headers = r
        .headers()
        .with_context(|| format!("{file}: no header line"))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let layer_i =
        col("layer").with_context(|| format!("{file}: no `layer` column (header: {headers:?})"))?;
    let value_i = col(BEST_COLUMN)
        .with_context(|| format!("{file}: no `{BEST_COLUMN}` column (header: {headers:?}); is it the study scan's layers.csv?"))?;
    let pooling_i = col("pooling");
    let mut rows: Vec<(usize, f64)> = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{file}: line {line} is not valid CSV"))?;
        if let Some(p) = pooling_i {
            let pooling = rec.get(p).unwrap_or("").trim().replace('_', "-");
            if pooling != BEST_POOLING {
                continue;
            }
        }
        let field = |j: usize, what: &str| -> Result<&str> {
            rec.get(j)
                .with_context(|| format!("{file}: line {line} has no `{what}` field"))
        };
        let layer: usize = field(layer_i, "layer")?
            .trim()
            .parse()
            .with_context(|| format!("{file}: line {line}: `layer` is not a hidden-state index"))?;
        let v = field(value_i, BEST_COLUMN)?.trim();
        let value: f64 = v.parse().with_context(|| {
            format!("{file}: line {line}: `{BEST_COLUMN}` = `{v}` is not a number")
        })?;
        ensure!(
            !rows.iter().any(|(l, _)| *l == layer),
            "{file}: line {line}: layer {layer} appears twice{}; the file must hold one row per layer",
            if pooling_i.is_some() { format!(" among the {BEST_POOLING} rows") } else { String::new() }
        );
        rows.push((layer, value));
    }
    let scope = if pooling_i.is_some() {
        format!("{BEST_POOLING} rows")
    } else {
        "rows".into()
    };
    ensure!(
        !rows.is_empty(),
        "{file}: no {scope}; re-run the scan with `{BEST_POOLING}` pooling"
    );
    let skipped_layer_0 = rows.iter().any(|(l, _)| *l == 0);
    let best = rows.iter().filter(|(l, v)| *l >= 1 && v.is_finite()).fold(
        None::<(usize, f64)>,
        |b, &(l, v)| match b {
            Some((bl, bv)) if bv > v || (bv == v && bl < l) => Some((bl, bv)),
            _ => Some((l, v)),
        },
    );
    let Some((layer, value)) = best else {
        bail!("{file}: no {scope} with a finite `{BEST_COLUMN}` above hidden state 0");
    };
    Ok(BestLayer {
        layer,
        value,
        column: BEST_COLUMN.into(),
        pooling: pooling_i.map(|_| BEST_POOLING.to_string()),
        file,
        skipped_layer_0,
    })
}

/// `koen-tli-train` / `swen-tli-train` (the provenance stage).
fn stage_name(pair: LangPair) -> String {
    format!("{}-tli-train", pair.name().replace('-', ""))
}

/// The hidden state to train at: fixed, or the scan's best layer (with how it was chosen).
fn target_layer(args: &Args) -> Result<(usize, Option<BestLayer>)> {
    Ok(match args.target_layer {
        TargetLayer::Fixed(l) => (l, None),
        TargetLayer::Best => {
            let scan = args.scan.as_ref().context(
                "--target-layer best needs --scan DIR (the scan's run folder, with layers.csv)",
            )?;
            let b = best_layer(&scan.join("layers.csv"))?;
            log::info!(
                "best layer: hidden state {} ({} = {} in {})",
                b.layer,
                b.column,
                b.value,
                b.file
            );
            (b.layer, Some(b))
        }
    })
}

/// The authors' recipe (or `--config`), with the flags that override it, validated.
fn train_config(args: &Args, layer: usize) -> Result<TrainConfig> {
    let mut cfg = match &args.config {
        Some(p) => TrainConfig::from_toml_file(p)?,
        None => TrainConfig::default(),
    };
    cfg.target_layer = layer;
    if let Some(p) = &args.pooling {
        cfg.pooling = p.clone();
    }
    if let Some(e) = args.epochs {
        cfg.epochs = e;
    }
    if args.max_pairs.is_some() {
        cfg.max_pairs = args.max_pairs;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// How this run differs from the authors' (recorded in the summary and provenance).
fn train_notes(run: &LoadedRun, cfg: &TrainConfig, n_blocks: usize) -> Vec<String> {
    let mut notes = Vec::new();
    if run.device == "cpu" {
        notes.push(
            "the authors computed in bf16 on a GPU; this CPU run computes in f32".to_string(),
        );
    }
    if run.quant != QuantMode::None {
        notes.push("4-bit weights of the loaded blocks dequantized once (bit-identical to dequantizing at every forward)".to_string());
    }
    notes.push(format!(
        "forward stops at hidden_states[{}]: {} of {n_blocks} blocks run",
        cfg.target_layer, cfg.target_layer
    ));
    notes
}

/// What a training run produced, for its summary and provenance.
struct Trained<'a> {
    cfg: &'a TrainConfig,
    best: &'a Option<BestLayer>,
    notes: &'a [String],
    n_blocks: usize,
    wall: f64,
    outcome: &'a TrainOutcome,
}

/// `summary.json` and `provenance.json` of a training run.
fn write_records(args: &Args, run: &LoadedRun, data: &StudyPairs, t: &Trained) -> Result<()> {
    let stage = stage_name(args.pair);
    let mut prov = run.provenance(&stage)?;
    for f in &data.files {
        prov = prov.data_file(f)?;
    }
    let summary = serde_json::json!({
        "pair": args.pair,
        "target_layer": t.cfg.target_layer,
        "target_layer_choice": args.target_layer.to_string(),
        "best_layer": t.best,
        "data": data.sizes(),
        "lexicons": data.lexicons.iter().map(|l| &l.name).collect::<Vec<_>>(),
        "threads": run.threads,
        "n_pairs": t.outcome.n_pairs,
        "completed": t.outcome.completed,
        "interrupted": t.outcome.interrupted,
        "epochs_done": t.outcome.epochs_done,
        "steps_done": t.outcome.steps_done,
        "total_steps": t.outcome.total_steps,
        "steps_per_epoch": t.outcome.steps_per_epoch,
        "resumed_from_epoch": t.outcome.resumed_from_epoch,
        "first_loss": t.outcome.first_loss,
        "final_epoch_mean_loss": t.outcome.final_epoch_mean_loss,
        "trainable_params": t.outcome.n_trainable_params,
        "blocks_run": t.cfg.target_layer,
        "blocks_total": t.n_blocks,
        "mean_step_seconds": t.outcome.mean_step_seconds,
        "train_seconds": t.outcome.train_seconds,
        "wall_seconds": t.wall,
        "config": t.cfg,
        "notes": t.notes,
    });
    write_summary(&args.out, run, &prov, summary)?;
    prov.seed(t.cfg.seed)
        .setting("pair", args.pair)?
        .setting("split_seed", data.seed)?
        .setting("study_pairs", data.sizes())?
        .setting("target_layer_choice", args.target_layer.to_string())?
        .setting("best_layer", t.best)?
        .setting("train_config", t.cfg)?
        .setting("resumed_from_epoch", t.outcome.resumed_from_epoch)?
        .setting("train_notes", t.notes)?
        .write(&args.out)?;
    Ok(())
}

pub fn run(args: &Args) -> Result<()> {
    let started = Instant::now();
    let (layer, best) = target_layer(args)?;
    let cfg = train_config(args, layer)?;
    let data = study_pairs_in(
        args.pair,
        args.lexicon_dir.as_deref(),
        args.paper_data.as_deref(),
    )?;
    log::info!("{}", data.describe());
    let pairs = data.train.clone();

    let mut model_args = args.model.clone();
    if model_args.model.is_none() {
        model_args.model = Some(PathBuf::from(DEFAULT_MODEL));
    }
    // The loss reads hidden_states[target_layer]: only the blocks below it are loaded and run.
    // The study keeps the model's own weights (no 4-bit re-quantization, `--quant` to change),
    // the same base that `lang-study scan` and `eval` measure.
    let mut run = model_args.load(QuantMode::None, Some(cfg.target_layer))?;
    let n_blocks = run.model.model.cfg.num_hidden_layers;
    ensure!(
        cfg.target_layer <= n_blocks,
        "--target-layer {} is beyond the model's last hidden state ({n_blocks})",
        cfg.target_layer
    );
    let notes = train_notes(&run, &cfg, n_blocks);

    let n = cfg.max_pairs.map_or(pairs.len(), |m| m.min(pairs.len()));
    let bar = lexalign_run::progress_bar((cfg.steps_per_epoch(n) * cfg.epochs) as u64, "train");
    let opts = TrainOptions {
        cfg: cfg.clone(),
        out: args.out.clone(),
        resume: args.resume,
        stop_after_epochs: args.stop_after_epochs,
        interrupt: Some(interrupt_flag()),
        base_model: Some(run.model.info.name.clone()),
    };
    let outcome = train(
        &mut run.model.model,
        &run.model.tokenizer,
        &pairs,
        &opts,
        |done, _, loss| {
            bar.set_position(done as u64);
            bar.set_message(format!("train loss {loss:.4}"));
        },
    )?;
    bar.finish_and_clear();

    let wall = started.elapsed().as_secs_f64();
    let trained = Trained {
        cfg: &cfg,
        best: &best,
        notes: &notes,
        n_blocks,
        wall,
        outcome: &outcome,
    };
    write_records(args, &run, &data, &trained)?;
    if outcome.interrupted {
        eprintln!(
            "stopped after epoch {}; continue with --resume",
            outcome.epochs_done
        );
        std::process::exit(130);
    }
    println!(
        "{}: trained {} steps at hidden state {} ({:.1} ms/step, {:.1} s in all); final-epoch mean loss {:.4}; wrote {}",
        args.pair,
        outcome.steps_done,
        cfg.target_layer,
        outcome.mean_step_seconds * 1e3,
        wall,
        outcome.final_epoch_mean_loss.unwrap_or(f64::NAN),
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_file(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("layers.csv");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn best_layer_reads_mean_content_rows() {
        let d = tempfile::tempdir().unwrap();
        let p = csv_file(
            d.path(),
            "layer,pooling,n,centered_p1_csls\n0,mean,5,0.9\n0,mean-content,5,0.95\n1,mean,5,0.8\n\
             1,mean-content,5,0.2\n2,mean_content,5,0.4\n3,mean-content,5,0.4\n4,mean,5,0.99\n",
        );
        let b = best_layer(&p).unwrap();
        assert_eq!((b.layer, b.value, b.skipped_layer_0), (2, 0.4, true));
        assert_eq!(b.pooling.as_deref(), Some("mean-content"));
    }

    #[test]
    fn best_layer_without_pooling_column_and_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = csv_file(d.path(), "layer,centered_p1_csls\n1,0.1\n2,0.3\n3,0.25\n");
        assert_eq!(best_layer(&p).unwrap().layer, 2);
        let p = csv_file(d.path(), "layer,centered_p1_csls\n1,0.1\n1,0.3\n");
        assert!(format!("{:#}", best_layer(&p).unwrap_err()).contains("appears twice"));
        let p = csv_file(d.path(), "layer,p1\n1,0.1\n");
        assert!(format!("{:#}", best_layer(&p).unwrap_err()).contains("centered_p1_csls"));
        let p = csv_file(d.path(), "layer,centered_p1_csls\n1,x\n");
        let e = format!("{:#}", best_layer(&p).unwrap_err());
        assert!(e.contains("line 2") && e.contains("`x`"), "{e}");
        let p = csv_file(d.path(), "layer,pooling,centered_p1_csls\n1,mean,0.1\n");
        assert!(format!("{:#}", best_layer(&p).unwrap_err()).contains("no mean-content rows"));
    }

    #[test]
    fn target_layer_flag() {
        assert_eq!("best".parse::<TargetLayer>(), Ok(TargetLayer::Best));
        assert_eq!(" 7".parse::<TargetLayer>(), Ok(TargetLayer::Fixed(7)));
        assert!("top".parse::<TargetLayer>().is_err());
    }
}
