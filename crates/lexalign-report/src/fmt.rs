//! Number formatting shared by the markdown, LaTeX and claim templates, so every output rounds
//! the same way (and snapshots stay stable).

/// Format `v` by a spec: `.N` fixed decimals, `eN` scientific with N decimals, `int`,
/// `+.N` fixed with an explicit sign; empty spec: a sensible default.
pub fn format_num(v: f64, spec: &str) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if let Some(d) = spec.strip_prefix("+.") {
        let d: usize = d.parse().unwrap_or(4);
        return format!("{v:+.d$}");
    }
    if let Some(d) = spec.strip_prefix('.') {
        let d: usize = d.parse().unwrap_or(4);
        return format!("{v:.d$}");
    }
    if let Some(d) = spec.strip_prefix('e') {
        let d: usize = d.parse().unwrap_or(3);
        return format!("{v:.d$e}");
    }
    if spec == "int" {
        return format!("{}", v.round() as i64);
    }
    default_num(v)
}

/// Integers as integers, tiny values in scientific notation, others with 4 decimals.
pub fn default_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// A p-value for prose: 4 significant digits, scientific below 1e-3.
pub fn p_value(p: f64) -> String {
    if p < 1e-3 {
        format!("{p:.3e}")
    } else {
        format!("{p:.4}")
    }
}

/// Scientific `1.332e-240` as LaTeX math, `1.332\times10^{-240}`.
pub fn latex_sci(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => format!("${m}\\times10^{{{e}}}$"),
        None => s.to_string(),
    }
}

/// Escape LaTeX special characters in running text.
pub fn latex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '`' => {}
            '→' => out.push_str("$\\rightarrow$"),
            '≈' => out.push_str("$\\approx$"),
            '≤' => out.push_str("$\\le$"),
            _ => out.push(c),
        }
    }
    out
}

/// Escape `|` for markdown table cells and flatten newlines.
pub fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_num(1.332011276420994e-240, "e3"), "1.332e-240");
        assert_eq!(format_num(0.41130727, ".4"), "0.4113");
        assert_eq!(format_num(28.0826, "+.2"), "+28.08");
        assert_eq!(format_num(623.0, ""), "623");
        assert_eq!(latex_sci("1.332e-240"), "$1.332\\times10^{-240}$");
        assert_eq!(latex_escape("28 % & a_b"), "28 \\% \\& a\\_b");
    }
}
