//! Linear layers: a frozen base weight (dense, or 4-bit as in bitsandbytes) plus an optional
//! LoRA branch, in peft's convention `y = x W^T + dropout(x) A^T B^T * alpha / r`.

use crate::quant4::Quant4Weight;
use tch::{Kind, Tensor};

/// The frozen weight of a linear layer (HF layout `[out, in]`).
#[derive(Debug)]
pub enum BaseWeight {
    Dense(Tensor),
    Quant4(Quant4Weight),
}

impl BaseWeight {
    /// The weight in the compute dtype; 4-bit weights are dequantised on use and dropped after.
    pub fn weight(&self, kind: Kind) -> Tensor {
        match self {
            BaseWeight::Dense(w) => {
                if w.kind() == kind {
                    w.shallow_clone()
                } else {
                    w.to_kind(kind)
                }
            }
            BaseWeight::Quant4(q) => q.dequantize(kind),
        }
    }

    pub fn out_in(&self) -> (i64, i64) {
        match self {
            BaseWeight::Dense(w) => {
                let s = w.size();
                (s[0], s[1])
            }
            BaseWeight::Quant4(q) => (q.shape[0], q.shape[1]),
        }
    }

    /// Bytes held on the device for this weight.
    pub fn resident_bytes(&self) -> u64 {
        match self {
            BaseWeight::Dense(w) => (w.numel() * w.kind().elt_size_in_bytes()) as u64,
            BaseWeight::Quant4(q) => q.resident_bytes(),
        }
    }
}

/// A LoRA adapter on one linear layer (peft's `lora_A`, `lora_B`).
#[derive(Debug)]
pub struct LoraAdapter {
    /// `[r, in]`, kaiming-uniform initialised.
    pub a: Tensor,
    /// `[out, r]`, zero initialised.
    pub b: Tensor,
    pub scale: f64,
    pub dropout: f64,
}

#[derive(Debug)]
pub struct Linear {
    pub base: BaseWeight,
    /// `[out]` in the compute dtype (Qwen2's q/k/v; `attention_bias` / `mlp_bias` configs).
    pub bias: Option<Tensor>,
    pub lora: Option<LoraAdapter>,
}

impl Linear {
    pub fn dense(w: Tensor) -> Self {
        Self {
            base: BaseWeight::Dense(w),
            bias: None,
            lora: None,
        }
    }

    /// `x` is `[..., in]` in the compute dtype. `dropout` is the LoRA input's dropout multiplier
    /// (`[rows of x, in]`), drawn before the forward by the decoder ([`crate::pack::dropout_noise`],
    /// training only) so that packed rows get the masks of the padded batch; `None`: no dropout.
    pub fn forward(&self, x: &Tensor, dropout: Option<&Tensor>) -> Tensor {
        let w = self.base.weight(x.kind());
        let y = match &self.bias {
            None => x.matmul(&w.tr()),
            Some(b) => x.linear(&w, Some(b)),
        };
        match &self.lora {
            None => y,
            Some(l) => {
                // peft (0.21 `lora.Linear.forward`) casts the input to the adapter's dtype (f32
                // adapters on a bf16 base) before the dropout, so the 1/(1-p) scaling is not
                // rounded to bf16; it adds the base output to the adapter's in the wider dtype and
                // casts the sum back (`(result + lora_B(lora_A(dropout(x))) * scaling).to(result.dtype)`):
                // one rounding. In f32 the cast is a no-op (same bits as dropout-then-cast).
                let xin = x.to_kind(l.a.kind());
                let xin = match dropout {
                    Some(noise) => xin * noise,
                    None => xin,
                };
                let up = xin.matmul(&l.a.tr()).matmul(&l.b.tr()) * l.scale;
                if up.kind() == y.kind() {
                    y + up
                } else {
                    (y.to_kind(up.kind()) + up).to_kind(x.kind())
                }
            }
        }
    }
}
