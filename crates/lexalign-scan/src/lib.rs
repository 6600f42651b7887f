//! The layer scan: for every requested hidden state, the cosine of each translation pair and of a
//! shuffled pair (each source word against another pair's target), so that "aligned" can be told
//! apart from "everything is similar at this layer" (anisotropy).

use anyhow::{bail, Context, Result};
use lexalign_model::{LoadedModel, Pooling};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// HF hidden-state indices (0 = embeddings).
    pub layers: Vec<usize>,
    pub pooling: Pooling,
    pub batch_size: usize,
    /// Seed of the shuffled-pair baseline.
    pub seed: u64,
}

/// Summary of one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerStat {
    pub layer: usize,
    pub n: usize,
    pub pairs_mean: f64,
    pub pairs_sd: f64,
    pub shuffled_mean: f64,
    pub shuffled_sd: f64,
}

#[derive(Debug, Clone)]
pub struct ScanResult {
    pub layers: Vec<LayerStat>,
    /// `[layer slot][pair]` cosine of the translation pair.
    pub pair_cosine: Vec<Vec<f64>>,
    /// `[layer slot][pair]` cosine of source `i` with target `partner[i]`.
    pub shuffled_cosine: Vec<Vec<f64>>,
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
        let l: usize = part
            .parse()
            .with_context(|| format!("--layers: `{part}` is not a layer number (use `all` or e.g. `0,1,2,31`)"))?;
        if l >= n_hidden_states {
            bail!("--layers: layer {l} does not exist; this model has hidden states 0..={}", n_hidden_states - 1);
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

/// A seeded derangement: `partner[i] != i` for every `i` (needs at least two pairs).
pub fn shuffled_partners(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    order.shuffle(&mut rng);
    let mut partner = vec![0; n];
    for k in 0..n {
        partner[order[k]] = order[(k + 1) % n];
    }
    partner
}

/// Runs the scan: one forward per batch of words gives every requested layer.
pub fn scan(
    model: &LoadedModel,
    sources: &[&str],
    targets: &[&str],
    opts: &ScanOptions,
    mut progress: impl FnMut(usize),
) -> Result<ScanResult> {
    if sources.len() != targets.len() {
        bail!("{} source words but {} target words", sources.len(), targets.len());
    }
    if sources.len() < 2 {
        bail!("the scan needs at least two pairs (the shuffled baseline pairs each source with another pair's target)");
    }
    let n = sources.len();
    let src = model.embed(sources, &opts.layers, opts.pooling, opts.batch_size, &mut progress)?;
    let tgt = model.embed(targets, &opts.layers, opts.pooling, opts.batch_size, |d| progress(n + d))?;
    let partner = shuffled_partners(n, opts.seed);
    let partner_idx = tch_index(&partner);
    let mut layers = Vec::new();
    let (mut pair_cosine, mut shuffled_cosine) = (Vec::new(), Vec::new());
    for (slot, &layer) in opts.layers.iter().enumerate() {
        let s = &src.vectors[slot];
        let t = &tgt.vectors[slot];
        let pc = lexalign_model::embed::rowwise_cosine(s, t);
        let sc = lexalign_model::embed::rowwise_cosine(s, &t.index_select(0, &partner_idx));
        layers.push(LayerStat {
            layer,
            n,
            pairs_mean: lexalign_stats::mean(&pc),
            pairs_sd: lexalign_stats::sd(&pc),
            shuffled_mean: lexalign_stats::mean(&sc),
            shuffled_sd: lexalign_stats::sd(&sc),
        });
        pair_cosine.push(pc);
        shuffled_cosine.push(sc);
    }
    Ok(ScanResult { layers, pair_cosine, shuffled_cosine, partner })
}

fn tch_index(v: &[usize]) -> lexalign_model::tch::Tensor {
    let v: Vec<i64> = v.iter().map(|&x| x as i64).collect();
    lexalign_model::tch::Tensor::from_slice(&v)
}

/// Writes `layers.csv` and `pairs.csv` (formats in docs/CONVENTIONS.md) atomically.
pub fn write_outputs(dir: &Path, sources: &[&str], targets: &[&str], r: &ScanResult) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create output folder {}", dir.display()))?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["layer", "n", "pairs_mean", "pairs_sd", "shuffled_mean", "shuffled_sd"])?;
    for l in &r.layers {
        w.write_record([
            l.layer.to_string(),
            l.n.to_string(),
            format!("{:.8}", l.pairs_mean),
            format!("{:.8}", l.pairs_sd),
            format!("{:.8}", l.shuffled_mean),
            format!("{:.8}", l.shuffled_sd),
        ])?;
    }
    lexalign_run::write_atomic(dir.join("layers.csv"), w.into_inner()?)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["index", "source", "target", "layer", "cosine", "shuffled_cosine"])?;
    for (slot, l) in r.layers.iter().enumerate() {
        for i in 0..sources.len() {
            w.write_record([
                i.to_string(),
                sources[i].to_string(),
                targets[i].to_string(),
                l.layer.to_string(),
                format!("{:.8}", r.pair_cosine[slot][i]),
                format!("{:.8}", r.shuffled_cosine[slot][i]),
            ])?;
        }
    }
    lexalign_run::write_atomic(dir.join("pairs.csv"), w.into_inner()?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partners_are_a_derangement() {
        for n in 2..50 {
            let p = shuffled_partners(n, 7);
            let mut seen = vec![false; n];
            for (i, &j) in p.iter().enumerate() {
                assert_ne!(i, j);
                assert!(!seen[j]);
                seen[j] = true;
            }
        }
    }

    #[test]
    fn layer_specs() {
        assert_eq!(parse_layers("all", 3).unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_layers("2, 0,2", 3).unwrap(), vec![2, 0]);
        assert!(format!("{:#}", parse_layers("31", 31).unwrap_err()).contains("0..=30"));
        assert!(parse_layers("x", 3).is_err());
    }
}
