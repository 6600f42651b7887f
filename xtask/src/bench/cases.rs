//! What `cargo xtask bench` runs (the cases, each as lexalign and anchor processes) and the page
//! it writes from their lines.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::peak;
use super::report::{fit_linear, mib, show_ratio, table, target, Line, Runs};
use super::BenchArgs;
use crate::paths::Paths;

/// The hidden state of the "best layer" TLI case: Gemma 3 270M's koen-scan best layer (centred
/// CSLS P@1); SmolLM2 is English-only and has none, so the middle of its 30 blocks.
fn best_layer(model: &str) -> usize {
    if model.starts_with("gemma3") {
        12
    } else {
        15
    }
}

/// One process to run.
#[derive(Debug, Clone)]
pub struct Run {
    pub model: String,
    pub case: String,
    pub variant: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub threads: usize,
}

pub struct Model {
    pub name: String,
    pub file: PathBuf,
    pub sha256: String,
}

pub struct Plan {
    args: BenchArgs,
    repo: PathBuf,
    bin: PathBuf,
    python: Option<PathBuf>,
    /// `import torch, transformers, peft` versions, when the anchors run.
    pub python_versions: Option<String>,
    work: PathBuf,
    pub models: Vec<Model>,
}

const CASES: [&str; 7] = [
    "scan-pairs",
    "scan-metrics",
    "scan-words",
    "tli-l2",
    "tli-best",
    "generate",
    "peak",
];
const SCALING_WORDS: [usize; 3] = [1_000, 10_000, 100_000];
/// Blocks run in the scaling-by-blocks runs (hidden states 0..=n of the large word file).
const SCALING_BLOCKS: [usize; 3] = [1, 4, 8];
const SCALING_BY_WORDS: &str = "by words";
const SCALING_BY_BLOCKS: &str = "by blocks";

impl Plan {
    pub fn new(
        args: &BenchArgs,
        paths: &Paths,
        bin: &Path,
        python: Option<&PathBuf>,
        work: &Path,
    ) -> Result<Self> {
        for c in &args.cases {
            if !CASES.contains(&c.as_str()) {
                bail!("--cases: unknown case `{c}` (use {})", CASES.join(", "));
            }
        }
        let mut models = Vec::new();
        for name in &args.models {
            let m = lexalign_run::EMBEDDED_MODELS
                .iter()
                .find(|m| m.name == name)
                .with_context(|| {
                    let names: Vec<&str> = lexalign_run::EMBEDDED_MODELS
                        .iter()
                        .map(|m| m.name)
                        .collect();
                    format!(
                        "--models: `{name}` is not an embedded model ({})",
                        names.join(", ")
                    )
                })?;
            let file = paths.cache.join("models").join(m.file);
            if !file.is_file() {
                bail!("{} is missing: run `cargo xtask setup`", file.display());
            }
            models.push(Model {
                name: name.clone(),
                file,
                sha256: m.sha256.to_string(),
            });
        }
        let python_versions = match python {
            Some(p) => Some(
                crate::util::run_output(
                    Command::new(p).args(["-c", "import torch, transformers, peft; print(f'torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}')"]),
                    "asking the reference python for its versions",
                    "point $LEXALIGN_REF_PYTHON at the venv of requirements-ref.txt",
                )?
                .trim()
                .to_string(),
            ),
            None => None,
        };
        Ok(Self {
            args: args.clone(),
            repo: paths.repo.clone(),
            bin: bin.to_path_buf(),
            python: python.cloned(),
            python_versions,
            work: work.to_path_buf(),
            models,
        })
    }

    fn wants(&self, case: &str) -> bool {
        self.args.cases.is_empty() || self.args.cases.iter().any(|c| c == case)
    }

    fn word_file(&self, what: &str) -> PathBuf {
        self.work.join(format!("{what}.txt"))
    }

    /// The word files, written by `lexalign bench --case words` (model-independent).
    pub fn write_word_files(&self) -> Result<()> {
        let mut lists = vec![("pairs".to_string(), "pairs", 0)];
        lists.push((
            format!("words-{}", self.args.words),
            "lexicons",
            self.args.words,
        ));
        if self.args.scaling {
            lists.extend(
                SCALING_WORDS
                    .iter()
                    .map(|&n| (format!("words-{n}"), "lexicons", n)),
            );
        }
        let any_model = &self.models.first().context("--models is empty")?.name;
        for (name, source, n) in lists {
            let out = self.word_file(&name);
            if out.is_file() {
                continue;
            }
            let mut cmd = Command::new(&self.bin);
            cmd.args([
                "bench",
                "--model",
                any_model,
                "--case",
                "words",
                "--source",
                source,
                "--words",
                &n.max(1).to_string(),
            ]);
            cmd.arg("--out").arg(&out).current_dir(&self.repo);
            crate::util::run_output(
                &mut cmd,
                &format!("writing the word file {name}"),
                "see the error above",
            )?;
        }
        Ok(())
    }

