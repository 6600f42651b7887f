//! The output head: next-token logits from hidden states after the final norm, as HF's
//! `*ForCausalLM` computes them (`lm_head`, which tied families share with the embedding table,
//! in the compute dtype; Gemma's final logit soft-capping when its config sets one), returned in
//! f32 as `generate` and the LM loss read them.

use crate::decoder::Decoder;
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

impl Decoder {
    /// The `[vocab, hidden]` output weight: `lm_head` of an untied model, else the embeddings.
    pub fn head_weight(&self) -> Result<&Tensor> {
        match &self.lm_head {
            Some(w) => Ok(w),
            None if self.cfg.tie_word_embeddings() => Ok(&self.embed_tokens),
            None => bail!(
                "this model has its own output head (`tie_word_embeddings` false) and it was not loaded: \
                 load with `LoadOptions {{ lm_head: true, .. }}` to compute logits"
            ),
        }
    }

    /// Logits `[..., vocab]` (f32) of hidden states `h` `[..., hidden]` taken after the final norm.
    pub fn logits(&self, h: &Tensor) -> Result<Tensor> {
        let w = self.head_weight()?;
        let mut logits = h.to_kind(self.kind).matmul(&w.to_kind(self.kind).tr());
        if let Some(cap) = self.cfg.final_logit_softcapping {
            logits = (logits / cap).tanh() * cap;
        }
        Ok(logits.to_kind(Kind::Float))
    }
}
