//! The Llama decoder (HF `LlamaModel` numerics), one block loop, with pooling of the requested
//! hidden states inside the forward so no `[batch, seq, hidden]` tensor is kept per layer.

use crate::config::LlamaConfig;
use crate::linear::Linear;
use crate::norm::RmsNorm;
use crate::pooling::{pool, PoolMasks, Pooling};
use crate::rope::{self, Rope};
use tch::{Device, Kind, Tensor};

#[derive(Debug)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
}

#[derive(Debug)]
pub struct Mlp {
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
}

#[derive(Debug)]
pub struct Block {
    pub input_layernorm: RmsNorm,
    pub self_attn: Attention,
    pub post_attention_layernorm: RmsNorm,
    pub mlp: Mlp,
}

/// Frozen model plus optional LoRA adapters on its linear layers.
#[derive(Debug)]
pub struct Llama {
    pub cfg: LlamaConfig,
    pub embed_tokens: Tensor,
    pub layers: Vec<Block>,
    pub norm: RmsNorm,
    pub rope: Rope,
    pub device: Device,
    /// Compute dtype of the forward pass.
    pub kind: Kind,
}

/// What one forward should produce.
#[derive(Debug, Clone)]
pub struct PoolRequest {
    /// HF hidden-state indices: 0 = embeddings, i = output of block i-1, `num_layers` = after the final norm.
    pub layers: Vec<usize>,
    pub pooling: Pooling,
}

impl Llama {
    pub fn num_hidden_states(&self) -> usize {
        self.cfg.num_hidden_layers + 1
    }

    /// Runs the blocks needed for the highest requested layer and returns one `[batch, hidden]`
    /// f32, L2-normalised tensor per requested layer (in request order).
    /// `input_ids` and `masks` are `[batch, seq]`, right-padded. `train` enables LoRA dropout.
    pub fn pooled(&self, input_ids: &Tensor, masks: &PoolMasks, req: &PoolRequest, train: bool) -> Vec<Tensor> {
        let n_layers = self.cfg.num_hidden_layers;
        let max_layer = *req.layers.iter().max().expect("at least one layer requested");
        assert!(max_layer <= n_layers, "layer {max_layer} > {n_layers}");
        let mut out: Vec<Option<Tensor>> = (0..req.layers.len()).map(|_| None).collect();
        let take = |idx: usize, h: &Tensor, out: &mut Vec<Option<Tensor>>| {
            let mut pooled: Option<Tensor> = None;
            for (slot, &want) in req.layers.iter().enumerate() {
                if want == idx {
                    let p = pooled.get_or_insert_with(|| pool(h, masks, req.pooling));
                    out[slot] = Some(p.shallow_clone());
                }
            }
        };

        let (b, s) = (input_ids.size()[0], input_ids.size()[1]);
        let mut h = Tensor::embedding(&self.embed_tokens, input_ids, -1, false, false).to_kind(self.kind);
        take(0, &h, &mut out);
        if max_layer > 0 {
            let (cos, sin) = self.rope.cos_sin(s, self.kind);
            let mask = self.attention_bias(&masks.attention, b, s);
            for (i, block) in self.layers.iter().enumerate() {
                h = block.forward(&h, &cos, &sin, &mask, &self.cfg, train);
                let idx = i + 1;
                if idx == n_layers {
                    let normed = self.norm.forward(&h);
                    take(idx, &normed, &mut out);
                } else {
                    take(idx, &h, &mut out);
                }
                if idx >= max_layer {
                    break;
                }
            }
        }
        out.into_iter().map(|t| t.expect("every requested layer pooled")).collect()
    }

    /// Additive mask `[batch, 1, seq, seq]`: causal plus key padding, with the dtype's minimum
    /// for blocked positions (as HF's eager/sdpa masks do, so padded rows stay finite).
    fn attention_bias(&self, attention: &Tensor, b: i64, s: i64) -> Tensor {
        let dev = self.device;
        let causal = Tensor::ones([s, s], (Kind::Bool, dev)).tril(0);
        let keys = attention.to_kind(Kind::Bool).view([b, 1, 1, s]);
        let allowed = causal.view([1, 1, s, s]).logical_and(&keys);
        let min = match self.kind {
            Kind::BFloat16 => -3.3895313892515355e38,
            Kind::Half => -65504.0,
            Kind::Double => f64::MIN,
            _ => f32::MIN as f64,
        };
        Tensor::zeros([b, 1, s, s], (self.kind, dev)).masked_fill(&allowed.logical_not(), min)
    }
}

impl Block {
    fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor, mask: &Tensor, cfg: &LlamaConfig, train: bool) -> Tensor {
        let residual = x;
        let h = self.input_layernorm.forward(x);
        let h = self.self_attn.forward(&h, cos, sin, mask, cfg, train);
        let x = residual + h;
        let h = self.post_attention_layernorm.forward(&x);
        let h = self.mlp.forward(&h, train);
        x + h
    }
}

impl Attention {
    fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor, mask: &Tensor, cfg: &LlamaConfig, train: bool) -> Tensor {
        let (b, s) = (x.size()[0], x.size()[1]);
        let (nh, nkv, hd) = (cfg.num_attention_heads as i64, cfg.num_kv_heads() as i64, cfg.head_dim() as i64);
        let q = self.q_proj.forward(x, train).view([b, s, nh, hd]).transpose(1, 2);
        let k = self.k_proj.forward(x, train).view([b, s, nkv, hd]).transpose(1, 2);
        let v = self.v_proj.forward(x, train).view([b, s, nkv, hd]).transpose(1, 2);
        let q = rope::apply(&q, cos, sin);
        let k = rope::apply(&k, cos, sin);
        let rep = nh / nkv;
        let (k, v) = if rep > 1 { (repeat_kv(&k, rep), repeat_kv(&v, rep)) } else { (k, v) };
        let scale = 1.0 / (hd as f64).sqrt();
        let scores = q.matmul(&k.transpose(-2, -1)) * scale + mask;
        // HF's eager attention: softmax in f32, then back to the compute dtype.
        let probs = scores.softmax(-1, Kind::Float).to_kind(q.kind());
        let out = probs.matmul(&v).transpose(1, 2).contiguous().view([b, s, nh * hd]);
        self.o_proj.forward(&out, train)
    }
}

fn repeat_kv(x: &Tensor, rep: i64) -> Tensor {
    let s = x.size();
    x.unsqueeze(2).expand([s[0], s[1], rep, s[2], s[3]], false).reshape([s[0], s[1] * rep, s[2], s[3]])
}

impl Mlp {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let g = self.gate_proj.forward(x, train).silu();
        let u = self.up_proj.forward(x, train);
        self.down_proj.forward(&(g * u), train)
    }
}

impl Llama {
    /// Bytes of weights held on the device: (4-bit or dense linear layers, everything else).
    pub fn resident_weight_bytes(&self) -> (u64, u64) {
        let t = |x: &Tensor| (x.numel() * x.kind().elt_size_in_bytes()) as u64;
        let mut linear = 0;
        let mut other = t(&self.embed_tokens) + t(&self.norm.weight);
        for b in &self.layers {
            for l in [&b.self_attn.q_proj, &b.self_attn.k_proj, &b.self_attn.v_proj, &b.self_attn.o_proj,
                      &b.mlp.gate_proj, &b.mlp.up_proj, &b.mlp.down_proj] {
                linear += l.base.resident_bytes();
            }
            other += t(&b.input_layernorm.weight) + t(&b.post_attention_layernorm.weight);
        }
        (linear, other)
    }
}
