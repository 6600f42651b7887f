//! `rope::inv_freq` against transformers' rope initialisers (`tests/fixtures/gen_tiny_llama_bf16.py`
//! writes `rope_inv_freq_reference.json`): the `llama3` type with wavelengths in all three bands
//! (kept, smoothed, divided by `factor`), the real Llama-3.1-8B's settings, the default and `linear`.
//! The configs are read the way a checkpoint's config.json is (transformers 5's `rope_parameters`).

use lexalign_model::family::LayerType;
use lexalign_model::rope::inv_freq;
use lexalign_model::ModelConfig;

mod common;
use common::fixtures;

fn reference() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("rope_inv_freq_reference.json")).unwrap(),
    )
    .unwrap()
}

/// A config.json of the case's shape, with its `rope_parameters` as transformers wrote them.
fn config(case: &serde_json::Value) -> ModelConfig {
    let head_dim = case["head_dim"].as_u64().unwrap();
    let cfg = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": head_dim * 2, "intermediate_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": head_dim, "vocab_size": 8,
        "rms_norm_eps": 1e-5, "max_position_embeddings": 8192,
        "rope_parameters": case["rope_parameters"],
    });
    ModelConfig::from_json_str(&cfg.to_string()).unwrap()
}

#[test]
fn inv_freq_matches_transformers_bit_for_bit() {
    let r = reference();
    for case in r["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let cfg = config(case);
        let spec = cfg.rope_for(LayerType::Full).unwrap();
        let ours = inv_freq(&spec, cfg.head_dim());
        let want: Vec<u32> = serde_json::from_value(case["inv_freq_bits"].clone()).unwrap();
        assert_eq!(ours.len(), want.len(), "{name}: length");
        for (i, (&o, &w)) in ours.iter().zip(&want).enumerate() {
            assert_eq!(
                o.to_bits(),
                w,
                "{name}: inv_freq[{i}] = {o:e}, transformers {:e} ({} ulp)",
                f32::from_bits(w),
                (o.to_bits() as i64 - w as i64).abs()
            );
        }
    }
}

/// The fixtures must exercise every band of `llama3`, the smoothing band above all (the paper's
/// model has six of its 64 frequencies there).
#[test]
fn llama3_cases_cover_all_three_bands() {
    let r = reference();
    for name in ["tiny_llama_bf16", "llama-3.1-8b"] {
        let case = r["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        let bands: Vec<&str> = case["bands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        for band in ["high", "smoothing", "low"] {
            assert!(
                bands.contains(&band),
                "{name}: no frequency in the {band} band: {bands:?}"
            );
        }
    }
    // The tiny model's config.json (the bf16 parity fixture) has the same rope as its case.
    let tiny = ModelConfig::from_file(&fixtures().join("tiny_llama_bf16/config.json")).unwrap();
    let case = r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "tiny_llama_bf16")
        .unwrap();
    assert_eq!(
        tiny.rope_for(LayerType::Full).unwrap(),
        config(case).rope_for(LayerType::Full).unwrap()
    );
}
