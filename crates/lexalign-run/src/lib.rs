//! Shared run plumbing for every lexalign binary and for xtask: the cache folder rule, the
//! embedded-model table, atomic output files and folder swaps, hashing, logging, progress and
//! the `provenance.json` record each run writes next to its outputs.
//!
//! Pure Rust, no tch (xtask depends on it and must build before libtorch exists): the torch/tch
//! versions are passed in by the caller as strings.

mod bench_line;
mod cache;
mod embedded;
mod fixtures;
mod fsutil;
mod hash;
mod identity;
mod logging;
mod progress;
mod provenance;
mod rundir;
mod time;

pub use bench_line::{parse_bench_line, BenchLine};
pub use cache::{cache_dir, cache_dir_with, ENV_CACHE};
pub use embedded::{
    embedded_model, embedded_model_names, EmbeddedModel, DEFAULT_MODEL, E5_SMALL,
    EMBEDDED_ENCODERS, EMBEDDED_MODELS, GEMMA3_270M, QWEN25_CODER_05B, SMOLLM2_135M,
};
pub use fixtures::{
    missing_fixture, require_fixtures, require_fixtures_with, ENV_REQUIRE_FIXTURES,
};
pub use fsutil::{replace_symlink, swap_dir, temp_dir_beside, write_atomic, write_atomic_with};
pub use hash::{
    check_hash, copy_hashed, hash_path, parse_sums, sha256_bytes, sha256_file, FileHash, HashCheck,
};
pub use identity::{
    identify, known_model, ConfigFingerprint, IdentityMethod, KnownModel, ModelIdentity,
    KNOWN_MODELS,
};
pub use logging::init_logging;
pub use progress::progress_bar;
pub use provenance::{Provenance, PROVENANCE_FILE};
pub use rundir::{unique_run_dir, RunDir};
pub use time::{utc_compact_stamp, utc_rfc3339, utc_rfc3339_at};
