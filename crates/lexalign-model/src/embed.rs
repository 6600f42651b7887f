//! Word embeddings from hidden states: batches of words through one forward each, pooled at
//! every requested layer.

use crate::llama::PoolRequest;
use crate::load::LoadedModel;
use crate::pooling::Pooling;
use anyhow::Result;
use tch::{Device, Kind, Tensor};

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
        mut on_batch: impl FnMut(usize),
    ) -> Result<LayerEmbeddings> {
        let n_hidden = self.model.num_hidden_states();
        for &l in layers {
            anyhow::ensure!(l < n_hidden, "layer {l} does not exist: the model has hidden states 0..={}", n_hidden - 1);
        }
        let loaded_blocks = self.model.layers.len();
        let need = *layers.iter().max().unwrap_or(&0);
        anyhow::ensure!(need <= loaded_blocks || need == 0, "layer {need} needs {need} blocks but only {loaded_blocks} were loaded");
        let req = PoolRequest { layers: layers.to_vec(), pooling };
        let mut parts: Vec<Vec<Tensor>> = (0..layers.len()).map(|_| Vec::new()).collect();
        let _guard = tch::no_grad_guard();
        let mut done = 0;
        for chunk in words.chunks(batch_size.max(1)) {
            let batch = self.tokenizer.batch(chunk, self.model.device)?;
            let pooled = self.model.pooled(&batch.input_ids, &batch.masks, &req, false);
            for (slot, t) in pooled.into_iter().enumerate() {
                parts[slot].push(t.to_device(Device::Cpu).to_kind(Kind::Float));
            }
            done += chunk.len();
            on_batch(done);
        }
        let vectors = parts.into_iter().map(|p| Tensor::cat(&p, 0)).collect();
        Ok(LayerEmbeddings { layers: layers.to_vec(), vectors })
    }
}

/// Row-wise cosine of two `[n, d]` L2-normalised matrices (a dot product), as f64.
pub fn rowwise_cosine(a: &Tensor, b: &Tensor) -> Vec<f64> {
    let dots = (a.to_kind(Kind::Double) * b.to_kind(Kind::Double)).sum_dim_intlist(1, false, Kind::Double);
    Vec::<f64>::try_from(dots).expect("cosines to host")
}
