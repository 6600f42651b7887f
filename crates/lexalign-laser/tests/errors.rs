//! Bad or foreign LASER files are refused with an error that names the file.

mod common;
use common::*;
use lexalign_laser::{spm::ModelProto, Laser2};
use prost::Message;
use std::path::Path;
use tch::Device;

/// A LASER folder with the tiny spm and `ckpt` bytes as laser2.pt.
fn folder(ckpt: &[u8]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("laser2.pt"), ckpt).unwrap();
    std::fs::copy(tiny_dir().join("laser2.spm"), d.path().join("laser2.spm")).unwrap();
    d
}

fn load_err(dir: &Path) -> String {
    match Laser2::load(dir, Device::Cpu) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => {
            eprintln!("refused: {e:#}");
            format!("{e:#}")
        }
    }
}

fn tiny_ckpt() -> Vec<u8> {
    std::fs::read(tiny_dir().join("laser2.pt")).unwrap()
}

#[test]
fn corrupt_checkpoint() {
    let d = folder(b"this is not a torch checkpoint at all");
    let e = load_err(d.path());
    assert!(
        e.contains(&d.path().join("laser2.pt").display().to_string()) && e.contains("corrupt"),
        "{e}"
    );
    // A zip whose bytes are damaged in the middle (a storage or the pickle).
    let mut b = tiny_ckpt();
    let mid = b.len() / 2;
    b[mid..mid + 4096].fill(0xAB);
    let d = folder(&b);
    let e = load_err(d.path());
    assert!(e.contains("laser2.pt"), "{e}");
}

#[test]
fn truncated_checkpoint() {
    let b = tiny_ckpt();
    for cut in [b.len() / 2, b.len() - 100, 10] {
        let d = folder(&b[..cut]);
        let e = load_err(d.path());
        assert!(
            e.contains(&d.path().join("laser2.pt").display().to_string()),
            "{e}"
        );
    }
}

#[test]
fn laser3_transformer_checkpoint() {
    let d = folder(&std::fs::read(fixtures().join("laser3_like.pt")).unwrap());
    let e = load_err(d.path());
    assert!(e.contains("laser2.pt") && e.contains("LASER-3"), "{e}");
}

#[test]
fn missing_spm_and_folder() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("laser2.pt"), tiny_ckpt()).unwrap();
    let e = load_err(d.path());
    assert!(
        e.contains(&d.path().join("laser2.spm").display().to_string())
            && e.contains("missing")
            && e.contains("README"),
        "{e}"
    );
    let e = load_err(&d.path().join("nope"));
    assert!(e.contains("nope") && e.contains("does not exist"), "{e}");
}

#[test]
fn spm_of_the_wrong_kind() {
    let spm = std::fs::read(tiny_dir().join("laser2.spm")).unwrap();
    // The same model relabelled as BPE.
    let mut m = ModelProto::decode(spm.as_slice()).unwrap();
    m.trainer_spec.as_mut().unwrap().model_type = Some(2);
    let d = folder(&tiny_ckpt());
    std::fs::write(d.path().join("laser2.spm"), m.encode_to_vec()).unwrap();
    let e = load_err(d.path());
    assert!(e.contains("laser2.spm") && e.contains("bpe"), "{e}");
    // Not a protobuf at all (a tokenizer.json), and an empty file.
    for bytes in [&b"{\"model\": {\"type\": \"Unigram\"}}"[..], b""] {
        std::fs::write(d.path().join("laser2.spm"), bytes).unwrap();
        let e = load_err(d.path());
        assert!(
            e.contains(&d.path().join("laser2.spm").display().to_string()) && e.contains("not"),
            "{e}"
        );
    }
    // The checkpoint given as the spm.
    std::fs::write(d.path().join("laser2.spm"), tiny_ckpt()).unwrap();
    let e = load_err(d.path());
    assert!(e.contains("laser2.spm"), "{e}");
}

#[test]
fn recorded_sums_are_checked() {
    let d = folder(&tiny_ckpt());
    let sha = lexalign_run::sha256_file(d.path().join("laser2.pt")).unwrap();
    let spm = lexalign_run::sha256_file(d.path().join("laser2.spm")).unwrap();
    std::fs::write(
        d.path().join("SHA256SUMS"),
        format!("{sha}  laser2.pt\n{spm}  laser2.spm\n"),
    )
    .unwrap();
    Laser2::load(d.path(), Device::Cpu).unwrap();
    std::fs::write(
        d.path().join("SHA256SUMS"),
        format!("{}  laser2.pt\n", "0".repeat(64)),
    )
    .unwrap();
    let e = load_err(d.path());
    assert!(
        e.contains("laser2.pt has SHA-256") && e.contains("SHA256SUMS"),
        "{e}"
    );
    std::fs::write(
        d.path().join("SHA256SUMS"),
        format!("{sha}  laser2.cvocab\n"),
    )
    .unwrap();
    let e = load_err(d.path());
    assert!(e.contains("laser2.cvocab is listed"), "{e}");
}
