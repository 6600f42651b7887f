//! The benchmark's arithmetic: each workload's FLOPs counted from the model's shapes and the
//! tokens it processed (`BenchLine::flops`, so `cargo xtask bench` can state GFLOP/s and the
//! fraction of the machine's peak), the machine's own peak (`--case peak`: a large square matmul
//! through libtorch in `--dtype` f32 or bf16), and `--case scan-metrics` (the work of `lexalign
//! scan`: the forward pass and every hidden state's retrieval metrics, on the word file's pairs).
//!
//! Counted: the decoder blocks' linear layers (2 FLOPs a weight a token) and the LM head where a
//! workload computes logits; attention scores, norms and activations are left out (under 2 % for
//! one-word rows), so a fraction of peak is a slight underestimate.

use std::time::Instant;

use anyhow::{bail, Result};
use lexalign_model::tch::{Device, Kind, Tensor};
use lexalign_model::ModelConfig;

use crate::bench_cmd::BenchArgs;
use crate::bench_model::BenchLine;

/// Side of the square matmul of `--case peak` (17 GFLOP a product: long enough to time, short
/// enough to repeat).
const PEAK_N: i64 = 2048;
/// Timed products of `--case peak` after one warm-up; the fastest is reported (a peak).
const PEAK_REPS: usize = 5;

/// Weights of one decoder block's linear layers (q, k, v, o, gate, up, down).
pub fn block_linear_weights(cfg: &ModelConfig) -> f64 {
    let d = cfg.hidden_size as f64;
    let hd = cfg
        .head_dim
        .unwrap_or(cfg.hidden_size / cfg.num_attention_heads) as f64;
    let q = cfg.num_attention_heads as f64 * hd;
    let kv = cfg.num_key_value_heads.unwrap_or(cfg.num_attention_heads) as f64 * hd;
    d * q + 2.0 * d * kv + q * d + 3.0 * d * cfg.intermediate_size as f64
}

/// FLOPs of a forward pass of `tokens` tokens through the first `blocks` blocks.
pub fn forward_flops(cfg: &ModelConfig, blocks: usize, tokens: usize) -> f64 {
    2.0 * block_linear_weights(cfg) * blocks as f64 * tokens as f64
}

/// FLOPs of a LoRA TLI step: the forward to the loss's block and the backward through the frozen
/// linear layers (activation gradients only: one more product of the same size).
pub fn tli_step_flops(cfg: &ModelConfig, layer: usize, tokens: usize) -> f64 {
    2.0 * forward_flops(cfg, layer, tokens)
}

/// FLOPs of greedy generation: the prompt through every block, then one token at a time; the LM
/// head once per new token.
pub fn generate_flops(cfg: &ModelConfig, prompt: usize, new: usize) -> f64 {
    let blocks = forward_flops(cfg, cfg.num_hidden_layers, prompt + new.saturating_sub(1));
    blocks + 2.0 * (cfg.vocab_size * cfg.hidden_size) as f64 * new as f64
}

/// FLOPs of the scan's retrieval metrics: one `[sources, candidates]` similarity product per
/// hidden state and space (raw, centred), in f64.
pub fn metrics_flops(states: usize, sources: usize, candidates: usize, dim: usize) -> f64 {
    2.0 * 2.0 * (states * sources * candidates * dim) as f64
}

