//! The authors' `rope_scaling` patch under their pinned transformers 4.43.0
//! (`tests/fixtures/gen_rope_patch.sh` writes `rope_patch.json`): on a Llama-3.1-8B config the
//! patch adds `"type": "linear"` beside `"rope_type": "llama3"`, and 4.43.0 still uses `llama3`
//! with factor 8. This config parser reads the patched dict the same way, and `rope::inv_freq`
//! then gives 4.43.0's inverse frequencies bit for bit, so the correct RoPE and the authors' are
//! one and the same (no separate decoder option is needed).

use lexalign_model::config::RopeScaling;
use lexalign_model::family::LayerType;
use lexalign_model::rope::inv_freq;
use lexalign_model::ModelConfig;

mod common;
use common::fixtures;

fn fixture() -> serde_json::Value {
    let path = fixtures().join("rope_patch.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// The fixture's Llama-3.1-8B config with the patched `rope_scaling` (both keys).
fn patched_config(f: &serde_json::Value) -> ModelConfig {
    let mut cfg = f["config"].clone();
    cfg["rope_scaling"] = f["patched"]["rope_scaling"].clone();
    ModelConfig::from_json_str(&cfg.to_string()).unwrap()
}

#[test]
fn patched_config_keeps_llama3_rope_as_transformers_4_43_does() {
    let f = fixture();
    assert_eq!(f["transformers"], "4.43.0");
    assert_eq!(f["patched"]["rope_scaling"]["type"], "linear");
    assert_eq!(f["patched"]["rope_type_used"], "llama3");
    let cfg = patched_config(&f);
    let spec = cfg.rope_for(LayerType::Full).unwrap();
    assert!(
        matches!(spec.scaling, Some(RopeScaling::Llama3 { factor, .. }) if factor == 8.0),
        "{spec:?}"
    );
    let ours = inv_freq(&spec, cfg.head_dim());
    let want = floats(&f["patched"]["inv_freq"]);
    assert_eq!(ours.len(), want.len());
    for (i, (o, w)) in ours.iter().zip(&want).enumerate() {
        assert_eq!(
            o.to_bits(),
            w.to_bits(),
            "inv_freq[{i}]: ours {o:e}, transformers 4.43.0 {w:e}"
        );
    }
    // cos at position 1 is cos(inv_freq), in both halves (rotate-half layout).
    let cos1 = floats(&f["patched"]["cos_position_1"]);
    for (i, c) in cos1.iter().enumerate() {
        let x = ours[i % ours.len()].cos();
        assert!((x - c).abs() < 1e-6, "cos[1][{i}]: {x} vs {c}");
    }
}

/// The test can tell the variants apart: reading the patch as `linear` with factor 8 would give
/// other frequencies (the highest ones divided by 8).
#[test]
fn a_linear_reading_would_differ() {
    let f = fixture();
    let cfg = patched_config(&f);
    let mut spec = cfg.rope_for(LayerType::Full).unwrap();
    spec.scaling = Some(RopeScaling::Linear { factor: 8.0 });
    let linear = inv_freq(&spec, cfg.head_dim());
    let want = floats(&f["patched"]["inv_freq"]);
    assert!(
        (linear[0] - want[0]).abs() > 0.5,
        "{} vs {}",
        linear[0],
        want[0]
    );
}

/// Without the patch, 4.43.0 cannot build the model at all: the patch was a workaround for that
/// KeyError, not a change of RoPE.
#[test]
fn unpatched_config_fails_under_4_43() {
    let f = fixture();
    assert_eq!(f["unpatched_loads"], false);
    let e = f["unpatched"]["error"].as_str().unwrap();
    assert!(e.contains("KeyError") && e.contains("type"), "{e}");
}
