//! Descriptive statistics as pandas/numpy compute them for the authors' tables.

/// Arithmetic mean; NaN for an empty slice.
pub fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation with ddof = 1 (pandas' `std`); NaN for fewer than two values.
pub fn sd(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (x.len() - 1) as f64).sqrt()
}

/// Percent change of a mean exactly as the authors' evaluation script computed it:
/// `(post - pre) / (|pre| + 1e-9) * 100`.
pub fn percent_change(pre: f64, post: f64) -> f64 {
    (post - pre) / (pre.abs() + 1e-9) * 100.0
}
