//! Training curves as a PNG (plotters, bitmap backend, DejaVu Sans from the system fonts).

use std::path::Path;

use crag_core::{CragError, Result};
use plotters::prelude::*;

/// One named series of per-epoch values.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Value per epoch (1-based on the x axis).
    pub values: Vec<f64>,
}

const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

fn register_font() -> Result<()> {
    for p in FONT_PATHS {
        if let Ok(bytes) = std::fs::read(p) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            return plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| CragError::Runtime(format!("cannot use font {p}")));
        }
    }
    Err(CragError::Runtime(
        "no TrueType font found (install fonts-dejavu-core)".into(),
    ))
}

/// Draw panels side by side (e.g. losses and validation metrics), one line per series, to `path`.
pub fn plot(path: &Path, title: &str, panels: &[(&str, Vec<Series>)]) -> Result<()> {
    register_font()?;
    let err = |e: String| CragError::Runtime(format!("plotting {}: {e}", path.display()));
    let root =
        BitMapBackend::new(path, (640 * panels.len().max(1) as u32, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| err(e.to_string()))?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (area, (caption, series)) in areas.iter().zip(panels) {
        let n = series
            .iter()
            .map(|s| s.values.len())
            .max()
            .unwrap_or(1)
            .max(2);
        let finite = series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        let pad = (hi - lo) * 0.05;
        let mut chart = ChartBuilder::on(area)
            .caption(*caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(1f64..n as f64, (lo - pad)..(hi + pad))
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (i, s) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = s
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(e, v)| ((e + 1) as f64, *v))
                .collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}
