//! `lexalign laser embed|scan`: LASER-2 sentence vectors of a text file, and the alignment of a
//! pair file in LASER-2 space (pair vs shuffled cosine, xSIM ratio-margin error, P@1 NN/CSLS),
//! with the metrics of lexalign-metrics. The LASER files come from `--laser DIR` or
//! `$LEXALIGN_LASER`; without them the command says how to get them.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use lexalign_laser::{laser_dir, to_rows, Laser2, HOW_TO_GET};
use lexalign_metrics::{
    layer_metrics, xsim_margin_error, LayerMetrics, Lexicon, Matrix, MetricsOptions,
};
use lexalign_model::DeviceArg;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Subcommand)]
pub enum LaserCmd {
    /// LASER-2 vectors of one text per line; `--out F.safetensors` writes `embeddings` [n, 1024] f32.
    Embed(EmbedArgs),
    /// Pair alignment in LASER-2 space: pair/shuffled cosine, xSIM margin error, P@1 NN and CSLS.
    Scan(LaserScanArgs),
}

#[derive(Debug, Clone, Args)]
pub struct LaserArgs {
    /// Folder with laser2.pt and laser2.spm (default: $LEXALIGN_LASER).
    #[arg(long)]
    pub laser: Option<PathBuf>,
    /// auto | cpu | cuda | cuda:N
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Sentences per forward (laser_encoders' max_sentences).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
}

#[derive(Debug, Clone, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub laser: LaserArgs,
    /// Text file, one text per line.
    #[arg(long)]
    pub input: PathBuf,
    /// safetensors file to write (tensor `embeddings`, [n, dim] f32).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct LaserScanArgs {
    #[command(flatten)]
    pub laser: LaserArgs,
    /// Pair file: the authors' JSON or CSV/TSV with a header (as `lexalign scan`).
    #[arg(long)]
    pub pairs: PathBuf,
    /// Seed of the shuffled-pair baseline and the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// CSLS neighbourhood size.
    #[arg(long, default_value_t = 10)]
    pub k_csls: usize,
    /// Neighbourhood of the xSIM ratio margin (LASER's xsim uses 4).
    #[arg(long, default_value_t = 4)]
    pub xsim_k: usize,
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Folder for laser_scan.json and provenance.json (optional; the table goes to stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl LaserArgs {
    pub fn load(&self) -> Result<Laser2> {
        let dir = laser_dir(self.laser.as_deref())
            .ok_or_else(|| anyhow!("no LASER-2 folder: {HOW_TO_GET}"))?;
        let device = self.device.parse::<DeviceArg>()?.resolve()?;
        Laser2::load(&dir, device)
    }
}

/// Runs one `lexalign laser` subcommand, printing its report to `w`.
/// Runs a laser command, printing its table to `w` (with `json`, one JSON document instead).
pub fn run_laser(cmd: &LaserCmd, w: &mut dyn Write, json: bool) -> Result<()> {
    match cmd {
        LaserCmd::Embed(a) => embed(a, w, json),
        LaserCmd::Scan(a) => {
            let r = scan(a)?;
            if json {
                writeln!(w, "{}", serde_json::to_string_pretty(&r)?)?;
                return Ok(());
            }
            print_scan(&r, w)?;
            if let Some(out) = &a.out {
                writeln!(w, "wrote {}", out.display())?;
            }
            Ok(())
        }
    }
}

pub(crate) fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read input file {}", path.display()))?;
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        bail!(
            "input file {} has no lines; give one text per line",
            path.display()
        );
    }
    Ok(lines)
}

