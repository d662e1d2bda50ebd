//! `map.png`: the images as points on a 2-D map (a UMAP of their codes), coloured by the
//! cluster a method gave them and, beside it, by their true class when labels exist.
//!
//! Two panels side by side share one pair of axes, so a point sits at the same place in
//! both: where the colours of the left panel follow those of the right, the clustering
//! found the classes. A few thumbnails (one per cluster, the member nearest the cluster's
//! middle) are drawn at their points, framed in the cluster's colour, so that a reader sees
//! what lives where without the labels.
//!
//! Axes are scaled equally (a UMAP's distances mean the same in x and y) and carry no ticks:
//! the coordinates of an embedding have no unit.

use std::path::Path;

use super::font;
use super::raster::{Channels, Colour, Image, save_png};
use crate::Result;
use crate::linalg::Matrix;

/// The side of a panel's square plot area, in pixels.
pub const PANEL: usize = 480;
/// Space around a panel's plot area: its title above, a margin elsewhere.
const TITLE_H: usize = 28;
const MARGIN: usize = 12;
/// The legend column to the right of each panel.
const LEGEND_W: usize = 72;
/// Legend rows drawn at most; further groups are summarised as "+N more".
pub const LEGEND_MAX: usize = 30;
/// A point is a DOT x DOT square.
const DOT: usize = 2;

const INK: Colour = Colour::BLACK;
const FRAME: Colour = Colour::grey(180);

/// Twenty distinguishable colours: Tableau's ten (the default cycle of most plotting
/// libraries), then their lighter partners. Group g takes `PALETTE[g % 20]`.
pub const PALETTE: [Colour; 20] = [
    Colour::rgb(31, 119, 180),
    Colour::rgb(255, 127, 14),
    Colour::rgb(44, 160, 44),
    Colour::rgb(214, 39, 40),
    Colour::rgb(148, 103, 189),
    Colour::rgb(140, 86, 75),
    Colour::rgb(227, 119, 194),
    Colour::rgb(127, 127, 127),
    Colour::rgb(188, 189, 34),
    Colour::rgb(23, 190, 207),
    Colour::rgb(174, 199, 232),
    Colour::rgb(255, 187, 120),
    Colour::rgb(152, 223, 138),
    Colour::rgb(255, 152, 150),
    Colour::rgb(197, 176, 213),
    Colour::rgb(196, 156, 148),
    Colour::rgb(247, 182, 210),
    Colour::rgb(199, 199, 199),
    Colour::rgb(219, 219, 141),
    Colour::rgb(158, 218, 229),
];

/// The colour of group `g`.
pub fn colour_of(g: usize) -> Colour {
    PALETTE[g % PALETTE.len()]
}

/// What the map shows.
pub struct MapInput<'a> {
    /// positions is (N, 2): each image's place on the map.
    pub positions: &'a Matrix,
    /// Each image's cluster, below `clusters`, (N,).
    pub assignment: &'a [usize],
    pub clusters: usize,
    /// Each image's true class, (N,), when known: the right-hand panel.
    pub labels: Option<&'a [usize]>,
    /// The left panel's title, e.g. "n2d clusters".
    pub title: &'a str,
    /// Pictures drawn centred on their point: (row of `positions`, picture).
    pub thumbnails: &'a [(usize, Image)],
}

/// For each non-empty cluster, the member nearest the cluster's middle (the mean of its
/// members' positions), ties to the lower index: the points `thumbnails` should show.
/// Ordered by cluster.
pub fn thumbnail_points(positions: &Matrix, assignment: &[usize], clusters: usize) -> Vec<usize> {
    assert_eq!(positions.cols(), 2, "positions are (N, 2)");
    assert_eq!(positions.rows(), assignment.len(), "one cluster per point");
    // Sums in f64, so that the middle does not depend on the order of summation's rounding
    // more than it must.
    let mut sum = vec![(0.0f64, 0.0f64, 0usize); clusters];
    for (p, &c) in positions.iter_rows().zip(assignment) {
        sum[c].0 += p[0] as f64;
        sum[c].1 += p[1] as f64;
        sum[c].2 += 1;
    }
    let mut best: Vec<Option<(f64, usize)>> = vec![None; clusters];
    for (i, (p, &c)) in positions.iter_rows().zip(assignment).enumerate() {
        let (sx, sy, n) = sum[c];
        let (mx, my) = (sx / n as f64, sy / n as f64);
        let d = (p[0] as f64 - mx).powi(2) + (p[1] as f64 - my).powi(2);
        if best[c].is_none_or(|(bd, _)| d < bd) {
            best[c] = Some((d, i));
        }
    }
    best.into_iter().flatten().map(|(_, i)| i).collect()
}

