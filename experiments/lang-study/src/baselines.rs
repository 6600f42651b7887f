//! The baselines a fine-tuning gain is judged against (issue 26), at every hidden state, with
//! `mean-content` pooling and the metrics' centred space: the frozen vectors as they are
//! (`base`), post-processed (z-scoring, PCA whitening, removing the top 1-3 principal
//! components, fitted on the training words of each language), and linear maps fitted on the
//! training pairs (orthogonal Procrustes, MUSE's refinement of it, least squares, ridge toward
//! the identity). Ridge's λ is chosen per hidden state on the development split with maps fitted
//! on the other training pairs; every map is then refitted on all training pairs and scored on
//! the held-out and CLDR pairs. Held-out pairs are never used to fit or to choose anything.
//!
//! After an adapter ([`adapter_rows`]) the same protocol gives `tli` (the adapted vectors) and
//! `tli+procrustes` (a Procrustes map fitted on the adapted training vectors).

use crate::data::StudyPairs;
use anyhow::{Context, Result};
use lexalign_data::study_rows::{BaselineRow, BaselineTestRow};
use lexalign_data::Pair;
use lexalign_metrics::linear_map::{procrustes, refine, RidgeSolver};
use lexalign_metrics::mapped::{mapped_summary, summary, RetrievalSummary};
use lexalign_metrics::postprocess::{PostKind, SideStats};
use lexalign_metrics::{Lexicon, Matrix};
use lexalign_model::Pooling;
use rayon::prelude::*;
use std::collections::HashMap;

/// The pooling of every baseline row (the evaluation's, and the one the best layer is read from).
pub const POOLING: Pooling = Pooling::MeanContent;
/// Ridge's candidate λ (rows are unit vectors, so `XᵀX` has trace n ≈ 1,000).
pub const LAMBDAS: [f64; 7] = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0];
/// CSLS neighbourhood (MUSE).
pub const K_CSLS: usize = 10;

/// The methods of a baseline table, in table order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    Base,
    Post(PostKind),
    Procrustes,
    /// MUSE's refinement with this many iterations.
    Refined(usize),
    Lstsq,
    Ridge,
}

impl Method {
    pub fn name(self) -> String {
        match self {
            Method::Base => "base".into(),
            Method::Post(k) => k.name(),
            Method::Procrustes => "procrustes".into(),
            Method::Refined(_) => "procrustes-refined".into(),
            Method::Lstsq => "lstsq".into(),
            Method::Ridge => "ridge".into(),
        }
    }

    /// Every method of the frozen model's table (`refine`: MUSE's iterations, 0 for none).
    pub fn frozen(refine: usize) -> Vec<Method> {
        let mut m = vec![Method::Base];
        m.extend(PostKind::all().into_iter().map(Method::Post));
        m.push(Method::Procrustes);
        if refine > 0 {
            m.push(Method::Refined(refine));
        }
        m.extend([Method::Lstsq, Method::Ridge]);
        m
    }
}

/// Every distinct word of the pair sets, with its row.
pub struct Words {
    pub words: Vec<String>,
    index: HashMap<String, usize>,
}

impl Words {
    pub fn of(sets: &[&[Pair]]) -> Self {
        let (mut words, mut index) = (Vec::new(), HashMap::new());
        for p in sets.iter().flat_map(|s| s.iter()) {
            for w in [&p.source, &p.target] {
                index.entry(w.clone()).or_insert_with(|| {
                    words.push(w.clone());
                    words.len() - 1
                });
            }
        }
        Self { words, index }
    }

    /// Every distinct word of `lists`, in first-seen order (the open pool's word lists).
    pub fn of_lists(lists: &[&[String]]) -> Self {
        let (mut words, mut index) = (Vec::new(), HashMap::new());
        for w in lists.iter().flat_map(|l| l.iter()) {
            index.entry(w.clone()).or_insert_with(|| {
                words.push(w.clone());
                words.len() - 1
            });
        }
        Self { words, index }
    }

    /// The rows of `words` (each must be in the list).
    pub fn rows(&self, words: &[String]) -> Vec<usize> {
        words.iter().map(|w| self.index[w.as_str()]).collect()
    }
}

/// One set of pairs ready for retrieval: its distinct sources and candidates.
struct EvalSet<'a> {
    name: &'a str,
    lex: Lexicon,
}

