//! Script 04 on the study model: each of the 25 sampled pairs' words alone through the model,
//! mean over the real tokens (BOS/EOS/PAD excluded), L2-normalised, as the authors' script; per
//! hidden state and adapter state an exact t-SNE of the 50 vectors (lexalign-metrics' `tsne`,
//! scikit-learn's method: perplexity 15, 1,000 iterations, PCA start, so no random state), its
//! trustworthiness at 5 neighbours, and each pair's translation rank among the 25 English words
//! by cosine in the original space: what the picture cannot show.

use anyhow::{ensure, Context, Result};
use lexalign_data::authors_rows::{TsnePointRow, TsneRankRow};
use lexalign_data::Pair;
use lexalign_metrics::matrix::Matrix;
use lexalign_metrics::tsne::{translation_ranks, trustworthiness, tsne, TsneOptions};
use lexalign_model::Pooling;
use lexalign_published::probe::scripts::TsnePanel;
use lexalign_stages::LoadedRun;

/// Per requested layer: the 25 Swahili then the 25 English vectors, L2-normalised (`[50, hidden]`).
pub fn embed_pairs(run: &LoadedRun, pairs: &[Pair], layers: &[usize]) -> Result<Vec<Matrix>> {
    let words: Vec<&str> = pairs
        .iter()
        .map(|p| p.source.as_str())
        .chain(pairs.iter().map(|p| p.target.as_str()))
        .collect();
    let emb = run
        .model
        .embed(&words, layers, Pooling::MeanContent, 64, |_| {})?;
    (0..layers.len())
        .map(|slot| {
            let t = emb
                .vectors(slot)?
                .to_kind(lexalign_model::tch::Kind::Float)
                .contiguous();
            let (rows, cols) = (t.size()[0] as usize, t.size()[1] as usize);
            let data = Vec::<f32>::try_from(t.view([-1])).context("vectors to host")?;
            Matrix::from_f32(rows, cols, &data)?
                .l2_normalised(&format!("hidden state {}", layers[slot]))
        })
        .collect()
}

/// The four panels' points, ranks and numbers.
pub struct TsneOut {
    pub points: Vec<TsnePointRow>,
    pub ranks: Vec<TsneRankRow>,
    pub panels: Vec<TsnePanel>,
}

/// t-SNE and ranks of every (layer, state); `before` / `after` from [`embed_pairs`].
pub fn panels(
    pairs: &[Pair],
    layers: &[usize],
    before: &[Matrix],
    after: &[Matrix],
) -> Result<TsneOut> {
    let n = pairs.len();
    ensure!(n >= 2, "script 04's t-SNE needs pairs; got {n}");
    let mut out = TsneOut {
        points: Vec::new(),
        ranks: Vec::new(),
        panels: Vec::new(),
    };
    let idx = |from: usize| (from..from + n).collect::<Vec<_>>();
    for (li, &layer) in layers.iter().enumerate() {
        let mut state_ranks = Vec::new();
        for (state, m) in [("before", &before[li]), ("after", &after[li])] {
            let t = tsne(m, &TsneOptions::default())
                .with_context(|| format!("t-SNE of hidden state {layer} {state}"))?;
            let ranks = translation_ranks(&m.select_rows(&idx(0)), &m.select_rows(&idx(n)))?;
            for (i, xy) in t.embedding.iter().enumerate() {
                let (lang, p) = if i < n {
                    ("sw", &pairs[i])
                } else {
                    ("en", &pairs[i - n])
                };
                out.points.push(TsnePointRow {
                    layer,
                    state: state.into(),
                    lang: lang.into(),
                    pair: i % n,
                    word: if i < n {
                        p.source.clone()
                    } else {
                        p.target.clone()
                    },
                    x: xy[0],
                    y: xy[1],
                });
            }
            out.panels.push(TsnePanel {
                layer,
                state: state.into(),
                kl_divergence: t.kl_divergence,
                n_iter: t.n_iter,
                trustworthiness_5: trustworthiness(m, &t.embedding, 5)?,
                mean_rank: ranks.iter().sum::<usize>() as f64 / n as f64,
                rank_1: ranks.iter().filter(|&&r| r == 1).count(),
            });
            state_ranks.push(ranks);
        }
        for (i, p) in pairs.iter().enumerate() {
            out.ranks.push(TsneRankRow {
                layer,
                pair: i,
                swahili: p.source.clone(),
                english: p.target.clone(),
                rank_before: state_ranks[0][i],
                rank_after: state_ranks[1][i],
            });
        }
    }
    Ok(out)
}
