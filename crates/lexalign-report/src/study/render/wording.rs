//! Comparative words generated from the comparison they state ("1.15 times higher than", "lost
//! 0.331"), and citations of the registered findings that decide what a sentence would otherwise
//! interpret in code (issue 31: renderers format, findings decide).

use super::f3;
use crate::study::findings::{FindingResult, FindingVerdict};
use crate::study::load::LangPair;

/// "`r` times higher than" or "`r` times lower than", `r` the ratio of the larger to the smaller
/// (two decimals below 10, one above), "the same as" when equal, "not comparable with" when either
/// is not a positive number.
pub fn times_than(a: f64, b: f64) -> String {
    if !(a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0) {
        return "not comparable with".into();
    }
    let (r, word) = if a > b {
        (a / b, "higher")
    } else if a < b {
        (b / a, "lower")
    } else {
        return "the same as".into();
    };
    if r < 10.0 {
        format!("{r:.2} times {word} than")
    } else {
        format!("{r:.1} times {word} than")
    }
}

/// "gained 0.011", "lost 0.331" or "did not change", from the sign of `x`.
pub fn gain_phrase(x: f64) -> String {
    if x > 0.0 {
        format!("gained {}", f3(x))
    } else if x < 0.0 {
        format!("lost {}", f3(-x))
    } else if x == 0.0 {
        "did not change".into()
    } else {
        "changed by n/a".into()
    }
}

/// " [finding N: verdict]" when finding `id` is registered, else nothing.
pub fn cite(findings: &[FindingResult], id: u32) -> String {
    match findings.iter().find(|f| f.id == id) {
        Some(f) => match &f.verdict {
            FindingVerdict::NeedsRun { .. } => format!(" [finding {id}: not measured in this run]"),
            v => format!(" [finding {id}: {}]", v.label()),
        },
        None => String::new(),
    }
}

/// Which registered finding decides each interpretive sentence of a language pair's section.
pub struct Cites {
    /// Raw cosine hides the alignment at the best layer (anisotropy).
    pub anisotropy: u32,
    /// The shuffled baseline explains the pilot's near-1 cosine at hidden state 2.
    pub pilot: u32,
    /// The model aligns beyond the English-only control.
    pub control: u32,
    /// The adapter at hidden state 2: its raw-cosine gain is a shift, not alignment.
    pub shift_l2: u32,
}

pub fn cites(pair: LangPair) -> Cites {
    match pair {
        LangPair::KoEn => Cites {
            anisotropy: 19,
            pilot: 16,
            control: 77,
            shift_l2: 75,
        },
        LangPair::SwEn => Cites {
            anisotropy: 79,
            pilot: 17,
            control: 78,
            shift_l2: 76,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_follow_the_numbers() {
        // Swahili-English as measured: the control (0.038) is above Gemma (0.033).
        assert_eq!(times_than(0.038, 0.033), "1.15 times higher than");
        assert_eq!(times_than(0.012, 0.515), "42.9 times lower than");
        assert_eq!(times_than(0.5, 0.5), "the same as");
        assert_eq!(times_than(0.0, 0.5), "not comparable with");
        assert_eq!(gain_phrase(-0.331), "lost 0.331");
        assert_eq!(gain_phrase(0.011), "gained 0.011");
        assert_eq!(gain_phrase(0.0), "did not change");
    }
}
