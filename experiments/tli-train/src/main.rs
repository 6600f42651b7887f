//! `tli-train`: the authors' training script (02) as an experiment binary. Writes
//! `loss.csv`, `adapter/`, `checkpoints/epoch-N/`, `summary.json`, `provenance.json` into `--out`.

use clap::Parser;
use lexalign_stages::train_cmd::{run_train, TrainArgs};

#[derive(Parser)]
#[command(
    name = "tli-train",
    version,
    about = "Targeted Lexical Injection training (LoRA, triplet loss at an early layer)"
)]
struct Cli {
    #[command(flatten)]
    args: TrainArgs,
}

fn main() {
    lexalign_run::init_logging();
    let cli = Cli::parse();
    match run_train(&cli.args, "tli-train") {
        Ok((_, o)) if o.interrupted => {
            eprintln!(
                "stopped after epoch {}; continue with --resume",
                o.epochs_done
            );
            std::process::exit(130);
        }
        Ok((_, o)) => println!(
            "trained {} steps ({:.1} ms/step); final-epoch mean loss {:.4}; wrote {}",
            o.steps_done,
            o.mean_step_seconds * 1e3,
            o.final_epoch_mean_loss.unwrap_or(f64::NAN),
            cli.args.out.display()
        ),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
