//! The binaries find what `cargo xtask setup` installed, under the same cache rule: with only
//! `XDG_CACHE_HOME` set, `<XDG_CACHE_HOME>/lexalign/models/<file>` is the default model and
//! `--model <name>` finds the named one. Its own test binary: it sets process environment.

use std::path::Path;

use lexalign_gguf::{default_model_path, resolve_model};
use lexalign_run::{DEFAULT_MODEL, GEMMA3_270M};

#[test]
fn xdg_cache_home_is_where_the_models_are_found() {
    let xdg = tempfile::tempdir().unwrap();
    for k in ["LEXALIGN_CACHE", "LEXALIGN_MODEL_GGUF"] {
        std::env::remove_var(k);
    }
    std::env::set_var("XDG_CACHE_HOME", xdg.path());
    let models = xdg.path().join("lexalign").join("models");

    let e = format!("{:#}", default_model_path().unwrap_err());
    assert!(
        e.contains(&models.display().to_string()) && e.contains("cargo xtask setup"),
        "{e}"
    );

    std::fs::create_dir_all(&models).unwrap();
    for m in [DEFAULT_MODEL, GEMMA3_270M] {
        std::fs::write(models.join(m.file), "GGUF").unwrap();
    }
    assert_eq!(
        default_model_path().unwrap(),
        models.join(DEFAULT_MODEL.file)
    );
    assert_eq!(
        resolve_model(None).unwrap(),
        models.join(DEFAULT_MODEL.file)
    );
    assert_eq!(
        resolve_model(Some(Path::new("smollm2-135m"))).unwrap(),
        models.join(DEFAULT_MODEL.file)
    );
    assert_eq!(
        resolve_model(Some(Path::new("gemma3-270m"))).unwrap(),
        models.join(GEMMA3_270M.file)
    );
    // $LEXALIGN_CACHE still comes first.
    let other = tempfile::tempdir().unwrap();
    std::env::set_var("LEXALIGN_CACHE", other.path());
    let e = format!(
        "{:#}",
        resolve_model(Some(Path::new("gemma3-270m"))).unwrap_err()
    );
    assert!(e.contains(&other.path().display().to_string()), "{e}");
}
