//! Language-model loss of a text: the negative log-likelihood, in nats, of every token after the
//! first given the tokens before it, as transformers' `model(ids, labels=ids).loss` times the
//! number of predicted tokens. One uncached forward of the whole text (the parity-tested path),
//! then the output head over at most [`CHUNK`] positions at a time (Gemma's 262k-token
//! vocabulary makes a full `[positions, vocab]` log-softmax large).

use crate::decoder::Decoder;
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// Positions whose logits are materialised at once.
pub const CHUNK: i64 = 64;

/// The loss of one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextLoss {
    /// Tokens predicted (all but the first).
    pub tokens: usize,
    /// Sum of their negative log-likelihoods, nats.
    pub nll_sum: f64,
}

impl Decoder {
    /// Hidden states after the final norm, `[n, hidden]`, of `ids` in one uncached forward.
    pub fn final_hidden(&self, ids: &[i64]) -> Tensor {
        let _guard = tch::no_grad_guard();
        let n = self.cfg.num_hidden_layers;
        let t = Tensor::from_slice(ids).view([1, -1]).to_device(self.device);
        let att = Tensor::ones([1, ids.len() as i64], (Kind::Int64, self.device));
        let mut out = None;
        self.forward_hidden(&t, &att, n, false, &mut |i, h| {
            if i == n {
                out = Some(h.get(0));
            }
        });
        out.expect("the last hidden state")
    }

    /// The negative log-likelihood of `ids` (special tokens as the tokenizer adds them).
    pub fn text_nll(&self, ids: &[i64]) -> Result<TextLoss> {
        if ids.len() < 2 {
            bail!(
                "a text of {} token(s) has nothing to predict: the loss needs at least 2 tokens",
                ids.len()
            );
        }
        if ids.len() > self.cfg.max_position_embeddings {
            bail!(
                "a text of {} tokens passes the model's context of {} tokens",
                ids.len(),
                self.cfg.max_position_embeddings
            );
        }
        let _guard = tch::no_grad_guard();
        let h = self.final_hidden(ids);
        let n = ids.len() as i64 - 1;
        let targets = Tensor::from_slice(&ids[1..]).to_device(self.device);
        let mut nll_sum = 0f64;
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            let logp = self
                .logits(&h.narrow(0, start, len))?
                .log_softmax(-1, Kind::Float);
            let picked = logp.gather(1, &targets.narrow(0, start, len).unsqueeze(1), false);
            nll_sum -= picked
                .to_kind(Kind::Double)
                .sum(Kind::Double)
                .double_value(&[]);
            start += len;
        }
        if !nll_sum.is_finite() {
            bail!(
                "the loss of a text of {} tokens is not finite ({nll_sum})",
                ids.len()
            );
        }
        Ok(TextLoss {
            tokens: n as usize,
            nll_sum,
        })
    }
}
