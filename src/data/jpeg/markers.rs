//! The marker segments of a JPEG file (ITU-T T.81 Annex B), the JFIF (APP0), EXIF (APP1)
//! and Adobe (APP14) application markers, and the tables they define.
//!
//! A file is SOI, then segments each introduced by a marker 0xFF xx and (all but a few)
//! a 16-bit big-endian length, then one or more scans of entropy-coded data, then EOI. Only
//! the sequential DCT processes with Huffman coding and 8-bit samples are decoded: baseline
//! (SOF0) and extended (SOF1). Every other start-of-frame marker is refused with the name of
//! its feature, as are 4-component (CMYK / YCCK) frames. Every field is checked before it is
//! used, and the image's claimed size before anything is allocated for it.

use super::JpegError;
use super::huffman::{HuffTable, NATURAL, next_marker_byte};

type Result<T> = std::result::Result<T, JpegError>;

/// Frames larger than this many pixels (about 67 megapixels: 8192 x 8192) are refused.
pub const MAX_PIXELS: usize = 1 << 26;

/// One component of the frame (B.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub id: u8,
    /// Sampling factors, 1..=4.
    pub h: usize,
    pub v: usize,
    /// Quantization table selector, 0..=3.
    pub tq: usize,
}

/// The start-of-frame header: the image's size and components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub components: Vec<Component>,
    pub max_h: usize,
    pub max_v: usize,
}

impl Frame {
    /// MCUs across and down an interleaved scan (A.2.3): each covers (8 Hmax, 8 Vmax) pixels.
    pub fn mcus(&self) -> (usize, usize) {
        (
            self.width.div_ceil(8 * self.max_h),
            self.height.div_ceil(8 * self.max_v),
        )
    }
}

/// How the components code colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColourSpace {
    Grey,
    YCbCr,
    /// Three components stored as R, G, B without a colour transform.
    Rgb,
}

/// One component of a scan (B.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanComponent {
    /// Index into `Frame::components`.
    pub index: usize,
    /// DC and AC Huffman table selectors, 0..=3.
    pub dc: usize,
    pub ac: usize,
}

/// The tables in force: they may be redefined between scans (B.2.4).
pub struct Tables {
    /// Quantization tables, natural order.
    pub quant: [Option<[u16; 64]>; 4],
    pub dc: [Option<Box<HuffTable>>; 4],
    pub ac: [Option<Box<HuffTable>>; 4],
    /// MCUs per restart interval; 0 for none.
    pub restart_interval: usize,
}

/// What is known of a file once its header has been read, up to its first scan.
pub struct Header {
    pub frame: Frame,
    pub tables: Tables,
    pub colour: ColourSpace,
    /// The EXIF orientation tag, 1..=8 (1 when absent or out of range).
    pub orientation: u8,
    /// Where the first SOS segment starts (its length field, after the marker).
    pub first_scan: usize,
}

/// Reads markers from SOI up to the first SOS: the frame, the tables, and the application
/// markers that say how to interpret colour and orientation.
pub fn read_header(bytes: &[u8]) -> Result<Header> {
    if !bytes.starts_with(&[0xff, 0xd8]) {
        return Err(JpegError::NotJpeg);
    }
    let mut pos = 2;
    let mut frame = None;
    let mut tables = Tables {
        quant: [None; 4],
        dc: [None, None, None, None],
        ac: [None, None, None, None],
        restart_interval: 0,
    };
    let (mut jfif, mut adobe_transform, mut orientation) = (false, None, 1);
    loop {
        let marker = next_marker_byte(bytes, &mut pos).ok_or(JpegError::Truncated)?;
        if let Some(feature) = refused_feature(marker) {
            return Err(JpegError::unsupported(feature));
        }
        match marker {
            0xd8 => return Err(JpegError::corrupt("a second SOI marker")),
            0xd9 => return Err(JpegError::corrupt("EOI before any scan")),
            // Standalone markers without a length: RSTn outside a scan, TEM.
            0xd0..=0xd7 | 0x01 => continue,
            _ => {}
        }
        let seg = segment(bytes, &mut pos)?;
        match marker {
            0xc0 | 0xc1 => {
                if frame.is_some() {
                    return Err(JpegError::corrupt("a second SOF marker"));
                }
                frame = Some(parse_sof(seg)?);
            }
            0xc4 | 0xdb | 0xdd => table_segment(marker, seg, &mut tables)?,
            0xda => {
                let frame = frame.ok_or(JpegError::corrupt("SOS before SOF"))?;
                let colour = colour_space(&frame, jfif, adobe_transform);
                return Ok(Header {
                    frame,
                    tables,
                    colour,
                    orientation,
                    first_scan: pos - seg.len() - 2,
                });
            }
            0xe0 if seg.starts_with(b"JFIF\0") => jfif = true,
            0xe1 if seg.starts_with(b"Exif\0\0") => {
                if let Some(o) = exif_orientation(&seg[6..]) {
                    orientation = o;
                }
            }
            0xee if seg.len() >= 12 && seg.starts_with(b"Adobe") => {
                adobe_transform = Some(seg[11]);
            }
            // Other APPn, COM, JPGn and reserved markers: skipped, as libjpeg does.
            _ => {}
        }
    }
}

