//! The cache folder rule, shared by `cargo xtask setup` (which fills the cache) and every binary
//! (which reads it), so both always agree on where the model and data are.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{bail, Result};

/// Environment variable naming the cache folder outright.
pub const ENV_CACHE: &str = "LEXALIGN_CACHE";

/// The cache folder: `$LEXALIGN_CACHE`, else `$XDG_CACHE_HOME/lexalign`, else
/// `~/.cache/lexalign` (empty values count as unset).
pub fn cache_dir() -> Result<PathBuf> {
    cache_dir_with(|k| std::env::var_os(k))
}

/// [`cache_dir`] with `env` as the environment lookup (so tests need not touch the real one).
pub fn cache_dir_with(env: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = get(ENV_CACHE) {
        return Ok(p);
    }
    if let Some(p) = get("XDG_CACHE_HOME") {
        return Ok(p.join("lexalign"));
    }
    if let Some(p) = get("HOME") {
        return Ok(p.join(".cache").join("lexalign"));
    }
    bail!("cannot choose a cache folder: set {ENV_CACHE} (or HOME) to a writable folder")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let m: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn precedence_cache_then_xdg_then_home() {
        let all = [(ENV_CACHE, "/c"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(cache_dir_with(env(&all)).unwrap(), PathBuf::from("/c"));
        assert_eq!(
            cache_dir_with(env(&all[1..])).unwrap(),
            PathBuf::from("/x/lexalign")
        );
        assert_eq!(
            cache_dir_with(env(&all[2..])).unwrap(),
            PathBuf::from("/h/.cache/lexalign")
        );
        // Empty values count as unset.
        assert_eq!(
            cache_dir_with(env(&[
                (ENV_CACHE, ""),
                ("XDG_CACHE_HOME", ""),
                ("HOME", "/h")
            ]))
            .unwrap(),
            PathBuf::from("/h/.cache/lexalign")
        );
        let e = cache_dir_with(env(&[])).unwrap_err().to_string();
        assert!(e.contains(ENV_CACHE), "{e}");
    }
}
