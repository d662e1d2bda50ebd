//! Cluster montages: what each cluster looks like, which is what a user wants to see first.
//!
//! For a clustering of N images this writes into one folder:
//!
//! - `cluster_KK.png` for each cluster K: a caption (size, and the majority label and its
//!   purity when labels are known) above a grid of up to 100 members, the most confident
//!   first (nearest to the centre for K-Means, highest soft assignment q for DEC);
//! - `overview.png`: one row per cluster, its number and size on the left, then its first
//!   20 members in the same order.
//!
//! Every tile is framed with a one-pixel border. What a tile shows depends on where the
//! images came from:
//!
//! - the matrix rows themselves (MNIST, IDX, the article's layout: no `originals`): each
//!   image enlarged `TILE_SCALE` times with nearest-neighbour scaling; grey images give
//!   grey PNGs, RGB rows RGB PNGs with the same layout, frames and captions;
//! - the original files (a folder of images: `originals`), decoded again in colour and
//!   brought to [`ORIGINAL_TILE`] square ([`super::tiles`]), whatever size and colour mode
//!   the network was given; a montage is RGB when any of its tiles is in colour, grey
//!   otherwise. A source that cannot be read again shows its network input instead and is
//!   listed in [`Montages::unreadable`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::font;
use super::raster::{Channels, Colour, GridLayout, Image, grid, save_png};
use super::tiles::{self, ORIGINAL_TILE, Originals, Unreadable, grey_if_neutral};
use crate::linalg::{Matrix, argmax};
use crate::{Error, Result};

/// Members shown in a cluster's montage, and columns of its grid.
pub const MONTAGE_MAX: usize = 100;
pub const MONTAGE_COLUMNS: usize = 10;
/// Members shown per cluster in the overview.
pub const OVERVIEW_MAX: usize = 20;
/// Each source pixel becomes a TILE_SCALE x TILE_SCALE block.
pub const TILE_SCALE: usize = 2;
/// Height of the caption strip above a montage's grid.
pub const CAPTION_H: usize = 14;
/// Width of the overview's left column (cluster number, size, majority label).
pub const OVERVIEW_LABEL_W: usize = 64;

const BACKGROUND: Colour = Colour::grey(235);
const FRAME: Colour = Colour::grey(130);
const INK: Colour = Colour::BLACK;

/// A clustering to draw.
pub struct ClusterPictures<'a> {
    /// images is (N, height * width * channels), values in [0, 1]; for RGB each pixel's
    /// red, green and blue are adjacent (interleaved), as `data::folder` loads them.
    pub images: &'a Matrix,
    pub height: usize,
    pub width: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// The cluster of each image, each below `clusters`.
    pub assignment: &'a [usize],
    /// How confidently each image belongs to its cluster; higher is more confident.
    pub confidence: &'a [f32],
    /// True labels, when known (the validation split), for majority label and purity.
    pub labels: Option<&'a [usize]>,
    pub clusters: usize,
    /// The source file of each image, (N,), when the pictures should show the originals
    /// (a folder of images); None draws the rows of `images` (MNIST, IDX, the article's
    /// layout), exactly as they are.
    pub originals: Option<&'a [PathBuf]>,
}

/// The most common true label in a cluster.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Majority {
    pub label: usize,
    /// Members carrying that label.
    pub count: usize,
    /// count / size.
    pub purity: f64,
}

/// What was drawn for one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterInfo {
    pub cluster: usize,
    pub size: usize,
    /// `None` when labels are unknown or the cluster is empty.
    pub majority: Option<Majority>,
    pub montage: PathBuf,
    /// Indices (rows of `images`) of the montage's tiles, in grid order.
    pub shown: Vec<usize>,
}