/// The square of data coordinates every panel shows: the points' bounding box made square
/// around its centre and padded by 4 %. Returns (x0, y0, side).
fn square_window(positions: &Matrix) -> (f64, f64, f64) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in positions.iter_rows() {
        let (x, y) = (p[0] as f64, p[1] as f64);
        if x.is_finite() && y.is_finite() {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
    }
    if x0 > x1 {
        // No finite point: any window will do.
        return (0.0, 0.0, 1.0);
    }
    let side = (x1 - x0).max(y1 - y0).max(f64::MIN_POSITIVE) * 1.08;
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    (cx - side / 2.0, cy - side / 2.0, side)
}

/// Where data point (x, y) lands in a panel whose plot area starts at (left, top); None for
/// a non-finite point. y grows upwards on the map, downwards in the picture.
fn to_pixel(
    window: (f64, f64, f64),
    left: usize,
    top: usize,
    x: f32,
    y: f32,
) -> Option<(i64, i64)> {
    let (x0, y0, side) = window;
    if !(x.is_finite() && y.is_finite()) {
        return None;
    }
    let u = (x as f64 - x0) / side * (PANEL - 1) as f64;
    let v = (y as f64 - y0) / side * (PANEL - 1) as f64;
    Some((
        left as i64 + u.round() as i64,
        top as i64 + (PANEL - 1) as i64 - v.round() as i64,
    ))
}

/// The size of the picture for `panels` panels.
pub fn map_size(panels: usize) -> (usize, usize) {
    (
        panels * (MARGIN + PANEL + MARGIN + LEGEND_W),
        TITLE_H + PANEL + MARGIN,
    )
}

/// The top-left corner of panel `p`'s plot area.
pub fn panel_origin(p: usize) -> (usize, usize) {
    (p * (MARGIN + PANEL + MARGIN + LEGEND_W) + MARGIN, TITLE_H)
}

/// Draws the map: one panel coloured by cluster, and one by true class when labels exist.
pub fn render_map(input: &MapInput<'_>) -> Image {
    let n = input.positions.rows();
    assert_eq!(input.positions.cols(), 2, "positions are (N, 2)");
    assert_eq!(input.assignment.len(), n, "one cluster per point");
    if let Some(l) = input.labels {
        assert_eq!(l.len(), n, "one label per point");
    }
    let mut panels: Vec<(&str, &[usize], usize, &str)> =
        vec![(input.title, input.assignment, input.clusters, "cluster")];
    if let Some(labels) = input.labels {
        let classes = labels.iter().max().map_or(0, |&m| m + 1);
        panels.push(("true classes", labels, classes, "class"));
    }
    let (w, h) = map_size(panels.len());
    let mut img = Image::new(w, h, Channels::Rgb, Colour::WHITE);
    let window = square_window(input.positions);
    for (p, &(title, groups, count, noun)) in panels.iter().enumerate() {
        let (left, top) = panel_origin(p);
        font::draw_text(&mut img, left as i64, 8, title, INK, 2);
        img.border(
            left as i64 - 1,
            top as i64 - 1,
            PANEL + 2,
            PANEL + 2,
            1,
            FRAME,
        );
        // Points in index order: the same picture for the same input, every time.
        for (row, &g) in input.positions.iter_rows().zip(groups) {
            if let Some((x, y)) = to_pixel(window, left, top, row[0], row[1]) {
                let half = (DOT / 2) as i64;
                img.fill_rect(x - half, y - half, DOT, DOT, colour_of(g));
            }
        }
        for (i, thumb) in input.thumbnails {
            let p = input.positions.row(*i);
            if let Some((x, y)) = to_pixel(window, left, top, p[0], p[1]) {
                let (tx, ty) = (x - thumb.width as i64 / 2, y - thumb.height as i64 / 2);
                img.blit(thumb, tx, ty);
                img.border(
                    tx - 2,
                    ty - 2,
                    thumb.width + 4,
                    thumb.height + 4,
                    2,
                    colour_of(input.assignment[*i]),
                );
            }
        }
        legend(&mut img, left + PANEL + MARGIN, top, count, noun);
    }
    img
}

/// The legend of `count` groups: a swatch and the group's number per row.
fn legend(img: &mut Image, x: usize, y: usize, count: usize, noun: &str) {
    font::draw_text(img, x as i64, y as i64, noun, INK, 1);
    let row_h = 14;
    for g in 0..count.min(LEGEND_MAX) {
        let ry = (y + 14 + g * row_h) as i64;
        img.fill_rect(x as i64, ry, 10, 10, colour_of(g));
        font::draw_text(img, x as i64 + 14, ry + 1, &g.to_string(), INK, 1);
    }
    if count > LEGEND_MAX {
        let ry = (y + 14 + LEGEND_MAX * row_h) as i64;
        font::draw_text(
            img,
            x as i64,
            ry,
            &format!("+{} more", count - LEGEND_MAX),
            INK,
            1,
        );
    }
}

/// Draws the map and writes it as a PNG, atomically.
pub fn write_map(path: impl AsRef<Path>, input: &MapInput<'_>) -> Result<()> {
    save_png(path, &render_map(input))
}
