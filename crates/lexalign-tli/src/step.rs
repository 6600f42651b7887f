//! One TLI optimisation step: the loss of a batch of pairs, backward, AdamW, and the stop on a
//! non-finite loss or update. Shared by the training loop and the parity tests (which feed
//! token ids of a tokenizer-less fixture model through [`tokenized_loss`]).

use crate::adamw::AdamW;
use crate::config::TrainConfig;
use crate::loss::hardest_negative_triplet;
use crate::Pair;
use anyhow::{bail, Result};
use lexalign_model::tokenize::{Batch, WordTokenizer};
use lexalign_model::{Decoder, PoolRequest};
use std::path::Path;

/// Loss of one batch of pairs (anchors: sources, positives: targets), differentiable.
pub fn batch_loss(
    model: &Decoder,
    tok: &WordTokenizer,
    batch: &[&Pair],
    cfg: &TrainConfig,
    train: bool,
) -> Result<tch::Tensor> {
    let src: Vec<&str> = batch.iter().map(|p| p.source.as_str()).collect();
    let tgt: Vec<&str> = batch.iter().map(|p| p.target.as_str()).collect();
    let a = tok.batch(&src, model.device)?;
    let p = tok.batch(&tgt, model.device)?;
    tokenized_loss(model, &a, &p, cfg, train)
}

/// [`batch_loss`] of already tokenized anchors and positives (row `i` of each is a pair): the
/// pooled hidden state `cfg.target_layer` (pooled in f32 whatever the compute dtype), then the
/// hardest-negative triplet loss. Anchors' dropout masks are drawn first, as in two forwards.
pub fn tokenized_loss(
    model: &Decoder,
    anchors: &Batch,
    positives: &Batch,
    cfg: &TrainConfig,
    train: bool,
) -> Result<tch::Tensor> {
    let req = PoolRequest {
        layers: vec![cfg.target_layer],
        pooling: cfg.pooling()?,
    };
    // One packed forward for both batches (one pass over the weights), with the results and
    // dropout masks of two forwards, anchors first.
    let segments = [
        (&anchors.input_ids, &anchors.masks),
        (&positives.input_ids, &positives.masks),
    ];
    let mut out = model.pooled_segments(&segments, &req.layers, &[req.pooling], train);
    let p = out.pop().expect("positives").remove(0).remove(0);
    let a = out.pop().expect("anchors").remove(0).remove(0);
    Ok(hardest_negative_triplet(&a, &p, cfg.margin))
}

/// Optimisation step `k` (0-based) of `epoch`, for the messages of a non-finite stop.
pub(crate) struct Step<'a> {
    pub k: usize,
    pub epoch: usize,
    pub lr: f64,
    pub last_good: Option<&'a Path>,
}

/// Loss, backward, AdamW update and zeroed gradients of one batch; returns the loss and the
/// gradients' global L2 norm before the update (AdamW is not clipped: the norm is recorded). A
/// non-finite loss or update stops training before it reaches the weights or a checkpoint.
pub(crate) fn train_step(
    model: &Decoder,
    tok: &WordTokenizer,
    batch: &[&Pair],
    cfg: &TrainConfig,
    adamw: &mut AdamW,
    params: &[(String, tch::Tensor)],
    step: &Step,
) -> Result<(f64, f64)> {
    let Step {
        k,
        epoch,
        lr,
        last_good,
    } = *step;
    let loss = batch_loss(model, tok, batch, cfg, true)?;
    let l = loss.double_value(&[]);
    if !l.is_finite() {
        bail!(non_finite_stop(
            &format!("the loss became {l}"),
            k,
            epoch,
            last_good
        ));
    }
    loss.backward();
    let grad_norm = grad_norm(params);
    adamw.step(params, lr);
    for (_, p) in params {
        let mut g = p.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
    // A finite loss can still give a non-finite update (too high a learning rate):
    // those weights never reach a checkpoint either.
    if let Some(name) = first_non_finite(params) {
        bail!(non_finite_stop(
            &format!("the adapter weight `{name}` became NaN or Inf after the update"),
            k,
            epoch,
            last_good
        ));
    }
    Ok((l, grad_norm))
}

/// The global L2 norm of the trainable tensors' gradients (those without one count as zero).
fn grad_norm(params: &[(String, tch::Tensor)]) -> f64 {
    tch::no_grad(|| {
        params
            .iter()
            .map(|(_, p)| p.grad())
            .filter(|g| g.defined())
            .map(|g| {
                g.to_kind(tch::Kind::Double)
                    .square()
                    .sum(tch::Kind::Double)
                    .double_value(&[])
            })
            .sum::<f64>()
            .sqrt()
    })
}

/// The error of a step `k` (0-based) whose loss or update was not finite.
fn non_finite_stop(what: &str, k: usize, epoch: usize, last_good: Option<&Path>) -> String {
    let kept = match last_good {
        Some(d) => format!("the last good checkpoint, {}, is kept", d.display()),
        None => {
            "no checkpoint had been written yet (the first is written when epoch 1 ends)".into()
        }
    };
    format!(
        "training stopped at step {} (epoch {}): {what}; {kept}; lower --lr (or raise --warmup-steps) and train into a new --out",
        k + 1,
        epoch + 1
    )
}

/// The name of the first trainable tensor holding a NaN or Inf, if any (one reduction per tensor).
fn first_non_finite(params: &[(String, tch::Tensor)]) -> Option<String> {
    tch::no_grad(|| {
        params
            .iter()
            .find(|(_, t)| t.isfinite().all().int64_value(&[]) == 0)
            .map(|(n, _)| n.clone())
    })
}
