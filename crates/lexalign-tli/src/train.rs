//! The TLI training loop.
//!
//! Determinism: the shuffle of epoch `e` comes from ChaCha20(seed, stream e) and every step `k`
//! starts with `tch::manual_seed(seed ^ k)`, so dropout masks do not depend on where a run
//! was resumed; with a fixed CPU thread count a resumed run ends with the same bytes.

use crate::adamw::AdamW;
use crate::checkpoint::{self, TrainerState};
use crate::config::TrainConfig;
use crate::schedule::LinearWarmup;
use crate::step::{train_step, Step};
use crate::Pair;
use anyhow::{bail, Context, Result};
use lexalign_model::lora::{self, LoraConfig};
use lexalign_model::tokenize::WordTokenizer;
use lexalign_model::Decoder;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The step functions live in `crate::step`; re-exported so `train::batch_loss` keeps its path.
pub use crate::step::{batch_loss, tokenized_loss};

/// One row of `loss.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossRow {
    /// 1-based optimizer step.
    pub step: usize,
    /// 1-based epoch.
    pub epoch: usize,
    pub loss: f64,
    /// Learning rate the step ran with.
    pub lr: f64,
    /// L2 norm of the adapter gradients before the update (all trainable tensors together);
    /// empty in logs written before it was recorded.
    #[serde(default)]
    pub grad_norm: Option<f64>,
}

pub struct TrainOptions {
    pub cfg: TrainConfig,
    /// Run folder: `loss.csv`, `adapter/`, `checkpoints/epoch-N/`.
    pub out: PathBuf,
    /// Continue from the last complete checkpoint in `out`.
    pub resume: bool,
    /// Stop (as if interrupted) after this many epochs have completed; for tests and staging.
    pub stop_after_epochs: Option<usize>,
    /// Set by a Ctrl-C handler; checked between steps.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// `base_model_name_or_path` of the written adapter config.
    pub base_model: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainOutcome {
    /// All epochs ran and the final adapter is in `out/adapter`.
    pub completed: bool,
    pub interrupted: bool,
    pub epochs_done: usize,
    pub steps_done: usize,
    pub total_steps: usize,
    pub steps_per_epoch: usize,
    pub n_pairs: usize,
    pub resumed_from_epoch: Option<usize>,
    pub first_loss: Option<f64>,
    pub final_epoch_mean_loss: Option<f64>,
    pub n_trainable_params: i64,
    /// Mean wall time of the steps this process ran.
    pub mean_step_seconds: f64,
    pub train_seconds: f64,
    pub loss: Vec<LossRow>,
}

/// The shuffled order of epoch `epoch`.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng);
    idx
}

