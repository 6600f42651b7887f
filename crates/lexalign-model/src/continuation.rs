//! Scoring candidate continuations of one prompt (prompted word translation ranks a candidate pool
//! by the total log-probability of each candidate's tokens after the prompt). The prompt runs
//! once; its keys and values ([`SharedPrefix`]) are then read, broadcast over the batch, by all
//! candidates at once (`[candidates, longest candidate]`, right-padded: a real query never sees a
//! padded key, which comes after it). The first token of every candidate is scored from the
//! prompt's own last logits. The same prefix also continues greedily, one token per step.
//!
//! `generate::KvCache` is batch 1 and keeps its slots private, so the shared, batch-broadcast
//! prefix lives here; both use the same blocks, RoPE tables and masks as the padded forward.

use crate::decoder::{eager_attention, repeat_kv, sdpa, Attention, Decoder};
use crate::family::LayerType;
use crate::rope;
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// Positions whose logits are materialised at once (Gemma's vocabulary has 262k entries).
const CHUNK: i64 = 64;

/// The prompt's keys and values of every block (`[1, kv_heads, positions, head_dim]`).
pub struct SharedPrefix {
    layers: Vec<(Tensor, Tensor)>,
    len: i64,
    /// f64 log-probabilities `[vocab]` of the token after the last position (of f32 logits).
    pub next_logp: Tensor,
}

impl SharedPrefix {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Decoder {
    /// Runs `prompt` once and keeps its keys and values.
    pub fn shared_prefix(&self, prompt: &[i64]) -> Result<SharedPrefix> {
        self.check_context(prompt.len(), 1)?;
        let _guard = tch::no_grad_guard();
        let ids = Tensor::from_slice(prompt)
            .view([1, -1])
            .to_device(self.device);
        let mut layers = Vec::new();
        let h = self.forward_prefixed(&ids, None, &mut Some(&mut layers));
        let n = prompt.len() as i64;
        let next_logp = self
            .logits(&h.get(0).get(n - 1))?
            .to_kind(Kind::Double)
            .log_softmax(-1, Kind::Double);
        Ok(SharedPrefix {
            layers,
            len: n,
            next_logp,
        })
    }

    /// Appends one token to `prefix` (greedy continuation) and updates `next_logp`.
    pub fn extend_prefix(&self, prefix: &mut SharedPrefix, token: i64) -> Result<()> {
        self.check_context(prefix.len() + 1, 1)?;
        let _guard = tch::no_grad_guard();
        let ids = Tensor::from_slice(&[token])
            .view([1, 1])
            .to_device(self.device);
        let mut fresh = Vec::new();
        let h = self.forward_prefixed(&ids, Some(&*prefix), &mut Some(&mut fresh));
        prefix.layers = fresh;
        prefix.len += 1;
        prefix.next_logp = self
            .logits(&h.get(0).get(0))?
            .to_kind(Kind::Double)
            .log_softmax(-1, Kind::Double);
        Ok(())
    }

    /// The total log-probability (nats) of each candidate's tokens after `prefix`. A candidate
    /// with no tokens is refused.
    pub fn score_continuations(
        &self,
        prefix: &SharedPrefix,
        candidates: &[Vec<i64>],
    ) -> Result<Vec<f64>> {
        if let Some(i) = candidates.iter().position(|c| c.is_empty()) {
            bail!("candidate {i} has no tokens: every candidate needs at least one");
        }
        let longest = candidates.iter().map(Vec::len).max().unwrap_or(0);
        self.check_context(prefix.len(), longest)?;
        let _guard = tch::no_grad_guard();
        let firsts: Vec<i64> = candidates.iter().map(|c| c[0]).collect();
        let first = prefix
            .next_logp
            .index_select(0, &Tensor::from_slice(&firsts).to_device(self.device));
        let mut scores: Vec<f64> = Vec::<f64>::try_from(first.to_kind(Kind::Double))?;
        if longest < 2 {
            return Ok(scores);
        }
        // Every candidate's tokens but its last are inputs; positions (row, t) predict token t + 1.
        let m = longest as i64 - 1;
        let rows: Vec<i64> = candidates
            .iter()
            .flat_map(|c| (0..m as usize).map(move |t| if t + 1 < c.len() { c[t] } else { 0 }))
            .collect();
        let ids = Tensor::from_slice(&rows)
            .view([candidates.len() as i64, m])
            .to_device(self.device);
        let h = self.forward_prefixed(&ids, Some(prefix), &mut None);
        let (mut flat, mut targets, mut owner) = (Vec::new(), Vec::new(), Vec::new());
        for (b, c) in candidates.iter().enumerate() {
            for t in 0..c.len() - 1 {
                flat.push(b as i64 * m + t as i64);
                targets.push(c[t + 1]);
                owner.push(b);
            }
        }
        let h = h
            .view([-1, h.size()[2]])
            .index_select(0, &Tensor::from_slice(&flat).to_device(self.device));
        let targets = Tensor::from_slice(&targets).to_device(self.device);
        let mut start = 0;
        while start < flat.len() as i64 {
            let len = CHUNK.min(flat.len() as i64 - start);
            let logp = self
                .logits(&h.narrow(0, start, len))?
                .to_kind(Kind::Double)
                .log_softmax(-1, Kind::Double);
            let picked = logp.gather(1, &targets.narrow(0, start, len).unsqueeze(1), false);
            let picked = Vec::<f64>::try_from(picked.view([-1]).to_kind(Kind::Double))?;
            for (k, v) in picked.into_iter().enumerate() {
                scores[owner[start as usize + k]] += v;
            }
            start += len;
        }
        if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
            bail!(
                "candidate {i}'s log-probability is not finite ({})",
                scores[i]
            );
        }
        Ok(scores)
    }

