//! Cross-lingual word-alignment metrics on pooled hidden states, one layer at a time: pair cosine
//! against a shuffled baseline, BLI precision@k with NN and CSLS retrieval in both directions,
//! a MEXA-style mutual-best score, raw and centred, with bootstrap intervals; and linear CKA
//! between two representations of the same words ([`cka`]); exact t-SNE and trustworthiness as
//! scikit-learn computes them ([`tsne`]); LASER's xSIM margin-retrieval error ([`xsim`]); and the
//! baselines a fine-tuning gain is judged against: linear maps fitted on training pairs
//! ([`linear_map`]: Procrustes, least squares, ridge toward the identity, MUSE's refinement),
//! post-processing of frozen vectors ([`postprocess`]) and hubness ([`hubness`]).
//!
//! Pure Rust (no tch) so that it builds and is tested before libtorch exists. Matrices are
//! row-major `f64` ([`Matrix`]); everything is computed in `f64`. Non-finite input is an error
//! naming the row. Checked against an independent numpy implementation
//! (`tests/fixtures/gen_metrics_reference.py`).

pub mod baseline;
pub mod bootstrap;
pub mod cka;
pub mod hubness;
pub mod kernel;
pub mod lexicon;
pub mod linalg;
pub mod linear_map;
pub mod mapped;
pub mod matrix;
pub mod mexa;
pub mod microkernel;
pub mod open_pool;
pub mod postprocess;
pub mod retrieval;
pub mod svd;
pub mod tsne;
pub mod xsim;

pub use baseline::{pair_cosines, shuffled_cosines, shuffled_partners};
pub use cka::{cka_of, linear_cka, CkaSide};
pub use lexicon::{Gold, Lexicon};
pub use matrix::Matrix;
pub use retrieval::{csls_matrix, precision_at, retrieve, Ranks, Retrieval};
pub use xsim::{xsim_margin_error, xsim_predictions};

use anyhow::{bail, Context, Result};
use serde::Serialize;

/// Which vectors a metric sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// L2-normalised.
    Raw,
    /// L2-normalised, minus that side's mean over its evaluated rows (all source rows; all
    /// candidate rows, extra candidates included), L2-normalised again.
    Centred,
}

