//! Bad input gets one clear error naming the file, field or word, and a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn lexalign() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lexalign"))
}

fn tiny_llama() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lexalign-model/tests/fixtures/tiny_llama")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Runs a scan and returns (exit code, stderr).
fn scan(model: &Path, pairs: &Path, out: &Path) -> (i32, String) {
    let o = lexalign()
        .args(["scan", "--device", "cpu", "--model"])
        .arg(model)
        .arg("--pairs")
        .arg(pairs)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn pairs_file(dir: &Path, json: &str) -> PathBuf {
    let p = dir.join("pairs.json");
    std::fs::write(&p, json).unwrap();
    p
}

const GOOD_PAIRS: &str =
    r#"[{"swahili":"mbwa","english":"dog"},{"swahili":"paka","english":"cat"}]"#;

#[test]
fn truncated_safetensors_shard_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    copy_dir(&tiny_llama(), &model);
    let shard = model.join("model-00003-of-00009.safetensors");
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() / 2]).unwrap();
    let out = tmp.path().join("out");
    let (code, err) = scan(&model, &pairs_file(tmp.path(), GOOD_PAIRS), &out);
    assert_ne!(code, 0);
    assert!(
        err.contains("model-00003-of-00009.safetensors") && err.contains("truncated or corrupt"),
        "{err}"
    );
    assert!(
        !out.join("layers.csv").exists(),
        "no output may be left behind"
    );
}

#[test]
fn unknown_architecture_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    copy_dir(&tiny_llama(), &model);
    let cfg = std::fs::read_to_string(model.join("config.json")).unwrap();
    std::fs::write(
        model.join("config.json"),
        cfg.replace("LlamaForCausalLM", "FalconForCausalLM"),
    )
    .unwrap();
    let (code, err) = scan(
        &model,
        &pairs_file(tmp.path(), GOOD_PAIRS),
        &tmp.path().join("out"),
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("FalconForCausalLM") && err.contains("config.json"),
        "{err}"
    );
}

#[test]
fn truncated_gguf_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let src = lexalign_gguf::default_model_path().expect("run `cargo xtask setup`");
    let bytes = std::fs::read(&src).unwrap();
    let bad = tmp.path().join("broken.gguf");
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let (code, err) = scan(
        &bad,
        &pairs_file(tmp.path(), GOOD_PAIRS),
        &tmp.path().join("out"),
    );
    assert_ne!(code, 0);
    assert!(err.contains("broken.gguf"), "{err}");
}

#[test]
fn a_word_that_tokenizes_to_nothing_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let model = lexalign_gguf::default_model_path().expect("run `cargo xtask setup`");
    // `<|im_end|>` is SmolLM2's EOS: only a special token, no content.
    let pairs = pairs_file(
        tmp.path(),
        r#"[{"swahili":"mbwa","english":"dog"},{"swahili":"<|im_end|>","english":"cat"}]"#,
    );
    let out = tmp.path().join("out");
    let (code, err) = scan(&model, &pairs, &out);
    assert_ne!(code, 0);
    assert!(err.contains("`<|im_end|>` tokenizes to no tokens"), "{err}");
    assert!(!out.join("layers.csv").exists());
}

#[test]
fn malformed_pair_file_names_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let model = lexalign_gguf::default_model_path().expect("run `cargo xtask setup`");
    let pairs = pairs_file(
        tmp.path(),
        r#"[{"swahili":"mbwa","english":"dog"},{"swahili":"  ","english":"cat"}]"#,
    );
    let (code, err) = scan(&model, &pairs, &tmp.path().join("out"));
    assert_ne!(code, 0);
    assert!(err.contains("pairs.json"), "{err}");
}

// ---- Flags are checked before the slow work (issue 15). Every run below names a model that does
// not exist: reaching the model load would fail naming `no-such-model`, so an error about the
// flag that does not name it shows the flag was refused first.

