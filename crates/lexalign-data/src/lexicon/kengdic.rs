//! kengdic's `ezcorean_6000.sql`: a PostgreSQL `COPY m_korean (...) FROM stdin;` dump
//! (tab-separated, `\N` = null, COPY escapes, UTF-8 with a BOM, CRLF line ends).
//!
//! Rules (they reproduce ../shared/lexicons/README.md: 1,666 headwords, levels A 450, B 597,
//! C 608, D 11):
//! - rows are the lines between the `COPY` line and `\.`; fields are unescaped as COPY text
//!   (`\N` null, `\t \n \r \b \f \v \\`, octal `\ooo`, hex `\xhh`, any other `\c` = `c`);
//! - a line with fewer fields than the COPY header names is continued by the next line(s) when
//!   they complete it to exactly that many fields (one row of the file has a raw line break inside
//!   its `def`); any other field count is refused, naming the file and line;
//! - kept: `word` (trimmed) is all Hangul syllables (U+AC00-U+D7A3); `level` is A, B, C or D;
//!   `def` is one English word of ASCII letters after dropping one leading "to", "a", "an" or
//!   "the" (case-insensitive), lower-cased;
//! - a repeated (headword, English) pair is kept once; a headword's level is that of its first
//!   kept row; several headwords may share an English word.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::{bail, Result};

use super::{one_english_word, read_utf8, Lexicon, LexiconStats};
use crate::pairs::{Location, Pair};

/// Read and extract `ezcorean_6000.sql`.
pub fn read(path: impl AsRef<Path>) -> Result<Lexicon> {
    let path = path.as_ref();
    parse(&read_utf8(path)?, &path.display().to_string())
}

/// Extract from the dump's text (`origin` names the file in errors and in each pair's origin).
pub fn parse(text: &str, origin: &str) -> Result<Lexicon> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let header = Header::find(&lines, origin)?;
    let mut stats = LexiconStats::new("kengdic ko-en");
    let mut pairs = Vec::new();
    let mut seen = HashSet::new();
    let mut level_of: BTreeMap<String, String> = BTreeMap::new();
    let mut i = header.line + 1;
    let mut ended = false;
    while i < lines.len() {
        let start = i;
        if lines[i] == "\\." {
            ended = true;
            break;
        }
        if i + 1 == lines.len() && lines[i].is_empty() {
            break; // the file's last line break
        }
        let fields = header.row(&lines, &mut i, origin, &mut stats)?;
        stats.add("rows", 1);
        let Some((word, english, level)) = kept(&header, &fields, origin, start, &mut stats)?
        else {
            continue;
        };
        if !seen.insert((word.clone(), english.clone())) {
            stats.add("skipped: repeat of a kept pair", 1);
            continue;
        }
        level_of.entry(word.clone()).or_insert(level);
        pairs.push(Pair::new(&word, english).at(origin, Location::Line(start as u64 + 1)));
    }
    if !ended {
        bail!(
            "{origin}: line {}: the COPY data has no closing `\\.` line: the file is truncated; restore the original",
            lines.len()
        );
    }
    for level in level_of.values() {
        *stats.levels.entry(level.clone()).or_default() += 1;
    }
    Ok(stats.finish(pairs))
}

/// The `COPY m_korean (...) FROM stdin;` line: where it is, its columns, and the three we read.
struct Header {
    line: usize,
    columns: Vec<String>,
    word: usize,
    def: usize,
    level: usize,
}

