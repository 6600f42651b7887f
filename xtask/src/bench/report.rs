//! The benchmark's numbers: one parsed JSON line per run (lexalign's `BenchLine`, the anchors
//! print the same fields), medians and ranges over repetitions, ratios, the fitted cost model,
//! and `paper/generated/bench.md`. Pure, so it is tested without libtorch or Python.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One run's result, and its parser: the line lexalign and the anchors print.
pub use lexalign_run::{parse_bench_line as parse_line, BenchLine as Line};

/// Median and range of repeated timings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(xs: &[f64]) -> Option<Spread> {
        if xs.is_empty() {
            return None;
        }
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let m = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[m]
        } else {
            (v[m - 1] + v[m]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[v.len() - 1],
            n: v.len(),
        })
    }

    /// `9.81 s (9.60-9.92, n 3)`, in ms under a second.
    pub fn show(&self) -> String {
        let (k, u) = if self.max < 1.0 {
            (1000.0, "ms")
        } else {
            (1.0, "s")
        };
        let d = if self.max * k >= 100.0 {
            0
        } else if self.max * k >= 10.0 {
            1
        } else {
            2
        };
        format!(
            "{:.d$} {u} ({:.d$}-{:.d$}, n {})",
            self.median * k,
            self.min * k,
            self.max * k,
            self.n
        )
    }
}

/// Least squares `y = a + b x` with its R².
pub fn fit_linear(xs: &[f64], ys: &[f64]) -> Option<(f64, f64, f64)> {
    let n = xs.len() as f64;
    if xs.len() < 2 || xs.len() != ys.len() {
        return None;
    }
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let b = sxy / sxx;
    let a = my - b * mx;
    let ss_tot: f64 = ys.iter().map(|y| (y - my) * (y - my)).sum();
    let ss_res: f64 = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| (y - a - b * x).powi(2))
        .sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        1.0
    };
    Some((a, b, r2))
}

/// Every run of one model, by (case, variant) in the order first seen.
#[derive(Debug, Default)]
pub struct Runs {
    pub order: Vec<(String, String)>,
    pub lines: BTreeMap<(String, String), Vec<Line>>,
}

impl Runs {
    pub fn push(&mut self, case: &str, variant: &str, line: Line) {
        let key = (case.to_string(), variant.to_string());
        if !self.lines.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.lines.entry(key).or_default().push(line);
    }

