//! The layer scan: for every requested hidden state, the cosine of each translation pair and of a
//! shuffled pair (each source word against another pair's target), so that "aligned" can be told
//! apart from "everything is similar at this layer" (anisotropy), and the retrieval metrics the
//! field uses (BLI P@k with NN and CSLS, raw and centred, MEXA; `lexalign-metrics`).

use anyhow::{bail, Context, Result};
use lexalign_metrics::{
    layer_metrics_detailed, shuffled_partners, LayerMetrics, Lexicon, Matrix, MetricsOptions,
};
use lexalign_model::{LoadedModel, Pooling};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// HF hidden-state indices (0 = embeddings).
    pub layers: Vec<usize>,
    /// Every pooling is computed from the same forward passes.
    pub poolings: Vec<Pooling>,
    pub batch_size: usize,
    /// Seed of the shuffled-pair baseline and of the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples of the P@1 and centred-cosine intervals.
    pub bootstrap: usize,
    /// Extra BLI candidates beyond the pairs' targets (`--candidates FILE`).
    pub candidates: Vec<String>,
}

/// Summary of one layer: the pilot's columns, then every retrieval metric.
#[derive(Debug, Clone, Serialize)]
pub struct LayerStat {
    pub layer: usize,
    pub n: usize,
    pub pairs_mean: f64,
    pub pairs_sd: f64,
    pub shuffled_mean: f64,
    pub shuffled_sd: f64,
    pub metrics: LayerMetrics,
}

/// The scan of one pooling.
#[derive(Debug, Clone)]
pub struct ScanResult {
    pub pooling: Pooling,
    pub layers: Vec<LayerStat>,
    /// `[layer slot][pair]` cosine of the translation pair.
    pub pair_cosine: Vec<Vec<f64>>,
    /// `[layer slot][pair]` cosine of source `i` with target `partner[i]`.
    pub shuffled_cosine: Vec<Vec<f64>>,
    /// `[layer slot][pair]` pair cosine after per-language centring.
    pub centered_cosine: Vec<Vec<f64>>,
    /// `[layer slot][distinct source]` whether centred CSLS retrieval ranks a gold translation
    /// first (for paired before/after comparisons of P@1).
    pub centered_csls_hit1: Vec<Vec<bool>>,
    /// The distinct source words, in the order of `centered_csls_hit1`.
    pub distinct_sources: Vec<String>,
    pub partner: Vec<usize>,
}

/// `all` or a comma list like `0,1,2,31`; checked against the model's hidden-state count.
pub fn parse_layers(spec: &str, n_hidden_states: usize) -> Result<Vec<usize>> {
    if spec.trim() == "all" {
        return Ok((0..n_hidden_states).collect());
    }
    let mut out = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        let l: usize = part.parse().with_context(|| {
            format!("--layers: `{part}` is not a layer number (use `all` or e.g. `0,1,2,31`)")
        })?;
        if l >= n_hidden_states {
            bail!(
                "--layers: layer {l} does not exist; this model has hidden states 0..={}",
                n_hidden_states - 1
            );
        }
        if !out.contains(&l) {
            out.push(l);
        }
    }
    if out.is_empty() {
        bail!("--layers is empty");
    }
    Ok(out)
}

/// Runs the scan: each distinct word (sources, targets, extra candidates) is embedded once, one
/// forward per batch serving every requested layer and pooling; then per layer the pair and
/// shuffled cosines and every BLI metric of `lexalign-metrics`. One result per pooling.
pub fn scan(
    model: &LoadedModel,
    sources: &[&str],
    targets: &[&str],
    opts: &ScanOptions,
    progress: impl FnMut(usize),
) -> Result<Vec<ScanResult>> {
    scan_visit(model, sources, targets, opts, progress, |_| Ok(()))
}

/// The pooled vectors one layer's metrics were computed from, handed to [`scan_visit`]'s visitor
/// for measures the scan does not make (CKA against another encoder) without a second forward.
pub struct LayerVectors<'a> {
    pub pooling: Pooling,
    pub layer: usize,
    /// One row per distinct source word (`Lexicon::from_pairs` order).
    pub sources: &'a Matrix,
    /// One row per distinct candidate (the pairs' targets, then the extra candidates).
    pub candidates: &'a Matrix,
}

