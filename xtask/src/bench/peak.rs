//! The benchmark against the machine's limit: the peak (`lexalign bench --case peak`, a large f32
//! and bf16 matmul through libtorch), every workload's achieved GFLOP/s and its fraction of that
//! peak (FLOPs counted by lexalign from the model's shapes and tokens, `BenchLine::flops`; an
//! anchor doing the same work is credited the same FLOPs), and the ratio targets as data.

use std::fmt::Write as _;

use super::report::{target, Runs};

/// Case and variants of the peak runs.
pub const PEAK_CASE: &str = "peak";
pub const PEAK_F32: &str = "matmul f32";
pub const PEAK_BF16: &str = "matmul bf16";

/// A ratio target: `slow`'s time over `fast`'s on `case` at least `at_least`, or at most
/// `at_most` (the bench's targets, from issues 17 and 33).
pub struct RatioTarget {
    pub label: &'static str,
    pub case: &'static str,
    pub slow: &'static str,
    pub fast: &'static str,
    pub at_least: Option<f64>,
    pub at_most: Option<f64>,
    pub issue: u32,
}

pub const TARGETS: &[RatioTarget] = &[
    RatioTarget { label: "scan ≥ 2.5× faster than transformers", case: "scan-pairs", slow: "transformers", fast: "lexalign none", at_least: Some(2.5), at_most: None, issue: 17 },
    RatioTarget { label: "`lexalign scan` (forward + every metric) ≥ 2.5× faster than transformers + torch metrics", case: "scan-metrics", slow: "transformers", fast: "lexalign", at_least: Some(2.5), at_most: None, issue: 33 },
    RatioTarget { label: "NF4 scan within 1.2× of unquantized", case: "scan-pairs", slow: "lexalign nf4", fast: "lexalign none", at_least: None, at_most: Some(1.2), issue: 17 },
    RatioTarget { label: "TLI step at hidden state 2 ≥ 15× faster than peft", case: "tli-l2", slow: "transformers+peft", fast: "lexalign", at_least: Some(15.0), at_most: None, issue: 17 },
    RatioTarget { label: "greedy generation ≥ 3× faster than transformers", case: "generate", slow: "transformers", fast: "lexalign", at_least: Some(3.0), at_most: None, issue: 33 },
];

/// The target lines of one model's runs.
pub fn target_lines(runs: &Runs) -> String {
    let mut s = String::new();
    for t in TARGETS {
        let seen = runs.ratio(t.case, t.slow, t.fast).map(|r| {
            let ok =
                t.at_least.is_none_or(|x| r.median >= x) && t.at_most.is_none_or(|x| r.median <= x);
            (r.median, ok)
        });
        let _ = writeln!(
            s,
            "{}",
            target(&format!("{} (issue {})", t.label, t.issue), seen, "ratio")
        );
    }
    s
}

/// Best GFLOP/s of a peak variant over every model's runs (the peak is the machine's, not a model's).
pub fn peak_gflops(results: &[(String, Runs)], variant: &str) -> Option<f64> {
    results
        .iter()
        .flat_map(|(_, r)| r.get(PEAK_CASE, variant))
        .filter(|l| l.seconds > 0.0)
        .map(|l| l.flops / l.seconds / 1e9)
        .reduce(f64::max)
}

/// The FLOPs of a case's work: lexalign's count for that case (the same work on every side).
fn case_flops(runs: &Runs, case: &str) -> Option<f64> {
    runs.order
        .iter()
        .filter(|(c, _)| c == case)
        .flat_map(|(c, v)| runs.get(c, v))
        .map(|l| l.flops)
        .find(|&f| f > 0.0)
}

/// Achieved GFLOP/s (counted FLOPs over the median time) and the fraction of the f32 peak.
pub fn throughput_table(runs: &Runs, peak_f32: Option<f64>) -> String {
    let mut s = String::from("| case | run | counted GFLOP | GFLOP/s | fraction of the f32 peak |\n|---|---|---|---|---|\n");
    for (case, variant) in runs.order.iter().filter(|(c, _)| c != PEAK_CASE) {
        let (Some(flops), Some(sp)) = (case_flops(runs, case), runs.spread(case, variant)) else {
            continue;
        };
        let rate = flops / sp.median / 1e9;
        let frac = peak_f32
            .map(|p| format!("{:.1} %", 100.0 * rate / p))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "| {case} | {variant} | {:.1} | {rate:.1} | {frac} |",
            flops / 1e9
        );
    }
    s
}

/// The page's peak paragraph.
pub fn peak_paragraph(results: &[(String, Runs)]) -> String {
    let show = |v: Option<f64>| {
        v.map(|g| format!("{g:.1} GFLOP/s"))
            .unwrap_or_else(|| "not measured".into())
    };
    format!(
        "- Machine peak (`lexalign bench --case peak`: a 2048×2048 matmul through libtorch, the fastest of 5 after a warm-up): f32 {}, bf16 {}. FLOPs are counted from the model's shapes and the tokens processed (decoder linear layers, the LM head where logits are computed, the scan metrics' f64 similarity products; attention scores and norms left out); an anchor is credited the same FLOPs as lexalign for the same work.\n",
        show(peak_gflops(results, PEAK_F32)),
        show(peak_gflops(results, PEAK_BF16))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::Line;

    #[test]
    fn throughput_and_targets_from_data() {
        let mut runs = Runs::default();
        runs.push(
            PEAK_CASE,
            PEAK_F32,
            Line {
                seconds: 0.1,
                flops: 20e9,
                ..Default::default()
            },
        );
        runs.push(
            "scan-metrics",
            "lexalign",
            Line {
                seconds: 2.0,
                flops: 100e9,
                ..Default::default()
            },
        );
        runs.push(
            "scan-metrics",
            "transformers",
            Line {
                seconds: 6.0,
                ..Default::default()
            },
        );
        let results = vec![("m".to_string(), runs)];
        assert_eq!(peak_gflops(&results, PEAK_F32), Some(200.0));
        assert_eq!(peak_gflops(&results, PEAK_BF16), None);
        let t = throughput_table(&results[0].1, Some(200.0));
        assert!(
            t.contains("| scan-metrics | lexalign | 100.0 | 50.0 | 25.0 % |"),
            "{t}"
        );
        assert!(
            t.contains("| scan-metrics | transformers | 100.0 | 16.7 | 8.3 % |"),
            "{t}"
        );
        assert!(!t.contains("| peak |"), "{t}");
        let lines = target_lines(&results[0].1);
        assert!(
            lines.contains("transformers + torch metrics (issue 33): met (3.00; ratio)"),
            "{lines}"
        );
        assert!(
            lines.contains(
                "greedy generation ≥ 3× faster than transformers (issue 33): not measured"
            ),
            "{lines}"
        );
        assert!(peak_paragraph(&results).contains("f32 200.0 GFLOP/s, bf16 not measured"));
    }
}
