//! One process-wide logger (env_logger), default level `info`, overridable with `RUST_LOG`.

use std::sync::Once;

static INIT: Once = Once::new();

/// Install the env_logger backend once. Safe to call any number of times (later calls, and
/// calls after another logger was installed, e.g. by a test harness, are no-ops).
pub fn init_logging() {
    INIT.call_once(|| {
        let env = env_logger::Env::default().default_filter_or("info");
        let _ = env_logger::Builder::from_env(env)
            .format_timestamp_secs()
            .try_init();
    });
}