    pub fn get(&self, case: &str, variant: &str) -> &[Line] {
        self.lines
            .get(&(case.to_string(), variant.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn spread(&self, case: &str, variant: &str) -> Option<Spread> {
        Spread::of(
            &self
                .get(case, variant)
                .iter()
                .map(|l| l.seconds)
                .collect::<Vec<_>>(),
        )
    }

    /// `slow`'s median over `fast`'s, with the range of the per-repetition ratios (runs were
    /// alternated, so repetition i of each ran side by side).
    pub fn ratio(&self, case: &str, slow: &str, fast: &str) -> Option<Spread> {
        let (s, f) = (self.get(case, slow), self.get(case, fast));
        let r: Vec<f64> = s
            .iter()
            .zip(f)
            .filter(|(_, f)| f.seconds > 0.0)
            .map(|(s, f)| s.seconds / f.seconds)
            .collect();
        Spread::of(&r)
    }
}

/// `1.23×`, with the per-repetition range.
pub fn show_ratio(r: &Spread) -> String {
    format!("{:.2}× ({:.2}-{:.2})", r.median, r.min, r.max)
}

pub fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)
}

/// The table of one model: case, variant, time, tokens, padding, load, peak RSS.
pub fn table(runs: &Runs) -> String {
    let mut s = String::from("| case | run | time: median (min-max, n) | words | tokens (padded) | padding | load | peak RSS |\n|---|---|---|---|---|---|---|---|\n");
    for (case, variant) in &runs.order {
        let lines = runs.get(case, variant);
        let Some(sp) = runs.spread(case, variant) else {
            continue;
        };
        let l = &lines[0];
        let pad = if l.padded_tokens > 0 {
            format!(
                "{:.1} %",
                100.0 * (l.padded_tokens - l.tokens) as f64 / l.padded_tokens as f64
            )
        } else {
            "-".into()
        };
        let toks = if l.tokens > 0 {
            format!("{} ({})", l.tokens, l.padded_tokens)
        } else {
            "-".into()
        };
        let load = Spread::of(&lines.iter().map(|l| l.load_s).collect::<Vec<_>>())
            .map(|s| format!("{:.2} s", s.median))
            .unwrap_or_default();
        let peak = lines.iter().map(|l| l.peak_rss_bytes).max().unwrap_or(0);
        let _ = writeln!(
            s,
            "| {case} | {variant} | {} | {} | {toks} | {pad} | {load} | {} |",
            sp.show(),
            l.words,
            mib(peak)
        );
    }
    s
}

/// A target line: `met` / `MISSED` / `not measured` with what was seen.
pub fn target(name: &str, seen: Option<(f64, bool)>, how: &str) -> String {
    match seen {
        Some((v, true)) => format!("- {name}: met ({v:.2}; {how})"),
        Some((v, false)) => format!("- {name}: MISSED ({v:.2}; {how})"),
        None => format!("- {name}: not measured ({how})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"tool":"lexalign","case":"scan","model":"m.gguf","quant":"none","threads":2,"load_s":0.5,"seconds":9.5,"words":1246,"layers":31,"tokens":3072,"padded_tokens":3200,"resident_weight_bytes":540000000,"peak_rss_bytes":900000000}"#;

    #[test]
    fn parses_the_last_json_line_and_refuses_bad_ones() {
        let out = format!("some log\n{{\"not\": \"this\"}}\n{LINE}\n");
        let l = parse_line(&out, "run").unwrap();
        assert_eq!(
            (
                l.tool.as_str(),
                l.case.as_str(),
                l.words,
                l.tokens,
                l.padded_tokens
            ),
            ("lexalign", "scan", 1246, 3072, 3200)
        );
        assert_eq!(l.seconds, 9.5);
        let err = parse_line("no json here\n", "run x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("run x") && err.contains("no JSON"), "{err}");
        let err = format!(
            "{:#}",
            parse_line(&LINE.replace("\"seconds\":9.5", "\"seconds\":-1"), "r").unwrap_err()
        );
        assert!(err.contains("`seconds`"), "{err}");
        let err = format!(
            "{:#}",
            parse_line(&LINE.replace("\"tokens\":3072,", ""), "r").unwrap_err()
        );
        assert!(err.contains("`tokens` missing"), "{err}");
    }

    #[test]
    fn spreads_ratios_and_fit() {
        let s = Spread::of(&[3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 10.0, 4));
        assert_eq!(
            Spread::of(&[0.012, 0.014, 0.013]).unwrap().show(),
            "13.0 ms (12.0-14.0, n 3)"
        );
        assert_eq!(
            Spread::of(&[9.61, 9.8, 9.9]).unwrap().show(),
            "9.80 s (9.61-9.90, n 3)"
        );
        let mut runs = Runs::default();
        for (a, b) in [(10.0, 4.0), (12.0, 4.0), (11.0, 5.0)] {
            runs.push(
                "scan",
                "transformers",
                Line {
                    seconds: a,
                    ..Default::default()
                },
            );
            runs.push(
                "scan",
                "lexalign",
                Line {
                    seconds: b,
                    ..Default::default()
                },
            );
        }
        let r = runs.ratio("scan", "transformers", "lexalign").unwrap();
        assert_eq!((r.median, r.min, r.max), (2.5, 2.2, 3.0));
        assert_eq!(runs.order.len(), 2);
        let (a, b, r2) = fit_linear(&[1.0, 2.0, 4.0], &[3.0, 5.0, 9.0]).unwrap();
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12 && (r2 - 1.0).abs() < 1e-12);
        assert!(fit_linear(&[1.0, 1.0], &[2.0, 3.0]).is_none());
    }

    #[test]
    fn table_and_targets() {
        let mut runs = Runs::default();
        runs.push(
            "scan-pairs",
            "lexalign none",
            parse_line(LINE, "r").unwrap(),
        );
        let t = table(&runs);
        assert!(t.contains("| scan-pairs | lexalign none | 9.50 s (9.50-9.50, n 1) | 1246 | 3072 (3200) | 4.0 % | 0.50 s | 858 MiB |"), "{t}");
        assert_eq!(
            target("scan", Some((2.6, true)), "x"),
            "- scan: met (2.60; x)"
        );
        assert_eq!(
            target("scan", Some((1.2, false)), "x"),
            "- scan: MISSED (1.20; x)"
        );
        assert!(target("scan", None, "no anchor").contains("not measured"));
    }
}
