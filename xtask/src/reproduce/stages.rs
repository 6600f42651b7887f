//! The experiment stages `cargo xtask reproduce` runs, in order, and the arguments each gets.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What a stage is given.
pub struct Ctx {
    pub model: PathBuf,
    pub paper_data: PathBuf,
    pub device: String,
    pub threads: usize,
    /// The run folder being written (`<run>.partial`).
    pub run: PathBuf,
}

/// One experiment stage: the package and binary `experiments/<name>/`, writing `<run>/<name>/`.
pub struct Stage {
    pub name: &'static str,
    pub args: fn(&Ctx) -> Vec<OsString>,
    /// Appended under `--quick`.
    pub quick_args: &'static [&'static str],
}

/// The experiment stages, in order. A stage runs only where `experiments/<name>/Cargo.toml` exists.
pub const STAGES: &[Stage] = &[
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

pub const REPORT_PACKAGE: &str = "lexalign-report";

/// The stages present in this checkout, in order.
pub fn present_stages(repo: &Path) -> Vec<&'static Stage> {
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
        assert!(present_stages(&crate::paths::repo_root())
            .iter()
            .any(|s| s.name == "published-data"));
    }
}
