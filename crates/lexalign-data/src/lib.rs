//! Input data for lexalign: translation-pair files, the paper's released data and bilingual
//! word lists (kengdic, FreeDict, CLDR) with seeded, string-disjoint train/test splits.
//!
//! Pure Rust (no tch). Every error names the file, the line (or JSON index) and what to do.

pub mod arm_rows;
pub mod authors_rows;
pub mod behaviour_rows;
pub mod corpora;
pub mod lexicon;
pub mod lm_rows;
mod locate;
pub mod open_pool_rows;
mod pairs;
mod paper;
pub mod probe;
pub mod split;
pub mod study_rows;
pub mod typed_files;
pub mod vocab;
pub mod word2vec;

pub use corpora::{Corpora, KolibriLang, Trilingual, CORPORA_SUMS, ENV_CORPORA};
pub use lexicon::{gold, Lexicon, LexiconStats, Lexicons, ENV_LEXICONS, LEXICON_SUMS};
pub use pairs::{
    detect_pair_format, muse_pairs_text, muse_word, parse_delimited_pairs, parse_json_pairs,
    parse_muse_pairs, read_pairs, read_pairs_as, read_pairs_with, write_muse_pairs, Columns,
    Duplicate, Location, Origin, Pair, PairFile, PairFormat,
};
pub use paper::{
    parse_sums, read_layer_alignment, read_quantitative, Group, LayerAlignment, PaperData,
    QuantitativeRow, ADAPTER_CONFIG, CONTROL_PAIRS, ENV_PAPER_DATA, FIGURE_1, LAYER_ALIGNMENT,
    PAPER_COMMIT, PAPER_REPO, PAPER_SUMS, PROBE_RESULTS, QUANTITATIVE_RESULTS, RELEASED_FILES,
    SCRIPT04_SAMPLE, TRAINING_PAIRS, TSNE_POST, TSNE_PRE,
};
pub use probe::{parse_probe, probe_prompt, read_probe, ProbeRow, PROBE_TEMPLATES};
pub use split::{overlap, split_disjoint, Overlap, Split};
pub use word2vec::{parse_vec, vec_text, VecFile};
