//! Choosing the next token: greedy (the arg-max, first on ties, as `torch.argmax`), or sampling
//! after transformers' logits warpers in the order `generate` applies them (temperature, top-k,
//! top-p, each keeping at least one token), written with the same tensor operations so that the
//! processed distribution matches theirs. The draw is a seeded ChaCha inverse-CDF draw, not
//! torch's `multinomial` stream: same distribution, reproducible without torch's global RNG.

use anyhow::{bail, Result};
use rand::Rng;
use rand_chacha::ChaCha20Rng;
use tch::{Kind, Tensor};

/// The sampling settings (`generate(do_sample=True, temperature, top_k, top_p)`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Sampling {
    /// Divides the logits; > 0.
    pub temperature: f64,
    /// Keep the `top_k` highest logits (ties with the k-th kept too); 0 = off.
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose mass reaches `top_p`; in (0, 1], 1 = off.
    pub top_p: f64,
    pub seed: u64,
}

impl Sampling {
    /// Refuses settings transformers would refuse or that mean nothing, naming the flag.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            bail!(
                "--temperature {} must be a number above 0 (use --greedy for arg-max decoding)",
                self.temperature
            );
        }
        if !(self.top_p.is_finite() && self.top_p > 0.0 && self.top_p <= 1.0) {
            bail!(
                "--top-p {} must be in (0, 1] (1 keeps every token)",
                self.top_p
            );
        }
        Ok(())
    }

    /// The distribution `generate` samples from: softmax of the processed logits `[vocab]` (f32).
    pub fn distribution(&self, logits: &Tensor) -> Tensor {
        process(logits, self.temperature, self.top_k, self.top_p).softmax(-1, Kind::Float)
    }
}

/// transformers' warpers on one row of f32 logits, in `_get_logits_processor`'s order; removed
/// tokens get `-inf`. Each is skipped where transformers skips it (temperature 1, top-k 0, top-p 1).
pub fn process(logits: &Tensor, temperature: f64, top_k: usize, top_p: f64) -> Tensor {
    // TemperatureLogitsWarper: `scores / temperature` (a new tensor: the caller's logits stay).
    let mut scores = if temperature != 1.0 {
        logits.to_kind(Kind::Float) / temperature
    } else {
        logits.to_kind(Kind::Float)
    };
    let vocab = scores.size()[0];
    if top_k != 0 {
        // TopKLogitsWarper: `scores < topk(scores, k).values[-1]` removed, k = min(max(k, 1), vocab).
        let k = (top_k as i64).max(1).min(vocab);
        let (vals, _) = scores.topk(k, -1, true, true);
        let kth = vals.narrow(0, k - 1, 1);
        scores = scores.masked_fill(&scores.lt_tensor(&kth), f64::NEG_INFINITY);
    }
    if top_p < 1.0 {
        // TopPLogitsWarper: ascending sort, cumulative softmax, drop where it is <= 1 - top_p,
        // never the most likely token.
        let (sorted, idx) = scores.sort(-1, false);
        let cum = sorted.softmax(-1, Kind::Float).cumsum(-1, Kind::Float);
        let remove = cum.le(1.0 - top_p);
        let _ = remove.narrow(0, vocab - 1, 1).fill_(0);
        let remove = remove.scatter(0, &idx, &remove);
        scores = scores.masked_fill(&remove, f64::NEG_INFINITY);
    }
    scores
}

/// The arg-max of `[vocab]` logits (the first of equal maxima, as `torch.argmax`).
pub fn greedy(logits: &Tensor) -> i64 {
    logits.argmax(-1, false).int64_value(&[])
}

/// One draw from `probs` (`[vocab]`, summing to 1): the first token whose cumulative mass passes
/// a uniform number in [0, total).
pub fn draw(probs: &Tensor, rng: &mut ChaCha20Rng) -> i64 {
    let p = Vec::<f64>::try_from(probs.to_kind(Kind::Double)).expect("probabilities to host");
    let total: f64 = p.iter().sum();
    let u = rng.gen::<f64>() * total;
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &x) in p.iter().enumerate() {
        if x > 0.0 {
            acc += x;
            last = i;
            if u < acc {
                return i as i64;
            }
        }
    }
    last as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn row(v: &[f32]) -> Tensor {
        Tensor::from_slice(v)
    }

    #[test]
    fn top_p_keeps_the_best_token_and_top_k_keeps_ties() {
        let l = row(&[1.0, 5.0, 2.0, 5.0, -3.0]);
        let kept = |t: &Tensor| Vec::<f32>::try_from(t.isfinite()).unwrap();
        // A tiny top-p still keeps one token.
        assert_eq!(
            kept(&process(&l, 1.0, 0, 1e-9))
                .iter()
                .filter(|&&x| x > 0.0)
                .count(),
            1
        );
        // top-k 1 with a tie at the top keeps both maxima (`<` the k-th value is removed).
        assert_eq!(
            kept(&process(&l, 1.0, 1, 1.0)),
            vec![0.0, 1.0, 0.0, 1.0, 0.0]
        );
        assert_eq!(greedy(&l), 1, "first of equal maxima");
    }

    #[test]
    fn draws_follow_the_distribution_and_the_seed() {
        let probs = row(&[0.0, 0.25, 0.0, 0.75]);
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let draws: Vec<i64> = (0..4000).map(|_| draw(&probs, &mut rng)).collect();
        assert!(
            draws.iter().all(|&d| d == 1 || d == 3),
            "never a zero-probability token"
        );
        let share = draws.iter().filter(|&&d| d == 3).count() as f64 / 4000.0;
        assert!((share - 0.75).abs() < 0.03, "{share}");
        let mut again = ChaCha20Rng::seed_from_u64(3);
        assert_eq!(
            draws[..10],
            (0..10)
                .map(|_| draw(&probs, &mut again))
                .collect::<Vec<_>>()[..]
        );
    }

    #[test]
    fn bad_settings_name_their_flag() {
        let s = Sampling {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        };
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--temperature"));
        let s = Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.5,
            seed: 0,
        };
        assert!(s.validate().unwrap_err().to_string().contains("--top-p"));
        let s = Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 0.0,
            seed: 0,
        };
        assert!(s.validate().is_err());
    }
}
