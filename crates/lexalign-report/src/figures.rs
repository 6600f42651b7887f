//! SVG figures with plotters (SVG backend only, no font files: text is emitted as SVG `<text>`
//! and sized by plotters' built-in estimate, so output is the same bytes on every machine).

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::run::{LossRow, PilotScan};
use lexalign_published::{EvalRow, Group, Pilot};

const FONT: &str = "sans-serif";
const TRAINED: RGBColor = RGBColor(31, 119, 180);
const CONTROL: RGBColor = RGBColor(230, 120, 20);
const PEAK: RGBColor = RGBColor(200, 30, 30);
const PALETTE: [RGBColor; 4] = [
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
];

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Render into an SVG string.
fn svg(size: (u32, u32), draw: impl FnOnce(&Area) -> Result<()>) -> Result<String> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        draw(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(s)
}

fn e<E: std::fmt::Display>(err: E) -> anyhow::Error {
    anyhow!("plotting: {err}")
}

/// A curve measured by a model-based scan, drawn next to the published pilot.
pub struct Curve {
    pub label: String,
    pub points: Vec<(usize, f64)>,
}

/// Curves of a real-model scan: pairs and shuffled baseline per pooling mode.
pub fn scan_curves(scans: &[PilotScan]) -> Vec<Curve> {
    let mut out = Vec::new();
    for s in scans {
        let pooling = s
            .summary
            .get("pooling")
            .and_then(|p| p.as_str())
            .unwrap_or(&s.folder)
            .to_string();
        out.push(Curve {
            label: format!("pairs ({pooling})"),
            points: s.layers.iter().map(|l| (l.layer, l.pairs_mean)).collect(),
        });
        out.push(Curve {
            label: format!("shuffled ({pooling})"),
            points: s
                .layers
                .iter()
                .map(|l| (l.layer, l.shuffled_mean))
                .collect(),
        });
    }
    out
}

/// Figure 1: average cosine per layer (published pilot), peak marked; extra curves if given.
/// Left: all layers. Right: layers >= 1 zoomed, where the published values differ in the 4th digit.
pub fn layer_figure(
    pilot: &Pilot,
    base_label: &str,
    extra: &[Curve],
    title: &str,
) -> Result<String> {
    svg((1000, 420), |root| {
        let (title_area, body) = root.split_vertically(30);
        title_area.titled(title, (FONT, 18)).map_err(e)?;
        let panels = body.split_evenly((1, 2));
        let max_layer = pilot
            .layers
            .iter()
            .map(|l| l.layer)
            .chain(extra.iter().flat_map(|c| c.points.iter().map(|p| p.0)))
            .max()
            .unwrap_or(31) as f64;
        let published: Vec<(f64, f64)> = pilot
            .layers
            .iter()
            .map(|l| (l.layer as f64, l.avg_cosine))
            .collect();
        let all_y = published
            .iter()
            .map(|p| p.1)
            .chain(extra.iter().flat_map(|c| c.points.iter().map(|p| p.1)));
        let y_min_all = all_y.clone().fold(f64::INFINITY, f64::min).min(0.0);
        let zoom: Vec<f64> = published
            .iter()
            .filter(|p| p.0 >= 1.0)
            .map(|p| p.1)
            .collect();
        let zoom_min = zoom.iter().cloned().fold(f64::INFINITY, f64::min);
        let zoom_lo = ((zoom_min - 0.001) * 1000.0).floor() / 1000.0;
        let fig = LayerFigure {
            pilot,
            base_label,
            extra,
            max_layer,
            published: &published,
            y_min_all,
            zoom_lo,
        };
        for (i, panel) in panels.iter().enumerate() {
            layer_panel(panel, i, &fig)?;
        }
        Ok(())
    })
}

/// What both panels of Figure 1 draw.
struct LayerFigure<'a> {
    pilot: &'a Pilot,
    base_label: &'a str,
    extra: &'a [Curve],
    max_layer: f64,
    published: &'a [(f64, f64)],
    y_min_all: f64,
    zoom_lo: f64,
}

/// Panel `i` of Figure 1: 0 = all layers, 1 = layers >= 1 zoomed.
fn layer_panel(panel: &Area, i: usize, f: &LayerFigure) -> Result<()> {
    let (pilot, base_label, extra, max_layer, published, y_min_all, zoom_lo) = (
        f.pilot,
        f.base_label,
        f.extra,
        f.max_layer,
        f.published,
        f.y_min_all,
        f.zoom_lo,
    );
    let (x0, y0, y1, cap) = if i == 0 {
        (-0.5, y_min_all, 1.05, "(a) all layers")
    } else {
        (0.5, zoom_lo, 1.0005, "(b) layers 1 and up, zoomed")
    };
    let mut chart = ChartBuilder::on(panel)
        .caption(cap, (FONT, 14))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..max_layer + 0.5, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("layer (hidden_states index)")
        .y_desc("average cosine")
        .x_labels(12)
        .y_label_formatter(&|v| {
            if i == 0 {
                format!("{v:.1}")
            } else {
                format!("{v:.3}")
            }
        })
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(e)?;
    let shown: Vec<(f64, f64)> = published.iter().cloned().filter(|p| p.0 >= x0).collect();
    chart
        .draw_series(LineSeries::new(shown.clone(), TRAINED.stroke_width(2)))
        .map_err(e)?
        .label(base_label)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], TRAINED.stroke_width(2)));
    chart
        .draw_series(shown.iter().map(|p| Circle::new(*p, 3, TRAINED.filled())))
        .map_err(e)?;
    for (k, c) in extra.iter().enumerate() {
        let col = PALETTE[k % PALETTE.len()];
        let pts: Vec<(f64, f64)> = c
            .points
            .iter()
            .map(|p| (p.0 as f64, p.1))
            .filter(|p| p.0 >= x0)
            .collect();
        if pts.iter().any(|p| p.1 < y0 || p.1 > y1) {
            continue; // off the zoomed scale; panel (a) shows it
        }
        chart
            .draw_series(LineSeries::new(pts, col.stroke_width(2)))
            .map_err(e)?
            .label(c.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    let peak = (pilot.peak_layer as f64, pilot.peak);
    chart
        .draw_series(std::iter::once(Circle::new(peak, 6, PEAK.stroke_width(2))))
        .map_err(e)?;
    let (dx, dy) = if i == 0 {
        (1.0, -0.08)
    } else {
        (1.0, -(1.0005 - zoom_lo) * 0.06)
    };
    chart
        .draw_series(std::iter::once(Text::new(
            format!("peak: layer {} ({:.5})", pilot.peak_layer, pilot.peak),
            (peak.0 + dx, peak.1 + dy),
            (FONT, 13).into_font().color(&PEAK),
        )))
        .map_err(e)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 12))
        .draw()
        .map_err(e)?;
    Ok(())
}

