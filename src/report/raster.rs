//! A tiny raster image: 8-bit grey or RGB pixels, rectangles, lines, nearest-neighbour
//! scaling, grid layout, and PNG output (through `format::png`). Just what montages and
//! plots need; everything draws clipped, so nothing a caller draws off the edge can panic.

use std::path::Path;

use crate::{Error, Result};

/// How many bytes make a pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channels {
    /// One byte, luminance (MNIST digits, montages).
    Grey,
    /// Three bytes, red, green, blue (plots with coloured series).
    Rgb,
}

impl Channels {
    /// The channels of a dataset whose rows hold `count` values per pixel (1 or 3).
    pub fn from_count(count: usize) -> Option<Channels> {
        match count {
            1 => Some(Channels::Grey),
            3 => Some(Channels::Rgb),
            _ => None,
        }
    }

    pub fn count(self) -> usize {
        match self {
            Channels::Grey => 1,
            Channels::Rgb => 3,
        }
    }
}

/// An RGB colour; on a grey image it is drawn as its luminance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Colour {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Colour {
    pub const BLACK: Colour = Colour::grey(0);
    pub const WHITE: Colour = Colour::grey(255);

    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Colour { r, g, b }
    }

    pub const fn grey(v: u8) -> Self {
        Colour { r: v, g: v, b: v }
    }

    /// Rec. 601 luma, the usual weights for turning colour into grey.
    pub fn luma(self) -> u8 {
        ((299 * self.r as u32 + 587 * self.g as u32 + 114 * self.b as u32 + 500) / 1000) as u8
    }
}

/// A width x height picture, row-major, `channels` bytes per pixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub channels: Channels,
    /// pixels is (height, width, channels)
    pub pixels: Vec<u8>,
}

impl Image {
    pub fn new(width: usize, height: usize, channels: Channels, fill: Colour) -> Self {
        let mut img = Image {
            width,
            height,
            channels,
            pixels: vec![0; width * height * channels.count()],
        };
        img.fill_rect(0, 0, width, height, fill);
        img
    }

    /// A grey image from intensities in [0, 1] (an MNIST row): 0 is black, 1 is white;
    /// values outside [0, 1] are clamped, NaN is black.
    pub fn from_unit_floats(values: &[f32], width: usize, height: usize) -> Self {
        Image::from_unit_pixels(values, width, height, Channels::Grey)
    }

    /// An image from values in [0, 1] laid out as the pixels are, (height, width,
    /// channels): a dataset's row, grey or RGB interleaved. Each value becomes one byte as in
    /// [`Image::from_unit_floats`].
    pub fn from_unit_pixels(
        values: &[f32],
        width: usize,
        height: usize,
        channels: Channels,
    ) -> Self {
        assert_eq!(
            values.len(),
            width * height * channels.count(),
            "{} values for a {width}x{height} image of {} channel(s)",
            values.len(),
            channels.count()
        );
        Image {
            width,
            height,
            channels,
            pixels: values.iter().map(|&v| unit_to_byte(v)).collect(),
        }
    }

    fn offset(&self, x: usize, y: usize) -> usize {
        (y * self.width + x) * self.channels.count()
    }

    /// The colour at (x, y); panics outside the image.
    #[track_caller]
    pub fn get(&self, x: usize, y: usize) -> Colour {
        assert!(x < self.width && y < self.height, "({x}, {y}) outside");
        let o = self.offset(x, y);
        match self.channels {
            Channels::Grey => Colour::grey(self.pixels[o]),
            Channels::Rgb => Colour::rgb(self.pixels[o], self.pixels[o + 1], self.pixels[o + 2]),
        }
    }

