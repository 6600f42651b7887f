//! MUSE / VecMap bilingual dictionaries: one pair a line, source and target separated by
//! whitespace (MUSE: a space or a tab; VecMap: a tab), no header; a source may repeat with
//! several targets. Reading is strict where the field's own readers are silent (MUSE skips a
//! line it cannot split in two): a line of one field, of three, or with a tab and spaces mixed
//! is an error naming the file and line, since any of them means the file is not what it seems.

use std::path::Path;

use anyhow::{bail, Result};

use super::parse::Builder;
use super::{Location, Pair, PairFile};

/// Parse a MUSE/VecMap dictionary. Blank lines are skipped; `\r\n` endings and a BOM are
/// accepted. `origin` names the file in errors.
pub fn parse_muse_pairs(text: &str, origin: &str) -> Result<PairFile> {
    let mut builder = Builder::new(origin);
    for (i, raw) in text.trim_start_matches('\u{feff}').split('\n').enumerate() {
        let line = raw.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let at = Location::Line(i as u64 + 1);
        if line.contains('\u{feff}') {
            bail!(
                "{origin}: {at}: a byte-order mark (U+FEFF) inside the file (files joined with `cat`?); \
                 remove it: only the file's first character may be one"
            );
        }
        let (s, t) = split_line(line).map_err(|why| {
            anyhow::anyhow!(
                "{origin}: {at}: {why}; a MUSE/VecMap dictionary has one pair a line, \
                 `SOURCE TARGET` separated by one space or one tab (pass --pairs-format if the \
                 file is CSV/TSV with a header or JSON)"
            )
        })?;
        builder.push(at, ("source", s.to_string()), ("target", t.to_string()))?;
    }
    let out = builder.finish();
    if out.is_empty() {
        bail!("{origin}: no pairs (the MUSE/VecMap dictionary is empty)");
    }
    Ok(out)
}

/// The two fields of one (trailing-whitespace-trimmed) line, or why it is not a pair line.
/// Fields are split on any whitespace, as MUSE's Python `str.split()` does (so a word lexalign
/// reads is a word MUSE reads); a tab beside any other whitespace is "mixed".
fn split_line(line: &str) -> Result<(&str, &str), String> {
    if line.contains('\t') && line.chars().any(|c| c.is_whitespace() && c != '\t') {
        return Err(format!("{line:?} mixes a tab and spaces"));
    }
    if line.starts_with(char::is_whitespace) {
        return Err(format!(
            "{line:?} starts with whitespace (an empty source word)"
        ));
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [s, t] => Ok((s, t)),
        [one] => Err(format!("{one:?} has one field, not two")),
        more => Err(format!(
            "{line:?} has {} fields, not two (a word with a space in it? write it with `_`)",
            more.len()
        )),
    }
}

/// A word as a whitespace-separated format can hold it: inner whitespace runs become `_`
/// (the word2vec phrase convention), so `ice cream` is written `ice_cream`. Used by the MUSE
/// writer and the `.vec` export, so a dictionary and its vectors name words alike.
pub fn muse_word(word: &str) -> String {
    word.split_whitespace().collect::<Vec<_>>().join("_")
}

/// The MUSE text of `pairs`: `source<TAB>target\n` per pair, in order (words through
/// [`muse_word`]). MUSE splits on any whitespace and VecMap on the tab, so both read it.
pub fn muse_pairs_text(pairs: &[Pair]) -> Result<String> {
    let mut out = String::new();
    for (i, p) in pairs.iter().enumerate() {
        let (s, t) = (muse_word(&p.source), muse_word(&p.target));
        if s.is_empty() || t.is_empty() {
            bail!(
                "pair {i} ({}) has an empty word; a MUSE dictionary cannot hold it",
                p.whence()
            );
        }
        out.push_str(&s);
        out.push('\t');
        out.push_str(&t);
        out.push('\n');
    }
    Ok(out)
}

/// Writes `pairs` as a MUSE dictionary, atomically; returns how many words had whitespace
/// replaced by `_` (the caller may warn).
pub fn write_muse_pairs(path: &Path, pairs: &[Pair]) -> Result<usize> {
    let text = muse_pairs_text(pairs)?;
    let changed = pairs
        .iter()
        .flat_map(|p| [&p.source, &p.target])
        .filter(|w| muse_word(w) != **w)
        .count();
    lexalign_run::write_atomic(path, text.as_bytes())?;
    Ok(changed)
}
