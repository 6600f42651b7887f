//! Script 05 on an embedded model: every prompt of the released probe continued for 20 new
//! tokens, sampled with the authors' settings and greedy, by the base model and then by the
//! base model with the adapter attached (unmerged: the merged weights' function); each
//! decoding's base and tuned columns audited as the released probe is.

use std::path::Path;

use anyhow::Result;
use lexalign_data::authors_rows::{ScriptGenRow, AUTHORS_MODEL, GREEDY, SAMPLED};
use lexalign_data::ProbeRow;
use lexalign_model::{GenerateConfig, Sampling};
use lexalign_published::probe::scripts::ModelAudit;
use lexalign_published::probe::{audit, Vocabulary};
use lexalign_stages::generate_cmd::decode;
use lexalign_stages::LoadedRun;

/// Script 05's settings: `generate(max_new_tokens=20, do_sample=True, temperature=0.1, top_p=0.9)`.
pub const MAX_NEW_TOKENS: usize = 20;
pub const TEMPERATURE: f64 = 0.1;
pub const TOP_P: f64 = 0.9;

/// The two decodings, by name.
pub fn decodings(eos: &[i64]) -> [(&'static str, GenerateConfig); 2] {
    let sampled = GenerateConfig {
        max_new_tokens: MAX_NEW_TOKENS,
        sampling: Some(Sampling {
            temperature: TEMPERATURE,
            top_k: 0,
            top_p: TOP_P,
            seed: super::SEED,
        }),
        eos_ids: eos.to_vec(),
    };
    [
        (SAMPLED, sampled),
        (GREEDY, GenerateConfig::greedy(MAX_NEW_TOKENS, eos.to_vec())),
    ]
}

/// The authors' released outputs as rows (model [`AUTHORS_MODEL`], decoding `sampled`).
pub fn authors_rows(rows: &[ProbeRow]) -> Vec<ScriptGenRow> {
    let mut out = Vec::new();
    for tuned in [false, true] {
        for r in rows {
            out.push(ScriptGenRow {
                model: AUTHORS_MODEL.into(),
                adapter: "the authors' final adapter".into(),
                decoding: SAMPLED.into(),
                tuned,
                swahili: r.swahili.clone(),
                english: r.english.clone(),
                template: r.template.clone(),
                prompt: r.prompt.clone(),
                text: if tuned {
                    r.tuned.clone()
                } else {
                    r.base.clone()
                },
                new_tokens: 0,
            });
        }
    }
    out
}

/// One model's probe: the released rows and the stage whose adapter tunes it.
pub struct ProbeRun<'a> {
    pub rows: &'a [ProbeRow],
    pub adapter_stage: &'a str,
}

impl ProbeRun<'_> {
    /// Every prompt under both decodings (sharing their passes while they agree), `tuned` or
    /// not; appends to `out`, returns the texts per decoding (probe row order).
    fn generate(
        &self,
        run: &LoadedRun,
        tuned: bool,
        out: &mut Vec<ScriptGenRow>,
    ) -> Result<Vec<Vec<String>>> {
        let m = &run.model;
        let [(sampled_name, cfg), (greedy_name, _)] = decodings(&m.tokenizer.eos_ids);
        let bar = lexalign_run::progress_bar(
            self.rows.len() as u64,
            &format!("{} tuned={tuned}", m.info.name),
        );
        let mut texts = vec![Vec::new(), Vec::new()];
        for r in self.rows {
            let ids = m.tokenizer.encode(&r.prompt)?;
            let (sampled, greedy) = m.model.generate_sampled_and_greedy(&ids, &cfg)?;
            for (col, (name, new_ids)) in [(sampled_name, sampled), (greedy_name, greedy)]
                .into_iter()
                .enumerate()
            {
                let text = decode(&m.tokenizer, &new_ids)?;
                out.push(ScriptGenRow {
                    model: m.info.name.clone(),
                    adapter: self.adapter_stage.into(),
                    decoding: name.into(),
                    tuned,
                    swahili: r.swahili.clone(),
                    english: r.english.clone(),
                    template: r.template.clone(),
                    prompt: r.prompt.clone(),
                    text: text.clone(),
                    new_tokens: new_ids.len(),
                });
                texts[col].push(text);
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(texts)
    }

    /// Base, then with the adapter attached (left attached); one audit per decoding.
    pub fn run_both(
        &self,
        run: &mut LoadedRun,
        adapter: &Path,
        vocab: &Vocabulary,
        out: &mut Vec<ScriptGenRow>,
    ) -> Result<Vec<ModelAudit>> {
        let base = self.generate(run, false, out)?;
        lexalign_model::lora::load_peft(&mut run.model.model, adapter, false)?;
        let tuned = self.generate(run, true, out)?;
        let mut audits = Vec::new();
        for (d, (name, _)) in decodings(&[]).iter().enumerate() {
            let rows: Vec<ProbeRow> = self
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| ProbeRow {
                    base: base[d][i].clone(),
                    tuned: tuned[d][i].clone(),
                    ..r.clone()
                })
                .collect();
            audits.push(ModelAudit {
                model: run.model.info.name.clone(),
                adapter: self.adapter_stage.into(),
                decoding: (*name).into(),
                audit: audit(&rows, vocab)?,
            });
        }
        Ok(audits)
    }
}