    fn lexalign(&self, m: &Model, case: &str, variant: &str, extra: &[String]) -> Run {
        let mut args: Vec<String> = [
            "bench",
            "--model",
            &m.name,
            "--device",
            "cpu",
            "--threads",
            &self.args.threads.to_string(),
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().cloned());
        Run {
            model: m.name.clone(),
            case: case.into(),
            variant: variant.into(),
            program: self.bin.clone(),
            args,
            threads: self.args.threads,
        }
    }

    fn anchor(
        &self,
        m: &Model,
        case: &str,
        variant: &str,
        script: &str,
        extra: &[String],
    ) -> Option<Run> {
        let python = self.python.as_ref()?;
        let mut args = vec![
            self.repo.join("bench").join(script).display().to_string(),
            "--model-file".into(),
            m.file.display().to_string(),
        ];
        args.extend(["--threads".to_string(), self.args.threads.to_string()]);
        args.extend(extra.iter().cloned());
        Some(Run {
            model: m.name.clone(),
            case: case.into(),
            variant: variant.into(),
            program: python.clone(),
            args,
            threads: self.args.threads,
        })
    }

    /// Repetition `rep` (0-based): every case of every model, each variant back to back; the
    /// large scan only in the first `--large-reps` repetitions (it takes minutes on each side).
    pub fn runs(&self, rep: usize) -> Vec<Run> {
        let s = |x: &str| x.to_string();
        let mut out = Vec::new();
        for m in &self.models {
            let pairs = self.word_file("pairs").display().to_string();
            let words = self
                .word_file(&format!("words-{}", self.args.words))
                .display()
                .to_string();
            for (case, file) in [("scan-pairs", &pairs), ("scan-words", &words)] {
                if !self.wants(case) || (case == "scan-words" && rep >= self.args.large_reps) {
                    continue;
                }
                let wf = vec![s("--word-file"), file.clone()];
                let scan = |q: &str| {
                    [vec![s("--case"), s("scan"), s("--quant"), s(q)], wf.clone()].concat()
                };
                out.push(self.lexalign(m, case, "lexalign none", &scan("none")));
                if case == "scan-pairs" {
                    out.push(self.lexalign(m, case, "lexalign nf4", &scan("nf4")));
                }
                out.extend(self.anchor(m, case, "transformers", "scan_transformers.py", &wf));
            }
            if self.wants("scan-metrics") {
                // The work of `lexalign scan` on the pairs: forward and every metric, both sides.
                let wf = vec![s("--word-file"), pairs.clone()];
                out.push(
                    self.lexalign(
                        m,
                        "scan-metrics",
                        "lexalign",
                        &[
                            vec![s("--case"), s("scan-metrics"), s("--quant"), s("none")],
                            wf.clone(),
                        ]
                        .concat(),
                    ),
                );
                out.extend(self.anchor(
                    m,
                    "scan-metrics",
                    "transformers",
                    "scan_transformers.py",
                    &[wf, vec![s("--metrics")]].concat(),
                ));
            }
            if self.wants(peak::PEAK_CASE) && self.models.first().is_some_and(|f| f.name == m.name)
            {
                for (variant, dtype) in [(peak::PEAK_F32, "f32"), (peak::PEAK_BF16, "bf16")] {
                    out.push(self.lexalign(
                        m,
                        peak::PEAK_CASE,
                        variant,
                        &[s("--case"), s("peak"), s("--dtype"), s(dtype)],
                    ));
                }
            }
            for (case, layer) in [("tli-l2", 2), ("tli-best", best_layer(&m.name))] {
                if !self.wants(case) {
                    continue;
                }
                let l = layer.to_string();
                let lx = [
                    s("--case"),
                    s("tli-step"),
                    s("--quant"),
                    s("none"),
                    s("--word-file"),
                    pairs.clone(),
                    s("--layer"),
                    l.clone(),
                    s("--tli-steps"),
                    s("3"),
                ];
                out.push(self.lexalign(m, case, "lexalign", &lx));
                let an = [
                    s("--word-file"),
                    pairs.clone(),
                    s("--layer"),
                    l,
                    s("--steps"),
                    s("3"),
                ];
                out.extend(self.anchor(m, case, "transformers+peft", "tli_step_peft.py", &an));
            }
            if self.wants("generate") {
                // Greedy, batch 1: a 32-token prompt from the pair words, 64 new tokens.
                let wf = vec![s("--word-file"), pairs.clone()];
                out.push(
                    self.lexalign(
                        m,
                        "generate",
                        "lexalign",
                        &[
                            vec![s("--case"), s("generate"), s("--quant"), s("none")],
                            wf.clone(),
                        ]
                        .concat(),
                    ),
                );
                out.extend(self.anchor(
                    m,
                    "generate",
                    "transformers",
                    "generate_transformers.py",
                    &wf,
                ));
            }
        }
        out
    }

