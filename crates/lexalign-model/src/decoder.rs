//! The decoder (HF numerics for Llama, Mistral, Qwen2, Qwen3 and Gemma 3 text), one block loop
//! with per-family switches. It knows nothing of pooling: [`Decoder::forward_hidden`] hands each
//! hidden state to an observer (as TransformerLens' hooks do) and stops at the last one asked for.

use crate::config::ModelConfig;
use crate::family::{Family, LayerType};
use crate::linear::Linear;
use crate::norm::RmsNorm;
use crate::pack::Packing;
use crate::rope::{self, Ropes};
use tch::{Device, Kind, Tensor};

#[derive(Debug)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    /// Per-head RMSNorm of queries/keys before RoPE (Qwen3, Gemma 3).
    pub q_norm: Option<RmsNorm>,
    pub k_norm: Option<RmsNorm>,
}

#[derive(Debug)]
pub struct Mlp {
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
    /// `gelu_pytorch_tanh` (Gemma) instead of SiLU.
    pub gelu_tanh: bool,
}

#[derive(Debug)]
pub struct Block {
    pub input_layernorm: RmsNorm,
    pub self_attn: Attention,
    /// Llama: the norm before the MLP. Gemma 3: the norm of the attention output.
    pub post_attention_layernorm: RmsNorm,
    /// Gemma 3 only: the norms before and after the MLP.
    pub pre_feedforward_layernorm: Option<RmsNorm>,
    pub post_feedforward_layernorm: Option<RmsNorm>,
    pub mlp: Mlp,
    pub layer_type: LayerType,
}

/// Frozen model plus optional LoRA adapters on its linear layers.
#[derive(Debug)]
pub struct Decoder {
    pub cfg: ModelConfig,
    pub family: Family,
    pub embed_tokens: Tensor,
    /// The output head `[vocab, hidden]` of an untied model, when loaded (`LoadOptions::lm_head`);
    /// tied models use `embed_tokens` (see [`crate::head`]).
    pub lm_head: Option<Tensor>,
    /// Multiplier of the embeddings (Gemma: `sqrt(hidden_size)` rounded to the weights' dtype).
    pub embed_scale: Option<f64>,
    pub layers: Vec<Block>,
    pub norm: RmsNorm,
    pub ropes: Ropes,
    pub device: Device,
    /// Compute dtype of the forward pass.
    pub kind: Kind,
}

impl Decoder {
    pub fn num_hidden_states(&self) -> usize {
        self.cfg.num_hidden_layers + 1
    }

    /// Runs the blocks up to hidden state `max_layer` (HF numbering: 0 = embeddings, i = output
    /// of block i-1, `num_layers` = after the final norm) and calls `observe(i, h)` with every
    /// hidden state `h` (`[batch, seq, hidden]`, compute dtype) on the way. `input_ids` and
    /// `attention` are `[batch, seq]`, right-padded. `train` enables LoRA dropout.
    pub fn forward_hidden(
        &self,
        input_ids: &Tensor,
        attention: &Tensor,
        max_layer: usize,
        train: bool,
        observe: &mut dyn FnMut(usize, &Tensor),
    ) {
        self.forward_segments(
            &[(input_ids, attention)],
            max_layer,
            train,
            &mut |_, i, h| observe(i, h),
        );
    }

