//! `lexalign eval` and the `tli-eval` experiment: the authors' before/after evaluation of an
//! adapter (pair cosine at the target layer, `mean-content` pooling, base FP4 + bf16 as their
//! script loaded it), per-pair CSV in their columns, per-set statistics and a shuffled baseline.

use crate::model_args::{LoadedRun, ModelArgs};
use crate::stage_io::write_summary;
use crate::train_cmd::{pair_file, read_pair_list_as, CONTROL_PAIRS, TRAIN_PAIRS};
use anyhow::{bail, Context, Result};
use clap::Args;
use lexalign_model::QuantMode;
use lexalign_tli::eval::results_csv;
use lexalign_tli::{evaluate, EvalConfig, EvalOutcome, Group};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The authors' `tli_project` folder (data/word_pairs.json and data/control_word_pairs.json).
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    /// Trained pair file; overrides --paper-data.
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// Control pair file; overrides --paper-data.
    #[arg(long)]
    pub control_pairs: Option<PathBuf>,
    /// Read --pairs and --control-pairs as this format instead of detecting it: json | csv | tsv | muse.
    #[arg(long, value_name = "FORMAT", value_parser = crate::scan_cmd::parse_pair_format)]
    pub pairs_format: Option<lexalign_data::PairFormat>,
    #[command(flatten)]
    pub vectors: crate::vectors_out::SaveVectorsArgs,
    /// peft adapter folder (adapter_config.json + adapter_model.safetensors), e.g. a tli-train run's adapter/.
    #[arg(long)]
    pub adapter: PathBuf,
    /// Output folder: quantitative_results.csv, summary.json, provenance.json.
    #[arg(long)]
    pub out: PathBuf,
    /// TOML file with evaluation settings (target_layer, pooling, batch_size, shuffle_seed).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// HF hidden-state index [default 2].
    #[arg(long)]
    pub target_layer: Option<usize>,
    /// [default mean-content: BOS/EOS/PAD excluded, as the authors' evaluation]
    #[arg(long, value_parser = crate::model_args::pooling_parser())]
    pub pooling: Option<String>,
    /// Words per forward [default 64].
    #[arg(long, value_parser = crate::model_args::at_least_one)]
    pub batch_size: Option<usize>,
    /// Seed of the shuffled-pair baseline [default 0].
    #[arg(long)]
    pub shuffle_seed: Option<u64>,
}

impl EvalArgs {
    pub fn config(&self) -> Result<EvalConfig> {
        let mut c = match &self.config {
            Some(p) => EvalConfig::from_toml_file(p)?,
            None => EvalConfig::default(),
        };
        if let Some(v) = self.target_layer {
            c.target_layer = v;
        }
        if let Some(v) = &self.pooling {
            c.pooling = v.clone();
        }
        if let Some(v) = self.batch_size {
            c.batch_size = v;
        }
        if let Some(v) = self.shuffle_seed {
            c.shuffle_seed = v;
        }
        c.pooling()?;
        anyhow::ensure!(
            c.batch_size >= 1,
            "batch_size must be >= 1 (words per forward)"
        );
        Ok(c)
    }
}