fn embed(a: &EmbedArgs, w: &mut dyn Write, json: bool) -> Result<()> {
    let lines = read_lines(&a.input)?;
    let laser = a.laser.load()?;
    let texts: Vec<&str> = lines.iter().map(String::as_str).collect();
    let emb = laser.embed(&texts, a.laser.batch_size)?;
    let (n, d, values) = to_rows(&emb)?;
    let mut rows = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let row = &values[i * d..(i + 1) * d];
        let norm = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        rows.push((i, laser.ids(t)?.len(), norm, laser.tokenize(t)?));
    }
    if json {
        let v: Vec<_> = rows.iter().map(|(i, n, norm, tok)| serde_json::json!({"index": i, "n_tokens": n, "norm": norm, "tokenized": tok})).collect();
        writeln!(w, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(w, "index\tn_tokens\tnorm\ttokenized")?;
        for (i, n, norm, tok) in &rows {
            writeln!(w, "{i}\t{n}\t{norm:.4}\t{tok}")?;
        }
    }
    if let Some(out) = &a.out {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![n, d], &bytes)
                .map_err(|e| anyhow!("cannot build the embeddings tensor: {e}"))?;
        let meta = std::collections::HashMap::from([
            ("encoder".to_string(), "LASER-2".to_string()),
            ("laser_dir".to_string(), laser.dir.display().to_string()),
            ("input".to_string(), a.input.display().to_string()),
        ]);
        let st = safetensors::tensor::serialize([("embeddings", view)], &Some(meta))
            .map_err(|e| anyhow!("cannot serialise {}: {e}", out.display()))?;
        lexalign_run::write_atomic(out, st)?;
        if json {
            eprintln!("wrote {} ({n} x {d} f32)", out.display());
        } else {
            writeln!(w, "wrote {} ({n} x {d} f32)", out.display())?;
        }
    }
    Ok(())
}

/// What `laser scan` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LaserScan {
    pub laser_dir: String,
    pub pairs_file: String,
    pub n_pairs: usize,
    pub dim: usize,
    pub xsim_k: usize,
    pub xsim_margin_error: f64,
    pub xsim_errors: usize,
    pub metrics: LayerMetrics,
}

/// The settings of a LASER-2 alignment measurement (`laser scan`'s flags; the studies' defaults).
#[derive(Debug, Clone)]
pub struct LaserScanSettings {
    pub seed: u64,
    pub k_csls: usize,
    pub xsim_k: usize,
    pub bootstrap: usize,
    pub batch_size: usize,
    /// Recorded in the provenance.
    pub device: String,
}

impl LaserScanArgs {
    pub fn settings(&self) -> LaserScanSettings {
        LaserScanSettings {
            seed: self.seed,
            k_csls: self.k_csls,
            xsim_k: self.xsim_k,
            bootstrap: self.bootstrap,
            batch_size: self.laser.batch_size,
            device: self.laser.device.clone(),
        }
    }
}

/// A LASER-2 measurement and the vectors it was computed from: one row per distinct source and
/// per distinct candidate, in `Lexicon::from_pairs` order (the scan's order too, so other
/// measures such as CKA can pair them with an LLM's rows).
pub struct LaserMeasured {
    pub scan: LaserScan,
    pub sources: Matrix,
    pub candidates: Matrix,
}

pub fn scan(a: &LaserScanArgs) -> Result<LaserScan> {
    let (sources, targets) = crate_read_pairs(&a.pairs)?;
    let pairs: Vec<(&str, &str)> = sources
        .iter()
        .map(String::as_str)
        .zip(targets.iter().map(String::as_str))
        .collect();
    if pairs.len() < 2 {
        bail!(
            "pair file {} has {} pair(s); the shuffled baseline needs at least 2",
            a.pairs.display(),
            pairs.len()
        );
    }
    let laser = a.laser.load()?;
    let settings = a.settings();
    let m = measure_pairs(&laser, &pairs, &a.pairs, &settings)?;
    if let Some(out) = &a.out {
        write_laser_scan(out, &m.scan, &laser, &a.pairs, &settings)?;
    }
    Ok(m.scan)
}

/// Every word of `pairs` embedded by LASER-2 (each word one sentence), then the alignment metrics
/// and the xSIM margin error. `pairs_file` is recorded as where the pairs came from.
pub fn measure_pairs(
    laser: &Laser2,
    pairs: &[(&str, &str)],
    pairs_file: &Path,
    o: &LaserScanSettings,
) -> Result<LaserMeasured> {
    let lex = Lexicon::from_pairs(pairs, &[] as &[&str])
        .with_context(|| format!("pairs of {}", pairs_file.display()))?;
    let (src, cand) = lexicon_vectors(laser, &lex, o.batch_size)?;
    let opts = MetricsOptions {
        k_csls: o.k_csls,
        seed: o.seed,
        bootstrap: o.bootstrap,
    };
    let metrics =
        layer_metrics(&src, &cand, &lex.gold, &opts).context("LASER-2 alignment metrics")?;
    let (xsim_margin_error, xsim_errors) = xsim_margin_error(&src, &cand, &lex.gold, o.xsim_k)?;
    let scan = LaserScan {
        laser_dir: laser.dir.display().to_string(),
        pairs_file: pairs_file.display().to_string(),
        n_pairs: pairs.len(),
        dim: src.cols,
        xsim_k: o.xsim_k,
        xsim_margin_error,
        xsim_errors,
        metrics,
    };
    Ok(LaserMeasured {
        scan,
        sources: src,
        candidates: cand,
    })
}

