//! Translation-pair files: the authors' JSON (`[{"swahili":..,"english":..}]`), CSV/TSV with a
//! header naming the two language columns, and MUSE/VecMap dictionaries (`SOURCE TARGET` a line,
//! no header), read and written. Order is kept; duplicates are reported, not dropped.

use std::fmt;

mod muse;
mod parse;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_muse;

pub use muse::{muse_pairs_text, muse_word, parse_muse_pairs, write_muse_pairs};
pub use parse::{
    detect_pair_format, parse_delimited_pairs, parse_json_pairs, read_pairs, read_pairs_as,
    read_pairs_with, PairFormat,
};

/// One translation pair (source language word, target language word), as written in the file,
/// with where it was read from (so later checks can name the file and line).
///
/// Equality, hashing and ordering look at the two strings only: the same pair read from two
/// places is the same pair.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pair {
    pub source: String,
    pub target: String,
    /// File and line (or JSON index) it was read from; `None` for pairs made in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

impl Pair {
    /// A pair made in memory (no origin).
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            target: target.into(),
            origin: None,
        }
    }

    /// The same pair, recording where it was read from.
    pub fn at(mut self, file: impl Into<String>, at: Location) -> Self {
        self.origin = Some(Origin {
            file: file.into(),
            at,
        });
        self
    }

    /// `file: line N` (or `in memory`), for messages.
    pub fn whence(&self) -> String {
        match &self.origin {
            Some(o) => o.to_string(),
            None => "in memory".into(),
        }
    }

    fn key(&self) -> (&str, &str) {
        (&self.source, &self.target)
    }
}

impl PartialEq for Pair {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Pair {}

impl std::hash::Hash for Pair {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl PartialOrd for Pair {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pair {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// Where a pair was read from: the file (as given) and the line or JSON index in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub file: String,
    pub at: Location,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.at)
    }
}

/// Names of the source and target columns (CSV/TSV header) or keys (JSON objects).
/// Files naming their columns `source`,`target` are accepted whatever is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub source: String,
    pub target: String,
}

impl Default for Columns {
    /// The authors' names: `swahili`, `english`.
    fn default() -> Self {
        Self::new("swahili", "english")
    }
}

impl Columns {
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            target: target.into(),
        }
    }

    pub(crate) fn generic() -> Self {
        Self::new("source", "target")
    }
}

/// Where a pair sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// 1-based line of a CSV/TSV file or a MUSE dictionary.
    Line(u64),
    /// 0-based index in the JSON array.
    Index(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(l) => write!(f, "line {l}"),
            Location::Index(i) => write!(f, "JSON index {i}"),
        }
    }
}

/// A pair that appears again after its first occurrence (both are kept in [`PairFile::pairs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub pair: Pair,
    pub first: Location,
    pub repeat: Location,
}

/// The pairs of one file, in file order, with their locations and the repeated pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairFile {
    pub pairs: Vec<Pair>,
    pub locations: Vec<Location>,
    pub duplicates: Vec<Duplicate>,
}

impl PairFile {
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Source words, in order.
    pub fn sources(&self) -> Vec<&str> {
        self.pairs.iter().map(|p| p.source.as_str()).collect()
    }

    /// Target words, in order.
    pub fn targets(&self) -> Vec<&str> {
        self.pairs.iter().map(|p| p.target.as_str()).collect()
    }
}
