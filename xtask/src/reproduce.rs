//! `cargo xtask reproduce`: set up, run every experiment stage that exists, in order, into a run
//! folder with a provenance record, then regenerate (or with `--check`, verify) the committed
//! outputs. A run is built in `<run>.partial/` and renamed when every stage succeeded, so
//! `runs/<id>/` is always complete; a failed run is kept as `<run>.failed/` for inspection.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::paths;
use crate::setup::{self, Assets, SetupArgs};
use crate::util::{self, disp, json_opt, json_str};

#[derive(clap::Args, Debug, Clone)]
pub struct ReproduceArgs {
    /// Model for the model stages: an HF checkpoint folder or a .gguf file (default: the embedded SmolLM2 GGUF).
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
        }
    }
}

/// What a stage is given.
struct Ctx {
    model: PathBuf,
    paper_data: PathBuf,
    device: String,
    threads: usize,
    /// The run folder being written (`<run>.partial`).
    run: PathBuf,
}

/// One experiment stage: the package and binary `experiments/<name>/`, writing `<run>/<name>/`.
struct Stage {
    name: &'static str,
    args: fn(&Ctx) -> Vec<OsString>,
    /// Appended under `--quick`.
    quick_args: &'static [&'static str],
}

/// The experiment stages, in order. A stage runs only where `experiments/<name>/Cargo.toml` exists.
const STAGES: &[Stage] = &[
    Stage {
        name: "published-data",
        args: data_args,
        quick_args: &[],
    },
    Stage {
        name: "pilot-scan",
        args: model_args,
        quick_args: &[],
    },
    Stage {
        name: "tli-train",
        args: model_args,
        quick_args: &[],
    },
    Stage {
        name: "tli-eval",
        args: eval_args,
        quick_args: &[],
    },
];

fn data_args(c: &Ctx) -> Vec<OsString> {
    vec!["--paper-data".into(), c.paper_data.clone().into()]
}

fn model_args(c: &Ctx) -> Vec<OsString> {
    vec![
        "--model".into(),
        c.model.clone().into(),
        "--paper-data".into(),
        c.paper_data.clone().into(),
        "--device".into(),
        c.device.clone().into(),
        "--threads".into(),
        c.threads.to_string().into(),
    ]
}

fn eval_args(c: &Ctx) -> Vec<OsString> {
    let mut a = model_args(c);
    a.push("--adapter".into());
    a.push(c.run.join("tli-train").join("adapter").into());
    a
}

const REPORT_PACKAGE: &str = "lexalign-report";

