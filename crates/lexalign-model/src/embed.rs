//! Word embeddings from hidden states: the decoder's per-layer observer pools each requested
//! hidden state as it passes, for every pooling asked for, in one forward per batch.

use crate::decoder::Decoder;
use crate::layer_store::LayerEmbeddings;
use crate::layer_store::{LayerSink, IN_MEMORY_BUDGET_BYTES};
use crate::load::LoadedModel;
use crate::pooling::{pool, PoolMasks, Pooling};
use anyhow::Result;
use tch::{Device, Kind, Tensor};

/// What one forward should produce.
#[derive(Debug, Clone)]
pub struct PoolRequest {
    /// HF hidden-state indices: 0 = embeddings, i = output of block i-1, `num_layers` = after the final norm.
    pub layers: Vec<usize>,
    pub pooling: Pooling,
}

impl Decoder {
    /// One `[batch, hidden]` f32, L2-normalised tensor per requested layer (in request order),
    /// running only the blocks the highest requested layer needs.
    pub fn pooled(
        &self,
        input_ids: &Tensor,
        masks: &PoolMasks,
        req: &PoolRequest,
        train: bool,
    ) -> Vec<Tensor> {
        self.pooled_multi(input_ids, masks, &req.layers, &[req.pooling], train)
            .remove(0)
    }

    /// `[pooling][layer slot]` pooled tensors from a single forward.
    pub fn pooled_multi(
        &self,
        input_ids: &Tensor,
        masks: &PoolMasks,
        layers: &[usize],
        poolings: &[Pooling],
        train: bool,
    ) -> Vec<Vec<Tensor>> {
        self.pooled_segments(&[(input_ids, masks)], layers, poolings, train)
            .remove(0)
    }

