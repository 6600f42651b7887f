//! Word embeddings from hidden states: the decoder's per-layer observer pools each requested
//! hidden state as it passes, for every pooling asked for, in one forward per batch.

use crate::decoder::Decoder;
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
    pub fn pooled(&self, input_ids: &Tensor, masks: &PoolMasks, req: &PoolRequest, train: bool) -> Vec<Tensor> {
        self.pooled_multi(input_ids, masks, &req.layers, &[req.pooling], train).remove(0)
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
        let max_layer = *layers.iter().max().expect("at least one layer requested");
        let mut out: Vec<Vec<Option<Tensor>>> = poolings.iter().map(|_| layers.iter().map(|_| None).collect()).collect();
        self.forward_hidden(input_ids, &masks.attention, max_layer, train, &mut |idx, h| {
            for (pi, &pooling) in poolings.iter().enumerate() {
                let mut pooled: Option<Tensor> = None;
                for (slot, &want) in layers.iter().enumerate() {
                    if want == idx {
                        let p = pooled.get_or_insert_with(|| pool(h, masks, pooling));
                        out[pi][slot] = Some(p.shallow_clone());
                    }
                }
            }
        });
        out.into_iter()
            .map(|per| per.into_iter().map(|t| t.expect("every requested layer pooled")).collect())
            .collect()
    }
}

/// Per requested layer, a `[n_words, hidden]` f32 CPU tensor of L2-normalised vectors.
pub struct LayerEmbeddings {
    pub layers: Vec<usize>,
    pub vectors: Vec<Tensor>,
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
        Ok(self.embed_multi(words, layers, &[pooling], batch_size, on_batch)?.remove(0))
    }

    /// Embeds `words` once for several poolings (one forward per batch); one result per pooling.
    pub fn embed_multi(
        &self,
        words: &[&str],
        layers: &[usize],
        poolings: &[Pooling],
        batch_size: usize,
        mut on_batch: impl FnMut(usize),
    ) -> Result<Vec<LayerEmbeddings>> {
        let n_hidden = self.model.num_hidden_states();
        for &l in layers {
            anyhow::ensure!(l < n_hidden, "layer {l} does not exist: the model has hidden states 0..={}", n_hidden - 1);
        }
        let loaded_blocks = self.model.layers.len();
        let need = *layers.iter().max().unwrap_or(&0);
        anyhow::ensure!(need <= loaded_blocks || need == 0, "layer {need} needs {need} blocks but only {loaded_blocks} were loaded");
        // Words are batched by token length (longest first) so that padding stays small, then
        // put back in input order; each row's result does not depend on its batch (right padding).
        let rows: Vec<Vec<i64>> = words.iter().map(|w| self.tokenizer.encode_content(w)).collect::<Result<_>>()?;
        let order = length_order(&rows);
        let mut parts: Vec<Vec<Vec<Tensor>>> = poolings.iter().map(|_| layers.iter().map(|_| Vec::new()).collect()).collect();
        let _guard = tch::no_grad_guard();
        let (mut done, mut real, mut padded) = (0, 0usize, 0usize);
        for chunk in order.chunks(batch_size.max(1)) {
            let batch_rows: Vec<Vec<i64>> = chunk.iter().map(|&i| rows[i].clone()).collect();
            let chunk_words: Vec<&str> = chunk.iter().map(|&i| words[i]).collect();
            real += batch_rows.iter().map(Vec::len).sum::<usize>();
            padded += batch_rows.len() * batch_rows.iter().map(Vec::len).max().unwrap_or(0);
            let batch = self.tokenizer.batch_from_ids(&batch_rows, self.model.device);
            let pooled = self.model.pooled_multi(&batch.input_ids, &batch.masks, layers, poolings, false);
            for (pi, per_layer) in pooled.into_iter().enumerate() {
                for (slot, t) in per_layer.into_iter().enumerate() {
                    let t = t.to_device(Device::Cpu).to_kind(Kind::Float);
                    crate::finite::ensure_rows_finite(&t, &chunk_words, layers[slot])?;
                    parts[pi][slot].push(t);
                }
            }
            done += chunk.len();
            on_batch(done);
        }
        if padded > 0 {
            log::info!("embedded {} words: {real} tokens, {padded} with padding ({:.1} % padding)", words.len(), 100.0 * (padded - real) as f64 / padded as f64);
        }
        let mut inverse = vec![0i64; order.len()];
        for (pos, &i) in order.iter().enumerate() {
            inverse[i] = pos as i64;
        }
        let inverse = Tensor::from_slice(&inverse);
        Ok(parts
            .into_iter()
            .map(|per_layer| LayerEmbeddings {
                layers: layers.to_vec(),
                vectors: per_layer.into_iter().map(|p| Tensor::cat(&p, 0).index_select(0, &inverse)).collect(),
            })
            .collect())
    }
}

/// Row indices longest first (stable), the order [`LoadedModel::embed_multi`] batches in.
fn length_order(rows: &[Vec<i64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(rows[i].len()));
    order
}

impl LoadedModel {
    /// (real tokens, tokens once each batch is padded to its longest row) of `embed_multi` over
    /// `words` in batches of `batch_size` (for the benchmark's padding fraction).
    pub fn padding(&self, words: &[&str], batch_size: usize) -> Result<(usize, usize)> {
        let rows: Vec<Vec<i64>> = words.iter().map(|w| self.tokenizer.encode_content(w)).collect::<Result<_>>()?;
        let order = length_order(&rows);
        let (mut real, mut padded) = (0, 0);
        for chunk in order.chunks(batch_size.max(1)) {
            real += chunk.iter().map(|&i| rows[i].len()).sum::<usize>();
            padded += chunk.len() * chunk.iter().map(|&i| rows[i].len()).max().unwrap_or(0);
        }
        Ok((real, padded))
    }
}

/// Row-wise cosine of two `[n, d]` L2-normalised matrices (a dot product), as f64.
pub fn rowwise_cosine(a: &Tensor, b: &Tensor) -> Vec<f64> {
    let dots = (a.to_kind(Kind::Double) * b.to_kind(Kind::Double)).sum_dim_intlist(1, false, Kind::Double);
    Vec::<f64>::try_from(dots).expect("cosines to host")
}
