//! LASER's text preprocessing before the spm (laser_encoders' `LaserTokenizer.tokenize`, defaults
//! lang "en", lower_case, normalize_punct, no descape):
//! 1. every character of Unicode category C (unicategories' table) becomes a space;
//! 2. sacremoses' `MosesPunctNormalizer("en", perl_parity=True)` with LASER's two Moses
//!    release-4.0 overrides, then `strip()`;
//! 3. Python's `str.lower()`.
//!
//! The regex list and the category table are the reference implementation's own data, dumped by
//! the fixture generator (`src/data/`, checked against `tests/fixtures/`).

use anyhow::{Context, Result};
use regex::Regex;
use std::sync::OnceLock;

const MOSES_JSON: &str = include_str!("data/moses_substitutions.json");
const NONPRINT_JSON: &str = include_str!("data/nonprint_ranges.json");

struct Tables {
    moses: Vec<(Regex, String)>,
    /// Half-open code point ranges, ascending.
    nonprint: Vec<(u32, u32)>,
}

/// Python `re.sub` replacement (`\g<1>`, `\1`) -> `regex` crate replacement (`${1}`).
fn python_replacement(rep: &str) -> String {
    let mut out = String::new();
    let mut it = rep.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match it.peek().copied() {
                Some('g') => {
                    it.next();
                    let name: String = it.by_ref().skip(1).take_while(|&c| c != '>').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some(d) if d.is_ascii_digit() => {
                    it.next();
                    out.push_str(&format!("${{{d}}}"));
                }
                Some('\\') => {
                    it.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| build_tables().expect("the embedded LASER preprocessing tables are valid"))
}

fn build_tables() -> Result<Tables> {
    let pairs: Vec<(String, String)> =
        serde_json::from_str(MOSES_JSON).context("moses_substitutions.json")?;
    let moses = pairs
        .into_iter()
        .map(|(pat, rep)| {
            Ok((
                Regex::new(&pat).with_context(|| format!("Moses pattern {pat:?}"))?,
                python_replacement(&rep),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let nonprint: Vec<(u32, u32)> =
        serde_json::from_str(NONPRINT_JSON).context("nonprint_ranges.json")?;
    Ok(Tables { moses, nonprint })
}

/// The (pattern, Python replacement) list compiled in, for the check against the fixture.
pub fn moses_substitutions_json() -> &'static str {
    MOSES_JSON
}

/// The category-C ranges compiled in, for the check against the fixture.
pub fn nonprint_ranges_json() -> &'static str {
    NONPRINT_JSON
}

fn is_nonprint(c: char, ranges: &[(u32, u32)]) -> bool {
    let c = c as u32;
    match ranges.binary_search_by(|&(lo, _)| lo.cmp(&c)) {
        Ok(_) => true,
        Err(0) => false,
        Err(i) => c < ranges[i - 1].1,
    }
}

/// Python's `str.strip()` whitespace (`str.isspace`): White_Space plus the four separators
/// U+001C..U+001F (already spaces after step 1, kept for exactness).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Steps 1-3: the text handed to the spm.
pub fn preprocess(text: &str) -> String {
    let t = tables();
    let mut s: String = text
        .chars()
        .map(|c| if is_nonprint(c, &t.nonprint) { ' ' } else { c })
        .collect();
    for (re, rep) in &t.moses {
        if re.is_match(&s) {
            s = re.replace_all(&s, rep.as_str()).into_owned();
        }
    }
    s.trim_matches(is_py_space).to_lowercase()
}