/// The files written and the per-cluster facts.
#[derive(Clone, Debug, PartialEq)]
pub struct Montages {
    pub overview: PathBuf,
    pub clusters: Vec<ClusterInfo>,
    /// The shown images whose original could not be read again (their network input was
    /// drawn instead), in row order; always empty without `originals`.
    pub unreadable: Vec<Unreadable>,
}

impl Montages {
    /// Every file written: the overview first, then the clusters' montages.
    pub fn files(&self) -> Vec<PathBuf> {
        std::iter::once(self.overview.clone())
            .chain(self.clusters.iter().map(|c| c.montage.clone()))
            .collect()
    }
}

/// The members of each cluster, most confident first (ties: lower index first; NaN
/// confidence counts as least confident).
pub fn members_by_confidence(
    assignment: &[usize],
    confidence: &[f32],
    clusters: usize,
) -> Vec<Vec<usize>> {
    assert_eq!(assignment.len(), confidence.len());
    let mut members = vec![Vec::new(); clusters];
    for (i, &k) in assignment.iter().enumerate() {
        assert!(
            k < clusters,
            "image {i} assigned to cluster {k} of {clusters}"
        );
        members[k].push(i);
    }
    let key = |i: usize| {
        let c = confidence[i];
        if c.is_nan() { f32::NEG_INFINITY } else { c }
    };
    for m in &mut members {
        // Stable sort: equal confidences keep index order.
        m.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
    }
    members
}

/// The most frequent label among `members` (ties: the smaller label).
pub fn majority(members: &[usize], labels: &[usize]) -> Option<Majority> {
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for &i in members {
        *counts.entry(labels[i]).or_default() += 1;
    }
    // In label order, so argmax's first of equal counts is the smaller label.
    let counts: Vec<(usize, usize)> = counts.into_iter().collect();
    let (i, count) = argmax(counts.iter().map(|&(_, c)| c))?;
    let label = counts[i].0;
    Some(Majority {
        label,
        count,
        purity: count as f64 / members.len() as f64,
    })
}

/// A cluster's one-line caption, e.g. `cluster 3: 1234 images, mostly 7 (95.1%)`.
pub fn caption(info: &ClusterInfo) -> String {
    let mut s = format!(
        "cluster {}: {} image{}",
        info.cluster,
        info.size,
        if info.size == 1 { "" } else { "s" }
    );
    if let Some(m) = info.majority {
        s.push_str(&format!(", mostly {} ({:.1}%)", m.label, 100.0 * m.purity));
    }
    s
}

/// Size of one framed cell around a `tile` (width, height) in the montage or overview
/// grids.
fn cell_size((tile_w, tile_h): (usize, usize)) -> (usize, usize) {
    (tile_w + 2, tile_h + 2)
}

/// The drawn size (width, height) of a height x width matrix image: `TILE_SCALE` times.
fn scaled_size(height: usize, width: usize) -> (usize, usize) {
    (width * TILE_SCALE, height * TILE_SCALE)
}

/// Top-left pixel of the image itself (inside its frame) of tile `index` in a montage of
/// height x width matrix images.
pub fn montage_tile_origin(index: usize, height: usize, width: usize) -> (usize, usize) {
    montage_tile_at(index, scaled_size(height, width))
}

/// Top-left pixel of the image itself of tile `index` in a montage of tiles of `tile`
/// (width, height) pixels ([`ClusterPictures::tile_size`]).
pub fn montage_tile_at(index: usize, tile: (usize, usize)) -> (usize, usize) {
    let (cw, ch) = cell_size(tile);
    let layout = GridLayout::for_count(MONTAGE_MAX, MONTAGE_COLUMNS, cw, ch);
    let (x, y) = layout.origin(index);
    (x + 1, CAPTION_H + y + 1)
}

/// Top-left pixel of the image itself of member `index` in cluster `row` of the overview
/// of height x width matrix images.
pub fn overview_tile_origin(
    row: usize,
    index: usize,
    height: usize,
    width: usize,
) -> (usize, usize) {
    overview_tile_at(row, index, scaled_size(height, width))
}

