//! `lexalign-fuzz`: runs the parser fuzz targets (see the crate doc and docs/CONVENTIONS.md).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use lexalign_fuzz::{engine, guard, targets, Budget};

#[global_allocator]
static ALLOC: guard::GuardAlloc = guard::GuardAlloc;

#[derive(Parser, Debug)]
#[command(about = "Mutation fuzzing of lexalign's parsers (stable toolchain, in process).")]
struct Args {
    /// Target name (see --list), or `all`.
    #[arg(long, default_value = "all")]
    target: String,
    /// Executions per target.
    #[arg(long, default_value_t = 100_000)]
    execs: u64,
    /// Stop each target after this many seconds, whatever --execs says.
    #[arg(long)]
    seconds: Option<f64>,
    /// The smoke run of `cargo xtask test`: every target, 3000 execs or 2 s each.
    #[arg(long)]
    smoke: bool,
    /// Seed of the mutation RNG (ChaCha8).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Heap budget of one exec above what was live before it, in MiB.
    #[arg(long, default_value_t = 256)]
    alloc_budget_mib: usize,
    /// A single allocation above this many MiB aborts the run, saving the input.
    #[arg(long, default_value_t = 2048)]
    hard_limit_mib: usize,
    /// One exec running longer than this is a hang: the input is saved and the run aborts.
    #[arg(long, default_value_t = 60.0)]
    hang_seconds: f64,
    /// Where findings are saved (`<out>/<target>/`); default: the system temporary folder's
    /// `lexalign-fuzz`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run one saved input (with --target) without catching a panic, and print the result.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// List the targets and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let all = targets::all();
    if args.list {
        for t in &all {
            println!("{:18} {}", t.name, t.about);
        }
        if !all.iter().any(|t| targets::TCH_TARGETS.contains(&t.name)) {
            println!(
                "(not in this build: {}; build with --features tch)",
                targets::TCH_TARGETS.join(", ")
            );
        }
        return Ok(());
    }
    if !guard::installed() {
        bail!("the counting allocator is not installed; the allocation guard would see nothing");
    }
    guard::set_hard_limit(args.hard_limit_mib << 20);
    let chosen: Vec<_> = if args.target == "all" {
        all.iter().collect()
    } else {
        let names: Vec<&str> = args.target.split(',').collect();
        for n in &names {
            if !all.iter().any(|t| t.name == *n) {
                let hint = if targets::TCH_TARGETS.contains(n) {
                    " (it needs --features tch)"
                } else {
                    ""
                };
                bail!("no fuzz target `{n}`{hint}; --list shows them");
            }
        }
        all.iter().filter(|t| names.contains(&t.name)).collect()
    };
    if let Some(file) = &args.replay {
        let input =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        for t in &chosen {
            println!("{}: {}", t.name, engine::replay(t, &input)?);
        }
        return Ok(());
    }
    let (execs, seconds) = if args.smoke {
        (3000, Some(args.seconds.unwrap_or(2.0)))
    } else {
        (args.execs, args.seconds)
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("lexalign-fuzz"));
    let epoch = Instant::now();
    engine::start_watchdog(Duration::from_secs_f64(args.hang_seconds), epoch);
    println!(
        "{:18} {:>9} {:>8} {:>9} {:>7} {:>6} {:>7} {:>6} {:>8} {:>8} {:>9} {:>9}",
        "target",
        "execs",
        "ok",
        "errors",
        "skipped",
        "panics",
        "alloc!",
        "kinds",
        "corpus",
        "secs",
        "execs/s",
        "peak KiB"
    );
    let mut failed = Vec::new();
    for t in chosen {
        let budget = Budget {
            execs,
            seconds,
            seed: args.seed,
            alloc_budget: args.alloc_budget_mib << 20,
            out: out.clone(),
        };
        let r = engine::run(t, &budget, epoch)?;
        println!(
            "{:18} {:>9} {:>8} {:>9} {:>7} {:>6} {:>7} {:>6} {:>8} {:>8.1} {:>9.0} {:>9}",
            r.target,
            r.execs,
            r.ok,
            r.errors,
            r.skipped,
            r.panics,
            r.over_alloc,
            r.error_kinds,
            r.corpus,
            r.seconds,
            r.execs as f64 / r.seconds.max(1e-9),
            r.max_peak >> 10
        );
        if r.failed() {
            failed.push(format!(
                "{} ({} panics, {} over the heap budget; inputs in {})",
                r.target,
                r.panics,
                r.over_alloc,
                out.join(t.name).display()
            ));
        }
    }
    if !failed.is_empty() {
        bail!(
            "fuzzing found problems in: {}; reproduce one with --target NAME --replay FILE",
            failed.join("; ")
        );
    }
    Ok(())
}