    /// [`Self::forward_hidden`] of several right-padded batches ("segments", e.g. a TLI step's
    /// anchors and positives) in one packed forward ([`Packing`]): `observe(segment, i, h)` gets
    /// each segment's own `[batch, seq, hidden]`. The results are those of one forward per segment
    /// in order, LoRA dropout masks included (drawn up front in that order).
    pub fn forward_segments(
        &self,
        segments: &[(&Tensor, &Tensor)],
        max_layer: usize,
        train: bool,
        observe: &mut dyn FnMut(usize, usize, &Tensor),
    ) {
        let n_layers = self.cfg.num_hidden_layers;
        assert!(max_layer <= n_layers, "layer {max_layer} > {n_layers}");
        assert!(
            max_layer <= self.layers.len() || max_layer == 0,
            "layer {max_layer} needs blocks that were not loaded"
        );
        let shapes: Vec<(i64, i64)> = segments
            .iter()
            .map(|(ids, _)| (ids.size()[0], ids.size()[1]))
            .collect();
        let s = shapes
            .iter()
            .map(|x| x.1)
            .max()
            .expect("at least one segment");
        let widen = |t: &Tensor, si: i64| {
            if si == s {
                t.shallow_clone()
            } else {
                t.constant_pad_nd([0, s - si])
            }
        };
        let (input_ids, attention) = if segments.len() == 1 {
            (segments[0].0.shallow_clone(), segments[0].1.shallow_clone())
        } else {
            let ids: Vec<Tensor> = segments
                .iter()
                .zip(&shapes)
                .map(|((ids, _), &(_, si))| widen(ids, si))
                .collect();
            let att: Vec<Tensor> = segments
                .iter()
                .zip(&shapes)
                .map(|((_, att), &(_, si))| widen(att, si))
                .collect();
            (Tensor::cat(&ids, 0), Tensor::cat(&att, 0))
        };
        let b = input_ids.size()[0];
        let mut emit = |i: usize, h: &Tensor| {
            let mut row = 0;
            for (k, &(bk, sk)) in shapes.iter().enumerate() {
                if shapes.len() == 1 {
                    observe(k, i, h);
                } else {
                    observe(k, i, &h.narrow(0, row, bk).narrow(1, 0, sk));
                }
                row += bk;
            }
        };
        let mut h = Tensor::embedding(&self.embed_tokens, &input_ids, -1, false, false);
        if let Some(scale) = self.embed_scale {
            h *= scale;
        }
        let h = h.to_kind(self.kind);
        emit(0, &h);
        if max_layer == 0 {
            return;
        }
        // Masks first, in the order one forward per segment would draw them.
        let noise = if train {
            self.dropout_noise(segments, &shapes, max_layer)
        } else {
            None
        };
        // Padded batches run their row-wise work on the real tokens only.
        let pack = Packing::of(&attention);
        let mut h = match &pack {
            Some(p) => p.pack(&h),
            None => h,
        };
        let unpacked = |t: Tensor| match &pack {
            Some(p) => p.unpack(&t),
            None => t,
        };
        let full = self.ropes.full.cos_sin(s, self.kind);
        let sliding = self.ropes.sliding.cos_sin(s, self.kind);
        let mut masks: Vec<(LayerType, Tensor)> = Vec::new();
        for (i, block) in self.layers.iter().enumerate().take(max_layer) {
            let ty = block.layer_type;
            if !masks.iter().any(|(t, _)| *t == ty) {
                masks.push((ty, self.attention_bias(&attention, b, s, ty)));
            }
            let mask = &masks.iter().find(|(t, _)| *t == ty).expect("mask built").1;
            let (cos, sin) = match ty {
                LayerType::Full => &full,
                LayerType::Sliding(_) => &sliding,
            };
            let ctx = Ctx {
                cos,
                sin,
                mask,
                pack: pack.as_ref(),
                noise: noise.as_ref().map(|n| &n[i]),
                shape: (b, s),
            };
            h = block.forward(&h, &ctx, &self.cfg);
            let idx = i + 1;
            if idx == n_layers {
                emit(idx, &unpacked(self.norm.forward(&h)));
            } else {
                emit(idx, &unpacked(h.shallow_clone()));
            }
        }
    }

    /// Per block, per linear layer (HF module order), the LoRA dropout multiplier of the packed
    /// rows: drawn segment by segment, block by block, module by module (the order of one forward
    /// per segment), each over its segment's padded shape, then its real rows kept. `None` when
    /// no adapter below `max_layer` drops out.
    fn dropout_noise(
        &self,
        segments: &[(&Tensor, &Tensor)],
        shapes: &[(i64, i64)],
        max_layer: usize,
    ) -> Option<Vec<[Option<Tensor>; 7]>> {
        let blocks = &self.layers[..max_layer];
        let drops = |l: &Linear| {
            l.lora
                .as_ref()
                .filter(|a| a.dropout > 0.0)
                .map(|a| (a.dropout, a.a.kind(), l.base.out_in().1))
        };
        if !blocks
            .iter()
            .any(|b| b.linears().into_iter().any(|l| drops(l).is_some()))
        {
            return None;
        }
        let mut per_segment: Vec<Vec<[Option<Tensor>; 7]>> = Vec::new();
        for ((_, att), &(bk, sk)) in segments.iter().zip(shapes) {
            let pack = Packing::of(att);
            let drawn = blocks
                .iter()
                .map(|block| {
                    block.linears().map(|l| {
                        drops(l).map(|(p, kind, width)| {
                            let n =
                                crate::pack::dropout_noise(bk * sk, width, p, kind, self.device);
                            match &pack {
                                Some(pk) => pk.select(&n),
                                None => n,
                            }
                        })
                    })
                })
                .collect();
            per_segment.push(drawn);
        }
        Some(
            (0..blocks.len())
                .map(|bi| {
                    std::array::from_fn(|j| {
                        let parts: Vec<Tensor> = per_segment
                            .iter()
                            .filter_map(|seg| seg[bi][j].as_ref().map(Tensor::shallow_clone))
                            .collect();
                        (!parts.is_empty()).then(|| {
                            if parts.len() == 1 {
                                parts[0].shallow_clone()
                            } else {
                                Tensor::cat(&parts, 0)
                            }
                        })
                    })
                })
                .collect(),
        )
    }