/// Top-left pixel of the image itself of member `index` in cluster `row` of the overview
/// of tiles of `tile` (width, height) pixels.
pub fn overview_tile_at(row: usize, index: usize, tile: (usize, usize)) -> (usize, usize) {
    let (cw, ch) = cell_size(tile);
    let gap = 2;
    (
        OVERVIEW_LABEL_W + index * (cw + gap) + 1,
        gap + row * (ch + gap) + 1,
    )
}

impl ClusterPictures<'_> {
    /// The pictures' pixel format; panics unless `channels` is 1 or 3.
    #[track_caller]
    pub fn pixel_channels(&self) -> Channels {
        Channels::from_count(self.channels).unwrap_or_else(|| {
            panic!(
                "{} channels; montages draw 1 (grey) or 3 (RGB)",
                self.channels
            )
        })
    }

    /// Image `i`'s network input (row i of `images`) at its own size, grey or RGB.
    pub fn image(&self, i: usize) -> Image {
        Image::from_unit_pixels(
            self.images.row(i),
            self.width,
            self.height,
            self.pixel_channels(),
        )
    }

    /// The size (width, height) of a tile inside its frame: [`ORIGINAL_TILE`] square for
    /// originals, else the image enlarged `TILE_SCALE` times.
    pub fn tile_size(&self) -> (usize, usize) {
        match self.originals {
            Some(_) => (ORIGINAL_TILE, ORIGINAL_TILE),
            None => scaled_size(self.height, self.width),
        }
    }

    /// The pixel format the pictures are drawn in: the rows' for matrix images; RGB for
    /// originals (turned grey afterwards when nothing in colour was drawn).
    fn canvas_channels(&self) -> Channels {
        match self.originals {
            Some(_) => Channels::Rgb,
            None => self.pixel_channels(),
        }
    }

    /// Each image of `rows` drawn at [`Self::tile_size`], in the order of `rows`: the
    /// matrix image enlarged, or the original decoded again (in parallel; the result does
    /// not depend on the threads). An unreadable original is pushed onto `unreadable` and
    /// its network input drawn instead.
    pub fn tiles(&self, rows: &[usize], unreadable: &mut Vec<Unreadable>) -> Vec<Image> {
        let Some(paths) = self.originals else {
            return rows
                .iter()
                .map(|&i| self.image(i).scaled(TILE_SCALE))
                .collect();
        };
        let decoded: Vec<Result<Image>> = rows
            .par_iter()
            .map_init(Originals::new, |originals, &i| {
                originals.picture(&paths[i], tiles::tile_size)
            })
            .collect();
        let mut stand_in = Originals::new();
        rows.iter()
            .zip(decoded)
            .map(|(&i, result)| match result {
                Ok(img) => img,
                Err(e) => {
                    unreadable.push(Unreadable {
                        row: i,
                        error: e.to_string(),
                    });
                    stand_in.input(
                        self.images.row(i),
                        (self.width, self.height),
                        self.pixel_channels(),
                        self.tile_size(),
                    )
                }
            })
            .collect()
    }
}

/// A tile framed, ready for a grid cell.
fn framed(tile: &Image, channels: Channels) -> Image {
    let (cw, ch) = cell_size((tile.width, tile.height));
    let mut cell = Image::new(cw, ch, channels, FRAME);
    cell.blit(tile, 1, 1);
    cell
}

/// The picture as it is saved: originals drawn in RGB become grey when nothing in them
/// is in colour; matrix images keep their rows' format.
fn finished(input: &ClusterPictures, img: Image) -> Image {
    match input.originals {
        Some(_) => grey_if_neutral(img),
        None => img,
    }
}

