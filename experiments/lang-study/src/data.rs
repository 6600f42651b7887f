//! The study's pair sets, one rule for every stage (scan, train, eval), so that the pairs a
//! model was trained on are exactly the pairs the evaluation calls "trained".
//!
//! - `ko-en`: kengdic, one seeded string-disjoint split ([`split_disjoint`]) into
//!   [`TEST_PAIRS`] held-out test pairs and every other pair as training pairs.
//! - `sw-en`: the paper's 623 training pairs (as the authors' script read them, duplicates kept)
//!   and its 63 control pairs; FreeDict swh-eng pairs sharing no string with either, of which a
//!   seeded string-disjoint sample of [`TEST_PAIRS`] is the held-out test set.
//! - `independent`: the CLDR emoji-name pairs of the language, less those sharing a source or
//!   a target string with the training pairs (so no independent pair was trained on).
//! - `dev`: a seeded string-disjoint [`DEV_FRACTION`] of the training pairs ([`DEV_SEED`]), and
//!   `fit`, the other training pairs. TLI still trains on every training pair; the baselines
//!   choose their settings (ridge's λ, the layer) with maps fitted on `fit` and scored on `dev`,
//!   never on held-out pairs, then refit on every training pair.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use lexalign_data::{overlap, split_disjoint, Lexicon, LexiconStats, Lexicons, Pair, PaperData};
use serde::Serialize;
use std::collections::BTreeSet;

/// Seed of every split of the study (the number).
pub const SPLIT_SEED: u64 = 12;
/// Held-out test pairs per language pair.
pub const TEST_PAIRS: usize = 600;
/// Share of the training pairs in the development split (rounded).
pub const DEV_FRACTION: f64 = 0.12;
/// Seed of the development split (issue 26's number).
pub const DEV_SEED: u64 = 26;

/// `--pair ko-en|sw-en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
pub enum LangPair {
    #[value(name = "ko-en")]
    #[serde(rename = "ko-en")]
    KoEn,
    #[value(name = "sw-en")]
    #[serde(rename = "sw-en")]
    SwEn,
}

impl LangPair {
    /// `ko-en` / `sw-en`.
    pub fn name(self) -> &'static str {
        match self {
            LangPair::KoEn => "ko-en",
            LangPair::SwEn => "sw-en",
        }
    }
}

impl std::fmt::Display for LangPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The study's pair sets for one language pair, with what is needed to record them.
#[derive(Debug, Clone, Serialize)]
pub struct StudyPairs {
    pub pair: LangPair,
    /// Training pairs (input order; sw-en keeps the paper file's duplicates, as the authors did).
    pub train: Vec<Pair>,
    /// Held-out pairs: no source or target string shared with `train` (nor with `control`).
    pub test: Vec<Pair>,
    /// CLDR pairs sharing no string with `train`.
    pub independent: Vec<Pair>,
    /// The paper's 63 control pairs (sw-en); empty for ko-en.
    pub control: Vec<Pair>,
    /// A string-disjoint part of `train` for choosing the baselines' settings.
    pub dev: Vec<Pair>,
    /// `train` less `dev` (the baselines' fit pairs while choosing on `dev`).
    pub fit: Vec<Pair>,
    /// Seed of the test split.
    pub seed: u64,
    /// How the split came out (`Split::describe`), for logs and summaries.
    pub split: String,
    /// CLDR pairs left out of `independent` because they share a string with `train`.
    pub independent_dropped: usize,
    /// The lexicons read (name, files with their SHA-256, counts).
    pub lexicons: Vec<LexiconStats>,
    /// Every input file (lexicon and paper files), for `Provenance::data_file`.
    pub files: Vec<PathBuf>,
}

impl StudyPairs {
    /// `ko-en: train N, test N, independent N (M dropped), control N; <split>`.
    pub fn describe(&self) -> String {
        format!(
            "{}: train {}, test {}, independent {} ({} CLDR pairs sharing a string with train dropped), control {}; split {}",
            self.pair,
            self.train.len(),
            self.test.len(),
            self.independent.len(),
            self.independent_dropped,
            self.control.len(),
            self.split
        )
    }

    /// Sizes and seed as a JSON object (for summary.json / provenance).
    pub fn sizes(&self) -> serde_json::Value {
        serde_json::json!({
            "pair": self.pair,
            "seed": self.seed,
            "train": self.train.len(),
            "test": self.test.len(),
            "independent": self.independent.len(),
            "independent_dropped": self.independent_dropped,
            "control": self.control.len(),
            "dev": self.dev.len(),
            "dev_seed": DEV_SEED,
            "split": self.split,
        })
    }
}

