//! The experiment stages `cargo xtask reproduce` runs, in order, and the arguments each gets.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What a stage is given.
pub struct Ctx {
    pub model: PathBuf,
    /// `model`'s SHA-256, hashed once per reproduce and passed on (`--model-sha256`) so that no
    /// stage hashes an 8B checkpoint again.
    pub model_sha256: String,
    /// The multilingual model of the Korean-English / Swahili-English study (default: the
    /// embedded Gemma 3 270M) and its English-only negative control (the embedded SmolLM2).
    pub study_model: PathBuf,
    pub control_model: PathBuf,
    pub paper_data: PathBuf,
    pub device: String,
    pub threads: usize,
    /// The run folder being written (`<run>.partial`).
    pub run: PathBuf,
    /// Meta's LASER-2 files (`$LEXALIGN_LASER`, never downloaded): the study's scans and
    /// evaluations then add their LASER-2 rows and CKA tables (issue 13).
    pub laser: Option<PathBuf>,
}

/// `$LEXALIGN_LASER` when set and not empty (the name lexalign-laser reads; xtask never links tch).
pub fn laser_from_env() -> Option<PathBuf> {
    std::env::var_os("LEXALIGN_LASER")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// One experiment stage: the binary of `experiments/<package>/`, writing `<run>/<name>/`.
pub struct Stage {
    pub name: &'static str,
    pub package: &'static str,
    pub args: fn(&Ctx) -> Vec<OsString>,
    /// Appended under `--quick`.
    pub quick_args: &'static [&'static str],
}

/// The experiment stages, in order. A stage runs only where `experiments/<name>/Cargo.toml` exists.
pub const STAGES: &[Stage] = &[
    Stage {
        name: "published-data",
        package: "published-data",
        args: data_args,
        quick_args: &[],
    },
    Stage {
        name: "pilot-scan",
        package: "pilot-scan",
        args: model_args,
        quick_args: &[],
    },
    Stage {
        name: "tli-train",
        package: "tli-train",
        args: model_args,
        quick_args: &[],
    },
    Stage {
        name: "tli-eval",
        package: "tli-eval",
        args: eval_args,
        quick_args: &[],
    },
    Stage {
        name: "koen-scan",
        package: "lang-study",
        args: |c| study(c, "scan", "ko-en", &[], true),
        quick_args: &[],
    },
    Stage {
        name: "koen-tli-train-l2",
        package: "lang-study",
        args: |c| {
            study(
                c,
                "train",
                "ko-en",
                &[("--target-layer", "2".into())],
                false,
            )
        },
        quick_args: &[],
    },
    Stage {
        name: "koen-tli-train-best",
        package: "lang-study",
        args: |c| {
            study(
                c,
                "train",
                "ko-en",
                &[
                    ("--target-layer", "best".into()),
                    ("--scan", c.run.join("koen-scan").into()),
                ],
                false,
            )
        },
        quick_args: &[],
    },
    Stage {
        name: "koen-eval",
        package: "lang-study",
        args: |c| {
            let a = |s: &str| c.run.join(s).join("adapter").into_os_string();
            study(
                c,
                "eval",
                "ko-en",
                &[
                    ("--adapter", a("koen-tli-train-l2")),
                    ("--adapter", a("koen-tli-train-best")),
                ],
                false,
            )
        },
        quick_args: &[],
    },
    Stage {
        name: "swen-scan",
        package: "lang-study",
        args: |c| study(c, "scan", "sw-en", &[], true),
        quick_args: &[],
    },
    Stage {
        name: "swen-tli-train",
        package: "lang-study",
        args: |c| {
            study(
                c,
                "train",
                "sw-en",
                &[("--target-layer", "2".into())],
                false,
            )
        },
        quick_args: &[],
    },
    Stage {
        name: "authors-scripts",
        package: "lang-study",
        args: authors_args,
        quick_args: &[],
    },
    Stage {
        name: "swen-eval",
        package: "lang-study",
        args: |c| {
            study(
                c,
                "eval",
                "sw-en",
                &[(
                    "--adapter",
                    c.run.join("swen-tli-train").join("adapter").into(),
                )],
                false,
            )
        },
        quick_args: &[],
    },
];

/// Kolibri sentences (of 605) beside the 92 UDHR segments in the studies' sentence xSIM.
const E5_SENTENCES: &str = "300";