/// Writes `cluster_KK.png` per cluster and `overview.png` into `dir` (created if needed).
pub fn write_montages(dir: impl AsRef<Path>, input: &ClusterPictures) -> Result<Montages> {
    let dir = dir.as_ref();
    let n = input.images.rows();
    input.pixel_channels(); // 1 or 3, checked before anything is drawn
    let channels = input.canvas_channels();
    assert_eq!(
        input.images.cols(),
        input.height * input.width * input.channels,
        "images are not {}x{}x{}",
        input.height,
        input.width,
        input.channels
    );
    assert_eq!(input.assignment.len(), n, "one cluster per image");
    assert_eq!(input.confidence.len(), n, "one confidence per image");
    if let Some(labels) = input.labels {
        assert_eq!(labels.len(), n, "one label per image");
    }
    if let Some(paths) = input.originals {
        assert_eq!(paths.len(), n, "one source file per image");
    }
    if input.clusters == 0 || input.height == 0 || input.width == 0 {
        return Err(Error::invalid(
            "montage",
            "needs at least one cluster and non-empty images",
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;

    let members = members_by_confidence(input.assignment, input.confidence, input.clusters);
    let digits = (input.clusters - 1).to_string().len().max(2);
    let tile_size = input.tile_size();
    let (cw, ch) = cell_size(tile_size);
    let mut infos = Vec::with_capacity(input.clusters);
    let mut unreadable = Vec::new();

    // The overview is drawn along with the montages, from the same tiles (its members
    // are each montage's first ones), so no image is decoded twice.
    let gap = 2;
    let width = OVERVIEW_LABEL_W + OVERVIEW_MAX * (cw + gap);
    let height = gap + input.clusters * (ch + gap);
    let mut overview = Image::new(width, height, channels, BACKGROUND);

    for (k, m) in members.iter().enumerate() {
        let shown: Vec<usize> = m.iter().copied().take(MONTAGE_MAX).collect();
        let info = ClusterInfo {
            cluster: k,
            size: m.len(),
            majority: input.labels.and_then(|l| majority(m, l)),
            montage: dir.join(format!("cluster_{k:0digits$}.png")),
            shown,
        };
        let tiles: Vec<Image> = input
            .tiles(&info.shown, &mut unreadable)
            .iter()
            .map(|t| framed(t, channels))
            .collect();
        // The grid always has MONTAGE_COLUMNS columns (unless the cluster is smaller), so
        // tile positions do not depend on the cluster's size.
        let layout = GridLayout::for_count(tiles.len(), MONTAGE_COLUMNS, cw, ch);
        let body = grid(&tiles, &layout, channels, BACKGROUND);
        let text = caption(&info);
        let width = body.width.max(font::text_width(&text, 1) + 4);
        let mut img = Image::new(width, CAPTION_H + body.height, channels, BACKGROUND);
        font::draw_text(&mut img, 2, 4, &text, INK, 1);
        img.blit(&body, 0, CAPTION_H as i64);
        save_png(&info.montage, &finished(input, img))?;

        let row = k;
        let y = (gap + row * (ch + gap)) as i64;
        font::draw_text(&mut overview, 4, y + 2, &info.cluster.to_string(), INK, 2);
        font::draw_text(
            &mut overview,
            4,
            y + 20,
            &format!("n={}", info.size),
            INK,
            1,
        );
        if let Some(m) = info.majority {
            let text = format!("{} ({:.0}%)", m.label, 100.0 * m.purity);
            font::draw_text(&mut overview, 4, y + 30, &text, INK, 1);
        }
        for (j, cell) in tiles.iter().take(OVERVIEW_MAX).enumerate() {
            let (x, ty) = overview_tile_at(row, j, tile_size);
            overview.blit(cell, x as i64 - 1, ty as i64 - 1);
        }
        infos.push(info);
    }
    let overview_path = dir.join("overview.png");
    save_png(&overview_path, &finished(input, overview))?;
    unreadable.sort_by_key(|u| u.row);
    Ok(Montages {
        overview: overview_path,
        clusters: infos,
        unreadable,
    })
}
