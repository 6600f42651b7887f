//! `lang-study scan`: every hidden state of the multilingual model on the study's held-out pairs,
//! with every alignment metric (pair vs shuffled cosine, raw and centred; BLI P@k with NN and
//! CSLS both ways; MEXA), for `mean` and `mean-content` pooling from one forward per batch. An
//! English-only model can be scanned beside it as a negative control. The run folder also gets
//! the pair sets as TSV files and, for the multilingual model, the baselines of
//! [`crate::baselines`] at the hidden states of `--baseline-layers` (`baselines.csv`,
//! `baselines.json`).

use crate::baseline_layers::BaselineLayers;
use crate::data::{study_pairs_in, LangPair, StudyPairs};
use crate::e5ref::E5Ref;
use crate::laser::LaserSides;
use anyhow::Result;
use lexalign_laser::Laser2;
use lexalign_model::QuantMode;
use lexalign_stages::laser_cmd::{measure_pairs, write_laser_scan};
use lexalign_stages::scan_cmd::{scan_and_write_visit, ScanJob};
use lexalign_stages::ModelArgs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// ko-en | sw-en
    #[arg(long, value_enum)]
    pub pair: LangPair,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Poolings, one forward for all.
    #[arg(long, default_value = "mean,mean-content", value_parser = lexalign_stages::model_args::check_poolings)]
    pub pooling: String,
    #[arg(long, default_value_t = 64, value_parser = lexalign_stages::model_args::at_least_one)]
    pub batch_size: usize,
    /// Seed of the shuffled baseline and the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 1000, value_parser = lexalign_stages::model_args::at_least_one)]
    pub bootstrap: usize,
    /// A second model scanned the same way into `<out>/negative-control` (e.g. smollm2-135m).
    #[arg(long)]
    pub negative_control: Option<PathBuf>,
    /// Folder with Meta's LASER-2 files (default: $LEXALIGN_LASER): adds `<out>/laser/laser_scan.json`
    /// and `cka.csv` (linear CKA of every hidden state against LASER-2). Without it, neither.
    #[arg(long)]
    pub laser: Option<PathBuf>,
    /// multilingual-e5-small as the reference encoder (`e5/`, `sentence_xsim.csv`, `cka_e5.csv`).
    #[command(flatten)]
    pub e5: crate::e5ref::E5Flags,
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
    /// Skip the baselines (linear maps and post-processing on the frozen hidden states).
    #[arg(long)]
    pub no_baselines: bool,
    /// Iterations of MUSE's refinement of the Procrustes map (MUSE's default is 5; 0, the
    /// default here: no `procrustes-refined` rows, as each iteration is one more SVD per hidden
    /// state and split).
    #[arg(long, default_value_t = 0)]
    pub refine_iterations: usize,
    /// Hidden states of the baselines: `targets` (hidden state 2 and the layer
    /// `lang-study train --target-layer best` picks from this scan), `all`, or a list like 2,9.
    #[arg(long, default_value = "targets")]
    pub baseline_layers: BaselineLayers,
    #[arg(long)]
    pub out: PathBuf,
}

/// The study's default model: the embedded multilingual Gemma 3 270M, unquantized.
pub fn study_model(args: &ModelArgs) -> ModelArgs {
    let mut m = args.clone();
    if m.model.is_none() {
        m.model = Some(PathBuf::from("gemma3-270m"));
    }
    m
}

pub fn run(args: &Args) -> Result<()> {
    lexalign_stages::stage_io::prepare_out_dir(&args.out)?;
    lexalign_stages::model_args::parse_poolings(&args.pooling).map_err(anyhow::Error::msg)?;
    let laser = crate::laser::load(args.laser.as_deref(), &args.model.device)?;
    let e5 = crate::e5ref::load(&args.e5, args.pair)?;
    let s = study_pairs_in(
        args.pair,
        args.lexicon_dir.as_deref(),
        args.paper_data.as_deref(),
    )?;
    log::info!("{}", s.describe());
    crate::data::write_splits(&args.out, &s)?;
    // Loaded (and --baseline-layers checked) before the scan, so a bad list fails fast.
    let baseline_run = if args.no_baselines {
        None
    } else {
        Some(study_model(&args.model).load(QuantMode::None, None)?)
    };
    if let Some(run) = &baseline_run {
        args.baseline_layers
            .check(run.model.model.num_hidden_states())?;
    }
    scan_pairs(args, &s, laser.as_ref(), e5.as_ref())?;
    if let Some(run) = &baseline_run {
        let best = crate::train::best_layer(&args.out.join("layers.csv"))?;
        let layers = args
            .baseline_layers
            .resolve(run.model.model.num_hidden_states(), &[best.layer])?;
        write_baselines(
            &args.out,
            run,
            &s,
            args.refine_iterations,
            &layers,
            args.batch_size,
        )?;
    }
    Ok(())
}

