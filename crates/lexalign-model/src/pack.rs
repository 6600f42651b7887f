//! Packed rows: right-padded batches with their padding taken out, so that the norms, linear
//! layers and MLPs (row-wise: a row's result does not depend on the others) run on the real tokens
//! only, while attention and the hidden states handed to observers keep the padded layout. A TLI
//! step's two batches of 8 words (anchors, positives) run as one packed forward: on a CPU a small
//! forward costs mostly its pass over the weights, so one pass instead of two, on ~22 % fewer rows.
//!
//! LoRA dropout masks ([`dropout_noise`]) are drawn before the forward, batch by batch and module by
//! module in forward order, over each batch's padded shape, as torch's `dropout` draws them when
//! the batches run one after the other (CPU: `empty_like(x).bernoulli_(1 - p)`, then `/ (1 - p)`):
//! the same generator draws in the same order, so the masks equal peft's.

use tch::{Kind, Tensor};

#[derive(Debug)]
pub struct Packing {
    /// Flat indices (into `batch * seq`) of the real tokens, in row order.
    idx: Tensor,
    batch: i64,
    seq: i64,
}

impl Packing {
    /// The packing of a `[batch, seq]` attention mask (1 = real), or `None` when it holds no
    /// padding (nothing to take out).
    pub fn of(attention: &Tensor) -> Option<Self> {
        let (batch, seq) = (attention.size()[0], attention.size()[1]);
        let flat = attention.to_kind(Kind::Bool).reshape([-1]);
        let idx = flat.nonzero().squeeze_dim(1);
        if idx.size()[0] == batch * seq {
            return None;
        }
        Some(Self { idx, batch, seq })
    }

    /// `[batch, seq, d]` (or `[batch * seq, d]`) to `[tokens, d]`.
    pub fn pack(&self, x: &Tensor) -> Tensor {
        let d = *x.size().last().expect("a feature dimension");
        x.reshape([self.batch * self.seq, d])
            .index_select(0, &self.idx)
    }

    /// `[tokens, d]` to `[batch, seq, d]`, zeros at the padding.
    pub fn unpack(&self, x: &Tensor) -> Tensor {
        let d = x.size()[1];
        Tensor::zeros([self.batch * self.seq, d], (x.kind(), x.device()))
            .index_copy(0, &self.idx, x)
            .view([self.batch, self.seq, d])
    }

    /// The rows of a `[batch * seq, d]` tensor at the real tokens.
    pub fn select(&self, x: &Tensor) -> Tensor {
        x.index_select(0, &self.idx)
    }
}

/// The inverted-dropout multiplier torch's CPU `dropout(x, p, train=True)` draws for a `[rows,
/// width]` tensor `x` of `kind`: `bernoulli(1 - p) / (1 - p)`.
pub fn dropout_noise(rows: i64, width: i64, p: f64, kind: Kind, device: tch::Device) -> Tensor {
    let mut noise = Tensor::empty([rows, width], (kind, device));
    let _ = noise.bernoulli_float_(1.0 - p);
    let _ = noise.g_div_scalar_(1.0 - p);
    noise
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn packs_real_rows_and_draws_dropouts_mask() {
        let att = Tensor::from_slice(&[1i64, 1, 1, 1, 0, 0]).view([2, 3]);
        assert!(Packing::of(&Tensor::ones([2, 3], (Kind::Int64, Device::Cpu))).is_none());
        let p = Packing::of(&att).unwrap();
        let x = Tensor::arange(12, (Kind::Float, Device::Cpu)).view([2, 3, 2]);
        let packed = p.pack(&x);
        assert_eq!(packed.size(), [4, 2]);
        assert!(p.select(&x.view([6, 2])).equal(&packed));
        let back = p.unpack(&packed);
        let keep = att.to_kind(Kind::Float).unsqueeze(-1);
        assert!(back.equal(&(&x * &keep)));
        // The multiplier is the one dropout draws on the padded tensor.
        let x = Tensor::randn([2, 3, 2], (Kind::Float, Device::Cpu));
        tch::manual_seed(3);
        let want = x.dropout(0.5, true);
        tch::manual_seed(3);
        let got = x.view([6, 2]) * dropout_noise(6, 2, 0.5, Kind::Float, Device::Cpu);
        assert!(got.equal(&want.view([6, 2])), "{got:?} vs {want:?}");
    }
}
