//! Bounds-checked byte cursor and LEB128 varints shared by the chunk sections.

use super::CodecError;

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zigzag keeps small negative numbers short (delta-of-delta jitter is signed).
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends `v` as a zigzag LEB128 varint.
pub(crate) fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// Forward-only reader over a blob. Every read is checked so that truncated or
/// corrupt input surfaces as [`CodecError`] instead of an index panic.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CodecError> {
        let b = *self.buf.get(self.pos).ok_or(CodecError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).ok_or(CodecError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(CodecError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn array8(&mut self) -> Result<[u8; 8], CodecError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.bytes(8)?);
        Ok(a)
    }

    pub(crate) fn array4(&mut self) -> Result<[u8; 4], CodecError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.bytes(4)?);
        Ok(a)
    }

    pub(crate) fn i64_le(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_le_bytes(self.array8()?))
    }

    pub(crate) fn f64_le(&mut self) -> Result<f64, CodecError> {
        Ok(f64::from_le_bytes(self.array8()?))
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            // The 10th byte may only carry the top bit; anything more is not a u64.
            if shift == 63 && b > 1 {
                return Err(CodecError::Corrupt("varint overflows u64"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Corrupt("varint too long"))
    }

    pub(crate) fn ivarint(&mut self) -> Result<i64, CodecError> {
        Ok(unzigzag(self.uvarint()?))
    }

    /// A varint used as a length or count, checked against `usize`.
    pub(crate) fn len(&mut self) -> Result<usize, CodecError> {
        usize::try_from(self.uvarint()?).map_err(|_| CodecError::Corrupt("length overflows usize"))
    }

    /// A length-prefixed byte section.
    pub(crate) fn section(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.len()?;
        self.bytes(n)
    }
}

/// Appends a u128 as LEB128; only aggregate sums need the extra width.
pub(crate) fn put_uvarint128(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Cursor<'_> {
    pub(crate) fn uvarint128(&mut self) -> Result<u128, CodecError> {
        let mut v = 0u128;
        for shift in (0..128).step_by(7) {
            let b = self.u8()?;
            if shift == 126 && b > 3 {
                return Err(CodecError::Corrupt("varint overflows u128"));
            }
            v |= u128::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Corrupt("varint too long"))
    }
}
