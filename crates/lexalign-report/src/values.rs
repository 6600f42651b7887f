//! Flat `key -> value` views of a run's numbers. Claims, templates and LaTeX macros all refer to
//! these keys (e.g. `pilot.layer.2`, `eval.trained.p`), for the published data and for a model run
//! alike, so a claim is checked the same way against both.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use lexalign_stats::PairedSummary;

use crate::fmt::format_num;
use lexalign_published::EvalStats;
use lexalign_published::PublishedSummary;

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Num(f64),
    Text(String),
}

pub type Values = BTreeMap<String, Val>;

fn num(v: &mut Values, k: impl Into<String>, x: f64) {
    v.insert(k.into(), Val::Num(x));
}

fn group(v: &mut Values, p: &str, s: &PairedSummary) {
    num(v, format!("{p}.n"), s.n as f64);
    num(v, format!("{p}.pre_mean"), s.mean_pre);
    num(v, format!("{p}.pre_sd"), s.sd_pre);
    num(v, format!("{p}.post_mean"), s.mean_post);
    num(v, format!("{p}.post_sd"), s.sd_post);
    num(v, format!("{p}.diff_mean"), s.mean_diff);
    num(v, format!("{p}.diff_sd"), s.sd_diff);
    num(v, format!("{p}.percent"), s.percent_change);
    num(v, format!("{p}.t"), s.ttest.t);
    num(v, format!("{p}.df"), s.ttest.df);
    num(v, format!("{p}.p"), s.ttest.p);
    num(v, format!("{p}.wilcoxon_w"), s.wilcoxon.statistic);
    num(v, format!("{p}.wilcoxon_p"), s.wilcoxon.p);
    num(v, format!("{p}.dz"), s.cohens_dz);
    num(v, format!("{p}.ci_low"), s.ci95_low);
    num(v, format!("{p}.ci_high"), s.ci95_high);
    num(v, format!("{p}.n_improved"), s.n_improved as f64);
}

/// `eval.*` keys of an evaluation table's statistics.
pub fn eval_values(v: &mut Values, e: &EvalStats) {
    num(v, "eval.all.n", e.n_all as f64);
    num(v, "eval.all.pre_mean", e.all_pre_mean);
    num(v, "eval.all.post_mean", e.all_post_mean);
    group(v, "eval.trained", &e.trained);
    group(v, "eval.control", &e.control);
    num(v, "eval.gain_welch.t", e.gain_welch.t);
    num(v, "eval.gain_welch.df", e.gain_welch.df);
    num(v, "eval.gain_welch.p", e.gain_welch.p);
    num(
        v,
        "eval.improvement_column_max_dev",
        e.improvement_column_max_dev,
    );
}

/// `pilot.*` keys of a per-layer curve (HF hidden-state index, mean cosine).
pub fn pilot_values(v: &mut Values, layers: &[(usize, f64)]) {
    for (l, c) in layers {
        num(v, format!("pilot.layer.{l}"), *c);
    }
    if let Some((l, c)) = layers.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        num(v, "pilot.peak_layer", *l as f64);
        num(v, "pilot.peak", *c);
    }
    num(v, "pilot.n_layers", layers.len() as f64);
    if let (Some(a), Some(b)) = (
        layers.iter().map(|x| x.0).min(),
        layers.iter().map(|x| x.0).max(),
    ) {
        num(v, "pilot.first_layer", a as f64);
        num(v, "pilot.last_layer", b as f64);
    }
}

