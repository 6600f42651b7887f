//! Input data for lexalign: translation-pair files, the paper's released data and bilingual
//! word lists (kengdic, FreeDict, CLDR) with seeded, string-disjoint train/test splits.
//!
//! Pure Rust (no tch). Every error names the file, the line (or JSON index) and what to do.

pub mod lexicon;
mod locate;
mod pairs;
mod paper;
pub mod lm_rows;
pub mod split;
pub mod study_rows;

pub use lexicon::{gold, Lexicon, LexiconStats, Lexicons, ENV_LEXICONS, LEXICON_SUMS};
pub use pairs::{
    parse_delimited_pairs, parse_json_pairs, read_pairs, read_pairs_with, Columns, Duplicate,
    Location, Origin, Pair, PairFile,
};
pub use paper::{
    parse_sums, read_layer_alignment, read_quantitative, Group, LayerAlignment, PaperData,
    QuantitativeRow, ADAPTER_CONFIG, CONTROL_PAIRS, ENV_PAPER_DATA, FIGURE_1, LAYER_ALIGNMENT,
    PAPER_COMMIT, PAPER_REPO, PAPER_SUMS, QUANTITATIVE_RESULTS, TRAINING_PAIRS,
};
pub use split::{overlap, split_disjoint, Overlap, Split};
