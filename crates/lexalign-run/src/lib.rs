//! Shared run plumbing for every lexalign binary: logging, progress, atomic output files,
//! hashing and the `provenance.json` record each run writes next to its outputs.
//!
//! Pure Rust, no tch: the torch/tch versions are passed in by the caller as strings.

mod fsutil;
mod logging;
mod progress;
mod provenance;
mod rundir;
mod time;

pub use fsutil::{sha256_bytes, sha256_file, write_atomic, write_atomic_with};
pub use logging::init_logging;
pub use progress::progress_bar;
pub use provenance::{hash_path, FileHash, Provenance, PROVENANCE_FILE};
pub use rundir::RunDir;
pub use time::{utc_compact_stamp, utc_rfc3339, utc_rfc3339_at};