/// Trains LoRA adapters on `model` (loaded with at least `target_layer` blocks; blocks beyond
/// are never run). `on_step(done, total, loss)` is called after every step.
pub fn train(
    model: &mut Decoder,
    tok: &WordTokenizer,
    pairs: &[Pair],
    opts: &TrainOptions,
    mut on_step: impl FnMut(usize, usize, f64),
) -> Result<TrainOutcome> {
    let cfg = &opts.cfg;
    let pairs = training_pairs(model, pairs, cfg)?;
    let n = pairs.len();
    let spe = cfg.steps_per_epoch(n);
    let total = spe * cfg.epochs;
    let fp = checkpoint::fingerprint(&pairs);
    let lora_cfg = prepare_model(model, opts)?;
    let start = start_or_resume(model, opts, n, &fp)?;
    let start_epoch = start.start_epoch;
    let mut run = Run {
        tok,
        pairs: &pairs,
        opts,
        lora_cfg: &lora_cfg,
        spe,
        total,
        sched: LinearWarmup {
            base_lr: cfg.lr,
            warmup: cfg.warmup_steps,
            total,
        },
        fp,
        params: lora::trainable_params(model),
        start,
    };
    let started = Instant::now();
    let mut epochs_done = start_epoch;
    let mut steps_run = 0usize;
    let mut interrupted = false;
    for epoch in start_epoch..cfg.epochs {
        if opts.stop_after_epochs.is_some_and(|s| epoch >= s) {
            interrupted = true;
            break;
        }
        let (steps, stopped) = run.epoch(model, epoch, &mut on_step)?;
        steps_run += steps;
        if stopped {
            interrupted = true;
            break;
        }
        epochs_done = epoch + 1;
        run.end_epoch(model, epochs_done)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let completed = epochs_done == cfg.epochs && !interrupted;
    if completed {
        write_final_adapter(model, &lora_cfg, cfg.seed, &opts.out)?;
        write_loss_csv(&opts.out.join("loss.csv"), &run.start.log)?;
    }
    Ok(run.outcome(completed, interrupted, epochs_done, steps_run, secs))
}

/// The pairs training uses (the first `max_pairs`), after checking the config and the model.
fn training_pairs(model: &Decoder, pairs: &[Pair], cfg: &TrainConfig) -> Result<Vec<Pair>> {
    cfg.validate()?;
    if model.layers.len() < cfg.target_layer {
        bail!(
            "target layer {} needs {} blocks but only {} are loaded",
            cfg.target_layer,
            cfg.target_layer,
            model.layers.len()
        );
    }
    let pairs: Vec<Pair> = match cfg.max_pairs {
        Some(m) => pairs.iter().take(m).cloned().collect(),
        None => pairs.to_vec(),
    };
    if pairs.len() < 2 {
        bail!("training needs at least 2 pairs (got {})", pairs.len());
    }
    Ok(pairs)
}

/// Creates the run folder, dequantizes 4-bit weights once and attaches fresh adapters; returns
/// the adapter config the checkpoints are written with.
fn prepare_model(model: &mut Decoder, opts: &TrainOptions) -> Result<LoraConfig> {
    let cfg = &opts.cfg;
    let mut lora_cfg: LoraConfig = cfg.lora();
    lora_cfg.base_model_name_or_path = opts.base_model.clone();
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let dequantized = dequantize_once(model);
    if dequantized > 0 {
        log::info!(
            "{dequantized} 4-bit weights of the {} loaded blocks dequantized once for training",
            model.layers.len()
        );
    }
    lora::attach(model, &lora_cfg, cfg.seed)?;
    Ok(lora_cfg)
}

/// What the epochs of one `train` call share; `start` carries the optimiser, the loss log and
/// the last good checkpoint forward.
struct Run<'a> {
    tok: &'a WordTokenizer,
    pairs: &'a [Pair],
    opts: &'a TrainOptions,
    lora_cfg: &'a LoraConfig,
    spe: usize,
    total: usize,
    sched: LinearWarmup,
    fp: String,
    params: Vec<(String, tch::Tensor)>,
    start: Start,
}

impl Run<'_> {
    /// The steps of `epoch` (0-based); returns (steps run, interrupted by the flag).
    fn epoch(
        &mut self,
        model: &Decoder,
        epoch: usize,
        on_step: &mut impl FnMut(usize, usize, f64),
    ) -> Result<(usize, bool)> {
        let cfg = &self.opts.cfg;
        let order = epoch_order(self.pairs.len(), cfg.seed, epoch);
        let mut steps = 0;
        for (b, chunk) in order.chunks(cfg.batch_size).enumerate() {
            if self
                .opts
                .interrupt
                .as_ref()
                .is_some_and(|f| f.load(Ordering::SeqCst))
            {
                return Ok((steps, true));
            }
            let k = epoch * self.spe + b;
            tch::manual_seed((cfg.seed ^ k as u64) as i64);
            let batch: Vec<&Pair> = chunk.iter().map(|&i| &self.pairs[i]).collect();
            let lr = self.sched.lr(k);
            let step = Step {
                k,
                epoch,
                lr,
                last_good: self.start.last_good.as_deref(),
            };
            let (l, g) = train_step(
                model,
                self.tok,
                &batch,
                cfg,
                &mut self.start.adamw,
                &self.params,
                &step,
            )?;
            self.start.log.push(LossRow {
                step: k + 1,
                epoch: epoch + 1,
                loss: l,
                lr,
                grad_norm: Some(g),
            });
            steps += 1;
            on_step(k + 1, self.total, l);
        }
        Ok((steps, false))
    }

    /// Logs epoch `epochs_done` (1-based)'s mean loss, writes its checkpoint and `loss.csv`.
    fn end_epoch(&mut self, model: &Decoder, epochs_done: usize) -> Result<()> {
        let cfg = &self.opts.cfg;
        let log = &self.start.log;
        let el = epoch_losses(log, epochs_done);
        log::info!(
            "epoch {epochs_done}/{}: mean loss {:.4}",
            cfg.epochs,
            el.iter().sum::<f64>() / el.len().max(1) as f64
        );
        let state = TrainerState {
            epoch: epochs_done,
            global_step: epochs_done * self.spe,
            steps_per_epoch: self.spe,
            total_steps: self.total,
            n_pairs: self.pairs.len(),
            pairs_fingerprint: self.fp.clone(),
            config: cfg.clone(),
            loss: log.clone(),
        };
        let dir = checkpoint::write_checkpoint(
            &self.opts.out,
            model,
            self.lora_cfg,
            &self.start.adamw,
            &state,
        )?;
        self.start.last_good = Some(dir);
        write_loss_csv(&self.opts.out.join("loss.csv"), &self.start.log)
    }

    fn outcome(
        self,
        completed: bool,
        interrupted: bool,
        epochs_done: usize,
        steps_run: usize,
        secs: f64,
    ) -> TrainOutcome {
        let log = self.start.log;
        let last_epoch = epoch_losses(&log, epochs_done);
        TrainOutcome {
            completed,
            interrupted,
            epochs_done,
            steps_done: log.len(),
            total_steps: self.total,
            steps_per_epoch: self.spe,
            n_pairs: self.pairs.len(),
            resumed_from_epoch: self.start.resumed_from,
            first_loss: log.first().map(|r| r.loss),
            final_epoch_mean_loss: (!last_epoch.is_empty())
                .then(|| last_epoch.iter().sum::<f64>() / last_epoch.len() as f64),
            n_trainable_params: self.params.iter().map(|(_, t)| t.numel() as i64).sum(),
            mean_step_seconds: if steps_run > 0 {
                secs / steps_run as f64
            } else {
                0.0
            },
            train_seconds: secs,
            loss: log,
        }
    }
}

