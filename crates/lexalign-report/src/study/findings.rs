//! The study's findings (`[[finding]]` in paper/claims.toml): claims of this project, not of the
//! paper, each with a condition on the study's value keys that decides its verdict, e.g.
//! `supported_if = "koen.l2.t.held_out.delta_ci_low > 0"`. Conditions are comparisons
//! (`<`, `<=`, `>`, `>=`, `==`, `!=`) of value keys or numbers, joined by `and`.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::values::{render_template, Val, Values};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub id: u32,
    /// A few words for tables.
    pub short: String,
    /// The finding as a claim that the run supports or not.
    pub claim: String,
    /// `ko-en` or `sw-en` (the study), or `authors` (the authors' released outputs; its
    /// conditions use the `probe.*` keys of the published data).
    pub pair: String,
    /// The condition under which the run supports the claim.
    pub supported_if: String,
    /// What was measured; `{key:spec}` placeholders from the study's values.
    pub evidence: String,
    pub caveat: Option<String>,
    /// `positive`: the claim is phrased so that "supported" is the positive statement; `null`:
    /// a stated absence-of-evidence (or absence) claim. Required ([`validate`] names the id).
    pub polarity: Option<Polarity>,
    /// One line: why each number in `supported_if` is what it is ("none: ..." when the condition
    /// only asks that a CI exclude 0). Required.
    pub threshold_reason: Option<String>,
}

/// How a finding is phrased (see [`Finding::polarity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Polarity {
    Positive,
    Null,
}

/// The `pair` of findings about the authors' released outputs (rendered in their own section).
pub const AUTHORS: &str = "authors";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FindingVerdict {
    Supported,
    NotSupported,
    /// The run lacks a value the condition needs (the stage did not run, or it is NaN).
    NeedsRun {
        key: String,
    },
}

impl FindingVerdict {
    pub fn label(&self) -> &'static str {
        match self {
            FindingVerdict::Supported => "supported",
            FindingVerdict::NotSupported => "not supported",
            FindingVerdict::NeedsRun { .. } => "needs the study stages",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingResult {
    pub id: u32,
    pub short: String,
    pub claim: String,
    pub pair: String,
    pub condition: String,
    pub verdict: FindingVerdict,
    /// The evidence filled from the run (None when a key is missing).
    pub evidence: Option<String>,
    pub caveat: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// One comparison: (left, op, right), each side a key or a number.
#[derive(Debug, Clone, PartialEq)]
struct Cmp {
    lhs: String,
    op: Op,
    rhs: String,
}

fn parse(cond: &str) -> Result<Vec<Cmp>> {
    let mut out = Vec::new();
    for part in cond.split(" and ") {
        let toks: Vec<&str> = part.split_whitespace().collect();
        let [lhs, op, rhs] = toks[..] else {
            bail!("condition {cond:?}: `{part}` is not `<key or number> <op> <key or number>`");
        };
        let op = match op {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            o => bail!("condition {cond:?}: unknown operator `{o}` (use < <= > >= == !=)"),
        };
        out.push(Cmp {
            lhs: lhs.into(),
            op,
            rhs: rhs.into(),
        });
    }
    Ok(out)
}

/// A side's value: a number literal, or a numeric key (Err(key) when missing or NaN).
fn operand(s: &str, v: &Values) -> std::result::Result<f64, String> {
    if let Ok(x) = s.parse::<f64>() {
        return Ok(x);
    }
    match v.get(s) {
        Some(Val::Num(x)) if x.is_finite() => Ok(*x),
        _ => Err(s.to_string()),
    }
}

/// Evaluate a condition against the values.
pub fn decide(cond: &str, v: &Values) -> Result<FindingVerdict> {
    let mut all = true;
    for c in parse(cond)? {
        let (a, b) = match (operand(&c.lhs, v), operand(&c.rhs, v)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(key), _) | (_, Err(key)) => return Ok(FindingVerdict::NeedsRun { key }),
        };
        all &= match c.op {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        };
    }
    Ok(if all {
        FindingVerdict::Supported
    } else {
        FindingVerdict::NotSupported
    })
}

/// Check a findings list when the registry is loaded: known pair, parsable condition.
pub fn validate(findings: &[Finding], origin: &str) -> Result<()> {
    for f in findings {
        if !["ko-en", "sw-en", AUTHORS].contains(&f.pair.as_str()) {
            bail!(
                "{origin}: finding {}: pair must be `ko-en`, `sw-en` or `{AUTHORS}`, not `{}`",
                f.id,
                f.pair
            );
        }
        parse(&f.supported_if).with_context(|| format!("{origin}: finding {}", f.id))?;
        if f.polarity.is_none() {
            bail!("{origin}: finding {}: add `polarity = \"positive\"` (\"supported\" is the positive statement) or `polarity = \"null\"` (a stated absence-of-evidence claim)", f.id);
        }
        if f.threshold_reason
            .as_deref()
            .is_none_or(|r| r.trim().is_empty())
        {
            bail!("{origin}: finding {}: add `threshold_reason = \"...\"`: one line saying why each number in `supported_if` is what it is (\"none: the CI of the difference excludes 0\" when there is no threshold)", f.id);
        }
    }
    Ok(())
}

/// Every finding's verdict from the study's values.
pub fn evaluate(findings: &[Finding], v: &Values) -> Result<Vec<FindingResult>> {
    findings
        .iter()
        .map(|f| {
            let verdict =
                decide(&f.supported_if, v).with_context(|| format!("finding {}", f.id))?;
            let fill = |t: &str| render_template(t, v).ok();
            Ok(FindingResult {
                id: f.id,
                short: f.short.clone(),
                claim: f.claim.clone(),
                pair: f.pair.clone(),
                condition: f.supported_if.clone(),
                evidence: if matches!(verdict, FindingVerdict::NeedsRun { .. }) {
                    None
                } else {
                    fill(&f.evidence)
                },
                caveat: f.caveat.as_ref().and_then(|c| fill(c)),
                verdict,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        let mut v = Values::new();
        v.insert("a".into(), Val::Num(0.5));
        v.insert("b".into(), Val::Num(0.2));
        v.insert("n".into(), Val::Num(f64::NAN));
        assert_eq!(decide("a > b", &v).unwrap(), FindingVerdict::Supported);
        assert_eq!(
            decide("a > b and b >= 0.3", &v).unwrap(),
            FindingVerdict::NotSupported
        );
        assert_eq!(
            decide("a < 1e-3", &v).unwrap(),
            FindingVerdict::NotSupported
        );
        assert_eq!(decide("b == 0.2", &v).unwrap(), FindingVerdict::Supported);
        assert_eq!(
            decide("c > 0", &v).unwrap(),
            FindingVerdict::NeedsRun { key: "c".into() }
        );
        assert_eq!(
            decide("n > 0", &v).unwrap(),
            FindingVerdict::NeedsRun { key: "n".into() }
        );
        assert!(decide("a >> b", &v).is_err());
        assert!(decide("a > ", &v).is_err());
    }
}