/// The feature a marker introduces, where it is one this decoder refuses.
fn refused_feature(marker: u8) -> Option<&'static str> {
    Some(match marker {
        0xc2 => "progressive (SOF2)",
        0xc3 => "lossless (SOF3)",
        0xc5 => "hierarchical (SOF5)",
        0xc6 => "hierarchical progressive (SOF6)",
        0xc7 => "hierarchical lossless (SOF7)",
        0xc8 => "JPEG-extension (SOF8)",
        0xc9 => "arithmetic-coded (SOF9)",
        0xca => "arithmetic-coded progressive (SOF10)",
        0xcb => "arithmetic-coded lossless (SOF11)",
        0xcd => "arithmetic-coded hierarchical (SOF13)",
        0xce => "arithmetic-coded hierarchical progressive (SOF14)",
        0xcf => "arithmetic-coded hierarchical lossless (SOF15)",
        0xcc => "arithmetic-coded (DAC)",
        0xdc => "a height given after the first scan (DNL)",
        0xde => "hierarchical (DHP)",
        0xdf => "hierarchical (EXP)",
        _ => return None,
    })
}

/// The payload of the segment whose length field is at `bytes[*pos]`; moves `pos` past it.
pub fn segment<'a>(bytes: &'a [u8], pos: &mut usize) -> Result<&'a [u8]> {
    let len = bytes.get(*pos..*pos + 2).ok_or(JpegError::Truncated)?;
    let len = u16::from_be_bytes([len[0], len[1]]) as usize;
    if len < 2 {
        return Err(JpegError::corrupt(format!("a segment length of {len}")));
    }
    let payload = bytes
        .get(*pos + 2..*pos + len)
        .ok_or(JpegError::Truncated)?;
    *pos += len;
    Ok(payload)
}

