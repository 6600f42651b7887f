//! peft parity on the embedded model (fixtures from `tests/fixtures/gen_peft.py`):
//! - an adapter written by `save_peft` loads in peft and gives the same layer-2 embeddings;
//! - an adapter written by peft's `save_pretrained` loads here and gives peft's embeddings;
//! - two AdamW steps from the same adapter on the same batch match peft + torch (loss, A, B);
//! - merging gives the same embeddings as the unmerged adapter.

mod common;

use common::*;
use lexalign_model::lora::{self, Layers, LoraConfig};
use lexalign_model::LoadedModel;
use lexalign_tli::eval::embed;
use lexalign_tli::{AdamW, EvalConfig, TrainConfig};
use std::path::Path;
use tch::Tensor;

const SEED: u64 = 7;

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("peft_parity/reference.json"))
        .expect("reference.json (run gen_peft.py)");
    serde_json::from_str(&text).unwrap()
}

fn rust_adapter_config() -> LoraConfig {
    let mut cfg = LoraConfig::new(4, 32.0, 0.0, &["q_proj", "v_proj"]);
    cfg.layers_to_transform = Some(Layers::Many(vec![0, 1, 2]));
    cfg.base_model_name_or_path = Some("SmolLM2-135M-Instruct.Q4_1.gguf".into());
    cfg
}

/// The adapter of the fixture: our init, then a seeded non-zero B (so that it changes the output).
fn write_adapter(m: &mut LoadedModel, dir: &Path) {
    let cfg = rust_adapter_config();
    lora::attach(&mut m.model, &cfg, SEED).unwrap();
    tch::no_grad(|| {
        for (name, t) in lora::trainable_params(&m.model) {
            if name.contains("lora_B") {
                let s = t.size();
                let layer: usize = name
                    .split(".layers.")
                    .nth(1)
                    .unwrap()
                    .split('.')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                let module = if name.contains("q_proj") {
                    "q_proj"
                } else {
                    "v_proj"
                };
                let b = lora::init_a(SEED + 1, layer, module, s[0], s[1]) * 0.1;
                t.shallow_clone().copy_(&b);
            }
        }
    });
    lora::save_peft(&m.model, &cfg, dir, Some(SEED)).unwrap();
}

#[test]
#[ignore = "writes the fixture adapter that gen_peft.py reads"]
fn write_rust_adapter() {
    let Some(mut m) = demo_model(2) else { return };
    write_adapter(&mut m, &fixtures().join("peft_parity/rust_adapter"));
}

