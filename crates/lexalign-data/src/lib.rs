//! Input data for lexalign: translation-pair files and the paper's released data.
//!
//! Pure Rust (no tch). Every error names the file, the line (or JSON index) and what to do.

mod pairs;
mod paper;

pub use pairs::{
    parse_delimited_pairs, parse_json_pairs, read_pairs, read_pairs_with, Columns, Duplicate,
    Location, Pair, PairFile,
};
pub use paper::{
    parse_sums, read_layer_alignment, read_quantitative, Group, LayerAlignment, PaperData,
    QuantitativeRow, ADAPTER_CONFIG, CONTROL_PAIRS, ENV_PAPER_DATA, FIGURE_1, LAYER_ALIGNMENT,
    PAPER_COMMIT, PAPER_REPO, PAPER_SUMS, QUANTITATIVE_RESULTS, TRAINING_PAIRS,
};
