//! Huffman decoding of the entropy-coded data (ITU-T T.81 Annex C, F.2.2 and F.2.4).
//!
//! A DHT segment gives a table as the number of codes of each length 1..16 and the symbols
//! in code order; the codes themselves are canonical (Annex C): consecutive integers within
//! a length, doubling when the length grows. Decoding looks the next `FAST_BITS` bits up in
//! a table, which resolves the short (common) codes at once; the longer ones are found by
//! comparing against the largest code of each length (`maxcode`, F.2.2.3), as the standard's
//! DECODE procedure does.
//!
//! The bit reader reads the stream most significant bit first. Inside entropy-coded data a
//! 0xFF byte is followed by a stuffed 0x00 (F.1.2.3), which is dropped; any other byte after
//! 0xFF is a marker (a restart marker RSTn, or the end of the scan). At a marker, or at the
//! end of the input, the reader supplies zero bits for look-ahead but refuses to *consume*
//! them: a code that needs bits past a marker is reported as corrupt or truncated data.

use super::JpegError;

type Result<T> = std::result::Result<T, JpegError>;

/// Codes up to this length are decoded with one table look-up (512 entries).
pub const FAST_BITS: u32 = 9;

/// One Huffman table (a DC or an AC table of one DHT segment).
#[derive(Clone)]
pub struct HuffTable {
    /// Indexed by the next FAST_BITS bits: `length << 8 | symbol`, or 0 when the code there
    /// is longer than FAST_BITS (or unused).
    fast: [u16; 1 << FAST_BITS],
    /// maxcode[l]: the largest code of length l, or -1 when there is none (F.2.2.3).
    maxcode: [i32; 17],
    /// delta[l]: add to a code of length l to get its index in `symbols`.
    delta: [i32; 17],
    /// The symbols in code order (by length, then by code).
    symbols: [u8; 256],
}

impl HuffTable {
    /// Builds the table of a DHT segment: `counts[l - 1]` codes of length l, and `symbols`.
    pub fn new(counts: &[u8; 16], symbols: &[u8]) -> Result<Self> {
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        if total > 256 || total != symbols.len() {
            return Err(JpegError::corrupt(
                "a Huffman table has more than 256 codes",
            ));
        }
        let mut table = HuffTable {
            fast: [0; 1 << FAST_BITS],
            maxcode: [-1; 17],
            delta: [0; 17],
            symbols: [0; 256],
        };
        table.symbols[..total].copy_from_slice(symbols);

        // Annex C, figure C.2: codes of one length are consecutive; the next length starts
        // at twice (the last code + 1).
        let mut code: u32 = 0;
        let mut index: usize = 0;
        for len in 1..=16usize {
            let n = counts[len - 1] as usize;
            // A code of all 1 bits is not allowed (C.1), and more codes than the length
            // holds would run into the next length's: after them, code must fit in len bits.
            if code as usize + n >= 1 << len {
                return Err(JpegError::corrupt("a Huffman table has too many codes"));
            }
            if n > 0 {
                table.delta[len] = index as i32 - code as i32;
                for _ in 0..n {
                    if len as u32 <= FAST_BITS {
                        // Every FAST_BITS-bit string that starts with this code.
                        let shift = FAST_BITS - len as u32;
                        let first = (code << shift) as usize;
                        let entry = (len as u16) << 8 | table.symbols[index] as u16;
                        table.fast[first..first + (1 << shift)].fill(entry);
                    }
                    code += 1;
                    index += 1;
                }
                table.maxcode[len] = code as i32 - 1;
            }
            code <<= 1;
        }
        Ok(table)
    }
}