    /// Additive mask `[batch, 1, seq, seq]`: causal (within the window for sliding layers) plus
    /// key padding, with the dtype's minimum for blocked positions (as HF's eager masks do, so
    /// padded rows stay finite).
    fn attention_bias(&self, attention: &Tensor, b: i64, s: i64, ty: LayerType) -> Tensor {
        let dev = self.device;
        let mut allowed = Tensor::ones([s, s], (Kind::Bool, dev)).tril(0);
        if let LayerType::Sliding(w) = ty {
            // HF's sliding overlay: key j is visible from query i when i - j < window.
            allowed =
                allowed.logical_and(&Tensor::ones([s, s], (Kind::Bool, dev)).triu(-(w as i64 - 1)));
        }
        let keys = attention.to_kind(Kind::Bool).view([b, 1, 1, s]);
        let allowed = allowed.view([1, 1, s, s]).logical_and(&keys);
        Tensor::zeros([b, 1, s, s], (self.kind, dev))
            .masked_fill(&allowed.logical_not(), mask_min(self.kind))
    }

    /// Bytes of weights held on the device: (4-bit or dense linear layers, everything else).
    pub fn resident_weight_bytes(&self) -> (u64, u64) {
        let t = |x: &Tensor| (x.numel() * x.kind().elt_size_in_bytes()) as u64;
        let mut linear = 0;
        let mut other = t(&self.embed_tokens)
            + t(&self.norm.weight)
            + self.lm_head.as_ref().map(t).unwrap_or(0);
        for b in &self.layers {
            for l in b.linears() {
                linear += l.base.resident_bytes();
                other += l.bias.as_ref().map(t).unwrap_or(0);
            }
            let norms = [
                Some(&b.input_layernorm),
                Some(&b.post_attention_layernorm),
                b.pre_feedforward_layernorm.as_ref(),
                b.post_feedforward_layernorm.as_ref(),
                b.self_attn.q_norm.as_ref(),
                b.self_attn.k_norm.as_ref(),
            ];
            other += norms
                .into_iter()
                .flatten()
                .map(|n| t(&n.weight))
                .sum::<u64>();
        }
        (linear, other)
    }
}

impl Decoder {
    /// Replaces every 4-bit base weight by its dequantized copy in the compute dtype
    /// (bit-identical to dequantizing on every forward, which is what makes a 4-bit forward slow
    /// on a CPU), at the cost of the dense weights' memory. Returns how many were converted.
    pub fn dequantize_4bit(&mut self) -> usize {
        let kind = self.kind;
        let mut n = 0;
        for block in self.layers.iter_mut() {
            for lin in block.linears_mut() {
                if let crate::linear::BaseWeight::Quant4(q) = &lin.base {
                    lin.base = crate::linear::BaseWeight::Dense(q.dequantize(kind));
                    n += 1;
                }
            }
        }
        n
    }
}

impl Block {
    pub fn linears_mut(&mut self) -> [&mut Linear; 7] {
        let (a, m) = (&mut self.self_attn, &mut self.mlp);
        [
            &mut a.q_proj,
            &mut a.k_proj,
            &mut a.v_proj,
            &mut a.o_proj,
            &mut m.gate_proj,
            &mut m.up_proj,
            &mut m.down_proj,
        ]
    }

