//! The authors' evaluation: pair cosine at the target layer (`mean-content` pooling) before and
//! after TLI, per pair and per set, with the paired statistics and a shuffled-pair baseline.

use crate::config::EvalConfig;
use crate::Pair;
use anyhow::{Context, Result};
use lexalign_model::lora;
use lexalign_model::tokenize::WordTokenizer;
use lexalign_model::{Decoder, PoolRequest};
use lexalign_stats::PairedSummary;
use serde::Serialize;
use std::path::Path;
use tch::{Kind, Tensor};

/// One row of `quantitative_results.csv` (the authors' columns): the row type of lexalign-data,
/// which also reads the authors' released table, so both tables are one type.
pub use lexalign_data::{Group, QuantitativeRow as EvalRow};

/// Statistics of one set (trained or control).
#[derive(Debug, Clone, Serialize)]
pub struct SetStats {
    pub group: Group,
    pub paired: PairedSummary,
    /// Mean cosine of the same words with the English side shuffled (no translation relation).
    pub shuffled_pre_mean: f64,
    pub shuffled_post_mean: f64,
    /// Pair mean minus shuffled mean: how much of the similarity is specific to translations.
    pub pre_margin_over_shuffled: f64,
    pub post_margin_over_shuffled: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalOutcome {
    pub rows: Vec<EvalRow>,
    pub sets: Vec<SetStats>,
}

/// L2-normalised pooled vectors `[n, hidden]` (f32, CPU) of `words` at the configured layer.
pub fn embed(
    model: &Decoder,
    tok: &WordTokenizer,
    words: &[&str],
    cfg: &EvalConfig,
) -> Result<Tensor> {
    let req = PoolRequest {
        layers: vec![cfg.target_layer],
        pooling: cfg.pooling()?,
    };
    let mut parts = Vec::new();
    tch::no_grad(|| -> Result<()> {
        for chunk in words.chunks(cfg.batch_size.max(1)) {
            let b = tok.batch(chunk, model.device)?;
            parts.push(
                model
                    .pooled(&b.input_ids, &b.masks, &req, false)
                    .remove(0)
                    .to_device(tch::Device::Cpu),
            );
        }
        Ok(())
    })?;
    Ok(Tensor::cat(&parts, 0))
}

/// Cosine of each (source, target) pair, as the authors' dot product of normalised vectors.
pub fn pair_cosines(
    model: &Decoder,
    tok: &WordTokenizer,
    pairs: &[Pair],
    cfg: &EvalConfig,
) -> Result<Vec<f64>> {
    let src: Vec<&str> = pairs.iter().map(|p| p.source.as_str()).collect();
    let tgt: Vec<&str> = pairs.iter().map(|p| p.target.as_str()).collect();
    let a = embed(model, tok, &src, cfg)?;
    let b = embed(model, tok, &tgt, cfg)?;
    let cos = (a * b)
        .sum_dim_intlist(1, false, Kind::Float)
        .to_kind(Kind::Double);
    Ok(Vec::<f64>::try_from(cos)?)
}

struct Measured {
    pairs: Vec<f64>,
    shuffled: Vec<f64>,
}

/// Each word is embedded once; the shuffled baseline re-pairs the same vectors.
fn measure(
    model: &Decoder,
    tok: &WordTokenizer,
    sets: &[(Group, &[Pair])],
    cfg: &EvalConfig,
) -> Result<Vec<Measured>> {
    sets.iter()
        .map(|(_, pairs)| {
            let src: Vec<&str> = pairs.iter().map(|p| p.source.as_str()).collect();
            let tgt: Vec<&str> = pairs.iter().map(|p| p.target.as_str()).collect();
            let a = embed(model, tok, &src, cfg)?;
            let b = embed(model, tok, &tgt, cfg)?;
            // The project's one shuffled baseline: pair p's source against pair partner[p]'s
            // target, a seeded derangement (no pair is ever scored against its own translation).
            let order: Vec<i64> =
                lexalign_metrics::shuffled_partners(pairs.len(), cfg.shuffle_seed)
                    .with_context(|| format!("{} pairs", pairs.len()))?
                    .into_iter()
                    .map(|i| i as i64)
                    .collect();
            let b_shuffled = b.index_select(0, &Tensor::from_slice(&order));
            let cos = |x: &Tensor, y: &Tensor| -> Result<Vec<f64>> {
                Ok(Vec::<f64>::try_from(
                    (x * y)
                        .sum_dim_intlist(1, false, Kind::Float)
                        .to_kind(Kind::Double),
                )?)
            };
            Ok(Measured {
                pairs: cos(&a, &b)?,
                shuffled: cos(&a, &b_shuffled)?,
            })
        })
        .collect()
}

/// Measures every set on the base model, then loads the adapter from `adapter_dir`, merges it
/// into the base weights (as the authors' `merge_and_unload`) and measures again. `model` is
/// left merged.
pub fn evaluate(
    model: &mut Decoder,
    tok: &WordTokenizer,
    sets: &[(Group, &[Pair])],
    adapter_dir: &Path,
    cfg: &EvalConfig,
) -> Result<EvalOutcome> {
    lora::detach(model);
    let pre = measure(model, tok, sets, cfg)?;
    lora::load_peft(model, adapter_dir, false)
        .with_context(|| format!("loading the adapter {}", adapter_dir.display()))?;
    lora::merge(model)?;
    let post = measure(model, tok, sets, cfg)?;
    let mut rows = Vec::new();
    let mut stats = Vec::new();
    for (((group, pairs), pre), post) in sets.iter().zip(&pre).zip(&post) {
        for (i, p) in pairs.iter().enumerate() {
            rows.push(EvalRow {
                swahili: p.source.clone(),
                english: p.target.clone(),
                sim_pre_tli: pre.pairs[i],
                sim_post_tli: post.pairs[i],
                group: *group,
                improvement: post.pairs[i] - pre.pairs[i],
            });
        }
        let paired = PairedSummary::compute(&pre.pairs, &post.pairs)
            .with_context(|| format!("statistics of the {} set", group.as_str()))?;
        let sp = lexalign_stats::mean(&pre.shuffled);
        let sq = lexalign_stats::mean(&post.shuffled);
        stats.push(SetStats {
            group: *group,
            shuffled_pre_mean: sp,
            shuffled_post_mean: sq,
            pre_margin_over_shuffled: paired.mean_pre - sp,
            post_margin_over_shuffled: paired.mean_post - sq,
            paired,
        });
    }
    Ok(EvalOutcome { rows, sets: stats })
}

/// `quantitative_results.csv` bytes.
pub fn results_csv(rows: &[EvalRow]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("cannot build the results CSV: {e}"))
}
