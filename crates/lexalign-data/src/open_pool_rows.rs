//! The rows of `lang-study open-pool`'s CSV outputs (issue 31), one type each, shared by the
//! writer (`lang-study`) and the reader (the report).

use serde::{Deserialize, Serialize};

/// P@k of one (state, set, direction, hidden state) on the open pool, with the closed pool's
/// P@1 beside it (`<open-pool>/open_pool.csv`). Centred space, CSLS k = 10.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenPoolRow {
    /// `frozen`, or the train folder's name of the adapter.
    pub model: String,
    pub set: String,
    /// `ko-en`, `en-ko`, `sw-en`, `en-sw` (query language first).
    pub direction: String,
    pub layer: usize,
    pub n_queries: usize,
    pub n_pool: usize,
    pub n_reference: usize,
    pub p1_nn: f64,
    pub p5_nn: f64,
    pub p10_nn: f64,
    pub p1_csls: f64,
    pub p5_csls: f64,
    pub p10_csls: f64,
    /// Centred CSLS P@1 against the set's own targets, statistics from the set (the old protocol).
    pub closed_p1_csls: f64,
    pub closed_n_pool: usize,
    /// Adapter rows: queries right at P@1 (CSLS) after the adapter but not before (same layer,
    /// frozen model), and the reverse; 0 on frozen rows. McNemar's exact test reads them.
    pub gained: usize,
    pub lost: usize,
}

/// Held-out open-pool P@1 (CSLS, source→target) before and after one adapter at its trained
/// hidden state, within one level of one factor (`<open-pool>/<adapter>/breakdown.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakdownRow {
    pub adapter: String,
    pub layer: usize,
    /// `frequency-level`, `pos`, `tokens`, `loanword`, `tokens-seen`.
    pub factor: String,
    pub level: String,
    pub n: usize,
    pub p1_before: f64,
    pub p1_after: f64,
}