    /// Sets (x, y) to `c`; does nothing outside the image.
    pub fn put(&mut self, x: i64, y: i64, c: Colour) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let o = self.offset(x as usize, y as usize);
        match self.channels {
            Channels::Grey => self.pixels[o] = c.luma(),
            Channels::Rgb => self.pixels[o..o + 3].copy_from_slice(&[c.r, c.g, c.b]),
        }
    }

    /// Fills the w x h rectangle whose top-left corner is (x, y), clipped to the image.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: usize, h: usize, c: Colour) {
        let x0 = x.max(0) as usize;
        let y0 = y.max(0) as usize;
        let x1 = (x + w as i64).clamp(0, self.width as i64) as usize;
        let y1 = (y + h as i64).clamp(0, self.height as i64) as usize;
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.put(xx as i64, yy as i64, c);
            }
        }
    }

    /// A frame `thickness` pixels wide just inside the w x h rectangle at (x, y).
    pub fn border(&mut self, x: i64, y: i64, w: usize, h: usize, thickness: usize, c: Colour) {
        let t = thickness.min(w).min(h);
        self.fill_rect(x, y, w, t, c);
        self.fill_rect(x, y + (h - t) as i64, w, t, c);
        self.fill_rect(x, y, t, h, c);
        self.fill_rect(x + (w - t) as i64, y, t, h, c);
    }

    /// A straight line from (x0, y0) to (x1, y1), both ends included (Bresenham's
    /// algorithm: integer steps, no gaps), `thickness` pixels wide.
    pub fn line(
        &mut self,
        (x0, y0): (i64, i64),
        (x1, y1): (i64, i64),
        thickness: usize,
        c: Colour,
    ) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let half = (thickness / 2) as i64;
        loop {
            self.fill_rect(x - half, y - half, thickness.max(1), thickness.max(1), c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Copies `src` with its top-left corner at (x, y), clipped; grey onto RGB is widened,
    /// RGB onto grey becomes luminance.
    pub fn blit(&mut self, src: &Image, x: i64, y: i64) {
        for sy in 0..src.height {
            for sx in 0..src.width {
                self.put(x + sx as i64, y + sy as i64, src.get(sx, sy));
            }
        }
    }

    /// Each pixel becomes a `factor` x `factor` block (nearest-neighbour: digits stay
    /// crisp instead of blurring).
    pub fn scaled(&self, factor: usize) -> Image {
        self.resized(self.width * factor, self.height * factor)
    }

    /// Nearest-neighbour resampling to `width` x `height`: target pixel (x, y) takes the
    /// source pixel whose cell contains the target pixel's centre.
    pub fn resized(&self, width: usize, height: usize) -> Image {
        let n = self.channels.count();
        let mut out = Image {
            width,
            height,
            channels: self.channels,
            pixels: vec![0; width * height * n],
        };
        if self.width == 0 || self.height == 0 {
            return out;
        }
        for y in 0..height {
            let sy = ((2 * y + 1) * self.height / (2 * height)).min(self.height - 1);
            for x in 0..width {
                let sx = ((2 * x + 1) * self.width / (2 * width)).min(self.width - 1);
                let (s, d) = (self.offset(sx, sy), out.offset(x, y));
                out.pixels[d..d + n].copy_from_slice(&self.pixels[s..s + n]);
            }
        }
        out
    }
}

/// [0, 1] to 0..=255, rounding to nearest, so k/255 maps back to exactly k.
pub fn unit_to_byte(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Cells of equal size in rows, left to right then top to bottom, separated by `gap`
/// pixels and surrounded by a `margin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridLayout {
    pub columns: usize,
    pub rows: usize,
    pub cell_w: usize,
    pub cell_h: usize,
    pub gap: usize,
    pub margin: usize,
}

impl GridLayout {
    /// The smallest grid of at most `max_columns` columns that holds `count` cells
    /// (at least one cell, so an empty grid still has a size).
    pub fn for_count(count: usize, max_columns: usize, cell_w: usize, cell_h: usize) -> Self {
        let columns = count.clamp(1, max_columns.max(1));
        GridLayout {
            columns,
            rows: count.max(1).div_ceil(columns),
            cell_w,
            cell_h,
            gap: 2,
            margin: 2,
        }
    }

    /// Total width and height.
    pub fn size(&self) -> (usize, usize) {
        (
            2 * self.margin + self.columns * self.cell_w + (self.columns - 1) * self.gap,
            2 * self.margin + self.rows * self.cell_h + (self.rows - 1) * self.gap,
        )
    }

    /// Top-left corner of cell `i`.
    pub fn origin(&self, i: usize) -> (usize, usize) {
        let (col, row) = (i % self.columns, i / self.columns);
        (
            self.margin + col * (self.cell_w + self.gap),
            self.margin + row * (self.cell_h + self.gap),
        )
    }
}

/// Lays `tiles` (all the layout's cell size) out on a new image of `background`.
pub fn grid(tiles: &[Image], layout: &GridLayout, channels: Channels, background: Colour) -> Image {
    let (w, h) = layout.size();
    let mut img = Image::new(w, h, channels, background);
    for (i, tile) in tiles.iter().enumerate() {
        let (x, y) = layout.origin(i);
        img.blit(tile, x as i64, y as i64);
    }
    img
}

/// Writes `img` as an 8-bit grey or RGB PNG, atomically.
pub fn save_png(path: impl AsRef<Path>, img: &Image) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode_png(img).map_err(|e| match e {
        Error::Invalid { problem, .. } => Error::invalid(path.display().to_string(), problem),
        other => other,
    })?;
    crate::io::write_atomic(path, &bytes)
}