    /// Scan time vs words (at hidden states 0-2, two blocks) and vs blocks run (the large word
    /// file), lexalign only, once each.
    pub fn scaling_runs(&self) -> Vec<Run> {
        let s = |x: &str| x.to_string();
        let mut out = Vec::new();
        for m in &self.models {
            let scan = |file: String, layers: &str| {
                [
                    s("--case"),
                    s("scan"),
                    s("--quant"),
                    s("none"),
                    s("--word-file"),
                    file,
                    s("--layers"),
                    s(layers),
                ]
            };
            for n in SCALING_WORDS {
                let f = self.word_file(&format!("words-{n}")).display().to_string();
                out.push(self.lexalign(
                    m,
                    &format!("words-{n}"),
                    SCALING_BY_WORDS,
                    &scan(f, "0,1,2"),
                ));
            }
            for blocks in SCALING_BLOCKS {
                let f = self
                    .word_file(&format!("words-{}", self.args.words))
                    .display()
                    .to_string();
                let layers: Vec<String> = (0..=blocks).map(|l| l.to_string()).collect();
                out.push(self.lexalign(
                    m,
                    &format!("words-{}", self.args.words),
                    SCALING_BY_BLOCKS,
                    &scan(f, &layers.join(",")),
                ));
            }
        }
        out
    }

    /// `<page>.provenance.json` beside the page (names and hashes only: no machine paths).
    pub fn provenance(&self, page: &Path) -> Result<PathBuf> {
        let mut p = lexalign_run::Provenance::collect()
            .stage("bench")
            .threads(self.args.threads)
            .device("cpu");
        p.command_line = std::iter::once("cargo xtask bench".to_string())
            .chain(std::env::args().skip(2))
            .collect();
        let models: Vec<_> = self
            .models
            .iter()
            .map(|m| serde_json::json!({"name": m.name, "sha256": m.sha256}))
            .collect();
        p = p
            .setting("models", models)?
            .setting("reps", self.args.reps)?
            .setting("large_reps", self.args.large_reps.min(self.args.reps))?
            .setting("cpu", cpu_name())?;
        p = p.setting(
            "anchors",
            self.python_versions
                .clone()
                .unwrap_or_else(|| "not run".into()),
        )?;
        let path = page.with_extension("provenance.json");
        let mut json = serde_json::to_string_pretty(&p)?;
        json.push('\n');
        lexalign_run::write_atomic(&path, json)?;
        Ok(path)
    }
}

/// `/proc/cpuinfo`'s model name and the number of CPUs.
pub fn cpu_name() -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let name = text
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{name}, {n} CPUs")
}

/// `/proc/loadavg`'s three averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn ratio_line(
    out: &mut String,
    runs: &Runs,
    case: &str,
    slow: &str,
    fast: &str,
    label: &str,
) -> Option<f64> {
    let r = runs.ratio(case, slow, fast)?;
    let _ = writeln!(out, "- {label}: {}", show_ratio(&r));
    Some(r.median)
}

