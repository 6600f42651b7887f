//! `lang-study`: the Korean-English study of issue 12 (and the same design for Swahili-English)
//! on a multilingual model. One binary, one subcommand per stage, `--pair ko-en|sw-en`.

use clap::{Parser, Subcommand};
use lang_study::{authors, eval, scan, splits, train};

#[derive(Parser)]
#[command(
    name = "lang-study",
    version,
    about = "What fine-tuning (TLI) does to cross-lingual word alignment: scan, train, eval"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Every hidden state on the held-out pairs, with every alignment metric.
    Scan(scan::Args),
    /// Before/after a TLI adapter on trained, held-out, independent (CLDR) and control pairs.
    Eval(eval::Args),
    /// TLI with the authors' recipe on the study's training pairs, at hidden state 2 or the
    /// scan's best layer.
    Train(train::Args),
    /// Write the study's pair sets (train, test, independent, control) as TSV, and with --muse
    /// as MUSE/VecMap dictionaries, for evaluation with other tools.
    Splits(splits::Args),
    /// The authors' scripts 05 (qualitative probe) and 04 (t-SNE) on the embedded models.
    Authors(authors::Args),
}

fn main() {
    lexalign_run::init_logging();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Train(a) => train::run(&a),
        Cmd::Scan(a) => scan::run(&a),
        Cmd::Eval(a) => eval::run(&a),
        Cmd::Splits(a) => splits::run(&a),
        Cmd::Authors(a) => authors::run(&a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