fn words(r: &serde_json::Value) -> Vec<String> {
    r["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

fn embeddings(m: &LoadedModel, words: &[String], pooling: &str) -> Tensor {
    let cfg = EvalConfig {
        pooling: pooling.into(),
        ..EvalConfig::default()
    };
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    embed(&m.model, &m.tokenizer, &w, &cfg).unwrap()
}

fn expect(r: &serde_json::Value, key: &str, like: &Tensor) -> Tensor {
    Tensor::from_slice(&decode_b64_f32(r[key].as_str().unwrap())).view(like.size().as_slice())
}

fn check_embeddings(m: &LoadedModel, r: &serde_json::Value, prefix: &str) -> f64 {
    let w = words(r);
    let mut worst = 0.0f64;
    for (pooling, suffix) in [("mean", "mean"), ("mean-content", "mean_content")] {
        let ours = embeddings(m, &w, pooling);
        let theirs = expect(r, &format!("{prefix}_{suffix}"), &ours);
        let d = max_abs_diff(&ours, &theirs);
        println!("{prefix} {pooling}: max |rust - peft| = {d:.3e}");
        worst = worst.max(d);
    }
    worst
}

#[test]
fn peft_parity() {
    let Some(mut m) = demo_model(2) else { return };
    let r = reference();

    // Same token ids as HF's tokenizer.
    for (w, ids) in words(&r).iter().zip(r["token_ids"].as_array().unwrap()) {
        let want: Vec<i64> = ids
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_i64().unwrap())
            .collect();
        assert_eq!(m.tokenizer.encode(w).unwrap(), want, "token ids of `{w}`");
    }
    let base = check_embeddings(&m, &r, "base");
    assert!(base < 1e-4, "base model differs from transformers: {base}");

    // Our writer is deterministic: regenerating gives the committed adapter's tensors.
    let tmp = tempfile::tempdir().unwrap();
    write_adapter(&mut m, tmp.path());
    let committed = fixtures().join("peft_parity/rust_adapter");
    let a = lora::read_safetensors(&tmp.path().join(lora::ADAPTER_WEIGHTS)).unwrap();
    let b = lora::read_safetensors(&committed.join(lora::ADAPTER_WEIGHTS)).unwrap();
    assert_eq!(a.len(), b.len());
    for ((ka, ta), (kb, tb)) in a.iter().zip(&b) {
        assert_eq!(ka, kb);
        assert!(
            ta.equal(tb),
            "{ka} differs from the committed fixture: rerun write_rust_adapter + gen_peft.py"
        );
    }
    assert!(
        r["peft_resave_same_keys"].as_bool().unwrap(),
        "peft re-saved our adapter with other keys"
    );
    assert_eq!(r["peft_resave_max_abs_diff"].as_f64().unwrap(), 0.0);

    // Our adapter in peft vs here.
    lora::load_peft(&mut m.model, &committed, false).unwrap();
    let ours = check_embeddings(&m, &r, "rust_adapter");
    assert!(ours < 1e-4, "our adapter: {ours}");
    // ...and it matters: it moved the embeddings well beyond the tolerance.
    let moved = max_abs_diff(
        &embeddings(&m, &words(&r), "mean"),
        &expect(&r, "base_mean", &embeddings(&m, &words(&r), "mean")),
    );
    assert!(
        moved > 1e-2,
        "the fixture adapter barely changes the output ({moved})"
    );

    // peft's adapter here vs in peft.
    lora::load_peft(
        &mut m.model,
        &fixtures().join("peft_parity/peft_adapter"),
        false,
    )
    .unwrap();
    let theirs = check_embeddings(&m, &r, "peft_adapter");
    assert!(theirs < 1e-4, "peft's adapter: {theirs}");

    // Merge: same function, no adapters left.
    lora::load_peft(&mut m.model, &committed, false).unwrap();
    let before = embeddings(&m, &words(&r), "mean-content");
    lora::merge(&mut m.model).unwrap();
    assert!(lora::trainable_params(&m.model).is_empty());
    let d = max_abs_diff(&before, &embeddings(&m, &words(&r), "mean-content"));
    println!("merge: max |merged - unmerged| = {d:.3e}");
    assert!(d < 1e-5, "merge changed the embeddings by {d}");
}

#[test]
fn adamw_step_parity() {
    let Some(mut m) = demo_model(2) else { return };
    let r = reference();
    lora::load_peft(
        &mut m.model,
        &fixtures().join("peft_parity/rust_adapter"),
        true,
    )
    .unwrap();
    let pairs: Vec<lexalign_tli::Pair> = r["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| lexalign_tli::Pair::new(p[0].as_str().unwrap(), p[1].as_str().unwrap()))
        .collect();
    let batch: Vec<&lexalign_tli::Pair> = pairs.iter().collect();
    let cfg = TrainConfig {
        margin: r["margin"].as_f64().unwrap(),
        ..TrainConfig::default()
    };
    let lr = r["lr"].as_f64().unwrap();
    let params = lora::trainable_params(&m.model);
    let mut opt = AdamW::new(cfg.adamw());
    for step in 0..2 {
        let loss =
            lexalign_tli::train::batch_loss(&m.model, &m.tokenizer, &batch, &cfg, true).unwrap();
        let want = r["adamw_losses"][step].as_f64().unwrap();
        let l = loss.double_value(&[]);
        println!(
            "step {}: loss rust {l:.8} peft {want:.8} (diff {:.3e})",
            step + 1,
            (l - want).abs()
        );
        assert!(
            (l - want).abs() < 1e-5,
            "loss at step {}: {l} vs {want}",
            step + 1
        );
        loss.backward();
        opt.step(&params, lr);
        for (_, p) in &params {
            let _ = p.grad().zero_();
        }
        let after = lora::read_safetensors(
            &fixtures().join(format!("peft_parity/adamw_step{}.safetensors", step + 1)),
        )
        .unwrap();
        assert_eq!(after.len(), params.len());
        let mut worst = 0.0f64;
        for (k, want) in &after {
            let (_, ours) = params
                .iter()
                .find(|(n, _)| n == k)
                .unwrap_or_else(|| panic!("no parameter {k}"));
            worst = worst.max(max_abs_diff(&ours.detach(), want));
        }
        let moved: f64 = after
            .iter()
            .map(|(k, t)| {
                let init = lora::read_safetensors(
                    &fixtures()
                        .join("peft_parity/rust_adapter")
                        .join(lora::ADAPTER_WEIGHTS),
                )
                .unwrap();
                let (_, i) = init.iter().find(|(n, _)| n == k).unwrap();
                max_abs_diff(i, t)
            })
            .fold(0.0, f64::max);
        println!(
            "step {}: max |A,B rust - torch| = {worst:.3e} (largest change from init {moved:.3e})",
            step + 1
        );
        assert!(worst < 1e-5, "A/B after step {}: {worst}", step + 1);
    }
}

/// The defaults are the authors' adapter: their released adapter_config.json reads back as ours.
#[test]
fn defaults_are_the_authors_adapter_config() {
    let data = match lexalign_data::PaperData::locate(None) {
        Ok(d) => d,
        Err(e) => {
            lexalign_run::missing_fixture(format!("the paper's data is not available: {e:#}"));
            return;
        }
    };
    let theirs = LoraConfig::from_file(&data.path(lexalign_data::ADAPTER_CONFIG)).unwrap();
    let ours = TrainConfig::default().lora();
    assert_eq!(
        (theirs.r, theirs.lora_alpha, theirs.lora_dropout),
        (ours.r, ours.lora_alpha, ours.lora_dropout)
    );
    assert_eq!(theirs.modules().unwrap(), ours.modules().unwrap());
    assert_eq!(theirs.layers_to_transform, ours.layers_to_transform);
    assert_eq!(
        (theirs.bias.as_str(), theirs.use_rslora, theirs.use_dora),
        ("none", false, false)
    );
    assert_eq!(theirs.task_type, ours.task_type);
    // Every key peft 0.11 wrote is in ours too.
    let keys = |c: &LoraConfig| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(&c.to_json().unwrap()).unwrap();
        v.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(keys(&theirs), keys(&ours));
}