/// All keys of the published-data summary.
pub fn published_values(s: &PublishedSummary) -> Values {
    let mut v = Values::new();
    let layers: Vec<(usize, f64)> = s
        .pilot
        .layers
        .iter()
        .map(|r| (r.layer, r.avg_cosine))
        .collect();
    pilot_values(&mut v, &layers);
    eval_values(&mut v, &s.eval);
    let p = &s.pairs;
    num(&mut v, "pairs.n_trained", p.n_trained as f64);
    num(&mut v, "pairs.n_control", p.n_control as f64);
    num(
        &mut v,
        "pairs.unique_swahili_trained",
        p.unique_swahili_trained as f64,
    );
    num(
        &mut v,
        "pairs.unique_english_trained",
        p.unique_english_trained as f64,
    );
    num(&mut v, "pairs.shared_pairs", p.shared_pairs.len() as f64);
    num(
        &mut v,
        "pairs.shared_swahili",
        p.shared_swahili.len() as f64,
    );
    num(
        &mut v,
        "pairs.shared_english",
        p.shared_english.len() as f64,
    );
    num(
        &mut v,
        "pairs.csv_matches_json",
        if p.csv_matches_json { 1.0 } else { 0.0 },
    );
    v.insert(
        "pairs.shared_swahili_list".into(),
        Val::Text(quoted(&p.shared_swahili)),
    );
    v.insert(
        "pairs.shared_english_list".into(),
        Val::Text(quoted(&p.shared_english)),
    );
    let a = &s.adapter;
    v.insert("adapter.base_model".into(), Val::Text(a.base_model.clone()));
    num(&mut v, "adapter.r", a.r as f64);
    num(&mut v, "adapter.lora_alpha", a.lora_alpha);
    num(&mut v, "adapter.lora_dropout", a.lora_dropout);
    v.insert(
        "adapter.target_modules".into(),
        Val::Text(a.target_modules.join(", ")),
    );
    probe_values(&mut v, s.probe.as_ref());
    v
}

/// `probe.*` keys of the probe audit (none when the run has no audit: findings over them then
/// read "needs the study stages" with the missing key).
pub fn probe_values(v: &mut Values, a: Option<&lexalign_published::probe::ProbeAudit>) {
    let Some(a) = a else { return };
    num(v, "probe.rows", a.rows as f64);
    num(v, "probe.pairs", a.pairs as f64);
    num(v, "probe.identical", a.identical_outputs as f64);
    for (name, s) in [
        ("base", &a.base),
        ("tuned", &a.tuned),
        ("prompts", &a.prompts),
    ] {
        let p = format!("probe.{name}");
        num(v, format!("{p}.pair_word"), s.with_pair_word as f64);
        num(v, format!("{p}.foreign"), s.with_foreign_script as f64);
        num(
            v,
            format!("{p}.foreign_share"),
            s.with_foreign_script as f64 / s.outputs.max(1) as f64,
        );
        num(v, format!("{p}.empty"), s.empty as f64);
        num(v, format!("{p}.tokens"), s.tokens as f64);
        num(v, format!("{p}.known_share"), s.known_share);
        let share = |k: usize| {
            if s.tokens == 0 {
                0.0
            } else {
                k as f64 / s.tokens as f64
            }
        };
        num(v, format!("{p}.english_share"), share(s.english_tokens));
        num(v, format!("{p}.swahili_share"), share(s.swahili_tokens));
        let scripts: Vec<String> = s.scripts.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let scripts = if scripts.is_empty() {
            "none".to_string()
        } else {
            scripts.join(", ")
        };
        v.insert(format!("{p}.scripts"), Val::Text(scripts));
    }
    for (name, t) in [
        ("pair_word", &a.pair_word_test),
        ("foreign", &a.foreign_script_test),
        ("known", &a.known_share_test),
    ] {
        num(
            v,
            format!("probe.test.{name}.base_only"),
            t.base_only as f64,
        );
        num(
            v,
            format!("probe.test.{name}.tuned_only"),
            t.tuned_only as f64,
        );
        num(v, format!("probe.test.{name}.p"), t.p);
    }
    num(v, "probe.vocab.english", a.vocabulary.english_words as f64);
    num(v, "probe.vocab.swahili", a.vocabulary.swahili_words as f64);
}

fn quoted(list: &[String]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fill `{key}` / `{key:spec}` placeholders from `v` (spec as in [`format_num`]).
/// An unknown key is an error naming it, so typos in claims.toml are caught.
pub fn render_template(tpl: &str, v: &Values) -> Result<String> {
    let mut out = String::with_capacity(tpl.len());
    let mut rest = tpl;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            bail!("unclosed '{{' in template {tpl:?}")
        };
        let inner = &after[..end];
        let (key, spec) = inner.split_once(':').unwrap_or((inner, ""));
        match v.get(key) {
            Some(Val::Num(x)) => out.push_str(&format_num(*x, spec)),
            Some(Val::Text(s)) => out.push_str(s),
            None => bail!("unknown value key {key:?} in template {tpl:?}"),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
