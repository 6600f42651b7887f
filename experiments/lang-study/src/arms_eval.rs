//! `lang-study arms-eval`: every seed's adapter of every arm ([`crate::arms`]) on the held-out and
//! CLDR pairs, only at the hidden states that matter (each arm's target layer and the
//! dev-chosen best layer), against the frozen model's baselines computed ONCE at those hidden
//! states (base, post-processings, Procrustes; [`crate::baselines`]'s protocol: `mean-content`,
//! centred space, CSLS k = 10, maps fitted on the training pairs).
//!
//! Writes `frozen_baselines.csv` (`BaselineRow`), `seed_p1.csv` (`SeedEvalRow`: per seed),
//! `arms.csv` (`ArmRow`: per arm, set and hidden state, the seeds' mean, SD and range and the
//! hierarchical bootstrap CIs of `lexalign_stats::hierarchical_ci`), `summary.json`, provenance.

use crate::arms::seed_adapters;
use crate::baselines::{adapter_name, frozen_name, run_all, Hits, Method};
use crate::data::{study_pairs_in, LangPair};
use crate::scan::{first_file, stage_prefix, study_model};
use anyhow::{ensure, Context, Result};
use lexalign_data::arm_rows::{read_rows, ArmRow, DevLayerRow, SeedEvalRow, SeedTrainRow};
use lexalign_metrics::postprocess::PostKind;
use lexalign_model::QuantMode;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    pub pair: LangPair,
    /// A `lang-study arm` output folder; once per arm.
    #[arg(long = "arm", required = true)]
    pub arms: Vec<PathBuf>,
    #[arg(long, default_value_t = 64, value_parser = lexalign_stages::model_args::at_least_one)]
    pub batch_size: usize,
    /// Replicates of the hierarchical bootstrap.
    #[arg(long, default_value_t = 1000, value_parser = lexalign_stages::model_args::at_least_one)]
    pub bootstrap: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub model: lexalign_stages::ModelArgs,
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

/// One arm folder as read: its seeds' rows and adapters.
struct ArmIn {
    name: String,
    layer: usize,
    seeds: Vec<SeedTrainRow>,
    adapters: Vec<(u64, PathBuf)>,
}

fn read_arm(dir: &Path) -> Result<ArmIn> {
    let seeds: Vec<SeedTrainRow> = read_rows(&dir.join("seeds.csv"))?;
    let adapters = seed_adapters(dir)?;
    let first = &seeds[0];
    ensure!(
        seeds
            .iter()
            .all(|r| r.arm == first.arm && r.target_layer == first.target_layer),
        "{}/seeds.csv mixes arms or layers",
        dir.display()
    );
    Ok(ArmIn {
        name: first.arm.clone(),
        layer: first.target_layer,
        seeds,
        adapters,
    })
}

/// The dev-chosen best layer: the `dev_layers.csv` of any arm that has one.
fn dev_best(dirs: &[PathBuf]) -> Result<Option<usize>> {
    for d in dirs {
        let p = d.join("dev_layers.csv");
        if p.is_file() {
            let rows: Vec<DevLayerRow> = read_rows(&p)?;
            return crate::arms::best_dev_layer(&rows).map(Some);
        }
    }
    Ok(None)
}

