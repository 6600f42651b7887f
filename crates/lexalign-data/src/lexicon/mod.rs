//! Bilingual word lists from elsewhere (kengdic Korean-English, FreeDict Swahili-English, CLDR
//! emoji names ko/sw-en), read from a folder outside the repo (`../shared/lexicons/`, never
//! copied in) after checking every file against `paper/lexicons.sha256`.
//!
//! Each reader returns its pairs (source word, lower-case English word) with their origin
//! (file + line) and a [`LexiconStats`] for provenance. The extraction rules are documented on
//! each reader ([`kengdic`], [`freedict`], [`cldr`]).

pub mod cldr;
pub mod freedict;
pub mod kengdic;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::locate;
use crate::pairs::Pair;
use crate::paper::parse_sums;

/// Environment variable naming the lexicon folder.
pub const ENV_LEXICONS: &str = "LEXALIGN_LEXICONS";
/// The committed sums (`sha256sum` format, paths relative to the lexicon folder).
pub const LEXICON_SUMS: &str = include_str!("../../../../paper/lexicons.sha256");
const SUMS_NAME: &str = "paper/lexicons.sha256";

pub const KENGDIC_SQL: &str = "kengdic/ezcorean_6000.sql";
pub const FREEDICT_INDEX: &str = "freedict-swh-eng/freedict-swh-eng.index";
pub const FREEDICT_DICT: &str = "freedict-swh-eng/freedict-swh-eng.dict.dz";
pub const CLDR_EN: &str = "cldr-annotations/en.xml";
pub const CLDR_KO: &str = "cldr-annotations/ko.xml";
pub const CLDR_SW: &str = "cldr-annotations/sw.xml";

const WHAT_TO_DO: &str = "run `cargo xtask setup` (it fetches and checks the word lists), \
or point LEXALIGN_LEXICONS (or --lexicon-dir) at a folder holding kengdic/, freedict-swh-eng/ \
and cldr-annotations/ as described in ../shared/lexicons/README.md";

/// A word list: pairs in file order (each pair once), with counts for provenance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lexicon {
    pub pairs: Vec<Pair>,
    pub stats: LexiconStats,
}

impl Lexicon {
    /// Every source word with all its gold translations (a retrieval evaluation accepts any).
    pub fn gold(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        gold(&self.pairs)
    }
}

/// Source word -> all its targets, for any pair list.
pub fn gold(pairs: &[Pair]) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut m: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in pairs {
        m.entry(&p.source).or_default().insert(&p.target);
    }
    m
}

/// What a reader read and kept, for `provenance.json` and the logs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LexiconStats {
    /// e.g. `kengdic ko-en`.
    pub name: String,
    /// The files read with their (checked) SHA-256.
    pub files: Vec<FileSum>,
    /// Pairs kept (each distinct pair once).
    pub pairs: usize,
    /// Distinct source words and target words among them.
    pub sources: usize,
    pub targets: usize,
    /// Distinct source words per level (kengdic A-D; empty for the others).
    pub levels: BTreeMap<String, usize>,
    /// Reader-specific counts: records read and records skipped, by reason.
    pub counts: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub path: String,
    pub sha256: String,
}

impl LexiconStats {
    fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    fn add(&mut self, key: &str, n: usize) {
        *self.counts.entry(key.into()).or_default() += n;
    }

    /// Fill in the pair counts and log a one-line summary.
    fn finish(mut self, pairs: Vec<Pair>) -> Lexicon {
        self.pairs = pairs.len();
        self.sources = pairs
            .iter()
            .map(|p| &p.source)
            .collect::<BTreeSet<_>>()
            .len();
        self.targets = pairs
            .iter()
            .map(|p| &p.target)
            .collect::<BTreeSet<_>>()
            .len();
        log::info!(
            "{}: {} pairs, {} source words, {} target words{}; {:?}",
            self.name,
            self.pairs,
            self.sources,
            self.targets,
            if self.levels.is_empty() {
                String::new()
            } else {
                format!(", levels {:?}", self.levels)
            },
            self.counts
        );
        Lexicon { pairs, stats: self }
    }
}

/// One English word as kengdic and FreeDict glosses are kept: ASCII letters only, after trimming
/// and dropping one leading `to`/`a`/`an`/`the`; returned lower-cased.
pub(crate) fn one_english_word(gloss: &str) -> Option<String> {
    let lower = gloss.trim().to_lowercase();
    let mut words: Vec<&str> = lower.split_whitespace().collect();
    if words.len() > 1 && matches!(words[0], "to" | "a" | "an" | "the") {
        words.remove(0);
    }
    match words.as_slice() {
        [w] if w.bytes().all(|b| b.is_ascii_alphabetic()) => Some(w.to_string()),
        _ => None,
    }
}

/// The lexicon folder (holding `kengdic/`, `freedict-swh-eng/`, `cldr-annotations/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexicons {
    root: PathBuf,
}