/// The study's pairs, with the lexicons and the paper's data located as lexalign-data locates
/// them (`$LEXALIGN_LEXICONS`, `$LEXALIGN_PAPER_DATA`, `../shared/...`, the setup cache).
#[allow(dead_code)] // the entry point of scan and eval
pub fn study_pairs(pair: LangPair) -> Result<StudyPairs> {
    study_pairs_in(pair, None, None)
}

/// [`study_pairs`] with explicit folders (`--lexicon-dir`, `--paper-data`; `None`: located).
pub fn study_pairs_in(
    pair: LangPair,
    lexicon_dir: Option<&Path>,
    paper_data: Option<&Path>,
) -> Result<StudyPairs> {
    let lex = Lexicons::locate(lexicon_dir)?;
    match pair {
        LangPair::KoEn => {
            let kengdic = lex.kengdic()?;
            let cldr = lex.cldr_ko_en()?;
            ko_en(kengdic, cldr)
        }
        LangPair::SwEn => {
            let paper = PaperData::locate(paper_data)?;
            paper.verify()?;
            let train = paper.training_pairs()?.pairs;
            let control = paper.control_pairs()?.pairs;
            let files = vec![
                paper.path(lexalign_data::TRAINING_PAIRS),
                paper.path(lexalign_data::CONTROL_PAIRS),
            ];
            sw_en(
                train,
                control,
                files,
                lex.freedict_swh_eng()?,
                lex.cldr_sw_en()?,
            )
        }
    }
}

/// ko-en from the two lexicons already read.
pub fn ko_en(kengdic: Lexicon, cldr: Lexicon) -> Result<StudyPairs> {
    let split = split_disjoint(&kengdic.pairs, None, TEST_PAIRS, SPLIT_SEED)
        .context("splitting kengdic into the study's train/test pairs")?;
    check_disjoint(&split.train, &split.test, "kengdic train", "kengdic test")?;
    let (independent, dropped) = without_strings_of(&cldr.pairs, &[&split.train]);
    let (fit, dev) = dev_split(&split.train)?;
    Ok(StudyPairs {
        pair: LangPair::KoEn,
        split: split.describe(),
        dev,
        fit,
        train: split.train,
        test: split.test,
        independent,
        control: Vec::new(),
        seed: SPLIT_SEED,
        independent_dropped: dropped,
        files: files_of(&[&kengdic.stats, &cldr.stats]),
        lexicons: vec![kengdic.stats, cldr.stats],
    })
}

/// sw-en from the paper's pairs and the two lexicons already read.
pub fn sw_en(
    train: Vec<Pair>,
    control: Vec<Pair>,
    paper_files: Vec<PathBuf>,
    freedict: Lexicon,
    cldr: Lexicon,
) -> Result<StudyPairs> {
    // FreeDict pairs that share no string with the paper's pairs, then a sample of them.
    let (candidates, _) = without_strings_of(&freedict.pairs, &[&train, &control]);
    let split = split_disjoint(&candidates, Some(0), TEST_PAIRS, SPLIT_SEED)
        .context("sampling the FreeDict held-out pairs")?;
    check_disjoint(&train, &split.test, "paper training pairs", "FreeDict test")?;
    check_disjoint(
        &control,
        &split.test,
        "paper control pairs",
        "FreeDict test",
    )?;
    let (independent, dropped) = without_strings_of(&cldr.pairs, &[&train]);
    let mut files = paper_files;
    files.extend(files_of(&[&freedict.stats, &cldr.stats]));
    let (fit, dev) = dev_split(&train)?;
    Ok(StudyPairs {
        pair: LangPair::SwEn,
        dev,
        fit,
        split: split.describe(),
        train,
        test: split.test,
        independent,
        control,
        seed: SPLIT_SEED,
        independent_dropped: dropped,
        files,
        lexicons: vec![freedict.stats, cldr.stats],
    })
}

/// The training pairs as (fit, dev): [`DEV_FRACTION`] of them, whole string-connected groups at a
/// time, so that no dev word is a fit word. Fewer than two dev pairs: no dev split (the
/// baselines then refuse to run).
pub fn dev_split(train: &[Pair]) -> Result<(Vec<Pair>, Vec<Pair>)> {
    let n_dev = ((train.len() as f64) * DEV_FRACTION).round() as usize;
    if n_dev < 2 {
        return Ok((train.to_vec(), Vec::new()));
    }
    let split = split_disjoint(train, None, n_dev, DEV_SEED)
        .context("carving the development split from the training pairs")?;
    check_disjoint(&split.train, &split.test, "fit pairs", "dev pairs")?;
    Ok((split.train, split.test))
}

/// Writes the pair sets as `source<TAB>target` files into `dir`: `train.tsv` (every training
/// pair, as TLI trains on them), `dev.tsv` (the part of them the baselines choose on),
/// `held_out.tsv`, `cldr.tsv`, and `control.tsv` where there are control pairs.
pub fn write_splits(dir: &Path, s: &StudyPairs) -> Result<()> {
    crate::splits::write_sets(dir, s, false).map(|_| ())
}