    /// The blocks on `ids` `[b, n]` placed after `prefix` (broadcast over the batch); with `keep`,
    /// stores every block's keys and values (prefix and new; batch 1 only). Returns the hidden
    /// states after the final norm `[b, n, hidden]`.
    fn forward_prefixed(
        &self,
        ids: &Tensor,
        prefix: Option<&SharedPrefix>,
        keep: &mut Option<&mut Vec<(Tensor, Tensor)>>,
    ) -> Tensor {
        assert_eq!(
            self.layers.len(),
            self.cfg.num_hidden_layers,
            "scoring needs every block loaded"
        );
        let (b, n) = (ids.size()[0], ids.size()[1]);
        let past = prefix.map_or(0, |p| p.len);
        let total = past + n;
        let mut h = Tensor::embedding(&self.embed_tokens, ids, -1, false, false);
        if let Some(scale) = self.embed_scale {
            h *= scale;
        }
        let mut h = h.to_kind(self.kind);
        let rope_at = |r: &rope::Rope| {
            let (c, s) = r.cos_sin(total, self.kind);
            (c.narrow(0, past, n), s.narrow(0, past, n))
        };
        let (full, sliding) = (rope_at(&self.ropes.full), rope_at(&self.ropes.sliding));
        for (i, block) in self.layers.iter().enumerate() {
            let ty = block.layer_type;
            let mask = self.cached_bias(past, n, ty);
            let (cos, sin) = match ty {
                LayerType::Full => &full,
                LayerType::Sliding(_) => &sliding,
            };
            let past_kv = prefix.map(|p| &p.layers[i]);
            let mut stored = None;
            h = block.forward_with(
                &h,
                |x| {
                    block.self_attn.forward_prefixed(
                        x,
                        (cos, sin),
                        &mask,
                        past_kv,
                        &mut stored,
                        self,
                        b,
                    )
                },
                [None, None, None],
            );
            if let (Some(k), Some(kv)) = (keep.as_mut(), stored) {
                k.push(kv);
            }
        }
        self.norm.forward(&h)
    }
}

impl Attention {
    /// Attention of `x` `[b, n, hidden]` over the prefix's keys (broadcast to `b`) and its own;
    /// `stored` gets the concatenated keys and values when `b` is 1.
    #[allow(clippy::too_many_arguments)]
    fn forward_prefixed(
        &self,
        x: &Tensor,
        (cos, sin): (&Tensor, &Tensor),
        mask: &Tensor,
        past: Option<&(Tensor, Tensor)>,
        stored: &mut Option<(Tensor, Tensor)>,
        model: &Decoder,
        b: i64,
    ) -> Tensor {
        let cfg = &model.cfg;
        let n = x.size()[1];
        let (nh, nkv, hd) = (
            cfg.num_attention_heads as i64,
            cfg.num_kv_heads() as i64,
            cfg.head_dim() as i64,
        );
        let mut q = self.q_proj.forward(x, None).view([b, n, nh, hd]);
        let mut k = self.k_proj.forward(x, None).view([b, n, nkv, hd]);
        let v = self
            .v_proj
            .forward(x, None)
            .view([b, n, nkv, hd])
            .transpose(1, 2);
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(&q);
            k = kn.forward(&k);
        }
        let q = rope::apply(&q.transpose(1, 2), cos, sin);
        let k = rope::apply(&k.transpose(1, 2), cos, sin);
        let (k, v) = match past {
            Some((pk, pv)) => {
                let p = pk.size()[2];
                let (pk, pv) = (
                    pk.expand([b, nkv, p, hd], false),
                    pv.expand([b, nkv, p, hd], false),
                );
                (Tensor::cat(&[&pk, &k], 2), Tensor::cat(&[&pv, &v], 2))
            }
            None => (k, v),
        };
        if b == 1 {
            *stored = Some((k.shallow_clone(), v.shallow_clone()));
        }
        let rep = nh / nkv;
        let (k, v) = if rep > 1 {
            (repeat_kv(&k, rep), repeat_kv(&v, rep))
        } else {
            (k, v)
        };
        let out = if q.kind() == Kind::Float {
            sdpa(&q, &k, &v, mask, cfg.attention_scale())
        } else {
            eager_attention(&q, &k, &v, mask, cfg.attention_scale())
        };
        let out = out.transpose(1, 2).contiguous().view([b, n, nh * hd]);
        self.o_proj.forward(&out, None)
    }
}
