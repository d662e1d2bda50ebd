//! A baseline JPEG decoder (ITU-T T.81), written from scratch, with decoding at 1/2, 1/4
//! and 1/8 scale in the DCT domain.
//!
//! The design card allows no image crate but `png`, and a photo folder is JPEG, so the crate
//! decodes JPEG itself, as it inflates gzip. A photo becomes a 28x28 or 32x32 input, so
//! most of its detail is thrown away: decoding it at 1/8 scale, where each 8x8 block becomes
//! one pixel (its DC coefficient), costs a fraction of a full decode, as libjpeg's
//! `scale_denom` does.
//!
//! Supported: the sequential DCT processes with Huffman coding and 8-bit samples, baseline
//! (SOF0) and extended (SOF1, up to 4 tables of each kind); greyscale, YCbCr (JFIF) and RGB
//! (Adobe transform 0, or component ids R G B); any sampling factors 1..=4 (4:4:4, 4:2:2,
//! 4:2:0, 4:1:1, 4:4:0, factors of 3, ...); restart intervals; interleaved and
//! non-interleaved scans; the EXIF orientation tag. Refused, each with one line naming the
//! feature: progressive, lossless, hierarchical and arithmetic-coded files, 12- and 16-bit
//! samples, 4-component (CMYK / YCCK) images, and a height given by a DNL marker.
//!
//! One file per idea: [`markers`] (segments and tables), [`huffman`] (the bit reader and
//! block decoding), [`idct`] (the full and reduced inverse DCTs), [`colour`] (upsampling and
//! YCbCr to RGB), [`orient`] (EXIF orientation). This file holds the API and the decoding
//! loop, which runs MCU row by MCU row: each block is inverse-transformed as soon as it is
//! decoded, straight into its component's plane at the decoded scale, so no coefficients
//! are kept and the memory is the planes (at most 3 bytes per output pixel, 1.5 for 4:2:0)
//! plus the output image.
//!
//! Pixels match libjpeg-turbo's (the default `islow` IDCT and "fancy" upsampling, which is
//! what Pillow uses) to within 2 levels on every pixel and less than 0.5 on average, at every
//! scale; see tests/jpeg.rs. Where libjpeg tolerates damage with a warning this decoder
//! mostly does too (bytes before a marker, a missing EOI, a wrong Ss/Se in a sequential
//! scan); data that cannot be decoded (a bad Huffman code, a missing restart marker, a
//! file cut short) is an error, where libjpeg would fill the rest of the image with grey.
//! Decoding stops as soon as every component the output needs has been decoded, so what
//! follows (EOI, trailing bytes) is not read.

pub mod colour;
pub mod huffman;
pub mod idct;
pub mod markers;
pub mod orient;

use std::fmt;

use colour::{Plane, Upsample};
use huffman::{BitReader, Needed};
use markers::{ColourSpace, Frame, Header, ScanComponent, Tables};

pub use markers::MAX_PIXELS;

/// What is wrong with a JPEG file. The caller adds the file's name
/// (`crate::Error::data(path, e.to_string())`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JpegError {
    /// The file does not start with the SOI marker.
    NotJpeg,
    /// The data ends before the image does.
    Truncated,
    /// A field holds an impossible value, or the entropy-coded data does not decode.
    Corrupt(String),
    /// A valid JPEG that uses a feature this decoder refuses (named here).
    Unsupported(String),
    /// The frame claims more than MAX_PIXELS pixels.
    TooLarge { width: usize, height: usize },
}

impl JpegError {
    pub fn corrupt(what: impl Into<String>) -> Self {
        JpegError::Corrupt(what.into())
    }

    pub fn unsupported(feature: impl Into<String>) -> Self {
        JpegError::Unsupported(feature.into())
    }
}

