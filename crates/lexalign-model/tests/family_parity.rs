//! Hidden states of tiny random Gemma 3 (sliding + full layers), Qwen2 (q/k/v biases), Qwen3
//! (q/k norms) and Mistral models against HF transformers (fixtures from
//! `tests/fixtures/gen_tiny_families.py`), at every hidden state, batched and one at a time.

use lexalign_model::load::{build, LoadOptions};
use lexalign_model::pooling::{PoolMasks, Pooling};
use lexalign_model::safetensors_dir::SafetensorsDir;
use lexalign_model::{Family, ModelConfig, PoolRequest};
use tch::Tensor;

mod common;
use common::{decode_f32 as decode, fixtures, max_abs_diff};

/// Transformers agrees with itself batched vs alone to ~2e-7; allow 10x the worst seen here.
const TOL: f64 = 1e-5;

fn masks(seqs: &[Vec<i64>], pad: i64, special: &[i64]) -> (Tensor, PoolMasks) {
    let b = lexalign_model::tokenize::pad_rows(seqs, pad, special, tch::Device::Cpu);
    (b.input_ids, b.masks)
}

/// Returns the worst difference seen, after asserting every layer is within [`TOL`].
fn check_family(name: &str, family: Family) -> f64 {
    let dir = fixtures().join(format!("tiny_{name}"));
    let ref_path = fixtures().join(format!("tiny_{name}_reference.json"));
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ref_path).unwrap()).unwrap();
    let cfg = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    assert_eq!(cfg.family().unwrap(), family);
    let st = SafetensorsDir::open(&dir).unwrap();
    let model = build(&cfg, &st, &LoadOptions::default()).unwrap();
    assert_eq!(
        model.num_hidden_states(),
        reference["num_hidden_states"].as_u64().unwrap() as usize
    );
    let seqs: Vec<Vec<i64>> = serde_json::from_value(reference["seqs"].clone()).unwrap();
    let pad = reference["pad"].as_i64().unwrap();
    let special: Vec<i64> = serde_json::from_value(reference["special"].clone()).unwrap();
    let layers: Vec<usize> = (0..model.num_hidden_states()).collect();
    let _g = tch::no_grad_guard();
    let mut worst = 0f64;
    for (pooling, key) in [
        (Pooling::Mean, "mean"),
        (Pooling::MeanContent, "mean_content"),
    ] {
        let req = PoolRequest {
            layers: layers.clone(),
            pooling,
        };
        let (ids, m) = masks(&seqs, pad, &special);
        let batched = model.pooled(&ids, &m, &req, false);
        let alone: Vec<Vec<Tensor>> = seqs
            .iter()
            .map(|s| {
                let (ids, m) = masks(std::slice::from_ref(s), pad, &special);
                model.pooled(&ids, &m, &req, false)
            })
            .collect();
        for (li, entry) in reference["layers"].as_array().unwrap().iter().enumerate() {
            let want = decode(entry[key].as_str().unwrap());
            let one = Tensor::cat(
                &alone
                    .iter()
                    .map(|a| a[li].shallow_clone())
                    .collect::<Vec<_>>(),
                0,
            );
            let d_alone = max_abs_diff(&one, &want);
            let want_b = decode(reference["batched_layers"][li][key].as_str().unwrap());
            let d_batched = max_abs_diff(&batched[li], &want_b);
            assert!(d_alone < TOL, "{name} {key} hidden state {li}: one-at-a-time differs from transformers by {d_alone}");
            assert!(
                d_batched < TOL,
                "{name} {key} hidden state {li}: batched differs from transformers by {d_batched}"
            );
            worst = worst.max(d_alone).max(d_batched);
        }
    }
    println!(
        "{name}: max |lexalign - transformers| over {} hidden states = {worst:.3e}",
        layers.len()
    );
    worst
}

#[test]
fn gemma3_matches_transformers() {
    check_family("gemma3", Family::Gemma3);
}

#[test]
fn qwen2_matches_transformers() {
    check_family("qwen2", Family::Qwen2);
}

#[test]
fn qwen3_matches_transformers() {
    check_family("qwen3", Family::Qwen3);
}

#[test]
fn mistral_matches_transformers() {
    check_family("mistral", Family::Mistral);
}

#[test]
fn a_config_that_disagrees_with_the_weights_is_refused_naming_the_tensor() {
    let dir = fixtures().join("tiny_qwen2");
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["intermediate_size"] = serde_json::json!(v["intermediate_size"].as_u64().unwrap() + 8);
    let cfg = ModelConfig::from_json_str(&v.to_string()).unwrap();
    let st = SafetensorsDir::open(&dir).unwrap();
    let err = format!(
        "{:#}",
        build(&cfg, &st, &LoadOptions::default()).unwrap_err()
    );
    assert!(
        err.contains("mlp.gate_proj.weight") && err.contains("intermediate_size"),
        "{err}"
    );
    v["intermediate_size"] = serde_json::json!(v["intermediate_size"].as_u64().unwrap() - 8);
    v["vocab_size"] = serde_json::json!(v["vocab_size"].as_u64().unwrap() - 1);
    let cfg = ModelConfig::from_json_str(&v.to_string()).unwrap();
    let err = format!(
        "{:#}",
        build(&cfg, &st, &LoadOptions::default()).unwrap_err()
    );
    assert!(
        err.contains("embed_tokens") && err.contains("vocab_size"),
        "{err}"
    );
}

/// A tensor source that hands out one tensor with a NaN in it.
struct WithNan<'a> {
    inner: &'a SafetensorsDir,
    poisoned: &'a str,
}

impl lexalign_model::load::TensorSource for WithNan<'_> {
    fn tensor(&self, name: &str) -> anyhow::Result<Tensor> {
        let t = self.inner.get(name)?;
        if name == self.poisoned {
            let flat = t.flatten(0, -1);
            let _ = flat.get(3).fill_(f64::NAN);
        }
        Ok(t)
    }
    fn has(&self, name: &str) -> bool {
        self.inner.contains(name)
    }
    fn names(&self) -> Vec<String> {
        self.inner.names().cloned().collect()
    }
}

#[test]
fn a_weight_with_nan_is_refused_at_load_naming_it() {
    let dir = fixtures().join("tiny_qwen3");
    let cfg = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let st = SafetensorsDir::open(&dir).unwrap();
    let name = "model.layers.1.mlp.down_proj.weight";
    let err = format!(
        "{:#}",
        build(
            &cfg,
            &WithNan {
                inner: &st,
                poisoned: name
            },
            &LoadOptions::default()
        )
        .unwrap_err()
    );
    assert!(err.contains(name) && err.contains("non-finite"), "{err}");
}

#[test]
fn a_non_finite_pooled_vector_names_the_layer_and_the_word() {
    let t = Tensor::from_slice(&[0.5f32, 0.5, f32::INFINITY, 0.0]).view([2, 2]);
    let err = lexalign_model::finite::ensure_rows_finite(&t, &["mbwa", "paka"], 7)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("paka") && err.contains("hidden state 7"),
        "{err}"
    );
    let ok = Tensor::from_slice(&[0.5f32, 0.5, 0.1, 0.0]).view([2, 2]);
    assert!(lexalign_model::finite::ensure_rows_finite(&ok, &["mbwa", "paka"], 7).is_ok());
}
