//! Gorilla XOR float encoding (Pelkonen et al., VLDB 2015), kept as an
//! alternative to pco: it encodes faster but compresses full-precision and
//! decimal floats worse (see docs/decisions/2026-11-24-chunk-codecs.md).

use super::CodecError;

struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    fill: u32,
}

impl<'a> BitWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter {
            out,
            acc: 0,
            fill: 0,
        }
    }

    /// Writes the low `n` bits of `v`, most significant first (n <= 64).
    fn write(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
        let space = 64 - self.fill;
        if n < space {
            self.acc |= v << (space - n);
            self.fill += n;
        } else {
            self.acc |= v >> (n - space);
            self.out.extend_from_slice(&self.acc.to_be_bytes());
            self.fill = n - space;
            self.acc = if self.fill == 0 {
                0
            } else {
                v << (64 - self.fill)
            };
        }
    }

    fn finish(self) {
        let bytes = self.fill.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_be_bytes()[..bytes]);
    }
}

struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    /// Reads `n` bits (n <= 64); running past the end is truncation, not a panic.
    fn read(&mut self, n: u32) -> Result<u64, CodecError> {
        if n == 0 {
            return Ok(0);
        }
        let end = self.pos + n as usize;
        if end > self.buf.len() * 8 {
            return Err(CodecError::Truncated);
        }
        let byte = self.pos >> 3;
        let mut w = [0u8; 16];
        let avail = self.buf.get(byte..).unwrap_or_default();
        let take = avail.len().min(16);
        w[..take].copy_from_slice(&avail[..take]);
        let x = u128::from_be_bytes(w) << (self.pos & 7);
        self.pos = end;
        Ok((x >> (128 - n)) as u64)
    }

    fn bit(&mut self) -> Result<bool, CodecError> {
        Ok(self.read(1)? == 1)
    }
}

/// Appends the XOR-encoded bit stream of `vals` (the count lives in the chunk header).
pub(crate) fn encode(vals: &[f64], out: &mut Vec<u8>) {
    let Some((first, rest)) = vals.split_first() else {
        return;
    };
    let mut w = BitWriter::new(out);
    let mut prev = first.to_bits();
    w.write(prev, 64);
    // 65 marks "no window yet", forcing the first non-zero XOR to declare one.
    let (mut lead, mut trail) = (65u32, 0u32);
    for v in rest {
        let bits = v.to_bits();
        let x = bits ^ prev;
        prev = bits;
        if x == 0 {
            w.write(0, 1);
            continue;
        }
        // 5 bits hold the leading-zero count, so it saturates at 31.
        let (l, t) = (x.leading_zeros().min(31), x.trailing_zeros());
        if lead <= 64 && l >= lead && t >= trail {
            w.write(0b10, 2);
            w.write(x >> trail, 64 - lead - trail);
        } else {
            let meaningful = 64 - l - t;
            w.write(0b11, 2);
            w.write(u64::from(l), 5);
            // 64 meaningful bits do not fit in 6 bits; 0 stands for 64 since 0 never occurs.
            w.write(u64::from(meaningful & 63), 6);
            w.write(x >> t, meaningful);
            lead = l;
            trail = t;
        }
    }
    w.finish();
}

pub(crate) fn decode(src: &[u8], n: usize) -> Result<Vec<f64>, CodecError> {
    // Every value after the first costs at least one bit, which bounds a corrupt count
    // before it turns into a huge allocation.
    if n > 0 && n - 1 > src.len().saturating_mul(8) {
        return Err(CodecError::Truncated);
    }
    let mut out = Vec::with_capacity(n);
    let mut r = BitReader { buf: src, pos: 0 };
    if n > 0 {
        let mut prev = r.read(64)?;
        out.push(f64::from_bits(prev));
        let (mut lead, mut trail) = (0u32, 0u32);
        let mut have_window = false;
        while out.len() < n {
            if r.bit()? {
                if r.bit()? {
                    lead = r.read(5)? as u32;
                    let m = match r.read(6)? as u32 {
                        0 => 64,
                        m => m,
                    };
                    if lead + m > 64 {
                        return Err(CodecError::Corrupt("gorilla window exceeds 64 bits"));
                    }
                    trail = 64 - lead - m;
                    have_window = true;
                } else if !have_window {
                    return Err(CodecError::Corrupt(
                        "gorilla reuses a window before defining one",
                    ));
                }
                prev ^= r.read(64 - lead - trail)? << trail;
            }
            out.push(f64::from_bits(prev));
        }
    }
    if src.len() != r.pos.div_ceil(8) {
        return Err(CodecError::Corrupt("trailing bytes after gorilla stream"));
    }
    Ok(out)
}
