//! `lang-study scan`: every hidden state of the multilingual model on the study's held-out pairs,
//! with every alignment metric (pair vs shuffled cosine, raw and centred; BLI P@k with NN and
//! CSLS both ways; MEXA), for `mean` and `mean-content` pooling from one forward per batch. An
//! English-only model can be scanned beside it as a negative control.

use crate::data::{study_pairs_in, LangPair};
use anyhow::Result;
use lexalign_stages::scan_cmd::{scan_and_write, ScanJob};
use lexalign_stages::ModelArgs;
use lexalign_model::QuantMode;
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
    #[arg(long)]
    pub lexicon_dir: Option<PathBuf>,
    #[arg(long)]
    pub paper_data: Option<PathBuf>,
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
    let poolings = lexalign_stages::model_args::parse_poolings(&args.pooling).map_err(anyhow::Error::msg)?;
    let s = study_pairs_in(args.pair, args.lexicon_dir.as_deref(), args.paper_data.as_deref())?;
    log::info!("{}", s.describe());
    let (sources, targets): (Vec<String>, Vec<String>) = s.test.iter().map(|p| (p.source.clone(), p.target.clone())).unzip();
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
        let results = scan_and_write(&run, &job)?;
        lexalign_run::write_atomic(out.join("pairs-sizes.json"), serde_json::to_vec_pretty(&s.sizes())?)?;
        for r in &results {
            let best = r
                .layers
                .iter()
                .max_by(|a, b| a.metrics.centered_p1_csls.total_cmp(&b.metrics.centered_p1_csls))
                .expect("layers");
            println!(
                "{} {}: best centred CSLS P@1 {:.3} at hidden state {} (raw cosine {:.4}, shuffled {:.4})",
                run.model.info.name, r.pooling, best.metrics.centered_p1_csls, best.layer, best.pairs_mean, best.shuffled_mean
            );
        }
    }
    Ok(())
}

pub fn first_file(files: &[PathBuf]) -> &Path {
    files.first().map(PathBuf::as_path).unwrap_or(Path::new("-"))
}

/// `koen` / `swen`: the prefix of the study's stage folders.
pub fn stage_prefix(p: LangPair) -> &'static str {
    match p {
        LangPair::KoEn => "koen",
        LangPair::SwEn => "swen",
    }
}