impl Lexicons {
    /// Find the folder: `explicit` (`--lexicon-dir`), else `$LEXALIGN_LEXICONS`, else
    /// `../shared/lexicons` from the current folder or from the repository, else
    /// `<cache>/lexicons` (filled by `cargo xtask setup`). Same rule as [`crate::PaperData::locate`].
    pub fn locate(explicit: Option<&Path>) -> Result<Self> {
        let root = locate::locate_dir(explicit, &search())?;
        Ok(Self { root })
    }

    /// Use `root` as is.
    pub fn at(root: impl AsRef<Path>) -> Result<Self> {
        Ok(Self {
            root: locate::existing(root.as_ref(), &search())?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of a file given relative to the folder (e.g. [`KENGDIC_SQL`]).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Check every file listed in the committed sums.
    pub fn verify(&self) -> Result<()> {
        self.verify_files(LEXICON_SUMS, SUMS_NAME, None).map(|_| ())
    }

    /// Check `only` (or every listed file) against `sums` (`sha256sum` text, `origin` names it).
    /// All problems are reported together, each naming the file and both sums.
    pub fn verify_files(
        &self,
        sums: &str,
        origin: &str,
        only: Option<&[&str]>,
    ) -> Result<Vec<FileSum>> {
        let sums = parse_sums(sums, origin)?;
        let note = " (see ../shared/lexicons/README.md for the publisher's file)";
        let problems = locate::sum_problems(&self.root, &sums, origin, only, note)?;
        if !problems.is_empty() {
            bail!(
                "the word lists in {} do not match the committed sums: {}. Restore the original files \
                 (delete the changed ones and {WHAT_TO_DO})",
                self.root.display(),
                problems.join("; ")
            );
        }
        Ok(sums
            .into_iter()
            .filter(|(rel, _)| only.is_none_or(|o| o.contains(&rel.as_str())))
            .map(|(rel, sha256)| FileSum {
                path: self.path(&rel).display().to_string(),
                sha256,
            })
            .collect())
    }

    fn checked(&self, files: &[&str], mut lex: Lexicon) -> Result<Lexicon> {
        lex.stats.files = self.verify_files(LEXICON_SUMS, SUMS_NAME, Some(files))?;
        Ok(lex)
    }

    /// kengdic's ezcorean_6000 (Korean -> English), checked first; see [`kengdic`] for the rules.
    pub fn kengdic(&self) -> Result<Lexicon> {
        self.verify_files(LEXICON_SUMS, SUMS_NAME, Some(&[KENGDIC_SQL]))?;
        let lex = kengdic::read(self.path(KENGDIC_SQL))?;
        self.checked(&[KENGDIC_SQL], lex)
    }

    /// FreeDict swh-eng (Swahili -> English), checked first; see [`freedict`] for the rules.
    pub fn freedict_swh_eng(&self) -> Result<Lexicon> {
        let files = [FREEDICT_INDEX, FREEDICT_DICT];
        self.verify_files(LEXICON_SUMS, SUMS_NAME, Some(&files))?;
        let lex = freedict::read(self.path(FREEDICT_INDEX), self.path(FREEDICT_DICT))?;
        self.checked(&files, lex)
    }

    /// CLDR emoji names, Korean -> English, checked first; see [`cldr`] for the rules.
    pub fn cldr_ko_en(&self) -> Result<Lexicon> {
        let files = [CLDR_KO, CLDR_EN];
        self.verify_files(LEXICON_SUMS, SUMS_NAME, Some(&files))?;
        let lex = cldr::read(self.path(CLDR_KO), self.path(CLDR_EN))?;
        self.checked(&files, lex)
    }

    /// CLDR emoji names, Swahili -> English, checked first; see [`cldr`] for the rules.
    pub fn cldr_sw_en(&self) -> Result<Lexicon> {
        let files = [CLDR_SW, CLDR_EN];
        self.verify_files(LEXICON_SUMS, SUMS_NAME, Some(&files))?;
        let lex = cldr::read(self.path(CLDR_SW), self.path(CLDR_EN))?;
        self.checked(&files, lex)
    }
}

fn search() -> locate::Search<'static> {
    locate::Search {
        what: "the bilingual word lists (the lexicon folder)",
        env: ENV_LEXICONS,
        shared: &["lexicons"],
        cache: &["lexicons"],
        what_to_do: WHAT_TO_DO,
    }
}

/// Read a whole file as UTF-8 (BOM dropped), naming the file and line of a bad byte.
pub(crate) fn read_utf8(path: &Path) -> Result<String> {
    use anyhow::Context;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    utf8(bytes, &path.display().to_string())
}

pub(crate) fn utf8(bytes: Vec<u8>, origin: &str) -> Result<String> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(match s.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => s,
        }),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            bail!("{origin}: line {line}: not UTF-8 (byte {at}); restore the original file")
        }
    }
}

#[cfg(test)]
mod tests;
