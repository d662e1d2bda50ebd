//! CRC-32, the IEEE polynomial in its reflected form: the checksum of gzip (checked by
//! [`super::inflate`]), PNG and zip, and of the data section of the safetensors files this
//! program writes (`io::safetensors`).
//!
//! Table-driven, "slicing by 4": four input bytes are folded in per step with four
//! independent table reads.

const CRC_TABLE: [[u32; 256]; 4] = crc_tables();

/// Four tables ("slicing by 4"): table[k][b] is the CRC of byte b followed by k zero bytes,
/// so four input bytes are folded in with four independent lookups.
const fn crc_tables() -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][n] = c;
        n += 1;
    }
    let mut n = 0;
    while n < 256 {
        let mut k = 1;
        while k < 4 {
            let prev = t[k - 1][n];
            t[k][n] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            k += 1;
        }
        n += 1;
    }
    t
}

/// The CRC-32 of `data` (as in gzip, PNG and zip).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(data);
    crc.finish()
}

/// A CRC-32 computed piece by piece, for data that is streamed rather than held whole.
#[derive(Clone, Copy, Debug)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    pub fn new() -> Self {
        Crc32(!0)
    }

    /// Folds `data` in; `update(a); update(b)` equals `update(a ++ b)`.
    pub fn update(&mut self, data: &[u8]) {
        let mut crc = self.0;
        let mut chunks = data.chunks_exact(4);
        for c in &mut chunks {
            let x = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            crc = CRC_TABLE[3][(x & 0xff) as usize]
                ^ CRC_TABLE[2][((x >> 8) & 0xff) as usize]
                ^ CRC_TABLE[1][((x >> 16) & 0xff) as usize]
                ^ CRC_TABLE[0][(x >> 24) as usize];
        }
        for &b in chunks.remainder() {
            crc = (crc >> 8) ^ CRC_TABLE[0][((crc ^ b as u32) & 0xff) as usize];
        }
        self.0 = crc;
    }

    pub fn finish(&self) -> u32 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_of_the_standard_check_string() {
        // The check value every CRC-32 catalogue lists for "123456789".
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
        // Piece by piece, split off the 4-byte grain, equals the whole.
        let mut c = Crc32::new();
        for part in [&b"12"[..], b"34567", b"89"] {
            c.update(part);
        }
        assert_eq!(c.finish(), 0xcbf4_3926);
    }
}