    /// `[segment][pooling][layer slot]` pooled tensors of several right-padded batches (each
    /// with its masks) in one packed forward ([`Decoder::forward_segments`]): the values of one
    /// [`Self::pooled_multi`] per segment in order, dropout masks included.
    pub fn pooled_segments(
        &self,
        segments: &[(&Tensor, &PoolMasks)],
        layers: &[usize],
        poolings: &[Pooling],
        train: bool,
    ) -> Vec<Vec<Vec<Tensor>>> {
        let max_layer = *layers.iter().max().expect("at least one layer requested");
        let mut out: Vec<Vec<Vec<Option<Tensor>>>> = segments
            .iter()
            .map(|_| {
                poolings
                    .iter()
                    .map(|_| layers.iter().map(|_| None).collect())
                    .collect()
            })
            .collect();
        let inputs: Vec<(&Tensor, &Tensor)> = segments
            .iter()
            .map(|(ids, m)| (*ids, &m.attention))
            .collect();
        self.forward_segments(&inputs, max_layer, train, &mut |k, idx, h| {
            for (pi, &pooling) in poolings.iter().enumerate() {
                let mut pooled: Option<Tensor> = None;
                for (slot, &want) in layers.iter().enumerate() {
                    if want == idx {
                        let p = pooled.get_or_insert_with(|| pool(h, segments[k].1, pooling));
                        out[k][pi][slot] = Some(p.shallow_clone());
                    }
                }
            }
        });
        out.into_iter()
            .map(|per_pooling| {
                per_pooling
                    .into_iter()
                    .map(|per| {
                        per.into_iter()
                            .map(|t| t.expect("every requested layer pooled"))
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }
}

impl LoadedModel {
    /// Embeds `words` in batches of `batch_size`; `on_batch` is called with the number of words done.
    pub fn embed(
        &self,
        words: &[&str],
        layers: &[usize],
        pooling: Pooling,
        batch_size: usize,
        on_batch: impl FnMut(usize),
    ) -> Result<LayerEmbeddings> {
        Ok(self
            .embed_multi(words, layers, &[pooling], batch_size, on_batch)?
            .remove(0))
    }

    /// Embeds `words` once for several poolings (one forward per batch); one result per pooling.
    pub fn embed_multi(
        &self,
        words: &[&str],
        layers: &[usize],
        poolings: &[Pooling],
        batch_size: usize,
        on_batch: impl FnMut(usize),
    ) -> Result<Vec<LayerEmbeddings>> {
        self.embed_multi_within(
            words,
            layers,
            poolings,
            batch_size,
            IN_MEMORY_BUDGET_BYTES,
            on_batch,
        )
    }

    /// [`Self::embed_multi`] keeping at most `memory_budget` bytes of pooled vectors in memory
    /// (the rest wait in temp files; same bits either way).
    pub fn embed_multi_within(
        &self,
        words: &[&str],
        layers: &[usize],
        poolings: &[Pooling],
        batch_size: usize,
        memory_budget: u64,
        mut on_batch: impl FnMut(usize),
    ) -> Result<Vec<LayerEmbeddings>> {
        let n_hidden = self.model.num_hidden_states();
        for &l in layers {
            anyhow::ensure!(
                l < n_hidden,
                "layer {l} does not exist: the model has hidden states 0..={}",
                n_hidden - 1
            );
        }
        let loaded_blocks = self.model.layers.len();
        let need = *layers.iter().max().unwrap_or(&0);
        anyhow::ensure!(
            need <= loaded_blocks || need == 0,
            "layer {need} needs {need} blocks but only {loaded_blocks} were loaded"
        );
        // Words are batched by exact token length ([`batch_plan`]), so no batch holds padding,
        // then put back in input order; each row's result does not depend on its batch.
        let rows: Vec<Vec<i64>> = words
            .iter()
            .map(|w| self.tokenizer.encode_content(w))
            .collect::<Result<_>>()?;
        let plan = batch_plan(&rows, batch_size);
        let mut sink = LayerSink::new(
            words.len(),
            self.model.cfg.hidden_size,
            layers,
            poolings.len(),
            memory_budget,
        )?;
        let _guard = tch::no_grad_guard();
        let (mut done, mut real, mut padded) = (0, 0usize, 0usize);
        for chunk in &plan {
            let batch_rows: Vec<Vec<i64>> = chunk.iter().map(|&i| rows[i].clone()).collect();
            let chunk_words: Vec<&str> = chunk.iter().map(|&i| words[i]).collect();
            real += batch_rows.iter().map(Vec::len).sum::<usize>();
            padded += batch_rows.len() * batch_rows.iter().map(Vec::len).max().unwrap_or(0);
            let batch = self
                .tokenizer
                .batch_from_ids(&batch_rows, self.model.device);
            let pooled =
                self.model
                    .pooled_multi(&batch.input_ids, &batch.masks, layers, poolings, false);
            for (pi, per_layer) in pooled.into_iter().enumerate() {
                for (slot, t) in per_layer.into_iter().enumerate() {
                    let t = t.to_device(Device::Cpu).to_kind(Kind::Float);
                    crate::finite::ensure_rows_finite(&t, &chunk_words, layers[slot])?;
                    sink.push(pi, slot, t)?;
                }
            }
            done += chunk.len();
            on_batch(done);
        }
        if padded > 0 {
            log::info!(
                "embedded {} words: {real} tokens, {padded} with padding ({:.1} % padding)",
                words.len(),
                100.0 * (padded - real) as f64 / padded as f64
            );
        }
        let mut inverse = vec![0i64; rows.len()];
        for (pos, &i) in plan.iter().flatten().enumerate() {
            inverse[i] = pos as i64;
        }
        sink.finish(&inverse)
    }
}

/// The forwards of a scan: row indices grouped by exact token length (longest first, input order
/// within a length), each group cut into batches of about `batch_size` words' worth of tokens
/// (`batch_size` x the mean row length), so that a forward never holds padding and costs about
/// the same whatever the words' lengths. Every row appears exactly once.
pub fn batch_plan(rows: &[Vec<i64>], batch_size: usize) -> Vec<Vec<usize>> {
    let total: usize = rows.iter().map(Vec::len).sum();
    let mean = total.div_ceil(rows.len().max(1)).max(1);
    let budget = batch_size.max(1) * mean;
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(rows[i].len()));
    let mut plan = Vec::new();
    for group in order.chunk_by(|&a, &b| rows[a].len() == rows[b].len()) {
        let per_batch = (budget / rows[group[0]].len().max(1)).max(1);
        plan.extend(group.chunks(per_batch).map(<[usize]>::to_vec));
    }
    plan
}

impl LoadedModel {
    /// (real tokens, tokens once each batch is padded to its longest row) of `embed_multi` over
    /// `words` (for the benchmark's padding fraction; 0 % padding by construction of
    /// [`batch_plan`], counted rather than assumed).
    pub fn padding(&self, words: &[&str], batch_size: usize) -> Result<(usize, usize)> {
        let rows: Vec<Vec<i64>> = words
            .iter()
            .map(|w| self.tokenizer.encode_content(w))
            .collect::<Result<_>>()?;
        let (mut real, mut padded) = (0, 0);
        for chunk in batch_plan(&rows, batch_size) {
            real += chunk.iter().map(|&i| rows[i].len()).sum::<usize>();
            padded += chunk.len() * chunk.iter().map(|&i| rows[i].len()).max().unwrap_or(0);
        }
        Ok((real, padded))
    }
}
/// Row-wise cosine of two `[n, d]` L2-normalised matrices (a dot product), as f64.
pub fn rowwise_cosine(a: &Tensor, b: &Tensor) -> Vec<f64> {
    let dots =
        (a.to_kind(Kind::Double) * b.to_kind(Kind::Double)).sum_dim_intlist(1, false, Kind::Double);
    Vec::<f64>::try_from(dots).expect("cosines to host")
}

#[cfg(test)]
mod tests {
    use super::batch_plan;

    #[test]
    fn batches_hold_one_length_and_every_row_once() {
        let lens = [2usize, 5, 2, 3, 2, 5, 1, 2, 2, 3];
        let rows: Vec<Vec<i64>> = lens.iter().map(|&n| vec![7; n]).collect();
        // Mean length 27/10 -> 3; budget 2 x 3 = 6 tokens: 1 row of 5, 2 of 3, 3 of 2, 6 of 1.
        let plan = batch_plan(&rows, 2);
        assert_eq!(
            plan,
            vec![
                vec![1],
                vec![5],
                vec![3, 9],
                vec![0, 2, 4],
                vec![7, 8],
                vec![6]
            ]
        );
        let mut seen: Vec<usize> = plan.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>());
        for b in &plan {
            assert!(
                b.iter().all(|&i| lens[i] == lens[b[0]]),
                "{b:?} mixes lengths"
            );
        }
        assert!(batch_plan(&[], 4).is_empty());
    }
}