/// Runs `lexalign <args>` and returns (exit code, stderr).
fn run(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let o = lexalign().args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `lexalign <cmd> --device cpu --model <missing> --out <out> <extra>`.
fn stage(cmd: &str, tmp: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let model = tmp.join("no-such-model");
    let pairs = pairs_file(tmp, GOOD_PAIRS);
    let mut a: Vec<std::ffi::OsString> = vec![
        cmd.into(),
        "--model".into(),
        model.into(),
        "--out".into(),
        out.into(),
    ];
    match cmd {
        "scan" => a.extend(["--pairs".into(), pairs.into()]),
        "train" => a.extend(["--pairs".into(), pairs.into()]),
        "eval" => {
            let adapter = tmp.join("adapter");
            std::fs::create_dir_all(&adapter).unwrap();
            std::fs::write(adapter.join("adapter_config.json"), r#"{"peft_type":"LORA","r":4,"lora_alpha":8,"lora_dropout":0.0,"target_modules":["q_proj"]}"#).unwrap();
            std::fs::write(adapter.join("adapter_model.safetensors"), b"").unwrap();
            a.extend([
                "--pairs".into(),
                pairs.clone().into(),
                "--control-pairs".into(),
                pairs.into(),
            ]);
            if !extra.contains(&"--adapter") {
                a.extend(["--adapter".into(), adapter.into()]);
            }
        }
        _ => {}
    }
    a.extend(extra.iter().map(|s| s.into()));
    let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
    run(&refs)
}

fn refused_by_clap(code: i32, err: &str, flag: &str, why: &str) {
    assert_eq!(
        code, 2,
        "a bad {flag} is a usage error (exit 2), not a panic: {err}"
    );
    assert!(err.contains(flag) && err.contains(why), "{err}");
    assert!(
        !err.contains("no-such-model") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn bad_flag_values_are_refused_before_the_model_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    for cmd in ["scan", "train", "eval"] {
        let (c, e) = stage(cmd, tmp.path(), &out, &["--threads", "0"]);
        refused_by_clap(c, &e, "--threads", "1 or more");
        let (c, e) = stage(cmd, tmp.path(), &out, &["--batch-size", "0"]);
        refused_by_clap(c, &e, "--batch-size", "1 or more");
        let (c, e) = stage(cmd, tmp.path(), &out, &["--device", "gpu"]);
        refused_by_clap(c, &e, "--device", "unknown device `gpu`");
        let (c, e) = stage(cmd, tmp.path(), &out, &["--dtype", "f64"]);
        refused_by_clap(c, &e, "--dtype", "bf16");
        let (c, e) = stage(cmd, tmp.path(), &out, &["--quant", "int8"]);
        refused_by_clap(c, &e, "--quant", "nf4");
        let (c, e) = stage(cmd, tmp.path(), &out, &["--pooling", "median"]);
        refused_by_clap(c, &e, "--pooling", "mean-content");
    }
    let (c, e) = stage("scan", tmp.path(), &out, &["--layers", "0,x"]);
    refused_by_clap(c, &e, "--layers", "`x` is not a layer number");
    let (c, e) = stage("scan", tmp.path(), &out, &["--pooling", "mean,mean"]);
    refused_by_clap(c, &e, "--pooling", "listed twice");
    let (c, e) = run(&["memory".as_ref(), "--threads".as_ref(), "0".as_ref()]);
    refused_by_clap(c, &e, "--threads", "1 or more");
    // Accepted spellings still parse (and then fail at the missing model).
    let (c, e) = stage(
        "scan",
        tmp.path(),
        &out,
        &[
            "--dtype",
            "bfloat16",
            "--quant",
            "nf4",
            "--pooling",
            "mean_content",
            "--layers",
            "0, 2",
            "--device",
            "cuda:1",
        ],
    );
    assert_eq!(c, 1, "{e}");
}

#[test]
fn a_bad_adapter_folder_is_refused_before_the_model_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let eval_with = |adapter: &Path| {
        let (c, e) = stage(
            "eval",
            tmp.path(),
            &out,
            &["--adapter", adapter.to_str().unwrap()],
        );
        assert_eq!(c, 1, "{e}");
        assert!(
            !e.contains("no-such-model"),
            "the adapter must be checked first: {e}"
        );
        e
    };
    let e = eval_with(&tmp.path().join("missing"));
    assert!(
        e.contains("--adapter") && e.contains("missing: does not exist"),
        "{e}"
    );
    let broken = tmp.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("adapter_config.json"), "{not json").unwrap();
    std::fs::write(broken.join("adapter_model.safetensors"), b"").unwrap();
    let e = eval_with(&broken);
    assert!(
        e.contains("adapter_config.json") && e.contains("not a peft LoRA"),
        "{e}"
    );
    std::fs::remove_file(broken.join("adapter_model.safetensors")).unwrap();
    let e = eval_with(&broken);
    assert!(e.contains("adapter_model.safetensors is missing"), "{e}");
    // The well-formed adapter `stage` writes gets as far as the (missing) model.
    let (c, e) = stage("eval", tmp.path(), &out, &[]);
    assert_eq!(c, 1, "{e}");
    assert!(e.contains("no-such-model"), "{e}");
}

#[test]
fn an_out_that_is_a_file_or_cannot_be_created_is_refused_before_the_model_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "keep me").unwrap();
    for cmd in ["scan", "train", "eval"] {
        let (c, e) = stage(cmd, tmp.path(), &file, &[]);
        assert_eq!(c, 1, "{cmd}: {e}");
        assert!(
            e.contains("a-file") && e.contains("is an existing file"),
            "{cmd}: {e}"
        );
        assert!(!e.contains("no-such-model"), "{e}");
        let (c, e) = stage(cmd, tmp.path(), &file.join("sub"), &[]);
        assert_eq!(c, 1, "{cmd}: {e}");
        assert!(
            e.contains("a-file/sub") && e.contains("cannot create"),
            "{cmd}: {e}"
        );
        assert!(!e.contains("no-such-model"), "{e}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[test]
fn convert_never_replaces_an_existing_folder_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("hf");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("mine.txt"), "keep me").unwrap();
    let gguf = tmp.path().join("missing.gguf");
    let (c, e) = run(&[
        "convert".as_ref(),
        "--gguf".as_ref(),
        gguf.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(c, 1, "{e}");
    assert!(
        e.contains("already exists") && e.contains("--force") && e.contains("hf"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("mine.txt")).unwrap(),
        "keep me"
    );
    // An existing file is refused even with --force.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let (c, e) = run(&[
        "convert".as_ref(),
        "--force".as_ref(),
        "--gguf".as_ref(),
        gguf.as_os_str(),
        "--out".as_ref(),
        file.as_os_str(),
    ]);
    assert_eq!(c, 1, "{e}");
    assert!(e.contains("is an existing file"), "{e}");
    // --force passes the check (and then fails on the missing GGUF, leaving the folder alone).
    let (c, e) = run(&[
        "convert".as_ref(),
        "--force".as_ref(),
        "--gguf".as_ref(),
        gguf.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(c, 1, "{e}");
    assert!(e.contains("missing.gguf"), "{e}");
    assert_eq!(
        std::fs::read_to_string(out.join("mine.txt")).unwrap(),
        "keep me"
    );
}
