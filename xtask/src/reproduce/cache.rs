//! The stage cache of `cargo xtask reproduce` (issue 33): a stage whose key matches an earlier
//! finished run is copied from `<cache>/stages/<key>/` instead of being run again, so a second
//! run with nothing changed costs a copy, and an interrupted run resumes at the first stage that
//! had not finished.
//!
//! Why a key of everything, not timestamps: a stage's outputs are a function of its settings, its
//! inputs and its code. The key is the SHA-256 of a JSON record of
//! - the stage's name, package and arguments, with every path replaced by what identifies its
//!   content: a model by its SHA-256, the paper data by the committed `paper/*.sha256` files (setup
//!   checks the data against them), another stage's output folder by that stage's key;
//! - the code: every source file of the stage's package and of each workspace crate it depends
//!   on (tests, benches and examples left out), `Cargo.lock` and the root `Cargo.toml` (profiles);
//! - the toolchain (`rustc -V`), libtorch's version, the device and thread count, `--quick`.
//!
//! `--fresh` and `--check` ignore what is cached (check recomputes every stage it checks); both
//! still store what they computed.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::stages::{Ctx, Stage};
use crate::util::disp;

/// The file in a cache entry that marks it complete and records where it came from.
const ENTRY_FILE: &str = "cache-entry.json";
/// Bump when the key's record or an entry's layout changes, so old entries are never matched.
const KEY_SCHEMA: u32 = 2;

/// How one stage was obtained in this run (recorded in the run's provenance).
#[derive(Debug, Clone)]
pub struct StageRecord {
    pub stage: &'static str,
    pub key: String,
    pub hit: bool,
    pub seconds: f64,
}

impl StageRecord {
    pub fn to_json(&self) -> Value {
        json!({
            "stage": self.stage,
            "key": self.key,
            "cache": if self.hit { "hit" } else { "computed" },
            "seconds": (self.seconds * 10.0).round() / 10.0,
        })
    }
}

/// Everything the keys are made from that does not change between stages, plus the keys so far.
pub struct StageCache {
    root: PathBuf,
    reuse: bool,
    common: Value,
    /// Path prefix -> what identifies its content, longest first.
    substitutions: Vec<(PathBuf, String)>,
    run: PathBuf,
    code: BTreeMap<String, String>,
    keys: BTreeMap<&'static str, String>,
}

/// What the cache needs to know of the run besides the stage context.
pub struct CacheInputs<'a> {
    pub cache_root: PathBuf,
    pub repo: &'a Path,
    pub reuse: bool,
    pub quick: bool,
    pub torch_version: Option<String>,
    /// (path, SHA-256) of each model file the stages may be given.
    pub models: Vec<(PathBuf, String)>,
}

impl StageCache {
    pub fn new(inputs: CacheInputs, ctx: &Ctx) -> Result<Self> {
        let repo = inputs.repo;
        let mut substitutions: Vec<(PathBuf, String)> = inputs
            .models
            .iter()
            .map(|(p, sha)| (p.clone(), format!("model:{sha}")))
            .collect();
        substitutions.push((ctx.paper_data.clone(), "paper-data".into()));
        if let Some(l) = &ctx.laser {
            let h = lexalign_run::hash_path(l)
                .with_context(|| format!("hashing the LASER-2 folder {}", disp(l)))?;
            substitutions.push((l.clone(), format!("laser:{}", h.sha256)));
        }
        substitutions.sort_by_key(|(p, _)| std::cmp::Reverse(p.as_os_str().len()));
        let common = json!({
            "schema": KEY_SCHEMA,
            "data_sums": data_sums(repo)?,
            "lock": sha_of(&repo.join("Cargo.lock"))?,
            "workspace_manifest": sha_of(&repo.join("Cargo.toml"))?,
            "rustc": rustc_version(),
            "torch": inputs.torch_version,
            "device": ctx.device,
            "threads": ctx.threads,
            "quick": inputs.quick,
        });
        Ok(Self {
            root: inputs.cache_root,
            reuse: inputs.reuse,
            common,
            substitutions,
            run: ctx.run.clone(),
            code: package_code_hashes(repo)?,
            keys: BTreeMap::new(),
        })
    }