    /// The seven linear layers, in HF module order.
    pub fn linears(&self) -> [&Linear; 7] {
        let (a, m) = (&self.self_attn, &self.mlp);
        [
            &a.q_proj,
            &a.k_proj,
            &a.v_proj,
            &a.o_proj,
            &m.gate_proj,
            &m.up_proj,
            &m.down_proj,
        ]
    }

    /// `x` is `[batch, seq, hidden]`, or `[tokens, hidden]` packed by `ctx.pack`.
    fn forward(&self, x: &Tensor, ctx: &Ctx, cfg: &ModelConfig) -> Tensor {
        let noise = [ctx.noise(4), ctx.noise(5), ctx.noise(6)];
        self.forward_with(x, |h| self.self_attn.forward(h, ctx, cfg), noise)
    }

    /// The block's norms, residuals and MLP around `attention` (the padded forward's, or the
    /// KV-cached one of generation); `noise` is the MLP's dropout multipliers (HF module order).
    pub(crate) fn forward_with(
        &self,
        x: &Tensor,
        attention: impl FnOnce(&Tensor) -> Tensor,
        noise: [Option<&Tensor>; 3],
    ) -> Tensor {
        let h = self.input_layernorm.forward(x);
        let h = attention(&h);
        match (
            &self.pre_feedforward_layernorm,
            &self.post_feedforward_layernorm,
        ) {
            (Some(pre), Some(post)) => {
                let x = x + self.post_attention_layernorm.forward(&h);
                let h = post.forward(&self.mlp.forward(&pre.forward(&x), noise));
                x + h
            }
            _ => {
                let x = x + h;
                let h = self
                    .mlp
                    .forward(&self.post_attention_layernorm.forward(&x), noise);
                x + h
            }
        }
    }
}

/// What every block of one forward shares: RoPE tables, the attention mask, the packing of the
/// rows, this block's dropout multipliers (HF module order) and the padded `(batch, seq)`.
struct Ctx<'a> {
    cos: &'a Tensor,
    sin: &'a Tensor,
    mask: &'a Tensor,
    pack: Option<&'a Packing>,
    noise: Option<&'a [Option<Tensor>; 7]>,
    shape: (i64, i64),
}

impl Ctx<'_> {
    /// The LoRA dropout multiplier of linear layer `j` (HF module order): drawn when training
    /// for every adapter with dropout, `None` otherwise.
    fn noise(&self, j: usize) -> Option<&Tensor> {
        self.noise.and_then(|n| n[j].as_ref())
    }
}

impl Attention {
    /// Projections on `x` as given (packed or not); the attention itself on the padded layout.
    fn forward(&self, x: &Tensor, ctx: &Ctx, cfg: &ModelConfig) -> Tensor {
        let (b, s) = ctx.shape;
        let (nh, nkv, hd) = (
            cfg.num_attention_heads as i64,
            cfg.num_kv_heads() as i64,
            cfg.head_dim() as i64,
        );
        let padded = |t: Tensor| match ctx.pack {
            Some(p) => p.unpack(&t),
            None => t,
        };
        let mut q = padded(self.q_proj.forward(x, ctx.noise(0))).view([b, s, nh, hd]);
        let mut k = padded(self.k_proj.forward(x, ctx.noise(1))).view([b, s, nkv, hd]);
        let v = padded(self.v_proj.forward(x, ctx.noise(2)))
            .view([b, s, nkv, hd])
            .transpose(1, 2);
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(&q);
            k = kn.forward(&k);
        }
        let q = rope::apply(&q.transpose(1, 2), ctx.cos, ctx.sin);
        let k = rope::apply(&k.transpose(1, 2), ctx.cos, ctx.sin);
        let rep = nh / nkv;
        let (k, v) = if rep > 1 {
            (repeat_kv(&k, rep), repeat_kv(&v, rep))
        } else {
            (k, v)
        };
        // f32: the fused kernel (within the f32 parity tolerances). bf16/f16: HF's eager order of
        // roundings (probabilities cast to the compute dtype before the value matmul), which the
        // fused kernel skips: it was 1.6e-3 off transformers' bf16 where eager is bit-identical.
        let out = if q.kind() == Kind::Float {
            sdpa(&q, &k, &v, ctx.mask, cfg.attention_scale())
        } else {
            eager_attention(&q, &k, &v, ctx.mask, cfg.attention_scale())
        };
        let out = out.transpose(1, 2).contiguous().view([b, s, nh * hd]);
        let out = match ctx.pack {
            Some(p) => p.pack(&out),
            None => out,
        };
        self.o_proj.forward(&out, ctx.noise(3))
    }
}