fn range_of(vals: impl Iterator<Item = f64>, step: f64) -> (f64, f64) {
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

/// Pre vs post similarity per pair (one point per pair; above the diagonal = improved).
pub fn pre_post_figure(rows: &[EvalRow], title: &str) -> Result<String> {
    svg((620, 560), |root| {
        let (lo, hi) = range_of(
            rows.iter().flat_map(|r| [r.sim_pre_tli, r.sim_post_tli]),
            0.05,
        );
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("cosine before TLI")
            .y_desc("cosine after TLI")
            .x_label_formatter(&|v| format!("{v:.2}"))
            .y_label_formatter(&|v| format!("{v:.2}"))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(vec![(lo, lo), (hi, hi)], BLACK.mix(0.6)))
            .map_err(e)?
            .label("no change (y = x)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.6)));
        for (g, col) in [(Group::Trained, TRAINED), (Group::Control, CONTROL)] {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.group == g)
                .map(|r| (r.sim_pre_tli, r.sim_post_tli))
                .collect();
            let n = pts.len();
            chart
                .draw_series(
                    pts.into_iter()
                        .map(move |p| Circle::new(p, 3, col.mix(0.55).filled())),
                )
                .map_err(e)?
                .label(format!("{} (n = {n})", g.as_str()))
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, col.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()
            .map_err(e)?;
        Ok(())
    })
}

/// Distribution of per-pair gains (post - pre), trained vs control, as densities, with means.
pub fn improvement_figure(rows: &[EvalRow], title: &str) -> Result<String> {
    svg((720, 460), |root| {
        let width = 0.01;
        let gains = |g: Group| -> Vec<f64> {
            rows.iter()
                .filter(|r| r.group == g)
                .map(|r| r.sim_post_tli - r.sim_pre_tli)
                .collect()
        };
        let (t, c) = (gains(Group::Trained), gains(Group::Control));
        let (lo, hi) = range_of(t.iter().chain(c.iter()).cloned(), 0.02);
        let nbins = ((hi - lo) / width).round().max(1.0) as usize;
        let hist = |v: &[f64]| -> Vec<f64> {
            let mut h = vec![0.0; nbins];
            for x in v {
                let b = (((x - lo) / width).floor() as isize).clamp(0, nbins as isize - 1) as usize;
                h[b] += 1.0;
            }
            h.iter().map(|k| k / (v.len() as f64 * width)).collect()
        };
        let (ht, hc) = (hist(&t), hist(&c));
        let ymax = ht.iter().chain(hc.iter()).cloned().fold(0.0, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(lo..hi, 0.0..ymax)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("gain in cosine (after - before)")
            .y_desc("density")
            .x_label_formatter(&|v| format!("{v:.2}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(e)?;
        for (g, h, v, col) in [("trained", &ht, &t, TRAINED), ("control", &hc, &c, CONTROL)] {
            let bars = h.iter().enumerate().map(move |(i, d)| {
                let x = lo + i as f64 * width;
                Rectangle::new([(x, 0.0), (x + width, *d)], col.mix(0.35).filled())
            });
            let m = lexalign_stats::mean(v);
            chart
                .draw_series(bars)
                .map_err(e)?
                .label(format!("{g} (n = {}, mean {m:+.4})", v.len()))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 18, y + 5)], col.mix(0.5).filled())
                });
            chart
                .draw_series(LineSeries::new(
                    vec![(m, 0.0), (m, ymax)],
                    col.stroke_width(2),
                ))
                .map_err(e)?;
        }
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, 0.0), (0.0, ymax)],
                BLACK.mix(0.5),
            ))
            .map_err(e)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()
            .map_err(e)?;
        Ok(())
    })
}

/// Training loss per step.
pub fn loss_figure(loss: &[LossRow], title: &str) -> Result<String> {
    svg((720, 420), |root| {
        let xmax = loss.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
        let (lo, hi) = range_of(loss.iter().map(|r| r.loss), 0.05);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..xmax, lo..hi.max(lo + 0.05))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("loss")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.2}"))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                loss.iter().map(|r| (r.step as f64, r.loss)),
                TRAINED.stroke_width(1),
            ))
            .map_err(e)?;
        Ok(())
    })
}
