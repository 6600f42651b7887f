//! The one rule for tests whose model, fixture or paper data is absent: under `cargo xtask test`
//! (which sets `LEXALIGN_REQUIRE_FIXTURES=1`) or CI the test fails with a message; a developer's
//! plain `cargo test` skips it with a printed reason.

use std::ffi::OsString;

/// Set (to anything but empty, `0` or `false`) by `cargo xtask test` for its test processes.
pub const ENV_REQUIRE_FIXTURES: &str = "LEXALIGN_REQUIRE_FIXTURES";

/// Whether a missing fixture must fail the test: `LEXALIGN_REQUIRE_FIXTURES`, the older
/// `LEXALIGN_REQUIRE_PAPER_DATA`, or `CI` is set to a true value.
pub fn require_fixtures() -> bool {
    require_fixtures_with(|k| std::env::var_os(k))
}

/// [`require_fixtures`] with `env` as the environment lookup.
pub fn require_fixtures_with(env: impl Fn(&str) -> Option<OsString>) -> bool {
    [ENV_REQUIRE_FIXTURES, "LEXALIGN_REQUIRE_PAPER_DATA", "CI"]
        .iter()
        .any(|k| env(k).is_some_and(|v| !v.is_empty() && v != "0" && v != "false"))
}

/// A test's fixture is missing: panics (failing the test) when [`require_fixtures`], else prints
/// `skipped: <reason>` and returns so the caller can return early.
pub fn missing_fixture(reason: impl std::fmt::Display) {
    if require_fixtures() {
        panic!("{reason} (a missing fixture fails under `cargo xtask test` and CI: {ENV_REQUIRE_FIXTURES} or CI is set; run `cargo xtask setup`)");
    }
    eprintln!("skipped: {reason} (set {ENV_REQUIRE_FIXTURES}=1 to make this a failure)");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn set_true_values_require_and_unset_or_false_do_not() {
        assert!(!require_fixtures_with(env(&[])));
        assert!(require_fixtures_with(env(&[(ENV_REQUIRE_FIXTURES, "1")])));
        assert!(require_fixtures_with(env(&[(
            "LEXALIGN_REQUIRE_PAPER_DATA",
            "1"
        )])));
        assert!(require_fixtures_with(env(&[("CI", "true")])));
        assert!(!require_fixtures_with(env(&[
            ("CI", "false"),
            (ENV_REQUIRE_FIXTURES, "0")
        ])));
        assert!(!require_fixtures_with(env(&[("CI", "")])));
    }
}
