//! Issue 26's arm (b) on the embedded Gemma 3 270M: TLI at hidden state 2 with the evaluation's
//! `mean-content` pooling moves the triplet loss below its margin within a few steps, where the
//! paper's `mean` pooling (BOS included: every word's vector at cosine ≈ 1 to every other, so the
//! hardest negative ties the positive) starts at the margin. Quick settings: 24 pairs, batch 8,
//! no warm-up, a 25× learning rate (5e-3), 12 epochs (36 steps) on the first 24 training pairs of the study's split; the arm's seed row is built by `lang_study::arms::seed_row`.

use clap::Parser;
use lang_study::arms::{seed_row, Arm};
use lexalign_data::Pair;
use lexalign_tli::{train, TrainConfig, TrainOptions};
use std::path::Path;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    model: lexalign_stages::ModelArgs,
}

fn quick(arm: Arm) -> TrainConfig {
    TrainConfig {
        target_layer: 2,
        pooling: arm.pooling().into(),
        warmup_steps: 0,
        epochs: 12,
        lr: 5e-3,
        seed: 1,
        ..TrainConfig::default()
    }
}

#[test]
fn arm_b_moves_its_loss_below_the_margin() {
    let model = match lexalign_gguf::resolve_model(Some(Path::new("gemma3-270m"))).and_then(|p| {
        p.is_file()
            .then_some(p)
            .ok_or_else(|| anyhow::anyhow!("gemma3-270m is not set up"))
    }) {
        Ok(p) => p,
        Err(e) => return lexalign_run::missing_fixture(format!("{e:#}")),
    };
    let pairs: Vec<Pair> = match lang_study::data::study_pairs(lang_study::data::LangPair::KoEn) {
        Ok(s) => s.train.into_iter().take(24).collect(),
        Err(e) => return lexalign_run::missing_fixture(format!("the ko-en lexicons: {e:#}")),
    };
    let dir = tempfile::tempdir().unwrap();
    // As `lang-study arm` loads it: only the blocks below the target layer.
    let m = model.to_str().unwrap();
    let mut run = Cli::parse_from(["t", "--model", m, "--device", "cpu", "--threads", "1"])
        .model
        .load(lexalign_model::QuantMode::None, Some(2))
        .unwrap();
    let lm = &mut run.model;
    let mut final_loss = Vec::new();
    for arm in [Arm::A, Arm::B] {
        let cfg = quick(arm);
        let opts = TrainOptions {
            cfg: cfg.clone(),
            out: dir.path().join(arm.name()),
            resume: false,
            stop_after_epochs: None,
            interrupt: None,
            base_model: None,
        };
        let o = train(&mut lm.model, &lm.tokenizer, &pairs, &opts, |_, _, _| {}).unwrap();
        lexalign_model::lora::detach(&mut lm.model);
        let row = seed_row(arm, &cfg, &o.loss, o.n_pairs, o.train_seconds);
        assert_eq!(
            (row.steps, row.epochs, row.pooling.as_str()),
            (36, 12, arm.pooling())
        );
        assert!(
            o.loss
                .iter()
                .all(|r| r.grad_norm.is_some_and(|g| g.is_finite() && g >= 0.0)),
            "every step logs its gradient norm"
        );
        eprintln!(
            "arm {}: first loss {:.4}, final-epoch loss {:.4}, grad norm {:.3e} -> {:.3e}",
            arm.name(),
            row.first_loss,
            row.final_epoch_mean_loss,
            row.first_epoch_grad_norm,
            row.final_epoch_grad_norm
        );
        final_loss.push((row.first_loss, row.final_epoch_mean_loss));
    }
    let margin = TrainConfig::default().margin;
    let (a, b) = (final_loss[0], final_loss[1]);
    assert!(
        (a.0 - margin).abs() < 0.01,
        "arm (a) starts at the margin: the hardest negative ties the positive ({a:?})"
    );
    assert!(
        b.1 < margin - 0.005,
        "arm (b) moves its loss below the margin {margin}: {b:?}"
    );
    assert!(b.1 < a.1, "arm (b) ends below arm (a): {b:?} vs {a:?}");
}