impl<'a> EvalSet<'a> {
    fn new(name: &'a str, pairs: &[Pair]) -> Result<Self> {
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|p| (p.source.as_str(), p.target.as_str()))
            .collect();
        Ok(Self {
            name,
            lex: Lexicon::from_pairs(&refs, &[] as &[&str])
                .with_context(|| format!("the {name} pairs"))?,
        })
    }

    fn matrices(&self, all: &Matrix, w: &Words) -> (Matrix, Matrix) {
        (
            all.select_rows(&w.rows(&self.lex.sources)),
            all.select_rows(&w.rows(&self.lex.candidates)),
        )
    }
}

/// Training pairs in one hidden state: paired centred rows for the maps, and each side's
/// distinct words (raw) for post-processing and refinement.
struct Fit {
    n: usize,
    x: Matrix,
    y: Matrix,
    src_words: Matrix,
    tgt_words: Matrix,
}

impl Fit {
    fn new(pairs: &[Pair], all: &Matrix, w: &Words) -> Result<Self> {
        let src: Vec<String> = pairs.iter().map(|p| p.source.clone()).collect();
        let tgt: Vec<String> = pairs.iter().map(|p| p.target.clone()).collect();
        let lex = EvalSet::new("training", pairs)?.lex;
        Ok(Self {
            n: pairs.len(),
            x: all.select_rows(&w.rows(&src)).centred("training sources")?,
            y: all.select_rows(&w.rows(&tgt)).centred("training targets")?,
            src_words: all.select_rows(&w.rows(&lex.sources)),
            tgt_words: all.select_rows(&w.rows(&lex.candidates)),
        })
    }
}

/// What a hidden state's maps and post-processings are; each scored on every set.
enum Fitted {
    None,
    Post(
        lexalign_metrics::postprocess::PostFit,
        lexalign_metrics::postprocess::PostFit,
    ),
    Map(Matrix, Option<f64>),
}

fn score(f: &Fitted, set: &EvalSet, all: &Matrix, w: &Words) -> Result<RetrievalSummary> {
    let (s, c) = set.matrices(all, w);
    match f {
        Fitted::None => summary(&s, &c, &set.lex.gold, K_CSLS),
        Fitted::Post(ps, pt) => summary(&ps.apply(&s)?, &pt.apply(&c)?, &set.lex.gold, K_CSLS),
        Fitted::Map(m, _) => mapped_summary(&s, &c, &set.lex.gold, m, K_CSLS),
    }
}

/// The λ of `LAMBDAS` with the best dev centred CSLS P@1 for a ridge fitted on `fit` (ties: the
/// larger λ, the map closer to the identity).
fn choose_lambda(solver: &RidgeSolver, dev: &EvalSet, all: &Matrix, w: &Words) -> Result<f64> {
    let mut best = (f64::NEG_INFINITY, LAMBDAS[0]);
    for &l in &LAMBDAS {
        let p = score(&Fitted::Map(solver.ridge(l)?, Some(l)), dev, all, w)?.p1_csls;
        if p >= best.0 {
            best = (p, l);
        }
    }
    Ok(best.1)
}

/// Fits every method on `fit` (ridge with `lambda`).
fn fit_methods(methods: &[Method], fit: &Fit, lambda: f64) -> Result<Vec<Fitted>> {
    let pca = methods
        .iter()
        .any(|m| matches!(m, Method::Post(k) if *k != PostKind::ZScore));
    let stats = if methods.iter().any(|m| matches!(m, Method::Post(_))) {
        Some((
            SideStats::new(&fit.src_words, pca)?,
            SideStats::new(&fit.tgt_words, pca)?,
        ))
    } else {
        None
    };
    let needs_ridge = methods
        .iter()
        .any(|m| matches!(m, Method::Lstsq | Method::Ridge));
    let solver = if needs_ridge {
        Some(RidgeSolver::new(&fit.x, &fit.y)?)
    } else {
        None
    };
    let mut proc: Option<Matrix> = None;
    let mut out = Vec::new();
    for m in methods {
        out.push(match *m {
            Method::Base => Fitted::None,
            Method::Post(k) => {
                let (a, b) = stats.as_ref().expect("computed above");
                Fitted::Post(a.fit(k)?, b.fit(k)?)
            }
            Method::Procrustes => Fitted::Map(
                proc.get_or_insert(procrustes(&fit.x, &fit.y)?).clone(),
                None,
            ),
            Method::Refined(it) => {
                let w0 = match &proc {
                    Some(w) => w.clone(),
                    None => procrustes(&fit.x, &fit.y)?,
                };
                let (xv, yv) = (
                    fit.src_words.centred("training source words")?,
                    fit.tgt_words.centred("training target words")?,
                );
                Fitted::Map(refine(&xv, &yv, &w0, it, K_CSLS)?.0, None)
            }
            Method::Lstsq => Fitted::Map(solver.as_ref().expect("solver").least_squares(), None),
            Method::Ridge => Fitted::Map(
                solver.as_ref().expect("solver").ridge(lambda)?,
                Some(lambda),
            ),
        });
    }
    Ok(out)
}

