//! How often bitsandbytes' CPU and CUDA 4-bit rounding pick different codes on a real model's
//! decoder-block weights (the numbers in lexalign-quant's docs and the README's GPU section):
//! `cargo run -p lexalign-model --example bnb_kernel_diff -- gemma3-270m`.

use lexalign_model::linear::BaseWeight;
use lexalign_model::{lora, LoadOptions};
use lexalign_quant::{quantize_with, Kernel, QuantOptions, QuantType};
use tch::Kind;

fn main() -> anyhow::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "smollm2-135m".into());
    let path = lexalign_gguf::resolve_model(Some(std::path::Path::new(&name)))?;
    for kind in [Kind::Float, Kind::BFloat16] {
        let m = lexalign_model::load(
            &path,
            &LoadOptions {
                kind,
                ..LoadOptions::default()
            },
        )?;
        for qt in [QuantType::Nf4, QuantType::Fp4] {
            let (mut n, mut differ, mut zero_sign) = (0usize, 0usize, 0usize);
            for block in &m.model.layers {
                for module in [
                    "q_proj",
                    "k_proj",
                    "v_proj",
                    "o_proj",
                    "gate_proj",
                    "up_proj",
                    "down_proj",
                ] {
                    let l = lora::linear(block, module);
                    let BaseWeight::Dense(w) = &l.base else {
                        continue;
                    };
                    let shape: Vec<usize> = w.size().iter().map(|&d| d as usize).collect();
                    let v = Vec::<f32>::try_from(w.to_kind(Kind::Float).contiguous().view([-1]))?;
                    let q = |k| {
                        quantize_with(
                            &v,
                            &shape,
                            &QuantOptions {
                                kernel: k,
                                ..QuantOptions::new(qt)
                            },
                        )
                    };
                    let (a, b) = (q(Kernel::BnbTorch)?.codes(), q(Kernel::BnbCuda)?.codes());
                    n += a.len();
                    for (x, y) in a.iter().zip(&b) {
                        if x != y {
                            differ += 1;
                            // FP4's +0 (code 0) vs -0 (code 8): the same value.
                            zero_sign += (x & 7 == 0 && y & 7 == 0) as usize;
                        }
                    }
                }
            }
            println!(
                "{name} {kind:?} {}: {n} codes, {differ} differ ({:.2e}), {zero_sign} of them only the sign of zero",
                qt.as_str(),
                differ as f64 / n as f64
            );
        }
    }
    Ok(())
}
