//! Parallel text from elsewhere (`../shared/corpora/`, never copied in): here only the Kolibri
//! user-interface messages in English and Tanzanian Swahili, used as running text whose words
//! make a vocabulary (function words included, which the bilingual word lists lack). Every file
//! read is first checked against the committed `paper/corpora.sha256` (the `en` and `sw_TZ`
//! lines of the folder's `SHA256SUMS`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::locate;
use crate::paper::parse_sums;

/// Environment variable naming the corpora folder.
pub const ENV_CORPORA: &str = "LEXALIGN_CORPORA";
/// The committed sums (paths relative to the corpora folder).
pub const CORPORA_SUMS: &str = include_str!("../../../paper/corpora.sha256");
const SUMS_NAME: &str = "paper/corpora.sha256";
const KOLIBRI_LOCALE: &str = "kolibri-0.19.5/locale";

const WHAT_TO_DO: &str = "point LEXALIGN_CORPORA at a folder holding kolibri-0.19.5/locale/ as \
described in ../shared/corpora/README.md (pip download --no-deps kolibri==0.19.5 and take \
kolibri/locale/ out of the wheel)";

/// The corpora folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corpora {
    root: PathBuf,
}

/// A Kolibri locale read by [`Corpora::kolibri_messages`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KolibriLang {
    English,
    /// `sw_TZ`.
    Swahili,
}

impl KolibriLang {
    fn folder(self) -> &'static str {
        match self {
            KolibriLang::English => "en",
            KolibriLang::Swahili => "sw_TZ",
        }
    }
}

impl Corpora {
    /// Find the folder: `explicit`, else `$LEXALIGN_CORPORA`, else `../shared/corpora` from the
    /// current folder or a parent, else `<cache>/corpora` (same rule as the lexicons).
    pub fn locate(explicit: Option<&Path>) -> Result<Self> {
        Ok(Self {
            root: locate::locate_dir(explicit, &search())?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The message texts of every Kolibri file of `lang` listed in the committed sums (files in
    /// path order, messages in key order), after checking those files.
    pub fn kolibri_messages(&self, lang: KolibriLang) -> Result<Vec<String>> {
        let sums = parse_sums(CORPORA_SUMS, SUMS_NAME)?;
        let prefix = format!("{KOLIBRI_LOCALE}/{}/", lang.folder());
        let files: Vec<&str> = sums
            .keys()
            .map(String::as_str)
            .filter(|k| k.starts_with(&prefix))
            .collect();
        if files.is_empty() {
            bail!("{SUMS_NAME} lists no file under {prefix}");
        }
        let problems = locate::sum_problems(&self.root, &sums, SUMS_NAME, Some(&files), "")?;
        if !problems.is_empty() {
            bail!(
                "the corpora in {} do not match the committed sums: {}; {WHAT_TO_DO}",
                self.root.display(),
                problems.join("; ")
            );
        }
        let mut out = Vec::new();
        for rel in files {
            let path = self.root.join(rel);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            out.extend(
                messages(&text)
                    .with_context(|| format!("{}: not a Kolibri message file", path.display()))?,
            );
        }
        Ok(out)
    }
}

/// The values of a `{"key": "text", ...}` object, in key order.
fn messages(text: &str) -> Result<Vec<String>> {
    let map: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(text).context("expected one JSON object of message key -> text")?;
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok(s),
            other => bail!("message {k:?} is not a string: {other}"),
        })
        .collect()
}

fn search() -> locate::Search<'static> {
    locate::Search {
        what: "the parallel text (the corpora folder)",
        env: ENV_CORPORA,
        shared: &["corpora"],
        cache: &["corpora"],
        what_to_do: WHAT_TO_DO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_files() {
        assert_eq!(
            messages(r#"{"b": "Two", "a": "One"}"#).unwrap(),
            vec!["One", "Two"]
        );
        let e = format!("{:#}", messages(r#"{"a": 1}"#).unwrap_err());
        assert!(e.contains("\"a\""), "{e}");
        assert!(messages("[1]").is_err());
    }

    #[test]
    fn committed_sums_cover_both_locales() {
        let sums = parse_sums(CORPORA_SUMS, SUMS_NAME).unwrap();
        for lang in ["en", "sw_TZ"] {
            let n = sums
                .keys()
                .filter(|k| k.starts_with(&format!("{KOLIBRI_LOCALE}/{lang}/")))
                .count();
            assert_eq!(n, 23, "{lang}");
        }
    }

    #[test]
    fn tampered_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = Corpora::locate(Some(dir.path())).unwrap();
        let e = format!(
            "{:#}",
            c.kolibri_messages(KolibriLang::English).unwrap_err()
        );
        assert!(
            e.contains("is missing") && e.contains("LEXALIGN_CORPORA"),
            "{e}"
        );
    }
}
