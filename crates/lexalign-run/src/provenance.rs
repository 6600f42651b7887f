//! `provenance.json`: what produced a run folder (code, inputs, settings, machine), so a result
//! can be traced back and re-run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::fsutil::write_atomic;
use crate::hash::hash_path;
pub use crate::hash::FileHash;
use crate::time::utc_rfc3339;

/// File name of the record inside a stage folder.
pub const PROVENANCE_FILE: &str = "provenance.json";

/// The provenance record. Build with [`Provenance::collect`] and the setters, then [`Provenance::write`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Stage or tool name (e.g. `pilot-scan`).
    pub stage: Option<String>,
    /// `git rev-parse HEAD`, or `unknown` outside a git checkout / without git.
    pub git_commit: String,
    /// Uncommitted changes present (`git status --porcelain` non-empty); `None` when unknown.
    pub git_dirty: Option<bool>,
    /// Start time, RFC 3339 UTC.
    pub timestamp_utc: String,
    pub command_line: Vec<String>,
    pub lexalign_version: String,
    /// Other component versions given by the caller (`tch`, `torch`, ...).
    pub versions: BTreeMap<String, String>,
    pub model: Option<FileHash>,
    pub data_files: Vec<FileHash>,
    pub device: Option<String>,
    pub dtype: Option<String>,
    pub quant: Option<String>,
    pub seed: Option<u64>,
    pub threads: Option<usize>,
    pub hostname: String,
    pub os: String,
    /// Free-form stage settings (hyper-parameters etc.).
    pub settings: BTreeMap<String, serde_json::Value>,
}

impl Provenance {
    /// Capture git state (of the current directory), time, command line, host and OS.
    pub fn collect() -> Self {
        let (git_commit, git_dirty) = git_state(Path::new("."));
        Self {
            stage: None,
            git_commit,
            git_dirty,
            timestamp_utc: utc_rfc3339(),
            command_line: std::env::args().collect(),
            lexalign_version: env!("CARGO_PKG_VERSION").to_string(),
            versions: BTreeMap::new(),
            model: None,
            data_files: Vec::new(),
            device: None,
            dtype: None,
            quant: None,
            seed: None,
            threads: None,
            hostname: hostname(),
            os: os_description(),
            settings: BTreeMap::new(),
        }
    }

    pub fn stage(mut self, name: impl Into<String>) -> Self {
        self.stage = Some(name.into());
        self
    }

    /// Record a component version, e.g. `.version("tch", "0.24.0")`.
    pub fn version(mut self, component: impl Into<String>, version: impl Into<String>) -> Self {
        self.versions.insert(component.into(), version.into());
        self
    }

    pub fn tch_version(self, v: impl Into<String>) -> Self {
        self.version("tch", v)
    }

    pub fn torch_version(self, v: impl Into<String>) -> Self {
        self.version("torch", v)
    }

    /// Record the model and hash it. A folder (HF checkpoint) is hashed as the SHA-256 of its
    /// `sha256sum`-style manifest (`<hash>  <relative path>` lines, sorted by path).
    pub fn model(mut self, path: impl AsRef<Path>) -> Result<Self> {
        self.model = Some(hash_path(path.as_ref())?);
        Ok(self)
    }

    /// Record the model with a hash the caller already computed.
    pub fn model_hashed(mut self, path: impl AsRef<Path>, sha256: impl Into<String>) -> Self {
        self.model = Some(FileHash {
            path: display(path.as_ref()),
            sha256: sha256.into(),
        });
        self
    }