/// The losses logged in epoch `epoch` (1-based).
fn epoch_losses(log: &[LossRow], epoch: usize) -> Vec<f64> {
    log.iter()
        .filter(|r| r.epoch == epoch)
        .map(|r| r.loss)
        .collect()
}

/// Where training starts: fresh adapters and optimiser, or the last checkpoint with `--resume`.
struct Start {
    adamw: AdamW,
    log: Vec<LossRow>,
    start_epoch: usize,
    resumed_from: Option<usize>,
    /// Named when training stops on a non-finite loss or weight: it is left as it was.
    last_good: Option<PathBuf>,
}

/// Fresh state (adapters already attached), or with `--resume` the last checkpoint's adapters,
/// optimiser and loss log; refuses to overwrite checkpoints without `--resume`.
fn start_or_resume(model: &mut Decoder, opts: &TrainOptions, n: usize, fp: &str) -> Result<Start> {
    let cfg = &opts.cfg;
    let mut start = Start {
        adamw: AdamW::new(cfg.adamw()),
        log: Vec::new(),
        start_epoch: 0,
        resumed_from: None,
        last_good: None,
    };
    match (opts.resume, checkpoint::latest_checkpoint(&opts.out)?) {
        (true, Some((epoch, dir))) => {
            let state = checkpoint::read_state(&dir)?;
            checkpoint::check_resumable(&state, cfg, n, fp, &dir)?;
            lora::load_peft(model, &dir, true)?;
            start.adamw = AdamW::load(&dir, model.device)?;
            start.log = state.loss;
            start.start_epoch = epoch;
            start.resumed_from = Some(epoch);
            start.last_good = Some(dir.clone());
            log::info!("resuming from {} (epoch {epoch}, step {})", dir.display(), state.global_step);
        }
        (true, None) => log::warn!("--resume: no checkpoint in {}, starting from scratch", opts.out.display()),
        (false, Some((_, dir))) => bail!(
            "{} already holds checkpoints ({}): pass --resume to continue that run, or choose a new --out",
            opts.out.display(),
            dir.display()
        ),
        (false, None) => {}
    }
    Ok(start)
}

/// Replaces the 4-bit base weights of the loaded blocks by their dequantized values in the
/// compute dtype: exactly the tensors the forward would rebuild at every call (so the numbers are
/// bit-identical), built once. Training loads only the blocks below the target layer, so this
/// costs little memory even for an 8B model (2 blocks), and it makes a CPU step ~6x faster.
/// Returns how many weights were converted.
pub fn dequantize_once(model: &mut Decoder) -> usize {
    model.dequantize_4bit()
}

/// `out/adapter/` (peft format, every targeted layer) written via a temp folder + rename.
fn write_final_adapter(
    model: &Decoder,
    lora_cfg: &LoraConfig,
    seed: u64,
    out: &Path,
) -> Result<()> {
    let dest = out.join("adapter");
    let tmp = lexalign_run::temp_dir_beside(&dest)?;
    lora::save_peft(model, lora_cfg, &tmp, Some(seed))?;
    lexalign_run::swap_dir(&tmp, &dest)
}

/// `step,epoch,loss,lr,grad_norm` (docs/CONVENTIONS.md), atomically.
pub fn write_loss_csv(path: &Path, rows: &[LossRow]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot build {}: {e}", path.display()))?;
    lexalign_run::write_atomic(path, &bytes)
}
