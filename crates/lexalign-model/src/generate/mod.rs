//! Text generation with the decoder, as transformers' `generate` for one sequence: the prompt
//! runs once through the KV-cached forward ([`cache`]), then one token per step; greedy or
//! sampled ([`sampling`]); it stops after an end-of-sequence token (kept, as `generate` keeps it)
//! or after `max_new_tokens`. A peft adapter attached with `lora::load_peft` takes part as it
//! does in every forward (unmerged, no dropout).
//!
//! Speed: a step is a few hundred tiny ops on one row, too small to share between threads; with
//! several intra-op threads libgomp's workers spin-wait between them (on a busy 2-core machine a
//! SmolLM2 token took ~1 s, one thread ~0.1 s). The steps after the prompt therefore run on one
//! torch thread ([`OneThread`], restored afterwards); the prompt keeps the caller's threads.

pub mod cache;
pub mod sampling;

pub use cache::KvCache;
pub use sampling::Sampling;

use crate::decoder::Decoder;
use anyhow::{bail, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tch::Tensor;

/// How to continue a prompt.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GenerateConfig {
    pub max_new_tokens: usize,
    /// `None`: greedy.
    pub sampling: Option<Sampling>,
    /// Stop after any of these (the tokenizer's end-of-sequence ids).
    pub eos_ids: Vec<i64>,
}

impl GenerateConfig {
    pub fn greedy(max_new_tokens: usize, eos_ids: Vec<i64>) -> Self {
        Self {
            max_new_tokens,
            sampling: None,
            eos_ids,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.max_new_tokens == 0 {
            bail!("--max-new-tokens 0 generates nothing: give 1 or more");
        }
        if let Some(s) = &self.sampling {
            s.validate()?;
        }
        Ok(())
    }
}

impl Decoder {
    /// The tokens generated after `prompt` (token ids, special tokens included as the tokenizer
    /// gives them), at most `cfg.max_new_tokens`, the end-of-sequence token included when one
    /// was generated. The prompt plus the new tokens must fit the model's context.
    pub fn generate(&self, prompt: &[i64], cfg: &GenerateConfig) -> Result<Vec<i64>> {
        cfg.validate()?;
        self.check_context(prompt.len(), cfg.max_new_tokens)?;
        let _guard = tch::no_grad_guard();
        let mut rng = cfg.sampling.map(|s| ChaCha20Rng::seed_from_u64(s.seed));
        let mut cache = self.new_cache_for(prompt.len() + cfg.max_new_tokens);
        let ids = Tensor::from_slice(prompt)
            .view([1, -1])
            .to_device(self.device);
        let logits = self.next_logits(&ids, &mut cache)?;
        let _one = OneThread::new();
        let out = Vec::with_capacity(cfg.max_new_tokens);
        self.decode_from(logits, &mut cache, out, cfg, rng.as_mut(), None)
    }

    /// The decoding loop from `logits` (after the tokens in `cache`), appending to `out`;
    /// `first`, when given, is the next token already chosen from `logits`.
    fn decode_from(
        &self,
        mut logits: Tensor,
        cache: &mut KvCache,
        mut out: Vec<i64>,
        cfg: &GenerateConfig,
        mut rng: Option<&mut ChaCha20Rng>,
        mut first: Option<i64>,
    ) -> Result<Vec<i64>> {
        loop {
            let next = match (first.take(), &cfg.sampling, rng.as_deref_mut()) {
                (Some(t), _, _) => t,
                (None, Some(s), Some(rng)) => sampling::draw(&s.distribution(&logits), rng),
                _ => sampling::greedy(&logits),
            };
            out.push(next);
            if cfg.eos_ids.contains(&next) || out.len() == cfg.max_new_tokens {
                return Ok(out);
            }
            logits = self.next_logits(&self.step_ids(next), cache)?;
        }
    }

    fn step_ids(&self, token: i64) -> Tensor {
        Tensor::from_slice(&[token])
            .view([1, 1])
            .to_device(self.device)
    }

    /// The sampled continuation of `cfg` (which must sample) and the greedy one, sharing their
    /// forward passes while they agree (at a low temperature, usually all the way): where the
    /// draw first differs from the arg-max, the cache is copied and each goes on alone. Each
    /// result is the one [`Self::generate`] gives for its decoding (same operations, same data).
    pub fn generate_sampled_and_greedy(
        &self,
        prompt: &[i64],
        cfg: &GenerateConfig,
    ) -> Result<(Vec<i64>, Vec<i64>)> {
        cfg.validate()?;
        let Some(s) = cfg.sampling else {
            bail!("generate_sampled_and_greedy needs a sampling configuration")
        };
        self.check_context(prompt.len(), cfg.max_new_tokens)?;
        let greedy_cfg = GenerateConfig {
            sampling: None,
            ..cfg.clone()
        };
        let _guard = tch::no_grad_guard();
        let mut rng = ChaCha20Rng::seed_from_u64(s.seed);
        let mut cache = self.new_cache_for(prompt.len() + cfg.max_new_tokens);
        let ids = Tensor::from_slice(prompt)
            .view([1, -1])
            .to_device(self.device);
        let mut logits = self.next_logits(&ids, &mut cache)?;
        let _one = OneThread::new();
        let mut out = Vec::with_capacity(cfg.max_new_tokens);
        loop {
            let g = sampling::greedy(&logits);
            let d = sampling::draw(&s.distribution(&logits), &mut rng);
            if d != g {
                let mut fork = cache.fork();
                let greedy = self.decode_from(
                    logits.shallow_clone(),
                    &mut fork,
                    out.clone(),
                    &greedy_cfg,
                    None,
                    Some(g),
                )?;
                let sampled =
                    self.decode_from(logits, &mut cache, out, cfg, Some(&mut rng), Some(d))?;
                return Ok((sampled, greedy));
            }
            out.push(d);
            if cfg.eos_ids.contains(&d) || out.len() == cfg.max_new_tokens {
                return Ok((out.clone(), out));
            }
            logits = self.next_logits(&self.step_ids(d), &mut cache)?;
        }
    }

    /// The f32 logits `[vocab]` after the last of `ids`, appending `ids` to `cache` (only the
    /// last position goes through the output head).
    pub fn next_logits(&self, ids: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        let h = self.forward_cached(ids, cache);
        let n = h.size()[1];
        self.logits(&h.get(0).get(n - 1))
    }

    /// Refuses an empty prompt, or one whose continuation would pass `max_position_embeddings`.
    pub fn check_context(&self, prompt_len: usize, max_new_tokens: usize) -> Result<()> {
        let ctx = self.cfg.max_position_embeddings;
        if prompt_len == 0 {
            bail!("the prompt has no tokens: give some text");
        }
        if prompt_len + max_new_tokens > ctx {
            bail!(
                "the prompt has {prompt_len} tokens; with --max-new-tokens {max_new_tokens} that passes the model's context of {ctx} tokens: shorten the prompt or generate fewer tokens"
            );
        }
        Ok(())
    }
}

/// Torch's intra-op threads set to 1 while it lives, the previous count restored when it drops
/// (also on an early return or a panic).
pub struct OneThread {
    previous: i32,
}

impl OneThread {
    pub fn new() -> Self {
        let previous = tch::get_num_threads();
        if previous != 1 {
            tch::set_num_threads(1);
        }
        Self { previous }
    }
}

impl Default for OneThread {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OneThread {
    fn drop(&mut self) {
        if self.previous != 1 {
            tch::set_num_threads(self.previous);
        }
    }
}
