//! `cargo xtask test`: set up, lint (rustfmt and clippy, warnings are errors), run the whole
//! workspace's tests with the assets' environment, then a fuzz smoke run (`lexalign-fuzz --smoke`) and `reproduce --check`. Under CI (`CI` set)
//! snapshots are never updated.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

use crate::reproduce::{self, cargo_cmd, ReproduceArgs};
use crate::setup::{self, SetupArgs};
use crate::util;

#[derive(clap::Args, Debug, Clone)]
pub struct TestArgs {
    /// The authors' `tli_project` folder (default: as `setup` chooses).
    #[arg(long, value_name = "DIR")]
    pub paper_data: Option<PathBuf>,
    /// Skip `reproduce --check` after the tests.
    #[arg(long)]
    pub no_reproduce: bool,
    /// Extra arguments for the test runner (after `--`).
    #[arg(last = true)]
    pub rest: Vec<String>,
}

pub fn run(args: &TestArgs) -> Result<()> {
    let started = Instant::now();
    let assets = setup::run(&SetupArgs {
        paper_data: args.paper_data.clone(),
        ..Default::default()
    })?;
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
    let with_env = |c: &mut std::process::Command| {
        // One test process at a time: the libtorch tests each run OpenMP threads, and several
        // at once on a small machine oversubscribe the cores; OpenMP's spin-waiting then makes
        // them 5-20x slower. Set NEXTEST_TEST_THREADS / RUST_TEST_THREADS to override.
        for var in ["NEXTEST_TEST_THREADS", "RUST_TEST_THREADS"] {
            if std::env::var_os(var).is_none() {
                c.env(var, "1");
            }
        }
        // A test whose model, fixture or paper data is missing fails here instead of skipping
        // (lexalign_run::require_fixtures); a plain `cargo test` still skips with a reason.
        c.env(lexalign_run::ENV_REQUIRE_FIXTURES, "1");
        if ci {
            // insta: fail on a changed snapshot instead of writing `.snap.new` files.
            c.env("INSTA_UPDATE", "no")
                .env("CI", "true")
                .env_remove("INSTA_FORCE_PASS");
        }
    };
    lint(&assets)?;
    let hint = "see the failing tests above";
    if util::have("cargo-nextest") {
        let mut c = cargo_cmd(&assets);
        c.args(["nextest", "run", "--workspace"]).args(&args.rest);
        with_env(&mut c);
        println!("test: cargo nextest run --workspace");
        util::run_status(
            &mut c,
            "the workspace tests (cargo nextest run --workspace)",
            hint,
        )?;
        let mut c = cargo_cmd(&assets);
        c.args(["test", "--workspace", "--doc"]);
        with_env(&mut c);
        println!("test: cargo test --workspace --doc");
        util::run_status(&mut c, "the doc tests (cargo test --workspace --doc)", hint)?;
    } else {
        let mut c = cargo_cmd(&assets);
        c.args(["test", "--workspace"]).args(&args.rest);
        with_env(&mut c);
        println!("test: cargo test --workspace");
        util::run_status(&mut c, "the workspace tests (cargo test --workspace)", hint)?;
    }
    // Fuzz smoke run (lexalign-fuzz, docs/CONVENTIONS.md "Fuzzing"): every parser target, tch
    // ones included, 3000 mutated inputs or 2 s each; any panic or heap-budget overrun fails.
    let mut c = cargo_cmd(&assets);
    c.args([
        "run",
        "-q",
        "-p",
        "lexalign-fuzz",
        "--features",
        "tch",
        "--",
        "--smoke",
    ]);
    println!("test: fuzz smoke run (cargo run -p lexalign-fuzz --features tch -- --smoke)");
    util::run_status(
        &mut c,
        "the fuzz smoke run (cargo run -p lexalign-fuzz --features tch -- --smoke)",
        "a target panicked or overran its heap budget; the input is saved under the folder named above \
         (reproduce: cargo run -p lexalign-fuzz --features tch -- --target NAME --replay FILE)",
    )?;
    let tests_done = started.elapsed().as_secs_f64();
    if !args.no_reproduce {
        reproduce::run(&ReproduceArgs {
            check: true,
            paper_data: args.paper_data.clone(),
            ..Default::default()
        })?;
    }
    println!(
        "test: passed in {:.1} s (tests {tests_done:.1} s{})",
        started.elapsed().as_secs_f64(),
        if args.no_reproduce {
            String::new()
        } else {
            format!(
                ", reproduce --check {:.1} s",
                started.elapsed().as_secs_f64() - tests_done
            )
        }
    );
    Ok(())
}

/// The conventions a reviewer should not have to check by eye: rustfmt's layout, and clippy
/// with warnings as errors over every target (docs/CONVENTIONS.md "Style").
fn lint(assets: &setup::Assets) -> Result<()> {
    let mut c = cargo_cmd(assets);
    c.args(["fmt", "--all", "--", "--check"]);
    println!("test: cargo fmt --all -- --check");
    util::run_status(
        &mut c,
        "rustfmt (cargo fmt --all -- --check)",
        "run `cargo fmt --all` and commit the result",
    )?;
    let mut c = cargo_cmd(assets);
    c.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    println!("test: cargo clippy --workspace --all-targets -- -D warnings");
    util::run_status(
        &mut c,
        "clippy (cargo clippy --workspace --all-targets -- -D warnings)",
        "fix the warnings above (or, where a lint is wrong for the code, allow it on the item with a comment saying why)",
    )
}
