//! Loading a run folder (`runs/<id>/`) in the formats of docs/CONVENTIONS.md.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lexalign_run::Provenance;
use serde::Deserialize;

use crate::values::{eval_values, pilot_values, Values};
use lexalign_published::{read_quantitative, EvalRow, EvalStats, PublishedSummary};

/// Files of the published-data stage (its formats are lexalign-published's).
pub use lexalign_published::{PAIRS_FILE, PUBLISHED_DIR, SUMMARY_FILE};

/// One row of `pilot-scan/layers.csv`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScanLayer {
    pub layer: usize,
    pub n: usize,
    pub pairs_mean: f64,
    pub pairs_sd: f64,
    pub shuffled_mean: f64,
    pub shuffled_sd: f64,
}

/// A model-based pilot scan (`pilot-scan*/`; several folders = several pooling modes).
#[derive(Debug, Clone)]
pub struct PilotScan {
    pub folder: String,
    pub summary: serde_json::Value,
    pub layers: Vec<ScanLayer>,
    pub provenance: Option<Provenance>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LossRow {
    pub step: u64,
    pub epoch: f64,
    pub loss: f64,
    pub lr: f64,
}

#[derive(Debug, Clone)]
pub struct TrainStage {
    pub summary: serde_json::Value,
    pub loss: Vec<LossRow>,
    pub provenance: Option<Provenance>,
}

#[derive(Debug, Clone)]
pub struct EvalStage {
    pub summary: serde_json::Value,
    pub rows: Vec<EvalRow>,
    pub stats: EvalStats,
    pub provenance: Option<Provenance>,
}

/// Everything the report reads from one run.
#[derive(Debug, Clone)]
pub struct RunFolder {
    pub path: PathBuf,
    pub published: PublishedSummary,
    pub published_rows: Vec<EvalRow>,
    pub published_provenance: Option<Provenance>,
    pub pilot_scans: Vec<PilotScan>,
    pub train: Option<TrainStage>,
    pub eval: Option<EvalStage>,
    /// The Korean-English / Swahili-English study stages (any may be missing).
    pub study: crate::study::Study,
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

fn read_provenance(dir: &Path) -> Option<Provenance> {
    let p = dir.join(lexalign_run::PROVENANCE_FILE);
    match Provenance::read(&p) {
        Ok(x) => Some(x),
        Err(e) => {
            log::warn!("{}: {e:#}", p.display());
            None
        }
    }
}

fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("cannot open {}", path.display()))?;
    rdr.deserialize()
        .enumerate()
        .map(|(i, r)| {
            r.with_context(|| format!("{}: bad row at data line {}", path.display(), i + 1))
        })
        .collect()
}

