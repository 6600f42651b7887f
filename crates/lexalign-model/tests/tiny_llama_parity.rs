//! Hidden states of a tiny random Llama (GQA, llama3 RoPE scaling, sharded safetensors) against
//! HF transformers (fixture from `tests/fixtures/gen_tiny_llama.py`), batched and one at a time.

use lexalign_model::load::{build, LoadOptions};
use lexalign_model::pooling::{PoolMasks, Pooling};
use lexalign_model::safetensors_dir::SafetensorsDir;
use lexalign_model::ModelConfig;
use lexalign_model::PoolRequest;
use tch::Tensor;

mod common;
use common::{decode_f32 as decode, fixtures, max_abs_diff};

fn masks(seqs: &[Vec<i64>], pad: i64, special: &[i64]) -> (Tensor, PoolMasks) {
    let b = lexalign_model::tokenize::pad_rows(seqs, pad, special, tch::Device::Cpu);
    (b.input_ids, b.masks)
}

#[test]
fn tiny_llama_matches_transformers_batched_and_alone() {
    let dir = fixtures().join("tiny_llama");
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("tiny_llama_reference.json")).unwrap(),
    )
    .unwrap();
    let cfg = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let st = SafetensorsDir::open(&dir).unwrap();
    let model = build(&cfg, &st, &LoadOptions::default()).unwrap();
    let seqs: Vec<Vec<i64>> = serde_json::from_value(reference["seqs"].clone()).unwrap();
    let pad = reference["pad"].as_i64().unwrap();
    let layers: Vec<usize> = (0..=cfg.num_hidden_layers).collect();
    let _g = tch::no_grad_guard();
    for (pooling, key) in [
        (Pooling::Mean, "mean"),
        (Pooling::MeanContent, "mean_content"),
    ] {
        let req = PoolRequest {
            layers: layers.clone(),
            pooling,
        };
        let (ids, m) = masks(&seqs, pad, &[1, 2, 3]);
        let batched = model.pooled(&ids, &m, &req, false);
        let alone: Vec<Vec<Tensor>> = seqs
            .iter()
            .map(|s| {
                let (ids, m) = masks(std::slice::from_ref(s), pad, &[1, 2, 3]);
                model.pooled(&ids, &m, &req, false)
            })
            .collect();
        for (li, entry) in reference["layers"].as_array().unwrap().iter().enumerate() {
            let want = decode(entry[key].as_str().unwrap());
            let d = max_abs_diff(&batched[li], &want);
            assert!(
                d < 1e-5,
                "{key} layer {li}: batched differs from transformers by {d}"
            );
            let one = Tensor::cat(
                &alone
                    .iter()
                    .map(|a| a[li].shallow_clone())
                    .collect::<Vec<_>>(),
                0,
            );
            let d = max_abs_diff(&one, &want);
            assert!(
                d < 1e-5,
                "{key} layer {li}: one-at-a-time differs from transformers by {d}"
            );
        }
    }
}

#[test]
fn forward_stops_at_the_highest_requested_layer() {
    let dir = fixtures().join("tiny_llama");
    let cfg = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let st = SafetensorsDir::open(&dir).unwrap();
    // Only one block loaded: hidden state 1 must still be computable.
    let opts = LoadOptions {
        max_blocks: Some(1),
        ..LoadOptions::default()
    };
    let model = build(&cfg, &st, &opts).unwrap();
    assert_eq!(model.layers.len(), 1);
    let (ids, m) = masks(&[vec![1, 5, 6]], 2, &[1, 2, 3]);
    let out = model.pooled(
        &ids,
        &m,
        &PoolRequest {
            layers: vec![1, 0],
            pooling: Pooling::Mean,
        },
        false,
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].size(), vec![1, 64]);
}
