//! bf16 compute on the CPU against HF transformers in bf16 (fixture from
//! `tests/fixtures/gen_tiny_llama_bf16.py`): a tiny bf16-stored Llama with `llama3` RoPE in all
//! three bands, right-padded batches (bf16's minimum in the additive mask), the f32 softmax cast
//! back to bf16, and a peft LoRA adapter (f32 weights on a bf16 base: input cast up, sum cast back).
//!
//! Tolerance: bf16 has an 8-bit significand (relative step 2^-8 = 0.0039); the pooled vectors are
//! L2-normalised with entries of about 0.1, so one bf16 rounding of a hidden state moves them by
//! about 5e-4. The reference's own distance between bf16 and f32 compute is printed next to ours;
//! ours must be well inside it and within [`BF16_TOL`].

use lexalign_model::load::{build, LoadOptions};
use lexalign_model::pooling::Pooling;
use lexalign_model::safetensors_dir::SafetensorsDir;
use lexalign_model::{lora, ModelConfig, PoolRequest};
use tch::{Kind, Tensor};

mod common;
use common::{decode_f32 as decode, fixtures, max_abs_diff};

/// Largest |ours - transformers| allowed for bf16 compute on pooled, normalised vectors.
const BF16_TOL: f64 = 2e-2;

fn reference() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("tiny_llama_bf16_reference.json")).unwrap(),
    )
    .unwrap()
}

fn masks(
    seqs: &[Vec<i64>],
    pad: i64,
    special: &[i64],
) -> (Tensor, lexalign_model::pooling::PoolMasks) {
    let b = lexalign_model::tokenize::pad_rows(seqs, pad, special, tch::Device::Cpu);
    (b.input_ids, b.masks)
}

fn model(kind: Kind) -> lexalign_model::Decoder {
    let dir = fixtures().join("tiny_llama_bf16");
    let cfg = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let st = SafetensorsDir::open(&dir).unwrap();
    build(
        &cfg,
        &st,
        &LoadOptions {
            kind,
            ..LoadOptions::default()
        },
    )
    .unwrap()
}

/// Max |diff| per layer of (batched, one-at-a-time) pooled vectors against `key` of the reference.
fn compare(m: &lexalign_model::Decoder, r: &serde_json::Value, key: &str) -> Vec<(f64, f64)> {
    let seqs: Vec<Vec<i64>> = serde_json::from_value(r["seqs"].clone()).unwrap();
    let pad = r["pad"].as_i64().unwrap();
    let special: Vec<i64> = serde_json::from_value(r["special"].clone()).unwrap();
    let layers: Vec<usize> = (0..=m.cfg.num_hidden_layers).collect();
    let req = PoolRequest {
        layers: layers.clone(),
        pooling: Pooling::Mean,
    };
    let _g = tch::no_grad_guard();
    let (ids, mk) = masks(&seqs, pad, &special);
    let batched = m.pooled(&ids, &mk, &req, false);
    let alone: Vec<Vec<Tensor>> = seqs
        .iter()
        .map(|s| {
            let (ids, mk) = masks(std::slice::from_ref(s), pad, &special);
            m.pooled(&ids, &mk, &req, false)
        })
        .collect();
    r[key]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(li, e)| {
            let one = Tensor::cat(
                &alone
                    .iter()
                    .map(|a| a[li].shallow_clone())
                    .collect::<Vec<_>>(),
                0,
            );
            (
                max_abs_diff(&batched[li], &decode(e["batched"].as_str().unwrap())),
                max_abs_diff(&one, &decode(e["alone"].as_str().unwrap())),
            )
        })
        .collect()
}

/// The reference's own bf16-vs-f32 distance per layer (what bf16 compute does to these vectors).
fn bf16_effect(r: &serde_json::Value, key: &str) -> Vec<f64> {
    let a = r[key].as_array().unwrap();
    let f = r["base_f32_compute"].as_array().unwrap();
    a.iter()
        .zip(f)
        .map(|(x, y)| {
            let (x, y) = (
                decode(x["batched"].as_str().unwrap()),
                decode(y["batched"].as_str().unwrap()),
            );
            x.iter()
                .zip(&y)
                .map(|(p, q)| (p - q).abs() as f64)
                .fold(0.0, f64::max)
        })
        .collect()
}

