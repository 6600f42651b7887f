//! Where things live: the repository, the cache folder and the assets inside it.

use std::path::{Path, PathBuf};

use anyhow::Result;

/// The authors' repository and the commit whose data the paper reports.
pub const PAPER_REPO: &str = "StanNgugi/tli_project";
pub const PAPER_COMMIT: &str = "e158b764740d27effd1250b00bbf543690c0fe56";
/// Default base URL of the paper-data download (files are fetched as `<base>/<path>`).
pub fn default_paper_url() -> String {
    format!("https://raw.githubusercontent.com/{PAPER_REPO}/{PAPER_COMMIT}")
}

/// Environment variables read or exported by xtask.
pub use lexalign_run::ENV_CACHE;
pub const ENV_PAPER_DATA: &str = "LEXALIGN_PAPER_DATA";
pub const ENV_PAPER_URL: &str = "LEXALIGN_PAPER_DATA_URL";
/// The default model file, exported to the binaries (`lexalign_gguf::locate` reads it).
pub const ENV_MODEL: &str = "LEXALIGN_MODEL_GGUF";
pub const ENV_PYTHON: &str = "LEXALIGN_PYTHON";

/// The repository root (xtask sits one level below it).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Everything below the repository and the cache.
#[derive(Debug, Clone)]
pub struct Paths {
    pub repo: PathBuf,
    pub cache: PathBuf,
}

impl Paths {
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            repo: repo_root(),
            // The one cache rule, shared with the binaries that read what setup installs.
            cache: lexalign_run::cache_dir()?,
        })
    }

    pub fn venv(&self) -> PathBuf {
        self.cache.join("torch-venv")
    }

    pub fn venv_python(&self) -> PathBuf {
        self.venv().join("bin").join("python")
    }

    /// Downloaded wheels (torch, CUDA runtime, models), so a deleted venv re-installs offline.
    pub fn wheels(&self) -> PathBuf {
        self.cache.join("wheels")
    }

    /// Where downloaded paper data goes (`.../tli_project/data/word_pairs.json` etc.).
    pub fn paper_cache(&self) -> PathBuf {
        self.cache
            .join("paper-data")
            .join(PAPER_COMMIT)
            .join("tli_project")
    }

    /// The shared copy next to the repository.
    pub fn paper_shared(&self) -> PathBuf {
        self.repo
            .join("..")
            .join("shared")
            .join("paper-data")
            .join("tli_project")
    }

    pub fn paper_sums(&self) -> PathBuf {
        self.repo.join("paper").join("paper-data.sha256")
    }

    pub fn libtorch_requirements(&self) -> PathBuf {
        self.repo.join("xtask").join("requirements-libtorch.txt")
    }

    pub fn model_requirements(&self) -> PathBuf {
        self.repo.join("xtask").join("requirements-model.txt")
    }

    /// The symlink `.cargo/config.toml` points LIBTORCH at.
    pub fn libtorch_link(&self) -> PathBuf {
        self.repo.join(".libtorch")
    }
}

/// The wheel's `torch/` folder inside a venv (`lib/python3.X/site-packages/torch`), if installed.
pub fn find_torch_dir(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join("site-packages").join("torch"))
        .filter(|t| t.join("lib").join("libtorch_cpu.so").is_file())
        .collect();
    found.sort();
    found.pop()
}

/// `__version__` from the wheel's `torch/version.py` (e.g. `2.11.0+cu130`).
pub fn torch_version(torch_dir: &Path) -> Option<String> {
    version_py_field(torch_dir, "__version__")
}

/// A `name = '...'` field of `torch/version.py` (`None` when absent or `None`).
pub fn version_py_field(torch_dir: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(torch_dir.join("version.py")).ok()?;
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        if !rest.starts_with([' ', ':', '=']) {
            return None;
        }
        let rest = rest.trim_start();
        let rest = rest
            .strip_prefix(':')
            .map(|r| r.split_once('=').map(|x| x.1).unwrap_or(r))
            .unwrap_or(rest);
        let rest = rest.trim_start().strip_prefix('=').unwrap_or(rest).trim();
        let v = rest.trim_matches(|c| c == '\'' || c == '"');
        (v != "None" && !v.is_empty()).then(|| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn asset_paths() {
        let p = Paths {
            repo: "/r".into(),
            cache: "/c".into(),
        };
        assert_eq!(p.venv(), PathBuf::from("/c/torch-venv"));
        assert_eq!(
            p.paper_cache(),
            PathBuf::from(format!("/c/paper-data/{PAPER_COMMIT}/tli_project"))
        );
        assert_eq!(
            p.paper_shared(),
            PathBuf::from("/r/../shared/paper-data/tli_project")
        );
        assert!(repo_root().join("xtask").join("Cargo.toml").is_file());
    }

    #[test]
    fn torch_dir_is_found_by_glob() {
        let dir = std::env::temp_dir().join(format!("xtask-glob-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(find_torch_dir(&dir), None);
        let torch = dir.join("lib/python3.12/site-packages/torch");
        std::fs::create_dir_all(torch.join("lib")).unwrap();
        assert_eq!(find_torch_dir(&dir), None, "no libtorch_cpu.so yet");
        std::fs::write(torch.join("lib/libtorch_cpu.so"), "").unwrap();
        std::fs::write(torch.join("version.py"), "__version__ = '2.11.0+cu130'\ncuda: Optional[str] = '13.0'\nhip: Optional[str] = None\n").unwrap();
        assert_eq!(find_torch_dir(&dir), Some(torch.clone()));
        assert_eq!(torch_version(&torch).as_deref(), Some("2.11.0+cu130"));
        assert_eq!(version_py_field(&torch, "cuda").as_deref(), Some("13.0"));
        assert_eq!(version_py_field(&torch, "hip"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