pub fn run(args: &Args) -> Result<()> {
    let started = std::time::Instant::now();
    lexalign_stages::stage_io::prepare_out_dir(&args.out)?;
    let arms = args
        .arms
        .iter()
        .map(|d| read_arm(d))
        .collect::<Result<Vec<_>>>()?;
    let best = dev_best(&args.arms)?;
    let layers_of = |a: &ArmIn| -> Vec<usize> {
        let mut l = vec![a.layer];
        l.extend(best.filter(|b| *b != a.layer));
        l
    };
    let mut all: Vec<usize> = arms.iter().flat_map(layers_of).collect();
    all.sort_unstable();
    all.dedup();
    let s = study_pairs_in(
        args.pair,
        args.lexicon_dir.as_deref(),
        args.paper_data.as_deref(),
    )?;
    let mut run = study_model(&args.model).load(QuantMode::None, None)?;
    let mut methods = vec![Method::Base];
    methods.extend(PostKind::all().into_iter().map(Method::Post));
    methods.push(Method::Procrustes);
    let (frozen_rows, frozen, _) = run_all(
        &run,
        &s,
        &methods,
        frozen_name,
        true,
        &all,
        args.batch_size,
        "frozen baselines",
    )?;
    lexalign_run::write_atomic(
        args.out.join("frozen_baselines.csv"),
        crate::eval::to_csv(&frozen_rows)?,
    )?;
    let (mut seed_rows, mut arm_rows) = (Vec::new(), Vec::new());
    for a in &arms {
        let layers = layers_of(a);
        let mut per_seed = Vec::new();
        for (seed, adapter) in &a.adapters {
            lexalign_model::lora::load_peft(&mut run.model.model, adapter, false)
                .with_context(|| format!("arm {} seed {seed}", a.name))?;
            let what = format!("arm {} seed {seed}", a.name);
            let r = run_all(
                &run,
                &s,
                &[Method::Base, Method::Procrustes],
                adapter_name,
                false,
                &layers,
                args.batch_size,
                &what,
            );
            lexalign_model::lora::detach(&mut run.model.model);
            let hits = r?.1;
            seed_rows.extend(seed_eval_rows(a, *seed, &layers, &hits));
            per_seed.push(hits);
        }
        for set in ["held-out", "cldr"] {
            for &layer in &layers {
                let post = best_post(&frozen_rows, layer)?;
                arm_rows.push(arm_row(
                    a,
                    (set, layer, best),
                    post,
                    &frozen,
                    &per_seed,
                    args,
                )?);
            }
        }
    }
    lexalign_run::write_atomic(
        args.out.join("seed_p1.csv"),
        crate::eval::to_csv(&seed_rows)?,
    )?;
    lexalign_run::write_atomic(args.out.join("arms.csv"), crate::eval::to_csv(&arm_rows)?)?;
    let stage = format!("{}-arms-eval", stage_prefix(args.pair));
    let prov = run.provenance(&stage)?;
    let summary = serde_json::json!({
        "pair": args.pair,
        "arms": arms.iter().map(|a| serde_json::json!({"arm": a.name, "target_layer": a.layer, "seeds": a.seeds.len()})).collect::<Vec<_>>(),
        "dev_best_layer": best,
        "layers": all,
        "bootstrap": args.bootstrap,
        "eval_seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    });
    lexalign_stages::stage_io::write_summary(&args.out, &run, &prov, summary)?;
    prov.data_file(first_file(&s.files))?
        .seed(args.seed)
        .setting("bootstrap", args.bootstrap)?
        .write(&args.out)?;
    println!(
        "arms-eval: {} arms, {} seed adapters at hidden states {all:?}; wrote {}",
        arms.len(),
        seed_rows.len() / 4,
        args.out.display()
    );
    Ok(())
}

fn p1(h: &[bool]) -> f64 {
    h.iter().filter(|&&x| x).count() as f64 / h.len().max(1) as f64
}

fn hits<'a>(h: &'a Hits, set: &str, layer: usize, method: &str) -> Result<&'a Vec<bool>> {
    h.get(&(set.to_string(), layer, method.to_string()))
        .with_context(|| format!("no `{method}` hits on the {set} pairs at hidden state {layer}"))
}

fn seed_eval_rows(a: &ArmIn, seed: u64, layers: &[usize], h: &Hits) -> Vec<SeedEvalRow> {
    let mut out = Vec::new();
    for set in ["held-out", "cldr"] {
        for &layer in layers {
            if let (Ok(t), Ok(tp)) = (
                hits(h, set, layer, "tli"),
                hits(h, set, layer, "tli+procrustes"),
            ) {
                out.push(SeedEvalRow {
                    arm: a.name.clone(),
                    seed,
                    set: set.into(),
                    layer,
                    n_sources: t.len(),
                    tli_p1: p1(t),
                    tli_procrustes_p1: p1(tp),
                });
            }
        }
    }
    out
}

