//! Parity with HF transformers on the embedded SmolLM2 GGUF and on the same model converted to
//! an HF safetensors folder (fixture: `tests/fixtures/gen_hf_parity.py`, transformers 5.24, f32,
//! CPU, eager attention): token ids identical; every pooled vector within 1e-5 (max abs);
//! batched with padding equal to one at a time.

mod common;
use common::{decode_f32, embedded_model, fixtures, max_abs_diff};
use lexalign_model::{load, LoadOptions, LoadedModel, PoolRequest, Pooling};
use serde_json::Value;
use tch::Device;

/// About 10x the largest difference observed (1.0e-6).
const TOL: f64 = 1e-5;

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("hf_parity.json")).unwrap())
        .unwrap()
}

fn layers_of(w: &Value) -> Vec<usize> {
    w["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap() as usize)
        .collect()
}

/// Checks one loaded model against the fixture; returns the largest difference seen.
fn check(model: &LoadedModel, r: &Value) -> f64 {
    let _g = tch::no_grad_guard();
    let mut worst: f64 = 0.0;
    let words = r["words"].as_array().unwrap();
    // Token ids.
    for w in words {
        let text = w["text"].as_str().unwrap();
        let want: Vec<i64> = serde_json::from_value(w["ids"].clone()).unwrap();
        assert_eq!(
            model.tokenizer.encode(text).unwrap(),
            want,
            "token ids of {text:?}"
        );
    }
    // One word at a time, `mean` and `mean-content`, every stored layer.
    for w in words {
        let text = w["text"].as_str().unwrap();
        let layers = layers_of(w);
        for pooling in [Pooling::Mean, Pooling::MeanContent] {
            let got = model.embed(&[text], &layers, pooling, 1, |_| {}).unwrap();
            for (slot, l) in layers.iter().enumerate() {
                let want = decode_f32(w["mean"][l.to_string()].as_str().unwrap());
                let d = max_abs_diff(&got.vectors(slot).unwrap(), &want);
                worst = worst.max(d);
                assert!(d < TOL, "{text:?} layer {l} {pooling}: max abs diff {d}");
            }
        }
    }
    // All words in one right-padded batch against the single-word reference.
    let texts: Vec<&str> = words.iter().map(|w| w["text"].as_str().unwrap()).collect();
    let common_layers = vec![0, 1, 2, 15, model.model.cfg.num_hidden_layers];
    let got = model
        .embed(&texts, &common_layers, Pooling::Mean, texts.len(), |_| {})
        .unwrap();
    for (i, w) in words.iter().enumerate() {
        for (slot, l) in common_layers.iter().enumerate() {
            let want = decode_f32(w["mean"][l.to_string()].as_str().unwrap());
            let d = max_abs_diff(&got.vectors(slot).unwrap().get(i as i64), &want);
            worst = worst.max(d);
            assert!(
                d < TOL,
                "batched {:?} layer {l}: max abs diff {d}",
                texts[i]
            );
        }
    }
    // BOS put in front by hand (as a Llama 3 tokenizer adds it): `mean` includes it, `mean-content` not.
    for w in r["with_bos"].as_array().unwrap() {
        let ids: Vec<i64> = serde_json::from_value(w["ids"].clone()).unwrap();
        let layers = layers_of(w);
        let batch = model.tokenizer.batch_from_ids(&[ids], Device::Cpu);
        for (pooling, key) in [
            (Pooling::Mean, "mean"),
            (Pooling::MeanContent, "mean_content"),
        ] {
            let out = model.model.pooled(
                &batch.input_ids,
                &batch.masks,
                &PoolRequest {
                    layers: layers.clone(),
                    pooling,
                },
                false,
            );
            for (slot, l) in layers.iter().enumerate() {
                let want = decode_f32(w[key][l.to_string()].as_str().unwrap());
                let d = max_abs_diff(&out[slot], &want);
                worst = worst.max(d);
                assert!(
                    d < TOL,
                    "with BOS {:?} layer {l} {key}: max abs diff {d}",
                    w["text"]
                );
            }
        }
    }
    worst
}

#[test]
fn gguf_and_converted_safetensors_match_transformers() {
    let r = reference();
    let path = embedded_model();
    let sha = lexalign_run::sha256_file(&path).unwrap();
    assert_eq!(
        sha,
        r["model_sha256"].as_str().unwrap(),
        "the fixture was made from another model file"
    );
    let gguf = load(&path, &LoadOptions::default()).unwrap();
    let worst_gguf = check(&gguf, &r);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("smollm2-hf");
    lexalign_gguf::convert_to_hf_dir(&path, &dir).unwrap();
    let st = load(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(
        st.model.cfg.num_hidden_layers,
        gguf.model.cfg.num_hidden_layers
    );
    let worst_st = check(&st, &r);
    println!("max abs diff vs transformers: gguf {worst_gguf:.3e}, safetensors {worst_st:.3e}");
}