/// [`scan`], calling `visit` with every (pooling, layer)'s vectors.
pub fn scan_visit(
    model: &LoadedModel,
    sources: &[&str],
    targets: &[&str],
    opts: &ScanOptions,
    progress: impl FnMut(usize),
    mut visit: impl FnMut(&LayerVectors) -> Result<()>,
) -> Result<Vec<ScanResult>> {
    if sources.len() != targets.len() {
        bail!(
            "{} source words but {} target words",
            sources.len(),
            targets.len()
        );
    }
    if sources.len() < 2 {
        bail!("the scan needs at least two pairs (the shuffled baseline pairs each source with another pair's target)");
    }
    let pairs: Vec<(&str, &str)> = sources
        .iter()
        .copied()
        .zip(targets.iter().copied())
        .collect();
    let lex = Lexicon::from_pairs(&pairs, &opts.candidates)?;
    let (words, index) = distinct_words(&[&lex.sources, &lex.candidates]);
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let embedded = model.embed_multi(
        &refs,
        &opts.layers,
        &opts.poolings,
        opts.batch_size,
        progress,
    )?;
    let forward_secs = started.elapsed().as_secs_f64();
    let mut metrics_secs = 0.0;
    let partner = shuffled_partners(pairs.len(), opts.seed)?;
    let mopts = MetricsOptions {
        k_csls: 10,
        seed: opts.seed,
        bootstrap: opts.bootstrap,
    };
    let mut results = Vec::new();
    for (pooling, emb) in opts.poolings.iter().zip(&embedded) {
        let mut r = ScanResult {
            pooling: *pooling,
            layers: Vec::new(),
            pair_cosine: Vec::new(),
            shuffled_cosine: Vec::new(),
            centered_cosine: Vec::new(),
            centered_csls_hit1: Vec::new(),
            distinct_sources: lex.sources.clone(),
            partner: partner.clone(),
        };
        for (slot, &layer) in opts.layers.iter().enumerate() {
            let all = matrix_of(&emb.vectors(slot)?)?;
            let src = all.select_rows(&index[0]);
            let cand = all.select_rows(&index[1]);
            visit(&LayerVectors {
                pooling: *pooling,
                layer,
                sources: &src,
                candidates: &cand,
            })?;
            let started = std::time::Instant::now();
            let (m, detail) = layer_metrics_detailed(&src, &cand, &lex.gold, &mopts)
                .with_context(|| format!("hidden state {layer} ({pooling})"))?;
            metrics_secs += started.elapsed().as_secs_f64();
            r.pair_cosine.push(detail.pair_cos);
            r.shuffled_cosine.push(detail.shuffled_cos);
            r.centered_cosine.push(detail.centred_pair_cos);
            r.centered_csls_hit1.push(detail.centred_csls_hit1);
            r.layers.push(LayerStat {
                layer,
                n: pairs.len(),
                pairs_mean: m.pairs_mean,
                pairs_sd: m.pairs_sd,
                shuffled_mean: m.shuffled_mean,
                shuffled_sd: m.shuffled_sd,
                metrics: m,
            });
        }
        results.push(r);
    }
    log::info!(
        "scan time split: forward and pooling {forward_secs:.2} s, metrics {metrics_secs:.2} s ({} hidden states x {} poolings)",
        opts.layers.len(),
        opts.poolings.len()
    );
    Ok(results)
}

/// The distinct words of several lists (first appearance order) and each list's row indices.
fn distinct_words(lists: &[&[String]]) -> (Vec<String>, Vec<Vec<usize>>) {
    let mut words = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut index = Vec::new();
    for list in lists {
        let mut idx = Vec::with_capacity(list.len());
        for w in list.iter() {
            let i = *at.entry(w.as_str()).or_insert_with(|| {
                words.push(w.clone());
                words.len() - 1
            });
            idx.push(i);
        }
        index.push(idx);
    }
    (words, index)
}

/// A `[n, d]` f32 tensor of pooled vectors as a metrics matrix (widened to f64).
pub fn matrix_of(t: &lexalign_model::tch::Tensor) -> Result<Matrix> {
    let size = t.size();
    let data: Vec<f32> =
        Vec::<f32>::try_from(t.flatten(0, -1)).context("pooled vectors to host")?;
    Matrix::from_f32(size[0] as usize, size[1] as usize, &data)
}