    /// The stage's key for these arguments; remembered so later stages can name its outputs.
    pub fn key(&mut self, stage: &Stage, args: &[OsString]) -> Result<String> {
        let args: Vec<String> = args
            .iter()
            .map(|a| self.identify(a))
            .collect::<Result<_>>()?;
        let code = self.code.get(stage.package).with_context(|| {
            format!(
                "the stage {} runs package {}, which cargo metadata does not list",
                stage.name, stage.package
            )
        })?;
        let record = json!({
            "common": self.common,
            "stage": stage.name,
            "package": stage.package,
            "args": args,
            "code": code,
        });
        let key = lexalign_run::sha256_bytes(serde_json::to_vec(&record)?);
        self.keys.insert(stage.name, key.clone());
        Ok(key)
    }

    /// An argument with its path replaced by what identifies the path's content.
    fn identify(&self, arg: &OsString) -> Result<String> {
        let text = arg.to_string_lossy().into_owned();
        let path = Path::new(arg);
        if let Ok(rest) = path.strip_prefix(&self.run) {
            let mut parts = rest.components();
            let stage = parts
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(key) = self.keys.get(stage.as_str()) else {
                bail!("the argument {text} names the output of stage {stage:?}, which has not run before it");
            };
            return Ok(format!("stage:{key}/{}", parts.as_path().display()));
        }
        for (prefix, id) in &self.substitutions {
            if let Ok(rest) = path.strip_prefix(prefix) {
                return Ok(format!("{id}/{}", rest.display()));
            }
        }
        Ok(text)
    }

    /// The complete cache entry for `key`, when reuse is allowed and there is one.
    pub fn lookup(&self, key: &str) -> Option<(PathBuf, Value)> {
        if !self.reuse {
            return None;
        }
        let dir = self.entry_dir(key);
        let text = std::fs::read_to_string(dir.join(ENTRY_FILE)).ok()?;
        let meta: Value = serde_json::from_str(&text).ok()?;
        Some((dir.join("out"), meta))
    }

    /// Copy a cached stage's outputs (its folder and any sibling folders it wrote, such as
    /// `pilot-scan-mean-content`) into the run folder.
    pub fn restore(&self, cached: &Path, run: &Path) -> Result<()> {
        copy_tree(cached, run)
    }

    /// Store a computed stage's outputs under its key (built beside, then swapped in whole):
    /// `written` names every entry of the run folder the stage created.
    pub fn store(
        &self,
        key: &str,
        stage: &str,
        run: &Path,
        written: &[OsString],
        seconds: f64,
    ) -> Result<()> {
        let dest = self.entry_dir(key);
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create the stage cache {}", disp(&self.root)))?;
        let tmp = lexalign_run::temp_dir_beside(&dest)?;
        for name in written {
            let from = run.join(name);
            if from.is_dir() {
                copy_tree(&from, &tmp.join("out").join(name))?;
            } else {
                std::fs::create_dir_all(tmp.join("out"))?;
                std::fs::copy(&from, tmp.join("out").join(name))
                    .with_context(|| format!("cannot copy {} into the stage cache", disp(&from)))?;
            }
        }
        let meta = json!({
            "stage": stage,
            "key": key,
            "entries": written.iter().map(|n| n.to_string_lossy()).collect::<Vec<_>>(),
            "seconds": (seconds * 10.0).round() / 10.0,
            "stored": lexalign_run::utc_rfc3339(),
        });
        lexalign_run::write_atomic(tmp.join(ENTRY_FILE), serde_json::to_vec_pretty(&meta)?)?;
        lexalign_run::swap_dir(&tmp, &dest)?;
        self.remember_seconds(stage, seconds)
    }