/// The markdown page.
pub fn render(
    plan: &Plan,
    results: &[(String, Runs)],
    scaling: &[(Run, Line)],
    no_anchor: Option<&str>,
    load: (&str, &str),
) -> String {
    let mut s = String::from("# Benchmark: lexalign beside transformers and peft\n\nWritten by `cargo xtask bench` (see the README's Benchmark section); do not edit.\n\n");
    let _ = writeln!(s, "- CPU: {}; {} torch threads on both sides; {} repetitions, alternated ({} of the {}-word scan); load average {} at the start, {} at the end.", cpu_name(), plan.args.threads, plan.args.reps, plan.args.large_reps.min(plan.args.reps), plan.args.words, load.0, load.1);
    let _ = writeln!(s, "- Anchors: {}.", match (no_anchor, &plan.python_versions) {
        (Some(why), _) => format!("not run: {why}; lexalign's figures alone"),
        (None, Some(v)) => format!("{v} (`bench/scan_transformers.py`, `bench/tli_step_peft.py`, `bench/generate_transformers.py`, the same GGUF loaded by transformers' `gguf_file=` dequantized to f32)"),
        (None, None) => "not run".into(),
    });
    for m in &plan.models {
        let _ = writeln!(s, "- {}: SHA-256 {}", m.name, m.sha256);
    }
    s.push_str(&peak::peak_paragraph(results));
    s.push_str("- Times are in-process (model load excluded; it is the load column). Scans: mean pooling over every hidden state, 64 words a batch, f32; lexalign batches words of one token length together (no padding), the anchor batches in file order (its padding column). TLI steps: LoRA r 16 on q_proj+v_proj, batch 8, triplet loss, AdamW, median of 3 after one warm-up; lexalign runs only the blocks up to the loss's hidden state, peft runs every block.\n- Words: `pairs` are the paper's 623 training pairs (1,246 words); the large scan takes the first distinct words of kengdic (Korean headwords, then English glosses), then FreeDict sw-en, then CLDR.\n");
    for (name, runs) in results {
        let _ = writeln!(s, "\n## {name}\n\n{}", table(runs));
        let _ = writeln!(
            s,
            "Arithmetic (counted FLOPs over the median time):\n\n{}",
            peak::throughput_table(runs, peak::peak_gflops(results, peak::PEAK_F32))
        );
        let mut t = String::new();
        ratio_line(
            &mut t,
            runs,
            "scan-pairs",
            "transformers",
            "lexalign none",
            "scan of the pairs, transformers / lexalign",
        );
        ratio_line(
            &mut t,
            runs,
            "scan-words",
            "transformers",
            "lexalign none",
            &format!("scan of {} words, transformers / lexalign", plan.args.words),
        );
        ratio_line(
            &mut t,
            runs,
            "scan-pairs",
            "lexalign nf4",
            "lexalign none",
            "NF4 scan / unquantized scan (lexalign)",
        );
        ratio_line(
            &mut t,
            runs,
            "tli-l2",
            "transformers+peft",
            "lexalign",
            "TLI step at hidden state 2, transformers+peft / lexalign",
        );
        ratio_line(
            &mut t,
            runs,
            "tli-best",
            "transformers+peft",
            "lexalign",
            &format!(
                "TLI step at hidden state {}, transformers+peft / lexalign",
                best_layer(name)
            ),
        );
        if ratio_line(
            &mut t,
            runs,
            "generate",
            "transformers",
            "lexalign",
            "greedy generation (32-token prompt, 64 new tokens, batch 1), transformers / lexalign",
        )
        .is_some()
        {
            for v in ["lexalign", "transformers"] {
                let tps: Vec<f64> = runs
                    .get("generate", v)
                    .iter()
                    .map(|l| l.tokens as f64 / l.seconds)
                    .collect();
                if let Some(best) = tps.iter().copied().reduce(f64::max) {
                    let _ = writeln!(
                        t,
                        "- greedy generation, {v}: {best:.1} new tokens/s (best of {})",
                        tps.len()
                    );
                }
            }
        }
        let rss = runs
            .get("scan-pairs", "lexalign none")
            .iter()
            .map(|l| (l.peak_rss_bytes, l.resident_weight_bytes))
            .max();
        let rss_target = rss.map(|(peak, res)| {
            (
                peak as f64 / (1.5 * res as f64 + 300.0 * (1u64 << 20) as f64),
                peak,
                res,
            )
        });
        if let Some((_, peak, res)) = rss_target {
            let _ = writeln!(t, "- peak RSS of the unquantized pair scan {} vs resident weights {} (target: at most 1.5 × weights + 300 MiB = {})", mib(peak), mib(res), mib((1.5 * res as f64) as u64 + (300 << 20)));
        }
        ratio_line(&mut t, runs, "scan-metrics", "transformers", "lexalign", "`lexalign scan` of the pairs (forward + every metric), transformers + torch metrics / lexalign");
        let _ = writeln!(s, "Ratios (median of the per-repetition ratios, range):\n\n{t}\nTargets (`bench::peak::TARGETS`):\n");
        s.push_str(&peak::target_lines(runs));
        let _ = writeln!(
            s,
            "{}",
            target(
                "scan peak RSS ≤ 1.5 × weights + 300 MiB",
                rss_target.map(|(r, _, _)| (r, r <= 1.0)),
                "peak / allowance"
            )
        );
    }
    if !scaling.is_empty() {
        s.push_str(&scaling_section(scaling));
    }
    s
}

