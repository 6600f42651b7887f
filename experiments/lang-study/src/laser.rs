//! The study's LASER-2 rows (issue 13), when the user has Meta's files (`--laser DIR` or
//! `$LEXALIGN_LASER`): the pairs' alignment in LASER-2 space (`laser/laser_scan.json`, the
//! format of `lexalign laser scan`) and linear CKA between each hidden state's word vectors and
//! LASER-2's (`cka.csv`), so that one can ask whether TLI moves the LLM's word geometry toward
//! LASER-2's cross-lingual space or away from it. Without the files nothing is written.

use anyhow::{Context, Result};
pub use lexalign_data::study_rows::{CkaChangeRow, CkaRow};
use lexalign_laser::{laser_dir, Laser2, HOW_TO_GET};
use lexalign_metrics::cka::{cka_of, stack, CkaSide};
use lexalign_metrics::{Lexicon, Matrix};
use lexalign_model::DeviceArg;
use lexalign_scan::LayerVectors;
use lexalign_stages::laser_cmd::LaserScanSettings;
use std::path::Path;

/// Sentences per LASER-2 forward (laser_encoders' default batch).
pub const LASER_BATCH: usize = 64;

/// The CKA sides, in `cka.csv` order: the distinct source words, the distinct target words, and
/// both stacked (sources then targets, one item per row).
pub const SIDES: [&str; 3] = ["source", "target", "both"];

/// LASER-2 from `--laser` / `$LEXALIGN_LASER`, on the model's device; `None` (logged once) when
/// neither is set. Loaded before the model, so a bad folder fails before the slow work.
pub fn load(arg: Option<&Path>, device: &str) -> Result<Option<Laser2>> {
    let Some(dir) = laser_dir(arg) else {
        log::info!("no LASER-2 rows (laser/laser_scan.json, cka.csv): they need Meta's LASER-2 weights; {HOW_TO_GET}");
        return Ok(None);
    };
    let device = device.parse::<DeviceArg>()?.resolve()?;
    Laser2::load(&dir, device)
        .map(Some)
        .with_context(|| format!("--laser {}", dir.display()))
}

/// The settings the study measures LASER-2 with (`lexalign laser scan`'s defaults, the study's seed).
pub fn settings(seed: u64, bootstrap: usize, device: &str) -> LaserScanSettings {
    LaserScanSettings {
        seed,
        k_csls: 10,
        xsim_k: 4,
        bootstrap,
        batch_size: LASER_BATCH,
        device: device.to_string(),
    }
}

/// A reference encoder's side of every CKA of one pair set (LASER-2's, or multilingual-e5-small's
/// in `crate::e5ref`), prepared once for all layers.
pub struct LaserSides {
    name: &'static str,
    sides: [CkaSide; 3],
}

impl LaserSides {
    /// From LASER-2's vectors of the set's distinct sources and candidates.
    pub fn new(sources: &Matrix, candidates: &Matrix) -> Result<Self> {
        Self::named("LASER-2", sources, candidates)
    }

    /// From the encoder `name`'s vectors of the set's distinct sources and candidates.
    pub fn named(name: &'static str, sources: &Matrix, candidates: &Matrix) -> Result<Self> {
        Ok(Self {
            name,
            sides: [
                CkaSide::new(sources, &format!("{name} source vectors"))?,
                CkaSide::new(candidates, &format!("{name} target vectors"))?,
                CkaSide::new(
                    &stack(sources, candidates)?,
                    &format!("{name} source and target vectors"),
                )?,
            ],
        })
    }

    /// Embeds `pairs`' distinct words (the scan's order) and prepares them.
    pub fn of_pairs(laser: &Laser2, pairs: &[(&str, &str)]) -> Result<Self> {
        let lex = Lexicon::from_pairs(pairs, &[] as &[&str])?;
        let (s, c) = lexalign_stages::laser_cmd::lexicon_vectors(laser, &lex, LASER_BATCH)?;
        Self::new(&s, &c)
    }

    /// CKA of one layer's vectors against the encoder's, per side (in [`SIDES`] order), with `n`.
    pub fn cka(&self, v: &LayerVectors) -> Result<[(usize, f64); 3]> {
        let what = |side: &str| format!("hidden state {} ({}) {side} vectors", v.layer, v.pooling);
        let llm = [
            CkaSide::new(v.sources, &what("source"))?,
            CkaSide::new(v.candidates, &what("target"))?,
            CkaSide::new(&stack(v.sources, v.candidates)?, &what("source and target"))?,
        ];
        let mut out = [(0, 0.0); 3];
        for (i, (a, b)) in llm.iter().zip(&self.sides).enumerate() {
            out[i] = (
                a.n,
                cka_of(a, b)
                    .with_context(|| format!("CKA of {} against {}", what(SIDES[i]), self.name))?,
            );
        }
        Ok(out)
    }
}

/// The scan's `cka.csv` rows of one (pooling, layer): one per side.
pub fn cka_rows(v: &LayerVectors, ckas: [(usize, f64); 3]) -> Vec<CkaRow> {
    SIDES
        .iter()
        .zip(ckas)
        .map(|(side, (n, cka))| CkaRow {
            pooling: v.pooling.name().to_string(),
            layer: v.layer,
            side: side.to_string(),
            n,
            cka: round8(cka),
        })
        .collect()
}

/// `(set, layer, side) -> CKA` of one state (before or after an adapter).
pub type CkaTable = Vec<(String, usize, &'static str, f64)>;

/// Before/after rows, matched by (set, layer, side).
pub fn changes(before: &CkaTable, after: &CkaTable) -> Vec<CkaChangeRow> {
    before
        .iter()
        .filter_map(|(set, layer, side, b)| {
            let a = after
                .iter()
                .find(|(s, l, d, _)| s == set && l == layer && d == side)?
                .3;
            Some(CkaChangeRow {
                set: set.clone(),
                layer: *layer,
                side: side.to_string(),
                cka_before: round8(*b),
                cka_after: round8(a),
                delta: round8(a - b),
            })
        })
        .collect()
}

/// 8 decimals, as the scan's CSVs.
fn round8(x: f64) -> f64 {
    (x * 1e8).round() / 1e8
}
