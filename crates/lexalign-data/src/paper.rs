//! The paper's released data: the authors' `tli_project/` folder (StanNgugi/tli_project at
//! commit e158b76). Located outside the repo (never copied in) and checked against the SHA-256
//! sums committed in `paper/paper-data.sha256`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::locate;
use crate::pairs::{read_pairs, PairFile};

pub const PAPER_REPO: &str = "StanNgugi/tli_project";
pub const PAPER_COMMIT: &str = "e158b764740d27effd1250b00bbf543690c0fe56";
/// Environment variable naming the `tli_project` folder.
pub const ENV_PAPER_DATA: &str = "LEXALIGN_PAPER_DATA";
/// The committed sums (`sha256sum` format, paths relative to `tli_project/`).
pub const PAPER_SUMS: &str = include_str!("../../../paper/paper-data.sha256");

pub const TRAINING_PAIRS: &str = "data/word_pairs.json";
pub const CONTROL_PAIRS: &str = "data/control_word_pairs.json";
pub const LAYER_ALIGNMENT: &str = "results/pilot_study/layer_alignment_results.csv";
pub const FIGURE_1: &str = "results/pilot_study/layer_alignment_analysis.png";
pub const QUANTITATIVE_RESULTS: &str = "results/evaluation/quantitative_results.csv";
pub const ADAPTER_CONFIG: &str = "results/tli_lora_adapters/final/adapter_config.json";
/// Script 05's output: base and tuned generations for 7 pairs x 6 prompts (a Markdown table).
pub const PROBE_RESULTS: &str = "results/evaluation/qualitative_probe_results.md";
/// Script 04's t-SNE of 25 pairs' layer-2 vectors before TLI (PNG).
pub const TSNE_PRE: &str = "results/evaluation/tsne_embedding_space_PRE_TLI.png";
/// The same after TLI (PNG).
pub const TSNE_POST: &str = "results/evaluation/tsne_embedding_space_POST_TLI.png";
/// Indices into the 623 training pairs that script 04 drew for its t-SNE (`random.seed(42);
/// random.sample(pairs, 25)`; from `tests/fixtures/gen_script_samples.py`, checked against its
/// output by `tests/script_samples.rs`). Script 05's 7 probe pairs are the first 7.
pub const SCRIPT04_SAMPLE: [usize; 25] = [
    114, 25, 281, 250, 228, 142, 104, 558, 89, 604, 432, 32, 30, 95, 223, 238, 517, 616, 27, 574,
    203, 429, 225, 459, 603,
];

/// Every released file, in the order the report lists them.
pub const RELEASED_FILES: [&str; 9] = [
    TRAINING_PAIRS,
    CONTROL_PAIRS,
    LAYER_ALIGNMENT,
    FIGURE_1,
    QUANTITATIVE_RESULTS,
    ADAPTER_CONFIG,
    PROBE_RESULTS,
    TSNE_PRE,
    TSNE_POST,
];

const WHAT_TO_DO: &str = "run `cargo xtask setup` (it fetches and checks the authors' files), \
or point LEXALIGN_PAPER_DATA (or --paper-data) at a `tli_project` folder";

/// The authors' `tli_project` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperData {
    root: PathBuf,
}

impl PaperData {
    /// Find the folder: `explicit`, else `$LEXALIGN_PAPER_DATA`, else `../shared/paper-data/tli_project`
    /// from the current folder or from the repository, else the `cargo xtask setup` download cache
    /// (`<cache>/paper-data/<commit>/tli_project`).
    /// An explicit or env path that does not exist is an error (no silent fallback).
    pub fn locate(explicit: Option<&Path>) -> Result<Self> {
        let root = locate::locate_dir(
            explicit,
            &locate::Search {
                what: "the paper's data (the authors' tli_project folder)",
                env: ENV_PAPER_DATA,
                shared: &["paper-data", "tli_project"],
                cache: &["paper-data", PAPER_COMMIT, "tli_project"],
                what_to_do: WHAT_TO_DO,
            },
        )?;
        Ok(Self { root })
    }

