//! `lang-study behaviour`: what fine-tuning changed in what the model does (issue 27), on the
//! base model and after each `--adapter`: (a) LM loss (bits per UTF-8 byte, nats per token) on
//! the Korean, English and Swahili sides of a seeded subsample of the corpora's evaluation
//! sentences (Kolibri sentences and UDHR segments; `--sentences` per language), with a paired
//! bootstrap CI of adapter − base over sentences; (b) prompted word translation, zero- and
//! `--shots`-shot, both directions, on `--pairs` seeded held-out source words: greedy answer
//! accuracy and the rank of the gold among the candidate pool (the subsample's gold targets, not
//! the full target vocabulary, to keep the stage cheap) by total log-probability (P@1, P@5);
//! (c) the logit lens on the zero-shot prompts; (d) `--samples` greedy generations per prompt
//! type. Outputs (lexalign-data's `behaviour_rows`): `lm_loss.csv`, `lm_summary.csv`,
//! `translation.csv`, `translation_summary.csv`, `logit_lens.csv`, `samples.jsonl`,
//! `summary.json`, `provenance.json`.

use crate::behaviour_prompts::{group_by_source, Direction};
use crate::data::{study_pairs_in, LangPair};
use crate::scan::{stage_prefix, study_model};
use anyhow::{bail, Context, Result};
use lexalign_data::behaviour_rows::{samples_jsonl, to_csv};
use lexalign_data::corpora::Corpora;
use lexalign_data::Pair;
use lexalign_model::QuantMode;
use lexalign_stages::ModelArgs;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// ko-en | sw-en
    #[arg(long, value_enum)]
    pub pair: LangPair,
    #[command(flatten)]
    pub model: ModelArgs,
    /// peft adapter folders (`<train out>/adapter`), each compared with the base; repeatable.
    #[arg(long)]
    pub adapter: Vec<PathBuf>,
    /// Sentences per language for the LM loss (a seeded sample of the evaluation sentences).
    #[arg(long, default_value_t = 40, value_parser = lexalign_stages::model_args::at_least_one)]
    pub sentences: usize,
    /// Held-out source words per direction for prompted translation.
    #[arg(long, default_value_t = 30, value_parser = lexalign_stages::model_args::at_least_one)]
    pub pairs: usize,
    /// In-context pairs of the few-shot prompts (from the training split).
    #[arg(long, default_value_t = 5, value_parser = lexalign_stages::model_args::at_least_one)]
    pub shots: usize,
    /// Zero-shot prompts per direction read by the logit lens (the first of the sample).
    #[arg(long, default_value_t = 30)]
    pub lens_pairs: usize,
    /// Greedy generations kept per prompt type.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
    /// Tokens at most of a greedy translation answer.
    #[arg(long, default_value_t = 8, value_parser = lexalign_stages::model_args::at_least_one)]
    pub answer_tokens: usize,
    /// New tokens of each sentence continuation.
    #[arg(long, default_value_t = 16, value_parser = lexalign_stages::model_args::at_least_one)]
    pub gen_tokens: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 1000, value_parser = lexalign_stages::model_args::at_least_one)]
    pub bootstrap: usize,
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    /// The corpora folder (default: $LEXALIGN_CORPORA, ../shared/corpora, the cache).
    #[arg(long)]
    pub corpora: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

/// One translation direction's prompts.
pub struct Task {
    pub dir: Direction,
    /// Source word and its gold targets.
    pub items: Vec<(String, Vec<String>)>,
    /// The candidate pool: every gold target of `items`, first-seen order.
    pub pool: Vec<String>,
    /// In-context pairs of the few-shot prompts.
    pub shots: Vec<(String, String)>,
}

/// What every model is measured on.
pub struct Plan {
    /// (language, sentences), the same sentence index in each language.
    pub sentences: Vec<(String, Vec<String>)>,
    pub tasks: Vec<Task>,
    pub samples: usize,
    pub lens_items: usize,
    pub answer_tokens: usize,
    pub gen_tokens: usize,
    /// (language, sentence beginnings) for the continuation samples.
    pub continue_prompts: Vec<(String, Vec<String>)>,
}