/// The frozen model's baselines into `<out>/baselines.csv`, and how long they took, with the
/// settings, into `<out>/baselines.json`.
pub fn write_baselines(
    out: &Path,
    run: &lexalign_stages::LoadedRun,
    s: &StudyPairs,
    refine: usize,
    layers: &[usize],
    batch_size: usize,
) -> Result<()> {
    use crate::baselines::{frozen_name, run_all, Method, LAMBDAS, POOLING};
    let (rows, _, secs) = run_all(
        run,
        s,
        &Method::frozen(refine),
        frozen_name,
        true,
        layers,
        batch_size,
        "baselines",
    )?;
    lexalign_run::write_atomic(out.join("baselines.csv"), crate::eval::to_csv(&rows)?)?;
    let info = serde_json::json!({
        "pooling": POOLING.name(),
        "space": "centred",
        "k_csls": crate::baselines::K_CSLS,
        "ridge_lambdas": LAMBDAS,
        "refine_iterations": refine,
        "layers": layers,
        "train_pairs": s.train.len(),
        "fit_pairs": s.fit.len(),
        "dev_pairs": s.dev.len(),
        "seconds": (secs * 10.0).round() / 10.0,
    });
    lexalign_run::write_atomic(
        out.join("baselines.json"),
        serde_json::to_vec_pretty(&info)?,
    )?;
    println!("baselines: {} rows in {secs:.1} s", rows.len());
    Ok(())
}

/// The scan of `s.test` (and the negative control), with LASER-2's rows when `laser` is given
/// and multilingual-e5-small's when `e5` is.
pub fn scan_pairs(
    args: &Args,
    s: &StudyPairs,
    laser: Option<&Laser2>,
    e5: Option<&E5Ref>,
) -> Result<()> {
    let poolings =
        lexalign_stages::model_args::parse_poolings(&args.pooling).map_err(anyhow::Error::msg)?;
    let (sources, targets): (Vec<String>, Vec<String>) = s
        .test
        .iter()
        .map(|p| (p.source.clone(), p.target.clone()))
        .unzip();
    let laser_sides = match laser {
        Some(l) => Some(laser_scan(args, s, l)?),
        None => None,
    };
    let e5_sides = match e5 {
        Some(e) => Some(e5_scan(args, s, e)?),
        None => None,
    };
    let mut models = vec![(study_model(&args.model), args.out.clone())];
    if let Some(nc) = &args.negative_control {
        let mut m = args.model.clone();
        m.model = Some(nc.clone());
        models.push((m, args.out.join("negative-control")));
    }
    for (model, out) in &models {
        lexalign_stages::stage_io::prepare_out_dir(out)?;
        let run = model.load(QuantMode::None, None)?;
        let job = ScanJob {
            sources: &sources,
            targets: &targets,
            pairs_file: first_file(&s.files),
            layers: "all",
            poolings: &poolings,
            batch_size: args.batch_size,
            seed: args.seed,
            bootstrap: args.bootstrap,
            candidates: &[],
            out,
            stage: &format!("{}-scan", stage_prefix(args.pair)),
        };
        let (mut cka_rows, mut cka_secs, mut e5_cka) = (Vec::new(), 0.0, Vec::new());
        let results = scan_and_write_visit(&run, &job, |v| {
            let t = std::time::Instant::now();
            if let Some(ls) = &laser_sides {
                cka_rows.extend(crate::laser::cka_rows(v, ls.cka(v)?));
            }
            if let Some(es) = &e5_sides {
                e5_cka.extend(crate::laser::cka_rows(v, es.cka(v)?));
            }
            cka_secs += t.elapsed().as_secs_f64();
            Ok(())
        })?;
        if let Some(e) = e5 {
            write_e5_layers(e, &run, out, args.batch_size, &e5_cka)?;
        }
        if laser_sides.is_some() {
            lexalign_run::write_atomic(out.join("cka.csv"), crate::eval::to_csv(&cka_rows)?)?;
        }
        if laser_sides.is_some() || e5_sides.is_some() {
            log::info!("linear CKA against the reference encoders: {} LASER-2 and {} e5 rows in {cka_secs:.1} s", cka_rows.len(), e5_cka.len());
        }
        lexalign_run::write_atomic(
            out.join("pairs-sizes.json"),
            serde_json::to_vec_pretty(&s.sizes())?,
        )?;
        for r in &results {
            let best = r
                .layers
                .iter()
                .max_by(|a, b| {
                    a.metrics
                        .centered_p1_csls
                        .total_cmp(&b.metrics.centered_p1_csls)
                })
                .expect("layers");
            println!(
                "{} {}: best centred CSLS P@1 {:.3} at hidden state {} (raw cosine {:.4}, shuffled {:.4})",
                run.model.info.name, r.pooling, best.metrics.centered_p1_csls, best.layer, best.pairs_mean, best.shuffled_mean
            );
        }
    }
    Ok(())
}