/// Per seed, per source word: `method`'s hit minus the frozen `reference`'s.
fn diffs(
    per_seed: &[Hits],
    frozen: &[bool],
    set: &str,
    layer: usize,
    method: &str,
) -> Result<Vec<Vec<f64>>> {
    per_seed
        .iter()
        .map(|h| {
            let a = hits(h, set, layer, method)?;
            ensure!(
                a.len() == frozen.len(),
                "{set} at hidden state {layer}: {} vs {} source words",
                a.len(),
                frozen.len()
            );
            Ok(a.iter()
                .zip(frozen)
                .map(|(&x, &y)| x as u8 as f64 - y as u8 as f64)
                .collect())
        })
        .collect()
}

/// The post-processing with the best DEV P@1 at `layer` (ties: the first of `PostKind::all`).
fn best_post(rows: &[lexalign_data::study_rows::BaselineRow], layer: usize) -> Result<String> {
    PostKind::all()
        .into_iter()
        .filter_map(|k| {
            rows.iter()
                .find(|r| r.set == "dev" && r.layer == layer && r.method == k.name())
        })
        .fold(
            None::<&lexalign_data::study_rows::BaselineRow>,
            |b, r| match b {
                Some(b) if b.p1_csls >= r.p1_csls => Some(b),
                _ => Some(r),
            },
        )
        .map(|r| r.method.clone())
        .with_context(|| format!("no dev post-processing rows at hidden state {layer}"))
}

fn arm_row(
    a: &ArmIn,
    (set, layer, best): (&str, usize, Option<usize>),
    post_method: String,
    frozen: &Hits,
    per_seed: &[Hits],
    args: &Args,
) -> Result<ArmRow> {
    use lexalign_stats::{describe_seeds, hierarchical_ci};
    let base = hits(frozen, set, layer, "base")?;
    let proc = hits(frozen, set, layer, "procrustes")?;
    let post_p1 = p1(hits(frozen, set, layer, &post_method)?);
    let tli: Vec<Vec<f64>> = per_seed
        .iter()
        .map(|h| {
            Ok(hits(h, set, layer, "tli")?
                .iter()
                .map(|&x| x as u8 as f64)
                .collect())
        })
        .collect::<Result<_>>()?;
    let tlip: Vec<Vec<f64>> = per_seed
        .iter()
        .map(|h| {
            Ok(hits(h, set, layer, "tli+procrustes")?
                .iter()
                .map(|&x| x as u8 as f64)
                .collect())
        })
        .collect::<Result<_>>()?;
    let (t, tp) = (describe_seeds(&tli)?, describe_seeds(&tlip)?);
    let d_base = diffs(per_seed, base, set, layer, "tli")?;
    let d_proc = diffs(per_seed, proc, set, layer, "tli")?;
    let d_tlip = diffs(per_seed, proc, set, layer, "tli+procrustes")?;
    let ci = |d: &[Vec<f64>]| hierarchical_ci(d, args.bootstrap, args.seed, true);
    let ((dl, dh), (pl, ph), (ql, qh)) = (ci(&d_base)?, ci(&d_proc)?, ci(&d_tlip)?);
    let role = match (layer == a.layer, Some(layer) == best) {
        (true, true) => "target+best",
        (true, false) => "target",
        _ => "best",
    };
    let losses: Vec<f64> = a.seeds.iter().map(|r| r.final_epoch_mean_loss).collect();
    Ok(ArmRow {
        arm: a.name.clone(),
        set: set.into(),
        layer,
        role: role.into(),
        n_seeds: per_seed.len(),
        n_sources: base.len(),
        base_p1: p1(base),
        best_post_method: post_method,
        best_post_p1: post_p1,
        procrustes_p1: p1(proc),
        tli_mean: t.mean,
        tli_sd: t.sd,
        tli_min: t.min,
        tli_max: t.max,
        delta_mean: t.mean - p1(base),
        delta_ci_low: dl,
        delta_ci_high: dh,
        vs_procrustes_mean: t.mean - p1(proc),
        vs_procrustes_ci_low: pl,
        vs_procrustes_ci_high: ph,
        tli_procrustes_mean: tp.mean,
        tli_procrustes_sd: tp.sd,
        tlip_vs_procrustes_ci_low: ql,
        tlip_vs_procrustes_ci_high: qh,
        final_loss_mean: lexalign_stats::mean(&losses),
        margin: lexalign_tli::TrainConfig::default().margin,
    })
}
