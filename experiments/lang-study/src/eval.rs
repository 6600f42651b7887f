//! `lang-study eval`: the model before and after a TLI adapter, at every hidden state, on the
//! trained pairs, the held-out pairs (no string shared with training), the independent CLDR
//! pairs and (sw-en) the paper's controls; each set also carries its shuffled baseline. Per set
//! and layer: every alignment metric before/after, a paired t-test and Wilcoxon on per-pair
//! cosines (raw and centred), and a paired bootstrap CI of the change in centred CSLS P@1; per
//! layer, Welch's test of the gain on trained vs held-out pairs. With the adapter loaded, also
//! the baselines' protocol on the adapted vectors (`baselines.csv`: `tli` and `tli+procrustes`,
//! a Procrustes map fitted on the adapted training pairs; [`crate::baselines`]).

use crate::data::{study_pairs_in, LangPair, StudyPairs};
use crate::laser::{CkaTable, LaserSides};
use crate::scan::{first_file, stage_prefix, study_model};
use anyhow::{Context, Result};
pub use lexalign_data::study_rows::ChangeRow;
use lexalign_data::Pair;
use lexalign_model::{Pooling, QuantMode};
use lexalign_scan::{scan_visit, ScanOptions, ScanResult};
use lexalign_stages::ModelArgs;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// ko-en | sw-en
    #[arg(long, value_enum)]
    pub pair: LangPair,
    #[command(flatten)]
    pub model: ModelArgs,
    /// The peft adapter folders written by `lang-study train` (`<train out>/adapter`); give it
    /// once per adapter. Each is evaluated into `<out>/<the train folder's name>/`.
    #[arg(long, required = true)]
    pub adapter: Vec<PathBuf>,
    /// The pooling of the evaluation (the authors' evaluation script: mean-content).
    #[arg(long, default_value = "mean-content", value_parser = lexalign_stages::model_args::pooling_parser())]
    pub pooling: String,
    /// At most this many trained pairs are evaluated (a seeded sample; all when fewer).
    #[arg(long, default_value_t = 600)]
    pub max_trained: usize,
    #[arg(long, default_value_t = 64, value_parser = lexalign_stages::model_args::at_least_one)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 1000, value_parser = lexalign_stages::model_args::at_least_one)]
    pub bootstrap: usize,
    /// Folder with Meta's LASER-2 files (default: $LEXALIGN_LASER): adds `<out>/<label>/cka.csv`,
    /// linear CKA against LASER-2 per set and hidden state, before and after. Without it, none.
    #[arg(long)]
    pub laser: Option<PathBuf>,
    /// multilingual-e5-small as the reference encoder: `<out>/<label>/sentence_xsim.csv` and
    /// `cka_e5.csv`, before and after.
    #[command(flatten)]
    pub e5: crate::e5ref::E5Flags,
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    /// Skip `baselines.csv` (TLI and TLI + Procrustes at the hidden states of --baseline-layers).
    #[arg(long)]
    pub no_baselines: bool,
    /// Hidden states of the baselines: `targets` (hidden state 2 and every adapter's
    /// `target_layer` from its training summary.json), `all`, or a list like 2,9.
    #[arg(long, default_value = "targets")]
    pub baseline_layers: crate::baseline_layers::BaselineLayers,
    #[arg(long)]
    pub out: PathBuf,
}

/// Welch's test of the per-pair gain (raw cosine) on trained vs another set, per layer.
#[derive(Debug, Clone, Serialize)]
pub struct GainTest {
    pub layer: usize,
    pub versus: String,
    pub trained_gain: f64,
    pub other_gain: f64,
    pub welch_t: Option<f64>,
    pub welch_p: Option<f64>,
}