/// Names the rows of one method: the frozen model's own names, or the adapter's (`tli`, ...).
pub type Namer = fn(Method) -> String;

/// Per (set, layer, method name): whether centred CSLS ranked a gold first, per distinct source
/// (held-out and CLDR only), for paired comparisons between methods.
pub type Hits = HashMap<(String, usize, String), Vec<bool>>;

/// Every row of one hidden state: methods fitted on `s.fit` and scored on dev (choosing ridge's
/// λ), then refitted on `s.train` and scored on held-out and CLDR (whose hits go to `hits`).
/// `with_dev: false` skips the dev rows (then ridge's λ cannot be chosen: no `Ridge` in `methods`).
#[allow(clippy::too_many_arguments)] // the stage's inputs, each used once; a struct would only rename them
pub fn layer_rows(
    layer: usize,
    all: &Matrix,
    w: &Words,
    s: &StudyPairs,
    methods: &[Method],
    name: Namer,
    with_dev: bool,
    hits: &mut Hits,
) -> Result<Vec<BaselineRow>> {
    anyhow::ensure!(
        with_dev || !methods.contains(&Method::Ridge),
        "ridge's λ is chosen on the dev rows"
    );
    let dev = EvalSet::new("dev", &s.dev)?;
    let tests = [
        EvalSet::new("held-out", &s.test)?,
        EvalSet::new("cldr", &s.independent)?,
    ];
    let mut rows = Vec::new();
    let mut stages = Vec::new();
    let mut lambda = 1.0;
    if with_dev {
        let fit_dev = Fit::new(&s.fit, all, w)?;
        if methods.contains(&Method::Ridge) {
            lambda = choose_lambda(&RidgeSolver::new(&fit_dev.x, &fit_dev.y)?, &dev, all, w)?;
        }
        stages.push((fit_dev, std::slice::from_ref(&dev)));
    }
    stages.push((Fit::new(&s.train, all, w)?, &tests[..]));
    for (fit, sets) in stages {
        let fitted = fit_methods(methods, &fit, lambda)?;
        for (m, f) in methods.iter().zip(&fitted) {
            for set in sets {
                let mut r = score(f, set, all, w).with_context(|| {
                    format!(
                        "{} on the {} pairs at hidden state {layer}",
                        m.name(),
                        set.name
                    )
                })?;
                rows.push(row(
                    set,
                    layer,
                    &name(*m),
                    f,
                    if *m == Method::Base { 0 } else { fit.n },
                    &r,
                ));
                if set.name != "dev" {
                    hits.insert(
                        (set.name.to_string(), layer, name(*m)),
                        r.hit1.take().unwrap_or_default(),
                    );
                }
            }
        }
    }
    Ok(rows)
}

fn row(
    set: &EvalSet,
    layer: usize,
    method: &str,
    f: &Fitted,
    n_fit: usize,
    r: &RetrievalSummary,
) -> BaselineRow {
    BaselineRow {
        set: set.name.to_string(),
        layer,
        method: method.to_string(),
        lambda: match f {
            Fitted::Map(_, l) => *l,
            _ => None,
        },
        n_fit,
        n_sources: set.lex.sources.len(),
        p1_nn: r.p1_nn,
        p1_csls: r.p1_csls,
        p5_csls: r.p5_csls,
        p10_csls: r.p10_csls,
        t2s_p1_csls: r.t2s_p1_csls,
        hub_skew: r.hub_skew,
    }
}

/// The frozen model's row names.
pub fn frozen_name(m: Method) -> String {
    m.name()
}

/// After an adapter: `base` is `tli`, a map on top is `tli+<map>`.
pub fn adapter_name(m: Method) -> String {
    match m {
        Method::Base => "tli".into(),
        m => format!("tli+{}", m.name()),
    }
}

