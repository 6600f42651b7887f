//! TLI train + eval on the embedded demo model (SmolLM2-135M, English-only: a pipeline
//! demonstration, not the paper's numbers) with a small fast configuration: the authors'
//! settings (NF4 training, FP4 evaluation, r 16, q+v, layer 2, margin 0.4, batch 8) on the
//! first 160 training pairs for 2 epochs (40 steps, 5 warm-up), evaluated on all 623 + 63 pairs.
//! The training loss and the evaluation table are insta snapshots, rounded to 4 decimals.

use clap::Parser;
use lexalign_stages::train_cmd::{run_train, TrainArgs};
use std::process::Command;

#[derive(Parser)]
struct Train {
    #[command(flatten)]
    args: TrainArgs,
}

#[test]
fn tli_train_and_eval_on_the_embedded_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (train_out, eval_out) = (tmp.path().join("tli-train"), tmp.path().join("tli-eval"));
    let started = std::time::Instant::now();
    let t = Train::try_parse_from(
        [
            "tli-train",
            "--device",
            "cpu",
            "--threads",
            "2",
            "--max-pairs",
            "160",
            "--epochs",
            "2",
            "--warmup-steps",
            "5",
            "--out",
        ]
        .into_iter()
        .map(String::from)
        .chain([train_out.display().to_string()]),
    )
    .unwrap();
    let (_, o) = run_train(&t.args, "tli-train").unwrap();
    assert!(o.completed && o.steps_done == 40);
    let train_secs = started.elapsed().as_secs_f64();

    let started = std::time::Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_tli-eval"))
        .args(["--device", "cpu", "--threads", "2", "--adapter"])
        .arg(train_out.join("adapter"))
        .arg("--out")
        .arg(&eval_out)
        .status()
        .unwrap();
    assert!(status.success(), "tli-eval failed");
    eprintln!(
        "train {train_secs:.1} s ({:.1} ms/step), eval {:.1} s",
        o.mean_step_seconds * 1e3,
        started.elapsed().as_secs_f64()
    );

    let mut loss = String::from("step epoch    loss        lr\n");
    let mut rdr = csv::Reader::from_path(train_out.join("loss.csv")).unwrap();
    for (i, rec) in rdr.records().enumerate() {
        let r = rec.unwrap();
        if i % 4 == 0 || i == 39 {
            loss.push_str(&format!(
                "{:>4} {:>5}  {:.4}  {:.2e}\n",
                &r[0],
                &r[1],
                r[2].parse::<f64>().unwrap(),
                r[3].parse::<f64>().unwrap()
            ));
        }
    }
    insta::assert_snapshot!("tli_train_embedded_loss", loss);

    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(eval_out.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["quant"], "fp4");
    assert_eq!(s["demo_model"], true);
    let mut table = String::from("set        n  pre_mean  pre_sd  post_mean  post_sd  percent        t  shuffled_pre  shuffled_post\n");
    for set in s["sets"].as_array().unwrap() {
        let p = &set["paired"];
        let f = |v: &serde_json::Value| v.as_f64().unwrap();
        table.push_str(&format!(
            "{:<8} {:>3}  {:>8.4}  {:>6.4}  {:>9.4}  {:>7.4}  {:>+7.2}  {:>7.2}  {:>12.4}  {:>13.4}\n",
            set["group"].as_str().unwrap(), p["n"], f(&p["mean_pre"]), f(&p["sd_pre"]), f(&p["mean_post"]), f(&p["sd_post"]),
            f(&p["percent_change"]), f(&p["ttest"]["t"]), f(&set["shuffled_pre_mean"]), f(&set["shuffled_post_mean"])
        ));
    }
    let rows = std::fs::read_to_string(eval_out.join("quantitative_results.csv")).unwrap();
    assert_eq!(
        rows.lines().next().unwrap(),
        "swahili,english,sim_pre_tli,sim_post_tli,group,improvement"
    );
    assert_eq!(rows.lines().count(), 1 + 623 + 63);
    insta::assert_snapshot!("tli_eval_embedded_table", table);
}
