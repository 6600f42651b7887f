//! The KV-cached forward of generation: the prompt runs once, then one token per step, each
//! block's rotated keys and values kept (`[1, kv_heads, positions, head_dim]`, before the grouped
//! heads are repeated), as transformers' `DynamicCache`. Sliding-window blocks (Gemma 3) keep every
//! key and mask the ones outside the window, which gives what HF's sliding cache gives.
//! One sequence (batch 1), no padding.
//!
//! Speed (one token is ~30 small ops per block): the keys and values live in buffers allocated
//! once for the positions the caller reserves ([`Decoder::new_cache_for`]) and written in place
//! (a `cat` per step re-copied the whole cache), grown by doubling past that; the grouped query
//! heads attend to their shared key head through a view (`[1, kv, rep * n, head_dim]`) instead of
//! copying every key `rep` times.

use crate::decoder::{eager_attention, mask_min, sdpa, Attention, Decoder};
use crate::family::LayerType;
use crate::rope;
use tch::{Kind, Tensor};

/// The keys and values of every block for the positions seen so far.
pub struct KvCache {
    /// Per block: key and value buffers `[1, kv_heads, capacity, head_dim]`; the first `len`
    /// positions are filled.
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: i64,
    /// Positions the first allocation holds.
    reserve: i64,
}

impl KvCache {
    /// Positions held (the next token's position).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// An independent copy (the buffers copied), to continue two decodings from one state.
    pub fn fork(&self) -> KvCache {
        KvCache {
            layers: self
                .layers
                .iter()
                .map(|l| l.as_ref().map(|(k, v)| (k.copy(), v.copy())))
                .collect(),
            len: self.len,
            reserve: self.reserve,
        }
    }
}

impl Decoder {
    /// An empty cache that grows as needed.
    pub fn new_cache(&self) -> KvCache {
        self.new_cache_for(0)
    }

    /// An empty cache whose buffers hold `positions` (prompt plus new tokens) without growing.
    pub fn new_cache_for(&self, positions: usize) -> KvCache {
        KvCache {
            layers: self.layers.iter().map(|_| None).collect(),
            len: 0,
            reserve: positions as i64,
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
            let slot = Slot {
                kv: &mut cache.layers[i],
                past,
                reserve: cache.reserve,
            };
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
    pub(crate) fn cached_bias(&self, past: i64, n: i64, ty: LayerType) -> Tensor {
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
        slot: Slot,
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
        let (k, v) = slot.append(&k, &v);
        let out = grouped_attention(&q, &k, &v, mask, nh / nkv, cfg.attention_scale());
        let out = out.transpose(1, 2).contiguous().view([1, n, nh * hd]);
        self.o_proj.forward(&out, None)
    }
}

/// One block's place in the cache during a forward.
struct Slot<'a> {
    kv: &'a mut Option<(Tensor, Tensor)>,
    past: i64,
    reserve: i64,
}

impl Slot<'_> {
    /// Writes the new keys and values (`[1, kv_heads, n, head_dim]`) after the `past` ones, in
    /// place, and returns views of all `past + n`.
    fn append(self, k: &Tensor, v: &Tensor) -> (Tensor, Tensor) {
        let (past, n) = (self.past, k.size()[2]);
        let need = past + n;
        let (bk, bv) = match self.kv.take() {
            Some((bk, bv)) if bk.size()[2] >= need => (bk, bv),
            old => {
                let cap = need
                    .max(self.reserve)
                    .max(old.as_ref().map_or(0, |(b, _)| 2 * b.size()[2]));
                let grow = |src: &Tensor, prev: Option<&Tensor>| {
                    let s = src.size();
                    let buf = Tensor::zeros([s[0], s[1], cap, s[3]], (src.kind(), src.device()));
                    if let Some(p) = prev.filter(|_| past > 0) {
                        buf.narrow(2, 0, past).copy_(&p.narrow(2, 0, past));
                    }
                    buf
                };
                (
                    grow(k, old.as_ref().map(|o| &o.0)),
                    grow(v, old.as_ref().map(|o| &o.1)),
                )
            }
        };
        bk.narrow(2, past, n).copy_(k);
        bv.narrow(2, past, n).copy_(v);
        let out = (bk.narrow(2, 0, need), bv.narrow(2, 0, need));
        *self.kv = Some((bk, bv));
        out
    }
}

/// Attention of `q` `[1, heads, n, d]` on keys and values `[1, kv_heads, t, d]`, the `rep` query
/// heads of a key head stacked as its rows (`[1, kv_heads, rep * n, d]`, the mask repeated to
/// match): the products of `repeat_kv`'s layout without its copies. f32 through the fused kernel,
/// bf16/f16 through HF's eager order of roundings, as the padded forward.
fn grouped_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    rep: i64,
    scale: f64,
) -> Tensor {
    let s = q.size();
    let (heads, n, d) = (s[1], s[2], s[3]);
    let kv = heads / rep;
    let q = q.reshape([1, kv, rep * n, d]);
    let mask = if rep > 1 && n > 1 {
        mask.repeat([1, 1, rep, 1])
    } else {
        mask.shallow_clone()
    };
    let out = if q.kind() == Kind::Float {
        sdpa(&q, k, v, &mask, scale)
    } else {
        eager_attention(&q, k, v, &mask, scale)
    };
    out.reshape([1, heads, n, d])
}