/// Checks both matrices and returns them in `space` (unit rows).
pub fn prepare(src: &Matrix, cand: &Matrix, space: Space) -> Result<(Matrix, Matrix)> {
    if src.cols != cand.cols {
        bail!(
            "source vectors have dimension {} but candidate vectors {}",
            src.cols,
            cand.cols
        );
    }
    src.check_finite("source matrix")?;
    cand.check_finite("candidate matrix")?;
    Ok(match space {
        Space::Raw => (
            src.l2_normalised("source matrix")?,
            cand.l2_normalised("candidate matrix")?,
        ),
        Space::Centred => (
            src.centred("source matrix")?,
            cand.centred("candidate matrix")?,
        ),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsOptions {
    /// CSLS neighbourhood size (MUSE: 10), clipped to the other side's row count.
    pub k_csls: usize,
    /// Seed of the shuffled-pair derangement and of the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples (at least 1).
    pub bootstrap: usize,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        Self {
            k_csls: 10,
            seed: 0,
            bootstrap: 1000,
        }
    }
}

/// All metrics of one layer; field names are the CSV columns (source→target unless `t2s_`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct LayerMetrics {
    pub pairs_mean: f64,
    pub pairs_sd: f64,
    pub shuffled_mean: f64,
    pub shuffled_sd: f64,
    pub centered_mean: f64,
    pub centered_shuffled_mean: f64,
    pub p1_nn: f64,
    pub p5_nn: f64,
    pub p10_nn: f64,
    pub p1_csls: f64,
    pub p5_csls: f64,
    pub p10_csls: f64,
    pub centered_p1_nn: f64,
    pub centered_p5_nn: f64,
    pub centered_p10_nn: f64,
    pub centered_p1_csls: f64,
    pub centered_p5_csls: f64,
    pub centered_p10_csls: f64,
    pub t2s_p1_nn: f64,
    pub t2s_p1_csls: f64,
    pub t2s_centered_p1_nn: f64,
    pub t2s_centered_p1_csls: f64,
    pub mexa: f64,
    pub centered_mexa: f64,
    pub p1_csls_ci_low: f64,
    pub p1_csls_ci_high: f64,
    pub centered_p1_csls_ci_low: f64,
    pub centered_p1_csls_ci_high: f64,
    pub centered_mean_ci_low: f64,
    pub centered_mean_ci_high: f64,
    pub n_sources: usize,
    pub n_candidates: usize,
}

/// The metrics of one space: pair cosines (pair order), shuffled cosines, retrieval.
#[derive(Debug, Clone)]
pub struct SpaceMetrics {
    pub pair_cos: Vec<f64>,
    pub shuffled_cos: Vec<f64>,
    pub retrieval: Retrieval,
    pub mexa: f64,
}

/// Metrics of one space for already checked inputs; `partner` from [`shuffled_partners`].
pub fn space_metrics(
    src: &Matrix,
    cand: &Matrix,
    gold: &Gold,
    partner: &[usize],
    k: usize,
    space: Space,
) -> Result<SpaceMetrics> {
    let (s, c) = prepare(src, cand, space)?;
    let retrieval = retrieve(&s, &c, gold, k);
    Ok(SpaceMetrics {
        pair_cos: pair_cosines(&s, &c, gold),
        shuffled_cos: shuffled_cosines(&s, &c, gold, partner),
        mexa: mexa::mexa(gold, &retrieval.target_source_cos),
        retrieval,
    })
}

/// The per-pair and per-source values behind one layer's aggregates (the scan writes them to
/// `pairs.csv` and pairs P@1 before/after), so they need no second retrieval.
#[derive(Debug, Clone)]
pub struct LayerDetail {
    /// Raw cosine of each pair (pair order).
    pub pair_cos: Vec<f64>,
    /// Raw cosine of source `i` with the target of pair `partner[i]`.
    pub shuffled_cos: Vec<f64>,
    /// Centred cosine of each pair.
    pub centred_pair_cos: Vec<f64>,
    /// Per distinct source: whether centred CSLS ranks a gold translation first.
    pub centred_csls_hit1: Vec<bool>,
}

/// Computes every metric of one layer. `src` has one row per source (`gold.n_sources`), `cand` one
/// row per candidate (`gold.n_candidates`). Peak memory: the inputs plus one normalised copy plus
/// `kernel::BLOCK_ELEMS` scores, however many candidates there are.
pub fn layer_metrics(
    src: &Matrix,
    cand: &Matrix,
    gold: &Gold,
    opts: &MetricsOptions,
) -> Result<LayerMetrics> {
    Ok(layer_metrics_detailed(src, cand, gold, opts)?.0)
}

/// [`layer_metrics`] with the [`LayerDetail`] it was computed from (one retrieval per space).
pub fn layer_metrics_detailed(
    src: &Matrix,
    cand: &Matrix,
    gold: &Gold,
    opts: &MetricsOptions,
) -> Result<(LayerMetrics, LayerDetail)> {
    if src.rows != gold.n_sources || cand.rows != gold.n_candidates {
        bail!(
            "matrices have {} source and {} candidate rows but the gold lists {} sources and {} candidates",
            src.rows, cand.rows, gold.n_sources, gold.n_candidates
        );
    }
    if opts.k_csls == 0 || opts.bootstrap == 0 {
        bail!(
            "k_csls and bootstrap must be at least 1 (got {} and {})",
            opts.k_csls,
            opts.bootstrap
        );
    }
    let partner = shuffled_partners(gold.pairs.len(), opts.seed)?;
    let raw = space_metrics(src, cand, gold, &partner, opts.k_csls, Space::Raw)?;
    let cen = space_metrics(src, cand, gold, &partner, opts.k_csls, Space::Centred)?;

    let ns = gold.n_sources;
    let hit1 = |r: &Ranks| -> Vec<f64> { r.csls.iter().map(|&x| (x < 1) as u8 as f64).collect() };
    let (raw_hit, cen_hit) = (hit1(&raw.retrieval.s2t), hit1(&cen.retrieval.s2t));
    let (mut cos_sum, mut cos_n) = (vec![0.0; ns], vec![0.0; ns]);
    for (&(s, _), &c) in gold.pairs.iter().zip(&cen.pair_cos) {
        cos_sum[s] += c;
        cos_n[s] += 1.0;
    }
    let ones = vec![1.0; ns];
    let ci = bootstrap::ratio_cis(
        &[(&raw_hit, &ones), (&cen_hit, &ones), (&cos_sum, &cos_n)],
        opts.bootstrap,
        opts.seed,
    );

    let p = |r: &[usize], k| precision_at(r, k);
    let (rs, cs) = (&raw.retrieval.s2t, &cen.retrieval.s2t);
    let m = LayerMetrics {
        pairs_mean: lexalign_stats::mean(&raw.pair_cos),
        pairs_sd: lexalign_stats::sd(&raw.pair_cos),
        shuffled_mean: lexalign_stats::mean(&raw.shuffled_cos),
        shuffled_sd: lexalign_stats::sd(&raw.shuffled_cos),
        centered_mean: lexalign_stats::mean(&cen.pair_cos),
        centered_shuffled_mean: lexalign_stats::mean(&cen.shuffled_cos),
        p1_nn: p(&rs.nn, 1),
        p5_nn: p(&rs.nn, 5),
        p10_nn: p(&rs.nn, 10),
        p1_csls: p(&rs.csls, 1),
        p5_csls: p(&rs.csls, 5),
        p10_csls: p(&rs.csls, 10),
        centered_p1_nn: p(&cs.nn, 1),
        centered_p5_nn: p(&cs.nn, 5),
        centered_p10_nn: p(&cs.nn, 10),
        centered_p1_csls: p(&cs.csls, 1),
        centered_p5_csls: p(&cs.csls, 5),
        centered_p10_csls: p(&cs.csls, 10),
        t2s_p1_nn: p(&raw.retrieval.t2s.nn, 1),
        t2s_p1_csls: p(&raw.retrieval.t2s.csls, 1),
        t2s_centered_p1_nn: p(&cen.retrieval.t2s.nn, 1),
        t2s_centered_p1_csls: p(&cen.retrieval.t2s.csls, 1),
        mexa: raw.mexa,
        centered_mexa: cen.mexa,
        p1_csls_ci_low: ci[0].0,
        p1_csls_ci_high: ci[0].1,
        centered_p1_csls_ci_low: ci[1].0,
        centered_p1_csls_ci_high: ci[1].1,
        centered_mean_ci_low: ci[2].0,
        centered_mean_ci_high: ci[2].1,
        n_sources: ns,
        n_candidates: gold.n_candidates,
    };
    check_outputs_finite(&m).context("layer metrics")?;
    let detail = LayerDetail {
        centred_csls_hit1: cs.csls.iter().map(|&rank| rank < 1).collect(),
        pair_cos: raw.pair_cos,
        shuffled_cos: raw.shuffled_cos,
        centred_pair_cos: cen.pair_cos,
    };
    Ok((m, detail))
}

fn check_outputs_finite(m: &LayerMetrics) -> Result<()> {
    let v = serde_json::to_value(m)?;
    for (k, x) in v.as_object().expect("struct").iter() {
        if !x.is_number() {
            bail!("`{k}` is not finite ({x}); the inputs must be degenerate");
        }
    }
    Ok(())
}