/// The stages present in this checkout, in order.
fn present_stages(repo: &Path) -> Vec<&'static Stage> {
    STAGES
        .iter()
        .filter(|s| {
            repo.join("experiments")
                .join(s.name)
                .join("Cargo.toml")
                .is_file()
        })
        .collect()
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
    let paths = assets.paths.clone();
    let repo = paths.repo.clone();
    let model = match &args.model {
        Some(m) => {
            let m = util::absolute(m);
            if !m.exists() {
                bail!(
                    "the model {} does not exist: give an HF checkpoint folder or a .gguf file",
                    disp(&m)
                );
            }
            m
        }
        None => assets.model.clone().expect("setup installs the model"),
    };
    let paper_data = assets
        .paper_data
        .clone()
        .expect("setup locates the paper data");
    let stages = present_stages(&repo);
    let has_report = repo
        .join("crates")
        .join(REPORT_PACKAGE)
        .join("Cargo.toml")
        .is_file();

    // Run folder: build in `<run>.partial`, rename when complete.
    let runs = repo.join("runs");
    let final_dir = match &args.run_dir {
        Some(d) => util::absolute(d),
        None => unique_run_dir(&runs)?,
    };
    if final_dir.exists()
        && std::fs::read_dir(&final_dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!("the run folder {} already exists and is not empty: choose another --run-dir or delete it", disp(&final_dir));
    }
    let partial = sibling(&final_dir, "partial");
    let failed = sibling(&final_dir, "failed");
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("cannot remove the stale {}", disp(&partial)))?;
    }
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("cannot create {}", disp(&partial)))?;

    // Build every binary first, so a compile error stops before any stage writes anything. One
    // cargo call per binary, exactly as `cargo run` below selects it: building them together would
    // unify dependency features differently and `cargo run` would then rebuild.
    let mut binaries: Vec<&str> = stages.iter().map(|s| s.name).collect();
    if has_report {
        binaries.push(REPORT_PACKAGE);
    }
    println!("reproduce: building {}", binaries.join(", "));
    for b in &binaries {
        let mut build = cargo_cmd(&assets);
        build.args(["build", "--quiet", "-p", b, "--bin", b]);
        if let Err(e) = util::run_status(
            &mut build,
            &format!("building {b}"),
            "fix the build error above and run `cargo xtask reproduce` again",
        ) {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    }

    let ctx = Ctx {
        model: model.clone(),
        paper_data: paper_data.clone(),
        device: args.device.clone(),
        threads: args.threads,
        run: partial.clone(),
    };
    let mut timings: Vec<(&str, f64)> = Vec::new();
    write_provenance(&partial, args, &assets, &model, &paper_data, &timings)?;
    for s in &stages {
        let out = partial.join(s.name);
        std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", disp(&out)))?;
        let mut cmd = cargo_cmd(&assets);
        cmd.args(["run", "--quiet", "-p", s.name, "--bin", s.name, "--"])
            .args((s.args)(&ctx))
            .arg("--out")
            .arg(&out);
        if args.quick {
            cmd.args(s.quick_args);
        }
        println!(
            "reproduce: stage {} -> {}",
            s.name,
            disp(&final_dir.join(s.name))
        );
        let t = Instant::now();
        let status = cmd.status();
        let ok = matches!(&status, Ok(st) if st.success());
        if !ok {
            let _ = std::fs::remove_dir_all(&failed);
            let kept = std::fs::rename(&partial, &failed).is_ok();
            let why = match status {
                Ok(st) => st.to_string(),
                Err(e) => format!("could not start cargo: {e}"),
            };
            bail!(
                "stage {} failed ({why}); no run was recorded{}; fix the error above and run `cargo xtask reproduce` again",
                s.name,
                if kept { format!(" (partial outputs kept in {} for inspection)", disp(&failed)) } else { String::new() }
            );
        }
        let secs = t.elapsed().as_secs_f64();
        println!("reproduce: stage {} done in {secs:.1} s", s.name);
        timings.push((s.name, secs));
    }
    write_provenance(&partial, args, &assets, &model, &paper_data, &timings)?;
    std::fs::rename(&partial, &final_dir)
        .with_context(|| format!("cannot rename {} to {}", disp(&partial), disp(&final_dir)))?;
    if final_dir.parent() == Some(runs.as_path()) {
        if let Some(name) = final_dir.file_name() {
            util::replace_symlink(Path::new(name), &runs.join("latest"))?;
        }
    }
    println!("reproduce: run folder {}", disp(&final_dir));

    if has_report {
        let mut cmd = cargo_cmd(&assets);
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
        .arg(&final_dir)
        .arg("--root")
        .arg(&repo);
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
                disp(&final_dir),
                if args.check {
                    " (run `cargo xtask reproduce` to regenerate the outputs, review and commit them)"
                } else {
                    ""
                }
            ),
        )?;
    } else {
        println!("reproduce: crates/{REPORT_PACKAGE} does not exist yet; no outputs regenerated");
    }
    println!(
        "reproduce: finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `runs/<UTC stamp>` (with `-2`, `-3`... when taken).
fn unique_run_dir(runs: &Path) -> Result<PathBuf> {
    let stamp = util::utc_stamp();
    let mut n = 1;
    loop {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let p = runs.join(&name);
        if !p.exists() && !sibling(&p, "partial").exists() && !sibling(&p, "failed").exists() {
            return Ok(p);
        }
        n += 1;
    }
}

/// `<dir>.<suffix>` next to `dir`.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    dir.with_file_name(format!("{name}.{suffix}"))
}

