//! `lexalign train` and the `tli-train` experiment: LoRA TLI training with the authors' settings
//! by default; every hyper-parameter from `--config FILE` (TOML) and overridable by a flag.

use crate::model_args::{LoadedRun, ModelArgs};
use crate::stage_io::write_summary;
use anyhow::{Context, Result};
use clap::Args;
use lexalign_model::QuantMode;
use lexalign_tli::{train, TrainConfig, TrainOptions, TrainOutcome};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use lexalign_data::{CONTROL_PAIRS, TRAINING_PAIRS as TRAIN_PAIRS};

/// A pair file given directly, or the authors' file (`rel`) in the paper-data folder: the one
/// given by `--paper-data`, else found as `lexalign_data` locates it; the folder is verified
/// against the committed SHA-256 sums before use.
pub fn pair_file(
    direct: &Option<PathBuf>,
    paper_data: &Option<PathBuf>,
    rel: &str,
    flag: &str,
) -> Result<PathBuf> {
    if let Some(p) = direct {
        return Ok(p.clone());
    }
    let data = lexalign_data::PaperData::locate(paper_data.as_deref())
        .with_context(|| format!("no {flag} FILE given, and the paper's data was not found"))?;
    data.verify()?;
    Ok(data.path(rel))
}

/// The pairs of a file in order (duplicates kept, as the authors' scripts kept them).
pub fn read_pair_list(path: &Path) -> Result<Vec<lexalign_tli::Pair>> {
    read_pair_list_as(path, None)
}

/// [`read_pair_list`] in `format` (`None`: detected from the content).
pub fn read_pair_list_as(
    path: &Path,
    format: Option<lexalign_data::PairFormat>,
) -> Result<Vec<lexalign_tli::Pair>> {
    let file = lexalign_data::read_pairs_as(path, &lexalign_data::Columns::default(), format)?;
    if !file.duplicates.is_empty() {
        log::info!(
            "{}: {} duplicate pairs (kept, as the authors' scripts did)",
            path.display(),
            file.duplicates.len()
        );
    }
    Ok(file.pairs)
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The authors' `tli_project` folder (trains on data/word_pairs.json); default: located as
    /// `lexalign-data` does ($LEXALIGN_PAPER_DATA, ../shared/paper-data/tli_project, the setup cache).
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    /// Training pair file (JSON `[{"swahili","english"}]`, CSV/TSV with a header, or a MUSE/VecMap
    /// dictionary); overrides --paper-data.
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// Read --pairs as this format instead of detecting it: json | csv | tsv | muse.
    #[arg(long, value_name = "FORMAT", value_parser = crate::scan_cmd::parse_pair_format)]
    pub pairs_format: Option<lexalign_data::PairFormat>,
    /// Run folder: loss.csv, adapter/, checkpoints/epoch-N/, summary.json, provenance.json.
    #[arg(long)]
    pub out: PathBuf,
    /// TOML file with any training settings (field names as the flags, with underscores).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Continue from the last complete checkpoint in --out (same settings and data required).
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many epochs have completed (a later --resume continues).
    #[arg(long)]
    pub stop_after_epochs: Option<usize>,
    /// LoRA rank [config: r; default 16].
    #[arg(long)]
    pub r: Option<usize>,
    /// [default 32]
    #[arg(long)]
    pub lora_alpha: Option<f64>,
    /// [default 0.05]
    #[arg(long)]
    pub lora_dropout: Option<f64>,
    /// Comma list of block modules [default q_proj,v_proj].
    #[arg(long, value_delimiter = ',')]
    pub target_modules: Option<Vec<String>>,
    /// Comma list of layer indices, or `all` [default all].
    #[arg(long)]
    pub layers_to_transform: Option<String>,
    /// HF hidden-state index of the loss [default 2].
    #[arg(long)]
    pub target_layer: Option<usize>,
    /// mean | mean-content | first | last [default mean, BOS included].
    #[arg(long, value_parser = crate::model_args::pooling_parser())]
    pub pooling: Option<String>,
    /// Triplet margin [default 0.4].
    #[arg(long)]
    pub margin: Option<f64>,
    /// Peak learning rate [default 2e-4].
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub beta1: Option<f64>,
    #[arg(long)]
    pub beta2: Option<f64>,
    #[arg(long)]
    pub eps: Option<f64>,
    /// AdamW weight decay [default 0.01, torch's].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Linear warm-up steps [default 50].
    #[arg(long)]
    pub warmup_steps: Option<usize>,
    /// [default 5]
    #[arg(long)]
    pub epochs: Option<usize>,
    /// [default 8; at least 2, the negatives are the other pairs of the batch]
    #[arg(long, value_parser = crate::model_args::at_least_one)]
    pub batch_size: Option<usize>,
    /// Adapter init, shuffle and dropout seed [default 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train on the first N pairs only.
    #[arg(long)]
    pub max_pairs: Option<usize>,
}

