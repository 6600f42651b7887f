//! The tables the `lexalign` commands print to stdout: tab-separated for a person, or with
//! `--json` one JSON document holding every number (the table's columns and the rest), so a
//! script never parses the text table.

use anyhow::Result;
use lexalign_scan::ScanResult;
use serde_json::{json, Map, Value};

/// One JSON object per (pooling, hidden state): `pooling`, then `LayerStat`'s fields with the
/// metrics flattened in (the columns of `layers.csv`).
pub fn scan_json(results: &[ScanResult]) -> Result<Value> {
    let mut rows = Vec::new();
    for r in results {
        for l in &r.layers {
            let mut row = Map::new();
            row.insert("pooling".into(), json!(r.pooling.name()));
            let Value::Object(stat) = serde_json::to_value(l)? else {
                unreachable!("a struct")
            };
            for (k, v) in stat {
                match (k.as_str(), v) {
                    ("metrics", Value::Object(m)) => row.extend(m),
                    (_, v) => {
                        row.insert(k, v);
                    }
                }
            }
            rows.push(Value::Object(row));
        }
    }
    Ok(Value::Array(rows))
}

/// Prints `value` as pretty JSON on stdout (what `--json` prints instead of a table).
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Per pooling and layer: pair vs shuffled cosine, raw and centred, and CSLS P@1.
pub fn print_scan(results: &[ScanResult]) {
    println!("pooling\tlayer\tpairs_mean\tshuffled_mean\tcentered_mean\tcentered_shuffled\tp1_csls\tcentered_p1_csls");
    for r in results {
        for l in &r.layers {
            let m = &l.metrics;
            println!(
                "{}\t{}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.3}\t{:.3}",
                r.pooling,
                l.layer,
                l.pairs_mean,
                l.shuffled_mean,
                m.centered_mean,
                m.centered_shuffled_mean,
                m.p1_csls,
                m.centered_p1_csls
            );
        }
    }
}

/// The retrieval table of `lexalign bli` (source->target unless `t2s`; `c.` = centred).
pub fn print_bli(results: &[ScanResult]) {
    println!("pooling\tlayer\tnn@1\tnn@5\tnn@10\tcsls@1\tcsls@5\tcsls@10\tc.nn@1\tc.csls@1 [95% CI]\tc.csls@10\tt2s c.csls@1\tc.mexa\tcandidates");
    for r in results {
        for l in &r.layers {
            let m = &l.metrics;
            println!(
                "{}\t{}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3} [{:.3}, {:.3}]\t{:.3}\t{:.3}\t{:.3}\t{}",
                r.pooling, l.layer, m.p1_nn, m.p5_nn, m.p10_nn, m.p1_csls, m.p5_csls, m.p10_csls, m.centered_p1_nn,
                m.centered_p1_csls, m.centered_p1_csls_ci_low, m.centered_p1_csls_ci_high, m.centered_p10_csls,
                m.t2s_centered_p1_csls, m.centered_mexa, m.n_candidates
            );
        }
    }
}
