//! `lang-study arm`: one training arm of issue 26, trained once per seed (the data split fixed;
//! the seed changes the LoRA initialisation, the dropout masks and the batch order):
//! - (a) the paper's recipe at hidden state 2 (`mean` pooling, BOS included);
//! - (b) hidden state 2 with the evaluation's pooling (`mean-content`);
//! - (c) the best layer chosen on the DEVELOPMENT pairs (the frozen model's centred CSLS P@1 on
//!   `dev.tsv`, every hidden state above 0; ties: the lowest), `mean-content`; held-out pairs are
//!   never looked at;
//! - (d) arm (c) trained on deranged pairs: each training source with another pair's target
//!   (`lexalign_metrics::shuffled_partners`, one cycle, so no pair keeps its own target).
//!
//! Writes `<out>/seed-<S>/` (`loss.csv` with gradient norms, `adapter/`, `summary.json`; the
//! per-epoch checkpoints are removed once a seed is done), `seeds.csv`, `dev_layers.csv` (arms c,
//! d), `summary.json` and `provenance.json`.

use crate::data::{study_pairs_in, LangPair, StudyPairs};
use crate::scan::{first_file, stage_prefix, study_model};
use anyhow::{ensure, Context, Result};
use lexalign_data::arm_rows::{DevLayerRow, SeedTrainRow};
use lexalign_data::Pair;
use lexalign_metrics::mapped::summary;
use lexalign_metrics::Lexicon;
use lexalign_model::{Pooling, QuantMode};
use lexalign_stages::train_cmd::interrupt_flag;
use lexalign_tli::{train, LossRow, TrainConfig, TrainOptions};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The arms of issue 26.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arm {
    A,
    B,
    C,
    D,
}

impl Arm {
    pub fn name(self) -> &'static str {
        match self {
            Arm::A => "a",
            Arm::B => "b",
            Arm::C => "c",
            Arm::D => "d",
        }
    }
    /// The loss's pooling.
    pub fn pooling(self) -> &'static str {
        if self == Arm::A {
            "mean"
        } else {
            "mean-content"
        }
    }
    /// Trains at the dev-chosen layer (else at hidden state 2).
    pub fn dev_layer(self) -> bool {
        matches!(self, Arm::C | Arm::D)
    }
    pub fn deranged(self) -> bool {
        self == Arm::D
    }
}

