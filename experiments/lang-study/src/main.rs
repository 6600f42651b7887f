//! `lang-study`: the Korean-English study of issue 12 (and the same design for Swahili-English)
//! on a multilingual model. One binary, one subcommand per stage, `--pair ko-en|sw-en`.

use clap::{Parser, Subcommand};
use lang_study::{arms, arms_eval, authors, behaviour, eval, open_pool, scan, splits, train};

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
    /// Retrieval on an open pool shared by every set, both directions, statistics from a
    /// reference vocabulary disjoint from the test words; breakdowns of held-out P@1 (issue 31).
    OpenPool(open_pool::Args),
    /// One training arm of issue 26 (a-d), trained once per seed.
    Arm(arms::Args),
    /// Every arm's seed adapters at the target and dev-chosen layers, with seed statistics.
    ArmsEval(arms_eval::Args),
    /// What fine-tuning changed in behaviour: LM loss, prompted word translation, logit lens
    /// and greedy generations, base and after each adapter.
    Behaviour(behaviour::Args),
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
        Cmd::OpenPool(a) => open_pool::run(&a),
        Cmd::Arm(a) => arms::run(&a),
        Cmd::ArmsEval(a) => arms_eval::run(&a),
        Cmd::Behaviour(a) => behaviour::run(&a),
        Cmd::Authors(a) => authors::run(&a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
