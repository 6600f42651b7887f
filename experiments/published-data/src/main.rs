//! `published-data`: verify the authors' released files against the committed SHA-256 sums and
//! write their statistics (`summary.json`, CSV tables, `provenance.json`) into a run stage folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use lexalign_published::{analyse_paper_data, stage_files, PaperData, DEFAULT_SUMS};
use lexalign_run::{write_atomic, Provenance};

/// Reproduce the paper's numbers from the authors' released data.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The authors' `tli_project` folder (e.g. ../shared/paper-data/tli_project).
    #[arg(long)]
    paper_data: PathBuf,
    /// Output folder, normally `runs/<id>/published-data`.
    #[arg(long)]
    out: PathBuf,
    /// SHA-256 sums to verify against (`sha256sum` format, paths relative to tli_project/);
    /// default: the committed paper/paper-data.sha256 built into the binary.
    #[arg(long)]
    sums: Option<PathBuf>,
}

fn main() -> ExitCode {
    lexalign_run::init_logging();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: Args) -> Result<()> {
    let sums = match &a.sums {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?
        }
        None => DEFAULT_SUMS.to_string(),
    };
    let data = analyse_paper_data(&a.paper_data, &sums)?;
    write_stage(&data, &a.out)?;

    let mut prov = Provenance::collect().stage("published-data");
    for f in &data.summary.files {
        prov = prov.data_file_hashed(a.paper_data.join(&f.path), f.sha256.clone());
    }
    prov = prov
        .setting("source", &data.summary.source)?
        .setting("threads", 1)?
        .threads(1);
    prov.write(&a.out)?;

    let e = &data.summary.eval;
    println!(
        "trained: pre {:.4} -> post {:.4} ({:+.2} %), t = {:.3}, p = {:.3e}",
        e.trained.mean_pre,
        e.trained.mean_post,
        e.trained.percent_change,
        e.trained.ttest.t,
        e.trained.ttest.p
    );
    println!(
        "control: pre {:.4} -> post {:.4} ({:+.2} %), t = {:.3}, p = {:.3e}",
        e.control.mean_pre,
        e.control.mean_post,
        e.control.percent_change,
        e.control.ttest.t,
        e.control.ttest.p
    );
    println!("wrote {}", a.out.display());
    Ok(())
}

/// Writes the stage's files (lexalign-published's formats) into `out`, each atomically.
/// (`provenance.json` is written after them.)
fn write_stage(data: &PaperData, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, bytes) in stage_files(data)? {
        write_atomic(out.join(name), bytes)?;
    }
    Ok(())
}
