//! Boolean and string value sections.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

use super::CodecError;
use super::varint::{Cursor, put_uvarint};

const BOOL_BITS: u8 = 0;
const BOOL_RLE: u8 = 1;
const STR_RAW: u8 = 0;
const STR_DEFLATE: u8 = 1;

/// Writes whichever of bit-packing and run lengths is smaller: status flags
/// are usually long runs, where RLE costs a few bytes per chunk.
pub(crate) fn encode_bools(vals: &[bool], out: &mut Vec<u8>) {
    let mut rle = vec![BOOL_RLE];
    if let Some(&first) = vals.first() {
        rle.push(u8::from(first));
        let mut run = 0u64;
        let mut cur = first;
        for &v in vals {
            if v == cur {
                run += 1;
            } else {
                put_uvarint(&mut rle, run);
                cur = v;
                run = 1;
            }
        }
        put_uvarint(&mut rle, run);
    }
    let packed_len = 1 + vals.len().div_ceil(8);
    if rle.len() <= packed_len {
        out.extend_from_slice(&rle);
        return;
    }
    out.push(BOOL_BITS);
    for byte in vals.chunks(8) {
        out.push(
            byte.iter()
                .enumerate()
                .fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << i)),
        );
    }
}

pub(crate) fn decode_bools(src: &[u8], n: usize) -> Result<Vec<bool>, CodecError> {
    let mut cur = Cursor::new(src);
    let mut out = Vec::with_capacity(n);
    match cur.u8()? {
        BOOL_BITS => {
            let bytes = cur.bytes(n.div_ceil(8))?;
            out.extend((0..n).map(|i| bytes[i / 8] >> (i % 8) & 1 == 1));
        }
        BOOL_RLE => {
            if n > 0 {
                let mut v = match cur.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(CodecError::Corrupt("boolean run value is not 0 or 1")),
                };
                while out.len() < n {
                    let run = cur.len()?;
                    if run == 0 || run > n - out.len() {
                        return Err(CodecError::Corrupt("boolean run exceeds count"));
                    }
                    out.resize(out.len() + run, v);
                    v = !v;
                }
            }
        }
        _ => return Err(CodecError::Corrupt("unknown boolean scheme")),
    }
    if !cur.is_empty() {
        return Err(CodecError::Corrupt("trailing bytes after booleans"));
    }
    Ok(out)
}

/// Lengths first, then all bytes: deflate sees the lengths as one repetitive
/// block instead of interleaved with text.
pub(crate) fn encode_strings(vals: &[String], out: &mut Vec<u8>) -> Result<(), CodecError> {
    let total: usize = vals.iter().map(String::len).sum();
    let mut raw = Vec::with_capacity(total + vals.len() * 2);
    for s in vals {
        put_uvarint(&mut raw, s.len() as u64);
    }
    for s in vals {
        raw.extend_from_slice(s.as_bytes());
    }
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(&raw)?;
    let deflated = enc.finish()?;
    // Tiny or incompressible chunks would grow under deflate's framing.
    if deflated.len() < raw.len() {
        out.push(STR_DEFLATE);
        put_uvarint(out, raw.len() as u64);
        out.extend_from_slice(&deflated);
    } else {
        out.push(STR_RAW);
        out.extend_from_slice(&raw);
    }
    Ok(())
}

pub(crate) fn decode_strings(src: &[u8], n: usize) -> Result<Vec<String>, CodecError> {
    let mut cur = Cursor::new(src);
    let inflated;
    let raw: &[u8] = match cur.u8()? {
        STR_RAW => cur.bytes(cur.remaining())?,
        STR_DEFLATE => {
            let raw_len = cur.len()?;
            let body = cur.bytes(cur.remaining())?;
            // Reading one byte past the declared size detects a lying header without
            // letting a deflate bomb expand without bound.
            let mut buf = Vec::with_capacity(raw_len.min(body.len().saturating_mul(64)));
            DeflateDecoder::new(body)
                .take(raw_len as u64 + 1)
                .read_to_end(&mut buf)
                .map_err(|_| CodecError::Corrupt("invalid deflate stream"))?;
            if buf.len() != raw_len {
                return Err(CodecError::Corrupt("string section size mismatch"));
            }
            inflated = buf;
            &inflated
        }
        _ => return Err(CodecError::Corrupt("unknown string scheme")),
    };
    let mut cur = Cursor::new(raw);
    let mut lens = Vec::with_capacity(n.min(raw.len()));
    for _ in 0..n {
        lens.push(cur.len()?);
    }
    let text =
        std::str::from_utf8(cur.bytes(cur.remaining())?).map_err(|_| CodecError::InvalidUtf8)?;
    let mut out = Vec::with_capacity(lens.len());
    let mut pos = 0usize;
    for len in lens {
        let end = pos
            .checked_add(len)
            .ok_or(CodecError::Corrupt("string length overflow"))?;
        // `get` refuses a cut inside a UTF-8 sequence, which only a corrupt length produces.
        let s = text
            .get(pos..end)
            .ok_or(CodecError::Corrupt("string lengths do not match text"))?;
        out.push(s.to_owned());
        pos = end;
    }
    if pos != text.len() {
        return Err(CodecError::Corrupt("trailing bytes after strings"));
    }
    Ok(out)
}