/// LASER-2 vectors of a lexicon's distinct sources and candidates (each word one sentence).
pub fn lexicon_vectors(
    laser: &Laser2,
    lex: &Lexicon,
    batch_size: usize,
) -> Result<(Matrix, Matrix)> {
    let matrix = |words: &[String]| -> Result<Matrix> {
        let texts: Vec<&str> = words.iter().map(String::as_str).collect();
        let (n, d, v) = to_rows(&laser.embed(&texts, batch_size)?)?;
        Matrix::from_f32(n, d, &v)
    };
    Ok((matrix(&lex.sources)?, matrix(&lex.candidates)?))
}

/// `out/laser_scan.json` and `out/provenance.json` (the format the report reads).
pub fn write_laser_scan(
    out: &Path,
    r: &LaserScan,
    laser: &Laser2,
    pairs_file: &Path,
    o: &LaserScanSettings,
) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    lexalign_run::write_atomic(out.join("laser_scan.json"), serde_json::to_vec_pretty(r)?)?;
    lexalign_run::Provenance::collect()
        .stage("laser-scan")
        .model(laser.dir.join(lexalign_laser::CHECKPOINT_FILE))?
        .data_file(pairs_file)?
        .seed(o.seed)
        .device(o.device.clone())
        .setting("batch_size", o.batch_size)?
        .setting("k_csls", o.k_csls)?
        .setting("xsim_k", o.xsim_k)?
        .setting("bootstrap", o.bootstrap)?
        .write(out)?;
    Ok(())
}

fn crate_read_pairs(path: &Path) -> Result<(Vec<String>, Vec<String>)> {
    crate::scan_cmd::read_pairs(path)
}

