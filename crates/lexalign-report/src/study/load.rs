//! Reading the study's stage folders (docs/CONVENTIONS.md, "Run-folder file formats"). A stage
//! that is absent is recorded as missing (the report then says how to run it); a stage that is
//! present but malformed is an error naming the file.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::run::LossRow;
pub use lexalign_data::study_rows::{
    BaselineRow, BaselineTestRow, ChangeRow, CkaChangeRow, CkaRow, LayerXsimRow, XsimChangeRow,
    XsimRow,
};
pub use lexalign_metrics::LayerMetrics;

/// The pooling the evaluation and `--target-layer best` use.
pub const EVAL_POOLING: &str = "mean-content";
/// The pilot's pooling (BOS included).
pub const PILOT_POOLING: &str = "mean";

pub use super::pair::LangPair;

/// One row of a study scan's `layers.csv`: the layer, its pooling and every numeric column.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRow {
    pub layer: usize,
    pub pooling: String,
    pub cols: BTreeMap<String, f64>,
}

impl ScanRow {
    /// A numeric column (NaN when absent, so a missing column shows as NaN, never as a number).
    pub fn get(&self, col: &str) -> f64 {
        self.cols.get(col).copied().unwrap_or(f64::NAN)
    }
}

/// A scan (`koen-scan/` or its `negative-control/`).
#[derive(Debug, Clone)]
pub struct Scan {
    pub summary: serde_json::Value,
    pub rows: Vec<ScanRow>,
}

impl Scan {
    /// Rows of one pooling, by layer (rows without a pooling column count as `mean`).
    pub fn pooling(&self, pooling: &str) -> Vec<&ScanRow> {
        let mut v: Vec<&ScanRow> = self.rows.iter().filter(|r| r.pooling == pooling).collect();
        v.sort_by_key(|r| r.layer);
        v
    }
    /// The layer with the highest centred CSLS P@1 (mean-content rows; hidden state 0 excluded,
    /// ties: the lowest layer), the rule of `lang-study train --target-layer best`.
    pub fn best(&self) -> Option<&ScanRow> {
        let rows = self.pooling(EVAL_POOLING);
        let rows = if rows.is_empty() {
            self.pooling(PILOT_POOLING)
        } else {
            rows
        };
        rows.into_iter()
            .filter(|r| r.layer >= 1 && r.get("centered_p1_csls").is_finite())
            .fold(None::<&ScanRow>, |b, r| match b {
                Some(b) if b.get("centered_p1_csls") >= r.get("centered_p1_csls") => Some(b),
                _ => Some(r),
            })
    }
    pub fn row(&self, pooling: &str, layer: usize) -> Option<&ScanRow> {
        self.rows
            .iter()
            .find(|r| r.pooling == pooling && r.layer == layer)
    }
    pub fn model(&self) -> String {
        str_field(&self.summary, "model").unwrap_or_else(|| "an unnamed model".into())
    }
}

/// The scan stage: the multilingual model, the English-only control, and split sizes.
#[derive(Debug, Clone)]
pub struct ScanStage {
    pub main: Scan,
    pub control: Option<Scan>,
    pub sizes: serde_json::Value,
    /// An optional LASER-2 measurement of the same pairs (`<scan>/laser/laser_scan.json`).
    pub laser: Option<serde_json::Value>,
    /// Linear CKA of the main model's hidden states against LASER-2 (`<scan>/cka.csv`, optional).
    pub cka: Option<Vec<CkaRow>>,
    /// The frozen model's baselines (`<scan>/baselines.csv`, optional).
    pub baselines: Option<Vec<BaselineRow>>,
    /// multilingual-e5-small as the reference encoder (`<scan>/e5/`, `sentence_xsim.csv`,
    /// `cka_e5.csv`; absent with `--no-e5`).
    pub e5: E5Scan,
}

/// The scan's multilingual-e5-small rows; each file is optional.
#[derive(Debug, Clone, Default)]
pub struct E5Scan {
    /// The encoder's own sentence xSIM, both directions per corpus (`e5/xsim.csv`).
    pub xsim: Option<Vec<XsimRow>>,
    /// The held-out word pairs in e5 space (`e5/words.csv`, one row).
    pub words: Option<LayerMetrics>,
    /// Every hidden state's sentence xSIM (`sentence_xsim.csv`).
    pub sentence_xsim: Option<Vec<LayerXsimRow>>,
    /// Linear CKA of every hidden state against e5 (`cka_e5.csv`).
    pub cka: Option<Vec<CkaRow>>,
}

