//! The decoder (HF numerics for Llama, Mistral, Qwen2, Qwen3 and Gemma 3 text), one block loop
//! with per-family switches. It knows nothing of pooling: [`Decoder::forward_hidden`] hands each
//! hidden state to an observer (as TransformerLens' hooks do) and stops at the last one asked for.

use crate::config::ModelConfig;
use crate::family::{Family, LayerType};
use crate::linear::Linear;
use crate::norm::RmsNorm;
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
        let n_layers = self.cfg.num_hidden_layers;
        assert!(max_layer <= n_layers, "layer {max_layer} > {n_layers}");
        assert!(max_layer <= self.layers.len() || max_layer == 0, "layer {max_layer} needs blocks that were not loaded");
        let (b, s) = (input_ids.size()[0], input_ids.size()[1]);
        let mut h = Tensor::embedding(&self.embed_tokens, input_ids, -1, false, false);
        if let Some(scale) = self.embed_scale {
            h = h * scale;
        }
        let mut h = h.to_kind(self.kind);
        observe(0, &h);
        if max_layer == 0 {
            return;
        }
        let full = self.ropes.full.cos_sin(s, self.kind);
        let sliding = self.ropes.sliding.cos_sin(s, self.kind);
        let mut masks: Vec<(LayerType, Tensor)> = Vec::new();
        for (i, block) in self.layers.iter().enumerate().take(max_layer) {
            let ty = block.layer_type;
            if !masks.iter().any(|(t, _)| *t == ty) {
                masks.push((ty, self.attention_bias(attention, b, s, ty)));
            }
            let mask = &masks.iter().find(|(t, _)| *t == ty).expect("mask built").1;
            let (cos, sin) = match ty {
                LayerType::Full => &full,
                LayerType::Sliding(_) => &sliding,
            };
            h = block.forward(&h, cos, sin, mask, &self.cfg, train);
            let idx = i + 1;
            if idx == n_layers {
                observe(idx, &self.norm.forward(&h));
            } else {
                observe(idx, &h);
            }
        }
    }

    /// Additive mask `[batch, 1, seq, seq]`: causal (within the window for sliding layers) plus
    /// key padding, with the dtype's minimum for blocked positions (as HF's eager masks do, so
    /// padded rows stay finite).
    fn attention_bias(&self, attention: &Tensor, b: i64, s: i64, ty: LayerType) -> Tensor {
        let dev = self.device;
        let mut allowed = Tensor::ones([s, s], (Kind::Bool, dev)).tril(0);
        if let LayerType::Sliding(w) = ty {
            // HF's sliding overlay: key j is visible from query i when i - j < window.
            allowed = allowed.logical_and(&Tensor::ones([s, s], (Kind::Bool, dev)).triu(-(w as i64 - 1)));
        }
        let keys = attention.to_kind(Kind::Bool).view([b, 1, 1, s]);
        let allowed = allowed.view([1, 1, s, s]).logical_and(&keys);
        let min = match self.kind {
            Kind::BFloat16 => -3.3895313892515355e38,
            Kind::Half => -65504.0,
            Kind::Double => f64::MIN,
            _ => f32::MIN as f64,
        };
        Tensor::zeros([b, 1, s, s], (self.kind, dev)).masked_fill(&allowed.logical_not(), min)
    }

    /// Bytes of weights held on the device: (4-bit or dense linear layers, everything else).
    pub fn resident_weight_bytes(&self) -> (u64, u64) {
        let t = |x: &Tensor| (x.numel() * x.kind().elt_size_in_bytes()) as u64;
        let mut linear = 0;
        let mut other = t(&self.embed_tokens) + t(&self.norm.weight);
        for b in &self.layers {
            for l in b.linears() {
                linear += l.base.resident_bytes();
                other += l.bias.as_ref().map(t).unwrap_or(0);
            }
            let norms = [Some(&b.input_layernorm), Some(&b.post_attention_layernorm), b.pre_feedforward_layernorm.as_ref(),
                b.post_feedforward_layernorm.as_ref(), b.self_attn.q_norm.as_ref(), b.self_attn.k_norm.as_ref()];
            other += norms.into_iter().flatten().map(|n| t(&n.weight)).sum::<u64>();
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
        [&mut a.q_proj, &mut a.k_proj, &mut a.v_proj, &mut a.o_proj, &mut m.gate_proj, &mut m.up_proj, &mut m.down_proj]
    }

    /// The seven linear layers, in HF module order.
    pub fn linears(&self) -> [&Linear; 7] {
        let (a, m) = (&self.self_attn, &self.mlp);
        [&a.q_proj, &a.k_proj, &a.v_proj, &a.o_proj, &m.gate_proj, &m.up_proj, &m.down_proj]
    }

    fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor, mask: &Tensor, cfg: &ModelConfig, train: bool) -> Tensor {
        let h = self.input_layernorm.forward(x);
        let h = self.self_attn.forward(&h, cos, sin, mask, cfg, train);
        match (&self.pre_feedforward_layernorm, &self.post_feedforward_layernorm) {
            (Some(pre), Some(post)) => {
                let x = x + self.post_attention_layernorm.forward(&h);
                let h = post.forward(&self.mlp.forward(&pre.forward(&x), train));
                x + h
            }
            _ => {
                let x = x + h;
                let h = self.mlp.forward(&self.post_attention_layernorm.forward(&x), train);
                x + h
            }
        }
    }
}

