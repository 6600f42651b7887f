//! The answer paragraph at the top of each study section (issue 31): sentences registered in
//! `paper/claims.toml` as `[[answer]]` tables (one per language pair), each kept or dropped by
//! the verdicts of the findings it names and filled from the run's values. The renderer only
//! formats: every claim the paragraph makes is a template a person wrote next to the findings.
//!
//! A sentence: `when = ["77 supported", "22 not-supported"]` (all must hold; states:
//! `supported`, `not-supported`, `measured` (either verdict), `not-measured` (the finding is not
//! registered or the run lacks its values)); `text` with `{key:spec}` value placeholders and
//! `{cited}`, which lists the `cites` findings present in the registry ("finding N (short):
//! verdict"); `none_cited` replaces the sentence when none of them is present.

use anyhow::{bail, Result};
use serde::Deserialize;

use super::findings::{FindingResult, FindingVerdict};
use crate::values::{render_template, Values};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// `ko-en` or `sw-en`.
    pub pair: String,
    pub sentence: Vec<AnswerSentence>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerSentence {
    #[serde(default)]
    pub when: Vec<String>,
    pub text: String,
    #[serde(default)]
    pub cites: Vec<u32>,
    pub none_cited: Option<String>,
}

const STATES: &[&str] = &["supported", "not-supported", "measured", "not-measured"];

fn parse_when(w: &str) -> Result<(u32, &str)> {
    let (id, state) = w.split_once(' ').unwrap_or((w, ""));
    match (id.parse::<u32>(), STATES.contains(&state)) {
        (Ok(id), true) => Ok((id, state)),
        _ => bail!(
            "`{w}` is not `<finding id> <state>` with state one of {}",
            STATES.join(", ")
        ),
    }
}

/// Check the answers when the registry is loaded.
pub fn validate(answers: &[Answer], origin: &str) -> Result<()> {
    for a in answers {
        if !["ko-en", "sw-en"].contains(&a.pair.as_str()) {
            bail!(
                "{origin}: [[answer]] pair must be `ko-en` or `sw-en`, not `{}`",
                a.pair
            );
        }
        for (i, s) in a.sentence.iter().enumerate() {
            for w in &s.when {
                parse_when(w).map_err(|e| {
                    anyhow::anyhow!("{origin}: [[answer]] {} sentence {}: {e}", a.pair, i + 1)
                })?;
            }
            if s.text.contains("{cited}") && s.cites.is_empty() {
                bail!(
                    "{origin}: [[answer]] {} sentence {}: `{{cited}}` needs a `cites` list",
                    a.pair,
                    i + 1
                );
            }
        }
    }
    Ok(())
}

fn holds(w: &str, findings: &[FindingResult]) -> bool {
    let Ok((id, state)) = parse_when(w) else {
        return false;
    };
    let v = findings.iter().find(|f| f.id == id).map(|f| &f.verdict);
    matches!(
        (state, v),
        ("supported", Some(FindingVerdict::Supported))
            | ("not-supported", Some(FindingVerdict::NotSupported))
            | (
                "measured",
                Some(FindingVerdict::Supported | FindingVerdict::NotSupported)
            )
            | ("not-measured", None | Some(FindingVerdict::NeedsRun { .. }))
    )
}

fn cited(ids: &[u32], pair: &str, findings: &[FindingResult]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| {
            ids.contains(&f.id)
                && (f.pair == pair || !["ko-en", "sw-en"].contains(&f.pair.as_str()))
        })
        .map(|f| format!("finding {} ({}): {}", f.id, f.short, f.verdict.label()))
        .collect()
}

/// The paragraph of one pair ("" when no answer is registered for it).
pub fn answer_md(answers: &[Answer], pair: &str, findings: &[FindingResult], v: &Values) -> String {
    let mut out = Vec::new();
    for a in answers.iter().filter(|a| a.pair == pair) {
        for s in a
            .sentence
            .iter()
            .filter(|s| s.when.iter().all(|w| holds(w, findings)))
        {
            let c = cited(&s.cites, pair, findings);
            let text = match (&s.none_cited, c.is_empty() && !s.cites.is_empty()) {
                (Some(none), true) => none.clone(),
                _ => s.text.replace("{cited}", &c.join("; ")),
            };
            out.push(match render_template(&text, v) {
                Ok(t) => t,
                Err(e) => {
                    format!("(A sentence of this answer is not measured in this run: {e:#}.)")
                }
            });
        }
    }
    if out.is_empty() {
        return String::new();
    }
    format!("**The answer, from this run.** {}\n\n", out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Val;

    fn fr(id: u32, verdict: FindingVerdict) -> FindingResult {
        FindingResult {
            id,
            short: format!("f{id}"),
            claim: String::new(),
            pair: "ko-en".into(),
            condition: String::new(),
            verdict,
            evidence: None,
            caveat: None,
        }
    }

    #[test]
    fn sentences_follow_the_verdicts_and_absent_findings_say_so() {
        let s = |when: &[&str], text: &str, cites: &[u32], none: Option<&str>| AnswerSentence {
            when: when.iter().map(|w| w.to_string()).collect(),
            text: text.into(),
            cites: cites.to_vec(),
            none_cited: none.map(str::to_string),
        };
        let a = vec![Answer {
            pair: "ko-en".into(),
            sentence: vec![
                s(&["1 supported"], "One holds ({x:.2}).", &[], None),
                s(&["1 not-supported"], "One fails.", &[], None),
                s(&["2 not-measured"], "Two is not measured.", &[], None),
                s(
                    &[],
                    "Cost: {cited}.",
                    &[50, 51],
                    Some("Cost: not measured in this run."),
                ),
            ],
        }];
        validate(&a, "t").unwrap();
        let mut v = Values::new();
        v.insert("x".into(), Val::Num(0.5));
        let md = answer_md(&a, "ko-en", &[fr(1, FindingVerdict::Supported)], &v);
        assert_eq!(md, "**The answer, from this run.** One holds (0.50). Two is not measured. Cost: not measured in this run.\n\n");
        let md = answer_md(
            &a,
            "ko-en",
            &[
                fr(1, FindingVerdict::NotSupported),
                fr(2, FindingVerdict::Supported),
                fr(50, FindingVerdict::Supported),
            ],
            &v,
        );
        assert_eq!(
            md,
            "**The answer, from this run.** One fails. Cost: finding 50 (f50): supported.\n\n"
        );
        assert!(answer_md(&a, "sw-en", &[], &v).is_empty());
        let bad = vec![Answer {
            pair: "ko-en".into(),
            sentence: vec![s(&["1 maybe"], "x", &[], None)],
        }];
        assert!(validate(&bad, "t").is_err());
    }
}
