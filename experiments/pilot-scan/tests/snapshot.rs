//! The pilot experiment on the embedded demo model (SmolLM2-135M, English-only: a pipeline
//! demonstration, not the paper's numbers) over the authors' 623 training pairs, with the
//! authors' settings (NF4, mean pooling with BOS, every layer). The per-layer table is an insta
//! snapshot, rounded to 4 decimals.

use std::process::Command;

#[test]
fn pilot_scan_on_the_embedded_model() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("pilot-scan");
    let started = std::time::Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_pilot-scan"))
        .args([
            "--device",
            "cpu",
            "--threads",
            "2",
            "--pooling",
            "mean",
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "pilot-scan failed");
    eprintln!(
        "pilot-scan wall time {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut rdr = csv::Reader::from_path(out.join("layers.csv")).unwrap();
    let mut table = String::from("layer   n  pairs_mean  pairs_sd  shuffled_mean  shuffled_sd\n");
    for rec in rdr.records() {
        let r = rec.unwrap();
        let f = |i: usize| r[i].parse::<f64>().unwrap();
        table.push_str(&format!(
            "{:>5} {:>3}  {:>10.4}  {:>8.4}  {:>13.4}  {:>11.4}\n",
            &r[0],
            &r[1],
            f(2),
            f(3),
            f(4),
            f(5)
        ));
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["n_pairs"], 623);
    assert_eq!(summary["quant"], "nf4");
    assert_eq!(summary["demo_model"], true);
    insta::assert_snapshot!("pilot_scan_embedded_nf4_mean", table);
}
