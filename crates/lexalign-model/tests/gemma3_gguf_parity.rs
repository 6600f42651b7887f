//! The embedded Gemma 3 270M GGUF against HF transformers 5.24 reading the same file (fixture
//! from `tests/fixtures/gen_gemma3_gguf.py`): token ids of 156 Korean, Swahili and English words,
//! and `mean` / `mean-content` pooled vectors at all 19 hidden states, batched and one at a time.

use lexalign_model::{load, LoadOptions, Pooling};
use tch::Tensor;

mod common;
use common::{decode_f32, max_abs_diff};

/// HF batched vs single differs by up to 8e-7 here; allow about 10x that.
const TOL: f64 = 1e-5;

fn reference() -> serde_json::Value {
    let path = common::fixtures().join("gemma3_gguf_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn model() -> lexalign_model::LoadedModel {
    let path = lexalign_gguf::resolve_model(Some(std::path::Path::new("gemma3-270m")))
        .expect("the embedded Gemma 3 270M GGUF is needed: run `cargo xtask setup`");
    load(&path, &LoadOptions::default()).unwrap()
}

#[test]
fn gemma3_token_ids_match_transformers() {
    let reference = reference();
    let m = model();
    let mut mismatches = Vec::new();
    let words = reference["words"].as_array().unwrap();
    for w in words {
        let text = w["text"].as_str().unwrap();
        let want: Vec<i64> = serde_json::from_value(w["ids"].clone()).unwrap();
        let got = m.tokenizer.encode(text).unwrap();
        if got != want {
            mismatches.push(format!("{text:?}: lexalign {got:?}, transformers {want:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} words tokenize differently:\n{}",
        mismatches.len(),
        words.len(),
        mismatches.join("\n")
    );
}

#[test]
fn gemma3_pooled_vectors_match_transformers_at_every_hidden_state() {
    let reference = reference();
    let m = model();
    let vectors = reference["vectors"].as_array().unwrap();
    let words: Vec<&str> = vectors
        .iter()
        .map(|v| v["text"].as_str().unwrap())
        .collect();
    let layers: Vec<usize> = (0..m.model.num_hidden_states()).collect();
    assert_eq!(layers.len(), 19);
    let poolings = [Pooling::Mean, Pooling::MeanContent];
    let batched = m
        .embed_multi(&words, &layers, &poolings, words.len(), |_| {})
        .unwrap();
    let alone = m
        .embed_multi(&words, &layers, &poolings, 1, |_| {})
        .unwrap();
    // A zero memory budget sends every pooled vector through temp files: the same bits come back.
    let spilled = m
        .embed_multi_within(&words, &layers, &poolings, words.len(), 0, |_| {})
        .unwrap();
    for pi in 0..poolings.len() {
        assert!(spilled[pi].is_spilled() && !batched[pi].is_spilled());
        for l in 0..layers.len() {
            assert!(
                spilled[pi]
                    .vectors(l)
                    .unwrap()
                    .equal(&batched[pi].vectors(l).unwrap()),
                "hidden state {l}: spilled vectors differ"
            );
        }
    }
    let mut worst = 0f64;
    for (pi, key) in ["mean", "mean_content"].iter().enumerate() {
        for &l in &layers {
            for (wi, v) in vectors.iter().enumerate() {
                let want = decode_f32(v[*key][l.to_string()].as_str().unwrap());
                for (how, got) in [
                    ("batched", &batched[pi].vectors(l).unwrap()),
                    ("alone", &alone[pi].vectors(l).unwrap()),
                ] {
                    let row: Tensor = got.get(wi as i64);
                    let d = max_abs_diff(&row, &want);
                    assert!(d < TOL, "{key} hidden state {l}, word {:?} ({how}): differs from transformers by {d}", words[wi]);
                    worst = worst.max(d);
                }
            }
        }
    }
    println!("gemma3-270m: max |lexalign - transformers| over 12 words x 19 hidden states x 2 poolings = {worst:.3e}");
}