    /// Add an input data file and hash it.
    pub fn data_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        self.data_files.push(hash_path(path.as_ref())?);
        Ok(self)
    }

    /// Add an input data file with a hash the caller already computed.
    pub fn data_file_hashed(mut self, path: impl AsRef<Path>, sha256: impl Into<String>) -> Self {
        self.data_files.push(FileHash {
            path: display(path.as_ref()),
            sha256: sha256.into(),
        });
        self
    }

    pub fn device(mut self, v: impl Into<String>) -> Self {
        self.device = Some(v.into());
        self
    }

    pub fn dtype(mut self, v: impl Into<String>) -> Self {
        self.dtype = Some(v.into());
        self
    }

    pub fn quant(mut self, v: impl Into<String>) -> Self {
        self.quant = Some(v.into());
        self
    }

    pub fn seed(mut self, v: u64) -> Self {
        self.seed = Some(v);
        self
    }

    pub fn threads(mut self, v: usize) -> Self {
        self.threads = Some(v);
        self
    }

    /// Record a stage setting (anything serde can serialise).
    pub fn setting(mut self, key: impl Into<String>, value: impl Serialize) -> Result<Self> {
        let key = key.into();
        let value =
            serde_json::to_value(value).with_context(|| format!("provenance setting {key}"))?;
        self.settings.insert(key, value);
        Ok(self)
    }

    /// Write `<dir>/provenance.json` atomically (pretty JSON) and return its path.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<PathBuf> {
        let path = dir.as_ref().join(PROVENANCE_FILE);
        let mut json = serde_json::to_string_pretty(self).context("serialising provenance")?;
        json.push('\n');
        write_atomic(&path, json)?;
        Ok(path)
    }

    /// Read a record back (e.g. for the report).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid provenance record", path.display()))
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

fn run_git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// (commit, dirty) of the checkout containing `dir`; (`unknown`, None) without git.
fn git_state(dir: &Path) -> (String, Option<bool>) {
    match run_git(dir, &["rev-parse", "HEAD"]) {
        Some(commit) => {
            let dirty = run_git(dir, &["status", "--porcelain"]).map(|s| !s.trim().is_empty());
            (commit.trim().to_string(), dirty)
        }
        None => ("unknown".to_string(), None),
    }
}

fn hostname() -> String {
    let from_file = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    from_file
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| {
            Command::new("hostname")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// `linux x86_64 (Ubuntu 22.04.4 LTS)`: OS/arch from std, distribution from /etc/os-release.
fn os_description() -> String {
    let base = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    match pretty {
        Some(p) => format!("{base} ({p})"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_bytes;

    #[test]
    fn round_trip_with_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("pairs.json");
        std::fs::write(&data, "abc").unwrap();
        let model = dir.path().join("model");
        std::fs::create_dir(&model).unwrap();
        std::fs::write(model.join("config.json"), "{}").unwrap();
        let p = Provenance::collect()
            .stage("unit")
            .tch_version("0.24.0")
            .torch_version("2.11.0")
            .model(&model)
            .unwrap()
            .data_file(&data)
            .unwrap()
            .device("cpu")
            .dtype("f32")
            .quant("q4_1")
            .seed(42)
            .threads(2)
            .setting("lr", 2e-4)
            .unwrap();
        assert_eq!(
            p.data_files[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let manifest = format!("{}  config.json\n", sha256_bytes("{}"));
        assert_eq!(p.model.as_ref().unwrap().sha256, sha256_bytes(manifest));
        assert!(p.timestamp_utc.ends_with('Z'));
        assert!(!p.git_commit.is_empty());
        let out = p.write(dir.path()).unwrap();
        assert_eq!(out, dir.path().join(PROVENANCE_FILE));
        let back = Provenance::read(&out).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.versions["torch"], "2.11.0");
    }

    #[test]
    fn outside_git_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let (commit, dirty) = git_state(dir.path());
        // A temp folder is not inside a checkout (unless TMPDIR is one, which we do not expect).
        if commit == "unknown" {
            assert_eq!(dirty, None);
        }
    }

    #[test]
    fn missing_model_names_path() {
        let err = Provenance::collect()
            .model("/definitely/not/here.gguf")
            .unwrap_err();
        assert!(format!("{err:#}").contains("/definitely/not/here.gguf"));
    }
}
