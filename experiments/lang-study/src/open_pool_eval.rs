//! The open pool's retrieval for one state of the model (frozen or one adapter): both
//! directions, every set ranking one shared pool per direction, the centring mean and CSLS terms
//! from the reference vocabulary ([`lexalign_metrics::open_pool`]), with the old closed-pool
//! P@1 (the set's own targets, statistics from the set) beside each row.

use crate::baselines::{K_CSLS, POOLING};
use anyhow::{Context, Result};
use lexalign_data::open_pool_rows::OpenPoolRow;
use lexalign_data::Pair;
use lexalign_metrics::open_pool::PreparedPool;
use lexalign_metrics::{precision_at, prepare, retrieve, Lexicon, Matrix, Space};
use std::collections::{BTreeMap, BTreeSet};

/// One language's side of the pool: the pool words (study words of that side, then extras,
/// sorted and distinct) and the reference words.
#[derive(Debug, Clone)]
pub struct Side {
    pub lang: String,
    pub pool: Vec<String>,
    pub reference: Vec<String>,
}

impl Side {
    /// `study` words of this side (every set), `extra` candidates and `reference` words.
    pub fn new(
        lang: &str,
        study: BTreeSet<String>,
        extra: &[String],
        reference: Vec<String>,
    ) -> Self {
        let mut pool = study;
        pool.extend(extra.iter().cloned());
        Self {
            lang: lang.into(),
            pool: pool.into_iter().collect(),
            reference,
        }
    }
}

pub use crate::baselines::Words;

/// The rows of `list` in `all` (one row per word of `w`).
fn rows_of(w: &Words, all: &Matrix, list: &[String]) -> Matrix {
    all.select_rows(&w.rows(list))
}

/// The pooled vectors of `words` at `layers` (mean-content), one matrix per layer.
pub fn embed(
    run: &lexalign_stages::LoadedRun,
    words: &Words,
    layers: &[usize],
    batch_size: usize,
    what: &str,
) -> Result<Vec<Matrix>> {
    let refs: Vec<&str> = words.words.iter().map(String::as_str).collect();
    let bar =
        lexalign_run::progress_bar(refs.len() as u64, &format!("open pool {what}: embedding"));
    let emb = run
        .model
        .embed_multi(&refs, layers, &[POOLING], batch_size, |d| {
            bar.set_position(d as u64)
        })?;
    bar.finish_and_clear();
    (0..layers.len())
        .map(|slot| lexalign_scan::matrix_of(&emb[0].vectors(slot)?))
        .collect()
}

/// Query words (distinct, sorted) and each one's gold rows in `pool`.
fn queries(pairs: &[Pair], reverse: bool, pool: &[String]) -> (Vec<String>, Vec<Vec<usize>>) {
    let mut gold: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for p in pairs {
        let (q, t) = if reverse {
            (&p.target, &p.source)
        } else {
            (&p.source, &p.target)
        };
        let at = pool
            .binary_search(t)
            .expect("every study word is in the pool");
        gold.entry(q.as_str()).or_default().insert(at);
    }
    gold.into_iter()
        .map(|(q, g)| (q.to_string(), g.into_iter().collect()))
        .unzip()
}

/// Centred CSLS P@1 of the old protocol: the set's own targets, statistics from the set.
fn closed_p1(pairs: &[Pair], all: &Matrix, w: &Words, reverse: bool) -> Result<(f64, usize)> {
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|p| {
            if reverse {
                (p.target.as_str(), p.source.as_str())
            } else {
                (p.source.as_str(), p.target.as_str())
            }
        })
        .collect();
    let lex = Lexicon::from_pairs(&refs, &[] as &[&str])?;
    let (s, c) = prepare(
        &rows_of(w, all, &lex.sources),
        &rows_of(w, all, &lex.candidates),
        Space::Centred,
    )?;
    let r = retrieve(&s, &c, &lex.gold, K_CSLS);
    Ok((precision_at(&r.s2t.csls, 1), lex.candidates.len()))
}

/// CSLS ranks per query word, keyed by [`rank_key`] (set and direction).
pub type WordRanks = BTreeMap<String, Vec<(String, usize)>>;

pub fn rank_key(set: &str, direction: &str) -> String {
    format!("{set}|{direction}")
}

/// Fills an adapter row's `gained` / `lost` from the frozen and adapted ranks of its queries.
pub fn mark_changes(row: &mut OpenPoolRow, before: &WordRanks, after: &WordRanks) {
    let key = rank_key(&row.set, &row.direction);
    let (Some(b), Some(a)) = (before.get(&key), after.get(&key)) else {
        return;
    };
    let b: BTreeMap<&str, usize> = b.iter().map(|(w, r)| (w.as_str(), *r)).collect();
    for (w, ra) in a {
        if let Some(&rb) = b.get(w.as_str()) {
            row.gained += (*ra == 0 && rb != 0) as usize;
            row.lost += (*ra != 0 && rb == 0) as usize;
        }
    }
}

/// Rows of one hidden state in both directions for `sets` (`(name, pairs)`); `(src, tgt)` sides.
pub fn layer_rows(
    model: &str,
    layer: usize,
    all: &Matrix,
    w: &Words,
    sides: (&Side, &Side),
    sets: &[(&str, &[Pair])],
) -> Result<(Vec<OpenPoolRow>, WordRanks)> {
    let mut rows = Vec::new();
    let mut ranks = WordRanks::new();
    for (reverse, (qs, ps)) in [(false, (sides.0, sides.1)), (true, (sides.1, sides.0))] {
        let direction = format!("{}-{}", qs.lang, ps.lang);
        let pool = PreparedPool::new(
            &rows_of(w, all, &ps.pool),
            &rows_of(w, all, &ps.reference),
            &rows_of(w, all, &qs.reference),
            K_CSLS,
            true,
        )
        .with_context(|| format!("{model}: the {direction} pool at hidden state {layer}"))?;
        for (set, pairs) in sets {
            let (qw, golds) = queries(pairs, reverse, &ps.pool);
            let r = pool
                .rank(&rows_of(w, all, &qw), &golds, K_CSLS)
                .with_context(|| format!("{model}: {set} {direction} at hidden state {layer}"))?;
            let p = r.precisions();
            let (closed, closed_n) = closed_p1(pairs, all, w, reverse)?;
            ranks.insert(
                rank_key(set, &direction),
                qw.iter().cloned().zip(r.csls.iter().copied()).collect(),
            );
            rows.push(OpenPoolRow {
                model: model.into(),
                set: set.to_string(),
                direction: direction.clone(),
                layer,
                n_queries: qw.len(),
                n_pool: ps.pool.len(),
                n_reference: ps.reference.len(),
                p1_nn: p[0],
                p5_nn: p[1],
                p10_nn: p[2],
                p1_csls: p[3],
                p5_csls: p[4],
                p10_csls: p[5],
                closed_p1_csls: closed,
                closed_n_pool: closed_n,
                gained: 0,
                lost: 0,
            });
        }
    }
    Ok((rows, ranks))
}