/// `pairs` less those sharing a source or target string with any of `with`; and how many went.
fn without_strings_of(pairs: &[Pair], with: &[&[Pair]]) -> (Vec<Pair>, usize) {
    let sources: BTreeSet<&str> = with
        .iter()
        .flat_map(|w| w.iter().map(|p| p.source.as_str()))
        .collect();
    let targets: BTreeSet<&str> = with
        .iter()
        .flat_map(|w| w.iter().map(|p| p.target.as_str()))
        .collect();
    let kept: Vec<Pair> = pairs
        .iter()
        .filter(|p| !sources.contains(p.source.as_str()) && !targets.contains(p.target.as_str()))
        .cloned()
        .collect();
    let dropped = pairs.len() - kept.len();
    (kept, dropped)
}

fn check_disjoint(a: &[Pair], b: &[Pair], an: &str, bn: &str) -> Result<()> {
    let o = overlap(a, b);
    ensure!(
        o.is_empty(),
        "{an} and {bn} share {} strings (e.g. {:?}): the split is broken, report it",
        o.strings(),
        o.sources
            .iter()
            .chain(&o.targets)
            .take(3)
            .collect::<Vec<_>>()
    );
    Ok(())
}

fn files_of(stats: &[&LexiconStats]) -> Vec<PathBuf> {
    stats
        .iter()
        .flat_map(|s| s.files.iter().map(|f| PathBuf::from(&f.path)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(name: &str, v: &[(&str, &str)]) -> Lexicon {
        let pairs: Vec<Pair> = v.iter().map(|(s, t)| Pair::new(*s, *t)).collect();
        Lexicon {
            stats: LexiconStats {
                name: name.into(),
                pairs: pairs.len(),
                ..Default::default()
            },
            pairs,
        }
    }

    #[test]
    fn dev_split_is_string_disjoint_and_written_as_tsv() {
        let train: Vec<Pair> = (0..100)
            .map(|i| Pair::new(format!("s{}", i % 90), format!("t{i}")))
            .collect();
        let (fit, dev) = dev_split(&train).unwrap();
        assert_eq!(dev.len(), 12);
        assert_eq!(fit.len() + dev.len(), train.len());
        assert!(overlap(&fit, &dev).is_empty());
        assert_eq!(dev_split(&train).unwrap().1, dev, "seeded");
        assert!(dev_split(&train[..5]).unwrap().1.is_empty());
        let text = String::from_utf8(crate::splits::tsv_bytes(&dev).unwrap()).unwrap();
        assert!(text.starts_with("source\ttarget\n"));
        assert_eq!(text.lines().count(), 13);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dev.tsv"), &text).unwrap();
        let back = lexalign_data::read_pairs(dir.path().join("dev.tsv"))
            .unwrap()
            .pairs;
        assert_eq!(
            back.iter()
                .map(|p| (&p.source, &p.target))
                .collect::<Vec<_>>(),
            dev.iter()
                .map(|p| (&p.source, &p.target))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn cldr_pairs_sharing_a_training_string_are_dropped() {
        let train = [Pair::new("a", "x")];
        let cldr = [
            Pair::new("a", "y"),
            Pair::new("b", "x"),
            Pair::new("c", "z"),
        ];
        let (kept, dropped) = without_strings_of(&cldr, &[&train]);
        assert_eq!(kept, vec![Pair::new("c", "z")]);
        assert_eq!(dropped, 2);
    }

    #[test]
    fn sw_en_test_shares_nothing_with_train_or_control() {
        let words: Vec<(String, String)> = (0..700)
            .map(|i| (format!("s{i}"), format!("t{i}")))
            .collect();
        let mut fd: Vec<(&str, &str)> = words
            .iter()
            .map(|(s, t)| (s.as_str(), t.as_str()))
            .collect();
        fd.push(("mbwa", "dog"));
        fd.push(("paka", "hound"));
        let train = vec![Pair::new("mbwa", "dog"), Pair::new("simba", "lion")];
        let control = vec![Pair::new("paka", "cat")];
        let s = sw_en(
            train,
            control,
            vec![],
            lexicon("freedict", &fd),
            lexicon("cldr", &[("simba", "lion"), ("kuku", "hen")]),
        )
        .unwrap();
        assert_eq!(s.test.len(), TEST_PAIRS);
        assert!(s
            .test
            .iter()
            .all(|p| p.source.starts_with('s') && p.target.starts_with('t')));
        assert_eq!(s.independent, vec![Pair::new("kuku", "hen")]);
        assert_eq!(s.independent_dropped, 1);
    }
}
