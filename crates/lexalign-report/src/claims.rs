//! `paper/claims.toml`: one entry per claim of the paper, and the verdicts derived from a run.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::fmt::format_num;
use crate::run::RunFolder;
use crate::values::{published_values, render_template, Val, Values};
use crate::REAL_MODEL_COMMAND;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsFile {
    /// Citation of the paper the claims come from.
    pub paper: String,
    pub claim: Vec<Claim>,
    /// The Korean-English / Swahili-English study's own findings (not the paper's claims).
    #[serde(default)]
    pub finding: Vec<crate::study::findings::Finding>,
    /// The answer paragraph of each study section (issue 31): sentences keyed by findings' verdicts.
    #[serde(default)]
    pub answer: Vec<crate::study::answer::Answer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Number,
    Method,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Reproduced,
    Contradicted,
    NeedsModel,
    MethodOnly,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::Contradicted => "contradicted",
            Verdict::NeedsModel => "needs the real model",
            Verdict::MethodOnly => "method-only",
        }
    }
}

/// How a model re-run is compared with the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ModelRule {
    /// |value - paper| <= model_tol (default: tol).
    #[default]
    Abs,
    /// A p-value: reproduced when below 1e-3 (exact tail values depend on the hardware).
    Significant,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Value key (see `values.rs`), e.g. `pilot.layer.2`.
    pub key: String,
    pub paper: f64,
    /// Absolute tolerance against the published data.
    pub tol: Option<f64>,
    /// Relative tolerance (for p-values).
    pub rel_tol: Option<f64>,
    /// Absolute tolerance for a re-run with the real model.
    pub model_tol: Option<f64>,
    #[serde(default)]
    pub model_rule: ModelRule,
    /// Format spec of the value (see `fmt::format_num`).
    #[serde(default)]
    pub fmt: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub id: u32,
    /// A few words for tables.
    pub short: String,
    /// The claim in our words.
    pub claim: String,
    pub kind: Kind,
    /// The paper's value or statement, as printed.
    pub paper: String,
    /// Which experiment checks it.
    pub experiment: String,
    /// Model stage that re-measures it (`pilot-scan`, `tli-eval`), if any.
    pub stage: Option<String>,
    /// Fixed verdict from reading the released code (method claims). Number claims derive theirs.
    pub verdict: Option<Verdict>,
    /// What we found; `{key:spec}` placeholders are filled from the values.
    pub evidence: String,
    pub caveat: Option<String>,
    /// Template of the "reproduced" column; defaults to the checked values.
    pub shown: Option<String>,
    #[serde(default)]
    pub check: Vec<Check>,
    /// What the study measured on the multilingual model for this claim: a template over the
    /// study's value keys (`swen.*`, `koen.*`), shown in the claims table.
    pub multilingual: Option<String>,
}

/// One check evaluated.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub key: String,
    pub paper: f64,
    pub value: f64,
    pub within: bool,
    pub tolerance: String,
    /// Format spec for value and paper (from the check).
    pub fmt: String,
}

impl CheckResult {
    pub fn describe(&self) -> String {
        format!(
            "`{}` = {} vs paper {} ({}, {})",
            self.key,
            format_num(self.value, &self.fmt),
            format_num(self.paper, &self.fmt),
            self.tolerance,
            if self.within { "within" } else { "OUTSIDE" }
        )
    }
}

/// Status of the re-measurement with a model.
#[derive(Debug, Clone, Serialize)]
pub enum ModelStatus {
    /// The claim has no model stage.
    NotApplicable,
    /// No Lugha-Llama run yet (`demo`: a demo-model run exists, shown separately).
    NeedsRealModel { demo: bool },
    /// The real-model run did not measure this value (e.g. a scan of selected layers only).
    NotMeasured { key: String },
    /// Re-measured on Lugha-Llama.
    Checked {
        verdict: Verdict,
        shown: String,
        checks: Vec<CheckResult>,
    },
}