/// Every `LayerMetrics` column, in field order (its serde header).
pub fn metric_header() -> Vec<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(LayerMetrics::default()).expect("serialisable");
    let header = String::from_utf8(w.into_inner().expect("in memory")).expect("utf-8");
    header
        .lines()
        .next()
        .unwrap_or_default()
        .split(',')
        .map(String::from)
        .collect()
}

/// The values of [`metric_header`]'s columns (8 decimals; counts as integers).
pub fn metric_values(m: &LayerMetrics) -> Result<Vec<String>> {
    let v = serde_json::to_value(m)?;
    Ok(metric_header()
        .iter()
        .map(|k| match &v[k] {
            serde_json::Value::Number(n) if n.is_u64() => n.to_string(),
            x => format!("{:.8}", x.as_f64().unwrap_or(f64::NAN)),
        })
        .collect())
}

/// The metric columns of `layers.csv` after the pilot's six.
fn metric_columns() -> Vec<String> {
    metric_header()
        .into_iter()
        .filter(|k| {
            !["pairs_mean", "pairs_sd", "shuffled_mean", "shuffled_sd"].contains(&k.as_str())
        })
        .collect()
}

/// Writes `layers.csv` and `pairs.csv` (formats in docs/CONVENTIONS.md) atomically: one row per
/// (pooling, layer), the pilot's columns first so older readers keep working.
pub fn write_outputs(
    dir: &Path,
    sources: &[&str],
    targets: &[&str],
    results: &[ScanResult],
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output folder {}", dir.display()))?;
    let extra = metric_columns();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "layer",
        "n",
        "pairs_mean",
        "pairs_sd",
        "shuffled_mean",
        "shuffled_sd",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(extra.iter().cloned());
    header.push("pooling".into());
    w.write_record(&header)?;
    for r in results {
        for l in &r.layers {
            let mut rec = vec![
                l.layer.to_string(),
                l.n.to_string(),
                format!("{:.8}", l.pairs_mean),
                format!("{:.8}", l.pairs_sd),
                format!("{:.8}", l.shuffled_mean),
                format!("{:.8}", l.shuffled_sd),
            ];
            for (k, v) in metric_header().iter().zip(metric_values(&l.metrics)?) {
                if extra.contains(k) {
                    rec.push(v);
                }
            }
            rec.push(r.pooling.name().to_string());
            w.write_record(&rec)?;
        }
    }
    lexalign_run::write_atomic(dir.join("layers.csv"), w.into_inner()?)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "index",
        "source",
        "target",
        "layer",
        "cosine",
        "shuffled_cosine",
        "centered_cosine",
        "pooling",
    ])?;
    for r in results {
        for (slot, l) in r.layers.iter().enumerate() {
            for i in 0..sources.len() {
                w.write_record([
                    i.to_string(),
                    sources[i].to_string(),
                    targets[i].to_string(),
                    l.layer.to_string(),
                    format!("{:.8}", r.pair_cosine[slot][i]),
                    format!("{:.8}", r.shuffled_cosine[slot][i]),
                    format!("{:.8}", r.centered_cosine[slot][i]),
                    r.pooling.name().to_string(),
                ])?;
            }
        }
    }
    lexalign_run::write_atomic(dir.join("pairs.csv"), w.into_inner()?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_embedded_once() {
        let s = vec!["a".to_string(), "b".to_string()];
        let t = vec!["b".to_string(), "c".to_string(), "a".to_string()];
        let (words, idx) = distinct_words(&[&s, &t]);
        assert_eq!(words, ["a", "b", "c"]);
        assert_eq!(idx, vec![vec![0, 1], vec![1, 2, 0]]);
    }

    #[test]
    fn layer_specs() {
        assert_eq!(parse_layers("all", 3).unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_layers("2, 0,2", 3).unwrap(), vec![2, 0]);
        assert!(format!("{:#}", parse_layers("31", 31).unwrap_err()).contains("0..=30"));
        assert!(parse_layers("x", 3).is_err());
    }
}
