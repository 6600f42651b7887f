//! `cargo xtask reproduce`: set up, run every experiment stage that exists, in order, into a run
//! folder with a provenance record, then regenerate (or with `--check`, verify) the committed
//! outputs. A run is built in `<run>.partial/` and renamed when every stage succeeded, so
//! `runs/<id>/` is always complete; a failed run is kept as `<run>.failed/` for inspection.
//!
//! [`stages`] is the stage table, [`provenance`] the run's record, [`cache`] the stage cache that
//! reuses a stage whose inputs, settings and code are unchanged.

mod cache;
mod provenance;
mod stages;
mod stages_qwen;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use lexalign_run::RunDir;

use crate::setup::{self, Assets, SetupArgs};
use crate::util::{self, disp};
use cache::{CacheInputs, StageCache, StageRecord};
use provenance::Inputs;
use stages::{present_stages, Ctx, Stage, REPORT_PACKAGE};

#[derive(clap::Args, Debug, Clone)]
pub struct ReproduceArgs {
    /// Model for the model stages: an HF checkpoint folder, a .gguf file or an embedded model name
    /// (smollm2-135m, gemma3-270m, qwen2.5-coder-0.5b; default: the embedded SmolLM2 GGUF).
    #[arg(long, value_name = "DIR|FILE")]
    pub model: Option<PathBuf>,
    /// auto | cpu | cuda | cuda:N
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Verify instead of regenerate: the report is built in a temporary folder and compared with the committed files.
    #[arg(long)]
    pub check: bool,
    /// The authors' `tli_project` folder (default: as `setup` chooses).
    #[arg(long, value_name = "DIR")]
    pub paper_data: Option<PathBuf>,
    /// Run folder to create (default: runs/<UTC yyyymmdd-hhmmss>); must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Torch intra-op threads for the model stages.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Smaller settings for a smoke test (each stage's quick arguments in the stage table).
    #[arg(long)]
    pub quick: bool,
    /// The multilingual model of the Korean-English and Swahili-English study stages.
    #[arg(long, value_name = "DIR|FILE", default_value = "gemma3-270m")]
    pub study_model: PathBuf,
    /// Run every stage even where the stage cache (`<cache>/stages/`) holds outputs with the same
    /// key; `--check` implies it.
    #[arg(long)]
    pub fresh: bool,
    /// Also run the stages that are not yet in the default run's time budget (`stages::EXTENDED`:
    /// issue 26's arms with seeds and the Qwen2.5-Coder model).
    #[arg(long)]
    pub extended: bool,
}

impl Default for ReproduceArgs {
    fn default() -> Self {
        Self {
            model: None,
            device: "auto".into(),
            check: false,
            paper_data: None,
            run_dir: None,
            threads: 2,
            quick: false,
            study_model: PathBuf::from("gemma3-270m"),
            fresh: false,
            extended: false,
        }
    }
}

pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A cargo command in the repository with the set-up environment.
pub fn cargo_cmd(assets: &Assets) -> Command {
    let mut c = Command::new(cargo());
    c.current_dir(&assets.paths.repo);
    for (k, v) in assets.cargo_env() {
        c.env(k, v);
    }
    c
}