/// The entropy-coded data of one scan, read most significant bit first.
pub struct BitReader<'a> {
    data: &'a [u8],
    /// The next byte of `data` not yet in `buffer`.
    pos: usize,
    /// The pending bits, the next one in bit 63; below the `count` real bits, zeros.
    buffer: u64,
    count: u32,
    /// Set once `refill` has met a marker: it stops there (pos is at its 0xFF).
    at_marker: bool,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader {
            data,
            pos,
            buffer: 0,
            count: 0,
            at_marker: false,
        }
    }

    /// Tops the buffer up to more than 56 bits, unless a marker or the end comes first.
    #[inline(always)]
    fn refill(&mut self) {
        while self.count <= 56 && !self.at_marker {
            let Some(&byte) = self.data.get(self.pos) else {
                return;
            };
            if byte == 0xff {
                match self.data.get(self.pos + 1) {
                    // A stuffed zero: the 0xFF is data.
                    Some(0x00) => self.pos += 2,
                    // Any other byte (or none) after 0xFF: a marker, where the data stops.
                    _ => {
                        self.at_marker = true;
                        return;
                    }
                }
            } else {
                self.pos += 1;
            }
            self.buffer |= (byte as u64) << (56 - self.count);
            self.count += 8;
        }
    }

    /// The error for a code that runs past the data: at a marker the data is corrupt, at
    /// the end of the input the file is truncated.
    #[cold]
    fn past_end(&self) -> JpegError {
        if self.at_marker {
            JpegError::corrupt("a marker interrupts the entropy-coded data")
        } else {
            JpegError::Truncated
        }
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) -> Result<()> {
        if n > self.count {
            return Err(self.past_end());
        }
        self.buffer <<= n;
        self.count -= n;
        Ok(())
    }

    /// Decodes one Huffman-coded symbol.
    #[inline(always)]
    pub fn decode(&mut self, table: &HuffTable) -> Result<u8> {
        if self.count < 16 {
            self.refill();
        }
        let entry = table.fast[(self.buffer >> (64 - FAST_BITS)) as usize];
        if entry != 0 {
            self.consume((entry >> 8) as u32)?;
            return Ok(entry as u8);
        }
        self.decode_slow(table)
    }

    /// Codes longer than FAST_BITS: the standard's DECODE (F.2.2.3), one length at a time.
    #[cold]
    fn decode_slow(&mut self, table: &HuffTable) -> Result<u8> {
        for len in FAST_BITS as usize + 1..=16 {
            let code = (self.buffer >> (64 - len)) as i32;
            if code <= table.maxcode[len] {
                self.consume(len as u32)?;
                let index = (code + table.delta[len]) as usize;
                return Ok(table.symbols[index & 0xff]);
            }
        }
        if self.count < 16 {
            // The zeros past the data do not form a code either.
            return Err(self.past_end());
        }
        Err(JpegError::corrupt("bad Huffman code"))
    }

    /// Reads `s` (0..=16) bits as the magnitude category's extra bits and gives the signed
    /// value they code (EXTEND, F.2.2.1): codes below 2^(s-1) are negative.
    #[inline(always)]
    pub fn receive_extend(&mut self, s: u32) -> Result<i32> {
        if s == 0 {
            return Ok(0);
        }
        if self.count < s {
            self.refill();
        }
        let v = (self.buffer >> (64 - s)) as i32;
        self.consume(s)?;
        Ok(if v < 1 << (s - 1) {
            v - (1 << s) + 1
        } else {
            v
        })
    }

    /// Skips `s` bits (an AC coefficient whose value is not needed).
    #[inline(always)]
    pub fn skip(&mut self, s: u32) -> Result<()> {
        if self.count < s {
            self.refill();
        }
        self.consume(s)
    }

    /// At a restart interval's end: drops the padding bits and reads the RSTn marker,
    /// which must be the `expected` one (0..=7).
    pub fn restart(&mut self, expected: u8) -> Result<()> {
        // The bits left in the buffer are the 1-bit padding of the last byte (F.1.2.3).
        self.buffer = 0;
        self.count = 0;
        self.at_marker = false;
        let marker = next_marker_byte(self.data, &mut self.pos).ok_or(JpegError::Truncated)?;
        if marker != 0xd0 + expected {
            return Err(JpegError::corrupt(format!(
                "expected the restart marker RST{expected}, found 0xFF{marker:02X}"
            )));
        }
        Ok(())
    }

    /// The position after the scan's data: where the next marker's 0xFF is (or the end).
    pub fn end_of_scan(&self) -> usize {
        let mut pos = self.pos;
        // Any bytes before the marker are skipped, as libjpeg does (with a warning).
        while pos < self.data.len() {
            if self.data[pos] == 0xff && self.data.get(pos + 1).is_none_or(|&b| b != 0) {
                break;
            }
            pos += 1;
        }
        pos
    }
}

/// Finds the marker at or after `data[*pos]`: skips any bytes up to a 0xFF, then the 0xFF
/// fill bytes (B.1.1.2); returns the marker code and leaves `pos` after it. None at the end.
pub fn next_marker_byte(data: &[u8], pos: &mut usize) -> Option<u8> {
    loop {
        while *data.get(*pos)? != 0xff {
            *pos += 1;
        }
        while *data.get(*pos)? == 0xff {
            *pos += 1;
        }
        let code = data[*pos];
        *pos += 1;
        if code != 0x00 {
            return Some(code);
        }
        // 0xFF00 outside a scan is not a marker; keep looking.
    }
}

/// Position k in zig-zag order holds coefficient NATURAL[k] of the row-major 8x8 block
/// (figure A.6).
pub const NATURAL: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Which coefficients of a block the inverse DCT will read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needed {
    /// All 64 (full, 1/2 and 1/4 scale).
    All,
    /// Only the DC coefficient (1/8 scale, or a component the output does not use): the AC
    /// codes are still decoded, to find the next block, but their values are skipped.
    DcOnly,
}