impl Attention {
    fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor, mask: &Tensor, cfg: &ModelConfig, train: bool) -> Tensor {
        let (b, s) = (x.size()[0], x.size()[1]);
        let (nh, nkv, hd) = (cfg.num_attention_heads as i64, cfg.num_kv_heads() as i64, cfg.head_dim() as i64);
        let mut q = self.q_proj.forward(x, train).view([b, s, nh, hd]);
        let mut k = self.k_proj.forward(x, train).view([b, s, nkv, hd]);
        let v = self.v_proj.forward(x, train).view([b, s, nkv, hd]).transpose(1, 2);
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(&q);
            k = kn.forward(&k);
        }
        let q = rope::apply(&q.transpose(1, 2), cos, sin);
        let k = rope::apply(&k.transpose(1, 2), cos, sin);
        let rep = nh / nkv;
        let (k, v) = if rep > 1 { (repeat_kv(&k, rep), repeat_kv(&v, rep)) } else { (k, v) };
        // f32: the fused kernel (within the f32 parity tolerances). bf16/f16: HF's eager order of
        // roundings (probabilities cast to the compute dtype before the value matmul), which the
        // fused kernel skips: it was 1.6e-3 off transformers' bf16 where eager is bit-identical.
        let out = if q.kind() == Kind::Float {
            sdpa(&q, &k, &v, mask, cfg.attention_scale())
        } else {
            eager_attention(&q, &k, &v, mask, cfg.attention_scale())
        };
        let out = out.transpose(1, 2).contiguous().view([b, s, nh * hd]);
        self.o_proj.forward(&out, train)
    }
}

/// libtorch's fused scaled-dot-product attention (its CPU flash kernel: one pass per query block,
/// softmax accumulated in f32, no `[b, h, s, s]` probability tensor kept) with the additive
/// mask and the family's scale. In f32 it matches HF within the parity tolerances, forward and
/// backward (unit test below; the parity tests).
fn sdpa(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, scale: f64) -> Tensor {
    Tensor::scaled_dot_product_attention(q, k, v, Some(mask), 0.0, false, scale, false)
}

/// HF's eager attention (softmax in f32, then back to the compute dtype), kept as the reference
/// the fused kernel is tested against.
pub fn eager_attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, scale: f64) -> Tensor {
    let scores = q.matmul(&k.transpose(-2, -1)) * scale + mask;
    scores.softmax(-1, Kind::Float).to_kind(q.kind()).matmul(v)
}

fn repeat_kv(x: &Tensor, rep: i64) -> Tensor {
    let s = x.size();
    x.unsqueeze(2).expand([s[0], s[1], rep, s[2], s[3]], false).reshape([s[0], s[1] * rep, s[2], s[3]])
}

impl Mlp {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let g = self.gate_proj.forward(x, train);
        let g = if self.gelu_tanh { g.gelu("tanh") } else { g.silu() };
        let u = self.up_proj.forward(x, train);
        self.down_proj.forward(&(g * u), train)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Causal + key-padding additive mask as `attention_bias` builds it (f32 minimum).
    fn mask(lens: &[i64], s: i64) -> Tensor {
        let allowed = Tensor::ones([s, s], (Kind::Bool, Device::Cpu)).tril(0).view([1, 1, s, s]);
        let keys: Vec<bool> = lens.iter().flat_map(|&l| (0..s).map(move |j| j < l)).collect();
        let keys = Tensor::from_slice(&keys).view([lens.len() as i64, 1, 1, s]);
        let allowed = allowed.logical_and(&keys);
        Tensor::zeros([lens.len() as i64, 1, s, s], (Kind::Float, Device::Cpu)).masked_fill(&allowed.logical_not(), f32::MIN as f64)
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
            let g = Tensor::run_backward(&[(out * out).sum(Kind::Float)], &[&q, &k, &v], false, false);
            g.into_iter().map(|t| t.detach()).collect::<Vec<_>>()
        };
        for (i, (a, e)) in grads(&fused).iter().zip(grads(&eager)).enumerate() {
            let diff = (a - &e).abs().max().double_value(&[]);
            assert!(diff < 1e-4, "gradient {i} differs by {diff}");
        }
        assert!(fused.isfinite().all().int64_value(&[]) == 1, "padded rows stay finite");
    }
}
