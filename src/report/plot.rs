//! Line charts as PNG, with axes, "nice" tick values, grid lines and a legend: the
//! reconstruction loss per pretraining epoch and NMI / ACC per DEC update. Drawn with the
//! project's raster code and bitmap font; no plotting library.

use std::path::Path;

use super::font;
use super::raster::{Channels, Colour, Image, save_png};
use crate::Result;

/// Chart size in pixels.
pub const WIDTH: usize = 720;
pub const HEIGHT: usize = 420;
/// Space around the plot area for the title, tick labels and the x-axis label.
const LEFT: usize = 72;
const RIGHT: usize = 24;
const TOP: usize = 36;
const BOTTOM: usize = 52;

/// Series colours, in order (the colours most plotting libraries start with).
pub const PALETTE: [Colour; 6] = [
    Colour::rgb(31, 119, 180),
    Colour::rgb(255, 127, 14),
    Colour::rgb(44, 160, 44),
    Colour::rgb(214, 39, 40),
    Colour::rgb(148, 103, 189),
    Colour::rgb(140, 86, 75),
];
const GRID: Colour = Colour::grey(225);
const INK: Colour = Colour::BLACK;

/// One named line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    /// (x, y) in drawing order; non-finite points are skipped and break the line.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: &str, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.to_string(),
            points,
        }
    }
}

/// Tick values at a "nice" step (1, 2 or 5 times a power of ten) covering [lo, hi] with
/// about `target` intervals; the first and last ticks enclose the data.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticks {
    pub values: Vec<f64>,
    pub step: f64,
    /// Decimals needed to tell neighbouring ticks apart.
    pub decimals: usize,
}

pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Ticks {
    assert!(lo.is_finite() && hi.is_finite() && lo <= hi && target > 0);
    let (lo, hi) = if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
        // A flat line: give it a visible range around its value.
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / target as f64;
    let exponent = raw.log10().floor() as i32;
    let magnitude = 10f64.powi(exponent);
    let multiple = match raw / magnitude {
        r if r < 1.5 => 1.0,
        r if r < 3.0 => 2.0,
        r if r < 7.0 => 5.0,
        _ => 10.0,
    };
    // Dividing by an exact power of ten makes a step of 0.05 the same double as the
    // literal 0.05 (multiplying by 0.01 would not).
    let step = if exponent >= 0 {
        multiple * magnitude
    } else {
        multiple / 10f64.powi(-exponent)
    };
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    if !step.is_finite() || step <= 0.0 || last.saturating_sub(first) > 4 * target as i64 + 4 {
        // Values near the limits of f64 (a diverged loss): no nice step exists, so the two
        // ends alone are the ticks.
        return Ticks {
            values: vec![lo, hi],
            step: hi - lo,
            decimals: 0,
        };
    }
    // Multiplying integers by the step (not adding the step repeatedly) keeps 0.3 from
    // becoming 0.30000000000000004 at the tenth tick.
    let values = (first..=last).map(|k| k as f64 * step).collect();
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    Ticks {
        values,
        step,
        decimals,
    }
}

/// Where the data lands on the picture.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub x_ticks: Ticks,
    pub y_ticks: Ticks,
    /// The plot area: left, top, width, height in pixels.
    pub area: (usize, usize, usize, usize),
}

impl Frame {
    fn range(t: &Ticks) -> (f64, f64) {
        (t.values[0], t.values[t.values.len() - 1])
    }

    /// The pixel of data point (x, y).
    pub fn to_pixel(&self, x: f64, y: f64) -> (i64, i64) {
        let (left, top, w, h) = self.area;
        let (x0, x1) = Self::range(&self.x_ticks);
        let (y0, y1) = Self::range(&self.y_ticks);
        let px = left as f64 + (x - x0) / (x1 - x0) * (w - 1) as f64;
        let py = top as f64 + (h - 1) as f64 - (y - y0) / (y1 - y0) * (h - 1) as f64;
        (px.round() as i64, py.round() as i64)
    }
}