impl fmt::Display for JpegError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JpegError::NotJpeg => write!(f, "not a JPEG file (no SOI marker)"),
            JpegError::Truncated => write!(f, "JPEG data ends early (truncated file?)"),
            JpegError::Corrupt(what) => write!(f, "corrupt JPEG data: {what}"),
            JpegError::Unsupported(feature) => write!(
                f,
                "unsupported JPEG feature: {feature} (only baseline and extended sequential \
                 Huffman-coded 8-bit JPEG, grey or 3-component, is decoded)"
            ),
            JpegError::TooLarge { width, height } => write!(
                f,
                "the JPEG is {width}x{height}, more than the {MAX_PIXELS} pixels allowed"
            ),
        }
    }
}

impl std::error::Error for JpegError {}

type Result<T> = std::result::Result<T, JpegError>;

/// The scale to decode at: the output is ceil(width / d) x ceil(height / d), d the
/// denominator, as libjpeg's `scale_denom` gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scale {
    #[default]
    Full,
    Half,
    Quarter,
    /// One pixel per 8x8 block: the DC coefficients alone.
    Eighth,
}

impl Scale {
    pub const ALL: [Scale; 4] = [Scale::Full, Scale::Half, Scale::Quarter, Scale::Eighth];

    pub fn denominator(self) -> usize {
        match self {
            Scale::Full => 1,
            Scale::Half => 2,
            Scale::Quarter => 4,
            Scale::Eighth => 8,
        }
    }

    /// The smallest scale whose output is still at least `target` (width, height) in both
    /// directions, by Pillow's `draft()` rule: the largest d in 8, 4, 2, 1 with
    /// width / d >= target width and height / d >= target height (integer division).
    /// Sizes are the stored ones (before any EXIF turn).
    pub fn at_least(width: usize, height: usize, target: (usize, usize)) -> Scale {
        let (tw, th) = (target.0.max(1), target.1.max(1));
        let room = (width / tw).min(height / th);
        Scale::ALL
            .into_iter()
            .rev()
            .find(|s| s.denominator() <= room)
            .unwrap_or(Scale::Full)
    }
}

/// The channels of the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Channels {
    /// One byte per pixel: Y for YCbCr, luma for RGB.
    #[default]
    Grey,
    /// R, G, B bytes per pixel.
    Rgb,
}

impl Channels {
    pub fn count(self) -> usize {
        match self {
            Channels::Grey => 1,
            Channels::Rgb => 3,
        }
    }
}

/// Whether the EXIF orientation tag turns the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Orientation {
    /// Turn the image upright, as a viewer shows it.
    #[default]
    Apply,
    /// The pixels as stored.
    Ignore,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Options {
    pub scale: Scale,
    pub channels: Channels,
    pub orientation: Orientation,
}

/// What the header says, read without decoding the image ([`read_info`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// As stored (before the EXIF turn).
    pub width: usize,
    pub height: usize,
    /// 1 or 3.
    pub components: usize,
    pub colour: ColourSpace,
    /// The EXIF orientation tag, 1..=8 (1 when there is none).
    pub orientation: u8,
}

impl Info {
    /// The output's (width, height) at `scale`, after the EXIF turn when `orientation`
    /// applies it.
    pub fn output_size(&self, scale: Scale, orientation: Orientation) -> (usize, usize) {
        let d = scale.denominator();
        let (w, h) = (self.width.div_ceil(d), self.height.div_ceil(d));
        if orientation == Orientation::Apply && self.orientation >= 5 {
            (h, w)
        } else {
            (w, h)
        }
    }
}

/// A decoded image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub channels: Channels,
    /// (height, width, channels), row-major.
    pub pixels: Vec<u8>,
}

/// Reads the header (up to the first scan) and reports the image's size, components and
/// orientation; the same checks as [`decode`] up to that point.
pub fn read_info(bytes: &[u8]) -> Result<Info> {
    let header = markers::read_header(bytes)?;
    Ok(Info {
        width: header.frame.width,
        height: header.frame.height,
        components: header.frame.components.len(),
        colour: header.colour,
        orientation: header.orientation,
    })
}

/// Decodes a whole JPEG file.
pub fn decode(bytes: &[u8], options: &Options) -> Result<Image> {
    let header = markers::read_header(bytes)?;
    let (width, height, pixels) = decode_frame(bytes, header, options)?;
    Ok(Image {
        width,
        height,
        channels: options.channels,
        pixels,
    })
}

