//! Rotary position embeddings in HF's rotate-half layout, with `linear` and `llama3` scaling.

use crate::config::{ModelConfig, RopeScaling, RopeSpec};
use crate::family::LayerType;
use tch::{Device, Kind, Tensor};

/// Inverse frequencies, computed in f32 as HF's `_compute_default_rope_parameters` /
/// `_compute_llama3_parameters` do, so that cos/sin agree to the last bit on CPU.
pub fn inv_freq(spec: &RopeSpec, dim: usize) -> Vec<f32> {
    let base = spec.base as f32;
    let mut inv: Vec<f32> = (0..dim)
        .step_by(2)
        .map(|i| 1.0f32 / base.powf(i as f32 / dim as f32))
        .collect();
    match spec.scaling.clone() {
        None => {}
        Some(RopeScaling::Linear { factor }) => {
            for f in &mut inv {
                *f /= factor as f32;
            }
        }
        Some(RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        }) => {
            let (factor, lo, hi, old) = (
                factor as f32,
                low_freq_factor as f32,
                high_freq_factor as f32,
                original_max_position_embeddings as f32,
            );
            let low_wavelen = old / lo;
            let high_wavelen = old / hi;
            for f in &mut inv {
                let wavelen = 2.0 * std::f32::consts::PI / *f;
                let scaled = if wavelen > low_wavelen {
                    *f / factor
                } else {
                    *f
                };
                let is_medium = wavelen >= high_wavelen && wavelen <= low_wavelen;
                *f = if is_medium {
                    let smooth = (old / wavelen - lo) / (hi - lo);
                    (1.0 - smooth) * scaled / factor + smooth * scaled
                } else {
                    scaled
                };
            }
        }
    }
    inv
}

/// Rotary inverse frequencies of one layer type (Gemma 3 has two: local and global bases).
#[derive(Debug)]
pub struct Rope {
    inv_freq: Tensor,
}

/// The rotary tables of a model, one per attention layer type it uses.
#[derive(Debug)]
pub struct Ropes {
    pub full: Rope,
    pub sliding: Rope,
}

impl Ropes {
    pub fn new(cfg: &ModelConfig, device: Device) -> anyhow::Result<Self> {
        let dim = cfg.head_dim();
        let full = cfg.rope_for(LayerType::Full)?;
        // A window size of 1 only selects the layer type's RoPE settings.
        let sliding = cfg.rope_for(LayerType::Sliding(1))?;
        Ok(Self {
            full: Rope::from_spec(&full, dim, device),
            sliding: Rope::from_spec(&sliding, dim, device),
        })
    }

    pub fn for_layer(&self, ty: LayerType) -> &Rope {
        match ty {
            LayerType::Full => &self.full,
            LayerType::Sliding(_) => &self.sliding,
        }
    }
}

impl Rope {
    pub fn from_spec(spec: &RopeSpec, dim: usize, device: Device) -> Self {
        Self {
            inv_freq: Tensor::from_slice(&inv_freq(spec, dim)).to_device(device),
        }
    }

    /// `(cos, sin)` of shape `[seq, head_dim]` in `kind`, for positions `0..seq`
    /// (HF's default position ids; right padding keeps them equal to one-at-a-time runs).
    pub fn cos_sin(&self, seq: i64, kind: Kind) -> (Tensor, Tensor) {
        let device = self.inv_freq.device();
        let pos = Tensor::arange(seq, (Kind::Float, device));
        let freqs = pos.unsqueeze(1).matmul(&self.inv_freq.unsqueeze(0));
        let emb = Tensor::cat(&[&freqs, &freqs], -1);
        (emb.cos().to_kind(kind), emb.sin().to_kind(kind))
    }
}

fn rotate_half(x: &Tensor) -> Tensor {
    let half = x.size().last().copied().unwrap() / 2;
    let x1 = x.narrow(-1, 0, half);
    let x2 = x.narrow(-1, half, half);
    Tensor::cat(&[&x2.neg(), &x1], -1)
}

/// Applies the rotation to `x` of shape `[batch, heads, seq, head_dim]`.
pub fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
    x * cos + rotate_half(x) * sin
}