impl E5Scan {
    fn read(sd: &Path) -> Result<Self> {
        let words: Option<Vec<LayerMetrics>> = read_csv_opt(&sd.join("e5").join("words.csv"))?;
        Ok(Self {
            xsim: read_csv_opt(&sd.join("e5").join("xsim.csv"))?,
            words: words.and_then(|w| w.into_iter().next()),
            sentence_xsim: read_csv_opt(&sd.join("sentence_xsim.csv"))?,
            cka: read_csv_opt(&sd.join("cka_e5.csv"))?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct TrainStage {
    pub stage: String,
    pub summary: serde_json::Value,
    pub loss: Vec<LossRow>,
}

impl TrainStage {
    pub fn target_layer(&self) -> Option<usize> {
        self.summary
            .get("target_layer")
            .and_then(|v| v.as_u64())
            .map(|v| v as usize)
    }
}

/// One row of `gain_tests.csv`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GainRow {
    pub layer: usize,
    pub versus: String,
    pub trained_gain: f64,
    pub other_gain: f64,
    pub welch_t: Option<f64>,
    pub welch_p: Option<f64>,
}

/// `<eval>/<adapter label>/`.
#[derive(Debug, Clone)]
pub struct AdapterEval {
    pub label: String,
    pub summary: serde_json::Value,
    pub changes: Vec<ChangeRow>,
    pub gains: Vec<GainRow>,
    /// CKA against LASER-2 before/after (`<eval>/<label>/cka.csv`, optional).
    pub cka: Option<Vec<CkaChangeRow>>,
    /// TLI and TLI + Procrustes rows (`<eval>/<label>/baselines.csv`, optional).
    pub baselines: Option<Vec<BaselineRow>>,
    /// Their paired comparisons with the frozen Procrustes map (`baseline_tests.csv`, optional).
    pub baseline_tests: Option<Vec<BaselineTestRow>>,
    /// CKA against multilingual-e5-small before/after (`<eval>/<label>/cka_e5.csv`, optional).
    pub e5_cka: Option<Vec<CkaChangeRow>>,
    /// Every hidden state's sentence xSIM before/after (`<eval>/<label>/sentence_xsim.csv`).
    pub sentence_xsim: Option<Vec<XsimChangeRow>>,
}

impl AdapterEval {
    pub fn change(&self, set: &str, layer: usize) -> Option<&ChangeRow> {
        self.changes
            .iter()
            .find(|c| c.set == set && c.layer == layer)
    }
    pub fn cka(&self, set: &str, side: &str, layer: usize) -> Option<&CkaChangeRow> {
        self.cka
            .as_ref()?
            .iter()
            .find(|c| c.set == set && c.side == side && c.layer == layer)
    }
    pub fn gain(&self, versus: &str, layer: usize) -> Option<&GainRow> {
        self.gains
            .iter()
            .find(|g| g.versus == versus && g.layer == layer)
    }
    pub fn layers(&self) -> Vec<usize> {
        let mut l: Vec<usize> = self.changes.iter().map(|c| c.layer).collect();
        l.sort();
        l.dedup();
        l
    }
}

/// One adapter of the study: its training and its evaluation, either possibly missing.
#[derive(Debug, Clone)]
pub struct Adapter {
    pub stage: String,
    /// Short key in the value keys (`l2`, `best`).
    pub key: String,
    pub train: Option<TrainStage>,
    pub eval: Option<AdapterEval>,
}

impl Adapter {
    pub fn target_layer(&self) -> Option<usize> {
        self.train.as_ref().and_then(|t| t.target_layer())
    }
}

/// Everything of one language pair that ran.
#[derive(Debug, Clone)]
pub struct PairStudy {
    pub pair: LangPair,
    pub scan: Option<ScanStage>,
    pub adapters: Vec<Adapter>,
    /// The open-pool stage (`<koen|swen>-open-pool/`, issue 31), when it ran.
    pub open_pool: Option<super::open_pool::OpenPool>,
    /// Stage folders (or adapter evaluations, `<eval>/<label>`) that are not in the run.
    pub missing: Vec<String>,
    /// The training arms with seeds (issue 26; ko-en), as far as they ran.
    pub arms: Option<super::arms::Arms>,
    /// `lang-study behaviour` (issue 27), when in the run.
    pub behaviour: Option<super::behaviour::Behaviour>,
}

pub(crate) fn str_field(v: &serde_json::Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| x.as_str()).map(str::to_string)
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

fn read_json_or_null(path: &Path) -> Result<serde_json::Value> {
    if path.is_file() {
        read_json(path)
    } else {
        Ok(serde_json::Value::Null)
    }
}

/// An optional CSV: `None` when the file is absent, an error naming it when it is malformed.
fn read_csv_opt<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<Vec<T>>> {
    if !path.is_file() {
        return Ok(None);
    }
    let rows: Vec<T> = read_csv(path)?;
    Ok(Some(rows))
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

/// `layers.csv` read by its header: `layer`, `pooling` (default `mean`) and every other column
/// as a number (an empty cell is NaN).
pub fn read_layers(path: &Path) -> Result<Vec<ScanRow>> {
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("cannot open {}", path.display()))?;
    let headers = rdr
        .headers()
        .with_context(|| format!("{}: no header line", path.display()))?
        .clone();
    let Some(li) = headers.iter().position(|h| h.trim() == "layer") else {
        bail!(
            "{}: no `layer` column (header: {headers:?})",
            path.display()
        );
    };
    let pi = headers.iter().position(|h| h.trim() == "pooling");
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec =
            rec.with_context(|| format!("{}: line {line} is not valid CSV", path.display()))?;
        let layer: usize = rec.get(li).unwrap_or("").trim().parse().with_context(|| {
            format!(
                "{}: line {line}: `layer` is not a hidden-state index",
                path.display()
            )
        })?;
        let pooling = pi
            .and_then(|p| rec.get(p))
            .map(|p| p.trim().replace('_', "-"))
            .unwrap_or_else(|| PILOT_POOLING.into());
        let mut cols = BTreeMap::new();
        for (j, h) in headers.iter().enumerate() {
            if j == li || Some(j) == pi {
                continue;
            }
            let cell = rec.get(j).unwrap_or("").trim();
            let v = if cell.is_empty() {
                f64::NAN
            } else {
                cell.parse().with_context(|| {
                    format!(
                        "{}: line {line}: `{h}` = `{cell}` is not a number",
                        path.display()
                    )
                })?
            };
            cols.insert(h.trim().to_string(), v);
        }
        rows.push(ScanRow {
            layer,
            pooling,
            cols,
        });
    }
    if rows.is_empty() {
        bail!("{}: no rows", path.display());
    }
    Ok(rows)
}

fn read_scan(dir: &Path) -> Result<Scan> {
    Ok(Scan {
        summary: read_json_or_null(&dir.join("summary.json"))?,
        rows: read_layers(&dir.join("layers.csv"))?,
    })
}

impl PairStudy {
    pub fn load(run: &Path, pair: LangPair) -> Result<Self> {
        Self::load_stages(
            run,
            pair,
            pair.scan_stage(),
            pair.eval_stage(),
            pair.train_stages(),
        )
    }

    /// [`Self::load`] from stage folders of other names (the second model's, `super::qwen`).
    pub fn load_stages(
        run: &Path,
        pair: LangPair,
        scan_stage: &str,
        eval_stage: &str,
        train_stages: &[(&str, &str)],
    ) -> Result<Self> {
        let mut missing = Vec::new();
        let sd = run.join(scan_stage);
        let scan = if sd.join("layers.csv").is_file() {
            let nc = sd.join("negative-control");
            let laser = sd.join("laser").join("laser_scan.json");
            Some(ScanStage {
                main: read_scan(&sd)?,
                control: if nc.join("layers.csv").is_file() {
                    Some(read_scan(&nc)?)
                } else {
                    None
                },
                sizes: read_json_or_null(&sd.join("pairs-sizes.json"))?,
                laser: if laser.is_file() {
                    Some(read_json(&laser)?)
                } else {
                    None
                },
                cka: read_csv_opt(&sd.join("cka.csv"))?,
                baselines: read_csv_opt(&sd.join("baselines.csv"))?,
                e5: E5Scan::read(&sd)?,
            })
        } else {
            missing.push(scan_stage.to_string());
            None
        };
        let ed = run.join(eval_stage);
        let mut adapters = Vec::new();
        for (stage, key) in train_stages {
            let td = run.join(stage);
            // A training is complete when it wrote its summary (written last, with the adapter).
            let train = if td.join("summary.json").is_file() && td.join("loss.csv").is_file() {
                Some(TrainStage {
                    stage: stage.to_string(),
                    summary: read_json(&td.join("summary.json"))?,
                    loss: read_csv(&td.join("loss.csv"))?,
                })
            } else {
                missing.push(stage.to_string());
                None
            };
            let ad = ed.join(stage);
            let eval = if ad.join("changes.csv").is_file() {
                let gains = if ad.join("gain_tests.csv").is_file() {
                    read_csv(&ad.join("gain_tests.csv"))?
                } else {
                    Vec::new()
                };
                Some(AdapterEval {
                    label: stage.to_string(),
                    summary: read_json_or_null(&ad.join("summary.json"))?,
                    changes: read_csv(&ad.join("changes.csv"))?,
                    gains,
                    cka: read_csv_opt(&ad.join("cka.csv"))?,
                    baselines: read_csv_opt(&ad.join("baselines.csv"))?,
                    baseline_tests: read_csv_opt(&ad.join("baseline_tests.csv"))?,
                    e5_cka: read_csv_opt(&ad.join("cka_e5.csv"))?,
                    sentence_xsim: read_csv_opt(&ad.join("sentence_xsim.csv"))?,
                })
            } else {
                missing.push(format!("{eval_stage}/{stage}"));
                None
            };
            adapters.push(Adapter {
                stage: stage.to_string(),
                key: key.to_string(),
                train,
                eval,
            });
        }
        let open_pool =
            super::open_pool::OpenPool::read(&run.join(format!("{}-open-pool", pair.key())))?;
        let arms = super::arms::Arms::load(run, pair.key())?;
        let behaviour = super::behaviour::load(run, pair)?;
        Ok(Self {
            pair,
            scan,
            adapters,
            open_pool,
            missing,
            arms,
            behaviour,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.scan.is_none()
            && self
                .adapters
                .iter()
                .all(|a| a.train.is_none() && a.eval.is_none())
    }

    /// Whether any stage wrote linear CKA against LASER-2.
    pub fn has_cka(&self) -> bool {
        self.scan.as_ref().is_some_and(|s| s.cka.is_some())
            || self
                .adapters
                .iter()
                .any(|a| a.eval.as_ref().is_some_and(|e| e.cka.is_some()))
    }

    /// The scan's best layer (None without a scan).
    pub fn best_layer(&self) -> Option<usize> {
        self.scan
            .as_ref()
            .and_then(|s| s.main.best())
            .map(|r| r.layer)
    }

    /// The multilingual model's name, from whichever stage ran.
    pub fn model(&self) -> Option<String> {
        self.scan
            .as_ref()
            .and_then(|s| str_field(&s.main.summary, "model"))
            .or_else(|| {
                self.adapters
                    .iter()
                    .filter_map(|a| a.train.as_ref())
                    .find_map(|t| str_field(&t.summary, "model"))
            })
            .or_else(|| {
                self.adapters
                    .iter()
                    .filter_map(|a| a.eval.as_ref())
                    .find_map(|e| str_field(&e.summary, "model"))
            })
    }

    /// Summaries of every stage that ran, with their stage names (provenance and configuration).
    pub fn summaries(&self) -> Vec<(String, &serde_json::Value)> {
        let mut v = Vec::new();
        if let Some(s) = &self.scan {
            v.push((self.pair.scan_stage().to_string(), &s.main.summary));
            if let Some(c) = &s.control {
                v.push((
                    format!("{}/negative-control", self.pair.scan_stage()),
                    &c.summary,
                ));
            }
        }
        for a in &self.adapters {
            if let Some(t) = &a.train {
                v.push((a.stage.clone(), &t.summary));
            }
            if let Some(e) = &a.eval {
                v.push((
                    format!("{}/{}", self.pair.eval_stage(), e.label),
                    &e.summary,
                ));
            }
        }
        v
    }
}