pub fn run(args: &Args) -> Result<()> {
    lexalign_stages::stage_io::prepare_out_dir(&args.out)?;
    let pooling: Pooling = args.pooling.parse()?;
    for adapter in &args.adapter {
        lexalign_model::lora::LoraConfig::from_file(
            &adapter.join(lexalign_model::lora::ADAPTER_CONFIG),
        )
        .with_context(|| {
            format!(
                "--adapter {} is not a peft adapter folder",
                adapter.display()
            )
        })?;
    }
    let laser = crate::laser::load(args.laser.as_deref(), &args.model.device)?;
    let e5 = crate::e5ref::load(&args.e5, args.pair)?;
    let s = study_pairs_in(
        args.pair,
        args.lexicon_dir.as_deref(),
        args.paper_data.as_deref(),
    )?;
    let sets = eval_sets(args, &s);
    // LASER-2's side of each set's CKA: TLI does not touch it, so it is embedded once.
    let laser_sides = match &laser {
        Some(l) => Some(
            sets.iter()
                .map(|(n, p)| {
                    LaserSides::of_pairs(l, &pair_refs(p))
                        .with_context(|| format!("LASER-2 on the {n} pairs"))
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        None => None,
    };
    // e5's side likewise, and the sentence pairs' rows of the model before any adapter.
    let e5_sides = match &e5 {
        Some(e) => Some(
            sets.iter()
                .map(|(n, p)| {
                    e.words(&pair_refs(p), args.seed, 1)
                        .map(|w| w.1)
                        .with_context(|| format!("{} on the {n} pairs", crate::e5ref::ENCODER))
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        None => None,
    };
    let mut run = study_model(&args.model).load(QuantMode::None, None)?;
    let layers: Vec<usize> = (0..run.model.model.num_hidden_states()).collect();
    let baseline_layers = if args.no_baselines {
        Vec::new()
    } else {
        resolve_baseline_layers(args, layers.len())?
    };
    let opts = ScanOptions {
        layers: layers.clone(),
        poolings: vec![pooling],
        batch_size: args.batch_size,
        seed: args.seed,
        bootstrap: args.bootstrap,
        candidates: Vec::new(),
    };
    let started = std::time::Instant::now();
    let refs: Vec<&[LaserSides]> = laser_sides
        .iter()
        .chain(&e5_sides)
        .map(Vec::as_slice)
        .collect();
    let (before, mut ckas_before) = scan_sets(&run, &sets, &opts, "before", &refs)?;
    let e5_cka_before = if e5_sides.is_some() {
        ckas_before.pop().unwrap_or_default()
    } else {
        CkaTable::new()
    };
    let cka_before = ckas_before.pop().unwrap_or_default();
    let xsim_before = e5
        .as_ref()
        .map(|e| e.decoder_xsim(&run.model, args.batch_size))
        .transpose()?;
    let frozen_hits = if args.no_baselines {
        None
    } else {
        Some(frozen_procrustes(
            &run,
            &s,
            &baseline_layers,
            args.batch_size,
        )?)
    };
    let stage = format!("{}-eval", stage_prefix(args.pair));
    for adapter in &args.adapter {
        let label = adapter_label(adapter);
        let out = args.out.join(&label);
        lexalign_stages::stage_io::prepare_out_dir(&out)?;
        let lora = lexalign_model::lora::load_peft(&mut run.model.model, adapter, false)?;
        let (after, mut ckas_after) =
            scan_sets(&run, &sets, &opts, &format!("after {label}"), &refs)?;
        let e5_cka_after = if e5_sides.is_some() {
            ckas_after.pop().unwrap_or_default()
        } else {
            CkaTable::new()
        };
        let cka_after = ckas_after.pop().unwrap_or_default();
        if let (Some(e), Some(xb)) = (&e5, &xsim_before) {
            let t = std::time::Instant::now();
            let xa = e.decoder_xsim(&run.model, args.batch_size)?;
            lexalign_run::write_atomic(
                out.join("cka_e5.csv"),
                to_csv(&crate::laser::changes(&e5_cka_before, &e5_cka_after))?,
            )?;
            lexalign_run::write_atomic(
                out.join("sentence_xsim.csv"),
                to_csv(&crate::e5ref::xsim_changes(xb, &xa))?,
            )?;
            log::info!(
                "{label}: e5 CKA and sentence xSIM after the adapter in {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }
        let baseline_secs = match &frozen_hits {
            Some((hits, _)) => Some(adapter_baselines(
                &out,
                &run,
                &s,
                hits,
                &baseline_layers,
                args,
                &label,
            )?),
            None => None,
        };
        lexalign_model::lora::detach(&mut run.model.model);
        let secs = started.elapsed().as_secs_f64();
        write_tables(&out, &sets, &layers, (&before, &after), args)?;
        if laser_sides.is_some() {
            lexalign_run::write_atomic(
                out.join("cka.csv"),
                to_csv(&crate::laser::changes(&cka_before, &cka_after))?,
            )?;
        }
        let prov = run.provenance(&stage)?;
        let summary = serde_json::json!({
            "pair": args.pair,
            "pooling": pooling.name(),
            "adapter": label,
            "layers_to_transform": lora.layers_to_transform,
            "sets": sets.iter().map(|(n, p)| serde_json::json!({"set": n, "pairs": p.len()})).collect::<Vec<_>>(),
            "split": s.sizes(),
            "eval_seconds": (secs * 10.0).round() / 10.0,
            "baselines_seconds": baseline_secs.map(|b| (b * 10.0).round() / 10.0),
            "frozen_baselines_seconds": frozen_hits.as_ref().map(|(_, b)| (b * 10.0).round() / 10.0),
        });
        lexalign_stages::stage_io::write_summary(&out, &run, &prov, summary)?;
        prov.data_file(first_file(&s.files))?
            .data_file(adapter.join(lexalign_model::lora::ADAPTER_WEIGHTS))?
            .seed(args.seed)
            .setting("pooling", pooling.name())?
            .write(&out)?;
        println!(
            "{label}: evaluated {} sets x {} hidden states before/after; wrote {}",
            sets.len(),
            layers.len(),
            out.display()
        );
    }
    let prov = run.provenance(&stage)?;
    prov.data_file(first_file(&s.files))?
        .seed(args.seed)
        .write(&args.out)?;
    Ok(())
}

/// The baselines' hidden states for every adapter (the frozen map is fitted once for all).
fn resolve_baseline_layers(args: &Args, n_hidden: usize) -> Result<Vec<usize>> {
    use crate::baseline_layers::{adapter_target_layer, BaselineLayers};
    let targets = match args.baseline_layers {
        BaselineLayers::Targets => args
            .adapter
            .iter()
            .map(|a| adapter_target_layer(a))
            .collect::<Result<Vec<_>>>()?,
        _ => Vec::new(),
    };
    let layers = args.baseline_layers.resolve(n_hidden, &targets)?;
    log::info!("baselines at hidden states {layers:?}");
    Ok(layers)
}

/// The frozen model's Procrustes hits (the reference of the paired comparisons) and the seconds.
fn frozen_procrustes(
    run: &lexalign_stages::LoadedRun,
    s: &StudyPairs,
    layers: &[usize],
    batch_size: usize,
) -> Result<(crate::baselines::Hits, f64)> {
    use crate::baselines::{frozen_name, run_all, Method};
    let (_, hits, secs) = run_all(
        run,
        s,
        &[Method::Procrustes],
        frozen_name,
        false,
        layers,
        batch_size,
        "baselines before",
    )?;
    Ok((hits, secs))
}

/// `tli` and `tli+procrustes` rows of the adapted model into `<out>/baselines.csv`, their paired
/// comparisons with the frozen model's Procrustes map into `<out>/baseline_tests.csv`; the seconds.
#[allow(clippy::too_many_arguments)]
fn adapter_baselines(
    out: &std::path::Path,
    run: &lexalign_stages::LoadedRun,
    s: &StudyPairs,
    frozen: &crate::baselines::Hits,
    layers: &[usize],
    args: &Args,
    label: &str,
) -> Result<f64> {
    use crate::baselines::{adapter_name, comparisons, run_all, Method};
    let (rows, hits, secs) = run_all(
        run,
        s,
        &[Method::Base, Method::Procrustes],
        adapter_name,
        false,
        layers,
        args.batch_size,
        &format!("baselines after {label}"),
    )?;
    lexalign_run::write_atomic(out.join("baselines.csv"), to_csv(&rows)?)?;
    lexalign_run::write_atomic(
        out.join("baseline_tests.csv"),
        to_csv(&comparisons(frozen, &hits, args.bootstrap, args.seed)?)?,
    )?;
    Ok(secs)
}

/// The sets measured before and after: the trained pairs (a seeded sample of at most
/// `--max-trained`), the held-out pairs, the CLDR pairs, and the control pairs where the pair has them.
fn eval_sets<'a>(args: &Args, s: &StudyPairs) -> Vec<(&'a str, Vec<Pair>)> {
    study_sets(s, args.max_trained, args.seed)
}

/// The evaluated sets: a seeded sample of at most `max_trained` training pairs, the held-out and
/// CLDR pairs, and (sw-en) the controls; `lang-study open-pool` uses the same.
pub fn study_sets<'a>(s: &StudyPairs, max_trained: usize, seed: u64) -> Vec<(&'a str, Vec<Pair>)> {
    let mut trained = s.train.clone();
    if trained.len() > max_trained {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        trained.shuffle(&mut rng);
        trained.truncate(max_trained);
    }
    let mut sets: Vec<(&str, Vec<Pair>)> = vec![
        ("trained", trained),
        ("held-out", s.test.clone()),
        ("cldr", s.independent.clone()),
    ];
    if !s.control.is_empty() {
        sets.push(("control", s.control.clone()));
    }
    sets
}

/// `metrics.csv` (every metric, before and after), `changes.csv` (per set and layer, with the
/// paired tests) and `gain_tests.csv` (trained gain vs each other set's) of one adapter.
fn write_tables(
    out: &std::path::Path,
    sets: &[(&str, Vec<Pair>)],
    layers: &[usize],
    (before, after): (&[ScanResult], &[ScanResult]),
    args: &Args,
) -> Result<()> {
    let mut metrics_csv = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["set".to_string(), "state".into(), "layer".into()];
    header.extend(lexalign_scan::metric_header());
    metrics_csv.write_record(&header)?;
    let mut rows = Vec::new();
    for ((name, pairs), (b, a)) in sets.iter().zip(before.iter().zip(after)) {
        for (slot, &layer) in layers.iter().enumerate() {
            for (state, r) in [("before", b), ("after", a)] {
                let mut rec = vec![name.to_string(), state.to_string(), layer.to_string()];
                rec.extend(lexalign_scan::metric_values(&r.layers[slot].metrics)?);
                metrics_csv.write_record(&rec)?;
            }
            rows.push(change_row(
                name,
                pairs.len(),
                layer,
                slot,
                b,
                a,
                args.bootstrap,
                args.seed,
            )?);
        }
    }
    let mut gains = Vec::new();
    for (slot, &layer) in layers.iter().enumerate() {
        for (vi, name) in sets.iter().map(|(n, _)| *n).enumerate().skip(1) {
            gains.push(gain_test(
                layer,
                name,
                slot,
                (&before[0], &after[0]),
                (&before[vi], &after[vi]),
            ));
        }
    }
    lexalign_run::write_atomic(out.join("metrics.csv"), metrics_csv.into_inner()?)?;
    lexalign_run::write_atomic(out.join("changes.csv"), to_csv(&rows)?)?;
    lexalign_run::write_atomic(out.join("gain_tests.csv"), to_csv(&gains)?)?;
    Ok(())
}

/// `<train out>/adapter` is labelled by the train folder's name (`koen-tli-train-l2`).
pub fn adapter_label(adapter: &std::path::Path) -> String {
    let dir = if adapter.file_name().is_some_and(|n| n == "adapter") {
        adapter.parent().unwrap_or(adapter)
    } else {
        adapter
    };
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "adapter".into())
}

fn pair_refs(pairs: &[Pair]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|p| (p.source.as_str(), p.target.as_str()))
        .collect()
}

/// Every set scanned in one state of the model; per reference encoder in `refs` (LASER-2's and/or
/// e5's sides, one per set), CKA per set, layer and side, in `refs` order.
fn scan_sets(
    run: &lexalign_stages::LoadedRun,
    sets: &[(&str, Vec<Pair>)],
    opts: &ScanOptions,
    state: &str,
    refs: &[&[LaserSides]],
) -> Result<(Vec<ScanResult>, Vec<CkaTable>)> {
    let (mut out, mut cka) = (Vec::new(), vec![CkaTable::new(); refs.len()]);
    for (i, (name, pairs)) in sets.iter().enumerate() {
        let (src, tgt): (Vec<&str>, Vec<&str>) = pair_refs(pairs).into_iter().unzip();
        let bar = lexalign_run::progress_bar(0, &format!("eval {state}: {name}"));
        let visit = |v: &lexalign_scan::LayerVectors| -> Result<()> {
            for (table, ls) in cka.iter_mut().zip(refs) {
                for (side, (_, c)) in crate::laser::SIDES.iter().zip(ls[i].cka(v)?) {
                    table.push((name.to_string(), v.layer, *side, c));
                }
            }
            Ok(())
        };
        let r = scan_visit(
            &run.model,
            &src,
            &tgt,
            opts,
            |d| bar.set_position(d as u64),
            visit,
        )
        .with_context(|| format!("{name} pairs, {state}"))?;
        bar.finish_and_clear();
        out.push(r.into_iter().next().expect("one pooling"));
    }
    Ok((out, cka))
}

#[allow(clippy::too_many_arguments)]
fn change_row(
    set: &str,
    n: usize,
    layer: usize,
    slot: usize,
    b: &ScanResult,
    a: &ScanResult,
    boot: usize,
    seed: u64,
) -> Result<ChangeRow> {
    let (mb, ma) = (&b.layers[slot].metrics, &a.layers[slot].metrics);
    let (raw_b, raw_a) = (&b.pair_cosine[slot], &a.pair_cosine[slot]);
    let (cen_b, cen_a) = (&b.centered_cosine[slot], &a.centered_cosine[slot]);
    let raw_t = lexalign_stats::ttest_rel(raw_a, raw_b)
        .ok()
        .filter(|t| t.t.is_finite());
    let cen_t = lexalign_stats::ttest_rel(cen_a, cen_b)
        .ok()
        .filter(|t| t.t.is_finite());
    let wil = lexalign_stats::wilcoxon(raw_a, raw_b)
        .ok()
        .filter(|w| w.p.is_finite());
    let d: Vec<f64> = b.centered_csls_hit1[slot]
        .iter()
        .zip(&a.centered_csls_hit1[slot])
        .map(|(&x, &y)| y as u8 as f64 - x as u8 as f64)
        .collect();
    let ones = vec![1.0; d.len()];
    let ci = lexalign_metrics::bootstrap::ratio_cis(&[(&d, &ones)], boot, seed)[0];
    Ok(ChangeRow {
        set: set.to_string(),
        layer,
        n_pairs: n,
        raw_before: mb.pairs_mean,
        raw_after: ma.pairs_mean,
        raw_t: raw_t.as_ref().map(|t| t.t),
        raw_p: raw_t.as_ref().map(|t| t.p),
        raw_wilcoxon_p: wil.map(|w| w.p),
        centered_before: mb.centered_mean,
        centered_after: ma.centered_mean,
        centered_t: cen_t.as_ref().map(|t| t.t),
        centered_p: cen_t.as_ref().map(|t| t.p),
        shuffled_before: mb.shuffled_mean,
        shuffled_after: ma.shuffled_mean,
        centered_shuffled_before: mb.centered_shuffled_mean,
        centered_shuffled_after: ma.centered_shuffled_mean,
        p1_before: mb.centered_p1_csls,
        p1_after: ma.centered_p1_csls,
        delta_p1: ma.centered_p1_csls - mb.centered_p1_csls,
        delta_p1_ci_low: ci.0,
        delta_p1_ci_high: ci.1,
        t2s_p1_before: mb.t2s_centered_p1_csls,
        t2s_p1_after: ma.t2s_centered_p1_csls,
    })
}

fn gain_test(
    layer: usize,
    versus: &str,
    slot: usize,
    trained: (&ScanResult, &ScanResult),
    other: (&ScanResult, &ScanResult),
) -> GainTest {
    let gain = |(b, a): (&ScanResult, &ScanResult)| -> Vec<f64> {
        a.pair_cosine[slot]
            .iter()
            .zip(&b.pair_cosine[slot])
            .map(|(x, y)| x - y)
            .collect()
    };
    let (g_t, g_o) = (gain(trained), gain(other));
    let w = lexalign_stats::ttest_welch(&g_t, &g_o)
        .ok()
        .filter(|t| t.t.is_finite());
    GainTest {
        layer,
        versus: versus.to_string(),
        trained_gain: lexalign_stats::mean(&g_t),
        other_gain: lexalign_stats::mean(&g_o),
        welch_t: w.as_ref().map(|t| t.t),
        welch_p: w.as_ref().map(|t| t.p),
    }
}

/// Serialised rows with a header (every study CSV).
pub fn to_csv<T: Serialize>(rows: &[T]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    Ok(w.into_inner()?)
}