/// Decodes one 8x8 block (F.2.2.1 for the DC difference, F.2.2.2 for the AC coefficients)
/// into `coef` (natural order, not yet dequantized; zero on entry for `Needed::All`, and
/// only `coef[0]` written for `Needed::DcOnly`). `pred` is the
/// component's DC predictor. Returns the number of coefficients up to the last non-zero one
/// in zig-zag order (1 when only the DC is non-zero, or when only the DC was kept).
#[inline(always)]
pub fn decode_block(
    bits: &mut BitReader<'_>,
    dc: &HuffTable,
    ac: &HuffTable,
    pred: &mut i32,
    coef: &mut [i32; 64],
    needed: Needed,
) -> Result<usize> {
    let s = bits.decode(dc)? as u32;
    if s > 11 {
        return Err(JpegError::corrupt("a DC difference of more than 11 bits"));
    }
    *pred = pred.wrapping_add(bits.receive_extend(s)?);
    coef[0] = *pred;

    let mut end = 1;
    let mut k = 1;
    while k < 64 {
        let rs = bits.decode(ac)?;
        let (r, s) = ((rs >> 4) as usize, (rs & 15) as u32);
        if s == 0 {
            if r != 15 {
                break; // EOB: the rest of the block is zero.
            }
            k += 16; // ZRL: sixteen zeros.
            continue;
        }
        k += r;
        if k > 63 {
            return Err(JpegError::corrupt(
                "AC coefficients run past the block's end",
            ));
        }
        match needed {
            Needed::All => {
                coef[NATURAL[k]] = bits.receive_extend(s)?;
                end = k + 1;
            }
            Needed::DcOnly => bits.skip(s)?,
        }
        k += 1;
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example DC luminance table of Annex K (table K.3).
    fn k3() -> HuffTable {
        let counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        HuffTable::new(&counts, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]).unwrap()
    }

    #[test]
    fn annex_k_codes_decode_to_their_symbols() {
        // Table K.3: category 0 is 00, 1 is 010, 5 is 110, 6 is 1110, 11 is 111111110.
        // 00 010 110 1110 111111110, then padding ones.
        let bytes = [0b0001_0110, 0b1110_1111, 0b1111_0111, 0xff, 0x00];
        let mut bits = BitReader::new(&bytes, 0);
        let t = k3();
        for want in [0, 1, 5, 6, 11] {
            assert_eq!(bits.decode(&t).unwrap(), want);
        }
    }

    #[test]
    fn a_long_code_takes_the_slow_path() {
        // 12 codes of length 1..12 in a chain (0, 10, 110, ...): the last are longer than
        // FAST_BITS.
        let mut counts = [0u8; 16];
        counts[..12].fill(1);
        let symbols: Vec<u8> = (0..12).collect();
        let t = HuffTable::new(&counts, &symbols).unwrap();
        // 11111111110 (symbol 10, 11 bits) then 0 (symbol 0), then 1-bit padding.
        let bytes = [0xff, 0x00, 0b1100_1111];
        let mut bits = BitReader::new(&bytes, 0);
        assert_eq!(bits.decode(&t).unwrap(), 10);
        assert_eq!(bits.decode(&t).unwrap(), 0);
    }

    #[test]
    fn extend_gives_negative_values_below_half() {
        // Category 3: 000 is -7, 011 is -4, 100 is 4, 111 is 7.
        let bytes = [0b0000_1110, 0b0111_1111];
        let mut bits = BitReader::new(&bytes, 0);
        for want in [-7, -4, 4, 7] {
            assert_eq!(bits.receive_extend(3).unwrap(), want);
        }
    }

    #[test]
    fn bad_tables_and_codes_are_errors() {
        // Two codes of length 1 would use the all-ones code "1".
        let mut counts = [0u8; 16];
        counts[0] = 2;
        assert!(HuffTable::new(&counts, &[0, 1]).is_err());
        counts[0] = 1;
        assert!(
            HuffTable::new(&counts, &[0, 1]).is_err(),
            "count/symbols mismatch"
        );
        // K.3 has no code 111111111 (nine ones and more).
        let bytes = [0xff, 0x00, 0xff, 0x00, 0xff, 0x00];
        assert!(matches!(
            BitReader::new(&bytes, 0).decode(&k3()),
            Err(JpegError::Corrupt(_))
        ));
    }

    #[test]
    fn data_stops_at_markers_and_at_the_end() {
        let t = k3();
        // "010" then a marker: the code needs no bits past it, the next one does.
        let bytes = [0b0100_0000, 0xff, 0xd9];
        let mut bits = BitReader::new(&bytes, 0);
        assert_eq!(bits.decode(&t).unwrap(), 1);
        assert_eq!(bits.receive_extend(5).unwrap(), -31);
        assert!(matches!(bits.decode(&t), Err(JpegError::Corrupt(_))));
        assert_eq!(bits.end_of_scan(), 1);
        let mut bits = BitReader::new(&bytes[..1], 0);
        assert_eq!(bits.decode(&t).unwrap(), 1);
        assert_eq!(bits.skip(5), Ok(()));
        assert_eq!(bits.decode(&t), Err(JpegError::Truncated));
    }

    #[test]
    fn restart_markers_are_checked() {
        let bytes = [0b0101_1111, 0xff, 0xd3, 0x00, 0xff, 0xd4];
        let mut bits = BitReader::new(&bytes, 0);
        assert_eq!(bits.decode(&k3()).unwrap(), 1);
        assert!(bits.restart(3).is_ok());
        assert_eq!(bits.decode(&k3()).unwrap(), 0);
        assert!(matches!(bits.restart(5), Err(JpegError::Corrupt(_))));
    }
}
