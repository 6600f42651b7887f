//! `LaserLstmEncoder.forward` in tch: embedding, packed multi-layer (Bi)LSTM from zero states,
//! padded outputs set to -inf, max over time. The same ATen kernels as PyTorch's
//! `pack_padded_sequence` / `nn.LSTM` / `pad_packed_sequence`, so the result matches the Python
//! encoder to float rounding.

use crate::checkpoint::{Checkpoint, LstmParams};
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

pub struct LstmEncoder {
    pub params: LstmParams,
    embed: Tensor,
    /// Per layer, per direction: w_ih, w_hh, b_ih, b_hh (nn.LSTM's flat-weight order).
    flat: Vec<Tensor>,
    pub device: Device,
}

impl LstmEncoder {
    pub fn new(ckpt: &Checkpoint, device: Device) -> Result<Self> {
        Self::from_tensors(
            ckpt.params.clone(),
            |k| ckpt.tensors.get(k).map(|t| t.shallow_clone()),
            device,
        )
    }

    /// From any source of the state dict (the checkpoint, or seeded weights in a test).
    pub fn from_tensors(
        params: LstmParams,
        get: impl Fn(&str) -> Option<Tensor>,
        device: Device,
    ) -> Result<Self> {
        let mut tensors = Vec::new();
        for (k, shape) in params.expected_shapes() {
            let Some(t) = get(&k) else {
                bail!("state dict has no `{k}`")
            };
            if t.size() != shape {
                bail!(
                    "state dict `{k}` has shape {:?}, expected {shape:?}",
                    t.size()
                );
            }
            tensors.push(t.to_kind(Kind::Float).to_device(device));
        }
        let embed = tensors.remove(0);
        Ok(Self {
            params,
            embed,
            flat: tensors,
            device,
        })
    }

    /// Sentence vectors `[batch, output_dim]` for right-padded `tokens` `[batch, seqlen]` (pad id
    /// `padding_idx`) whose `lengths` are sorted in descending order, as SentenceEncoder batches.
    pub fn forward(&self, tokens: &Tensor, lengths: &[i64]) -> Result<Tensor> {
        let (bsz, seqlen) = tokens.size2()?;
        if lengths.len() as i64 != bsz
            || lengths.windows(2).any(|w| w[0] < w[1])
            || lengths.first() != Some(&seqlen)
        {
            bail!("lengths {lengths:?} must be sorted descending and start at the batch width {seqlen}");
        }
        let p = &self.params;
        let tokens = tokens.to_device(self.device);
        let x =
            Tensor::embedding(&self.embed, &tokens, p.padding_idx, false, false).transpose(0, 1); // T x B x C
        let lens = Tensor::from_slice(lengths);
        let (data, batch_sizes) = x.internal_pack_padded_sequence(&lens, false);
        let dirs = if p.bidirectional { 2 } else { 1 };
        let h0 = Tensor::zeros(
            [dirs * p.num_layers, bsz, p.hidden_size],
            (Kind::Float, self.device),
        );
        let c0 = h0.zeros_like();
        let (out, _, _) = Tensor::lstm_data(
            &data,
            &batch_sizes,
            &[h0, c0],
            &self.flat,
            true,
            p.num_layers,
            0.0,
            false,
            p.bidirectional,
        );
        let (x, _) = Tensor::internal_pad_packed_sequence(
            &out,
            &batch_sizes,
            false,
            p.padding_value,
            seqlen,
        );
        let mask = tokens.eq(p.padding_idx).transpose(0, 1).unsqueeze(-1);
        let x = x.masked_fill(&mask, f64::NEG_INFINITY);
        Ok(x.amax([0].as_slice(), false))
    }
}
