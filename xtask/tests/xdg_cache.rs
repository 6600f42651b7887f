//! With only `XDG_CACHE_HOME` set, `cargo xtask setup` and the binaries agree on the cache: what
//! setup checks and installs under `$XDG_CACHE_HOME/lexalign/models/` is what the binaries'
//! lookup (`lexalign_gguf::resolve_model`) finds, by default and by name. Runs on a machine that
//! has already set up the embedded models (they are linked into a temporary XDG cache, so
//! nothing is downloaded); skipped elsewhere. Its own test binary: it sets process environment.

use std::path::Path;
use std::process::Command;

use lexalign_run::{EMBEDDED_ENCODERS, EMBEDDED_MODELS, GEMMA3_270M, SMOLLM2_135M};

fn link_or_copy(from: &Path, to: &Path) {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).unwrap();
    }
}

#[test]
fn setup_and_binaries_agree_under_xdg_cache_home() {
    let real = lexalign_run::cache_dir().unwrap();
    let mut files: Vec<&str> = Vec::new();
    for m in EMBEDDED_MODELS.iter().chain(EMBEDDED_ENCODERS) {
        files.push(m.file);
        files.extend(m.licence_file);
    }
    let real_models = real.join("models");
    if let Some(f) = files.iter().find(|f| !real_models.join(f).is_file()) {
        eprintln!("{} is not set up in {}; skipping", f, real_models.display());
        return;
    }
    let xdg = tempfile::tempdir().unwrap();
    let models = xdg.path().join("lexalign").join("models");
    std::fs::create_dir_all(&models).unwrap();
    for f in &files {
        link_or_copy(&real_models.join(f), &models.join(f));
    }

    for k in ["LEXALIGN_CACHE", "LEXALIGN_MODEL_GGUF"] {
        std::env::remove_var(k);
    }
    std::env::set_var("XDG_CACHE_HOME", xdg.path());
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["setup", "--only", "model"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for m in EMBEDDED_MODELS.iter().chain(EMBEDDED_ENCODERS) {
        let p = models.join(m.file);
        assert!(
            out.contains(&format!("model {}: {} (SHA-256 ok)", m.name, p.display())),
            "{out}"
        );
    }
    assert_eq!(
        lexalign_gguf::resolve_model(None).unwrap(),
        models.join(SMOLLM2_135M.file)
    );
    assert_eq!(
        lexalign_gguf::resolve_model(Some(Path::new("gemma3-270m"))).unwrap(),
        models.join(GEMMA3_270M.file)
    );
}
