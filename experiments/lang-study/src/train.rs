//! `lang-study train`: the authors' TLI recipe on the study's training pairs.

use anyhow::Result;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// ko-en | sw-en
    #[arg(long, value_enum)]
    pub pair: crate::data::LangPair,
}

pub fn run(args: &Args) -> Result<()> {
    let s = crate::data::study_pairs(args.pair)?;
    anyhow::bail!("train not implemented yet ({})", s.describe())
}
