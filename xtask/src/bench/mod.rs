//! `cargo xtask bench`: lexalign beside the transformers / transformers+peft anchors of `bench/`,
//! in one run, alternating (repetition i of every variant of a case runs back to back), on the
//! same word files, model file, CPU and threads; medians, ranges, ratios and the targets of
//! issue 17, written to `paper/generated/bench.md` (+ `bench.provenance.json`).
//!
//! Each run is its own process (`lexalign bench --model M --case ...` or an anchor script), which
//! times its in-process work and prints one JSON line (`report::parse_line`). The anchors run only
//! when `$LEXALIGN_REF_PYTHON` names the reference interpreter; without it lexalign's figures are
//! reported alone and the page says why.

mod cases;
pub mod peak;
pub mod report;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::paths::Paths;
use cases::{Plan, Run};
use report::{parse_line, Runs};

/// Environment variable naming the reference interpreter (never written into the repository).
pub const ENV_REF_PYTHON: &str = "LEXALIGN_REF_PYTHON";

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Embedded models to bench (comma list).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "smollm2-135m,gemma3-270m"
    )]
    pub models: Vec<String>,
    /// Repetitions of every case (alternating lexalign and the anchors).
    #[arg(long, default_value_t = 3, value_parser = at_least_one)]
    pub reps: usize,
    /// Torch threads on both sides.
    #[arg(long, default_value_t = 2, value_parser = at_least_one)]
    pub threads: usize,
    /// Words of the large scan case (real lexicon words).
    #[arg(long, default_value_t = 10_000, value_parser = at_least_one)]
    pub words: usize,
    /// Repetitions of the large scan (`--words`; minutes on each side), the first of `--reps`.
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    pub large_reps: usize,
    /// Also measure scaling: scan time at 1k/10k/100k words (hidden states 0-2) and at 1, 4 and 8 blocks of `--words` (lexalign, once each).
    #[arg(long)]
    pub scaling: bool,
    /// Only these cases (comma list of scan-pairs, scan-metrics, scan-words, tli-l2, tli-best, generate, peak).
    #[arg(long, value_delimiter = ',')]
    pub cases: Vec<String>,
    /// Where the page goes (default: paper/generated/bench.md; the provenance beside it).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("`{s}`: give a whole number, 1 or more")),
        Ok(n) => Ok(n),
    }
}

/// The anchors' interpreter, or why they do not run.
fn ref_python() -> std::result::Result<PathBuf, String> {
    match std::env::var_os(ENV_REF_PYTHON) {
        None => Err(format!("${ENV_REF_PYTHON} is not set (it names the python of the reference venv of requirements-ref.txt)")),
        Some(p) if !Path::new(&p).is_file() => Err(format!("${ENV_REF_PYTHON} does not name a file")),
        Some(p) => Ok(PathBuf::from(p)),
    }
}

/// Runs one process and parses its line.
fn execute(run: &Run, repo: &Path) -> Result<report::Line> {
    let what = format!("{} {} ({})", run.model, run.case, run.variant);
    let out = Command::new(&run.program)
        .args(&run.args)
        .current_dir(repo)
        .env("OMP_NUM_THREADS", run.threads.to_string())
        .output()
        .with_context(|| format!("{what}: could not start {}", run.program.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!("{what} failed ({}): {}", out.status, tail.join(" | "));
    }
    parse_line(&stdout, &what)
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let paths = Paths::from_env()?;
    let bin = crate::gpu_check::lexalign_binary(&paths)?;
    let python = ref_python();
    if let Err(why) = &python {
        println!("bench: the transformers/peft anchors are skipped: {why}; lexalign's figures are reported alone");
    }
    let work = std::env::temp_dir().join(format!("lexalign-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let plan = Plan::new(args, &paths, &bin, python.as_ref().ok(), &work)?;
    plan.write_word_files()?;
    let load_before = cases::load_average();
    let mut results: Vec<(String, Runs)> = args
        .models
        .iter()
        .map(|m| (m.clone(), Runs::default()))
        .collect();
    for rep in 0..args.reps {
        for run in plan.runs(rep) {
            let line = execute(&run, &paths.repo)?;
            println!(
                "[rep {}/{}] {} {} {}: {:.3} s",
                rep + 1,
                args.reps,
                run.model,
                run.case,
                run.variant,
                line.seconds
            );
            let slot = results
                .iter_mut()
                .find(|(m, _)| *m == run.model)
                .expect("model planned");
            slot.1.push(&run.case, &run.variant, line);
        }
    }
    let mut scaling = Vec::new();
    if args.scaling {
        for run in plan.scaling_runs() {
            let line = execute(&run, &paths.repo)?;
            println!(
                "[scaling] {} {} {}: {:.3} s",
                run.model, run.case, run.variant, line.seconds
            );
            scaling.push((run, line));
        }
    }
    let load_after = cases::load_average();
    let page = cases::render(
        &plan,
        &results,
        &scaling,
        python.as_ref().err().map(String::as_str),
        (&load_before, &load_after),
    );
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| paths.repo.join("paper/generated/bench.md"));
    lexalign_run::write_atomic(&out, page.as_bytes())?;
    let prov = plan.provenance(&out)?;
    println!("{page}");
    println!("wrote {} and {}", out.display(), prov.display());
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