/// The paper's hidden state (arms a and b).
pub const PAPER_LAYER: usize = 2;
/// The derangement's seed (arm d): fixed, so every seed of the arm sees the same wrong pairs.
pub const DERANGE_SEED: u64 = 26;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// ko-en | sw-en
    #[arg(long, value_enum)]
    pub pair: LangPair,
    /// a | b | c | d (see `lang-study arm --help`'s module doc)
    #[arg(long, value_enum)]
    pub arm: Arm,
    /// Training runs, seeds --first-seed, --first-seed + 1, ...
    #[arg(long, default_value_t = 5, value_parser = lexalign_stages::model_args::at_least_one)]
    pub seeds: usize,
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// Override the recipe's 5 epochs (the reproduce's arms at deep layers use fewer: time).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Train on the first N training pairs only (quick runs and tests).
    #[arg(long)]
    pub max_pairs: Option<usize>,
    /// Batch size of the development scan's forward passes.
    #[arg(long, default_value_t = 64, value_parser = lexalign_stages::model_args::at_least_one)]
    pub batch_size: usize,
    #[command(flatten)]
    pub model: lexalign_stages::ModelArgs,
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &Args) -> Result<()> {
    let started = std::time::Instant::now();
    lexalign_stages::stage_io::prepare_out_dir(&args.out)?;
    let s = study_pairs_in(
        args.pair,
        args.lexicon_dir.as_deref(),
        args.paper_data.as_deref(),
    )?;
    log::info!("{}", s.describe());
    let (layer, dev_rows) = if args.arm.dev_layer() {
        let rows = dev_scan(args, &s)?;
        lexalign_run::write_atomic(args.out.join("dev_layers.csv"), crate::eval::to_csv(&rows)?)?;
        (best_dev_layer(&rows)?, rows)
    } else {
        (PAPER_LAYER, Vec::new())
    };
    let (pairs, same_string) = if args.arm.deranged() {
        deranged_pairs(&s.train)?
    } else {
        (s.train.clone(), 0)
    };
    // One model for every seed: each seed attaches fresh adapters and detaches them when done.
    let mut run = study_model(&args.model).load(QuantMode::None, Some(layer))?;
    let mut rows = Vec::new();
    for k in 0..args.seeds {
        let seed = args.first_seed + k as u64;
        let r = train_seed(args, &mut run, &pairs, layer, seed);
        lexalign_model::lora::detach(&mut run.model.model);
        rows.push(r?);
        println!(
            "arm {} seed {seed}: final-epoch loss {:.4}",
            args.arm.name(),
            rows[k].final_epoch_mean_loss
        );
    }
    lexalign_run::write_atomic(args.out.join("seeds.csv"), crate::eval::to_csv(&rows)?)?;
    let stage = format!("{}-arm-{}", stage_prefix(args.pair), args.arm.name());
    let prov = run.provenance(&stage)?;
    let summary = serde_json::json!({
        "pair": args.pair,
        "arm": args.arm,
        "target_layer": layer,
        "pooling": args.arm.pooling(),
        "deranged": args.arm.deranged(),
        "derange_seed": args.arm.deranged().then_some(DERANGE_SEED),
        "deranged_same_target_string": args.arm.deranged().then_some(same_string),
        "dev_pairs": s.dev.len(),
        "dev_best_p1": dev_rows.iter().find(|r| r.layer == layer).map(|r| r.p1_csls),
        "seeds": rows.iter().map(|r| r.seed).collect::<Vec<_>>(),
        "epochs": rows.first().map(|r| r.epochs),
        "split": s.sizes(),
        "wall_seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    });
    lexalign_stages::stage_io::write_summary(&args.out, &run, &prov, summary)?;
    prov.data_file(first_file(&s.files))?
        .setting("arm", args.arm)?
        .setting("target_layer", layer)?
        .setting("seeds", rows.iter().map(|r| r.seed).collect::<Vec<_>>())?
        .write(&args.out)?;
    Ok(())
}

/// The frozen model's centred CSLS P@1 on the dev pairs at every hidden state above 0.
pub fn dev_scan(args: &Args, s: &StudyPairs) -> Result<Vec<DevLayerRow>> {
    let refs: Vec<(&str, &str)> = s
        .dev
        .iter()
        .map(|p| (p.source.as_str(), p.target.as_str()))
        .collect();
    ensure!(
        refs.len() >= 2,
        "arm {}: the layer is chosen on the dev pairs, but there are {} (from {} training pairs)",
        args.arm.name(),
        refs.len(),
        s.train.len()
    );
    let lex = Lexicon::from_pairs(&refs, &[] as &[&str]).context("the dev pairs")?;
    let words: Vec<&str> = lex
        .sources
        .iter()
        .chain(&lex.candidates)
        .map(String::as_str)
        .collect();
    let run = study_model(&args.model).load(QuantMode::None, None)?;
    let layers: Vec<usize> = (1..run.model.model.num_hidden_states()).collect();
    let emb = run.model.embed_multi(
        &words,
        &layers,
        &[Pooling::MeanContent],
        args.batch_size,
        |_| {},
    )?;
    let ns = lex.sources.len();
    let (si, ci): (Vec<usize>, Vec<usize>) = ((0..ns).collect(), (ns..words.len()).collect());
    let mut rows = Vec::new();
    for (slot, &layer) in layers.iter().enumerate() {
        let m = lexalign_scan::matrix_of(&emb[0].vectors(slot)?)?;
        let r = summary(
            &m.select_rows(&si),
            &m.select_rows(&ci),
            &lex.gold,
            crate::baselines::K_CSLS,
        )
        .with_context(|| format!("dev pairs at hidden state {layer}"))?;
        rows.push(DevLayerRow {
            layer,
            n_sources: ns,
            p1_csls: r.p1_csls,
        });
    }
    Ok(rows)
}

/// The dev row with the highest P@1 (ties: the lowest layer); non-finite values are an error.
pub fn best_dev_layer(rows: &[DevLayerRow]) -> Result<usize> {
    if let Some(r) = rows.iter().find(|r| !r.p1_csls.is_finite()) {
        anyhow::bail!(
            "dev P@1 at hidden state {} is {}: the dev scan failed",
            r.layer,
            r.p1_csls
        );
    }
    let best = rows.iter().fold(None::<&DevLayerRow>, |b, r| match b {
        Some(b) if b.p1_csls >= r.p1_csls => Some(b),
        _ => Some(r),
    });
    best.map(|r| r.layer)
        .context("the dev scan has no hidden state above 0")
}

/// Each pair's source with another pair's target (one seeded cycle: no index keeps its own
/// target); also how many new pairs happen to equal their original target string.
pub fn deranged_pairs(train: &[Pair]) -> Result<(Vec<Pair>, usize)> {
    let partner = lexalign_metrics::shuffled_partners(train.len(), DERANGE_SEED)?;
    let mut same = 0;
    let out = train
        .iter()
        .zip(&partner)
        .map(|(p, &q)| {
            let mut d = p.clone();
            d.target = train[q].target.clone();
            same += usize::from(d.target == p.target);
            d
        })
        .collect();
    Ok((out, same))
}

/// One seed: the recipe at `layer` with the arm's pooling, into `<out>/seed-<seed>/`.
fn train_seed(
    args: &Args,
    run: &mut lexalign_stages::LoadedRun,
    pairs: &[Pair],
    layer: usize,
    seed: u64,
) -> Result<SeedTrainRow> {
    let mut cfg = TrainConfig {
        target_layer: layer,
        pooling: args.arm.pooling().into(),
        seed,
        ..TrainConfig::default()
    };
    if let Some(e) = args.epochs {
        cfg.epochs = e;
    }
    cfg.max_pairs = args.max_pairs;
    cfg.validate()?;
    let out = args.out.join(format!("seed-{seed}"));
    let opts = TrainOptions {
        cfg: cfg.clone(),
        out: out.clone(),
        resume: false,
        stop_after_epochs: None,
        interrupt: Some(interrupt_flag()),
        base_model: Some(run.model.info.name.clone()),
    };
    let o = train(
        &mut run.model.model,
        &run.model.tokenizer,
        pairs,
        &opts,
        |_, _, _| {},
    )?;
    ensure!(
        o.completed,
        "arm {} seed {seed} was interrupted after {} epochs",
        args.arm.name(),
        o.epochs_done
    );
    let ckpt = out.join("checkpoints");
    if ckpt.exists() {
        std::fs::remove_dir_all(&ckpt)
            .with_context(|| format!("cannot remove {}", ckpt.display()))?;
    }
    let row = seed_row(args.arm, &cfg, &o.loss, o.n_pairs, o.train_seconds);
    lexalign_run::write_atomic(out.join("summary.json"), serde_json::to_vec_pretty(&row)?)?;
    Ok(row)
}

/// The seed's row of `seeds.csv` from its loss log.
pub fn seed_row(
    arm: Arm,
    cfg: &TrainConfig,
    log: &[LossRow],
    n_pairs: usize,
    secs: f64,
) -> SeedTrainRow {
    let last = log.last().map_or(1, |r| r.epoch);
    let mean_of = |epoch: usize, f: fn(&LossRow) -> f64| {
        let v: Vec<f64> = log.iter().filter(|r| r.epoch == epoch).map(f).collect();
        lexalign_stats::mean(&v)
    };
    SeedTrainRow {
        arm: arm.name().into(),
        seed: cfg.seed,
        target_layer: cfg.target_layer,
        pooling: cfg.pooling.clone(),
        deranged: arm.deranged(),
        n_pairs,
        epochs: cfg.epochs,
        steps: log.len(),
        first_loss: log.first().map_or(f64::NAN, |r| r.loss),
        final_epoch_mean_loss: mean_of(last, |r| r.loss),
        first_epoch_grad_norm: mean_of(1, |r| r.grad_norm.unwrap_or(f64::NAN)),
        final_epoch_grad_norm: mean_of(last, |r| r.grad_norm.unwrap_or(f64::NAN)),
        train_seconds: secs,
    }
}

/// The arm folders' adapters: `<arm>/seed-<S>/adapter`, in seed order (for `arms-eval`).
pub fn seed_adapters(arm_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let rows: Vec<SeedTrainRow> = lexalign_data::arm_rows::read_rows(&arm_dir.join("seeds.csv"))
        .with_context(|| {
            format!(
                "{} is not a finished `lang-study arm` folder",
                arm_dir.display()
            )
        })?;
    ensure!(
        !rows.is_empty(),
        "{}/seeds.csv has no seeds",
        arm_dir.display()
    );
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.seed,
                arm_dir.join(format!("seed-{}", r.seed)).join("adapter"),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_layer_choice_and_derangement() {
        let r = |layer, p| DevLayerRow {
            layer,
            n_sources: 10,
            p1_csls: p,
        };
        assert_eq!(
            best_dev_layer(&[r(1, 0.1), r(2, 0.4), r(3, 0.4), r(4, 0.2)]).unwrap(),
            2
        );
        assert!(best_dev_layer(&[r(1, f64::NAN)])
            .unwrap_err()
            .to_string()
            .contains("hidden state 1"));
        assert!(best_dev_layer(&[]).is_err());
        let train: Vec<Pair> = (0..50)
            .map(|i| Pair::new(format!("s{i}"), format!("t{}", i % 40)))
            .collect();
        let (d, same) = deranged_pairs(&train).unwrap();
        assert!(d.iter().zip(&train).all(|(a, b)| a.source == b.source));
        let moved = d
            .iter()
            .zip(&train)
            .filter(|(a, b)| a.target != b.target)
            .count();
        assert_eq!(moved + same, 50);
        assert_eq!(deranged_pairs(&train).unwrap().0, d, "seeded");
    }
}