/// The `metric<TAB>value` table (4 decimals; the xSIM line also gives errors/sources).
pub fn print_scan(r: &LaserScan, w: &mut dyn Write) -> Result<()> {
    let m = &r.metrics;
    writeln!(
        w,
        "# LASER-2 scan of {}: {} pairs, {} sources, {} candidates, {}-d vectors",
        r.pairs_file, r.n_pairs, m.n_sources, m.n_candidates, r.dim
    )?;
    writeln!(w, "metric\tvalue")?;
    let rows: [(&str, f64); 12] = [
        ("pairs_mean", m.pairs_mean),
        ("pairs_sd", m.pairs_sd),
        ("shuffled_mean", m.shuffled_mean),
        ("shuffled_sd", m.shuffled_sd),
        ("p1_nn", m.p1_nn),
        ("p1_csls", m.p1_csls),
        ("t2s_p1_nn", m.t2s_p1_nn),
        ("t2s_p1_csls", m.t2s_p1_csls),
        ("centered_mean", m.centered_mean),
        ("centered_p1_csls", m.centered_p1_csls),
        ("p1_csls_ci_low", m.p1_csls_ci_low),
        ("p1_csls_ci_high", m.p1_csls_ci_high),
    ];
    for (k, v) in rows.iter().take(4) {
        writeln!(w, "{k}\t{v:.4}")?;
    }
    writeln!(
        w,
        "xsim_margin_error\t{:.4}\t({}/{} sources, k={})",
        r.xsim_margin_error, r.xsim_errors, m.n_sources, r.xsim_k
    )?;
    for (k, v) in rows.iter().skip(4) {
        writeln!(w, "{k}\t{v:.4}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: LaserCmd,
    }

    fn tiny() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../lexalign-laser/tests/fixtures/laser2-tiny")
    }

    fn run(args: &[&str]) -> Result<String> {
        let t = T::try_parse_from(std::iter::once("laser").chain(args.iter().copied()))?;
        let mut out = Vec::new();
        run_laser(&t.cmd, &mut out, false)?;
        Ok(String::from_utf8(out)?)
    }

    const PAIRS: &str = "source\ttarget\n나는 책을 읽어요\tI read a book\n우리는 커피를 마셔요\tWe drink coffee\n\
        Mimi ninasoma kitabu\tI read a book\nWatoto wanakula chakula\tThe children eat food\n선생님은 음악을 들어요\tThe teacher hears music\n";

    #[test]
    fn scan_end_to_end_and_its_format() {
        let d = tempfile::tempdir().unwrap();
        let pairs = d.path().join("pairs.tsv");
        std::fs::write(&pairs, PAIRS).unwrap();
        let out = d.path().join("run");
        let tiny = tiny();
        let text = run(&[
            "scan",
            "--laser",
            tiny.to_str().unwrap(),
            "--pairs",
            pairs.to_str().unwrap(),
            "--bootstrap",
            "50",
            "--out",
            out.to_str().unwrap(),
        ])
        .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("# LASER-2 scan of ")
                && lines[0].ends_with(": 5 pairs, 5 sources, 4 candidates, 48-d vectors"),
            "{}",
            lines[0]
        );
        assert_eq!(lines[1], "metric\tvalue");
        let names: Vec<&str> = lines[2..15]
            .iter()
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "pairs_mean",
                "pairs_sd",
                "shuffled_mean",
                "shuffled_sd",
                "xsim_margin_error",
                "p1_nn",
                "p1_csls",
                "t2s_p1_nn",
                "t2s_p1_csls",
                "centered_mean",
                "centered_p1_csls",
                "p1_csls_ci_low",
                "p1_csls_ci_high"
            ]
        );
        for l in &lines[2..15] {
            let v = l.split('\t').nth(1).unwrap();
            assert!(
                v.parse::<f64>().unwrap().is_finite() && v.split('.').nth(1).unwrap().len() == 4,
                "{l}"
            );
        }
        let xsim = lines[6].split('\t').collect::<Vec<_>>();
        assert!(
            xsim[2].starts_with('(') && xsim[2].ends_with("/5 sources, k=4)"),
            "{}",
            lines[6]
        );
        assert_eq!(lines[15], format!("wrote {}", out.display()));
        // The JSON holds the same numbers, the metrics crate's field names, and provenance.
        let j: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("laser_scan.json")).unwrap()).unwrap();
        assert_eq!(j["n_pairs"], 5);
        assert_eq!(j["dim"], 48);
        assert_eq!(
            format!("{:.4}", j["metrics"]["pairs_mean"].as_f64().unwrap()),
            lines[2].split('\t').nth(1).unwrap()
        );
        assert!(out.join("provenance.json").is_file());
        // Same seed, same table.
        let again = run(&[
            "scan",
            "--laser",
            tiny.to_str().unwrap(),
            "--pairs",
            pairs.to_str().unwrap(),
            "--bootstrap",
            "50",
        ])
        .unwrap();
        assert_eq!(again.lines().take(15).collect::<Vec<_>>(), lines[..15]);
    }

    #[test]
    fn embed_writes_safetensors() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in.txt");
        std::fs::write(
            &input,
            "나는 책을 읽어요.\nMimi ninasoma kitabu.\n\nThe teacher reads a book.\n",
        )
        .unwrap();
        let out = d.path().join("e.safetensors");
        let tiny = tiny();
        let text = run(&[
            "embed",
            "--laser",
            tiny.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "index\tn_tokens\tnorm\ttokenized");
        assert_eq!(lines.len(), 6, "{text}");
        assert!(
            lines[3].starts_with("2\t1\t"),
            "an empty line is just </s>: {}",
            lines[3]
        );
        assert_eq!(lines[5], format!("wrote {} (4 x 48 f32)", out.display()));
        let bytes = std::fs::read(&out).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let t = st.tensor("embeddings").unwrap();
        assert_eq!(
            (t.dtype(), t.shape()),
            (safetensors::Dtype::F32, &[4usize, 48][..])
        );
    }

    #[test]
    fn without_the_files_it_says_how_to_get_them() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in.txt");
        std::fs::write(&input, "a\n").unwrap();
        let e = format!(
            "{:#}",
            run(&[
                "embed",
                "--laser",
                d.path().to_str().unwrap(),
                "--input",
                input.to_str().unwrap()
            ])
            .unwrap_err()
        );
        assert!(
            e.contains("laser2.pt is missing") && e.contains("README"),
            "{e}"
        );
    }
}