/// Draws the chart; returns the picture and where the data landed.
pub fn render_line_chart(title: &str, x_label: &str, series: &[Series]) -> (Image, Frame) {
    let mut img = Image::new(WIDTH, HEIGHT, Channels::Rgb, Colour::WHITE);
    let area = (LEFT, TOP, WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let (left, top, w, h) = area;

    let finite = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let bounds = |pick: fn(&(f64, f64)) -> f64| {
        finite()
            .map(pick)
            .fold(None, |acc: Option<(f64, f64)>, v| match acc {
                None => Some((v, v)),
                Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
            })
            .unwrap_or((0.0, 1.0))
    };
    let (x_lo, x_hi) = bounds(|p| p.0);
    let (y_lo, y_hi) = bounds(|p| p.1);
    let frame = Frame {
        x_ticks: nice_ticks(x_lo, x_hi, 8),
        y_ticks: nice_ticks(y_lo, y_hi, 6),
        area,
    };

    // Grid lines and tick labels.
    for (i, &v) in frame.y_ticks.values.iter().enumerate() {
        let (_, py) = frame.to_pixel(frame.x_ticks.values[0], v);
        if i > 0 {
            img.fill_rect(left as i64, py, w, 1, GRID);
        }
        img.fill_rect(left as i64 - 5, py, 5, 1, INK);
        let label = format!("{v:.*}", frame.y_ticks.decimals);
        let tw = font::text_width(&label, 1) as i64;
        font::draw_text(&mut img, left as i64 - 8 - tw, py - 3, &label, INK, 1);
    }
    for (i, &v) in frame.x_ticks.values.iter().enumerate() {
        let (px, _) = frame.to_pixel(v, frame.y_ticks.values[0]);
        if i > 0 {
            img.fill_rect(px, top as i64, 1, h, GRID);
        }
        img.fill_rect(px, (top + h) as i64, 1, 5, INK);
        let label = format!("{v:.*}", frame.x_ticks.decimals);
        let tw = font::text_width(&label, 1) as i64;
        font::draw_text(&mut img, px - tw / 2, (top + h + 9) as i64, &label, INK, 1);
    }
    // Axes.
    img.fill_rect(left as i64, top as i64, 1, h, INK);
    img.fill_rect(left as i64, (top + h - 1) as i64, w, 1, INK);

    // Titles.
    let tw = font::text_width(title, 2) as i64;
    font::draw_text(&mut img, (WIDTH as i64 - tw) / 2, 10, title, INK, 2);
    let lw = font::text_width(x_label, 1) as i64;
    let cx = (left + w / 2) as i64;
    font::draw_text(&mut img, cx - lw / 2, (HEIGHT - 18) as i64, x_label, INK, 1);

    // The lines, on top of the grid.
    for (s, colour) in series.iter().zip(PALETTE.iter().cycle()) {
        let mut previous: Option<(i64, i64)> = None;
        for &(x, y) in &s.points {
            if !(x.is_finite() && y.is_finite()) {
                previous = None;
                continue;
            }
            let p = frame.to_pixel(x, y);
            match previous {
                Some(q) => img.line(q, p, 2, *colour),
                // A lone point would be invisible as a line: mark each start with a dot.
                None => img.fill_rect(p.0 - 2, p.1 - 2, 5, 5, *colour),
            }
            previous = Some(p);
        }
    }

    // Legend in the top-right corner of the plot area.
    if !series.is_empty() {
        let text_w = series
            .iter()
            .map(|s| font::text_width(&s.name, 1))
            .max()
            .unwrap_or(0);
        let (bw, bh) = (text_w + 34, series.len() * 12 + 8);
        // The corner whose box hides the fewest drawn line pixels (top-right on a tie).
        let corners = [
            (left + w - bw - 8, top + 8),
            (left + w - bw - 8, top + h - bh - 8),
            (left + 8, top + 8),
            (left + 8, top + h - bh - 8),
        ];
        let covered = |&(cx, cy): &(usize, usize)| {
            let mut count = 0;
            for y in cy..(cy + bh).min(HEIGHT) {
                for x in cx..(cx + bw).min(WIDTH) {
                    count += usize::from(PALETTE.contains(&img.get(x, y)));
                }
            }
            count
        };
        let (bx, by) = corners
            .iter()
            .min_by_key(|c| covered(c))
            .map(|&(x, y)| (x as i64, y as i64))
            .expect("four corners");
        img.fill_rect(bx, by, bw, bh, Colour::WHITE);
        img.border(bx, by, bw, bh, 1, Colour::grey(150));
        for (i, (s, colour)) in series.iter().zip(PALETTE.iter().cycle()).enumerate() {
            let y = by + 6 + 12 * i as i64;
            img.fill_rect(bx + 6, y + 2, 16, 3, *colour);
            font::draw_text(&mut img, bx + 28, y, &s.name, INK, 1);
        }
    }
    (img, frame)
}

/// Draws the chart and writes it to `path` as a PNG (atomically).
pub fn line_chart(
    path: impl AsRef<Path>,
    title: &str,
    x_label: &str,
    series: &[Series],
) -> Result<()> {
    let (img, _) = render_line_chart(title, x_label, series);
    save_png(path, &img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_enclose_the_data() {
        let t = nice_ticks(0.013, 0.087, 6);
        assert_eq!(t.step, 0.01);
        assert_eq!(t.decimals, 2);
        assert_eq!(t.values.first(), Some(&0.01));
        assert!((t.values.last().unwrap() - 0.09).abs() < 1e-12);
        let t = nice_ticks(1.0, 50.0, 8);
        assert_eq!((t.step, t.decimals), (5.0, 0));
        assert_eq!(
            t.values,
            (0..=10).map(|k| k as f64 * 5.0).collect::<Vec<_>>()
        );
        let t = nice_ticks(0.0, 20000.0, 8);
        assert_eq!(t.step, 2000.0);
        let flat = nice_ticks(0.5, 0.5, 5);
        assert!(flat.values[0] < 0.5 && *flat.values.last().unwrap() > 0.5);
        let zero = nice_ticks(0.0, 0.0, 5);
        assert!(zero.values.len() >= 2);
        let huge = nice_ticks(-f64::MAX, f64::MAX, 5);
        assert_eq!(huge.values.len(), 2);
    }

    #[test]
    fn extreme_values_draw_without_panicking() {
        for points in [
            vec![(0.0, f64::MAX), (1.0, -f64::MAX)],
            vec![(1e-300, 1e-300), (2e-300, 3e-300)],
            vec![(5.0, f64::INFINITY), (6.0, f64::NAN)],
            vec![(3.0, 7.0)],
        ] {
            let (img, _) = render_line_chart("t", "x", &[Series::new("s", points)]);
            assert_eq!((img.width, img.height), (WIDTH, HEIGHT));
        }
    }
}
