//! `tli-eval`: the authors' evaluation script (03) as an experiment binary. Writes
//! `quantitative_results.csv`, `summary.json`, `provenance.json` into `--out`.

use clap::Parser;
use lexalign_stages::eval_cmd::{print_table, run_eval, EvalArgs};

#[derive(Parser)]
#[command(
    name = "tli-eval",
    version,
    about = "TLI evaluation: pair cosine before and after merging the adapter"
)]
struct Cli {
    #[command(flatten)]
    args: EvalArgs,
}

fn main() {
    lexalign_run::init_logging();
    let cli = Cli::parse();
    match run_eval(&cli.args, "tli-eval") {
        Ok((_, o)) => {
            print_table(&o);
            println!("wrote {}", cli.args.out.display());
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
