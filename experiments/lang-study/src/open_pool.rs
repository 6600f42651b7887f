//! `lang-study open-pool` (issue 31): retrieval on an open pool, both directions. One candidate
//! pool per direction is shared by every set (trained sample, held-out, CLDR, control): the words
//! of every set on the pool's side plus `--extra-words` other words of that language from the
//! shared lexicons and corpora (rule: `lexalign_data::vocab`), plus `--extra-candidates`; the
//! centring mean and CSLS's r_T / r_S come from `--reference-words` further words of each
//! language that are no word of any set. The frozen model is scored (with `--frozen-layers all`) at every hidden state on the
//! held-out set and at each adapter's trained hidden state on every set; each adapter at its
//! trained hidden state on every set. Writes `open_pool.csv`, per adapter `<label>/breakdown.csv`
//! ([`crate::breakdown`]), `summary.json` and `provenance.json`.

use crate::data::{study_pairs_in, LangPair, StudyPairs};
use crate::open_pool_eval::{embed, layer_rows, rank_key, Side, WordRanks, Words};
use crate::scan::{first_file, stage_prefix, study_model};
use anyhow::{Context, Result};
use lexalign_data::vocab::{read_extra_candidates, split_vocabulary, vocabulary, VocabLang};
use lexalign_data::Pair;
use lexalign_model::QuantMode;
use lexalign_stages::ModelArgs;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Seed of the reference/extra split of the vocabulary (the number).
pub const VOCAB_SEED: u64 = 31;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// ko-en | sw-en
    #[arg(long, value_enum)]
    pub pair: LangPair,
    #[command(flatten)]
    pub model: ModelArgs,
    /// peft adapter folders (`<train out>/adapter`, with the training summary.json beside it);
    /// none: the frozen model only.
    #[arg(long)]
    pub adapter: Vec<PathBuf>,
    /// A word list (one English word per line, UTF-8) added to the English candidate pool.
    #[arg(long)]
    pub extra_candidates: Option<PathBuf>,
    /// Words per language in the reference vocabulary (centring mean, CSLS r_T and r_S).
    #[arg(long, default_value_t = 800, value_parser = lexalign_stages::model_args::at_least_one)]
    pub reference_words: usize,
    /// Other words per language added to each pool.
    #[arg(long, default_value_t = 5000)]
    pub extra_words: usize,
    /// Hidden states of the frozen model: `targets` (the adapters' target layers only; the forward
    /// stops at the highest) or `all` (also every hidden state on the held-out set, for the
    /// Holm-corrected layer-wise count; a full forward of every word, several times the cost).
    #[arg(long, default_value = "targets", value_parser = ["targets", "all"])]
    pub frozen_layers: String,
    /// At most this many trained pairs (the same seeded sample as `lang-study eval`).
    #[arg(long, default_value_t = 600)]
    pub max_trained: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 64, value_parser = lexalign_stages::model_args::at_least_one)]
    pub batch_size: usize,
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    /// The corpora folder (default: located as lexalign-data's `Corpora::locate` does).
    #[arg(long)]
    pub corpora: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

/// Both sides of the pool for the study's pairs.
fn sides(
    args: &Args,
    s: &StudyPairs,
    sets: &[(&str, Vec<Pair>)],
    extra_en: &[String],
) -> Result<(Side, Side)> {
    let lex = lexalign_data::Lexicons::locate(args.lexicon_dir.as_deref())?;
    let corpora = lexalign_data::Corpora::locate(args.corpora.as_deref())?;
    let all: Vec<&Pair> = s
        .train
        .iter()
        .chain(&s.test)
        .chain(&s.independent)
        .chain(&s.control)
        .chain(sets.iter().flat_map(|(_, p)| p))
        .collect();
    let mut exclude: BTreeSet<&str> = all
        .iter()
        .flat_map(|p| [p.source.as_str(), p.target.as_str()])
        .collect();
    exclude.extend(extra_en.iter().map(String::as_str));
    let (lang, code) = match args.pair {
        LangPair::KoEn => (VocabLang::Korean, "ko"),
        LangPair::SwEn => (VocabLang::Swahili, "sw"),
    };
    let side = |l: VocabLang,
                code: &str,
                seed: u64,
                words: BTreeSet<String>,
                extra_file: &[String]|
     -> Result<Side> {
        let vocab = vocabulary(&lex, &corpora, l)?;
        let (reference, extra) = split_vocabulary(
            &vocab,
            &exclude,
            args.reference_words,
            args.extra_words,
            seed,
        )
        .with_context(|| {
            format!(
                "the {code} side of the open pool ({} words in the vocabulary)",
                vocab.len()
            )
        })?;
        if extra.len() < args.extra_words {
            log::warn!("the {code} side of the open pool has {} extra candidates, fewer than --extra-words {}: every word of the vocabulary left after the reference", extra.len(), args.extra_words);
        }
        let mut extra = extra;
        extra.extend(extra_file.iter().cloned());
        Ok(Side::new(code, words, &extra, reference))
    };
    let src_words: BTreeSet<String> = sets
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.source.clone()))
        .collect();
    let tgt_words: BTreeSet<String> = sets
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.target.clone()))
        .collect();
    Ok((
        side(lang, code, VOCAB_SEED, src_words, &[])?,
        side(
            VocabLang::English,
            "en",
            VOCAB_SEED + 1,
            tgt_words,
            extra_en,
        )?,
    ))
}

