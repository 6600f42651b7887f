//! transformers' `get_linear_schedule_with_warmup` (a `LambdaLR`): the learning rate of
//! optimizer step `k` (0-based) is `base * k / warmup` during warm-up, then decays linearly to 0
//! at `total`. Step 0 therefore runs with lr 0, as in the authors' loop (`optimizer.step()`,
//! then `scheduler.step()`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearWarmup {
    pub base_lr: f64,
    pub warmup: usize,
    pub total: usize,
}

impl LinearWarmup {
    pub fn factor(&self, step: usize) -> f64 {
        if step < self.warmup {
            step as f64 / self.warmup.max(1) as f64
        } else {
            let left = self.total.saturating_sub(step) as f64;
            (left / self.total.saturating_sub(self.warmup).max(1) as f64).max(0.0)
        }
    }

    pub fn lr(&self, step: usize) -> f64 {
        self.base_lr * self.factor(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_transformers() {
        let s = LinearWarmup {
            base_lr: 2e-4,
            warmup: 50,
            total: 390,
        };
        assert_eq!(s.lr(0), 0.0);
        assert!((s.lr(25) - 1e-4).abs() < 1e-18);
        assert_eq!(s.lr(50), 2e-4);
        assert!((s.lr(220) - 2e-4 * 170.0 / 340.0).abs() < 1e-18);
        assert_eq!(s.lr(390), 0.0);
        assert_eq!(s.lr(400), 0.0);
    }
}