    /// Use `root` (a `tli_project` folder) as is.
    pub fn at(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        if !root.is_dir() {
            bail!("{} is not a folder: {WHAT_TO_DO}", root.display());
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of a file given relative to `tli_project/` (e.g. [`TRAINING_PAIRS`]).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Check every file listed in the committed sums.
    pub fn verify(&self) -> Result<()> {
        self.verify_with(PAPER_SUMS, "paper/paper-data.sha256")
    }

    /// Check every file listed in `sums` (`sha256sum` text; `origin` names it in errors).
    /// All problems are reported together.
    pub fn verify_with(&self, sums: &str, origin: &str) -> Result<()> {
        let sums = parse_sums(sums, origin)?;
        let note = format!(" (the authors' file at commit {})", &PAPER_COMMIT[..7]);
        let problems = locate::sum_problems(&self.root, &sums, origin, None, &note)?;
        if !problems.is_empty() {
            bail!(
                "the paper's data in {} does not match the committed sums: {}. Restore the authors' files \
                 (delete the changed ones and {WHAT_TO_DO})",
                self.root.display(),
                problems.join("; ")
            );
        }
        Ok(())
    }

    /// The 623 training pairs.
    pub fn training_pairs(&self) -> Result<PairFile> {
        read_pairs(self.path(TRAINING_PAIRS))
    }

    /// The 63 control pairs.
    pub fn control_pairs(&self) -> Result<PairFile> {
        read_pairs(self.path(CONTROL_PAIRS))
    }

    /// The authors' pilot scan (layers 0-31).
    pub fn layer_alignment(&self) -> Result<Vec<LayerAlignment>> {
        read_layer_alignment(self.path(LAYER_ALIGNMENT))
    }

    /// The 25 training pairs of script 04's t-SNE, in sampling order ([`SCRIPT04_SAMPLE`]).
    pub fn tsne_pairs(&self) -> Result<Vec<crate::Pair>> {
        let all = self.training_pairs()?;
        SCRIPT04_SAMPLE
            .iter()
            .map(|&i| {
                all.pairs.get(i).cloned().with_context(|| {
                    format!(
                        "{}: no pair {i} (script 04 sampled from 623 pairs)",
                        self.path(TRAINING_PAIRS).display()
                    )
                })
            })
            .collect()
    }

    /// The authors' qualitative probe (script 05): 42 rows, 7 pairs x 6 prompts.
    pub fn probe(&self) -> Result<Vec<crate::probe::ProbeRow>> {
        crate::probe::read_probe(self.path(PROBE_RESULTS))
    }

    /// The authors' per-pair evaluation (686 rows).
    pub fn quantitative(&self) -> Result<Vec<QuantitativeRow>> {
        read_quantitative(self.path(QUANTITATIVE_RESULTS))
    }
}

/// `sha256sum` text parsing lives in lexalign-run (one home for sums); re-exported here so
/// `lexalign_data::parse_sums` keeps working.
pub use lexalign_run::parse_sums;

/// One row of the authors' `layer_alignment_results.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerAlignment {
    pub layer: usize,
    pub avg_cosine_similarity: f64,
}

/// Group of an evaluation row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Group {
    /// One of the 623 pairs the adapter was trained on.
    Trained,
    /// One of the 63 held-out control pairs.
    Control,
}

impl Group {
    /// The name used in the CSV (`trained` / `control`).
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Trained => "trained",
            Group::Control => "control",
        }
    }
}

impl TryFrom<String> for Group {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        match s.as_str() {
            "trained" => Ok(Group::Trained),
            "control" => Ok(Group::Control),
            _ => Err(format!("group must be `trained` or `control`, got {s:?}")),
        }
    }
}

/// One row of the authors' `quantitative_results.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantitativeRow {
    pub swahili: String,
    pub english: String,
    pub sim_pre_tli: f64,
    pub sim_post_tli: f64,
    pub group: Group,
    pub improvement: f64,
}

