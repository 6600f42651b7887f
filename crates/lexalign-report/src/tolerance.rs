//! `--check`'s comparison of model-based outputs: the text must match exactly, the numbers in it
//! within stated tolerances (model numbers move in the last digits across CPUs and BLAS builds;
//! published-data outputs are still compared byte for byte).
//!
//! - plain numbers: within [`ABS_TOL`] (cosines, P@k, CIs, printed with 3-4 decimals), or within
//!   [`REL_TOL`] of the larger magnitude (t statistics, percentages, losses);
//! - integers (layers, counts, sizes): exactly;
//! - p-values (after `p = `, `p < `, or in scientific notation): within [`LOG10_TOL`] in log10;
//! - SVG figures: every number (pixel coordinates, tick labels) within [`SVG_TOL`].

/// Absolute tolerance of a number printed with decimals.
pub const ABS_TOL: f64 = 0.005;
/// Relative tolerance for numbers of magnitude above 1.
pub const REL_TOL: f64 = 0.005;
/// Tolerance of a p-value in log10 units (half an order of magnitude).
pub const LOG10_TOL: f64 = 0.5;
/// Tolerance of any number in a model-based SVG (pixels).
pub const SVG_TOL: f64 = 4.0;

/// How a file is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Byte for byte.
    Exact,
    /// Every number with the text rules.
    Text,
    /// Every number within [`SVG_TOL`].
    Svg,
    /// `paper/reproduction.md`: model-based regions and model columns with the text rules, the rest exactly.
    Report,
    /// `numbers.tex`: the `tli@model.` lines with the text rules, the rest exactly.
    ModelLines,
}

/// Table columns of the report whose cells are model measurements.
pub const MODEL_COLUMNS: &[&str] = &["Re-run with the model", "Measured on a multilingual model"];

/// The comparison mode of a generated file (relative path).
pub fn mode_of(rel: &str) -> Mode {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if rel == crate::render::REPORT {
        Mode::Report
    } else if rel == crate::study::STUDY_NUMBERS {
        Mode::Text
    } else if rel.ends_with("/numbers.tex") {
        Mode::ModelLines
    } else if rel.starts_with("figures/")
        && (name.starts_with("demo_") || name.starts_with("model_") || name.starts_with("study_"))
    {
        Mode::Svg
    } else {
        Mode::Exact
    }
}

#[derive(Debug, PartialEq)]
enum Tok<'a> {
    Text(&'a str),
    Num(&'a str),
}

/// Split into text and number tokens. A number is not glued to a letter, digit or `_` on
/// either side (so hashes and identifiers stay text).
fn tokens(s: &str) -> Vec<Tok<'_>> {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let (mut i, mut text_start) = (0, 0);
    while i < b.len() {
        let prev_ok = i == 0 || !word(b[i - 1]);
        let start = i;
        let mut j = i;
        if prev_ok && (b[j] == b'+' || b[j] == b'-') && j + 1 < b.len() && b[j + 1].is_ascii_digit()
        {
            j += 1;
        }
        if prev_ok && j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
            }
            if j + 1 < b.len() && (b[j] == b'e' || b[j] == b'E') {
                let mut k = j + 1;
                if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
                    k += 1;
                }
                if k < b.len() && b[k].is_ascii_digit() {
                    while k < b.len() && b[k].is_ascii_digit() {
                        k += 1;
                    }
                    j = k;
                }
            }
            if j >= b.len() || !word(b[j]) {
                if text_start < start {
                    out.push(Tok::Text(&s[text_start..start]));
                }
                out.push(Tok::Num(&s[start..j]));
                i = j;
                text_start = j;
                continue;
            }
            // glued to a word: text up to the end of that word
            while j < b.len() && word(b[j]) {
                j += 1;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    if text_start < s.len() {
        out.push(Tok::Text(&s[text_start..]));
    }
    out
}

fn is_int(t: &str) -> bool {
    !t.contains(['.', 'e', 'E'])
}

fn close(a: &str, b: &str, before: &str, svg: bool) -> bool {
    if a == b {
        return true;
    }
    let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) else {
        return false;
    };
    if svg {
        return (x - y).abs() <= SVG_TOL;
    }
    let ctx = before.trim_end();
    let p_ctx = ctx.ends_with("p =") || ctx.ends_with("p <") || ctx.ends_with("p=");
    if p_ctx || a.contains(['e', 'E']) || b.contains(['e', 'E']) {
        return x > 0.0 && y > 0.0 && (x.log10() - y.log10()).abs() <= LOG10_TOL;
    }
    if is_int(a) && is_int(b) {
        return false;
    }
    let d = (x - y).abs();
    d <= ABS_TOL || d <= REL_TOL * x.abs().max(y.abs())
}

/// `M\times10^{E}` (LaTeX) as `MeE`, so a p-value is one token.
fn untex(s: &str) -> String {
    let mut out = s.to_string();
    while let Some(i) = out.find("\\times10^{") {
        let rest = &out[i + 10..];
        let Some(end) = rest.find('}') else { break };
        let exp = rest[..end].to_string();
        out = format!("{}e{exp}{}", &out[..i], &rest[end + 1..]);
    }
    out
}

/// Two texts equal but for numbers within the tolerances.
pub fn texts_match(fresh: &str, committed: &str, svg: bool) -> bool {
    let (f, c) = (untex(fresh), untex(committed));
    let (a, b) = (tokens(&f), tokens(&c));
    if a.len() != b.len() {
        return false;
    }
    let mut before = "";
    for (x, y) in a.iter().zip(&b) {
        match (x, y) {
            (Tok::Text(p), Tok::Text(q)) if p == q => before = p,
            (Tok::Num(p), Tok::Num(q)) if close(p, q, before, svg) => {}
            _ => return false,
        }
    }
    true
}

