//! The study's SVG figures (plotters, as `figures.rs`): per-layer scan curves of the
//! multilingual model beside the English-only control, and per-layer centred CSLS P@1 before and
//! after each adapter. No dashed lines: their dash count would depend on the data's exact path.

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::load::{Adapter, PairStudy, Scan, EVAL_POOLING};

const FONT: &str = "sans-serif";
const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 120, 20),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(127, 127, 127),
];

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn e<E: std::fmt::Display>(err: E) -> anyhow::Error {
    anyhow!("plotting: {err}")
}

fn svg(size: (u32, u32), draw: impl FnOnce(&Area) -> Result<()>) -> Result<String> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        draw(&root)?;
        root.present().map_err(e)?;
    }
    Ok(s)
}

/// One named curve: label, colour, solid (false: thin, light, hollow points), its (x, y) points.
type Curve = (String, RGBColor, bool, Vec<(f64, f64)>);

/// A panel of named per-layer curves; `solid[i]` false draws curve i thin and light with hollow points.
fn panel(
    area: &Area,
    caption: &str,
    curves: &[Curve],
    vline: Option<f64>,
    y_desc: &str,
) -> Result<()> {
    let max_x = curves
        .iter()
        .flat_map(|c| c.3.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let y_lo = curves
        .iter()
        .flat_map(|c| c.3.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(0.0, f64::min);
    let y_lo = (y_lo * 10.0).floor() / 10.0;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 14))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5..max_x + 0.5, y_lo..1.05)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("hidden state")
        .y_desc(y_desc)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(e)?;
    if let Some(x) = vline {
        chart
            .draw_series(LineSeries::new(vec![(x, y_lo), (x, 1.05)], BLACK.mix(0.4)))
            .map_err(e)?;
    }
    for (label, col, solid, pts) in curves {
        let pts: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1.is_finite()).collect();
        let col = *col;
        let (style, width) = if *solid {
            (col.stroke_width(2), 2)
        } else {
            (col.mix(0.5).stroke_width(1), 1)
        };
        chart
            .draw_series(LineSeries::new(pts.clone(), style))
            .map_err(e)?
            .label(label.clone())
            .legend(move |(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 20, y)],
                    if width == 2 {
                        col.stroke_width(2)
                    } else {
                        col.mix(0.5).stroke_width(1)
                    },
                )
            });
        if *solid {
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 2, col.filled())))
                .map_err(e)?;
        } else {
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, col.stroke_width(1))))
                .map_err(e)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 11))
        .draw()
        .map_err(e)?;
    Ok(())
}

fn scan_curves(s: &Scan) -> Vec<Curve> {
    let rows = s.pooling(EVAL_POOLING);
    let curve = |c: &str| {
        rows.iter()
            .map(|r| (r.layer as f64, r.get(c)))
            .collect::<Vec<_>>()
    };
    vec![
        (
            "raw cosine (pairs)".into(),
            COLORS[0],
            true,
            curve("pairs_mean"),
        ),
        (
            "raw cosine (shuffled)".into(),
            COLORS[0],
            false,
            curve("shuffled_mean"),
        ),
        (
            "centred cosine (pairs)".into(),
            COLORS[1],
            true,
            curve("centered_mean"),
        ),
        (
            "centred cosine (shuffled)".into(),
            COLORS[1],
            false,
            curve("centered_shuffled_mean"),
        ),
        (
            "centred CSLS P@1".into(),
            COLORS[2],
            true,
            curve("centered_p1_csls"),
        ),
    ]
}

/// Scan curves of the multilingual model (left) and the English-only control (right).
pub fn scan_figure(p: &PairStudy) -> Result<Option<String>> {
    let Some(sc) = &p.scan else { return Ok(None) };
    let title = format!(
        "{} scan: raw vs shuffled vs centred cosine ({EVAL_POOLING})",
        p.pair.name()
    );
    svg((1000, 440), |root| {
        let (t, body) = root.split_vertically(30);
        t.titled(&title, (FONT, 17)).map_err(e)?;
        let panels = body.split_evenly((1, 2));
        panel(
            &panels[0],
            &format!("(a) {}", sc.main.model()),
            &scan_curves(&sc.main),
            None,
            "cosine / P@1",
        )?;
        match &sc.control {
            Some(c) => panel(
                &panels[1],
                &format!("(b) {} (English-only control)", c.model()),
                &scan_curves(c),
                None,
                "cosine / P@1",
            )?,
            None => {
                panels[1]
                    .titled("(b) negative control not in this run", (FONT, 14))
                    .map_err(e)?;
            }
        }
        Ok(())
    })
    .map(Some)
}

fn p1_curves(p: &PairStudy, a: &Adapter) -> Vec<Curve> {
    let mut out = Vec::new();
    let Some(ev) = &a.eval else { return out };
    for (i, set) in p.pair.sets().iter().enumerate() {
        let rows: Vec<_> = ev.changes.iter().filter(|c| c.set == *set).collect();
        let col = COLORS[i % COLORS.len()];
        out.push((
            format!("{set} before"),
            col,
            false,
            rows.iter().map(|c| (c.layer as f64, c.p1_before)).collect(),
        ));
        out.push((
            format!("{set} after"),
            col,
            true,
            rows.iter().map(|c| (c.layer as f64, c.p1_after)).collect(),
        ));
    }
    out
}

/// Centred CSLS P@1 per hidden state before and after each adapter, one panel per adapter.
pub fn p1_figure(p: &PairStudy) -> Result<Option<String>> {
    let adapters: Vec<&Adapter> = p.adapters.iter().filter(|a| a.eval.is_some()).collect();
    if adapters.is_empty() {
        return Ok(None);
    }
    let title = format!("{}: centred CSLS P@1 before and after TLI", p.pair.name());
    let w = 520 * adapters.len() as u32;
    svg((w.max(620), 440), |root| {
        let (t, body) = root.split_vertically(30);
        t.titled(&title, (FONT, 17)).map_err(e)?;
        let panels = body.split_evenly((1, adapters.len()));
        for (i, a) in adapters.iter().enumerate() {
            let tl = a.target_layer();
            let cap = match tl {
                Some(l) => format!(
                    "({}) {} (target: hidden state {l})",
                    (b'a' + i as u8) as char,
                    a.stage
                ),
                None => format!("({}) {}", (b'a' + i as u8) as char, a.stage),
            };
            panel(
                &panels[i],
                &cap,
                &p1_curves(p, a),
                tl.map(|l| l as f64),
                "centred CSLS P@1",
            )?;
        }
        Ok(())
    })
    .map(Some)
}
