//! Unicode CLDR emoji annotations (`common/annotations/<lang>.xml`): each
//! `<annotation cp="🐶" type="tts">dog</annotation>` is the short name of an emoji in that
//! language; the same `cp` in two files gives a translation pair of names.
//!
//! Parsed with roxmltree (a small, maintained, read-only XML tree with no dependencies; it
//! gives every element's line for error messages and skips commented-out annotations).
//!
//! Rules: only `type="tts"` annotations; pairs are matched by `cp` (other language -> English);
//! kept when neither name contains whitespace (hyphens and apostrophes stay: t-shirt, ng’ombe);
//! the English name is lower-cased, the other kept as written; a repeated pair is kept once.
//! A file with no `tts` annotations, an annotation without `cp` or name, or the same `cp` twice
//! is refused naming the file and line.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use super::{read_utf8, Lexicon, LexiconStats};
use crate::pairs::{Location, Pair};

/// One `tts` name and the line of its element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub name: String,
    pub line: u32,
    /// The `draft` attribute (`contributed`, ...) where present.
    pub draft: Option<String>,
}

/// Read `other` (e.g. ko.xml) and `english` (en.xml) and pair their one-word names.
pub fn read(other: impl AsRef<Path>, english: impl AsRef<Path>) -> Result<Lexicon> {
    let (o, e) = (other.as_ref(), english.as_ref());
    pair_names(
        &read_utf8(o)?,
        &o.display().to_string(),
        &read_utf8(e)?,
        &e.display().to_string(),
    )
}

/// The `tts` names of one annotations file, by `cp`.
pub fn tts_names(text: &str, origin: &str) -> Result<BTreeMap<String, Name>> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts)
        .map_err(|e| anyhow!("{origin}: malformed XML: {e}; restore the original file"))?;
    let line = |n: roxmltree::Node| doc.text_pos_at(n.range().start).row;
    let mut out: BTreeMap<String, Name> = BTreeMap::new();
    let mut any = false;
    for n in doc.descendants().filter(|n| n.has_tag_name("annotation")) {
        any = true;
        if n.attribute("type") != Some("tts") {
            continue;
        }
        let at = line(n);
        let cp = n.attribute("cp").ok_or_else(|| {
            anyhow!("{origin}: line {at}: an <annotation type=\"tts\"> has no cp attribute")
        })?;
        let name = n.text().map(str::trim).unwrap_or_default();
        if name.is_empty() {
            bail!("{origin}: line {at}: the tts annotation for cp {cp:?} has no name");
        }
        let entry = Name {
            name: name.to_string(),
            line: at,
            draft: n.attribute("draft").map(str::to_string),
        };
        if let Some(first) = out.insert(cp.to_string(), entry) {
            bail!(
                "{origin}: line {at}: cp {cp:?} has a second tts name (the first is on line {})",
                first.line
            );
        }
    }
    if out.is_empty() {
        bail!(
            "{origin}: no <annotation cp=\"..\" type=\"tts\"> elements{}: this is not a CLDR annotations file \
             (common/annotations/<lang>.xml)",
            if any { "" } else { " (no <annotation> at all)" }
        );
    }
    Ok(out)
}

/// Pair the one-word names of `other` (source) and `english` (target) by `cp`.
pub fn pair_names(
    other: &str,
    other_origin: &str,
    english: &str,
    en_origin: &str,
) -> Result<Lexicon> {
    let (o, e) = (
        tts_names(other, other_origin)?,
        tts_names(english, en_origin)?,
    );
    let lang = Path::new(other_origin)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "other".into());
    let mut stats = LexiconStats::new(&format!("cldr {lang}-en"));
    stats.add(&format!("tts names in {lang}"), o.len());
    stats.add("tts names in en", e.len());
    let one_word = |s: &str| !s.chars().any(char::is_whitespace);
    let mut pairs = Vec::new();
    let mut seen = HashSet::new();
    for (cp, src) in &o {
        let Some(en) = e.get(cp) else {
            stats.add("skipped: cp not in en", 1);
            continue;
        };
        stats.add("cps in both", 1);
        if !one_word(&src.name) || !one_word(&en.name) {
            stats.add("skipped: a name of several words", 1);
            continue;
        }
        let target = en.name.to_lowercase();
        if !seen.insert((src.name.clone(), target.clone())) {
            stats.add("skipped: repeat of a kept pair", 1);
            continue;
        }
        if src.draft.is_some() {
            stats.add(&format!("pairs whose {lang} name is a draft"), 1);
        }
        pairs.push(
            Pair::new(src.name.clone(), target)
                .at(other_origin, Location::Line(u64::from(src.line))),
        );
    }
    // File order of the other language, so pairs read like the file.
    pairs.sort_by_key(|p| match p.origin.as_ref().map(|o| o.at) {
        Some(Location::Line(l)) => l,
        _ => 0,
    });
    Ok(stats.finish(pairs))
}
