//! gzip (RFC 1952) and DEFLATE (RFC 1951) decompression, for MNIST's `.gz` IDX files.
//!
//! The design card allows no compression crate at run time, and a decoder is short: a bit
//! reader, canonical Huffman codes, and the three block types (stored, fixed Huffman, dynamic
//! Huffman). The structure follows Mark Adler's `puff.c` (the reference inflater shipped with
//! zlib); one speed-up is added: the first `FAST_BITS` bits of a code are looked up in a table,
//! so the common short codes cost one table read instead of a bit-by-bit walk.
//!
//! A gzip file may hold several members one after another (`cat a.gz b.gz`); each is decoded
//! and checked against its CRC-32 and length (ISIZE) trailer.

use std::fmt;

use super::crc32::crc32;

/// What can be wrong with a gzip stream. The caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// The input ends before the stream does.
    Truncated,
    /// Not a gzip file, or a field of the format holds an impossible value.
    Format(&'static str),
    /// The decompressed data disagrees with the trailer.
    Checksum(&'static str),
    /// The output would be longer than the caller allows (a "zip bomb", or the wrong file).
    TooLong { limit: usize },
    /// The output fits the limit but not in memory.
    OutOfMemory { bytes: usize },
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InflateError::Truncated => write!(f, "gzip data ends early (truncated file?)"),
            InflateError::Format(what) => write!(f, "corrupt gzip data: {what}"),
            InflateError::Checksum(what) => write!(f, "gzip check failed: {what}"),
            InflateError::TooLong { limit } => {
                write!(f, "gzip data expands to more than {limit} bytes")
            }
            InflateError::OutOfMemory { bytes } => {
                write!(f, "not enough memory to decompress {bytes} bytes")
            }
        }
    }
}

type Result<T> = std::result::Result<T, InflateError>;

/// True when `bytes` starts with the gzip magic number 1f 8b.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses a whole gzip file (one or more members), refusing to produce more than
/// `limit` bytes.
pub fn gunzip(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        pos = gunzip_member(input, pos, &mut out, limit)?;
        // Trailing zero padding after the last member is tolerated, as gzip(1) does.
        if input[pos..].iter().all(|&b| b == 0) {
            return Ok(out);
        }
    }
}