fn git(repo: &Path, args: &[&str]) -> Option<String> {
    let o = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// tch's pinned version from the root Cargo.toml (`tch = "=0.24.0"`).
fn tch_version(repo: &Path) -> Option<String> {
    let text = std::fs::read_to_string(repo.join("Cargo.toml")).ok()?;
    let line = text.lines().find(|l| l.trim_start().starts_with("tch ="))?;
    let v = line.split('"').nth(1)?;
    Some(v.trim_start_matches('=').to_string())
}

/// SHA-256 of a file, or of a folder's `sha256sum`-style manifest (sorted relative paths), as
/// lexalign-run's provenance does.
fn hash_model(path: &Path, known: Option<&str>) -> Result<String> {
    if let Some(k) = known {
        return Ok(k.to_string());
    }
    if path.is_file() {
        return util::sha256_file(path);
    }
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", disp(dir)))? {
            let p = e?.path();
            if p.is_dir() {
                walk(root, &p, out)?;
            } else {
                out.push(
                    p.strip_prefix(root)
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(path, path, &mut files)?;
    files.sort();
    let mut manifest = String::new();
    for f in files {
        manifest.push_str(&format!("{}  {f}\n", util::sha256_file(&path.join(&f))?));
    }
    use sha2::Digest;
    Ok(sha2::Sha256::digest(manifest.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The run's top-level `provenance.json`, in lexalign-run's `Provenance` schema.
fn write_provenance(
    dir: &Path,
    args: &ReproduceArgs,
    assets: &Assets,
    model: &Path,
    paper_data: &Path,
    timings: &[(&str, f64)],
) -> Result<()> {
    let repo = &assets.paths.repo;
    let commit = git(repo, &["rev-parse", "HEAD"]).map(|s| s.trim().to_string());
    let dirty = commit
        .as_ref()
        .and_then(|_| git(repo, &["status", "--porcelain"]))
        .map(|s| !s.trim().is_empty());
    let known = (Some(model) == assets.model.as_deref()).then_some(paths::MODEL_SHA256);
    let model_sha = hash_model(model, known)?;
    let sums_path = assets.paths.paper_sums();
    let sums = util::parse_sums(&std::fs::read_to_string(&sums_path)?, &disp(&sums_path))?;
    let data: Vec<String> = sums
        .iter()
        .map(|(rel, h)| {
            format!(
                "{{\"path\": {}, \"sha256\": {}}}",
                json_str(&disp(&paper_data.join(rel))),
                json_str(h)
            )
        })
        .collect();
    let mut versions = Vec::new();
    if let Some(t) = assets.torch_dir.as_deref().and_then(paths::torch_version) {
        versions.push(format!("\"torch\": {}", json_str(&t)));
    }
    if let Some(t) = tch_version(repo) {
        versions.push(format!("\"tch\": {}", json_str(&t)));
    }
    let cmdline: Vec<String> = std::env::args().map(|a| json_str(&a)).collect();
    let stages: Vec<String> = timings
        .iter()
        .map(|(n, s)| format!("{{\"stage\": {}, \"seconds\": {:.1}}}", json_str(n), s))
        .collect();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let os = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    let json = format!(
        "{{\n  \"stage\": \"reproduce\",\n  \"git_commit\": {},\n  \"git_dirty\": {},\n  \"timestamp_utc\": {},\n  \"command_line\": [{}],\n  \
         \"lexalign_version\": {},\n  \"versions\": {{{}}},\n  \"model\": {{\"path\": {}, \"sha256\": {}}},\n  \"data_files\": [{}],\n  \
         \"device\": {},\n  \"dtype\": null,\n  \"quant\": null,\n  \"seed\": null,\n  \"threads\": {},\n  \"hostname\": {},\n  \"os\": {},\n  \
         \"settings\": {{\"check\": {}, \"quick\": {}, \"stages_completed\": [{}]}}\n}}\n",
        json_str(commit.as_deref().unwrap_or("unknown")),
        dirty.map(|d| d.to_string()).unwrap_or_else(|| "null".into()),
        json_str(&util::utc_rfc3339()),
        cmdline.join(", "),
        json_str(env!("CARGO_PKG_VERSION")),
        versions.join(", "),
        json_str(&disp(model)),
        json_str(&model_sha),
        data.join(", "),
        json_opt(Some(&args.device)),
        args.threads,
        json_str(&hostname),
        json_str(&os),
        args.check,
        args.quick,
        stages.join(", "),
    );
    util::write_atomic(&dir.join("provenance.json"), json.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_table_order_and_args() {
        let names: Vec<_> = STAGES.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            ["published-data", "pilot-scan", "tli-train", "tli-eval"]
        );
        let c = Ctx {
            model: "/m.gguf".into(),
            paper_data: "/p".into(),
            device: "cpu".into(),
            threads: 2,
            run: "/r".into(),
        };
        let eval: Vec<String> = (STAGES[3].args)(&c)
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(eval.join(" "), "--model /m.gguf --paper-data /p --device cpu --threads 2 --adapter /r/tli-train/adapter");
        assert!(present_stages(&paths::repo_root())
            .iter()
            .any(|s| s.name == "published-data"));
    }

    #[test]
    fn run_dir_names() {
        assert_eq!(
            sibling(Path::new("/x/runs/20250101-000000"), "partial"),
            PathBuf::from("/x/runs/20250101-000000.partial")
        );
        let tmp = std::env::temp_dir().join(format!("xtask-runs-{}", std::process::id()));
        let a = unique_run_dir(&tmp).unwrap();
        std::fs::create_dir_all(sibling(&a, "failed")).unwrap();
        let b = unique_run_dir(&tmp).unwrap();
        assert_ne!(a, b);
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn tch_version_from_manifest() {
        assert_eq!(tch_version(&paths::repo_root()).as_deref(), Some("0.24.0"));
    }
}
