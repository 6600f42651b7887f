//! The Korean-English study on the second multilingual model, the embedded Qwen2.5-Coder-0.5B-
//! Instruct (issue 26): a scan of every hidden state with the frozen-model baselines, arm (c) of
//! the study (TLI at the scan's best layer with `mean-content` pooling, one seed) and its
//! evaluation. No negative control (the Gemma scan has it) and no reference encoders (e5,
//! LASER-2): those rows do not depend on the decoder and would only cost time.

use std::ffi::OsString;

use super::stages::Ctx;

pub const SCAN: &str = "koen-qwen-scan";
pub const TRAIN: &str = "koen-qwen-tli-train-best";
pub const EVAL: &str = "koen-qwen-eval";

/// `lang-study <cmd> --pair ko-en` on the Qwen GGUF.
fn qwen_study(c: &Ctx, cmd: &str, extra: &[(&str, OsString)]) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![cmd.into(), "--pair".into(), "ko-en".into()];
    a.extend(["--model".into(), c.qwen_model.clone().into_os_string()]);
    a.extend(["--paper-data".into(), c.paper_data.clone().into_os_string()]);
    a.extend([
        "--device".into(),
        c.device.clone().into(),
        "--threads".into(),
        c.threads.to_string().into(),
    ]);
    if matches!(cmd, "scan" | "eval") {
        a.push("--no-e5".into());
    }
    for (k, v) in extra {
        a.push(k.into());
        a.push(v.clone());
    }
    a
}

pub fn scan_args(c: &Ctx) -> Vec<OsString> {
    qwen_study(c, "scan", &[])
}

pub fn train_args(c: &Ctx) -> Vec<OsString> {
    qwen_study(
        c,
        "train",
        &[
            ("--target-layer", "best".into()),
            ("--scan", c.run.join(SCAN).into()),
            ("--pooling", "mean-content".into()),
        ],
    )
}

pub fn eval_args(c: &Ctx) -> Vec<OsString> {
    qwen_study(
        c,
        "eval",
        &[("--adapter", c.run.join(TRAIN).join("adapter").into())],
    )
}