pub fn run(args: &Args) -> Result<()> {
    lexalign_stages::stage_io::prepare_out_dir(&args.out)?;
    // Flags and files first: a bad word list fails before the model loads.
    let extra_en = match &args.extra_candidates {
        Some(f) => read_extra_candidates(f).context("--extra-candidates")?,
        None => Vec::new(),
    };
    let targets = args
        .adapter
        .iter()
        .map(|a| crate::baseline_layers::adapter_target_layer(a))
        .collect::<Result<Vec<_>>>()?;
    let started = std::time::Instant::now();
    let s = study_pairs_in(
        args.pair,
        args.lexicon_dir.as_deref(),
        args.paper_data.as_deref(),
    )?;
    let sets = crate::eval::study_sets(&s, args.max_trained, args.seed);
    let (src, tgt) = sides(args, &s, &sets, &extra_en)?;
    let words = Words::of_lists(&[&src.pool, &src.reference, &tgt.pool, &tgt.reference]);
    log::info!(
        "open pool: {} {} and {} {} candidates, {} + {} reference words, {} words to embed",
        src.pool.len(),
        src.lang,
        tgt.pool.len(),
        tgt.lang,
        src.reference.len(),
        tgt.reference.len(),
        words.words.len()
    );
    let set_refs: Vec<(&str, &[Pair])> = sets.iter().map(|(n, p)| (*n, p.as_slice())).collect();
    let held_out: Vec<(&str, &[Pair])> = set_refs
        .iter()
        .filter(|(n, _)| *n == "held-out")
        .cloned()
        .collect();

    let mut run = study_model(&args.model).load(QuantMode::None, None)?;
    let all_layers: Vec<usize> = if args.frozen_layers == "all" {
        (0..run.model.model.num_hidden_states()).collect()
    } else {
        let mut t = targets.clone();
        t.sort_unstable();
        t.dedup();
        t
    };
    anyhow::ensure!(
        !all_layers.is_empty(),
        "--frozen-layers targets needs at least one --adapter (or pass --frozen-layers all)"
    );
    let mats = embed(&run, &words, &all_layers, args.batch_size, "frozen")?;
    let mut rows = Vec::new();
    let mut frozen_ranks: Vec<(usize, WordRanks)> = Vec::new();
    for (&layer, all) in all_layers.iter().zip(&mats) {
        let these = if targets.contains(&layer) {
            &set_refs
        } else {
            &held_out
        };
        let (r, ranks) = layer_rows("frozen", layer, all, &words, (&src, &tgt), these)?;
        rows.extend(r);
        frozen_ranks.push((layer, ranks));
    }
    drop(mats);
    let mut adapters = Vec::new();
    for (adapter, &layer) in args.adapter.iter().zip(&targets) {
        let label = crate::eval::adapter_label(adapter);
        lexalign_model::lora::load_peft(&mut run.model.model, adapter, false)?;
        let mats = embed(&run, &words, &[layer], args.batch_size, &label)?;
        let (mut r, ranks) = layer_rows(&label, layer, &mats[0], &words, (&src, &tgt), &set_refs)?;
        lexalign_model::lora::detach(&mut run.model.model);
        let before = frozen_ranks
            .iter()
            .find(|(l, _)| *l == layer)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        r.iter_mut()
            .for_each(|row| crate::open_pool_eval::mark_changes(row, &before, &ranks));
        rows.extend(r);
        adapters.push((label, layer, before, ranks));
    }
    lexalign_run::write_atomic(args.out.join("open_pool.csv"), crate::eval::to_csv(&rows)?)?;
    let share = crate::breakdown::write_all(
        &args.out,
        args,
        &run,
        &s,
        &adapters,
        &rank_key("held-out", &format!("{}-{}", src.lang, tgt.lang)),
    )?;
    let secs = started.elapsed().as_secs_f64();
    write_summary(args, &run, &s, (&src, &tgt), share, secs)?;
    println!(
        "held-out source words: {:.3} of their tokens occur in the training pairs' words",
        share
    );
    for r in rows
        .iter()
        .filter(|r| r.set == "held-out" && (r.model != "frozen" || targets.contains(&r.layer)))
    {
        println!("{} {} hidden state {}: open-pool CSLS P@1 {:.3} (pool {}), closed-pool {:.3} (pool {})", r.model, r.direction, r.layer, r.p1_csls, r.n_pool, r.closed_p1_csls, r.closed_n_pool);
    }
    println!(
        "open pool: {} rows in {secs:.1} s; wrote {}",
        rows.len(),
        args.out.display()
    );
    Ok(())
}

fn write_summary(
    args: &Args,
    run: &lexalign_stages::LoadedRun,
    s: &StudyPairs,
    (src, tgt): (&Side, &Side),
    share: f64,
    secs: f64,
) -> Result<()> {
    let stage = format!("{}-open-pool", stage_prefix(args.pair));
    let prov = run.provenance(&stage)?;
    let summary = serde_json::json!({
        "pair": args.pair,
        "pooling": crate::baselines::POOLING.name(),
        "space": "centred on the reference vocabulary",
        "k_csls": crate::baselines::K_CSLS,
        "vocab_seed": VOCAB_SEED,
        "pool": {src.lang.as_str(): src.pool.len(), tgt.lang.as_str(): tgt.pool.len()},
        "reference": {src.lang.as_str(): src.reference.len(), tgt.lang.as_str(): tgt.reference.len()},
        "extra_words": args.extra_words,
        "extra_candidates": args.extra_candidates.as_ref().map(|p| p.display().to_string()),
        "split": s.sizes(),
        "held_out_token_share_seen_in_training": share,
        "seconds": (secs * 10.0).round() / 10.0,
    });
    lexalign_stages::stage_io::write_summary(&args.out, run, &prov, summary)?;
    let mut prov = prov
        .data_file(first_file(&s.files))?
        .seed(args.seed)
        .setting("vocab_seed", VOCAB_SEED)?;
    if let Some(f) = &args.extra_candidates {
        prov = prov.data_file(f)?;
    }
    prov.write(&args.out)?;
    Ok(())
}