/// The state of one component while the scans are decoded.
struct ComponentState {
    /// The side of its blocks at the decoded scale: 8, 4, 2 or 1.
    block: usize,
    /// None when the output does not use the component: its blocks are only decoded.
    plane: Option<Plane>,
    /// Latched when the component's scan starts (B.2.4.1).
    quant: [u16; 64],
    /// The DC predictor (F.2.1.3.1).
    pred: i32,
    decoded: bool,
}

fn decode_frame(
    bytes: &[u8],
    header: Header,
    options: &Options,
) -> Result<(usize, usize, Vec<u8>)> {
    let Header {
        frame,
        mut tables,
        colour,
        orientation,
        first_scan,
    } = header;
    let n = frame.components.len();
    let min_block = 8 / options.scale.denominator();

    // The components the output reads: Y alone makes grey from YCbCr, as in libjpeg.
    let used = |c: usize| match (colour, options.channels) {
        (ColourSpace::YCbCr, Channels::Grey) => c == 0,
        _ => true,
    };
    let mut comps: Vec<ComponentState> = (0..n)
        .map(|c| ComponentState {
            block: block_size(&frame, c, min_block),
            plane: None,
            quant: [0; 64],
            pred: 0,
            decoded: !used(c),
        })
        .collect();

    let bases = idct::Bases::new();
    let mut pos = first_scan;
    let mut segment = markers::segment(bytes, &mut pos)?;
    loop {
        // An SOS segment: decode its scan.
        let scan = markers::parse_sos(segment, &frame, &tables)?;
        for s in &scan {
            let c = &mut comps[s.index];
            if c.plane.is_some() {
                return Err(JpegError::corrupt("a component is in two scans"));
            }
            c.quant = tables.quant[frame.components[s.index].tq].unwrap_or([0; 64]);
            c.pred = 0;
        }
        check_data_size(&frame, &scan, bytes.len() - pos)?;
        for s in &scan {
            if used(s.index) {
                comps[s.index].plane = Some(new_plane(&frame, s.index, comps[s.index].block));
            }
            comps[s.index].decoded = true;
        }
        pos = decode_scan(bytes, pos, &frame, &tables, &scan, &mut comps, &bases)?;
        if comps.iter().all(|c| c.decoded) {
            break;
        }

        // Markers up to the next scan: tables may change between scans (B.2.4).
        loop {
            let marker = huffman::next_marker_byte(bytes, &mut pos).ok_or(JpegError::Truncated)?;
            match marker {
                0xd9 => return Err(JpegError::corrupt("EOI before every component's scan")),
                0xd0..=0xd7 | 0x01 => continue,
                _ => {}
            }
            segment = markers::segment(bytes, &mut pos)?;
            match marker {
                0xda => break,
                0xc4 | 0xdb | 0xdd => markers::table_segment(marker, segment, &mut tables)?,
                0xc0..=0xcf | 0xdc | 0xde | 0xdf => {
                    return Err(JpegError::corrupt(format!(
                        "marker 0xFF{marker:02X} between scans"
                    )));
                }
                _ => {} // APPn, COM
            }
        }
    }

    let blocks: Vec<usize> = comps.iter().map(|c| c.block).collect();
    let planes: Vec<Option<Plane>> = comps.into_iter().map(|c| c.plane).collect();
    let d = options.scale.denominator();
    let (out_w, out_h) = (frame.width.div_ceil(d), frame.height.div_ceil(d));
    let pixels = to_output(
        &frame,
        &planes,
        &blocks,
        colour,
        options.channels,
        out_w,
        out_h,
    );
    Ok(match options.orientation {
        Orientation::Apply => {
            orient::apply(orientation, out_w, out_h, options.channels.count(), pixels)
        }
        Orientation::Ignore => (out_w, out_h, pixels),
    })
}

