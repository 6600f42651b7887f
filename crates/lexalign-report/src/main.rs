//! `lexalign-report`: claims verdicts, figures, paper/reproduction.md and paper/generated/*.tex.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use lexalign_report::{check_tree, generate, load_claims, RunFolder};

/// Generate (or, with --check, verify) the reproduction report from a run folder.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Run folder (`runs/<id>`) holding `published-data/` and, when they ran, the model stages.
    #[arg(long)]
    run: PathBuf,
    /// Output root: figures/ and paper/ are written below it (the repository root normally).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Claims registry (default: <root>/paper/claims.toml).
    #[arg(long)]
    claims: Option<PathBuf>,
    /// Build into a temporary folder and compare with <root>: published-data outputs byte for
    /// byte, model-based numbers within tolerances (lexalign_report::tolerance); fail on any
    /// difference or any published-data claim outside its tolerance. A run on another model than
    /// the default configuration checks only the published-data outputs. Writes nothing.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    lexalign_run::init_logging();
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool> {
    let a = Args::parse();
    let claims_path = a.claims.unwrap_or_else(|| a.root.join("paper/claims.toml"));
    let claims = load_claims(&claims_path)?;
    let run = RunFolder::load(&a.run)?;
    if a.check {
        let r = check_tree(&claims, &run, &a.root)?;
        print!("{}", r.describe());
        return Ok(r.ok());
    }
    let g = generate(&claims, &run, &a.root)?;
    for f in &g.files {
        log::info!("wrote {}", a.root.join(f).display());
    }
    for f in &g.failures {
        eprintln!("claim out of tolerance: {f}");
    }
    println!("{} files written under {}", g.files.len(), a.root.display());
    Ok(g.failures.is_empty())
}