/// `--case peak`: the fastest of [`PEAK_REPS`] `[n, n] x [n, n]` products in `dtype` on the CPU.
pub fn peak_case(a: &BenchArgs) -> Result<BenchLine> {
    let kind = match a.dtype.as_str() {
        "f32" | "auto" => Kind::Float,
        "bf16" => Kind::BFloat16,
        other => bail!("--case peak --dtype {other}: give f32 or bf16"),
    };
    lexalign_model::tch::set_num_threads(a.threads as i32);
    lexalign_model::tch::manual_seed(0);
    let x = Tensor::randn([PEAK_N, PEAK_N], (Kind::Float, Device::Cpu)).to_kind(kind);
    let y = Tensor::randn([PEAK_N, PEAK_N], (Kind::Float, Device::Cpu)).to_kind(kind);
    let _ = x.matmul(&y);
    let mut best = f64::INFINITY;
    for _ in 0..PEAK_REPS {
        let t = Instant::now();
        let z = x.matmul(&y);
        let _ = z.double_value(&[0, 0]);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(BenchLine {
        tool: "lexalign".into(),
        case: "peak".into(),
        model: format!(
            "matmul {PEAK_N}x{PEAK_N} {}",
            if kind == Kind::Float { "f32" } else { "bf16" }
        ),
        quant: "none".into(),
        threads: a.threads,
        seconds: best,
        flops: 2.0 * (PEAK_N as f64).powi(3),
        ..Default::default()
    })
}

/// `--case scan-metrics`: `lexalign_scan::scan` (forward, pooling and every metric) over the word
/// file's pairs (lines 2i, 2i+1), timed whole, as the user-facing `lexalign scan` runs it.
pub fn scan_metrics_case(
    model: &lexalign_model::LoadedModel,
    words: &[String],
    a: &BenchArgs,
    line: &mut BenchLine,
) -> Result<()> {
    if words.len() < 4 || words.len() % 2 == 1 {
        bail!("--case scan-metrics reads pairs (lines 2i, 2i+1): the word file needs an even number of words, at least 4");
    }
    let sources: Vec<&str> = words.iter().step_by(2).map(String::as_str).collect();
    let targets: Vec<&str> = words
        .iter()
        .skip(1)
        .step_by(2)
        .map(String::as_str)
        .collect();
    let layers = lexalign_scan::parse_layers(&a.case.layers, model.model.num_hidden_states())?;
    let opts = lexalign_scan::ScanOptions {
        layers: layers.clone(),
        poolings: vec![lexalign_model::Pooling::Mean],
        batch_size: a.batch_size,
        seed: 0,
        bootstrap: 1000,
        candidates: Vec::new(),
    };
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let (tokens, padded) = model.padding(&refs, a.batch_size)?;
    let t = Instant::now();
    let result = lexalign_scan::scan(model, &sources, &targets, &opts, |_| {})?;
    line.seconds = t.elapsed().as_secs_f64();
    let m = &result[0].layers[0].metrics;
    let cfg = &model.model.cfg;
    let blocks = layers.iter().max().copied().unwrap_or(0);
    line.flops = forward_flops(cfg, blocks, tokens)
        + metrics_flops(layers.len(), m.n_sources, m.n_candidates, cfg.hidden_size);
    line.words = words.len();
    line.layers = layers.len();
    line.tokens = tokens;
    line.padded_tokens = padded;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smollm2_block_weights_from_its_shapes() {
        // SmolLM2-135M: d 576, 9 heads of 64, 3 KV heads, MLP 1536, 30 blocks.
        let cfg: ModelConfig = serde_json::from_value(serde_json::json!({
            "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
            "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152
        }))
        .unwrap();
        let per_block = 576.0 * 576.0 * 2.0 + 2.0 * 576.0 * 192.0 + 3.0 * 576.0 * 1536.0;
        assert_eq!(block_linear_weights(&cfg), per_block);
        // 30 blocks of linear weights: SmolLM2's 135M parameters less its 28.3M embedding.
        assert!((block_linear_weights(&cfg) * 30.0 / 1e6 - 106.2).abs() < 0.1);
        assert_eq!(forward_flops(&cfg, 2, 10), 2.0 * per_block * 20.0);
        assert_eq!(tli_step_flops(&cfg, 2, 10), 4.0 * per_block * 20.0);
        assert_eq!(
            generate_flops(&cfg, 32, 64),
            2.0 * per_block * 30.0 * 95.0 + 2.0 * 49152.0 * 576.0 * 64.0
        );
        assert_eq!(
            metrics_flops(31, 600, 610, 576),
            4.0 * 31.0 * 600.0 * 610.0 * 576.0
        );
    }
}