/// Decodes the gzip member starting at `input[start]`, appending to `out`; returns the
/// position just after it.
fn gunzip_member(input: &[u8], start: usize, out: &mut Vec<u8>, limit: usize) -> Result<usize> {
    // RFC 1952 section 2.3: ID1 ID2 CM FLG MTIME(4) XFL OS, then optional fields.
    let header = input
        .get(start..start + 10)
        .ok_or(InflateError::Truncated)?;
    if !is_gzip(header) {
        return Err(InflateError::Format("not a gzip file (bad magic number)"));
    }
    if header[2] != 8 {
        return Err(InflateError::Format("compression method is not deflate"));
    }
    let flags = header[3];
    const FHCRC: u8 = 1 << 1;
    const FEXTRA: u8 = 1 << 2;
    const FNAME: u8 = 1 << 3;
    const FCOMMENT: u8 = 1 << 4;
    if flags & 0xe0 != 0 {
        return Err(InflateError::Format("reserved header flags are set"));
    }
    let mut pos = start + 10;
    if flags & FEXTRA != 0 {
        let xlen = input.get(pos..pos + 2).ok_or(InflateError::Truncated)?;
        pos += 2 + u16::from_le_bytes([xlen[0], xlen[1]]) as usize;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            // A zero-terminated Latin-1 string (file name or comment), skipped.
            let rest = input.get(pos..).ok_or(InflateError::Truncated)?;
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or(InflateError::Truncated)?;
            pos += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    if pos > input.len() {
        return Err(InflateError::Truncated);
    }

    let out_start = out.len();
    let mut bits = BitReader::new(input, pos);
    inflate(&mut bits, out, limit)?;
    let pos = bits.byte_position();

    // Trailer: CRC-32 and ISIZE (length mod 2^32) of the uncompressed data, little-endian.
    let trailer = input.get(pos..pos + 8).ok_or(InflateError::Truncated)?;
    let crc = u32::from_le_bytes(trailer[0..4].try_into().unwrap());
    let isize = u32::from_le_bytes(trailer[4..8].try_into().unwrap());
    let member = &out[out_start..];
    if member.len() as u32 != isize {
        return Err(InflateError::Checksum("length does not match ISIZE"));
    }
    if crc32(member) != crc {
        return Err(InflateError::Checksum("CRC-32 does not match"));
    }
    Ok(pos + 8)
}

/// Decodes one raw DEFLATE stream (RFC 1951) from `bits`, appending to `out`.
pub fn inflate(bits: &mut BitReader<'_>, out: &mut Vec<u8>, limit: usize) -> Result<()> {
    let fixed = FixedCodes::new();
    loop {
        // Block header: BFINAL (1 bit), BTYPE (2 bits).
        let last = bits.bits(1)? == 1;
        match bits.bits(2)? {
            0 => stored_block(bits, out, limit)?,
            1 => codes_block(bits, out, limit, &fixed.litlen, &fixed.dist)?,
            2 => {
                let (litlen, dist) = dynamic_codes(bits)?;
                codes_block(bits, out, limit, &litlen, &dist)?;
            }
            _ => return Err(InflateError::Format("invalid block type 3")),
        }
        if last {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bits

/// Reads the bit stream LSB-first, as DEFLATE packs it, through a 64-bit buffer.
pub struct BitReader<'a> {
    input: &'a [u8],
    /// Next byte of `input` not yet in `buffer`.
    pos: usize,
    /// Pending bits, the next one in bit 0.
    buffer: u64,
    count: u32,
}

impl<'a> BitReader<'a> {
    pub fn new(input: &'a [u8], pos: usize) -> Self {
        BitReader {
            input,
            pos,
            buffer: 0,
            count: 0,
        }
    }

    /// Tops the buffer up to at least 56 bits, or to the end of the input.
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(word) = self.input.get(self.pos..self.pos + 8) {
            // Eight bytes at once; keep only the whole bytes that fit.
            let word = u64::from_le_bytes(word.try_into().unwrap());
            self.buffer |= word << self.count;
            self.pos += ((63 - self.count) / 8) as usize;
            self.count |= 56;
        } else {
            while self.count <= 56 && self.pos < self.input.len() {
                self.buffer |= (self.input[self.pos] as u64) << self.count;
                self.pos += 1;
                self.count += 8;
            }
        }
    }

    /// The next `n` (<= 32) bits without consuming them; past the end of the input they read
    /// as zero, and `consume` reports the truncation.
    #[inline(always)]
    fn peek(&mut self, n: u32) -> u32 {
        if self.count < n {
            self.refill();
        }
        (self.buffer & ((1u64 << n) - 1)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) -> Result<()> {
        if n > self.count {
            return Err(InflateError::Truncated);
        }
        self.buffer >>= n;
        self.count -= n;
        Ok(())
    }

    /// Reads an `n`-bit number (n <= 32), first bit least significant.
    #[inline(always)]
    fn bits(&mut self, n: u32) -> Result<u32> {
        let v = self.peek(n);
        self.consume(n)?;
        Ok(v)
    }

    /// Drops the bits up to the next byte boundary and gives back whole buffered bytes, so
    /// that `pos` is the next unread byte (stored blocks and the gzip trailer are byte-aligned).
    fn align_to_byte(&mut self) {
        let whole_bytes = self.count / 8;
        self.pos -= whole_bytes as usize;
        self.buffer = 0;
        self.count = 0;
    }

    /// The position of the next unread whole byte.
    fn byte_position(&mut self) -> usize {
        self.align_to_byte();
        self.pos
    }
}

// ---------------------------------------------------------------------------------------------
// Blocks

/// BTYPE 00: LEN, NLEN (its one's complement), then LEN raw bytes.
fn stored_block(bits: &mut BitReader<'_>, out: &mut Vec<u8>, limit: usize) -> Result<()> {
    bits.align_to_byte();
    let pos = bits.pos;
    let header = bits
        .input
        .get(pos..pos + 4)
        .ok_or(InflateError::Truncated)?;
    let len = u16::from_le_bytes([header[0], header[1]]);
    let nlen = u16::from_le_bytes([header[2], header[3]]);
    if len != !nlen {
        return Err(InflateError::Format("stored block length check failed"));
    }
    let data = bits
        .input
        .get(pos + 4..pos + 4 + len as usize)
        .ok_or(InflateError::Truncated)?;
    if out.len() + data.len() > limit {
        return Err(InflateError::TooLong { limit });
    }
    make_room(out, data.len())?;
    out.extend_from_slice(data);
    bits.pos = pos + 4 + len as usize;
    Ok(())
}

/// Length codes 257..285: base lengths and extra bits (RFC 1951 section 3.2.5).
const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distance codes 0..29: base distances and extra bits.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Makes room for `extra` more bytes of output, doubling the capacity as `push` would, but
/// through `try_reserve`: a stream that expands to gigabytes (under `limit`) on a machine
/// without them is an error, where `push` would abort the process.
#[inline]
fn make_room(out: &mut Vec<u8>, extra: usize) -> Result<()> {
    if out.capacity() - out.len() >= extra {
        return Ok(());
    }
    let grow = extra.max(out.len()).max(1 << 16);
    out.try_reserve(grow)
        .map_err(|_| InflateError::OutOfMemory {
            bytes: out.len() + grow,
        })
}

/// The body of a Huffman-coded block (fixed or dynamic): literals and (length, distance)
/// back-references until the end-of-block symbol 256.
fn codes_block(
    bits: &mut BitReader<'_>,
    out: &mut Vec<u8>,
    limit: usize,
    litlen: &Huffman,
    dist: &Huffman,
) -> Result<()> {
    loop {
        let symbol = litlen.decode(bits)? as usize;
        if symbol < 256 {
            if out.len() >= limit {
                return Err(InflateError::TooLong { limit });
            }
            make_room(out, 1)?;
            out.push(symbol as u8);
        } else if symbol == 256 {
            return Ok(());
        } else {
            let i = symbol - 257;
            if i >= LENGTH_BASE.len() {
                return Err(InflateError::Format("invalid length symbol"));
            }
            let len = LENGTH_BASE[i] as usize + bits.bits(LENGTH_EXTRA[i] as u32)? as usize;
            let d = dist.decode(bits)? as usize;
            if d >= DIST_BASE.len() {
                return Err(InflateError::Format("invalid distance symbol"));
            }
            let distance = DIST_BASE[d] as usize + bits.bits(DIST_EXTRA[d] as u32)? as usize;
            if distance > out.len() {
                return Err(InflateError::Format("distance reaches before the start"));
            }
            if out.len() + len > limit {
                return Err(InflateError::TooLong { limit });
            }
            make_room(out, len)?;
            let from = out.len() - distance;
            if distance >= len {
                out.extend_from_within(from..from + len);
            } else {
                // Overlapping copy: a run that repeats its own output (e.g. distance 1).
                for k in 0..len {
                    let b = out[from + k];
                    out.push(b);
                }
            }
        }
    }
}

/// BTYPE 10: the code lengths of the two codes, themselves Huffman-coded with a third
/// "code length" code (RFC 1951 section 3.2.7). Returns (literal/length code, distance code).
fn dynamic_codes(bits: &mut BitReader<'_>) -> Result<(Huffman, Huffman)> {
    let hlit = bits.bits(5)? as usize + 257;
    let hdist = bits.bits(5)? as usize + 1;
    let hclen = bits.bits(4)? as usize + 4;
    if hlit > 286 || hdist > 30 {
        return Err(InflateError::Format("too many length or distance codes"));
    }
    // The code length code's lengths come in this fixed, frequency-guessing order.
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let mut cl_lengths = [0u8; 19];
    for &k in &ORDER[..hclen] {
        cl_lengths[k] = bits.bits(3)? as u8;
    }
    let cl_code = Huffman::new(&cl_lengths)?;

    // Literal/length and distance code lengths form one sequence, run-length coded.
    let mut lengths = [0u8; 286 + 30];
    let mut n = 0;
    while n < hlit + hdist {
        let symbol = cl_code.decode(bits)?;
        let (value, repeat) = match symbol {
            0..=15 => (symbol as u8, 1),
            16 => {
                if n == 0 {
                    return Err(InflateError::Format("repeat with no previous length"));
                }
                (lengths[n - 1], 3 + bits.bits(2)? as usize)
            }
            17 => (0, 3 + bits.bits(3)? as usize),
            _ => (0, 11 + bits.bits(7)? as usize),
        };
        if n + repeat > hlit + hdist {
            return Err(InflateError::Format("code lengths overflow"));
        }
        lengths[n..n + repeat].fill(value);
        n += repeat;
    }
    if lengths[256] == 0 {
        return Err(InflateError::Format("no end-of-block code"));
    }
    let litlen = Huffman::new(&lengths[..hlit])?;
    let dist = Huffman::new(&lengths[hlit..hlit + hdist])?;
    Ok((litlen, dist))
}

/// BTYPE 01 uses these codes, fixed by the RFC (section 3.2.6).
struct FixedCodes {
    litlen: Huffman,
    dist: Huffman,
}

impl FixedCodes {
    fn new() -> Self {
        let mut lengths = [0u8; 288];
        lengths[0..144].fill(8);
        lengths[144..256].fill(9);
        lengths[256..280].fill(7);
        lengths[280..288].fill(8);
        FixedCodes {
            litlen: Huffman::new(&lengths).expect("the fixed code is complete"),
            dist: Huffman::new(&[5; 30]).expect("the fixed code is complete"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical Huffman codes

const MAX_BITS: usize = 15;
/// Codes up to this length are decoded by one lookup; longer ones (rare symbols) bit by bit.
const FAST_BITS: u32 = 10;

/// A canonical Huffman code given by its code lengths (RFC 1951 section 3.2.2).
struct Huffman {
    /// count[len]: how many symbols have a code of that length.
    count: [u16; MAX_BITS + 1],
    /// The symbols in code order (by length, then by symbol value).
    symbols: Vec<u16>,
    /// Indexed by the next FAST_BITS input bits: `symbol << 4 | length`, or 0 when the
    /// code there is longer than FAST_BITS (or unused).
    fast: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Self> {
        let mut count = [0u16; MAX_BITS + 1];
        for &len in lengths {
            count[len as usize] += 1;
        }
        count[0] = 0;
        // A code may not use more bit patterns than exist (over-subscribed). Incomplete
        // codes are allowed (a single distance code is legal); decoding an unused pattern
        // is then an error.
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = left * 2 - c as i32;
            if left < 0 {
                return Err(InflateError::Format("over-subscribed Huffman code"));
            }
        }
        // offsets[len]: index in `symbols` of the first code of that length.
        let mut offsets = [0u16; MAX_BITS + 2];
        for len in 1..=MAX_BITS {
            offsets[len + 1] = offsets[len] + count[len];
        }
        let mut symbols = vec![0u16; offsets[MAX_BITS + 1] as usize];
        for (symbol, &len) in lengths.iter().enumerate() {
            if len != 0 {
                symbols[offsets[len as usize] as usize] = symbol as u16;
                offsets[len as usize] += 1;
            }
        }

        // Fill the fast table: walk the codes in canonical order; a code of length len is
        // stored bit-reversed (the stream sends its most significant bit first, but the bit
        // reader delivers the first bit in bit 0), in every slot whose low len bits match.
        let mut fast = vec![0u16; 1 << FAST_BITS];
        let mut code: u32 = 0;
        let mut index = 0;
        for len in 1..=MAX_BITS as u32 {
            for _ in 0..count[len as usize] {
                if len <= FAST_BITS {
                    let reversed = code.reverse_bits() >> (32 - len);
                    let entry = (symbols[index] << 4) | len as u16;
                    let mut slot = reversed as usize;
                    while slot < fast.len() {
                        fast[slot] = entry;
                        slot += 1 << len;
                    }
                }
                code += 1;
                index += 1;
            }
            code <<= 1;
        }
        Ok(Huffman {
            count,
            symbols,
            fast,
        })
    }

    #[inline(always)]
    fn decode(&self, bits: &mut BitReader<'_>) -> Result<u16> {
        let entry = self.fast[bits.peek(FAST_BITS) as usize];
        if entry != 0 {
            bits.consume((entry & 15) as u32)?;
            return Ok(entry >> 4);
        }
        self.decode_slow(bits)
    }

    /// puff.c's decode: extend the code one bit at a time; codes of each length are
    /// consecutive integers, so a code of length len is valid when it falls in
    /// [first, first + count[len]).
    fn decode_slow(&self, bits: &mut BitReader<'_>) -> Result<u16> {
        let mut code: i32 = 0;
        let mut first: i32 = 0;
        let mut index: i32 = 0;
        for len in 1..=MAX_BITS {
            code |= bits.bits(1)? as i32;
            let count = self.count[len] as i32;
            if code - first < count {
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(InflateError::Format("invalid Huffman code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made gzip member holding one stored block.
    fn stored_gzip(payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        v.push(1); // BFINAL = 1, BTYPE = 00
        let len = payload.len() as u16;
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(&(!len).to_le_bytes());
        v.extend_from_slice(payload);
        v.extend_from_slice(&crc32(payload).to_le_bytes());
        v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v
    }

    #[test]
    fn stored_block_and_multiple_members() {
        let mut gz = stored_gzip(b"hello, ");
        gz.extend(stored_gzip(b"world"));
        assert_eq!(gunzip(&gz, 100).unwrap(), b"hello, world");
    }

    #[test]
    fn fixed_huffman_block_from_zlib() {
        // `printf 'aaaaaaaaaa' | gzip -n`: a literal then a length-9 distance-1 copy.
        let gz = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4b, 0x4c, 0x84, 0x01,
            0x00, 0xf0, 0xcd, 0x11, 0x4c, 0x0a, 0x00, 0x00, 0x00,
        ];
        assert_eq!(gunzip(&gz, 100).unwrap(), b"aaaaaaaaaa");
    }

    #[test]
    fn corruption_is_reported_not_panicked() {
        let gz = stored_gzip(b"some bytes to protect");
        for cut in 0..gz.len() {
            assert!(gunzip(&gz[..cut], 100).is_err(), "cut at {cut}");
        }
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 8] ^= 1;
        assert_eq!(
            gunzip(&bad, 100),
            Err(InflateError::Checksum("CRC-32 does not match"))
        );
        assert_eq!(gunzip(&gz, 5), Err(InflateError::TooLong { limit: 5 }));
        assert!(matches!(
            gunzip(b"PK\x03\x04 not gzip", 100),
            Err(InflateError::Format(_))
        ));
    }

    #[test]
    fn over_subscribed_code_is_rejected() {
        assert!(Huffman::new(&[1, 1, 1]).is_err());
        assert!(Huffman::new(&[1, 2, 2]).is_ok());
    }
}