impl ModelStatus {
    pub fn text(&self) -> String {
        match self {
            ModelStatus::NotApplicable => "n/a".into(),
            ModelStatus::NeedsRealModel { .. } => {
                format!("needs the real model: `{REAL_MODEL_COMMAND}`")
            }
            ModelStatus::NotMeasured { key } => format!("not measured by this run (`{key}`)"),
            ModelStatus::Checked { verdict, shown, .. } => format!("{} ({shown})", verdict.label()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimResult {
    pub id: u32,
    pub short: String,
    pub claim: String,
    pub kind: Kind,
    pub paper: String,
    pub experiment: String,
    /// Our value(s) from the published data.
    pub reproduced: String,
    pub verdict: Verdict,
    pub evidence: String,
    pub caveat: Option<String>,
    pub checks: Vec<CheckResult>,
    pub model: ModelStatus,
    /// The study's measurement on the multilingual model ("n/a" where none applies).
    pub multilingual: String,
}

pub fn load_claims(path: &Path) -> Result<ClaimsFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: ClaimsFile = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid claims registry", path.display()))?;
    let mut ids: Vec<u32> = file
        .claim
        .iter()
        .map(|c| c.id)
        .chain(file.finding.iter().map(|f| f.id))
        .collect();
    ids.sort();
    ids.dedup();
    if ids.len() != file.claim.len() + file.finding.len() {
        bail!("{}: claim and finding ids must be unique", path.display());
    }
    crate::study::findings::validate(&file.finding, &path.display().to_string())?;
    crate::study::answer::validate(&file.answer, &path.display().to_string())?;
    for c in &file.claim {
        match (c.kind, c.verdict, c.check.is_empty()) {
            (Kind::Number, Some(_), _) => bail!(
                "{}: claim {}: a number claim's verdict comes from its checks; remove `verdict`",
                path.display(),
                c.id
            ),
            (Kind::Number, None, true) => bail!(
                "{}: claim {}: a number claim needs at least one [[claim.check]]",
                path.display(),
                c.id
            ),
            (Kind::Method, None, _) => bail!(
                "{}: claim {}: a method claim needs a `verdict`",
                path.display(),
                c.id
            ),
            _ => {}
        }
        for k in &c.check {
            if k.tol.is_none() && k.rel_tol.is_none() {
                bail!(
                    "{}: claim {}: check {} needs `tol` or `rel_tol`",
                    path.display(),
                    c.id,
                    k.key
                );
            }
        }
    }
    Ok(file)
}

fn lookup(v: &Values, key: &str, claim: u32, origin: &str) -> Result<f64> {
    match v.get(key) {
        Some(Val::Num(x)) => Ok(*x),
        Some(Val::Text(_)) => bail!("claim {claim}: key {key} is text, not a number"),
        None => bail!("claim {claim}: key {key} is not among the {origin} values"),
    }
}

fn within_published(c: &Check, value: f64) -> (bool, String) {
    match (c.tol, c.rel_tol) {
        (_, Some(r)) => (
            ((value - c.paper) / c.paper).abs() <= r,
            format!("rel. tol. {r}"),
        ),
        (Some(t), None) => ((value - c.paper).abs() <= t, format!("tol. ± {t}")),
        (None, None) => (false, "none".into()),
    }
}

fn shown(claim: &Claim, v: &Values, checks: &[CheckResult]) -> Result<String> {
    match &claim.shown {
        Some(t) => render_template(t, v).with_context(|| format!("claim {}: shown", claim.id)),
        None => Ok(checks
            .iter()
            .zip(&claim.check)
            .map(|(r, c)| format_num(r.value, &c.fmt))
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// Derive every claim's verdict from the published data, and the model column from the run.
pub fn evaluate(file: &ClaimsFile, run: &RunFolder) -> Result<Vec<ClaimResult>> {
    let pv = published_values(&run.published);
    let mv = run.model_values();
    let real = run.is_real_model();
    let sv = run.study.values();
    let mut out = Vec::new();
    for c in &file.claim {
        let mut checks = Vec::new();
        for k in &c.check {
            let value = lookup(&pv, &k.key, c.id, "published-data")?;
            let (within, tolerance) = within_published(k, value);
            checks.push(CheckResult {
                key: k.key.clone(),
                paper: k.paper,
                value,
                within,
                tolerance,
                fmt: k.fmt.clone(),
            });
        }
        let all_within = checks.iter().all(|r| r.within);
        let verdict = match c.verdict {
            _ if !all_within => Verdict::Contradicted,
            Some(v) => v,
            None => Verdict::Reproduced,
        };
        let model = match &c.stage {
            None => ModelStatus::NotApplicable,
            Some(stage) if real && run.has_stage(stage) => {
                match c
                    .check
                    .iter()
                    .find(|k| !matches!(mv.get(&k.key), Some(Val::Num(_))))
                {
                    Some(k) => ModelStatus::NotMeasured { key: k.key.clone() },
                    None => model_checks(c, &mv)?,
                }
            }
            Some(stage) => ModelStatus::NeedsRealModel {
                demo: run.has_stage(stage),
            },
        };
        out.push(ClaimResult {
            id: c.id,
            short: c.short.clone(),
            claim: c.claim.clone(),
            kind: c.kind,
            paper: c.paper.clone(),
            experiment: c.experiment.clone(),
            reproduced: if c.check.is_empty() && c.shown.is_none() {
                "—".into()
            } else {
                shown(c, &pv, &checks)?
            },
            verdict,
            evidence: render_template(&c.evidence, &pv)
                .with_context(|| format!("claim {}: evidence", c.id))?,
            caveat: c
                .caveat
                .as_ref()
                .map(|t| render_template(t, &pv).with_context(|| format!("claim {}: caveat", c.id)))
                .transpose()?,
            checks,
            model,
            multilingual: match &c.multilingual {
                None => "n/a".into(),
                Some(t) => render_template(t, &sv).unwrap_or_else(|_| STUDY_NOT_RUN.into()),
            },
        });
    }
    Ok(out)
}

/// The multilingual column when the study stages have not run.
pub const STUDY_NOT_RUN: &str = "needs the study stages (`cargo xtask reproduce`)";

/// Compare a claim's checks with values measured on the real model.
fn model_checks(c: &Claim, mv: &Values) -> Result<ModelStatus> {
    let mut mchecks = Vec::new();
    for k in &c.check {
        let value = lookup(mv, &k.key, c.id, "model-run")?;
        let (within, tolerance) = match k.model_rule {
            ModelRule::Significant => (value < 1e-3, "p < 0.001".to_string()),
            ModelRule::Abs => {
                let t = k.model_tol.or(k.tol).unwrap_or(0.0);
                ((value - k.paper).abs() <= t, format!("tol. ± {t}"))
            }
        };
        mchecks.push(CheckResult {
            key: k.key.clone(),
            paper: k.paper,
            value,
            within,
            tolerance,
            fmt: k.fmt.clone(),
        });
    }
    let verdict = if mchecks.iter().all(|r| r.within) {
        Verdict::Reproduced
    } else {
        Verdict::Contradicted
    };
    let shown = shown(c, mv, &mchecks)?;
    Ok(ModelStatus::Checked {
        verdict,
        shown,
        checks: mchecks,
    })
}

/// Published-data checks outside their tolerance (these fail `--check`).
pub fn failures(results: &[ClaimResult]) -> Vec<String> {
    let mut f = Vec::new();
    for r in results {
        for k in r.checks.iter().filter(|k| !k.within) {
            f.push(format!(
                "claim {} ({}): {} = {} but the paper says {} ({})",
                r.id,
                r.short,
                k.key,
                format_num(k.value, &k.fmt),
                format_num(k.paper, &k.fmt),
                k.tolerance
            ));
        }
    }
    f
}
