//! The KV-cached forward of generation: the prompt runs once, then one token per step, each
//! block's rotated keys and values kept (`[1, kv_heads, positions, head_dim]`, before the grouped
//! heads are repeated), as transformers' `DynamicCache`. Sliding-window blocks (Gemma 3) keep every
//! key and mask the ones outside the window, which gives what HF's sliding cache gives.
//! One sequence (batch 1), no padding.

use crate::decoder::{eager_attention, mask_min, repeat_kv, sdpa, Attention, Decoder};
use crate::family::LayerType;
use crate::rope;
use tch::{Kind, Tensor};

/// The keys and values of every block for the positions seen so far.
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: i64,
}

impl KvCache {
    /// Positions held (the next token's position).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Decoder {
    pub fn new_cache(&self) -> KvCache {
        KvCache {
            layers: self.layers.iter().map(|_| None).collect(),
            len: 0,
        }
    }

    /// Runs `ids` (`[1, n]`, the tokens after those already in `cache`) through every block with
    /// the cache, appends their keys and values, and returns the hidden states after the final
    /// norm, `[1, n, hidden]` in the compute dtype. Needs every block loaded; never trains.
    pub fn forward_cached(&self, ids: &Tensor, cache: &mut KvCache) -> Tensor {
        assert_eq!(
            self.layers.len(),
            self.cfg.num_hidden_layers,
            "generation needs every block loaded"
        );
        assert_eq!(ids.size()[0], 1, "the cached forward runs one sequence");
        let n = ids.size()[1];
        let past = cache.len;
        let total = past + n;
        let h = Tensor::embedding(&self.embed_tokens, ids, -1, false, false);
        let h = match self.embed_scale {
            Some(scale) => h * scale,
            None => h,
        };
        let mut h = h.to_kind(self.kind);
        let rope_at = |r: &rope::Rope| {
            let (c, s) = r.cos_sin(total, self.kind);
            (c.narrow(0, past, n), s.narrow(0, past, n))
        };
        let full = rope_at(&self.ropes.full);
        let sliding = rope_at(&self.ropes.sliding);
        let mut masks: Vec<(LayerType, Tensor)> = Vec::new();
        for (i, block) in self.layers.iter().enumerate() {
            let ty = block.layer_type;
            if !masks.iter().any(|(t, _)| *t == ty) {
                masks.push((ty, self.cached_bias(past, n, ty)));
            }
            let mask = &masks.iter().find(|(t, _)| *t == ty).expect("mask built").1;
            let (cos, sin) = match ty {
                LayerType::Full => &full,
                LayerType::Sliding(_) => &sliding,
            };
            let slot = &mut cache.layers[i];
            h = block.forward_with(
                &h,
                |x| {
                    block
                        .self_attn
                        .forward_cached(x, cos, sin, mask, slot, self)
                },
                [None, None, None],
            );
        }
        cache.len = total;
        self.norm.forward(&h)
    }

    /// Additive mask `[1, 1, n, past + n]`: query `i` (position `past + i`) sees key `j` when
    /// `j <= past + i`, and on a sliding layer when `past + i - j < window`; blocked keys get the
    /// dtype's minimum, as in the uncached forward.
    fn cached_bias(&self, past: i64, n: i64, ty: LayerType) -> Tensor {
        let dev = self.device;
        let q = Tensor::arange_start(past, past + n, (Kind::Int64, dev)).view([n, 1]);
        let k = Tensor::arange(past + n, (Kind::Int64, dev)).view([1, past + n]);
        let mut allowed = k.le_tensor(&q);
        if let LayerType::Sliding(w) = ty {
            allowed = allowed.logical_and(&(&q - &k).lt(w as i64));
        }
        let blocked = allowed.logical_not().view([1, 1, n, past + n]);
        Tensor::zeros([1, 1, n, past + n], (self.kind, dev))
            .masked_fill(&blocked, mask_min(self.kind))
    }
}

impl Attention {
    /// The projections, q/k norms and RoPE of the padded forward on `x` `[1, n, hidden]`, with the
    /// new keys and values appended to `slot` before attending.
    fn forward_cached(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
        slot: &mut Option<(Tensor, Tensor)>,
        model: &Decoder,
    ) -> Tensor {
        let cfg = &model.cfg;
        let n = x.size()[1];
        let (nh, nkv, hd) = (
            cfg.num_attention_heads as i64,
            cfg.num_kv_heads() as i64,
            cfg.head_dim() as i64,
        );
        let mut q = self.q_proj.forward(x, None).view([1, n, nh, hd]);
        let mut k = self.k_proj.forward(x, None).view([1, n, nkv, hd]);
        let v = self
            .v_proj
            .forward(x, None)
            .view([1, n, nkv, hd])
            .transpose(1, 2);
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(&q);
            k = kn.forward(&k);
        }
        let q = rope::apply(&q.transpose(1, 2), cos, sin);
        let k = rope::apply(&k.transpose(1, 2), cos, sin);
        let (k, v) = match slot.take() {
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2), Tensor::cat(&[&pv, &v], 2)),
            None => (k, v),
        };
        *slot = Some((k.shallow_clone(), v.shallow_clone()));
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
        let out = out.transpose(1, 2).contiguous().view([1, n, nh * hd]);
        self.o_proj.forward(&out, None)
    }
}