/// Embeds every word of the study's sets at the hidden states `layers` (one forward up to the
/// highest, [`POOLING`]) and computes `methods`' rows per hidden state. Returns the rows, their hits and the seconds taken.
#[allow(clippy::too_many_arguments)]
pub fn run_all(
    run: &lexalign_stages::LoadedRun,
    s: &StudyPairs,
    methods: &[Method],
    name: Namer,
    with_dev: bool,
    layers: &[usize],
    batch_size: usize,
    what: &str,
) -> Result<(Vec<BaselineRow>, Hits, f64)> {
    anyhow::ensure!(
        !layers.is_empty(),
        "{what}: no hidden states to compute the baselines at"
    );
    anyhow::ensure!(
        s.dev.len() >= 2 && s.test.len() >= 2 && s.independent.len() >= 2,
        "the baselines need a dev split, held-out and CLDR pairs (got {} dev, {} held-out, {} CLDR pairs from {} training pairs); pass --no-baselines",
        s.dev.len(),
        s.test.len(),
        s.independent.len(),
        s.train.len()
    );
    let started = std::time::Instant::now();
    let words = Words::of(&[&s.train, &s.test, &s.independent]);
    let refs: Vec<&str> = words.words.iter().map(String::as_str).collect();
    let bar = lexalign_run::progress_bar(refs.len() as u64, &format!("{what}: embedding"));
    let emb = run
        .model
        .embed_multi(&refs, layers, &[POOLING], batch_size, |d| {
            bar.set_position(d as u64)
        })?;
    bar.finish_and_clear();
    // The hidden states are independent: widened one by one, then fitted in parallel.
    let mats = layers
        .iter()
        .enumerate()
        .map(|(slot, _)| lexalign_scan::matrix_of(&emb[0].vectors(slot)?))
        .collect::<Result<Vec<_>>>()?;
    drop(emb);
    let per_layer: Vec<(Vec<BaselineRow>, Hits)> = layers
        .par_iter()
        .zip(mats)
        .map(|(&layer, all)| {
            let mut hits = Hits::new();
            let t = std::time::Instant::now();
            let out = layer_rows(layer, &all, &words, s, methods, name, with_dev, &mut hits)
                .map(|r| (r, hits));
            log::info!(
                "{what}: hidden state {layer} in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            out
        })
        .collect::<Result<_>>()?;
    let (mut rows, mut hits) = (Vec::new(), Hits::new());
    for (r, h) in per_layer {
        rows.extend(r);
        hits.extend(h);
    }
    let secs = started.elapsed().as_secs_f64();
    log::info!(
        "{what}: {} rows over {} hidden states in {secs:.1} s ({} words)",
        rows.len(),
        layers.len(),
        refs.len()
    );
    Ok((rows, hits, secs))
}

/// Paired comparisons of an adapter's rows with the frozen model's Procrustes map, per set and
/// hidden state: `tli` and `tli+procrustes` minus `procrustes`, with a paired bootstrap 95 % CI
/// over source words (the same words, the same candidates).
pub fn comparisons(
    frozen: &Hits,
    adapted: &Hits,
    boot: usize,
    seed: u64,
) -> Result<Vec<BaselineTestRow>> {
    let mut keys: Vec<&(String, usize, String)> =
        frozen.keys().filter(|k| k.2 == "procrustes").collect();
    keys.sort();
    let mut out = Vec::new();
    for (set, layer, _) in keys {
        let base = &frozen[&(set.clone(), *layer, "procrustes".to_string())];
        for method in ["tli", "tli+procrustes"] {
            let Some(a) = adapted.get(&(set.clone(), *layer, method.to_string())) else {
                continue;
            };
            anyhow::ensure!(
                a.len() == base.len(),
                "{set} at hidden state {layer}: {} vs {} source words",
                a.len(),
                base.len()
            );
            let d: Vec<f64> = a
                .iter()
                .zip(base)
                .map(|(&x, &y)| x as u8 as f64 - y as u8 as f64)
                .collect();
            let ones = vec![1.0; d.len()];
            let ci = lexalign_metrics::bootstrap::ratio_cis(&[(&d, &ones)], boot, seed)[0];
            out.push(BaselineTestRow {
                set: set.clone(),
                layer: *layer,
                method: method.to_string(),
                versus: "procrustes".into(),
                delta_p1: lexalign_stats::mean(&d),
                ci_low: ci.0,
                ci_high: ci.1,
            });
        }
    }
    Ok(out)
}