impl Header {
    fn find(lines: &[&str], origin: &str) -> Result<Header> {
        let (line, columns) = lines
            .iter()
            .enumerate()
            .find_map(|(i, l)| copy_columns(l).map(|c| (i, c)))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{origin}: no `COPY m_korean (...) FROM stdin;` line: this is not kengdic's ezcorean_6000.sql dump"
                )
            })?;
        let col = |name: &str| {
            columns.iter().position(|c| c == name).ok_or_else(|| {
                anyhow::anyhow!(
                    "{origin}: line {}: the COPY header names no \"{name}\" column (it names {})",
                    line + 1,
                    columns.join(", ")
                )
            })
        };
        let (word, def, level) = (col("word")?, col("def")?, col("level")?);
        Ok(Header {
            line,
            columns,
            word,
            def,
            level,
        })
    }

    /// The row starting at line `*i`, joined over raw line breaks inside a field (the dump has a
    /// few); leaves `*i` on the next row's first line.
    fn row(
        &self,
        lines: &[&str],
        i: &mut usize,
        origin: &str,
        stats: &mut LexiconStats,
    ) -> Result<Vec<String>> {
        let (start, n) = (*i, self.columns.len());
        let mut fields: Vec<String> = lines[*i].split('\t').map(str::to_string).collect();
        let first_len = fields.len();
        while fields.len() < n && *i + 1 < lines.len() && lines[*i + 1] != "\\." {
            let mut next = lines[*i + 1].split('\t');
            let last = fields.last_mut().expect("split yields one field");
            last.push('\n');
            last.push_str(next.next().unwrap_or_default());
            fields.extend(next.map(str::to_string));
            *i += 1;
        }
        if fields.len() != n {
            bail!(
                "{origin}: line {}: malformed row: has {} tab-separated fields but the COPY header (line {}) names {n} ({}); \
                 restore the original file",
                start + 1,
                first_len,
                self.line + 1,
                self.columns.join(", ")
            );
        }
        if *i > start {
            log::warn!(
                "{origin}: lines {}-{}: one row broken over {} lines (a raw line break inside a field), read as one row",
                start + 1,
                *i + 1,
                *i - start + 1
            );
            stats.add("rows continued over a line break", 1);
        }
        *i += 1;
        Ok(fields)
    }
}

/// The row's (Hangul headword, one English word, level A-D), or `None` with the reason counted.
fn kept(
    h: &Header,
    fields: &[String],
    origin: &str,
    start: usize,
    stats: &mut LexiconStats,
) -> Result<Option<(String, String, String)>> {
    let get = |k: usize| unescape(&fields[k], origin, start + 1);
    let (word, def, level) = (get(h.word)?, get(h.def)?, get(h.level)?);
    let (Some(word), Some(def)) = (word, def) else {
        stats.add("skipped: word or def is null", 1);
        return Ok(None);
    };
    let word = word.trim();
    let level = level.unwrap_or_default().trim().to_string();
    if !matches!(level.as_str(), "A" | "B" | "C" | "D") {
        stats.add("skipped: level not A-D", 1);
        return Ok(None);
    }
    if word.is_empty() || !word.chars().all(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c)) {
        stats.add("skipped: headword not all Hangul", 1);
        return Ok(None);
    }
    let Some(english) = one_english_word(&def) else {
        stats.add("skipped: def not one English word", 1);
        return Ok(None);
    };
    Ok(Some((word.to_string(), english, level)))
}

/// The column names of a `COPY table (a, b, "c") FROM stdin;` line.
fn copy_columns(line: &str) -> Option<Vec<String>> {
    let rest = line.strip_prefix("COPY ")?;
    let (_, rest) = rest.split_once('(')?;
    let (cols, tail) = rest.split_once(')')?;
    if !tail.trim().eq_ignore_ascii_case("FROM stdin;") {
        return None;
    }
    Some(
        cols.split(',')
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect(),
    )
}

/// A COPY text-format field: `\N` is null; backslash escapes as PostgreSQL reads them.
pub fn unescape(field: &str, origin: &str, line: usize) -> Result<Option<String>> {
    if field == "\\N" {
        return Ok(None);
    }
    if !field.contains('\\') {
        return Ok(Some(field.to_string()));
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            bail!(
                "{origin}: line {line}: a field ends with a lone backslash (a broken COPY escape)"
            );
        };
        match e {
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            'x' if chars.peek().is_some_and(|d| d.is_ascii_hexdigit()) => {
                let mut v = 0;
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            other => out.push(other),
        }
    }
    Ok(Some(out))
}

/// Level (A-D) and part-of-speech code (`pos`, a number the dump does not document) of each
/// Hangul headword's first row, for the breakdowns of issue 31. Rows whose line does not hold
/// every COPY column (the one continued row) are left out.
pub fn headword_info(text: &str) -> std::collections::BTreeMap<String, (String, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let Some(header) = lines.by_ref().find(|l| l.starts_with("COPY ")) else {
        return Default::default();
    };
    let cols: Vec<String> = header
        .split_once('(')
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(c, _)| {
            c.split(',')
                .map(|c| c.trim().trim_matches('"').to_string())
                .collect()
        })
        .unwrap_or_default();
    let at = |n: &str| cols.iter().position(|c| c == n);
    let (Some(w), Some(p), Some(l)) = (at("word"), at("pos"), at("level")) else {
        return Default::default();
    };
    let mut out = std::collections::BTreeMap::new();
    for line in lines.take_while(|l| *l != "\\.") {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == cols.len() {
            out.entry(f[w].trim().to_string())
                .or_insert((f[l].to_string(), f[p].to_string()));
        }
    }
    out
}