impl RunFolder {
    pub fn load(path: &Path) -> Result<Self> {
        let pd = path.join(PUBLISHED_DIR);
        if !pd.is_dir() {
            bail!(
                "{} has no {PUBLISHED_DIR}/ stage; run `published-data --paper-data <tli_project> --out {}` first",
                path.display(),
                pd.display()
            );
        }
        let text = std::fs::read_to_string(pd.join(SUMMARY_FILE))
            .with_context(|| format!("cannot read {}", pd.join(SUMMARY_FILE).display()))?;
        let published: PublishedSummary = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} does not match the published-data summary format",
                pd.join(SUMMARY_FILE).display()
            )
        })?;
        let published_rows = read_quantitative(pd.join(PAIRS_FILE))?;

        let mut scan_dirs: Vec<String> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("layers.csv").is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.starts_with("pilot-scan"))
            .collect();
        scan_dirs.sort();
        let mut pilot_scans = Vec::new();
        for folder in scan_dirs {
            let dir = path.join(&folder);
            pilot_scans.push(PilotScan {
                summary: read_json(&dir.join(SUMMARY_FILE))?,
                layers: read_csv(&dir.join("layers.csv"))?,
                provenance: read_provenance(&dir),
                folder,
            });
        }

        let td = path.join("tli-train");
        let train = if td.join("loss.csv").is_file() {
            Some(TrainStage {
                summary: if td.join(SUMMARY_FILE).is_file() {
                    read_json(&td.join(SUMMARY_FILE))?
                } else {
                    serde_json::Value::Null
                },
                loss: read_csv(&td.join("loss.csv"))?,
                provenance: read_provenance(&td),
            })
        } else {
            None
        };

        let ed = path.join("tli-eval");
        let eval = if ed.join("quantitative_results.csv").is_file() {
            let rows = read_quantitative(ed.join("quantitative_results.csv"))?;
            let stats = EvalStats::compute(&rows)
                .with_context(|| format!("statistics of {}", ed.display()))?;
            Some(EvalStage {
                summary: read_json(&ed.join(SUMMARY_FILE))?,
                rows,
                stats,
                provenance: read_provenance(&ed),
            })
        } else {
            None
        };

        Ok(Self {
            path: path.to_path_buf(),
            published,
            published_rows,
            published_provenance: read_provenance(&pd),
            pilot_scans,
            train,
            eval,
            study: crate::study::Study::load(path)?,
        })
    }

    /// The pilot scan used for the claims: `pilot-scan/` if present, else the first one.
    pub fn main_scan(&self) -> Option<&PilotScan> {
        self.pilot_scans
            .iter()
            .find(|s| s.folder == "pilot-scan")
            .or(self.pilot_scans.first())
    }

    /// Model name from the model stages' summaries (`model` field), if any ran.
    pub fn model_name(&self) -> Option<String> {
        let mut names = self
            .model_summaries()
            .filter_map(|s| s.get("model").and_then(|m| m.as_str()));
        names.next().map(str::to_string)
    }

    /// Summaries of the model stages that ran.
    fn model_summaries(&self) -> impl Iterator<Item = &serde_json::Value> {
        self.pilot_scans
            .iter()
            .map(|s| &s.summary)
            .chain(self.eval.iter().map(|e| &e.summary))
            .chain(self.train.iter().map(|t| &t.summary))
    }

    /// The model identities the model stages' provenance records (`model_identity`, set by
    /// `LoadedRun::provenance` from the weights' SHA-256, the config + name, or `--model-id`).
    pub fn model_identities(&self) -> Vec<lexalign_run::ModelIdentity> {
        self.pilot_scans
            .iter()
            .map(|s| &s.provenance)
            .chain(self.train.iter().map(|t| &t.provenance))
            .chain(self.eval.iter().map(|e| &e.provenance))
            .flatten()
            .filter_map(|p| p.settings.get("model_identity"))
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect()
    }

    /// True when the model stages ran on the paper's model (Lugha-Llama-8B-wura), decided from
    /// the identities in their provenance, never from a name or the folder: every model stage
    /// records one, all of them the paper's, and no stage flags `demo_model: true`.
    pub fn is_real_model(&self) -> bool {
        let demo = self
            .model_summaries()
            .any(|s| s.get("demo_model").and_then(|d| d.as_bool()) == Some(true));
        let n_stages =
            self.pilot_scans.len() + self.train.is_some() as usize + self.eval.is_some() as usize;
        let ids = self.model_identities();
        !demo && n_stages > 0 && ids.len() == n_stages && ids.iter().all(|i| i.paper_model)
    }

    /// True when a stage says it ran on the embedded demo model (SmolLM2-135M).
    pub fn is_embedded_demo_model(&self) -> bool {
        self.model_summaries()
            .any(|s| s.get("demo_model").and_then(|d| d.as_bool()) == Some(true))
    }

    pub fn has_model_stages(&self) -> bool {
        !self.pilot_scans.is_empty() || self.train.is_some() || self.eval.is_some()
    }

    /// Whether a model stage ran (`pilot-scan` or `tli-eval`).
    pub fn has_stage(&self, stage: &str) -> bool {
        match stage {
            "pilot-scan" => self.main_scan().is_some(),
            "tli-eval" => self.eval.is_some(),
            "tli-train" => self.train.is_some(),
            _ => false,
        }
    }

    /// `pilot.*` and `eval.*` keys measured by the model stages.
    pub fn model_values(&self) -> Values {
        let mut v = Values::new();
        if let Some(s) = self.main_scan() {
            let layers: Vec<(usize, f64)> =
                s.layers.iter().map(|l| (l.layer, l.pairs_mean)).collect();
            pilot_values(&mut v, &layers);
        }
        if let Some(e) = &self.eval {
            eval_values(&mut v, &e.stats);
        }
        v
    }
}
