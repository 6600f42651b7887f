//! Script 04's four t-SNE panels on the study model (hidden state 2 and the best layer, before
//! and after the adapter) as one SVG: Swahili words blue, English orange, a grey line joining
//! each translation pair, as the authors drew theirs. Plotters writes coordinates rounded to
//! whole pixels, so the file is byte-identical for identical points.

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::authors_scripts::ScriptsRun;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

const FONT: &str = "sans-serif";
const SW: RGBColor = RGBColor(31, 119, 180);
const EN: RGBColor = RGBColor(230, 120, 20);

fn e<E: std::fmt::Display>(err: E) -> anyhow::Error {
    anyhow!("plotting: {err}")
}

/// The 2x2 figure: rows are hidden states (2, then the best layer), columns before / after.
pub fn tsne_figure(s: &ScriptsRun) -> Result<String> {
    let mut layers: Vec<usize> = s.summary.tsne.iter().map(|p| p.layer).collect();
    layers.dedup();
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (900, 450 * layers.len() as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let cells = root.split_evenly((layers.len(), 2));
        let mut i = 0;
        for &layer in &layers {
            for state in ["before", "after"] {
                panel(&cells[i], s, layer, state)?;
                i += 1;
            }
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
}

fn panel(area: &Area, s: &ScriptsRun, layer: usize, state: &str) -> Result<()> {
    let pts: Vec<_> = s
        .points
        .iter()
        .filter(|p| p.layer == layer && p.state == state)
        .collect();
    let rank = s
        .summary
        .tsne
        .iter()
        .find(|p| p.layer == layer && p.state == state)
        .map(|p| p.mean_rank)
        .unwrap_or(f64::NAN);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in &pts {
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        y0 = y0.min(p.y);
        y1 = y1.max(p.y);
    }
    if pts.is_empty() {
        (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
    }
    let (px, py) = (((x1 - x0) * 0.08).max(1e-6), ((y1 - y0) * 0.08).max(1e-6));
    let caption = format!(
        "hidden state {layer}, {state} the adapter (mean translation rank {rank:.2} of 25)"
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 13))
        .margin(8)
        .build_cartesian_2d(x0 - px..x1 + px, y0 - py..y1 + py)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .draw()
        .map_err(e)?;
    for sw in pts.iter().filter(|p| p.lang == "sw") {
        if let Some(en) = pts.iter().find(|p| p.lang == "en" && p.pair == sw.pair) {
            chart
                .draw_series(LineSeries::new(
                    vec![(sw.x, sw.y), (en.x, en.y)],
                    RGBColor(160, 160, 160),
                ))
                .map_err(e)?;
        }
    }
    for p in &pts {
        let c = if p.lang == "sw" { SW } else { EN };
        chart
            .draw_series(std::iter::once(Circle::new((p.x, p.y), 3, c.filled())))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                p.word.clone(),
                (p.x, p.y),
                (FONT, 9).into_font().color(&c),
            )))
            .map_err(e)?;
    }
    Ok(())
}