/// The block size component `c` is decoded at, as libjpeg chooses (`jdmaster.c`): the
/// smallest, `min_block`, doubled while the component is subsampled by at least 2 more in
/// both directions, so that a subsampled chroma plane comes out of a larger IDCT instead of
/// being upsampled (4:2:0 at 1/2 scale: Y in 4x4 blocks, Cb and Cr in 8x8).
fn block_size(frame: &Frame, c: usize, min_block: usize) -> usize {
    let comp = &frame.components[c];
    let mut block = min_block;
    while block < 8
        && (frame.max_h * min_block).is_multiple_of(comp.h * block * 2)
        && (frame.max_v * min_block).is_multiple_of(comp.v * block * 2)
    {
        block *= 2;
    }
    block
}

/// An empty plane for component `c` at block size `block`: MCU-padded, with its real size
/// (libjpeg's downsampled_width and _height) ceil(W h block / (8 Hmax)) etc.
fn new_plane(frame: &Frame, c: usize, block: usize) -> Plane {
    let comp = &frame.components[c];
    let (mcus_x, mcus_y) = frame.mcus();
    let stride = mcus_x * comp.h * block;
    let rows = mcus_y * comp.v * block;
    Plane {
        data: vec![0; stride * rows],
        stride,
        width: (frame.width * comp.h * block).div_ceil(8 * frame.max_h),
        height: (frame.height * comp.v * block).div_ceil(8 * frame.max_v),
    }
}

/// Blocks across and down a scan of component `c` alone (A.2.2): only the blocks that hold
/// image samples, not the MCU padding.
fn blocks_alone(frame: &Frame, c: usize) -> (usize, usize) {
    let comp = &frame.components[c];
    (
        (frame.width * comp.h).div_ceil(8 * frame.max_h),
        (frame.height * comp.v).div_ceil(8 * frame.max_v),
    )
}

/// Every block costs at least 2 bits (a DC code and an AC code, each 1 bit or more), so a
/// scan of more blocks than 4 per remaining byte cannot be there: refused before its planes
/// are allocated, so that a small file cannot claim a large image's memory.
fn check_data_size(frame: &Frame, scan: &[ScanComponent], remaining: usize) -> Result<()> {
    let blocks = if scan.len() == 1 {
        let (bx, by) = blocks_alone(frame, scan[0].index);
        bx * by
    } else {
        let (mx, my) = frame.mcus();
        let per_mcu: usize = scan
            .iter()
            .map(|s| frame.components[s.index].h * frame.components[s.index].v)
            .sum();
        mx * my * per_mcu
    };
    if blocks > 4 * remaining {
        return Err(JpegError::Truncated);
    }
    Ok(())
}