/// SOF0 / SOF1 (B.2.2): P, Y, X, Nf, then (C, H V, Tq) per component.
fn parse_sof(seg: &[u8]) -> Result<Frame> {
    if seg.len() < 6 {
        return Err(JpegError::corrupt("the SOF segment is too short"));
    }
    let precision = seg[0];
    let height = u16::from_be_bytes([seg[1], seg[2]]) as usize;
    let width = u16::from_be_bytes([seg[3], seg[4]]) as usize;
    let n = seg[5] as usize;
    match precision {
        8 => {}
        12 | 16 => {
            return Err(JpegError::unsupported(if precision == 12 {
                "12-bit"
            } else {
                "16-bit"
            }));
        }
        p => {
            return Err(JpegError::corrupt(format!(
                "a sample precision of {p} bits"
            )));
        }
    }
    match n {
        1 | 3 => {}
        4 => return Err(JpegError::unsupported("4-component (CMYK or YCCK)")),
        n => return Err(JpegError::corrupt(format!("{n} components in the frame"))),
    }
    if seg.len() != 6 + 3 * n {
        return Err(JpegError::corrupt(
            "the SOF segment's length does not match its components",
        ));
    }
    if height == 0 {
        return Err(JpegError::unsupported(
            "a height given after the first scan (DNL)",
        ));
    }
    if width == 0 {
        return Err(JpegError::corrupt("the image is 0 pixels wide"));
    }
    if width * height > MAX_PIXELS {
        return Err(JpegError::TooLarge { width, height });
    }
    let mut components: Vec<Component> = Vec::with_capacity(n);
    for c in seg[6..].chunks_exact(3) {
        let (id, h, v, tq) = (
            c[0],
            (c[1] >> 4) as usize,
            (c[1] & 15) as usize,
            c[2] as usize,
        );
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(JpegError::corrupt(format!(
                "component {id} has sampling factors {h}x{v} (1 to 4 allowed)"
            )));
        }
        if tq > 3 {
            return Err(JpegError::corrupt(format!(
                "component {id} uses quantization table {tq}"
            )));
        }
        if components.iter().any(|k| k.id == id) {
            return Err(JpegError::corrupt(format!(
                "two components have the id {id}"
            )));
        }
        components.push(Component { id, h, v, tq });
    }
    let max_h = components.iter().map(|c| c.h).max().unwrap_or(1);
    let max_v = components.iter().map(|c| c.v).max().unwrap_or(1);
    Ok(Frame {
        width,
        height,
        components,
        max_h,
        max_v,
    })
}

/// A DHT, DQT or DRI segment: updates `tables`.
pub fn table_segment(marker: u8, seg: &[u8], tables: &mut Tables) -> Result<()> {
    match marker {
        0xc4 => parse_dht(seg, tables),
        0xdb => parse_dqt(seg, tables),
        0xdd => {
            tables.restart_interval = parse_dri(seg)?;
            Ok(())
        }
        _ => unreachable!("only DHT, DQT and DRI define tables"),
    }
}

/// DHT (B.2.4.2): one or more (Tc Th, L1..L16, symbols).
fn parse_dht(mut seg: &[u8], tables: &mut Tables) -> Result<()> {
    while !seg.is_empty() {
        if seg.len() < 17 {
            return Err(JpegError::corrupt("the DHT segment is too short"));
        }
        let (class, slot) = (seg[0] >> 4, (seg[0] & 15) as usize);
        if class > 1 || slot > 3 {
            return Err(JpegError::corrupt(format!(
                "a Huffman table numbered 0x{:02X}",
                seg[0]
            )));
        }
        let counts: [u8; 16] = seg[1..17].try_into().unwrap();
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let symbols = seg
            .get(17..17 + total)
            .ok_or(JpegError::corrupt("the DHT segment is too short"))?;
        let table = Some(Box::new(HuffTable::new(&counts, symbols)?));
        if class == 0 {
            tables.dc[slot] = table;
        } else {
            tables.ac[slot] = table;
        }
        seg = &seg[17 + total..];
    }
    Ok(())
}

/// DQT (B.2.4.1): one or more (Pq Tq, 64 values of 8 or 16 bits in zig-zag order).
fn parse_dqt(mut seg: &[u8], tables: &mut Tables) -> Result<()> {
    while !seg.is_empty() {
        let (precision, slot) = (seg[0] >> 4, (seg[0] & 15) as usize);
        if precision > 1 || slot > 3 {
            return Err(JpegError::corrupt(format!(
                "a quantization table numbered 0x{:02X}",
                seg[0]
            )));
        }
        let size = 64 << precision;
        let values = seg
            .get(1..1 + size)
            .ok_or(JpegError::corrupt("the DQT segment is too short"))?;
        let mut q = [0u16; 64];
        for (k, &natural) in NATURAL.iter().enumerate() {
            q[natural] = if precision == 0 {
                values[k] as u16
            } else {
                u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
            };
        }
        tables.quant[slot] = Some(q);
        seg = &seg[1 + size..];
    }
    Ok(())
}

/// DRI (B.2.4.4): the restart interval in MCUs.
fn parse_dri(seg: &[u8]) -> Result<usize> {
    match seg {
        [hi, lo] => Ok(u16::from_be_bytes([*hi, *lo]) as usize),
        _ => Err(JpegError::corrupt("the DRI segment is not 2 bytes")),
    }
}

