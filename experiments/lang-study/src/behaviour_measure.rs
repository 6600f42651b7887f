//! One model's (base or one adapter's) measurements in `lang-study behaviour`: LM loss per
//! sentence, prompted word translation (greedy answer and candidate ranking), the logit lens on
//! the zero-shot prompts, and a few greedy generations. Everything reads the plan made once
//! ([`crate::behaviour::Plan`]) so that every model sees the same sentences and prompts.

use crate::behaviour::Plan;
use crate::behaviour_prompts as bp;
use crate::behaviour_stats::lens_rows;
use anyhow::{Context, Result};
use lexalign_data::behaviour_rows::{BehaviourLmRow, LensRow, SampleRow, TranslationRow};
use lexalign_model::continuation::SharedPrefix;
use lexalign_model::logit_lens::ScriptMasks;
use lexalign_model::LoadedModel;

/// Everything measured on one model.
#[derive(Default)]
pub struct Measured {
    pub lm: Vec<BehaviourLmRow>,
    pub translation: Vec<TranslationRow>,
    pub lens: Vec<LensRow>,
    pub samples: Vec<SampleRow>,
}

fn content_ids(m: &LoadedModel, text: &str) -> Result<Vec<i64>> {
    let enc = m
        .tokenizer
        .inner
        .encode(text, false)
        .map_err(|e| anyhow::anyhow!("cannot tokenize `{text}`: {e}"))?;
    Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
}

fn decode(m: &LoadedModel, ids: &[i64]) -> Result<String> {
    let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
    m.tokenizer
        .inner
        .decode(&ids, true)
        .map_err(|e| anyhow::anyhow!("cannot decode generated tokens: {e}"))
}

/// Greedy continuation of `prompt` (text): at most `max` tokens, stopping at end of sequence or
/// once `done(text so far)`.
pub fn greedy(
    m: &LoadedModel,
    prompt: &str,
    max: usize,
    done: impl Fn(&str) -> bool,
) -> Result<String> {
    let ids = m.tokenizer.encode(prompt)?;
    greedy_from(m, m.model.shared_prefix(&ids)?, max, done)
}

/// [`greedy`] from a prompt already run (`prefix`).
pub fn greedy_from(
    m: &LoadedModel,
    mut prefix: SharedPrefix,
    max: usize,
    done: impl Fn(&str) -> bool,
) -> Result<String> {
    let mut new = Vec::new();
    loop {
        let next = prefix.next_logp.argmax(0, false).int64_value(&[]);
        new.push(next);
        let text = decode(m, &new)?;
        if m.tokenizer.eos_ids.contains(&next) || new.len() >= max || done(&text) {
            return Ok(text);
        }
        m.model.extend_prefix(&mut prefix, next)?;
    }
}

/// LM loss of every planned sentence.
pub fn lm_rows(m: &LoadedModel, plan: &Plan, label: &str) -> Result<Vec<BehaviourLmRow>> {
    let mut rows = Vec::new();
    for (lang, texts) in &plan.sentences {
        for (index, text) in texts.iter().enumerate() {
            let ids = m.tokenizer.encode(text)?;
            let l = m
                .model
                .text_nll(&ids)
                .with_context(|| format!("{lang} sentence {index}: `{text}`"))?;
            rows.push(BehaviourLmRow {
                model: label.into(),
                lang: lang.clone(),
                index,
                tokens: l.tokens,
                nll_sum: l.nll_sum,
                bytes: text.len(),
            });
        }
    }
    Ok(rows)
}

/// Translation rows, lens rows and the translation samples of one model.
pub fn translation(
    m: &LoadedModel,
    plan: &Plan,
    label: &str,
    masks: &ScriptMasks,
    out: &mut Measured,
) -> Result<()> {
    for task in &plan.tasks {
        let pool: Vec<Vec<i64>> = task
            .pool
            .iter()
            .map(|w| content_ids(m, &bp::candidate_text(w)))
            .collect::<Result<_>>()?;
        for (shots, examples) in [(0, &[][..]), (task.shots.len(), &task.shots[..])] {
            let mut lens = Vec::new();
            for (k, (src, gold)) in task.items.iter().enumerate() {
                let prompt = bp::prompt(task.dir, examples, src);
                let ids = m.tokenizer.encode(&prompt)?;
                let prefix = m.model.shared_prefix(&ids)?;
                let scores = m
                    .model
                    .score_continuations(&prefix, &pool)
                    .with_context(|| format!("scoring candidates for `{src}`"))?;
                let best_gold = task
                    .pool
                    .iter()
                    .zip(&scores)
                    .filter(|(w, _)| gold.contains(w))
                    .map(|(_, s)| *s)
                    .fold(f64::NEG_INFINITY, f64::max);
                let gold_rank = 1 + scores.iter().filter(|&&s| s > best_gold).count();
                let text = greedy_from(m, prefix, plan.answer_tokens, bp::answer_done)?;
                out.translation.push(TranslationRow {
                    model: label.into(),
                    direction: task.dir.code.into(),
                    shots,
                    source: src.clone(),
                    gold: gold.join(" | "),
                    greedy_word: bp::first_word(&text),
                    greedy_correct: bp::is_correct(&text, gold),
                    gold_rank,
                    pool: pool.len(),
                });
                if k < plan.samples {
                    out.samples.push(SampleRow {
                        model: label.into(),
                        prompt_type: format!("translate-{}-{shots}shot", task.dir.code),
                        prompt: bp::query(task.dir, src),
                        text,
                    });
                }
                if shots == 0 && k < plan.lens_items {
                    let first = *content_ids(m, &gold[0])?
                        .first()
                        .with_context(|| format!("the gold `{}` has no tokens", gold[0]))?;
                    let pts = m.model.logit_lens(&ids, first, masks)?;
                    lens.push(
                        pts.iter()
                            .map(|p| (p.rank, p.p_hangul, p.p_latin))
                            .collect::<Vec<_>>(),
                    );
                }
            }
            if shots == 0 {
                out.lens.extend(lens_rows(label, task.dir.code, &lens));
            }
        }
    }
    Ok(())
}

/// Greedy continuations of the planned sentence beginnings.
pub fn continuations(m: &LoadedModel, plan: &Plan, label: &str) -> Result<Vec<SampleRow>> {
    let mut rows = Vec::new();
    for (lang, prompts) in &plan.continue_prompts {
        for p in prompts {
            let text = greedy(m, p, plan.gen_tokens, |_| false)?;
            rows.push(SampleRow {
                model: label.into(),
                prompt_type: format!("continue-{lang}"),
                prompt: p.clone(),
                text,
            });
        }
    }
    Ok(rows)
}

/// All of one model's measurements.
pub fn measure(m: &LoadedModel, plan: &Plan, label: &str, masks: &ScriptMasks) -> Result<Measured> {
    let t = std::time::Instant::now();
    let mut out = Measured {
        lm: lm_rows(m, plan, label)?,
        ..Default::default()
    };
    log::info!("{label}: LM loss in {:.1} s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    translation(m, plan, label, masks, &mut out)?;
    log::info!(
        "{label}: prompted translation and logit lens in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = std::time::Instant::now();
    out.samples.extend(continuations(m, plan, label)?);
    log::info!("{label}: generations in {:.1} s", t.elapsed().as_secs_f64());
    Ok(out)
}
