//! `lexalign eval --save-vectors`: the vectors the evaluation compares (the target hidden state,
//! the evaluation's pooling, L2-normalised as `lexalign_tli::eval::embed` returns them) of each
//! set's distinct words, before (`pre`) and after (`post`) the adapter is merged. The words are
//! embedded once more for the export, so the evaluation itself is unchanged.

use anyhow::{Context, Result};
use lexalign_metrics::Lexicon;
use lexalign_tli::{EvalConfig, Group};

use crate::model_args::LoadedRun;
use crate::vectors_out::{tensor_name, VectorSink};

/// Adds `<pooling>.layer<L>.<set>-<when>.source|target` for every set.
pub fn add_sets(
    sink: &mut VectorSink,
    run: &LoadedRun,
    sets: &[(Group, &[lexalign_tli::Pair])],
    cfg: &EvalConfig,
    when: &str,
) -> Result<()> {
    for (group, pairs) in sets {
        let set = group.as_str();
        let lex = Lexicon::from_pairs(
            &pairs
                .iter()
                .map(|p| (p.source.as_str(), p.target.as_str()))
                .collect::<Vec<_>>(),
            &[] as &[&str],
        )
        .with_context(|| format!("the {set} pairs"))?;
        for (side, words) in [("source", &lex.sources), ("target", &lex.candidates)] {
            let (cols, data) = embed_rows(run, words, cfg)
                .with_context(|| format!("{set} {side} vectors ({when})"))?;
            let name = tensor_name(
                cfg.pooling()?.name(),
                cfg.target_layer,
                Some(&format!("{set}-{when}")),
                side,
            );
            sink.add(&name, &format!("{set}.{side}"), words, cols, &data)?;
        }
    }
    Ok(())
}

/// The evaluation's vectors of `words` as (dimension, row-major f32).
fn embed_rows(run: &LoadedRun, words: &[String], cfg: &EvalConfig) -> Result<(usize, Vec<f32>)> {
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let t = lexalign_tli::eval::embed(&run.model.model, &run.model.tokenizer, &refs, cfg)?
        .to_kind(lexalign_model::tch::Kind::Float);
    let cols = t.size()[1] as usize;
    Ok((
        cols,
        Vec::<f32>::try_from(t.flatten(0, -1)).context("vectors to host")?,
    ))
}
