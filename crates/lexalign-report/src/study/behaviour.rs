//! "What fine-tuning changed in behaviour" in each study section (issue 27): the files of
//! `lang-study behaviour` (`<run>/koen-behaviour/`, `<run>/swen-behaviour/`, lexalign-data's
//! `behaviour_rows`) as tables (LM loss per language, prompted translation, the logit lens's
//! first layer with median gold rank < 10, greedy samples) and one logit-lens SVG per pair.
//! Plain numbers with their CIs; no interpretive sentence.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, Result};
use lexalign_data::behaviour_rows::{
    read_csv, read_samples, LensRow, LmSummaryRow, SampleRow, TranslationSummaryRow,
};
use plotters::prelude::*;

use super::load::LangPair;
use crate::fmt::md_cell;

/// The rows of one pair's behaviour stage.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    pub lm: Vec<LmSummaryRow>,
    pub translation: Vec<TranslationSummaryRow>,
    pub lens: Vec<LensRow>,
    pub samples: Vec<SampleRow>,
}

/// `koen-behaviour` / `swen-behaviour`.
pub fn stage(pair: LangPair) -> &'static str {
    match pair {
        LangPair::KoEn => "koen-behaviour",
        LangPair::SwEn => "swen-behaviour",
    }
}

/// The stage's rows, `None` when the stage is not in the run (no `lm_summary.csv`).
pub fn load(run: &Path, pair: LangPair) -> Result<Option<Behaviour>> {
    let d = run.join(stage(pair));
    if !d.join("lm_summary.csv").is_file() {
        return Ok(None);
    }
    Ok(Some(Behaviour {
        lm: read_csv(&d.join("lm_summary.csv"))?,
        translation: read_csv(&d.join("translation_summary.csv"))?,
        lens: read_csv(&d.join("logit_lens.csv"))?,
        samples: read_samples(&d.join("samples.jsonl"))?,
    }))
}

/// The first hidden state whose median gold rank is below 10, per (model, direction).
pub fn first_layer_below(
    lens: &[LensRow],
    model: &str,
    direction: &str,
    rank: f64,
) -> Option<usize> {
    lens.iter()
        .filter(|r| r.model == model && r.direction == direction && r.median_rank < rank)
        .map(|r| r.layer)
        .min()
}

fn ci(d: f64, lo: f64, hi: f64) -> String {
    format!("{d:+.3} [{lo:+.3}, {hi:+.3}]")
}

/// The subsection's markdown (empty without rows).
pub fn behaviour_md(b: &Behaviour, lens_fig: &str) -> String {
    let mut s = String::new();
    if b.lm.is_empty() {
        return s;
    }
    let _ = writeln!(s, "### What fine-tuning changed in behaviour\n");
    let n = b.lm[0].sentences;
    let _ = writeln!(s, "Language-model loss on {n} seeded evaluation sentences per language (Kolibri and UDHR, the same sentences in each language); Δ is the model − base with a 95 % paired bootstrap CI over sentences.\n");
    let _ = writeln!(s, "| model | language | bits per byte | nats per token | Δ bits per byte [95 % CI] |\n|---|---|---|---|---|");
    for r in &b.lm {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.3} | {} |",
            md_cell(&r.model),
            r.lang,
            r.bits_per_byte,
            r.nats_per_token,
            ci(r.delta_bpb, r.delta_bpb_low, r.delta_bpb_high)
        );
    }
    if let Some(t) = b.translation.first() {
        let _ = writeln!(s, "\nPrompted word translation on {} held-out source words per direction (template `The <source language> word \"…\" in <target language> is \"`; few-shot adds in-context pairs from the training split). Greedy: the answer's first word equals a gold translation (case, punctuation and a leading article ignored). P@k: the gold's rank among the {} gold targets of the sample by total log-probability of `word\"` after the prompt. Δ: model − base, 95 % paired bootstrap CI over words.\n", t.n, t.pool);
    }
    let _ = writeln!(s, "| model | direction | shots | greedy | P@1 | P@5 | Δ greedy [95 % CI] | Δ P@1 [95 % CI] |\n|---|---|---|---|---|---|---|---|");
    for r in &b.translation {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {} |",
            md_cell(&r.model),
            r.direction,
            r.shots,
            r.greedy_accuracy,
            r.p1,
            r.p5,
            ci(r.delta_greedy, r.delta_greedy_low, r.delta_greedy_high),
            ci(r.delta_p1, r.delta_p1_low, r.delta_p1_high)
        );
    }
    lens_md(&mut s, b, lens_fig);
    samples_md(&mut s, b);
    s
}