/// Decodes the entropy-coded data of one scan starting at `bytes[start]`, MCU by MCU, each
/// block inverse-transformed into its plane. Returns the position of the marker after it.
fn decode_scan(
    bytes: &[u8],
    start: usize,
    frame: &Frame,
    tables: &Tables,
    scan: &[ScanComponent],
    comps: &mut [ComponentState],
    bases: &idct::Bases,
) -> Result<usize> {
    let missing = || JpegError::corrupt("a scan uses an undefined table");
    let mut huff = Vec::with_capacity(scan.len());
    for s in scan {
        let dc = tables.dc[s.dc].as_deref().ok_or_else(missing)?;
        let ac = tables.ac[s.ac].as_deref().ok_or_else(missing)?;
        huff.push((dc, ac));
    }
    // An interleaved scan's MCU holds h x v blocks of each component (A.2.3); a scan of one
    // component has one block per MCU (A.2.2).
    let interleaved = scan.len() > 1;
    let (mcus_x, mcus_y) = if interleaved {
        frame.mcus()
    } else {
        blocks_alone(frame, scan[0].index)
    };
    let mut bits = BitReader::new(bytes, start);
    let interval = tables.restart_interval;
    let mut next_restart = 0u8;
    let mut coef = [0i32; 64];
    for my in 0..mcus_y {
        for mx in 0..mcus_x {
            let mcu = my * mcus_x + mx;
            if interval > 0 && mcu > 0 && mcu % interval == 0 {
                bits.restart(next_restart)?;
                next_restart = (next_restart + 1) % 8;
                for s in scan {
                    comps[s.index].pred = 0;
                }
            }
            for (s, &(dc, ac)) in scan.iter().zip(&huff) {
                let comp = &frame.components[s.index];
                let (bw, bh) = if interleaved {
                    (comp.h, comp.v)
                } else {
                    (1, 1)
                };
                let state = &mut comps[s.index];
                let needed = match &state.plane {
                    Some(_) if state.block > 1 => Needed::All,
                    _ => Needed::DcOnly,
                };
                for by in 0..bh {
                    for bx in 0..bw {
                        if needed == Needed::All {
                            coef.fill(0); // a DC-only block reads coef[0] alone
                        }
                        let end = huffman::decode_block(
                            &mut bits,
                            dc,
                            ac,
                            &mut state.pred,
                            &mut coef,
                            needed,
                        )?;
                        if let Some(plane) = &mut state.plane {
                            let n = state.block;
                            let (x, y) = ((mx * bw + bx) * n, (my * bh + by) * n);
                            let at = y * plane.stride + x;
                            idct::idct(
                                bases,
                                n,
                                &coef,
                                &state.quant,
                                end,
                                &mut plane.data[at..],
                                plane.stride,
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(bits.end_of_scan())
}

/// Upsamples the planes and converts their colour into the (out_h, out_w, channels) output.
fn to_output(
    frame: &Frame,
    planes: &[Option<Plane>],
    blocks: &[usize],
    colour: ColourSpace,
    channels: Channels,
    out_w: usize,
    out_h: usize,
) -> Vec<u8> {
    let min_block = blocks.iter().copied().min().unwrap_or(8);
    let fancy = min_block > 1; // libjpeg has no triangle filter for 1x1 blocks
    let methods: Vec<Upsample> = planes
        .iter()
        .zip(&frame.components)
        .zip(blocks)
        .map(|((p, comp), &block)| match p {
            Some(p) => colour::choose(
                comp.h * block / min_block,
                comp.v * block / min_block,
                frame.max_h,
                frame.max_v,
                fancy,
                p.width,
            ),
            None => Upsample::None,
        })
        .collect();
    let mut out = vec![0u8; out_w * out_h * channels.count()];
    // One upsampled row per used component: rows is (components, out_w).
    let mut rows = vec![0u8; 3 * out_w];
    for y in 0..out_h {
        for (c, (plane, &method)) in planes.iter().zip(&methods).enumerate() {
            if let Some(plane) = plane {
                colour::upsample_row(plane, method, y, &mut rows[c * out_w..(c + 1) * out_w]);
            }
        }
        let line = &mut out[y * out_w * channels.count()..(y + 1) * out_w * channels.count()];
        let (c0, rest) = rows.split_at(out_w);
        let (c1, c2) = rest.split_at(out_w);
        match (colour, channels) {
            (ColourSpace::Grey | ColourSpace::YCbCr, Channels::Grey) => line.copy_from_slice(c0),
            (ColourSpace::Grey, Channels::Rgb) => {
                for (px, &g) in line.chunks_exact_mut(3).zip(c0.iter()) {
                    px.fill(g);
                }
            }
            (ColourSpace::YCbCr, Channels::Rgb) => {
                for (x, px) in line.chunks_exact_mut(3).enumerate() {
                    px.copy_from_slice(&colour::ycc_to_rgb(c0[x], c1[x], c2[x]));
                }
            }
            (ColourSpace::Rgb, Channels::Rgb) => {
                for (x, px) in line.chunks_exact_mut(3).enumerate() {
                    px.copy_from_slice(&[c0[x], c1[x], c2[x]]);
                }
            }
            (ColourSpace::Rgb, Channels::Grey) => {
                for (x, g) in line.iter_mut().enumerate() {
                    *g = crate::data::png_grey::luma(c0[x], c1[x], c2[x]);
                }
            }
        }
    }
    out
}
