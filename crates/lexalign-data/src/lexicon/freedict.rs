//! FreeDict Swahili-English as dictd serves it: `freedict-swh-eng.index` (`headword<TAB>offset<TAB>length`,
//! numbers in dictd's base64: `A-Z a-z 0-9 + /`, most significant digit first) and
//! `freedict-swh-eng.dict.dz` (gzip/dictzip of the entries; decompressed whole).
//!
//! An entry reads `headword /IPA/ <pos> (pl: ...)`, then numbered senses (`1.` on its own line),
//! each one line of comma-separated English translations, further groups on lines starting with
//! `; `, and notes on indented lines (`   See also: {..}`, ` Plural of {..}: ..`, usage remarks).
//!
//! Rules:
//! - index lines whose headword starts with `00database` are dictd metadata and skipped; the
//!   Swahili word is the index headword (dictd's lower-cased key: each spelling of an entry has
//!   its own index line, e.g. afisa and ofisa); headwords containing a space are skipped;
//! - in the entry, the first line (headword, IPA, part of speech, plural) is skipped, as are
//!   blank lines, sense numbers (`1.`) and indented note lines;
//! - each remaining line loses a leading `; `, then every parenthetical `( .. )` (nested ones
//!   too), then is split at `,` and `;`; a piece is kept when it is one English word of ASCII
//!   letters after dropping one leading "to", "a", "an" or "the"; lower-cased;
//! - every kept sense of a headword is a gold translation; a repeated (headword, English) pair
//!   (the same headword in two entries) is kept once.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::{one_english_word, read_utf8, utf8, Lexicon, LexiconStats};
use crate::pairs::{Location, Pair};

/// Read the index and the compressed data.
pub fn read(index: impl AsRef<Path>, dict_dz: impl AsRef<Path>) -> Result<Lexicon> {
    let (index, dict_dz) = (index.as_ref(), dict_dz.as_ref());
    let text = read_utf8(index)?;
    let raw = std::fs::File::open(dict_dz)
        .with_context(|| format!("cannot open {}", dict_dz.display()))?;
    let data = gunzip(raw, &dict_dz.display().to_string())?;
    parse(
        &text,
        &index.display().to_string(),
        &data,
        &dict_dz.display().to_string(),
    )
}

/// Decompress a whole gzip (dictzip) stream; a truncated or damaged one is refused naming `origin`.
pub fn gunzip(reader: impl Read, origin: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(reader)
        .read_to_end(&mut out)
        .map_err(|e| {
            anyhow!("{origin}: cannot decompress it ({e}): the gzip data is truncated or damaged; restore the original file")
        })?;
    Ok(out)
}

/// Extract from the index text and the decompressed data (`index_origin`, `dict_origin` name them).
pub fn parse(index: &str, index_origin: &str, data: &[u8], dict_origin: &str) -> Result<Lexicon> {
    let mut stats = LexiconStats::new("freedict swh-en");
    let mut pairs = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in index.lines().enumerate() {
        let lineno = i + 1;
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [head, off, len] = fields[..] else {
            bail!(
                "{index_origin}: line {lineno}: malformed index line: has {} tab-separated fields, expected 3 \
                 (headword, offset, length); restore the original file",
                fields.len()
            );
        };
        let num = |s: &str, what: &str| {
            b64(s).ok_or_else(|| {
                anyhow!(
                    "{index_origin}: line {lineno}: the {what} {s:?} is not a dictd base64 number"
                )
            })
        };
        let (off, len) = (num(off, "offset")?, num(len, "length")?);
        if head.starts_with("00database") || head.starts_with("00-database") {
            continue;
        }
        stats.add("index headwords", 1);
        let end = off.checked_add(len).filter(|&e| e <= data.len() as u64).ok_or_else(|| {
            anyhow!(
                "{index_origin}: line {lineno}: the entry for {head:?} (bytes {off}..{}) lies past the end of {dict_origin} \
                 ({} bytes decompressed): the data file is truncated or belongs to another index",
                off.saturating_add(len),
                data.len()
            )
        })?;
        let entry = utf8(data[off as usize..end as usize].to_vec(), dict_origin)
            .with_context(|| format!("{index_origin}: line {lineno}: the entry for {head:?}"))?;
        if head.contains(' ') {
            stats.add("skipped: headword of several words", 1);
            continue;
        }
        let mut kept = 0;
        for sense in senses(&entry) {
            match one_english_word(&sense) {
                Some(english) => {
                    if seen.insert((head.to_string(), english.clone())) {
                        pairs.push(
                            Pair::new(head, english)
                                .at(index_origin, Location::Line(lineno as u64)),
                        );
                        kept += 1;
                    } else {
                        stats.add("skipped senses: repeat of a kept pair", 1);
                    }
                }
                None => stats.add("skipped senses: not one English word", 1),
            }
        }
        if kept == 0 {
            stats.add("headwords without a one-word sense", 1);
        }
    }
    if stats.counts.get("index headwords").copied().unwrap_or(0) == 0 {
        bail!("{index_origin}: no headwords: this is not a dictd index");
    }
    Ok(stats.finish(pairs))
}

/// The translation pieces of one entry (see the module rules), parentheticals removed.
pub fn senses(entry: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in entry.lines().skip(1) {
        if line.trim().is_empty() || line.starts_with(char::is_whitespace) || is_sense_number(line)
        {
            continue;
        }
        let line = line.strip_prefix("; ").unwrap_or(line);
        let plain = drop_parentheticals(line);
        out.extend(
            plain
                .split([',', ';'])
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty()),
        );
    }
    out
}

fn is_sense_number(line: &str) -> bool {
    line.strip_suffix('.')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn drop_parentheticals(s: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// A dictd base64 number (`A-Z a-z 0-9 + /` = 0..63, most significant digit first).
pub fn b64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 10 {
        return None;
    }
    s.bytes().try_fold(0u64, |v, b| {
        let d = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        Some(v * 64 + u64::from(d))
    })
}