/// multilingual-e5-small's own rows in `<out>/e5/`: sentence xSIM (`xsim.csv`) and the held-out
/// pairs' metrics (`words.csv`); returns its CKA sides of the same words.
fn e5_scan(args: &Args, s: &StudyPairs, e5: &E5Ref) -> Result<LaserSides> {
    let started = std::time::Instant::now();
    let dir = args.out.join("e5");
    lexalign_stages::stage_io::prepare_out_dir(&dir)?;
    let xsim = e5.encoder_xsim()?;
    let pairs: Vec<(&str, &str)> = s
        .test
        .iter()
        .map(|p| (p.source.as_str(), p.target.as_str()))
        .collect();
    let (words, sides) = e5.words(&pairs, args.seed, args.bootstrap)?;
    lexalign_run::write_atomic(dir.join("xsim.csv"), crate::eval::to_csv(&xsim)?)?;
    lexalign_run::write_atomic(dir.join("words.csv"), crate::eval::to_csv(&[&words])?)?;
    e5.write_provenance(&dir, &format!("{}-scan-e5", stage_prefix(args.pair)))?;
    for r in &xsim {
        println!(
            "{}: {} {}->{} xSIM {:.4} (n {}), P@1 CSLS {:.4}",
            crate::e5ref::ENCODER,
            r.corpus,
            r.src,
            r.tgt,
            r.xsim_error,
            r.n,
            r.p1_csls
        );
    }
    println!(
        "{}: held-out words centred CSLS P@1 {:.3} ({:.1} s)",
        crate::e5ref::ENCODER,
        words.centered_p1_csls,
        started.elapsed().as_secs_f64()
    );
    Ok(sides)
}

/// One model's `sentence_xsim.csv` (every hidden state) and `cka_e5.csv`.
fn write_e5_layers(
    e5: &E5Ref,
    run: &lexalign_stages::LoadedRun,
    out: &Path,
    batch_size: usize,
    cka: &[crate::laser::CkaRow],
) -> Result<()> {
    let t = std::time::Instant::now();
    let rows = e5.decoder_xsim(&run.model, batch_size)?;
    lexalign_run::write_atomic(out.join("sentence_xsim.csv"), crate::eval::to_csv(&rows)?)?;
    lexalign_run::write_atomic(out.join("cka_e5.csv"), crate::eval::to_csv(cka)?)?;
    log::info!(
        "{} sentence xSIM rows (every hidden state) in {:.1} s",
        rows.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The held-out pairs in LASER-2 space, written to `<out>/laser/` as `lexalign laser scan --out`
/// writes them; returns LASER-2's CKA sides of the same words.
fn laser_scan(args: &Args, s: &StudyPairs, laser: &Laser2) -> Result<LaserSides> {
    let started = std::time::Instant::now();
    let pairs: Vec<(&str, &str)> = s
        .test
        .iter()
        .map(|p| (p.source.as_str(), p.target.as_str()))
        .collect();
    let device = lexalign_model::device::device_name(laser.encoder.device);
    let settings = crate::laser::settings(args.seed, args.bootstrap, &device);
    let file = first_file(&s.files);
    let m = measure_pairs(laser, &pairs, file, &settings)?;
    write_laser_scan(&args.out.join("laser"), &m.scan, laser, file, &settings)?;
    let sides = LaserSides::new(&m.sources, &m.candidates)?;
    println!(
        "LASER-2: centred CSLS P@1 {:.3}, xSIM margin error {:.3} on {} pairs ({:.1} s)",
        m.scan.metrics.centered_p1_csls,
        m.scan.xsim_margin_error,
        m.scan.n_pairs,
        started.elapsed().as_secs_f64()
    );
    Ok(sides)
}

pub fn first_file(files: &[PathBuf]) -> &Path {
    files
        .first()
        .map(PathBuf::as_path)
        .unwrap_or(Path::new("-"))
}

/// `koen` / `swen`: the prefix of the study's stage folders.
pub fn stage_prefix(p: LangPair) -> &'static str {
    match p {
        LangPair::KoEn => "koen",
        LangPair::SwEn => "swen",
    }
}