/// Scan time vs tokens (the word counts) and vs blocks run, with the least-squares cost model.
fn scaling_section(scaling: &[(Run, Line)]) -> String {
    let mut s = String::from("\n## Scaling (lexalign, unquantized, one run each)\n\n| model | series | words | hidden states | tokens (padded) | time | peak RSS |\n|---|---|---|---|---|---|---|\n");
    for (run, l) in scaling {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} ({}) | {:.2} s | {} |",
            run.model,
            run.variant,
            l.words,
            l.layers,
            l.tokens,
            l.padded_tokens,
            l.seconds,
            mib(l.peak_rss_bytes)
        );
    }
    let mut models: Vec<&str> = scaling.iter().map(|(r, _)| r.model.as_str()).collect();
    models.dedup();
    for m in models {
        let series = |v: &str| -> Vec<&Line> {
            scaling
                .iter()
                .filter(|(r, _)| r.model == m && r.variant == v)
                .map(|(_, l)| l)
                .collect()
        };
        let words = series(SCALING_BY_WORDS);
        let (x, y): (Vec<f64>, Vec<f64>) = words
            .iter()
            .map(|l| (l.padded_tokens as f64, l.seconds))
            .unzip();
        if let Some((a, b, r2)) = fit_linear(&x, &y) {
            let _ = writeln!(s, "\n- {m}, hidden states 0-2 (2 blocks): time ≈ {a:.2} s + {:.4} ms × padded tokens (R² {r2:.4}): linear in tokens.", b * 1000.0);
        }
        let blocks = series(SCALING_BY_BLOCKS);
        let big = blocks.iter().map(|l| l.words).max().unwrap_or(0);
        let (x, y): (Vec<f64>, Vec<f64>) = blocks
            .iter()
            .map(|l| ((l.layers.saturating_sub(1)) as f64, l.seconds))
            .unzip();
        if let Some((a, b, r2)) = fit_linear(&x, &y) {
            let _ = writeln!(s, "- {m}, {big} words: time ≈ {a:.2} s + {b:.3} s × blocks run (R² {r2:.4}): linear in the blocks the deepest requested hidden state needs.");
        }
        if let Some(l) = words.iter().max_by_key(|l| l.words) {
            let _ = writeln!(s, "- {m}, {} words: peak RSS {} (pooled vectors past 512 MiB wait in temp files, one hidden state read back at a time).", l.words, mib(l.peak_rss_bytes));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_layers() {
        assert_eq!(best_layer("gemma3-270m"), 12);
        assert_eq!(best_layer("smollm2-135m"), 15);
    }

    #[test]
    fn scaling_fits_are_stated() {
        let run = |variant: &str| Run {
            model: "m".into(),
            case: "c".into(),
            variant: variant.into(),
            program: PathBuf::new(),
            args: vec![],
            threads: 1,
        };
        let line = |words, layers, padded, seconds| Line {
            words,
            layers,
            padded_tokens: padded,
            tokens: padded,
            seconds,
            ..Default::default()
        };
        let sc = vec![
            (run(SCALING_BY_WORDS), line(1000, 3, 4000, 1.0 + 4.0)),
            (run(SCALING_BY_WORDS), line(10000, 3, 40000, 1.0 + 40.0)),
            (run(SCALING_BY_BLOCKS), line(10000, 2, 40000, 2.0 + 1.0)),
            (run(SCALING_BY_BLOCKS), line(10000, 5, 40000, 2.0 + 4.0)),
        ];
        let s = scaling_section(&sc);
        assert!(
            s.contains("time ≈ 1.00 s + 1.0000 ms × padded tokens (R² 1.0000)"),
            "{s}"
        );
        assert!(
            s.contains("m, 10000 words: time ≈ 2.00 s + 1.000 s × blocks run (R² 1.0000)"),
            "{s}"
        );
        assert!(
            s.contains("| m | by words | 1000 | 3 | 4000 (4000) | 5.00 s | 0 MiB |"),
            "{s}"
        );
        assert!(s.contains("m, 10000 words: peak RSS 0 MiB"), "{s}");
    }
}