fn directions(p: LangPair) -> [Direction; 2] {
    let (src, code, back) = match p {
        LangPair::KoEn => ("Korean", "ko-en", "en-ko"),
        LangPair::SwEn => ("Swahili", "sw-en", "en-sw"),
    };
    [
        Direction {
            source: src,
            target: "English",
            code,
        },
        Direction {
            source: "English",
            target: src,
            code: back,
        },
    ]
}

/// A seeded choice of `n` of `items` (all when fewer).
fn sample<T: Clone>(items: &[T], n: usize, seed: u64) -> Vec<T> {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    idx.into_iter().take(n).map(|i| items[i].clone()).collect()
}

fn task(dir: Direction, test: &[Pair], train: &[Pair], args: &Args, salt: u64) -> Result<Task> {
    let items = sample(&group_by_source(test), args.pairs, args.seed ^ salt);
    if items.len() < 2 {
        bail!(
            "{}: only {} held-out source word(s); prompted translation needs at least 2",
            dir.code,
            items.len()
        );
    }
    let mut pool: Vec<String> = Vec::new();
    for g in items.iter().flat_map(|(_, g)| g) {
        if !pool.contains(g) {
            pool.push(g.clone());
        }
    }
    let shots = sample(
        &group_by_source(train),
        args.shots,
        args.seed ^ salt ^ 0x5107,
    )
    .into_iter()
    .map(|(s, g)| (s, g[0].clone()))
    .collect();
    Ok(Task {
        dir,
        items,
        pool,
        shots,
    })
}

/// One language's side of a trilingual corpus row.
type SideOf = fn(&lexalign_data::corpora::Trilingual) -> &String;

/// Reads the sentences and pairs and fixes the subsamples (no model needed).
pub fn plan(args: &Args) -> Result<(Plan, Vec<PathBuf>)> {
    let corpora = Corpora::locate(args.corpora.as_deref())?;
    let mut rows = corpora.kolibri_sentences()?;
    rows.extend(corpora.udhr_segments()?);
    let picked = sample(&rows, args.sentences + args.samples, args.seed);
    if picked.len() < args.sentences + args.samples {
        bail!(
            "--sentences {} + --samples {} passes the {} evaluation sentences of {}",
            args.sentences,
            args.samples,
            rows.len(),
            corpora.root().display()
        );
    }
    let (lm, cont) = picked.split_at(args.sentences);
    let side = |f: SideOf, v: &[lexalign_data::corpora::Trilingual]| {
        v.iter().map(|r| f(r).clone()).collect::<Vec<_>>()
    };
    let langs: [(&str, SideOf); 3] = [("ko", |r| &r.ko), ("en", |r| &r.en), ("sw", |r| &r.sw)];
    let half = |s: &String| {
        let w: Vec<&str> = s.split_whitespace().collect();
        w[..w.len().div_ceil(2)].join(" ")
    };
    let s = study_pairs_in(
        args.pair,
        args.lexicon_dir.as_deref(),
        args.paper_data.as_deref(),
    )?;
    let [fwd, back] = directions(args.pair);
    let swap = |v: &[Pair]| {
        v.iter()
            .map(|p| Pair::new(p.target.clone(), p.source.clone()))
            .collect::<Vec<_>>()
    };
    let tasks = vec![
        task(fwd, &s.test, &s.train, args, 1)?,
        task(back, &swap(&s.test), &swap(&s.train), args, 2)?,
    ];
    let plan = Plan {
        sentences: langs
            .iter()
            .map(|(l, f)| (l.to_string(), side(*f, lm)))
            .collect(),
        tasks,
        samples: args.samples,
        lens_items: args.lens_pairs,
        answer_tokens: args.answer_tokens,
        gen_tokens: args.gen_tokens,
        continue_prompts: langs
            .iter()
            .map(|(l, f)| (l.to_string(), side(*f, cont).iter().map(half).collect()))
            .collect(),
    };
    Ok((plan, s.files.clone()))
}