fn lens_md(s: &mut String, b: &Behaviour, lens_fig: &str) {
    if b.lens.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nLogit lens on the zero-shot prompts: every hidden state at the prompt's last position through the final norm and the output head; the median rank of the gold translation's first token, and the first hidden state where it is below 10.\n");
    let _ = writeln!(s, "| model | direction | first hidden state with median rank < 10 | median rank at the last | mean P(Hangul) at the last | mean P(Latin) at the last |\n|---|---|---|---|---|---|");
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for r in &b.lens {
        if !keys.contains(&(r.model.as_str(), r.direction.as_str())) {
            keys.push((&r.model, &r.direction));
        }
    }
    for (m, d) in keys {
        let last = b
            .lens
            .iter()
            .filter(|r| r.model == m && r.direction == d)
            .max_by_key(|r| r.layer)
            .expect("a row");
        let first =
            first_layer_below(&b.lens, m, d, 10.0).map_or("none".to_string(), |l| l.to_string());
        let _ = writeln!(
            s,
            "| {} | {d} | {first} | {} | {:.3} | {:.3} |",
            md_cell(m),
            last.median_rank,
            last.mean_p_hangul,
            last.mean_p_latin
        );
    }
    let _ = writeln!(s, "\n![{lens_fig}](../{lens_fig})\n");
}

fn samples_md(s: &mut String, b: &Behaviour) {
    if b.samples.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nGreedy generations (the first of each prompt type):\n\n| model | prompt type | prompt | continuation |\n|---|---|---|---|");
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for r in &b.samples {
        if seen.contains(&(r.model.as_str(), r.prompt_type.as_str())) {
            continue;
        }
        seen.push((&r.model, &r.prompt_type));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            md_cell(&r.model),
            r.prompt_type,
            md_cell(&r.prompt.replace('\n', " ")),
            md_cell(&r.text.replace('\n', " "))
        );
    }
}

/// `figures/study_<pair>_logit_lens.svg`.
pub fn lens_figure_path(pair: LangPair) -> String {
    format!("figures/study_{}_logit_lens.svg", pair.key())
}

/// log10 of the median gold rank per hidden state, one line per model, one panel per direction.
pub fn lens_figure(b: &Behaviour, title: &str) -> Result<Option<String>> {
    if b.lens.is_empty() {
        return Ok(None);
    }
    let e = |x: &dyn std::fmt::Display| anyhow!("plotting: {x}");
    let mut dirs: Vec<&str> = Vec::new();
    let mut models: Vec<&str> = Vec::new();
    for r in &b.lens {
        if !dirs.contains(&r.direction.as_str()) {
            dirs.push(&r.direction);
        }
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    let max_x = b.lens.iter().map(|r| r.layer).max().unwrap_or(1) as f64;
    let max_y = b
        .lens
        .iter()
        .map(|r| r.median_rank.max(1.0).log10())
        .fold(1.0, f64::max);
    let colors = [
        RGBColor(127, 127, 127),
        RGBColor(31, 119, 180),
        RGBColor(230, 120, 20),
        RGBColor(44, 160, 44),
    ];
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let (top, body) = root.split_vertically(30);
        top.titled(title, ("sans-serif", 18)).map_err(|x| e(&x))?;
        for (area, dir) in body.split_evenly((1, dirs.len())).iter().zip(&dirs) {
            let mut c = ChartBuilder::on(area)
                .caption(*dir, ("sans-serif", 15))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(50)
                .build_cartesian_2d(0.0..max_x, 0.0..max_y * 1.05)
                .map_err(|x| e(&x))?;
            c.configure_mesh()
                .x_desc("hidden state")
                .y_desc("log10 median gold rank")
                .draw()
                .map_err(|x| e(&x))?;
            for (i, m) in models.iter().enumerate() {
                let pts: Vec<(f64, f64)> = b
                    .lens
                    .iter()
                    .filter(|r| r.model == *m && r.direction == *dir)
                    .map(|r| (r.layer as f64, r.median_rank.max(1.0).log10()))
                    .collect();
                let col = colors[i % colors.len()];
                c.draw_series(LineSeries::new(pts, col.stroke_width(2)))
                    .map_err(|x| e(&x))?
                    .label(*m)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2))
                    });
            }
            c.configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|x| e(&x))?;
        }
        root.present().map_err(|x| e(&x))?;
    }
    Ok(Some(out))
}

