//! The crate's one PNG encoder (through the `png` crate): `make-dataset`'s digits and every
//! picture (montages, plots, the map, the gallery's thumbnails).
//!
//! 8-bit grey or RGB, no ancillary chunks (no timestamps or other metadata), so the same
//! pixels always give the same file. Two settings, chosen by the caller:
//! [`Compression::Stored`] for the dataset's images, [`Compression::Default`] for pictures.

/// How the image data is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// No filtering and DEFLATE's stored (uncompressed) blocks: `make-dataset`'s images.
    ///
    /// Why stored: a compressed MNIST digit is about 300 bytes and a stored one about 880,
    /// but either way the file takes one 4 KiB disk block, and git compresses its objects
    /// anyway. Decoding a stored stream is a copy, whereas a compressed one first builds
    /// Huffman tables, which for an image this small is most of the decoding time
    /// (measured: loading all 70,000 images takes half the CPU time it takes with level-9
    /// files).
    Stored,
    /// The `png` crate's default filter and compression: pictures, which are larger and
    /// read by people.
    Default,
}

/// The bytes of a PNG file holding `pixels`, (height * width * channels,) row-major,
/// channels interleaved; `channels` is 1 (grey) or 3 (RGB). The error is the problem, for
/// the caller to attach to the file it was writing.
pub fn encode(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    compression: Compression,
) -> Result<Vec<u8>, String> {
    let colour = match channels {
        1 => png::ColorType::Grayscale,
        3 => png::ColorType::Rgb,
        _ => {
            return Err(format!(
                "{channels} channels; a PNG here is grey (1) or RGB (3)"
            ));
        }
    };
    let (w, h) = match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => return Err("too large for PNG".into()),
    };
    if w == 0 || h == 0 {
        return Err("a PNG must be at least 1x1 pixels".into());
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(colour);
    encoder.set_depth(png::BitDepth::Eight);
    if compression == Compression::Stored {
        encoder.set_deflate_compression(png::DeflateCompression::NoCompression);
        encoder.set_filter(png::Filter::NoFilter);
    }
    let encoded = encoder.write_header().and_then(|mut writer| {
        // Fails on a pixel count that is not width * height * channels.
        writer.write_image_data(pixels)?;
        writer.finish()
    });
    encoded.map_err(|e| format!("PNG encoding failed: {e}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn both_settings_round_trip_grey_and_rgb() {
        let grey: Vec<u8> = (0..35).map(|i| (i * 7) as u8).collect();
        let rgb: Vec<u8> = (0..3 * 35).map(|i| (i * 5) as u8).collect();
        for compression in [Compression::Stored, Compression::Default] {
            for (pixels, channels, colour) in [
                (&grey, 1, png::ColorType::Grayscale),
                (&rgb, 3, png::ColorType::Rgb),
            ] {
                let bytes = encode(pixels, 7, 5, channels, compression).unwrap();
                let (info, back) = decode(&bytes);
                assert_eq!((info.width, info.height), (7, 5));
                assert_eq!(
                    (info.color_type, info.bit_depth),
                    (colour, png::BitDepth::Eight)
                );
                assert_eq!(&back, pixels);
            }
        }
    }

    #[test]
    fn stored_holds_the_filtered_rows_verbatim() {
        // Stored blocks and no filter: each row is its filter byte 0 then the pixels, so
        // the pixels appear in the file as they are.
        let pixels: Vec<u8> = (0..28 * 28).map(|i| (i % 251) as u8).collect();
        let bytes = encode(&pixels, 28, 28, 1, Compression::Stored).unwrap();
        let row = &pixels[28 * 5..28 * 6];
        assert!(bytes.windows(29).any(|w| w[0] == 0 && &w[1..] == row));
        assert!(bytes.len() > pixels.len());
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        assert_eq!(
            encode(&[], 0, 3, 1, Compression::Default).unwrap_err(),
            "a PNG must be at least 1x1 pixels"
        );
        assert!(
            encode(&[0; 4], 2, 2, 2, Compression::Stored)
                .unwrap_err()
                .contains("2 channels")
        );
        assert!(
            encode(&[0; 5], 2, 2, 1, Compression::Stored)
                .unwrap_err()
                .starts_with("PNG encoding failed")
        );
    }
}
