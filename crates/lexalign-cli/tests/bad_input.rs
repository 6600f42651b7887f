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
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn pairs_file(dir: &Path, json: &str) -> PathBuf {
    let p = dir.join("pairs.json");
    std::fs::write(&p, json).unwrap();
    p
}

const GOOD_PAIRS: &str = r#"[{"swahili":"mbwa","english":"dog"},{"swahili":"paka","english":"cat"}]"#;

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
    assert!(err.contains("model-00003-of-00009.safetensors") && err.contains("truncated or corrupt"), "{err}");
    assert!(!out.join("layers.csv").exists(), "no output may be left behind");
}

#[test]
fn unknown_architecture_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    copy_dir(&tiny_llama(), &model);
    let cfg = std::fs::read_to_string(model.join("config.json")).unwrap();
    std::fs::write(model.join("config.json"), cfg.replace("LlamaForCausalLM", "FalconForCausalLM")).unwrap();
    let (code, err) = scan(&model, &pairs_file(tmp.path(), GOOD_PAIRS), &tmp.path().join("out"));
    assert_ne!(code, 0);
    assert!(err.contains("FalconForCausalLM") && err.contains("config.json"), "{err}");
}

#[test]
fn truncated_gguf_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let src = lexalign_gguf::default_model_path().expect("run `cargo xtask setup`");
    let bytes = std::fs::read(&src).unwrap();
    let bad = tmp.path().join("broken.gguf");
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let (code, err) = scan(&bad, &pairs_file(tmp.path(), GOOD_PAIRS), &tmp.path().join("out"));
    assert_ne!(code, 0);
    assert!(err.contains("broken.gguf"), "{err}");
}

#[test]
fn a_word_that_tokenizes_to_nothing_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let model = lexalign_gguf::default_model_path().expect("run `cargo xtask setup`");
    // `<|im_end|>` is SmolLM2's EOS: only a special token, no content.
    let pairs = pairs_file(tmp.path(), r#"[{"swahili":"mbwa","english":"dog"},{"swahili":"<|im_end|>","english":"cat"}]"#);
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
    let pairs = pairs_file(tmp.path(), r#"[{"swahili":"mbwa","english":"dog"},{"swahili":"  ","english":"cat"}]"#);
    let (code, err) = scan(&model, &pairs, &tmp.path().join("out"));
    assert_ne!(code, 0);
    assert!(err.contains("pairs.json"), "{err}");
}
