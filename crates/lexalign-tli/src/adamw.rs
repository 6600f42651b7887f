//! torch's `AdamW` (`_single_tensor_adamw`, the CPU default: not foreach, not fused, not
//! amsgrad), with its state savable so that a resumed run continues bit for bit.
//!
//! Per parameter with a gradient: `p *= 1 - lr wd; m = lerp(m, g, 1 - b1); v = v b2 + (1 - b2) g g;
//! p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`, with its own step count `t`.
//! Parameters without a gradient are skipped (no state, no decay), as torch does.

use anyhow::{ensure, Context, Result};
use lexalign_model::lora::{read_safetensors, write_safetensors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use tch::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWParams {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWParams {
    /// torch's defaults.
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

#[derive(Debug)]
struct ParamState {
    step: u64,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
}

#[derive(Debug)]
pub struct AdamW {
    pub hp: AdamWParams,
    state: BTreeMap<String, ParamState>,
}

impl AdamW {
    pub fn new(hp: AdamWParams) -> Self {
        Self {
            hp,
            state: BTreeMap::new(),
        }
    }

    /// One optimizer step at learning rate `lr` over named parameters (their `.grad()`).
    pub fn step(&mut self, params: &[(String, Tensor)], lr: f64) {
        let AdamWParams {
            beta1,
            beta2,
            eps,
            weight_decay,
        } = self.hp;
        tch::no_grad(|| {
            for (name, p) in params {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let st = self
                    .state
                    .entry(name.clone())
                    .or_insert_with(|| ParamState {
                        step: 0,
                        exp_avg: p.zeros_like(),
                        exp_avg_sq: p.zeros_like(),
                    });
                st.step += 1;
                let mut p = p.shallow_clone();
                let _ = p.g_mul_scalar_(1.0 - lr * weight_decay);
                let _ = st.exp_avg.lerp_(&g, 1.0 - beta1);
                let _ = st.exp_avg_sq.g_mul_scalar_(beta2);
                // addcmul(v, g, g, value) evaluates (value * g) * g.
                let _ = st.exp_avg_sq.g_add_(&((&g * (1.0 - beta2)) * &g));
                let t = st.step as f64;
                let bias_correction1 = 1.0 - beta1.powf(t);
                let bias_correction2 = 1.0 - beta2.powf(t);
                let step_size = lr / bias_correction1;
                let denom = st.exp_avg_sq.sqrt() / bias_correction2.sqrt() + eps;
                // addcdiv(p, m, denom, value) evaluates (value * m) / denom.
                let _ = p.g_add_(&((&st.exp_avg * -step_size) / denom));
            }
        });
    }

    /// Number of steps taken by the parameter that stepped most.
    pub fn steps(&self) -> u64 {
        self.state.values().map(|s| s.step).max().unwrap_or(0)
    }

    /// `optimizer.safetensors` (moments, keyed `<param>.exp_avg` / `.exp_avg_sq`) plus the
    /// per-parameter step counts and hyper-parameters as JSON.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut tensors = Vec::new();
        let mut steps = BTreeMap::new();
        for (name, st) in &self.state {
            tensors.push((format!("{name}.exp_avg"), st.exp_avg.shallow_clone()));
            tensors.push((format!("{name}.exp_avg_sq"), st.exp_avg_sq.shallow_clone()));
            steps.insert(name.clone(), st.step);
        }
        write_safetensors(&dir.join("optimizer.safetensors"), &tensors, None)?;
        let meta = serde_json::json!({ "hyper_parameters": self.hp, "steps": steps });
        lexalign_run::write_atomic(
            dir.join("optimizer.json"),
            serde_json::to_string_pretty(&meta)?.as_bytes(),
        )
    }

    /// Restores the state saved by [`AdamW::save`] onto `device`.
    pub fn load(dir: &Path, device: tch::Device) -> Result<Self> {
        let path = dir.join("optimizer.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        #[derive(Deserialize)]
        struct Meta {
            hyper_parameters: AdamWParams,
            steps: BTreeMap<String, u64>,
        }
        let meta: Meta = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an optimizer state", path.display()))?;
        let st_path = dir.join("optimizer.safetensors");
        let mut tensors: BTreeMap<String, Tensor> =
            read_safetensors(&st_path)?.into_iter().collect();
        let mut state = BTreeMap::new();
        for (name, step) in meta.steps {
            let mut take = |suffix: &str| -> Result<Tensor> {
                let k = format!("{name}.{suffix}");
                Ok(tensors
                    .remove(&k)
                    .with_context(|| format!("{}: missing `{k}`", st_path.display()))?
                    .to_device(device))
            };
            let exp_avg = take("exp_avg")?;
            let exp_avg_sq = take("exp_avg_sq")?;
            state.insert(
                name,
                ParamState {
                    step,
                    exp_avg,
                    exp_avg_sq,
                },
            );
        }
        ensure!(
            tensors.is_empty(),
            "{}: unexpected tensors {:?}",
            st_path.display(),
            tensors.keys().collect::<Vec<_>>()
        );
        Ok(Self {
            hp: meta.hyper_parameters,
            state,
        })
    }
}