/// Table cells split on unescaped `|`.
fn cells(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut prev = '\0';
    for ch in line.chars() {
        if ch == '|' && prev != '\\' {
            out.push(String::new());
        } else {
            out.last_mut().expect("one cell").push(ch);
        }
        prev = ch;
    }
    out
}

/// The 1-based first line where the report differs beyond tolerance, if any.
fn report_diff(fresh: &str, committed: &str, model_lines: bool) -> Option<usize> {
    let (a, b): (Vec<&str>, Vec<&str>) = (fresh.lines().collect(), committed.lines().collect());
    let mut in_model = false;
    let mut header: Vec<String> = Vec::new();
    for i in 0..a.len().max(b.len()) {
        let (Some(x), Some(y)) = (a.get(i), b.get(i)) else {
            return Some(i + 1);
        };
        if x.trim() == crate::study::render::MODEL_BEGIN {
            in_model = true;
        } else if x.trim() == crate::study::render::MODEL_END {
            in_model = false;
        }
        if a.get(i + 1).is_some_and(|n| n.starts_with("|---")) {
            header = cells(x).iter().map(|c| c.trim().to_string()).collect();
        } else if !x.starts_with('|') {
            header.clear();
        }
        if x == y {
            continue;
        }
        let ok = if model_lines {
            x.contains("tli@model.") && texts_match(x, y, false)
        } else if in_model {
            texts_match(x, y, false)
        } else if x.starts_with('|') && !header.is_empty() {
            let (cx, cy) = (cells(x), cells(y));
            cx.len() == cy.len()
                && cx.iter().zip(&cy).enumerate().all(|(k, (p, q))| {
                    p == q
                        || (header
                            .get(k)
                            .is_some_and(|h| MODEL_COLUMNS.contains(&h.as_str()))
                            && texts_match(p, q, false))
                })
        } else {
            false
        };
        if !ok {
            return Some(i + 1);
        }
    }
    None
}

/// Whether a fresh file matches its committed copy under `mode`; on a difference, where.
pub fn compare(mode: Mode, fresh: &[u8], committed: &[u8]) -> Result<(), String> {
    if fresh == committed {
        return Ok(());
    }
    let (Ok(f), Ok(c)) = (std::str::from_utf8(fresh), std::str::from_utf8(committed)) else {
        return Err("not UTF-8 text".into());
    };
    let line = match mode {
        Mode::Exact => return Err("differs byte for byte".into()),
        Mode::Text | Mode::Svg => {
            if texts_match(f, c, mode == Mode::Svg) {
                return Ok(());
            }
            f.lines()
                .zip(c.lines())
                .position(|(x, y)| !texts_match(x, y, mode == Mode::Svg))
                .map(|i| i + 1)
        }
        Mode::Report => report_diff(f, c, false),
        Mode::ModelLines => report_diff(f, c, true),
    };
    match line {
        None => Ok(()),
        Some(l) => Err(format!("line {l} differs beyond the tolerances")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_within_tolerance() {
        assert!(texts_match(
            "P@1 0.515 (CI 0.473..0.556)",
            "P@1 0.517 (CI 0.471..0.556)",
            false
        ));
        assert!(!texts_match("P@1 0.515", "P@1 0.525", false));
        assert!(!texts_match("hidden state 12", "hidden state 11", false));
        assert!(!texts_match("raised P@1", "lowered P@1", false));
        assert!(texts_match("Welch p = 0.0123", "Welch p = 0.0200", false));
        assert!(!texts_match("Welch p = 0.0123", "Welch p = 0.2", false));
        assert!(texts_match("p = 1.3e-240", "p = 2.9e-240", false));
        assert!(texts_match("t = 54.884", "t = 54.900", false));
        assert!(!texts_match("sha `a5fd3b62`", "sha `a5fd3b63`", false));
        assert!(texts_match(
            "$1.2\\times10^{-5}$",
            "$2.0\\times10^{-5}$",
            false
        ));
        assert!(texts_match(
            "<path d=\"M 10 20 L 31 40\"/>",
            "<path d=\"M 10 21 L 33 40\"/>",
            true
        ));
        assert!(!texts_match(
            "<path d=\"M 10 20\"/>",
            "<path d=\"M 10 30\"/>",
            true
        ));
    }

    #[test]
    fn report_regions_and_columns() {
        let head = "| # | Claim | Measured on a multilingual model |\n|---|---|---|\n";
        let a = format!(
            "# R\n\n{head}| 1 | x 0.3153 | 0.515 |\n\n{}\nP@1 0.515\n{}\nexact 0.3153\n",
            crate::study::render::MODEL_BEGIN,
            crate::study::render::MODEL_END
        );
        let ok = a
            .replace("| 0.515 |", "| 0.516 |")
            .replace("P@1 0.515", "P@1 0.517");
        assert_eq!(compare(Mode::Report, a.as_bytes(), ok.as_bytes()), Ok(()));
        for bad in [
            a.replace("x 0.3153", "x 0.3154"),
            a.replace("exact 0.3153", "exact 0.3154"),
            a.replace("P@1 0.515", "P@1 0.6"),
        ] {
            assert!(
                compare(Mode::Report, a.as_bytes(), bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
        assert!(compare(Mode::Exact, b"0.5", b"0.50001").is_err());
        assert_eq!(mode_of("figures/fig1_layer_cosine.svg"), Mode::Exact);
        assert_eq!(mode_of("figures/study_koen_scan.svg"), Mode::Svg);
        assert_eq!(mode_of("paper/generated/stats_table.tex"), Mode::Exact);
    }
}
