//! `lexalign generate` and `lexalign lm-loss`: bad input refused before the model loads, and a
//! real run on the embedded SmolLM2 whose files agree with transformers' greedy continuations
//! and losses (the fixture of lexalign-model's `tests/fixtures/gen_generation.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn lexalign(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_lexalign"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn reference() -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../lexalign-model/tests/fixtures/generation_reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Runs `cmd --model <missing> --out <tmp>/out <extra>`; the error must not reach the model.
fn refused(tmp: &Path, cmd: &str, extra: &[&str], expect: &[&str]) {
    let model = tmp.join("no-such-model");
    let out = tmp.join("out");
    let mut args = vec![
        cmd,
        "--device",
        "cpu",
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let (code, _, err) = lexalign(&args);
    assert_ne!(code, 0, "{args:?} was accepted");
    assert!(
        !err.contains("panicked") && !err.contains("no-such-model"),
        "{args:?}: refused too late or by a panic: {err}"
    );
    for e in expect {
        assert!(
            err.contains(e),
            "{args:?}: the error should say {e:?}: {err}"
        );
    }
}

#[test]
fn bad_generation_and_loss_input_is_refused_before_the_model_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    refused(
        t,
        "generate",
        &["--prompt", "hi", "--max-new-tokens", "0"],
        &["--max-new-tokens", "1 or more"],
    );
    refused(
        t,
        "generate",
        &[
            "--prompt",
            "hi",
            "--max-new-tokens",
            "4",
            "--temperature",
            "0",
        ],
        &["--temperature", "not above 0"],
    );
    refused(
        t,
        "generate",
        &[
            "--prompt",
            "hi",
            "--max-new-tokens",
            "4",
            "--temperature=-0.5",
        ],
        &["--temperature", "not above 0"],
    );
    refused(
        t,
        "generate",
        &["--prompt", "hi", "--max-new-tokens", "4", "--top-p", "1.5"],
        &["--top-p", "(0, 1]"],
    );
    refused(
        t,
        "generate",
        &["--prompt", "hi", "--max-new-tokens", "4", "--top-p", "0"],
        &["--top-p", "(0, 1]"],
    );
    refused(
        t,
        "generate",
        &["--prompt", "  ", "--max-new-tokens", "4"],
        &["--prompt is empty"],
    );
    refused(
        t,
        "generate",
        &[
            "--prompt",
            "hi",
            "--max-new-tokens",
            "4",
            "--greedy",
            "--top-k",
            "5",
        ],
        &["--greedy", "--top-k"],
    );
    let bad = t.join("latin1.txt");
    std::fs::write(&bad, b"good line\ncaf\xe9\n").unwrap();
    refused(
        t,
        "generate",
        &["--prompts", bad.to_str().unwrap(), "--max-new-tokens", "4"],
        &["latin1.txt", "line 2 is not UTF-8"],
    );
    refused(
        t,
        "lm-loss",
        &["--text", bad.to_str().unwrap()],
        &["--text", "line 2 is not UTF-8"],
    );
    let gap = t.join("gap.txt");
    std::fs::write(&gap, "one\n\nthree\n").unwrap();
    refused(
        t,
        "generate",
        &["--prompts", gap.to_str().unwrap(), "--max-new-tokens", "4"],
        &["gap.txt", "line 2 is empty"],
    );
    refused(
        t,
        "lm-loss",
        &["--text", t.join("missing.txt").to_str().unwrap()],
        &["--text", "missing.txt"],
    );
}

#[test]
fn a_prompt_longer_than_the_context_is_refused_by_number() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("prompts.txt");
    // SmolLM2's context is 8,192 tokens.
    std::fs::write(&file, format!("short prompt\n{}\n", "word ".repeat(9000))).unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = lexalign(&[
        "generate",
        "--model",
        "smollm2-135m",
        "--prompts",
        file.to_str().unwrap(),
        "--max-new-tokens",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("prompt 2 has") && err.contains("8192"),
        "{err}"
    );
    assert!(!out.join("generations.jsonl").exists());
}

#[test]
fn generate_and_lm_loss_write_what_transformers_computes() {
    let reference = reference();
    let model = &reference["models"]["smollm2-135m"];
    let tmp = tempfile::tempdir().unwrap();
    let rows: Vec<&serde_json::Value> =
        model["greedy"].as_array().unwrap().iter().take(3).collect();
    let prompts: Vec<String> = rows
        .iter()
        .map(|r| r["prompt"].as_str().unwrap().replace('\n', "\\n"))
        .collect();
    let file = tmp.path().join("prompts.txt");
    std::fs::write(&file, prompts.join("\n") + "\n").unwrap();
    let out = tmp.path().join("gen");
    let (code, _, err) = lexalign(&[
        "generate",
        "--model",
        "smollm2-135m",
        "--prompts",
        file.to_str().unwrap(),
        "--max-new-tokens",
        "8",
        "--greedy",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let got = lexalign_data::lm_rows::read_generations(&out.join("generations.jsonl")).unwrap();
    assert_eq!(got.len(), rows.len());
    for (g, r) in got.iter().zip(&rows) {
        assert_eq!(
            g.prompt,
            r["prompt"].as_str().unwrap(),
            "input order, `\\n` unescaped"
        );
        let want: Vec<i64> = serde_json::from_value(r["new_ids"].clone()).unwrap();
        assert_eq!(g.new_ids[..], want[..want.len().min(8)], "{:?}", g.prompt);
    }
    assert!(std::fs::read_to_string(out.join("generations.md"))
        .unwrap()
        .starts_with("| # | prompt |"));
    assert!(out.join("provenance.json").is_file());

    let texts: Vec<&serde_json::Value> = model["lm_loss"]
        .as_array()
        .unwrap()
        .iter()
        .step_by(4)
        .collect();
    let file = tmp.path().join("texts.txt");
    std::fs::write(
        &file,
        texts
            .iter()
            .map(|t| t["text"].as_str().unwrap())
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let out = tmp.path().join("loss");
    let (code, stdout, err) = lexalign(&[
        "lm-loss",
        "--model",
        "smollm2-135m",
        "--text",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("bits_per_byte"), "{stdout}");
    let got = lexalign_data::lm_rows::read_lm_loss(&out.join("lm_loss.csv")).unwrap();
    for (g, t) in got.iter().zip(&texts) {
        assert_eq!(g.tokens as u64, t["tokens"].as_u64().unwrap());
        assert_eq!(g.bytes as u64, t["bytes"].as_u64().unwrap());
        let d = (g.nll_sum - t["nll_sum"].as_f64().unwrap()).abs() / g.tokens as f64;
        assert!(d < 1e-4, "{:?}: {d} nats/token from transformers", g.text);
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["lm_loss"]["bits_per_byte"].as_f64().unwrap() > 0.0);
}
