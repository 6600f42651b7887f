//! Non-finite numbers stop the work instead of being written: a training step whose loss or update
//! is NaN/Inf stops training and keeps the last good checkpoint; a merge whose weights would not be
//! finite is refused (peft's `safe_merge`). Also: a missing demo model fails the tests that need it
//! under `cargo xtask test` (LEXALIGN_REQUIRE_FIXTURES) and skips them otherwise.

mod common;

use common::*;
use lexalign_model::lora::{self, LoraConfig};
use lexalign_tli::{train, TrainConfig, TrainOptions};

const PAIRS: &[(&str, &str)] = &[
    ("maji", "water"),
    ("mti", "tree"),
    ("mbwa", "dog"),
    ("paka", "cat"),
];

fn all_finite(path: &std::path::Path) -> bool {
    lora::read_safetensors(path)
        .unwrap()
        .iter()
        .all(|(_, t)| t.isfinite().all().int64_value(&[]) == 1)
}

#[test]
fn a_non_finite_update_stops_training_and_keeps_the_last_good_checkpoint() {
    let Some(mut m) = demo_model(2) else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // One step per epoch. Step 1 runs with lr 0 (warm-up), so epoch 1 ends with a good
    // checkpoint; step 2's learning rate (1e297) makes the update, though not its loss, non-finite.
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 4,
        warmup_steps: 1000,
        lr: 1e300,
        r: 4,
        ..TrainConfig::default()
    };
    let opts = TrainOptions {
        cfg,
        out: out.clone(),
        resume: false,
        stop_after_epochs: None,
        interrupt: None,
        base_model: None,
    };
    let err = train(
        &mut m.model,
        &m.tokenizer,
        &pairs(PAIRS),
        &opts,
        |_, _, _| {},
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("step 2 (epoch 2)") && msg.contains("NaN or Inf"),
        "{msg}"
    );
    assert!(
        msg.contains("checkpoints/epoch-1") && msg.contains("--lr"),
        "{msg}"
    );
    let good = out.join("checkpoints/epoch-1");
    assert!(
        all_finite(&good.join("adapter_model.safetensors")),
        "the kept checkpoint is finite"
    );
    assert!(
        !out.join("checkpoints/epoch-2").exists(),
        "no checkpoint of non-finite weights may be written"
    );
    assert!(!out.join("adapter").exists());
}

#[test]
fn a_non_finite_loss_stops_training_at_its_step() {
    let Some(mut m) = demo_model(2) else { return };
    let dir = tempfile::tempdir().unwrap();
    // NaN from the first step: the margin is part of the loss.
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 4,
        margin: f64::NAN,
        r: 4,
        ..TrainConfig::default()
    };
    let opts = TrainOptions {
        cfg,
        out: dir.path().join("run"),
        resume: false,
        stop_after_epochs: None,
        interrupt: None,
        base_model: None,
    };
    let err = train(
        &mut m.model,
        &m.tokenizer,
        &pairs(PAIRS),
        &opts,
        |_, _, _| {},
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("step 1 (epoch 1)") && msg.contains("loss became NaN"),
        "{msg}"
    );
    assert!(msg.contains("no checkpoint had been written yet"), "{msg}");
}

/// A weight as f32 (a 4-bit base dequantized), to compare before and after a refused merge.
fn base_of(m: &lexalign_model::LoadedModel, layer: usize, module: &str) -> tch::Tensor {
    match &lora::linear(&m.model.layers[layer], module).base {
        lexalign_model::linear::BaseWeight::Dense(w) => w.copy(),
        lexalign_model::linear::BaseWeight::Quant4(q) => q.dequantize(tch::Kind::Float),
    }
}

#[test]
fn merge_refuses_non_finite_weights_and_leaves_the_model_unmerged() {
    for poison in [f64::NAN, 1e30] {
        let Some(mut m) = demo_model(2) else { return };
        lora::attach(
            &mut m.model,
            &LoraConfig::new(2, 4.0, 0.0, &["q_proj", "v_proj"]),
            1,
        )
        .unwrap();
        let last = m.model.layers.len() - 1;
        let before = base_of(&m, 0, "q_proj");
        {
            // NaN in B, or finite factors whose product overflows f32.
            let l = lora::linear_mut(&mut m.model.layers[last], "v_proj")
                .lora
                .as_mut()
                .unwrap();
            tch::no_grad(|| {
                let _ = l.b.fill_(poison);
                let _ = l.a.fill_(poison);
            });
        }
        let err = lora::merge(&mut m.model).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!("layer {last} v_proj")) && msg.contains("non-finite"),
            "{msg}"
        );
        // Nothing merged: every adapter still attached, the first base unchanged.
        assert!(lora::linear(&m.model.layers[0], "q_proj").lora.is_some());
        assert!(
            before.equal(&base_of(&m, 0, "q_proj")),
            "a refused merge changed nothing"
        );
    }
    // A finite adapter merges.
    let Some(mut m) = demo_model(2) else { return };
    lora::attach(
        &mut m.model,
        &LoraConfig::new(2, 4.0, 0.0, &["q_proj", "v_proj"]),
        1,
    )
    .unwrap();
    lora::merge(&mut m.model).unwrap();
    assert!(lora::linear(&m.model.layers[0], "q_proj").lora.is_none());
}

/// Loads the demo model (the helper every model test here uses); re-run below without it.
#[test]
fn demo_model_helper() {
    let Some(m) = demo_model(1) else { return };
    assert_eq!(m.model.layers.len(), 1);
}

#[test]
fn a_missing_demo_model_fails_when_fixtures_are_required_and_skips_otherwise() {
    let gone = [("LEXALIGN_MODEL_GGUF", "/nonexistent/demo.gguf")];
    let (ok, text) = rerun_test(
        "demo_model_helper",
        &[gone[0], (lexalign_run::ENV_REQUIRE_FIXTURES, "1")],
    );
    assert!(
        !ok && text.contains("/nonexistent/demo.gguf does not exist"),
        "{text}"
    );
    let (ok, text) = rerun_test("demo_model_helper", &gone);
    assert!(ok && text.contains("skipped:"), "{text}");
}