impl TrainArgs {
    /// Defaults < config file < flags.
    pub fn config(&self) -> Result<TrainConfig> {
        let mut c = match &self.config {
            Some(p) => TrainConfig::from_toml_file(p)?,
            None => TrainConfig::default(),
        };
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { c.$f = v.clone(); } )* };
        }
        set!(
            r,
            lora_alpha,
            lora_dropout,
            target_modules,
            target_layer,
            pooling,
            margin,
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            warmup_steps,
            epochs,
            batch_size,
            seed
        );
        if let Some(m) = self.max_pairs {
            c.max_pairs = Some(m);
        }
        if let Some(l) = &self.layers_to_transform {
            c.layers_to_transform = if l.trim() == "all" {
                None
            } else {
                Some(
                    l.split(',')
                        .map(|s| {
                            s.trim().parse::<usize>().with_context(|| {
                                format!("--layers-to-transform: `{s}` is not a layer index")
                            })
                        })
                        .collect::<Result<_>>()?,
                )
            };
        }
        c.validate()?;
        Ok(c)
    }
}

/// Runs training and writes the run folder. `stage` names the provenance stage.
pub fn run_train(args: &TrainArgs, stage: &str) -> Result<(LoadedRun, TrainOutcome)> {
    let cfg = args.config()?;
    crate::stage_io::prepare_out_dir(&args.out)?;
    let pairs_path = pair_file(&args.pairs, &args.paper_data, TRAIN_PAIRS, "--pairs")?;
    let pairs = read_pair_list_as(&pairs_path, args.pairs_format)?;
    // The loss reads hidden_states[target_layer]: only the blocks below it are loaded and run.
    let mut run = args.model.load(QuantMode::Nf4, Some(cfg.target_layer))?;
    let n_blocks = run.model.model.cfg.num_hidden_layers;
    let mut notes = Vec::new();
    if run.device == "cpu" {
        // bf16 on the CPU (`--dtype bf16`) is the authors' compute dtype: the base and the
        // forward in bf16, the LoRA A/B and AdamW state in f32 (as peft keeps them).
        notes.push(format!(
            "the authors computed in bf16 on a GPU; this CPU run computes in {}",
            run.dtype
        ));
    }
    if run.quant != QuantMode::None {
        notes.push("4-bit weights of the loaded blocks dequantized once (bit-identical to dequantizing at every forward)".to_string());
    }
    notes.push(format!(
        "forward stops at hidden_states[{}]: {} of {n_blocks} blocks run",
        cfg.target_layer, cfg.target_layer
    ));

    let flag = interrupt_flag();
    let n = cfg.max_pairs.map_or(pairs.len(), |m| m.min(pairs.len()));
    let total = cfg.steps_per_epoch(n) * cfg.epochs;
    let bar = lexalign_run::progress_bar(total as u64, "train");
    let opts = TrainOptions {
        cfg: cfg.clone(),
        out: args.out.clone(),
        resume: args.resume,
        stop_after_epochs: args.stop_after_epochs,
        interrupt: Some(flag.clone()),
        base_model: Some(run.model.info.name.clone()),
    };
    let device = run.device.clone();
    let outcome = crate::oom::with_oom_hint(cfg.batch_size, &device, || {
        train(
            &mut run.model.model,
            &run.model.tokenizer,
            &pairs,
            &opts,
            |done, _, loss| {
                bar.set_position(done as u64);
                bar.set_message(format!("train loss {loss:.4}"));
            },
        )
    })?;
    bar.finish_and_clear();

    let prov = run.provenance(stage)?;
    let summary = serde_json::json!({
        "threads": run.threads,
        "pairs_file": pairs_path.display().to_string(),
        "n_pairs": outcome.n_pairs,
        "completed": outcome.completed,
        "interrupted": outcome.interrupted,
        "epochs_done": outcome.epochs_done,
        "steps_done": outcome.steps_done,
        "total_steps": outcome.total_steps,
        "steps_per_epoch": outcome.steps_per_epoch,
        "resumed_from_epoch": outcome.resumed_from_epoch,
        "first_loss": outcome.first_loss,
        "final_epoch_mean_loss": outcome.final_epoch_mean_loss,
        "trainable_params": outcome.n_trainable_params,
        "blocks_run": cfg.target_layer,
        "blocks_total": n_blocks,
        "mean_step_seconds": outcome.mean_step_seconds,
        "train_seconds": outcome.train_seconds,
        "config": cfg,
        "notes": notes,
    });
    write_summary(&args.out, &run, &prov, summary)?;
    prov.data_file(&pairs_path)?
        .seed(cfg.seed)
        .setting("train_config", &cfg)?
        .setting("resumed_from_epoch", outcome.resumed_from_epoch)?
        .setting("train_notes", &notes)?
        .write(&args.out)?;
    Ok((run, outcome))
}

/// A flag that the first Ctrl-C sets, so training stops after the current step with its last
/// complete checkpoint kept (`--resume` continues); a second Ctrl-C exits at once.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let _ = ctrlc::set_handler(move || {
        if set.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond Ctrl-C: exiting now (the last complete checkpoint is intact)");
            std::process::exit(130);
        }
        eprintln!("\nCtrl-C: stopping after this step (the last complete checkpoint is kept; continue with --resume)");
    });
    flag
}
