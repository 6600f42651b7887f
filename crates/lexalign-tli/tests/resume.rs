//! An interrupted and resumed run ends with the same bytes as an uninterrupted one (CPU, fixed
//! thread count), and a resume with other settings is refused.

mod common;

use common::*;
use lexalign_tli::{train, TrainConfig, TrainOptions};
use std::path::Path;

const PAIRS: &[(&str, &str)] = &[
    ("maji", "water"),
    ("mti", "tree"),
    ("nyumba", "house"),
    ("mbwa", "dog"),
    ("paka", "cat"),
    ("kitabu", "book"),
    ("jua", "sun"),
    ("mama", "mother"),
    ("shule", "school"),
    ("chakula", "food"),
    ("mkono", "hand"),
    ("jicho", "eye"),
    ("moto", "fire"),
    ("mlima", "mountain"),
];

fn cfg() -> TrainConfig {
    // 14 pairs, batch 4: 4 steps per epoch (the last one short), 2 epochs, dropout on.
    TrainConfig {
        epochs: 2,
        batch_size: 4,
        warmup_steps: 2,
        lr: 1e-2,
        r: 4,
        ..TrainConfig::default()
    }
}

fn opts(out: &Path, resume: bool, stop: Option<usize>) -> TrainOptions {
    TrainOptions {
        cfg: cfg(),
        out: out.to_path_buf(),
        resume,
        stop_after_epochs: stop,
        interrupt: None,
        base_model: None,
    }
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn resumed_equals_uninterrupted() {
    let pairs = pairs(PAIRS);
    let dir = tempfile::tempdir().unwrap();
    let (full, split) = (dir.path().join("full"), dir.path().join("split"));

    let Some(mut m) = demo_model(2) else { return };
    let a = train(
        &mut m.model,
        &m.tokenizer,
        &pairs,
        &opts(&full, false, None),
        |_, _, _| {},
    )
    .unwrap();
    assert!(a.completed && a.steps_done == 8, "{a:?}");

    // A fresh process-like start: reload the model, then "Ctrl-C" in the middle of epoch 2
    // (after step 6); the two steps of epoch 2 that ran are discarded and redone on resume.
    let Some(mut m) = demo_model(2) else { return };
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut o = opts(&split, false, None);
    o.interrupt = Some(flag.clone());
    let b = train(&mut m.model, &m.tokenizer, &pairs, &o, |done, _, _| {
        if done == 6 {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    })
    .unwrap();
    assert!(
        b.interrupted && !b.completed && b.epochs_done == 1 && b.steps_done == 6,
        "{b:?}"
    );
    assert!(!split.join("adapter").exists() && !split.join("checkpoints/epoch-2").exists());
    // Stopping after a number of epochs leaves the same state.
    let Some(mut m) = demo_model(2) else { return };
    let e = train(
        &mut m.model,
        &m.tokenizer,
        &pairs,
        &opts(&dir.path().join("e1"), false, Some(1)),
        |_, _, _| {},
    )
    .unwrap();
    assert!(!e.completed && e.epochs_done == 1 && e.steps_done == 4);
    // Without --resume an existing run folder is refused.
    let Some(mut m) = demo_model(2) else { return };
    let err = train(
        &mut m.model,
        &m.tokenizer,
        &pairs,
        &opts(&split, false, None),
        |_, _, _| {},
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("--resume"), "{err:#}");
    // Other settings are refused by name.
    let mut other = opts(&split, true, None);
    other.cfg.lr = 5e-3;
    let err = train(&mut m.model, &m.tokenizer, &pairs, &other, |_, _, _| {}).unwrap_err();
    assert!(format!("{err:#}").contains("`lr`"), "{err:#}");

    let Some(mut m) = demo_model(2) else { return };
    let c = train(
        &mut m.model,
        &m.tokenizer,
        &pairs,
        &opts(&split, true, None),
        |_, _, _| {},
    )
    .unwrap();
    assert!(c.completed && c.resumed_from_epoch == Some(1));

    for f in [
        "adapter/adapter_model.safetensors",
        "adapter/adapter_config.json",
        "loss.csv",
        "checkpoints/epoch-2/optimizer.safetensors",
    ] {
        assert!(
            bytes(&full.join(f)) == bytes(&split.join(f)),
            "{f} differs between the uninterrupted and the resumed run"
        );
    }
    // Training changed the adapter (B starts at zero), and the loss log is the same.
    let t = lexalign_model::lora::read_safetensors(&full.join("adapter/adapter_model.safetensors"))
        .unwrap();
    let (_, b0) = t
        .iter()
        .find(|(k, _)| k == "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")
        .unwrap();
    assert!(b0.abs().max().double_value(&[]) > 0.0);
    assert_eq!(
        t.len(),
        2 * 2 * 30,
        "every layer of the model is in the adapter"
    );
    assert_eq!(a.loss, c.loss);
    println!(
        "loss: {:?}",
        a.loss.iter().map(|r| r.loss).collect::<Vec<_>>()
    );
}