/// SOS (B.2.3): Ns, then (Cs, Td Ta) per component, then Ss, Se, Ah Al. Checks that the
/// components exist and are not repeated, that their tables are defined, and that an
/// interleaved MCU has at most 10 blocks.
pub fn parse_sos(seg: &[u8], frame: &Frame, tables: &Tables) -> Result<Vec<ScanComponent>> {
    let n = *seg
        .first()
        .ok_or(JpegError::corrupt("the SOS segment is empty"))? as usize;
    if n == 0 || n > frame.components.len() || seg.len() != 1 + 2 * n + 3 {
        return Err(JpegError::corrupt(
            "the SOS segment's length does not match its components",
        ));
    }
    let mut scan: Vec<ScanComponent> = Vec::with_capacity(n);
    for c in seg[1..1 + 2 * n].chunks_exact(2) {
        let index = frame
            .components
            .iter()
            .position(|k| k.id == c[0])
            .ok_or_else(|| {
                JpegError::corrupt(format!(
                    "the scan names component {}, not in the frame",
                    c[0]
                ))
            })?;
        if scan.iter().any(|s| s.index == index) {
            return Err(JpegError::corrupt("the scan names a component twice"));
        }
        let (dc, ac) = ((c[1] >> 4) as usize, (c[1] & 15) as usize);
        if dc > 3 || ac > 3 || tables.dc[dc].is_none() || tables.ac[ac].is_none() {
            return Err(JpegError::corrupt(format!(
                "component {} uses an undefined Huffman table",
                c[0]
            )));
        }
        if tables.quant[frame.components[index].tq].is_none() {
            return Err(JpegError::corrupt(format!(
                "component {} uses an undefined quantization table",
                c[0]
            )));
        }
        scan.push(ScanComponent { index, dc, ac });
    }
    // Ss, Se, Ah Al must be 0, 63, 0 in a sequential scan; libjpeg only warns, and so they
    // are not checked here either.
    if n > 1 {
        let blocks: usize = scan
            .iter()
            .map(|s| frame.components[s.index].h * frame.components[s.index].v)
            .sum();
        if blocks > 10 {
            return Err(JpegError::corrupt(format!(
                "an MCU of {blocks} blocks (at most 10 allowed)"
            )));
        }
    }
    Ok(scan)
}

/// libjpeg's rule (`jdapimin.c`): a JFIF marker means YCbCr, an Adobe marker says by its
/// transform flag (0: no transform, RGB), and otherwise component ids 'R', 'G', 'B' mean
/// RGB; everything else with three components is YCbCr.
fn colour_space(frame: &Frame, jfif: bool, adobe_transform: Option<u8>) -> ColourSpace {
    if frame.components.len() == 1 {
        return ColourSpace::Grey;
    }
    let ids: Vec<u8> = frame.components.iter().map(|c| c.id).collect();
    let rgb = if jfif {
        false
    } else if let Some(transform) = adobe_transform {
        transform == 0
    } else {
        ids == b"RGB"
    };
    if rgb {
        ColourSpace::Rgb
    } else {
        ColourSpace::YCbCr
    }
}

