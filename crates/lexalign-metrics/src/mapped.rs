//! Retrieval after a baseline transform, the one protocol every baseline row is measured with:
//! the source rows (mapped by a linear map, or post-processed) and the candidate rows are taken
//! into the centred space ([`Space::Centred`]: normalise, minus their own mean, normalise) and
//! ranked with NN and CSLS (k = 10) as [`crate::layer_metrics`] ranks them; hubness is the
//! k-occurrence skew of the candidates under NN retrieval in that space.
//!
//! A linear map is applied to the centred source rows ([`map_sources`]), the space it was fitted
//! in (training rows centred on the training mean; evaluated rows on their own set's mean, as the
//! unmapped baseline is).

use crate::hubness::{k_occurrence_skew, HUB_K};
use crate::lexicon::Gold;
use crate::matrix::Matrix;
use crate::retrieval::{precision_at, retrieve};
use crate::{prepare, Space};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Centred-space retrieval of one (transform, set, layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalSummary {
    pub p1_nn: f64,
    pub p1_csls: f64,
    pub p5_csls: f64,
    pub p10_csls: f64,
    /// Target→source P@1 with CSLS.
    pub t2s_p1_csls: f64,
    /// Skew of the candidates' k-occurrence (k = [`HUB_K`]) under source→target NN.
    pub hub_skew: f64,
    /// Per source row: whether CSLS ranks a gold first (for paired comparisons).
    #[serde(skip)]
    pub hit1: Option<Vec<bool>>,
}

/// Centred-space retrieval of `src` against `cand` (rows as in `gold`), CSLS neighbourhood `k`.
pub fn summary(src: &Matrix, cand: &Matrix, gold: &Gold, k: usize) -> Result<RetrievalSummary> {
    if src.rows != gold.n_sources || cand.rows != gold.n_candidates {
        bail!(
            "{} source and {} candidate rows for a gold of {} sources and {} candidates",
            src.rows,
            cand.rows,
            gold.n_sources,
            gold.n_candidates
        );
    }
    let (s, c) = prepare(src, cand, Space::Centred)?;
    let r = retrieve(&s, &c, gold, k);
    let out = RetrievalSummary {
        p1_nn: precision_at(&r.s2t.nn, 1),
        p1_csls: precision_at(&r.s2t.csls, 1),
        p5_csls: precision_at(&r.s2t.csls, 5),
        p10_csls: precision_at(&r.s2t.csls, 10),
        t2s_p1_csls: precision_at(&r.t2s.csls, 1),
        hub_skew: k_occurrence_skew(&s, &c, HUB_K),
        hit1: Some(r.s2t.csls.iter().map(|&x| x < 1).collect()),
    };
    for (name, v) in [
        ("p1_nn", out.p1_nn),
        ("p1_csls", out.p1_csls),
        ("hub_skew", out.hub_skew),
    ] {
        if !v.is_finite() {
            bail!("retrieval summary `{name}` is {v}; the inputs must be degenerate");
        }
    }
    Ok(out)
}

/// `centred(src) · w`: source rows in the space a map was fitted in, then mapped.
pub fn map_sources(src: &Matrix, w: &Matrix) -> Result<Matrix> {
    if w.rows != src.cols || w.cols != src.cols {
        bail!(
            "a [{}, {}] map cannot map {}-dimensional rows",
            w.rows,
            w.cols,
            src.cols
        );
    }
    Ok(crate::linalg::matmul(
        &src.centred("mapped source rows")?,
        w,
    ))
}

/// [`summary`] after mapping the sources with `w` (candidates as they are).
pub fn mapped_summary(
    src: &Matrix,
    cand: &Matrix,
    gold: &Gold,
    w: &Matrix,
    k: usize,
) -> Result<RetrievalSummary> {
    summary(&map_sources(src, w)?, cand, gold, k)
}
