//! `lang-study authors`: the authors' scripts 04 and 05 on the embedded models (issue 28).
//!
//! Script 05 ([`probe`]): the released probe's six templates on its seven pairs (parsed from the
//! released file), 20 new tokens, sampled with the authors' settings (temperature 0.1, top-p 0.9,
//! seeded) and greedy, by the English-only model (`--model`, SmolLM2) without and with the paper
//! recipe's adapter (`--adapter`, the `tli-train` stage's) and by the study model (`--study-model`,
//! Gemma 3 270M) without and with the Swahili-English adapter (`--study-adapter`); each model's
//! outputs measured by the released probe's audit (lexalign-published's `probe`).
//!
//! Script 04 ([`tsne`]): the study model's vectors of the 25 script-04 pairs at hidden state 2
//! and at the Swahili-English scan's best layer, before and after the adapter; exact t-SNE per
//! panel, and each pair's translation rank among the 25 targets in the original space.
//!
//! Writes `probe_generations.jsonl`, `tsne.csv`, `tsne_ranks.csv`, `summary.json`
//! (lexalign-published's `ScriptsSummary`) and `provenance.json` into `--out`.

pub mod probe;
pub mod tsne;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use lexalign_data::authors_rows::{gen_jsonl, rows_csv, ScriptGenRow};
use lexalign_data::PaperData;
use lexalign_model::QuantMode;
use lexalign_published::probe::scripts::ScriptsSummary;
use lexalign_published::probe::Vocabulary;
use lexalign_stages::eval_cmd::check_adapter_dir;
use lexalign_stages::{LoadedRun, ModelArgs};

/// Script 05's sampling seed (its scripts call `random.seed(42)`; the draws here are seeded
/// ChaCha, one fresh stream per prompt).
pub const SEED: u64 = 42;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The English-only model of the paper recipe (`--model`, default the embedded SmolLM2).
    #[command(flatten)]
    pub model: ModelArgs,
    /// The paper recipe's adapter on `--model` (the `tli-train` stage's `adapter/`).
    #[arg(long)]
    pub adapter: PathBuf,
    /// The multilingual study model (default the embedded gemma3-270m).
    #[arg(long, default_value = "gemma3-270m")]
    pub study_model: PathBuf,
    /// The Swahili-English adapter on the study model (`swen-tli-train/adapter`).
    #[arg(long)]
    pub study_adapter: PathBuf,
    /// The Swahili-English scan's folder (its layers.csv picks the best layer).
    #[arg(long)]
    pub scan: PathBuf,
    /// The authors' tli_project folder (default: located as lexalign-data does).
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Loads a model for generation and embedding (dense weights, the output head).
fn load(model: &ModelArgs) -> Result<LoadedRun> {
    let mut run = model.load_with_head(QuantMode::None, None, true)?;
    run.dequantize_for_inference(false);
    Ok(run)
}

pub fn run(a: &Args) -> Result<()> {
    let started = Instant::now();
    // Every input checked before a model loads.
    check_adapter_dir(&a.adapter)?;
    check_adapter_dir(&a.study_adapter)?;
    let best = crate::train::best_layer(&a.scan.join("layers.csv"))?;
    let paper = PaperData::locate(a.paper_data.as_deref())?;
    let probe_rows = paper.probe()?;
    let tsne_pairs = paper.tsne_pairs()?;
    let pairs: Vec<_> = paper
        .training_pairs()?
        .pairs
        .into_iter()
        .chain(paper.control_pairs()?.pairs)
        .collect();
    let vocab = Vocabulary::locate(&pairs)?.context(
        "the probe audit needs the lexicons and corpora for its vocabulary: run `cargo xtask setup`, or set LEXALIGN_LEXICONS and LEXALIGN_CORPORA",
    )?;
    lexalign_stages::stage_io::prepare_out_dir(&a.out)?;

    let mut rows: Vec<ScriptGenRow> = probe::authors_rows(&probe_rows);
    let mut audits = Vec::new();
    let english = load(&a.model)?;
    let prov = english.provenance("authors-scripts")?;
    let (gen, mut en_run) = (
        probe::ProbeRun {
            rows: &probe_rows,
            adapter_stage: "tli-train",
        },
        english,
    );
    audits.extend(gen.run_both(&mut en_run, &a.adapter, &vocab, &mut rows)?);
    drop(en_run);

    let mut study_args = a.model.clone();
    study_args.model = Some(a.study_model.clone());
    study_args.model_sha256 = None;
    study_args.model_id = None;
    let mut study = load(&study_args)?;
    // Hidden state 2 (the paper's) and the best layer, once when they coincide.
    let layers: Vec<usize> = if best.layer == 2 {
        vec![2]
    } else {
        vec![2, best.layer]
    };
    let before = tsne::embed_pairs(&study, &tsne_pairs, &layers)?;
    let gen = probe::ProbeRun {
        rows: &probe_rows,
        adapter_stage: "swen-tli-train",
    };
    audits.extend(gen.run_both(&mut study, &a.study_adapter, &vocab, &mut rows)?);
    // `run_both` leaves the adapter attached: the "after" vectors.
    let after = tsne::embed_pairs(&study, &tsne_pairs, &layers)?;
    let t = tsne::panels(&tsne_pairs, &layers, &before, &after)?;

    let summary = ScriptsSummary {
        audits,
        tsne_model: study.model.info.name.clone(),
        tsne_adapter: "swen-tli-train".into(),
        best_layer: best.layer,
        tsne: t.panels,
        seed: SEED,
        seconds: started.elapsed().as_secs_f64(),
    };
    let w = |name: &str, bytes: Vec<u8>| lexalign_run::write_atomic(a.out.join(name), bytes);
    w("probe_generations.jsonl", gen_jsonl(&rows)?)?;
    w("tsne.csv", rows_csv(&t.points, "tsne.csv")?)?;
    w("tsne_ranks.csv", rows_csv(&t.ranks, "tsne_ranks.csv")?)?;
    w("summary.json", serde_json::to_vec_pretty(&summary)?)?;
    let study_prov = study.provenance("authors-scripts")?;
    prov.seed(SEED)
        .setting("study_model", &study_prov)?
        .setting("adapter", a.adapter.display().to_string())?
        .setting("study_adapter", a.study_adapter.display().to_string())?
        .setting("best_layer", &best)?
        .setting("seconds", summary.seconds)?
        .write(&a.out)?;
    print_summary(&summary);
    Ok(())
}

fn print_summary(s: &ScriptsSummary) {
    for m in &s.audits {
        let a = &m.audit;
        println!(
            "{} {} base/tuned: pair word {}/{} of {}, other scripts {}/{}, known-word share {:.3}/{:.3}",
            m.model,
            m.decoding,
            a.base.with_pair_word,
            a.tuned.with_pair_word,
            a.rows,
            a.base.with_foreign_script,
            a.tuned.with_foreign_script,
            a.base.known_share,
            a.tuned.known_share
        );
    }
    for p in &s.tsne {
        println!(
            "t-SNE layer {} {}: KL {:.4}, trustworthiness@5 {:.3}, mean translation rank {:.2} of 25 ({} at rank 1)",
            p.layer, p.state, p.kl_divergence, p.trustworthiness_5, p.mean_rank, p.rank_1
        );
    }
    println!("authors-scripts: {:.1} s", s.seconds);
}