/// The value keys of the behaviour stage (`<p>` = koen | swen, `<m>` = base | l2 | best, `<d>` =
/// ko_en | en_ko | sw_en | en_sw): `<p>.bh.<m>.lm.<lang>.{bpb, nats_per_token, delta, delta_low,
/// delta_high, rel, rel_low, rel_high}` (rel: relative to the base's bits per byte),
/// `<p>.bh.<m>.tr.<d>.s<shots>.{n, pool, greedy, p1, p5, delta_greedy, delta_greedy_low,
/// delta_greedy_high, delta_p1, delta_p1_low, delta_p1_high}`, and
/// `<p>.bh.<m>.lens.<d>.first_below_10` (absent when the median rank never falls below 10).
pub fn behaviour_values(v: &mut crate::values::Values, pair: LangPair, b: &Behaviour) {
    use crate::values::Val;
    let p = pair.key();
    let key = |label: &str| {
        if label == "base" {
            return Some("base");
        }
        pair.train_stages()
            .iter()
            .find(|(stage, _)| *stage == label)
            .map(|(_, k)| *k)
    };
    let mut num = |k: String, x: f64| {
        v.insert(k, Val::Num(x));
    };
    for r in &b.lm {
        let Some(m) = key(&r.model) else { continue };
        let (rel, lo, hi) = r.relative();
        let k = format!("{p}.bh.{m}.lm.{}", r.lang);
        for (f, x) in [
            ("bpb", r.bits_per_byte),
            ("nats_per_token", r.nats_per_token),
            ("delta", r.delta_bpb),
            ("delta_low", r.delta_bpb_low),
            ("delta_high", r.delta_bpb_high),
            ("rel", rel),
            ("rel_low", lo),
            ("rel_high", hi),
        ] {
            num(format!("{k}.{f}"), x);
        }
    }
    for r in &b.translation {
        let Some(m) = key(&r.model) else { continue };
        let k = format!(
            "{p}.bh.{m}.tr.{}.s{}",
            r.direction.replace('-', "_"),
            r.shots
        );
        for (f, x) in [
            ("n", r.n as f64),
            ("pool", r.pool as f64),
            ("greedy", r.greedy_accuracy),
            ("p1", r.p1),
            ("p5", r.p5),
            ("delta_greedy", r.delta_greedy),
            ("delta_greedy_low", r.delta_greedy_low),
            ("delta_greedy_high", r.delta_greedy_high),
            ("delta_p1", r.delta_p1),
            ("delta_p1_low", r.delta_p1_low),
            ("delta_p1_high", r.delta_p1_high),
        ] {
            num(format!("{k}.{f}"), x);
        }
    }
    let mut seen: Vec<(String, String)> = Vec::new();
    for r in &b.lens {
        if seen.contains(&(r.model.clone(), r.direction.clone())) {
            continue;
        }
        seen.push((r.model.clone(), r.direction.clone()));
        let Some(m) = key(&r.model) else { continue };
        if let Some(l) = first_layer_below(&b.lens, &r.model, &r.direction, 10.0) {
            num(
                format!(
                    "{p}.bh.{m}.lens.{}.first_below_10",
                    r.direction.replace('-', "_")
                ),
                l as f64,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic() -> Behaviour {
        let lm = |model: &str, d: f64| LmSummaryRow {
            model: model.into(),
            lang: "ko".into(),
            sentences: 24,
            bits_per_byte: 1.0 + d,
            nats_per_token: 2.0,
            delta_bpb: d,
            delta_bpb_low: d - 0.01,
            delta_bpb_high: d + 0.01,
        };
        let tr = |model: &str, p1: f64| TranslationSummaryRow {
            model: model.into(),
            direction: "ko-en".into(),
            shots: 0,
            n: 20,
            pool: 25,
            greedy_accuracy: 0.1,
            p1,
            p5: 0.5,
            delta_greedy: 0.0,
            delta_greedy_low: -0.1,
            delta_greedy_high: 0.1,
            delta_p1: p1 - 0.2,
            delta_p1_low: -0.05,
            delta_p1_high: 0.3,
        };
        let lens = |model: &str, layer: usize, rank: f64| LensRow {
            model: model.into(),
            direction: "ko-en".into(),
            layer,
            n: 20,
            median_rank: rank,
            mean_p_hangul: 0.1,
            mean_p_latin: 0.7,
        };
        Behaviour {
            lm: vec![lm("base", 0.0), lm("koen-tli-train-best", 0.04)],
            translation: vec![tr("base", 0.2), tr("koen-tli-train-best", 0.3)],
            lens: vec![
                lens("base", 0, 5000.0),
                lens("base", 1, 40.0),
                lens("base", 2, 3.0),
                lens("koen-tli-train-best", 0, 800.0),
                lens("koen-tli-train-best", 1, 12.0),
                lens("koen-tli-train-best", 2, 20.0),
            ],
            samples: vec![SampleRow {
                model: "base".into(),
                prompt_type: "continue-ko".into(),
                prompt: "a|b".into(),
                text: "c\nd".into(),
            }],
        }
    }

    #[test]
    fn subsection_tables() {
        let b = synthetic();
        let md = behaviour_md(&b, "figures/x.svg");
        assert!(
            md.starts_with("### What fine-tuning changed in behaviour"),
            "{md}"
        );
        assert!(
            md.contains("| koen-tli-train-best | ko | 1.040 | 2.000 | +0.040 [+0.030, +0.050] |"),
            "{md}"
        );
        assert!(md.contains("| koen-tli-train-best | ko-en | 0 | 0.100 | 0.300 | 0.500 | +0.000 [-0.100, +0.100] | +0.100 [-0.050, +0.300] |"), "{md}");
        assert!(md.contains("| base | ko-en | 2 | 3 |"), "{md}");
        assert!(
            md.contains("| koen-tli-train-best | ko-en | none | 20 |"),
            "{md}"
        );
        assert!(md.contains("a\\|b") && md.contains("| c d |"), "{md}");
        assert_eq!(behaviour_md(&Behaviour::default(), "f"), "");
    }

    #[test]
    fn lens_layers_and_figure() {
        let b = synthetic();
        assert_eq!(first_layer_below(&b.lens, "base", "ko-en", 10.0), Some(2));
        assert_eq!(
            first_layer_below(&b.lens, "koen-tli-train-best", "ko-en", 10.0),
            None
        );
        let svg = lens_figure(&b, "logit lens").unwrap().unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("koen-tli-train-best"),
            "{}",
            &svg[..200.min(svg.len())]
        );
        assert!(lens_figure(&Behaviour::default(), "t").unwrap().is_none());
    }

    #[test]
    fn value_keys() {
        let mut v = crate::values::Values::new();
        behaviour_values(&mut v, LangPair::KoEn, &synthetic());
        let n = |k: &str| match v.get(k) {
            Some(crate::values::Val::Num(x)) => *x,
            other => panic!("{k}: {other:?}"),
        };
        assert!((n("koen.bh.best.lm.ko.rel_high") - 0.05).abs() < 1e-12);
        assert_eq!(n("koen.bh.best.tr.ko_en.s0.p1"), 0.3);
        assert_eq!(n("koen.bh.base.lens.ko_en.first_below_10"), 2.0);
        assert!(!v.contains_key("koen.bh.best.lens.ko_en.first_below_10"));
    }

    #[test]
    fn loads_written_rows_and_absent_stage() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path(), LangPair::KoEn).unwrap().is_none());
        let d = dir.path().join("koen-behaviour");
        std::fs::create_dir_all(&d).unwrap();
        let b = synthetic();
        use lexalign_data::behaviour_rows::{samples_jsonl, to_csv};
        std::fs::write(d.join("lm_summary.csv"), to_csv(&b.lm).unwrap()).unwrap();
        std::fs::write(
            d.join("translation_summary.csv"),
            to_csv(&b.translation).unwrap(),
        )
        .unwrap();
        std::fs::write(d.join("logit_lens.csv"), to_csv(&b.lens).unwrap()).unwrap();
        std::fs::write(d.join("samples.jsonl"), samples_jsonl(&b.samples).unwrap()).unwrap();
        let got = load(dir.path(), LangPair::KoEn).unwrap().unwrap();
        assert_eq!((got.lm, got.lens, got.samples), (b.lm, b.lens, b.samples));
    }
}
