//! The embedded Qwen2.5-Coder-0.5B-Instruct GGUF (Q5_0, Q8_0, Q4_K, Q6_K and F32 tensors) against
//! HF transformers reading the same file (fixture from `tests/fixtures/gen_qwen2_gguf.py`): token
//! ids of 10 Korean and English words, and pooled vectors of 4 of them at all 25 hidden states,
//! both with the family's sink prefix (`mean-content` after `<|endoftext|>`) and without it
//! (`mean` over the tokenizer's own ids, the sink included).

use lexalign_model::{load, LoadOptions, Pooling};
use tch::Tensor;

mod common;
use common::{decode_f32, max_abs_diff};

/// The bar: every hidden state within 1e-4 of transformers (f32 CPU).
const TOL: f64 = 1e-4;

fn reference() -> serde_json::Value {
    let path = common::fixtures().join("qwen2_gguf_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn model() -> lexalign_model::LoadedModel {
    let path = lexalign_gguf::resolve_model(Some(std::path::Path::new("qwen2.5-coder-0.5b")))
        .expect("the embedded Qwen2.5-Coder-0.5B GGUF is needed: run `cargo xtask setup`");
    load(&path, &LoadOptions::default()).unwrap()
}

/// The worst difference per hidden state of `pooling`'s vectors against the fixture's `key`.
fn worst_per_state(
    m: &lexalign_model::LoadedModel,
    vectors: &[serde_json::Value],
    pooling: Pooling,
    key: &str,
) -> Vec<f64> {
    let words: Vec<&str> = vectors
        .iter()
        .map(|v| v["text"].as_str().unwrap())
        .collect();
    let layers: Vec<usize> = (0..m.model.num_hidden_states()).collect();
    assert_eq!(layers.len(), 25);
    let got = m
        .embed_multi(&words, &layers, &[pooling], words.len(), |_| {})
        .unwrap();
    layers
        .iter()
        .map(|&l| {
            let mut worst = 0f64;
            for (wi, v) in vectors.iter().enumerate() {
                let want = decode_f32(v[key][l.to_string()].as_str().unwrap());
                let row: Tensor = got[0].vectors(l).unwrap().get(wi as i64);
                let d = max_abs_diff(&row, &want);
                assert!(
                    d < TOL,
                    "{key} hidden state {l}, word {:?}: differs from transformers by {d}",
                    words[wi]
                );
                worst = worst.max(d);
            }
            worst
        })
        .collect()
}

#[test]
fn qwen2_token_ids_match_transformers_after_the_sink_prefix() {
    let reference = reference();
    let m = model();
    let prefix = reference["prefix_id"].as_i64().unwrap();
    assert_eq!(prefix, reference["bos_id"].as_i64().unwrap());
    assert!(
        !reference["add_bos"].as_bool().unwrap(),
        "Qwen2 adds no BOS itself"
    );
    for w in reference["words"].as_array().unwrap() {
        let text = w["text"].as_str().unwrap();
        let hf: Vec<i64> = serde_json::from_value(w["ids"].clone()).unwrap();
        let want: Vec<i64> = std::iter::once(prefix).chain(hf).collect();
        assert_eq!(m.tokenizer.encode(text).unwrap(), want, "{text:?}");
    }
}

#[test]
fn qwen2_pooled_vectors_match_transformers_at_every_hidden_state() {
    let reference = reference();
    let mut m = model();
    let vectors = reference["vectors"].as_array().unwrap();
    let prefixed = worst_per_state(&m, vectors, Pooling::MeanContent, "prefixed_mean_content");
    // Without the rule: the tokenizer's own ids, every position pooled (the sink included).
    m.tokenizer.prepend_bos = false;
    let plain = worst_per_state(&m, vectors, Pooling::Mean, "plain_mean");
    for (l, (a, b)) in prefixed.iter().zip(&plain).enumerate() {
        println!("qwen2.5-coder-0.5b hidden state {l:2}: max |lexalign - transformers| prefixed {a:.2e}, sink included {b:.2e}");
    }
}