/// Read `layer,avg_cosine_similarity`.
pub fn read_layer_alignment(path: impl AsRef<Path>) -> Result<Vec<LayerAlignment>> {
    read_csv(path.as_ref(), &["layer", "avg_cosine_similarity"])
}

/// Read `swahili,english,sim_pre_tli,sim_post_tli,group,improvement` (group `trained`/`control`).
pub fn read_quantitative(path: impl AsRef<Path>) -> Result<Vec<QuantitativeRow>> {
    read_csv(
        path.as_ref(),
        &[
            "swahili",
            "english",
            "sim_pre_tli",
            "sim_post_tli",
            "group",
            "improvement",
        ],
    )
}

fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path, columns: &[&str]) -> Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader
        .headers()
        .map_err(|e| {
            anyhow!(
                "{}: line 1: cannot read the header row: {e}",
                path.display()
            )
        })?
        .clone();
    for c in columns {
        if !header.iter().any(|h| h == *c) {
            bail!(
                "{}: line 1: column \"{c}\" is missing (header: {:?}; expected {})",
                path.display(),
                header.iter().collect::<Vec<_>>(),
                columns.join(",")
            );
        }
    }
    let mut out = Vec::new();
    for row in reader.deserialize::<T>() {
        let row = row.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            let reason = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => {
                    match err.field().and_then(|i| header.get(i as usize)) {
                        Some(field) => format!("field \"{field}\": {}", err.kind()),
                        None => err.kind().to_string(),
                    }
                }
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => {
                    format!("has {len} fields but the header has {expected_len}")
                }
                _ => e.to_string(),
            };
            anyhow!("{}: line {line}: {reason}", path.display())
        })?;
        out.push(row);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) -> String {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        lexalign_run::sha256_bytes(text)
    }

    #[test]
    fn committed_sums_list_every_released_file() {
        let sums = parse_sums(PAPER_SUMS, "paper/paper-data.sha256").unwrap();
        for f in RELEASED_FILES {
            assert!(sums.contains_key(f), "{f}");
        }
        assert_eq!(sums.len(), RELEASED_FILES.len());
    }

    #[test]
    fn bad_sums_line_is_refused() {
        let e = format!("{:#}", parse_sums("abc data/x.json\n", "s").unwrap_err());
        assert!(e.contains("s: line 1"), "{e}");
    }

    #[test]
    fn tampered_file_is_refused_with_both_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let good = write(dir.path(), "data/a.json", "[]");
        let other = write(dir.path(), "data/b.json", "[1]");
        let sums = format!("{good}  data/a.json\n{other}  data/b.json\n");
        let pd = PaperData::at(dir.path()).unwrap();
        pd.verify_with(&sums, "sums").unwrap();
        let tampered = write(dir.path(), "data/b.json", "[2]");
        let e = format!("{:#}", pd.verify_with(&sums, "sums").unwrap_err());
        assert!(
            e.contains("b.json") && e.contains(&tampered) && e.contains(&other),
            "{e}"
        );
        assert!(!e.contains("a.json has"), "{e}");
        assert!(e.contains("cargo xtask setup"), "{e}");
        std::fs::remove_file(dir.path().join("data/a.json")).unwrap();
        let e = format!("{:#}", pd.verify_with(&sums, "sums").unwrap_err());
        assert!(e.contains("a.json is missing"), "{e}");
    }

    #[test]
    fn locate_explicit_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            PaperData::locate(Some(dir.path())).unwrap().root(),
            dir.path()
        );
        let e = format!(
            "{:#}",
            PaperData::locate(Some(&dir.path().join("nope"))).unwrap_err()
        );
        assert!(
            e.contains("nope") && e.contains("LEXALIGN_PAPER_DATA"),
            "{e}"
        );
    }

    #[test]
    fn authors_csvs() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            LAYER_ALIGNMENT,
            "layer,avg_cosine_similarity\n0,0.31\n1,0.98\n",
        );
        write(
            dir.path(),
            QUANTITATIVE_RESULTS,
            "swahili,english,sim_pre_tli,sim_post_tli,group,improvement\n-anana,thin,0.24,0.30,trained,0.06\nx,y,0.1,0.1,control,0.0\n",
        );
        let pd = PaperData::at(dir.path()).unwrap();
        let l = pd.layer_alignment().unwrap();
        assert_eq!(
            l[1],
            LayerAlignment {
                layer: 1,
                avg_cosine_similarity: 0.98
            }
        );
        let q = pd.quantitative().unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].group, Group::Trained);
        assert_eq!(q[1].group, Group::Control);

        write(dir.path(), LAYER_ALIGNMENT, "layer,avg_cos\n0,0.31\n");
        let e = format!("{:#}", pd.layer_alignment().unwrap_err());
        assert!(
            e.contains("line 1") && e.contains("avg_cosine_similarity"),
            "{e}"
        );
        write(
            dir.path(),
            LAYER_ALIGNMENT,
            "layer,avg_cosine_similarity\n0,0.31\n1,abc\n",
        );
        let e = format!("{:#}", pd.layer_alignment().unwrap_err());
        assert!(
            e.contains("line 3") && e.contains("avg_cosine_similarity"),
            "{e}"
        );
        write(
            dir.path(),
            QUANTITATIVE_RESULTS,
            "swahili,english,sim_pre_tli,sim_post_tli,group,improvement\na,b,0.1,0.2,held-out,0.1\n",
        );
        let e = format!("{:#}", pd.quantitative().unwrap_err());
        assert!(e.contains("line 2") && e.contains("group"), "{e}");
    }

    /// The real files, where this machine has them (skipped elsewhere).
    #[test]
    fn real_paper_data_if_present() {
        let Ok(pd) = PaperData::locate(None) else {
            eprintln!("paper data not found; skipping");
            return;
        };
        pd.verify().unwrap();
        let t = pd.training_pairs().unwrap();
        assert_eq!(t.len(), 623);
        assert!(t.duplicates.is_empty());
        assert_eq!(pd.control_pairs().unwrap().len(), 63);
        assert_eq!(pd.layer_alignment().unwrap().len(), 32);
        let q = pd.quantitative().unwrap();
        assert_eq!(q.len(), 686);
        assert_eq!(q.iter().filter(|r| r.group == Group::Control).count(), 63);
    }

    /// The real probe table: 7 pairs x 6 templates, the split prompt joined back.
    #[test]
    fn real_probe_table() {
        let Ok(pd) = PaperData::locate(None) else {
            lexalign_run::missing_fixture("paper data not found (set LEXALIGN_PAPER_DATA)");
            return;
        };
        pd.verify().unwrap();
        let rows = pd.probe().unwrap();
        assert_eq!(rows.len(), 42);
        let pairs: std::collections::BTreeSet<(&str, &str)> = rows
            .iter()
            .map(|r| (r.swahili.as_str(), r.english.as_str()))
            .collect();
        assert_eq!(pairs.len(), 7);
        let training = pd.training_pairs().unwrap();
        for (sw, en) in &pairs {
            assert!(
                training
                    .pairs
                    .iter()
                    .any(|p| p.source == *sw && p.target == *en),
                "{sw} / {en}"
            );
        }
        for (name, _) in crate::probe::PROBE_TEMPLATES {
            assert_eq!(
                rows.iter().filter(|r| r.template == name).count(),
                7,
                "{name}"
            );
        }
        let split = rows
            .iter()
            .find(|r| r.swahili == "Jumatatu" && r.prompt.contains('\n'))
            .unwrap();
        assert_eq!(split.prompt, "Swahili: Jumatatu\nEnglish meaning: ");
        assert!(rows
            .iter()
            .all(|r| !r.base.contains("<br>") && !r.tuned.contains("<br>")));
    }
}