pub fn run(args: &Args) -> Result<()> {
    for a in &args.adapter {
        lexalign_model::lora::LoraConfig::from_file(&a.join(lexalign_model::lora::ADAPTER_CONFIG))
            .with_context(|| format!("--adapter {} is not a peft adapter folder", a.display()))?;
    }
    let (plan, files) = plan(args)?;
    lexalign_stages::stage_io::prepare_out_dir(&args.out)?;
    let started = std::time::Instant::now();
    let mut run = study_model(&args.model).load_with_head(QuantMode::None, None, true)?;
    run.dequantize_for_inference(false);
    let vocab = run.model.model.embed_tokens.size()[0] as usize;
    let masks = lexalign_model::logit_lens::ScriptMasks::of(
        &run.model.tokenizer,
        vocab,
        run.model.model.device,
    )?;
    let mut labels = vec![crate::behaviour_stats::BASE.to_string()];
    let mut all = crate::behaviour_measure::Measured::default();
    for (i, adapter) in std::iter::once(None)
        .chain(args.adapter.iter().map(Some))
        .enumerate()
    {
        lexalign_model::lora::detach(&mut run.model.model);
        if let Some(a) = adapter {
            lexalign_model::lora::load_peft(&mut run.model.model, a, false)?;
            labels.push(crate::eval::adapter_label(a));
        }
        let m = crate::behaviour_measure::measure(&run.model, &plan, &labels[i], &masks)?;
        all.lm.extend(m.lm);
        all.translation.extend(m.translation);
        all.lens.extend(m.lens);
        all.samples.extend(m.samples);
    }
    let langs: Vec<&str> = plan.sentences.iter().map(|(l, _)| l.as_str()).collect();
    let lm_summary =
        crate::behaviour_stats::lm_summaries(&all.lm, &labels, &langs, args.bootstrap, args.seed)?;
    let tr_summary = crate::behaviour_stats::translation_summaries(
        &all.translation,
        &labels,
        args.bootstrap,
        args.seed,
    )?;
    let w = |name: &str, bytes: Vec<u8>| lexalign_run::write_atomic(args.out.join(name), bytes);
    w("lm_loss.csv", to_csv(&all.lm)?)?;
    w("lm_summary.csv", to_csv(&lm_summary)?)?;
    w("translation.csv", to_csv(&all.translation)?)?;
    w("translation_summary.csv", to_csv(&tr_summary)?)?;
    w("logit_lens.csv", to_csv(&all.lens)?)?;
    w("samples.jsonl", samples_jsonl(&all.samples)?)?;
    let secs = started.elapsed().as_secs_f64();
    let stage = format!("{}-behaviour", stage_prefix(args.pair));
    let mut prov = run
        .provenance(&stage)?
        .seed(args.seed)
        .setting("seconds", secs)?;
    for f in files.iter().chain(
        args.adapter
            .iter()
            .map(|a| a.join(lexalign_model::lora::ADAPTER_WEIGHTS))
            .collect::<Vec<_>>()
            .iter(),
    ) {
        prov = prov.data_file(f)?;
    }
    let sizes = serde_json::json!({
        "models": labels, "sentences_per_language": args.sentences, "pairs_per_direction": args.pairs,
        "shots": args.shots, "lens_pairs": args.lens_pairs, "samples": args.samples, "bootstrap": args.bootstrap,
        "seed": args.seed, "candidate_pool": "the sampled source words' gold targets", "seconds": secs,
        "pools": plan.tasks.iter().map(|t| serde_json::json!({"direction": t.dir.code, "items": t.items.len(), "pool": t.pool.len()})).collect::<Vec<_>>(),
    });
    lexalign_stages::stage_io::write_summary(&args.out, &run, &prov, sizes)?;
    prov.write(&args.out)?;
    log::info!("{stage}: {} models in {secs:.1} s", labels.len());
    Ok(())
}
