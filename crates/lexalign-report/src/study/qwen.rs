//! The second multilingual model of the Korean-English study (issue 26): the embedded
//! Qwen2.5-Coder-0.5B-Instruct, a code-tuned instruct model (Qwen2 architecture), in the stage
//! folders `koen-qwen-scan/`, `koen-qwen-tli-train-best/` (arm (c): TLI at the scan's best layer,
//! `mean-content`, one seed) and `koen-qwen-eval/`. Read like the Gemma study (same row types,
//! same value builder), its value keys carry the prefix `koenq.` instead of `koen.`; the findings
//! 90-99 of `paper/claims.toml` read them.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use super::baselines::{baseline_intro_md, baseline_table_md};
use super::load::{LangPair, PairStudy};
use super::render::{change_table_md, f3};
use crate::values::{Val, Values};

pub const SCAN_STAGE: &str = "koen-qwen-scan";
pub const EVAL_STAGE: &str = "koen-qwen-eval";
pub const TRAIN_STAGES: &[(&str, &str)] = &[("koen-qwen-tli-train-best", "best")];
/// The value-key prefix of the Qwen rows.
pub const KEY: &str = "koenq";

/// The Qwen stages of `run`, or `None` when none of them ran.
pub fn load(run: &Path) -> Result<Option<PairStudy>> {
    let any = [SCAN_STAGE, EVAL_STAGE]
        .iter()
        .chain(TRAIN_STAGES.iter().map(|(s, _)| s))
        .any(|s| run.join(s).is_dir());
    if !any {
        return Ok(None);
    }
    PairStudy::load_stages(run, LangPair::KoEn, SCAN_STAGE, EVAL_STAGE, TRAIN_STAGES).map(Some)
}

/// The Gemma study's value keys computed on the Qwen stages, renamed `koen.*` → `koenq.*`.
pub fn values(v: &mut Values, p: &PairStudy) {
    let mut t = Values::new();
    super::values::pair_values(&mut t, p);
    let from = format!("{}.", LangPair::KoEn.key());
    for (k, x) in t {
        if let Some(rest) = k.strip_prefix(&from) {
            v.insert(format!("{KEY}.{rest}"), x);
        }
    }
}

fn num(v: &Values, k: &str) -> f64 {
    match v.get(&format!("{KEY}.{k}")) {
        Some(Val::Num(x)) => *x,
        _ => f64::NAN,
    }
}

/// The Qwen subsection of the Korean-English section (tables only; its sentences with a verdict
/// are the findings 90-99).
pub fn section_md(p: &PairStudy) -> String {
    let mut v = Values::new();
    values(&mut v, p);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### Second model: Qwen2.5-Coder-0.5B-Instruct, a code-tuned instruct model\n"
    );
    let model = p.model().unwrap_or_else(|| "an unnamed model".into());
    let _ = writeln!(
        s,
        "The same protocol on **{model}** (Qwen2 architecture, Q4_K_M GGUF; code-tuned and instruction-tuned, not a general multilingual base model). \
         Qwen2 adds no BOS token: each word is encoded after a fixed `<|endoftext|>` prefix, which takes the attention sink and is left out of `mean-content` (docs/POOLING.md). \
         TLI here is arm (c) only: the scan's best hidden state (chosen on the scan, not on a development split), `mean-content` pooling in the loss, one seed.\n"
    );
    if !p.missing.is_empty() {
        let _ = writeln!(
            s,
            "Not in this run: {}. `cargo xtask reproduce` runs them.\n",
            p.missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if p.scan.is_some() {
        let _ = writeln!(
            s,
            "Scan: best hidden state {} of {} with held-out centred CSLS P@1 {} (95 % CI {}..{}); hidden state 2: {}.\n",
            num(&v, "scan.best_layer"),
            num(&v, "scan.n_layers") - 1.0,
            f3(num(&v, "scan.best.p1")),
            f3(num(&v, "scan.best.p1_ci_low")),
            f3(num(&v, "scan.best.p1_ci_high")),
            f3(num(&v, "scan.l2.p1"))
        );
    }
    let t = baseline_table_md(p);
    if !t.is_empty() {
        s.push_str(&baseline_intro_md(p));
        s.push_str(&t);
        s.push('\n');
    }
    let t = change_table_md(p);
    if !t.is_empty() {
        s.push_str(&t);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let t = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &t);
            } else {
                std::fs::copy(e.path(), t).unwrap();
            }
        }
    }

    #[test]
    fn qwen_stages_give_koenq_keys_equal_to_the_same_rows_as_gemma() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/study-run");
        let d = tempfile::tempdir().unwrap();
        assert!(
            load(d.path()).unwrap().is_none(),
            "no Qwen stage, no section"
        );
        copy_dir(&fixture.join("koen-scan"), &d.path().join(SCAN_STAGE));
        copy_dir(
            &fixture.join("koen-tli-train-best"),
            &d.path().join(TRAIN_STAGES[0].0),
        );
        copy_dir(
            &fixture.join("koen-eval/koen-tli-train-best"),
            &d.path().join(EVAL_STAGE).join(TRAIN_STAGES[0].0),
        );
        let q = load(d.path()).unwrap().expect("the Qwen stages");
        assert!(q.missing.is_empty(), "{:?}", q.missing);
        let mut qv = Values::new();
        values(&mut qv, &q);
        let g = PairStudy::load(&fixture, LangPair::KoEn).unwrap();
        let mut gv = Values::new();
        super::super::values::pair_values(&mut gv, &g);
        for k in [
            "scan.best_layer",
            "scan.best.p1",
            "best.t.held_out.delta_ci_low",
            "best.target_layer",
        ] {
            assert_eq!(
                qv.get(&format!("{KEY}.{k}")),
                gv.get(&format!("koen.{k}")),
                "{k}"
            );
            assert!(qv.contains_key(&format!("{KEY}.{k}")), "{k}");
        }
        assert!(
            !qv.keys().any(|k| k.starts_with("koen.")),
            "every key renamed"
        );
        let md = section_md(&q);
        assert!(
            md.contains("code-tuned instruct model") && md.contains("| adapter |"),
            "{md}"
        );
        let mut missing = q.clone();
        missing.missing.push(EVAL_STAGE.into());
        assert!(section_md(&missing).contains("`koen-qwen-eval`"));
    }
}