/// `img` as the bytes of an 8-bit grey or RGB PNG file ([`crate::format::png`], its
/// settings for pictures).
pub fn encode_png(img: &Image) -> Result<Vec<u8>> {
    use crate::format::png::{Compression, encode};
    encode(
        &img.pixels,
        img.width,
        img.height,
        img.channels.count(),
        Compression::Default,
    )
    .map_err(|problem| Error::invalid("image", problem))
}

/// Reads an 8-bit grey or RGB PNG (as written by `save_png`); other kinds are an error.
pub fn load_png(path: impl AsRef<Path>) -> Result<Image> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder
        .read_info()
        .map_err(|e| Error::data(path, format!("not a readable PNG ({e})")))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| Error::data(path, "PNG too large"))?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| Error::data(path, format!("not a readable PNG ({e})")))?;
    let channels = match (info.color_type, info.bit_depth) {
        (png::ColorType::Grayscale, png::BitDepth::Eight) => Channels::Grey,
        (png::ColorType::Rgb, png::BitDepth::Eight) => Channels::Rgb,
        (c, d) => {
            return Err(Error::data(
                path,
                format!("{c:?} {d:?} PNG; expected 8-bit grey or RGB"),
            ));
        }
    };
    buf.truncate(info.buffer_size());
    Ok(Image {
        width: info.width as usize,
        height: info.height as usize,
        channels,
        pixels: buf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_repeats_pixels_in_blocks() {
        let img = Image::from_unit_floats(&[0.0, 1.0, 0.5, 0.2], 2, 2);
        let big = img.scaled(3);
        assert_eq!((big.width, big.height), (6, 6));
        for y in 0..6 {
            for x in 0..6 {
                assert_eq!(big.get(x, y), img.get(x / 3, y / 3));
            }
        }
        let back = big.resized(2, 2);
        assert_eq!(back, img);
    }

    #[test]
    fn unit_floats_round_trip_through_bytes() {
        for k in 0..=255u8 {
            assert_eq!(unit_to_byte(k as f32 / 255.0), k);
        }
        assert_eq!(unit_to_byte(-1.0), 0);
        assert_eq!(unit_to_byte(7.0), 255);
        assert_eq!(unit_to_byte(f32::NAN), 0);
    }

    #[test]
    fn drawing_is_clipped() {
        let mut img = Image::new(4, 3, Channels::Rgb, Colour::WHITE);
        img.fill_rect(-10, -10, 100, 1, Colour::BLACK);
        img.line((-5, -5), (10, 10), 3, Colour::rgb(255, 0, 0));
        img.border(2, 1, 10, 10, 2, Colour::BLACK);
        img.blit(&Image::new(9, 9, Channels::Grey, Colour::BLACK), 3, 2);
        assert_eq!(img.get(3, 2), Colour::BLACK);
    }

    #[test]
    fn lines_include_both_ends_and_have_no_gaps() {
        let mut img = Image::new(10, 10, Channels::Grey, Colour::WHITE);
        img.line((1, 8), (8, 2), 1, Colour::BLACK);
        assert_eq!(img.get(1, 8), Colour::BLACK);
        assert_eq!(img.get(8, 2), Colour::BLACK);
        for x in 1..=8 {
            assert!(
                (0..10).any(|y| img.get(x, y) == Colour::BLACK),
                "gap at x={x}"
            );
        }
    }

    #[test]
    fn grid_places_cells() {
        let layout = GridLayout::for_count(5, 3, 4, 2);
        assert_eq!((layout.columns, layout.rows), (3, 2));
        assert_eq!(layout.size(), (2 * 2 + 3 * 4 + 2 * 2, 2 * 2 + 2 * 2 + 2));
        assert_eq!(layout.origin(4), (2 + 6, 2 + 4));
        let tiles: Vec<Image> = (0..5)
            .map(|i| Image::new(4, 2, Channels::Grey, Colour::grey(i * 10)))
            .collect();
        let g = grid(&tiles, &layout, Channels::Grey, Colour::WHITE);
        assert_eq!(g.get(9, 7), Colour::grey(40));
        assert_eq!(g.get(0, 0), Colour::WHITE);
        let empty = GridLayout::for_count(0, 10, 4, 4);
        assert_eq!((empty.columns, empty.rows), (1, 1));
    }
}