pub fn run_eval(args: &EvalArgs, stage: &str) -> Result<(LoadedRun, EvalOutcome)> {
    let cfg = args.config()?;
    crate::stage_io::prepare_out_dir(&args.out)?;
    check_adapter_dir(&args.adapter)?;
    let trained_path = pair_file(&args.pairs, &args.paper_data, TRAIN_PAIRS, "--pairs")?;
    let control_path = pair_file(
        &args.control_pairs,
        &args.paper_data,
        CONTROL_PAIRS,
        "--control-pairs",
    )?;
    let trained = read_pair_list_as(&trained_path, args.pairs_format)?;
    let control = read_pair_list_as(&control_path, args.pairs_format)?;
    let mut sink = crate::vectors_out::VectorSink::open(&args.vectors)?;
    // The authors' evaluation loaded 4-bit without a quant type: bitsandbytes' default, FP4.
    let mut run = args.model.load(QuantMode::Fp4, Some(cfg.target_layer))?;
    let started = std::time::Instant::now();
    let sets: Vec<(Group, &[lexalign_tli::Pair])> =
        vec![(Group::Trained, &trained), (Group::Control, &control)];
    if let Some(sink) = sink.as_mut() {
        crate::eval_vectors::add_sets(sink, &run, &sets, &cfg, "pre")?;
    }
    let device = run.device.clone();
    let outcome = crate::oom::with_oom_hint(cfg.batch_size, &device, || {
        evaluate(
            &mut run.model.model,
            &run.model.tokenizer,
            &sets,
            &args.adapter,
            &cfg,
        )
    })?;
    if let Some(mut sink) = sink {
        crate::eval_vectors::add_sets(&mut sink, &run, &sets, &cfg, "post")?;
        let all: Vec<lexalign_tli::Pair> = trained.iter().chain(&control).cloned().collect();
        let meta = crate::scan_cmd::vector_metadata(&run, stage, &trained_path, 0)?;
        sink.finish(meta, &all)?;
    }
    let secs = started.elapsed().as_secs_f64();

    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.out.display()))?;
    lexalign_run::write_atomic(
        args.out.join("quantitative_results.csv"),
        results_csv(&outcome.rows)?,
    )?;
    let prov = run.provenance(stage)?;
    let adapter_sha =
        lexalign_run::sha256_file(args.adapter.join(lexalign_model::lora::ADAPTER_WEIGHTS))?;
    let set = |g: Group| {
        outcome
            .sets
            .iter()
            .find(|s| s.group == g)
            .expect("both sets evaluated")
    };
    let (t, c) = (set(Group::Trained), set(Group::Control));
    let mut notes = Vec::new();
    if run.device == "cpu" {
        notes.push(
            "the authors computed in bf16 on a GPU; this CPU run computes in f32".to_string(),
        );
    }
    notes.push("post-TLI: adapter merged into the 4-bit base and re-quantized, as peft's merge_and_unload on bitsandbytes layers".to_string());
    let summary = serde_json::json!({
        "threads": run.threads,
        "adapter": args.adapter.display().to_string(),
        "adapter_sha256": adapter_sha,
        "config": cfg,
        "sets": outcome.sets,
        // The paper's claims as this model measured them (the report recomputes them from the CSV).
        "claims": {
            "6": { "trained_pre_mean": t.paired.mean_pre },
            "7": { "control_pre_mean": c.paired.mean_pre },
            "15": {
                "trained_post_mean": t.paired.mean_post, "trained_percent": t.paired.percent_change, "trained_p": t.paired.ttest.p,
                "control_post_mean": c.paired.mean_post, "control_percent": c.paired.percent_change, "control_p": c.paired.ttest.p,
            },
        },
        "eval_seconds": secs,
        "notes": notes,
    });
    write_summary(&args.out, &run, &prov, summary)?;
    prov.data_file(&trained_path)?
        .data_file(&control_path)?
        .data_file(args.adapter.join(lexalign_model::lora::ADAPTER_WEIGHTS))?
        .seed(cfg.shuffle_seed)
        .setting("eval_config", &cfg)?
        .setting("eval_notes", &notes)?
        .write(&args.out)?;
    Ok((run, outcome))
}

/// Checks a peft adapter folder before the model loads (the adapter is applied only after the
/// base model has been measured): it exists, holds both files, and its config parses.
pub fn check_adapter_dir(dir: &Path) -> Result<()> {
    use lexalign_model::lora::{LoraConfig, ADAPTER_CONFIG, ADAPTER_WEIGHTS};
    if !dir.is_dir() {
        bail!(
            "--adapter {}: {}; give a peft adapter folder ({ADAPTER_CONFIG} + {ADAPTER_WEIGHTS}), e.g. a tli-train run's adapter/",
            dir.display(),
            if dir.exists() { "is not a folder" } else { "does not exist" }
        );
    }
    for f in [ADAPTER_CONFIG, ADAPTER_WEIGHTS] {
        if !dir.join(f).is_file() {
            bail!("--adapter {}: {f} is missing (a peft adapter folder holds {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS})", dir.display());
        }
    }
    LoraConfig::from_file(&dir.join(ADAPTER_CONFIG))
        .with_context(|| format!("--adapter {}", dir.display()))?;
    Ok(())
}

/// The per-set table printed by the binaries.
pub fn print_table(o: &EvalOutcome) {
    println!("set\tn\tpre_mean\tpost_mean\tpercent\tt\tp\tshuffled_pre\tshuffled_post");
    for s in &o.sets {
        let p = &s.paired;
        println!(
            "{}\t{}\t{:.4}\t{:.4}\t{:+.2}\t{:.3}\t{:.3e}\t{:.4}\t{:.4}",
            s.group.as_str(),
            p.n,
            p.mean_pre,
            p.mean_post,
            p.percent_change,
            p.ttest.t,
            p.ttest.p,
            s.shuffled_pre_mean,
            s.shuffled_post_mean
        );
    }
}