/// The additive mask's value for a blocked key: the dtype's minimum (HF's eager masks), so that
/// fully masked rows stay finite.
pub(crate) fn mask_min(kind: Kind) -> f64 {
    match kind {
        Kind::BFloat16 => -3.3895313892515355e38,
        Kind::Half => -65504.0,
        Kind::Double => f64::MIN,
        _ => f32::MIN as f64,
    }
}

/// libtorch's fused scaled-dot-product attention (its CPU flash kernel: one pass per query block,
/// softmax accumulated in f32, no `[b, h, s, s]` probability tensor kept) with the additive
/// mask and the family's scale. In f32 it matches HF within the parity tolerances, forward and
/// backward (unit test below; the parity tests).
pub(crate) fn sdpa(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, scale: f64) -> Tensor {
    Tensor::scaled_dot_product_attention(q, k, v, Some(mask), 0.0, false, scale, false)
}

/// HF's eager attention (softmax in f32, then back to the compute dtype), kept as the reference
/// the fused kernel is tested against.
pub fn eager_attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, scale: f64) -> Tensor {
    let scores = q.matmul(&k.transpose(-2, -1)) * scale + mask;
    scores.softmax(-1, Kind::Float).to_kind(q.kind()).matmul(v)
}

pub(crate) fn repeat_kv(x: &Tensor, rep: i64) -> Tensor {
    let s = x.size();
    x.unsqueeze(2)
        .expand([s[0], s[1], rep, s[2], s[3]], false)
        .reshape([s[0], s[1] * rep, s[2], s[3]])
}

impl Mlp {
    fn forward(&self, x: &Tensor, noise: [Option<&Tensor>; 3]) -> Tensor {
        let g = self.gate_proj.forward(x, noise[0]);
        let g = if self.gelu_tanh {
            g.gelu("tanh")
        } else {
            g.silu()
        };
        let u = self.up_proj.forward(x, noise[1]);
        self.down_proj.forward(&(g * u), noise[2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Causal + key-padding additive mask as `attention_bias` builds it (f32 minimum).
    fn mask(lens: &[i64], s: i64) -> Tensor {
        let allowed = Tensor::ones([s, s], (Kind::Bool, Device::Cpu))
            .tril(0)
            .view([1, 1, s, s]);
        let keys: Vec<bool> = lens
            .iter()
            .flat_map(|&l| (0..s).map(move |j| j < l))
            .collect();
        let keys = Tensor::from_slice(&keys).view([lens.len() as i64, 1, 1, s]);
        let allowed = allowed.logical_and(&keys);
        Tensor::zeros([lens.len() as i64, 1, s, s], (Kind::Float, Device::Cpu))
            .masked_fill(&allowed.logical_not(), f32::MIN as f64)
    }

    #[test]
    fn fused_attention_matches_eager_forward_and_backward() {
        tch::manual_seed(7);
        let opts = (Kind::Float, Device::Cpu);
        let (b, h, s, d) = (3, 4, 6, 16);
        let q = Tensor::randn([b, h, s, d], opts).set_requires_grad(true);
        let k = Tensor::randn([b, h, s, d], opts).set_requires_grad(true);
        let v = Tensor::randn([b, h, s, d], opts).set_requires_grad(true);
        let m = mask(&[6, 3, 1], s);
        let scale = 0.0625;
        let fused = sdpa(&q, &k, &v, &m, scale);
        let eager = eager_attention(&q, &k, &v, &m, scale);
        let fwd = (&fused - &eager).abs().max().double_value(&[]);
        assert!(fwd < 1e-5, "forward differs by {fwd}");
        let grads = |out: &Tensor| {
            let g =
                Tensor::run_backward(&[(out * out).sum(Kind::Float)], &[&q, &k, &v], false, false);
            g.into_iter().map(|t| t.detach()).collect::<Vec<_>>()
        };
        for (i, (a, e)) in grads(&fused).iter().zip(grads(&eager)).enumerate() {
            let diff = (a - &e).abs().max().double_value(&[]);
            assert!(diff < 1e-4, "gradient {i} differs by {diff}");
        }
        assert!(
            fused.isfinite().all().int64_value(&[]) == 1,
            "padded rows stay finite"
        );
    }
}
