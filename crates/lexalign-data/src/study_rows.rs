//! The rows of the study's CSV outputs, one type each, shared by the writer (`lang-study`) and the
//! reader (the report), so a column cannot be renamed on one side only.

use serde::{Deserialize, Serialize};

/// One (set, layer) comparison of before and after an adapter (`<eval>/<label>/changes.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRow {
    pub set: String,
    pub layer: usize,
    pub n_pairs: usize,
    pub raw_before: f64,
    pub raw_after: f64,
    pub raw_t: Option<f64>,
    pub raw_p: Option<f64>,
    pub raw_wilcoxon_p: Option<f64>,
    pub centered_before: f64,
    pub centered_after: f64,
    pub centered_t: Option<f64>,
    pub centered_p: Option<f64>,
    pub shuffled_before: f64,
    pub shuffled_after: f64,
    pub centered_shuffled_before: f64,
    pub centered_shuffled_after: f64,
    pub p1_before: f64,
    pub p1_after: f64,
    pub delta_p1: f64,
    pub delta_p1_ci_low: f64,
    pub delta_p1_ci_high: f64,
    pub t2s_p1_before: f64,
    pub t2s_p1_after: f64,
}

/// Linear CKA of one hidden state against LASER-2 (`<scan>/cka.csv`, `lang-study scan --laser`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CkaRow {
    pub pooling: String,
    pub layer: usize,
    /// `source`, `target` or `both`.
    pub side: String,
    pub n: usize,
    pub cka: f64,
}

/// CKA against LASER-2 before and after an adapter (`<eval>/<label>/cka.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CkaChangeRow {
    pub set: String,
    pub layer: usize,
    /// `source`, `target` or `both`.
    pub side: String,
    pub cka_before: f64,
    pub cka_after: f64,
    pub delta: f64,
}

/// One baseline's retrieval on one set at one hidden state (`<scan>/baselines.csv` for the frozen
/// model, `<eval>/<label>/baselines.csv` after an adapter). Everything in the centred space with
/// `mean-content` pooling: P@k source→target unless `t2s_`, CSLS with k = 10.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineRow {
    /// `dev` (maps fitted on the training pairs less the dev pairs), `held-out` or `cldr` (maps
    /// fitted on every training pair).
    pub set: String,
    pub layer: usize,
    /// `base`, `zscore`, `whiten`, `remove-pc1`..`remove-pc3`, `procrustes`,
    /// `procrustes-refined`, `lstsq`, `ridge`; after an adapter `tli` and `tli+procrustes`.
    pub method: String,
    /// Ridge's λ (chosen on the dev split); empty otherwise.
    pub lambda: Option<f64>,
    /// Training pairs the map or post-processing was fitted on (0 for `base` and `tli`).
    pub n_fit: usize,
    /// Distinct source words evaluated.
    pub n_sources: usize,
    pub p1_nn: f64,
    pub p1_csls: f64,
    pub p5_csls: f64,
    pub p10_csls: f64,
    pub t2s_p1_csls: f64,
    /// Skew of the candidates' k-occurrence distribution (k = 10, NN), the hubness.
    pub hub_skew: f64,
}

/// A paired comparison of an adapted model's retrieval with the frozen model's Procrustes map on
/// the same words (`<eval>/<label>/baseline_tests.csv`): the change in centred CSLS P@1 and its
/// paired bootstrap 95 % CI over source words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineTestRow {
    /// `held-out` or `cldr`.
    pub set: String,
    pub layer: usize,
    /// `tli` or `tli+procrustes`.
    pub method: String,
    /// `procrustes` (on the frozen model).
    pub versus: String,
    /// P@1 of `method` minus P@1 of `versus`.
    pub delta_p1: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// One direction of one sentence corpus: xSIM (LASER's ratio-margin error) and P@1 NN/CSLS from
/// `src` to `tgt` (`lexalign e5 xsim`, and `<scan>/e5/xsim.csv`: multilingual-e5-small's rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XsimRow {
    pub corpus: String,
    pub src: String,
    pub tgt: String,
    pub n: usize,
    pub xsim_error: f64,
    pub xsim_errors: usize,
    pub p1_nn: f64,
    pub p1_csls: f64,
}

/// xSIM of one hidden state's mean-content pooled sentence vectors (`<scan>/sentence_xsim.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerXsimRow {
    pub layer: usize,
    pub corpus: String,
    pub src: String,
    pub tgt: String,
    pub n: usize,
    pub xsim_error: f64,
    pub p1_nn: f64,
    pub p1_csls: f64,
}

/// A hidden state's sentence xSIM before and after an adapter (`<eval>/<label>/sentence_xsim.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XsimChangeRow {
    pub layer: usize,
    pub corpus: String,
    pub src: String,
    pub tgt: String,
    pub n: usize,
    pub xsim_before: f64,
    pub xsim_after: f64,
    pub delta: f64,
    pub p1_csls_before: f64,
    pub p1_csls_after: f64,
}