pub fn run(args: &ReproduceArgs) -> Result<()> {
    let started = Instant::now();
    let assets = setup::run(&SetupArgs {
        paper_data: args.paper_data.clone(),
        ..Default::default()
    })?;
    let repo = assets.paths.repo.clone();
    let model = choose_model(args, &assets)?;
    let paper_data = assets
        .paper_data
        .clone()
        .expect("setup locates the paper data");
    let stages = present_stages(&repo, args.extended);
    let has_report = repo
        .join("crates")
        .join(REPORT_PACKAGE)
        .join("Cargo.toml")
        .is_file();
    let runs = repo.join("runs");
    let run_dir = args.run_dir.as_deref().map(util::absolute);
    let dirs = RunDir::begin(&runs, run_dir.as_deref())?;

    // Build every binary first, so a compile error stops before any stage writes anything.
    let mut binaries: Vec<&str> = Vec::new();
    for s in &stages {
        if !binaries.contains(&s.package) {
            binaries.push(s.package);
        }
    }
    if has_report {
        binaries.push(REPORT_PACKAGE);
    }
    if let Err(e) = build_binaries(&assets, &binaries) {
        dirs.abandon();
        return Err(e);
    }

    let inputs = Inputs::new(&assets, &model, &paper_data)?;
    let study_model = embedded_or_path(&args.study_model, &assets)?;
    let control_model = lexalign_run::DEFAULT_MODEL.path_in(&assets.paths.cache);
    let qwen_model = lexalign_run::QWEN25_CODER_05B.path_in(&assets.paths.cache);
    let ctx = Ctx {
        model: model.clone(),
        model_sha256: inputs.model_sha256.clone(),
        study_model,
        control_model,
        qwen_model,
        paper_data: paper_data.clone(),
        device: args.device.clone(),
        threads: args.threads,
        run: dirs.partial().to_path_buf(),
        laser: stages::laser_from_env(),
    };
    provenance::write(dirs.partial(), args, &assets, &inputs, &[])?;
    let mut cache = match stage_cache(args, &assets, &ctx) {
        Ok(c) => c,
        Err(e) => {
            dirs.abandon();
            return Err(e);
        }
    };
    let records = run_stages(args, &assets, &ctx, &stages, &dirs, &mut cache)?;
    provenance::write(dirs.partial(), args, &assets, &inputs, &records)?;
    dirs.complete(&runs)?;
    println!("reproduce: run folder {}", disp(dirs.path()));

    if has_report {
        run_report(args, &assets, dirs.path())?;
    } else {
        println!("reproduce: crates/{REPORT_PACKAGE} does not exist yet; no outputs regenerated");
    }
    println!(
        "reproduce: finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The stage cache for this run: `--check` and `--fresh` recompute every stage (and store it).
fn stage_cache(args: &ReproduceArgs, assets: &Assets, ctx: &stages::Ctx) -> Result<StageCache> {
    let mut models = vec![(ctx.model.clone(), ctx.model_sha256.clone())];
    for m in [&ctx.study_model, &ctx.control_model, &ctx.qwen_model] {
        if models.iter().any(|(p, _)| p == m) {
            continue;
        }
        let embedded = lexalign_run::EMBEDDED_MODELS
            .iter()
            .find(|e| e.path_in(&assets.paths.cache) == *m);
        let sha = match embedded {
            // Setup checked the installed file against this pin.
            Some(e) => e.sha256.to_string(),
            None => lexalign_run::hash_path(m)?.sha256,
        };
        models.push((m.clone(), sha));
    }
    StageCache::new(
        CacheInputs {
            cache_root: assets.paths.cache.join("stages"),
            repo: &assets.paths.repo,
            reuse: !(args.fresh || args.check),
            quick: args.quick,
            torch_version: assets
                .torch_dir
                .as_deref()
                .and_then(crate::paths::torch_version),
            models,
        },
        ctx,
    )
}

/// `--model` (a path or an embedded model's name), else the default model setup installed.
fn choose_model(args: &ReproduceArgs, assets: &Assets) -> Result<PathBuf> {
    let Some(m) = &args.model else {
        return Ok(assets.model.clone().expect("setup installs the model"));
    };
    embedded_or_path(m, assets)
}

/// A path, or the name of an embedded model installed by setup.
fn embedded_or_path(m: &Path, assets: &Assets) -> Result<PathBuf> {
    let path = util::absolute(m);
    if path.exists() {
        return Ok(path);
    }
    if let Some(e) = m.to_str().and_then(lexalign_run::embedded_model) {
        return Ok(e.path_in(&assets.paths.cache));
    }
    bail!(
        "the model {} does not exist: give an HF checkpoint folder, a .gguf file or an embedded model name ({})",
        disp(&path),
        lexalign_run::embedded_model_names()
    )
}

/// One cargo call per binary, exactly as `cargo run` below selects it: building them together
/// would unify dependency features differently and `cargo run` would then rebuild.
fn build_binaries(assets: &Assets, binaries: &[&str]) -> Result<()> {
    println!("reproduce: building {}", binaries.join(", "));
    for b in binaries {
        let mut build = cargo_cmd(assets);
        build.args(["build", "--quiet", "-p", b, "--bin", b]);
        util::run_status(
            &mut build,
            &format!("building {b}"),
            "fix the build error above and run `cargo xtask reproduce` again",
        )?;
    }
    Ok(())
}

/// Run each stage into `<partial>/<stage>/`, or copy it from the stage cache when its key
/// matches; on a failure the partial run is kept as `<run>.failed`.
fn run_stages(
    args: &ReproduceArgs,
    assets: &Assets,
    ctx: &Ctx,
    stages: &[&'static Stage],
    dirs: &RunDir,
    cache: &mut StageCache,
) -> Result<Vec<StageRecord>> {
    let recorded = cache.recorded_seconds();
    let mut records = Vec::new();
    for (i, s) in stages.iter().enumerate() {
        let out = dirs.stage_path(s.name);
        let before = dir_entries(dirs.partial())?;
        let mut stage_args = (s.args)(ctx);
        if args.quick {
            stage_args.extend(s.quick_args.iter().map(OsString::from));
        }
        let key = cache.key(s, &stage_args)?;
        let t = Instant::now();
        if let Some((cached, meta)) = cache.lookup(&key) {
            cache.restore(&cached, dirs.partial())?;
            println!(
                "reproduce: stage {} from the stage cache (key {}, computed in {} s on {})",
                s.name,
                &key[..12],
                meta["seconds"],
                meta["stored"].as_str().unwrap_or("?")
            );
            records.push(StageRecord {
                stage: s.name,
                key,
                hit: true,
                seconds: t.elapsed().as_secs_f64(),
            });
            continue;
        }
        println!(
            "reproduce: stage {} -> {}{}",
            s.name,
            disp(&dirs.path().join(s.name)),
            remaining_estimate(&stages[i..], &recorded)
        );
        std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", disp(&out)))?;
        let mut cmd = cargo_cmd(assets);
        cmd.args(["run", "--quiet", "-p", s.package, "--bin", s.package, "--"])
            .args(&stage_args)
            .arg("--out")
            .arg(&out);
        let status = cmd.status();
        if !matches!(&status, Ok(st) if st.success()) {
            let kept = dirs.keep_failed();
            let why = match status {
                Ok(st) => st.to_string(),
                Err(e) => format!("could not start cargo: {e}"),
            };
            bail!(
                "stage {} failed ({why}); no run was recorded{}; fix the error above and run `cargo xtask reproduce` again",
                s.name,
                kept.map(|f| format!(" (partial outputs kept in {} for inspection)", disp(&f))).unwrap_or_default()
            );
        }
        let secs = t.elapsed().as_secs_f64();
        println!("reproduce: stage {} done in {secs:.1} s", s.name);
        // A stage may write sibling folders too (pilot-scan writes `<out>-mean-content`).
        let written: Vec<OsString> = dir_entries(dirs.partial())?
            .difference(&before)
            .cloned()
            .collect();
        cache.store(&key, s.name, dirs.partial(), &written, secs)?;
        records.push(StageRecord {
            stage: s.name,
            key,
            hit: false,
            seconds: secs,
        });
    }
    Ok(records)
}

/// The names in a folder.
fn dir_entries(dir: &Path) -> Result<std::collections::BTreeSet<OsString>> {
    let mut names = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", disp(dir)))? {
        names.insert(e?.file_name());
    }
    Ok(names)
}

/// " (about N s left ...)" from the last computed time of each remaining stage, where known.
fn remaining_estimate(
    rest: &[&'static Stage],
    recorded: &std::collections::BTreeMap<String, f64>,
) -> String {
    let known: Vec<f64> = rest
        .iter()
        .filter_map(|s| recorded.get(s.name).copied())
        .collect();
    if known.is_empty() {
        return String::new();
    }
    let unknown = rest.len() - known.len();
    format!(
        " (about {:.0} s left for this and the remaining stages, from their last computed times{})",
        known.iter().sum::<f64>(),
        if unknown > 0 {
            format!("; {unknown} without a record")
        } else {
            String::new()
        }
    )
}

/// Regenerate (or with `--check`, verify) the committed outputs from the finished run.
fn run_report(args: &ReproduceArgs, assets: &Assets, run: &Path) -> Result<()> {
    let mut cmd = cargo_cmd(assets);
    cmd.args([
        "run",
        "--quiet",
        "-p",
        REPORT_PACKAGE,
        "--bin",
        REPORT_PACKAGE,
        "--",
        "--run",
    ])
    .arg(run)
    .arg("--root")
    .arg(&assets.paths.repo);
    if args.check {
        cmd.arg("--check");
    }
    let what = if args.check {
        "checking the committed outputs against this run (lexalign-report --check)"
    } else {
        "regenerating the committed outputs (lexalign-report)"
    };
    util::run_status(
        &mut cmd,
        what,
        &format!(
            "the run itself is complete in {}; see the report's message above{}",
            disp(run),
            if args.check {
                " (run `cargo xtask reproduce` to regenerate the outputs, review and commit them)"
            } else {
                ""
            }
        ),
    )
}