    fn entry_dir(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The last computed time of each stage, for the remaining-time estimate.
    pub fn recorded_seconds(&self) -> BTreeMap<String, f64> {
        std::fs::read_to_string(self.root.join("timings.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    fn remember_seconds(&self, stage: &str, seconds: f64) -> Result<()> {
        let mut all = self.recorded_seconds();
        all.insert(stage.to_string(), (seconds * 10.0).round() / 10.0);
        lexalign_run::write_atomic(
            self.root.join("timings.json"),
            serde_json::to_vec_pretty(&all)?,
        )
    }
}

/// The SHA-256 of a file, named in the error.
fn sha_of(path: &Path) -> Result<String> {
    lexalign_run::sha256_file(path)
        .with_context(|| format!("hashing {} for the stage cache key", disp(path)))
}

/// Each committed `paper/*.sha256` file's hash: the data a stage reads is checked against them.
fn data_sums(repo: &Path) -> Result<BTreeMap<String, String>> {
    let dir = repo.join("paper");
    let mut sums = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", disp(&dir)))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sha256") {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            sums.insert(name, sha_of(&path)?);
        }
    }
    Ok(sums)
}

fn rustc_version() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// For every workspace package, a hash of its own sources and those of every workspace crate it
/// depends on (normal and build dependencies; tests do not change a stage's outputs).
fn package_code_hashes(repo: &Path) -> Result<BTreeMap<String, String>> {
    let out = std::process::Command::new(super::cargo())
        .current_dir(repo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .context("could not run `cargo metadata` for the stage cache key")?;
    if !out.status.success() {
        bail!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: Value = serde_json::from_slice(&out.stdout).context("parsing `cargo metadata`")?;
    let packages = workspace_packages(&meta);
    let own: BTreeMap<String, String> = packages
        .iter()
        .map(|(name, (dir, _))| Ok((name.clone(), hash_sources(dir)?)))
        .collect::<Result<_>>()?;
    let mut hashes = BTreeMap::new();
    for name in packages.keys() {
        let closure = closure(name, &packages);
        let joined: Vec<String> = closure.iter().map(|n| format!("{n}:{}", own[n])).collect();
        hashes.insert(name.clone(), lexalign_run::sha256_bytes(joined.join("\n")));
    }
    Ok(hashes)
}

type Packages = BTreeMap<String, (PathBuf, Vec<String>)>;

/// name -> (folder, workspace dependencies that are not dev-dependencies).
fn workspace_packages(meta: &Value) -> Packages {
    let empty = Vec::new();
    let mut packages = Packages::new();
    for p in meta["packages"].as_array().unwrap_or(&empty) {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap_or_default());
        let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
        let deps = p["dependencies"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter(|d| d["path"].is_string() && d["kind"].as_str() != Some("dev"))
            .filter_map(|d| d["name"].as_str().map(str::to_string))
            .collect();
        packages.insert(name, (dir, deps));
    }
    packages
}

/// The package and every workspace package it reaches, sorted.
fn closure(name: &str, packages: &Packages) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(n) = todo.pop() {
        if packages.contains_key(&n) && seen.insert(n.clone()) {
            todo.extend(packages[&n].1.iter().cloned());
        }
    }
    seen
}

/// Folders of a package that do not change what its binaries compute.
const NOT_CODE: &[&str] = &["tests", "benches", "examples", "target", "fixtures"];

/// SHA-256 over the sorted (relative path, file SHA-256) list of a package's source files. The
/// root package (the repository itself) counts only its manifest and `src/`.
fn hash_sources(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    if dir.join("xtask").is_dir() && dir.join("crates").is_dir() {
        files.push(dir.join("Cargo.toml"));
        collect_files(&dir.join("src"), &mut files)?;
    } else {
        collect_files(dir, &mut files)?;
    }
    files.sort();
    let mut listing = String::new();
    for f in &files {
        let rel = f.strip_prefix(dir).unwrap_or(f);
        listing.push_str(&format!("{}  {}\n", sha_of(f)?, rel.display()));
    }
    Ok(lexalign_run::sha256_bytes(listing))
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", disp(dir)))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            if !NOT_CODE.contains(&name.as_str()) {
                collect_files(&path, files)?;
            }
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Copy a folder tree (files and folders; links are copied as what they point to).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", disp(to)))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("cannot list {}", disp(from)))? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("cannot copy {} to {}", disp(&src), disp(&dst)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkgs(rows: &[(&str, &[&str])]) -> Packages {
        rows.iter()
            .map(|(n, d)| {
                (
                    n.to_string(),
                    (PathBuf::from(n), d.iter().map(|s| s.to_string()).collect()),
                )
            })
            .collect()
    }

