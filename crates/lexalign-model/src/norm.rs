//! RMSNorm in the two forms HF uses: Llama's (variance in f32, `weight * x` in the input dtype)
//! and Gemma's (`x * (1 + weight)` in f32, then cast back).

use crate::family::NormForm;
use tch::{Kind, Tensor};

#[derive(Debug)]
pub struct RmsNorm {
    pub weight: Tensor,
    pub eps: f64,
    pub form: NormForm,
}

impl RmsNorm {
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let kind = x.kind();
        let h = x.to_kind(Kind::Float);
        let var = h.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
        let h = h * (var + self.eps).rsqrt();
        match self.form {
            NormForm::Weight => &self.weight * h.to_kind(kind),
            NormForm::OnePlusWeight => (h * (self.weight.to_kind(Kind::Float) + 1.0)).to_kind(kind),
        }
    }
}