/// `lang-study <cmd> --pair P` on the study model, with the paper data (sw-en uses the paper's
/// pairs), and the English-only negative control for scans.
fn study(
    c: &Ctx,
    cmd: &str,
    pair: &str,
    extra: &[(&str, OsString)],
    control: bool,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![cmd.into(), "--pair".into(), pair.into()];
    a.extend(["--model".into(), c.study_model.clone().into_os_string()]);
    a.extend(["--paper-data".into(), c.paper_data.clone().into_os_string()]);
    a.extend([
        "--device".into(),
        c.device.clone().into(),
        "--threads".into(),
        c.threads.to_string().into(),
    ]);
    if control {
        a.extend([
            "--negative-control".into(),
            c.control_model.clone().into_os_string(),
        ]);
    }
    if matches!(cmd, "scan" | "eval") {
        // multilingual-e5-small, installed by setup, is the reference encoder (issue 29); the
        // Kolibri sentences of its sentence xSIM are capped to keep each decoder pass short.
        a.extend(["--e5-sentences".into(), E5_SENTENCES.into()]);
    }
    if let (Some(l), "scan" | "eval") = (&c.laser, cmd) {
        a.extend(["--laser".into(), l.clone().into_os_string()]);
    }
    for (k, v) in extra {
        a.push(k.into());
        a.push(v.clone());
    }
    a
}

/// `lang-study authors` (issue 28): the authors' scripts 05 and 04 on the paper recipe's model
/// with the `tli-train` adapter and on the study model with the `swen-tli-train` adapter.
fn authors_args(c: &Ctx) -> Vec<OsString> {
    let r = |s: &str, f: &str| c.run.join(s).join(f).into_os_string();
    let mut a: Vec<OsString> = vec!["authors".into()];
    a.extend(model_args(c));
    a.extend(["--adapter".into(), r("tli-train", "adapter")]);
    a.extend(["--study-model".into(), c.study_model.clone().into_os_string()]);
    a.extend(["--study-adapter".into(), r("swen-tli-train", "adapter")]);
    a.extend(["--scan".into(), c.run.join("swen-scan").into_os_string()]);
    a
}

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
        "--model-sha256".into(),
        c.model_sha256.clone().into(),
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
                .join(s.package)
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
            [
                "published-data",
                "pilot-scan",
                "tli-train",
                "tli-eval",
                "koen-scan",
                "koen-tli-train-l2",
                "koen-tli-train-best",
                "koen-eval",
                "swen-scan",
                "swen-tli-train",
                "authors-scripts",
                "swen-eval"
            ]
        );
        let c = Ctx {
            model: "/m.gguf".into(),
            model_sha256: "ab".repeat(32),
            study_model: "/g.gguf".into(),
            control_model: "/m.gguf".into(),
            paper_data: "/p".into(),
            device: "cpu".into(),
            threads: 2,
            run: "/r".into(),
            laser: None,
        };
        let eval: Vec<String> = (STAGES[3].args)(&c)
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let sha = "ab".repeat(32);
        assert_eq!(
            eval.join(" "),
            format!("--model /m.gguf --paper-data /p --device cpu --threads 2 --model-sha256 {sha} --adapter /r/tli-train/adapter")
        );
        let args = |c: &Ctx, i: usize| {
            (STAGES[i].args)(c)
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(
            !args(&c, 4).contains("--laser"),
            "no LASER-2 folder, no flag"
        );
        let authors = args(&c, 10);
        assert!(
            authors.starts_with("authors --model /m.gguf ")
                && authors.ends_with(" --adapter /r/tli-train/adapter --study-model /g.gguf --study-adapter /r/swen-tli-train/adapter --scan /r/swen-scan"),
            "{authors}"
        );
        let with = Ctx {
            laser: Some("/laser".into()),
            ..c
        };
        assert!(
            args(&with, 4)
                .ends_with("--negative-control /m.gguf --e5-sentences 300 --laser /laser"),
            "{}",
            args(&with, 4)
        );
        assert!(
            args(&with, 7).contains(" --laser /laser --adapter /r/koen-tli-train-l2/adapter"),
            "{}",
            args(&with, 7)
        );
        assert!(
            !args(&with, 5).contains("--laser") && !args(&with, 5).contains("--e5"),
            "training reads neither reference encoder"
        );
        assert!(
            args(&with, 7).contains(" --e5-sentences 300 --laser /laser --adapter "),
            "{}",
            args(&with, 7)
        );
        assert!(present_stages(&crate::paths::repo_root())
            .iter()
            .any(|s| s.name == "published-data"));
    }
}