    fn cache_for(run: &str, model_sha: &str) -> StageCache {
        StageCache {
            root: PathBuf::from("/c"),
            reuse: true,
            common: json!({"schema": KEY_SCHEMA}),
            substitutions: vec![
                (PathBuf::from("/m/g.gguf"), format!("model:{model_sha}")),
                (PathBuf::from("/p"), "paper-data".into()),
            ],
            run: PathBuf::from(run),
            code: [("lang-study".to_string(), "code".to_string())].into(),
            keys: BTreeMap::new(),
        }
    }

    const SCAN: Stage = Stage {
        name: "koen-scan",
        package: "lang-study",
        args: |_| vec![],
        quick_args: &[],
    };
    const TRAIN: Stage = Stage {
        name: "koen-train",
        package: "lang-study",
        args: |_| vec![],
        quick_args: &[],
    };

    fn keys(c: &mut StageCache, run: &str) -> (String, String) {
        let scan = c
            .key(
                &SCAN,
                &[
                    "--model".into(),
                    "/m/g.gguf".into(),
                    "--paper-data".into(),
                    "/p".into(),
                ],
            )
            .unwrap();
        let train = c
            .key(
                &TRAIN,
                &["--scan".into(), format!("{run}/koen-scan").into()],
            )
            .unwrap();
        (scan, train)
    }

    #[test]
    fn keys_name_contents_not_paths() {
        let (a_scan, a_train) = keys(&mut cache_for("/runs/a", "11"), "/runs/a");
        let (b_scan, b_train) = keys(&mut cache_for("/runs/b", "11"), "/runs/b");
        assert_eq!(
            (&a_scan, &a_train),
            (&b_scan, &b_train),
            "another run folder, the same keys"
        );
        let (c_scan, c_train) = keys(&mut cache_for("/runs/a", "22"), "/runs/a");
        assert_ne!(a_scan, c_scan, "another model, another key");
        assert_ne!(
            a_train, c_train,
            "a stage reading a changed stage's outputs changes too"
        );
        let mut c = cache_for("/runs/a", "11");
        let err = c
            .key(&TRAIN, &["--scan".into(), "/runs/a/koen-scan".into()])
            .unwrap_err();
        assert!(err.to_string().contains("has not run before it"), "{err}");
    }

    #[test]
    fn closure_follows_workspace_dependencies_only() {
        let p = pkgs(&[
            ("a", &["b", "serde"]),
            ("b", &["c"]),
            ("c", &[]),
            ("d", &["a"]),
        ]);
        let c: Vec<_> = closure("a", &p).into_iter().collect();
        assert_eq!(c, ["a", "b", "c"]);
        assert_eq!(closure("d", &p).len(), 4);
    }

    #[test]
    fn source_hash_ignores_tests_and_sees_every_source_change() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("src")).unwrap();
        std::fs::create_dir_all(d.join("tests")).unwrap();
        std::fs::write(d.join("Cargo.toml"), "[package]").unwrap();
        std::fs::write(d.join("src/lib.rs"), "fn a() {}").unwrap();
        let h0 = hash_sources(d).unwrap();
        std::fs::write(d.join("tests/t.rs"), "#[test] fn t() {}").unwrap();
        assert_eq!(
            hash_sources(d).unwrap(),
            h0,
            "a test file does not change the outputs"
        );
        std::fs::write(d.join("src/lib.rs"), "fn a() { }").unwrap();
        assert_ne!(
            hash_sources(d).unwrap(),
            h0,
            "a source edit changes the key"
        );
        std::fs::write(d.join("src/lib.rs"), "fn a() {}").unwrap();
        std::fs::write(d.join("src/new.rs"), "").unwrap();
        assert_ne!(
            hash_sources(d).unwrap(),
            h0,
            "a new source file changes the key"
        );
    }

    #[test]
    fn copy_tree_copies_nested_folders() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir_all(a.join("x/y")).unwrap();
        std::fs::write(a.join("x/y/f.txt"), "1").unwrap();
        std::fs::write(a.join("g.txt"), "2").unwrap();
        copy_tree(&a, &dir.path().join("b")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b/x/y/f.txt")).unwrap(),
            "1"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b/g.txt")).unwrap(),
            "2"
        );
    }
}