/// The Orientation tag (0x0112) of an EXIF block's first IFD, when it holds 1..=8.
/// `tiff` starts at the TIFF header ("II*\0" little-endian or "MM\0*" big-endian).
fn exif_orientation(tiff: &[u8]) -> Option<u8> {
    let little = match tiff.get(..4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let u16_at = |at: usize| {
        let b = tiff.get(at..at + 2)?;
        Some(if little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    for i in 0..count {
        let entry = ifd.checked_add(2 + 12 * i)?;
        if u16_at(entry)? == 0x0112 {
            // Type SHORT (3), count 1: the value sits in the first 2 bytes of the field.
            let value = u16_at(entry + 8)?;
            return (1..=8).contains(&value).then_some(value as u8);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiff(little: bool, orientation: u16) -> Vec<u8> {
        let w16 = |v: u16| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let w32 = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let mut t = if little {
            b"II*\0".to_vec()
        } else {
            b"MM\0*".to_vec()
        };
        t.extend(w32(8));
        t.extend(w16(2)); // two entries: ImageWidth, then Orientation
        for (tag, value) in [(0x0100u16, 640u16), (0x0112, orientation)] {
            t.extend(w16(tag));
            t.extend(w16(3));
            t.extend(w32(1));
            t.extend(w16(value));
            t.extend([0, 0]);
        }
        t.extend(w32(0));
        t
    }

    #[test]
    fn exif_orientation_in_both_byte_orders() {
        for o in 1..=8 {
            assert_eq!(exif_orientation(&tiff(true, o)), Some(o as u8));
            assert_eq!(exif_orientation(&tiff(false, o)), Some(o as u8));
        }
        assert_eq!(exif_orientation(&tiff(true, 9)), None);
        let t = tiff(false, 6);
        for cut in 0..t.len() - 6 {
            assert_eq!(exif_orientation(&t[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn colour_space_follows_libjpeg() {
        let frame = |ids: &[u8]| Frame {
            width: 1,
            height: 1,
            components: ids
                .iter()
                .map(|&id| Component {
                    id,
                    h: 1,
                    v: 1,
                    tq: 0,
                })
                .collect(),
            max_h: 1,
            max_v: 1,
        };
        assert_eq!(colour_space(&frame(&[1]), false, None), ColourSpace::Grey);
        assert_eq!(
            colour_space(&frame(&[1, 2, 3]), false, None),
            ColourSpace::YCbCr
        );
        assert_eq!(colour_space(&frame(b"RGB"), false, None), ColourSpace::Rgb);
        assert_eq!(colour_space(&frame(b"RGB"), true, None), ColourSpace::YCbCr);
        assert_eq!(
            colour_space(&frame(&[1, 2, 3]), false, Some(0)),
            ColourSpace::Rgb
        );
        assert_eq!(
            colour_space(&frame(b"RGB"), false, Some(1)),
            ColourSpace::YCbCr
        );
    }

    #[test]
    fn frame_headers_are_checked() {
        let sof = |p: u8, h: u16, w: u16, comps: &[(u8, u8, u8)]| {
            let mut s = vec![p];
            s.extend(h.to_be_bytes());
            s.extend(w.to_be_bytes());
            s.push(comps.len() as u8);
            for &(id, hv, tq) in comps {
                s.extend([id, hv, tq]);
            }
            s
        };
        let ok = sof(8, 9, 17, &[(1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 1)]);
        let f = parse_sof(&ok).unwrap();
        assert_eq!(
            (f.width, f.height, f.max_h, f.max_v, f.mcus()),
            (17, 9, 2, 2, (2, 1))
        );
        assert!(matches!(
            parse_sof(&sof(12, 9, 17, &[(1, 0x11, 0)])),
            Err(JpegError::Unsupported(_))
        ));
        assert!(matches!(
            parse_sof(&sof(
                8,
                9,
                17,
                &[(1, 0x11, 0), (2, 0x11, 0), (3, 0x11, 0), (4, 0x11, 0)]
            )),
            Err(JpegError::Unsupported(_))
        ));
        assert!(parse_sof(&sof(8, 9, 17, &[(1, 0x51, 0)])).is_err());
        assert!(parse_sof(&sof(8, 9, 17, &[(1, 0x10, 0)])).is_err());
        assert!(parse_sof(&sof(8, 9, 17, &[(1, 0x11, 4)])).is_err());
        assert!(parse_sof(&sof(8, 9, 17, &[(1, 0x11, 0), (1, 0x11, 0), (3, 0x11, 0)])).is_err());
        assert!(parse_sof(&sof(8, 9, 0, &[(1, 0x11, 0)])).is_err());
        assert!(parse_sof(&sof(8, 0, 9, &[(1, 0x11, 0)])).is_err());
        assert_eq!(
            parse_sof(&sof(8, 65535, 65535, &[(1, 0x11, 0)])),
            Err(JpegError::TooLarge {
                width: 65535,
                height: 65535
            })
        );
        assert!(parse_sof(&ok[..ok.len() - 1]).is_err());
    }
}