fn check(label: &str, diffs: &[(f64, f64)], effect: &[f64]) {
    for (li, ((b, a), e)) in diffs.iter().zip(effect).enumerate() {
        println!("{label} layer {li}: max |ours - transformers| batched {b:.2e}, alone {a:.2e} (transformers bf16 vs f32: {e:.2e})");
        assert!(
            *b < BF16_TOL && *a < BF16_TOL,
            "{label} layer {li}: {b:e} / {a:e} exceeds the bf16 tolerance {BF16_TOL}"
        );
        // Our bf16 must track transformers' bf16 much more closely than bf16 tracks f32
        // (layer 0, the embedding, is exact in both).
        assert!(
            *b <= e.max(1e-6) * 0.5 && *a <= e.max(1e-6) * 0.5,
            "{label} layer {li}: {b:e} / {a:e} not well inside bf16's own effect {e:e}"
        );
    }
}

#[test]
fn bf16_compute_matches_transformers_bf16() {
    let r = reference();
    assert!(r["base"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["dtype"] == "torch.bfloat16"));
    let m = model(Kind::BFloat16);
    assert_eq!(m.embed_tokens.kind(), Kind::BFloat16);
    check("bf16", &compare(&m, &r, "base"), &bf16_effect(&r, "base"));
}

#[test]
fn bf16_lora_matches_peft_on_bf16() {
    let r = reference();
    assert_eq!(
        r["lora_weight_dtypes"],
        serde_json::json!(["torch.float32"]),
        "peft keeps the adapter in f32"
    );
    let mut m = model(Kind::BFloat16);
    lora::load_peft(&mut m, &fixtures().join("tiny_llama_bf16_lora"), false).unwrap();
    for (li, (b, a)) in compare(&m, &r, "lora").iter().enumerate() {
        println!("bf16+lora layer {li}: max |ours - peft| batched {b:.2e}, alone {a:.2e}");
        // One rounding of (base + adapter) as peft does; rounding the adapter's output to bf16
        // before the add (a second rounding) was 4.7e-3 .. 1.3e-2 off here.
        assert!(
            *b < 1e-3 && *a < 1e-3,
            "bf16+lora layer {li}: {b:e} / {a:e}"
        );
    }
    // The adapter must matter: the LoRA reference is far from the plain one.
    let moved = bf16_effect_between(&r, "lora", "base");
    assert!(
        moved.iter().skip(1).all(|&d| d > 10.0 * BF16_TOL.min(0.01)),
        "adapter changes too little: {moved:?}"
    );
}

fn bf16_effect_between(r: &serde_json::Value, a: &str, b: &str) -> Vec<f64> {
    r[a].as_array()
        .unwrap()
        .iter()
        .zip(r[b].as_array().unwrap())
        .map(|(x, y)| {
            let (x, y) = (
                decode(x["batched"].as_str().unwrap()),
                decode(y["batched"].as_str().unwrap()),
            );
            x.iter()
                .zip(&y)
                .map(|(p, q)| (p - q).abs() as f64)
                .fold(0.0, f64::max)
        })
        .collect()
}

/// The same bf16-stored weights in f32 compute equal transformers' f32 compute closely (the
/// llama3 RoPE's smoothing band in a forward pass, without bf16 noise).
#[test]
fn f32_compute_of_the_bf16_checkpoint_matches_transformers() {
    let r = reference();
    let m = model(Kind::Float);
    for (li, (b, a)) in compare(&m, &r, "base_f32_compute").iter().enumerate() {
        println!("f32 layer {li}: batched {b:.2e}, alone {a:.2e}");
        assert!(*b < 1e-5 && *a < 1e-5, "f32 layer {li}: {b:e} / {a:e}");
    }
}
