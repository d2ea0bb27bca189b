//! Timestamp section: a scheme byte, then either pco (with delta encoding) or
//! delta-of-delta varints with zero runs collapsed.

use super::varint::{Cursor, put_ivarint, put_uvarint};
use super::{CodecError, TimeCodec};

const SCHEME_PCO: u8 = 0;
const SCHEME_DOD: u8 = 1;

pub(crate) fn encode(
    ts: &[i64],
    codec: TimeCodec,
    level: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    match codec {
        TimeCodec::Pco => {
            out.push(SCHEME_PCO);
            // Order 1 turns a regular interval into a constant, which pco stores in ~0 bits;
            // "Try" still falls back to no delta if the data disagrees.
            super::pcodec::encode(ts, level, pco::DeltaSpec::TryConsecutive(1), out)
        }
        TimeCodec::DeltaOfDelta => {
            out.push(SCHEME_DOD);
            encode_dod(ts, out);
            Ok(())
        }
        TimeCodec::Auto => {
            let start = out.len();
            out.push(SCHEME_DOD);
            encode_dod(ts, out);
            // Regular intervals cost a few bytes per chunk in delta-of-delta and it
            // decodes 2-4x faster than pco, so pco is only tried once the stream shows
            // jitter or gaps, where pco's binning (and GCD detection for ms/us
            // precision) wins by 1.2-5x.
            if out.len() - start <= AUTO_PCO_MIN_BYTES + ts.len() / 32 {
                return Ok(());
            }
            let mut alt = vec![SCHEME_PCO];
            super::pcodec::encode(ts, level, pco::DeltaSpec::TryConsecutive(1), &mut alt)?;
            if alt.len() < out.len() - start {
                out.truncate(start);
                out.extend_from_slice(&alt);
            }
            Ok(())
        }
    }
}

/// Below this many bytes (plus 1/32 byte per point) the delta-of-delta result is kept
/// without trying pco; pco's own metadata would not fit in it anyway.
const AUTO_PCO_MIN_BYTES: usize = 24;

pub(crate) fn decode(src: &[u8], n: usize) -> Result<Vec<i64>, CodecError> {
    let mut cur = Cursor::new(src);
    match cur.u8()? {
        SCHEME_PCO => super::pcodec::decode::<i64>(cur.bytes(cur.remaining())?, n),
        SCHEME_DOD => decode_dod(&mut cur, n),
        _ => Err(CodecError::Corrupt("unknown timestamp scheme")),
    }
}

/// Arithmetic wraps on purpose: a chunk may span i64::MIN..i64::MAX, whose delta
/// overflows i64, and modular arithmetic still round-trips exactly.
fn encode_dod(ts: &[i64], out: &mut Vec<u8>) {
    let Some((&first, rest)) = ts.split_first() else {
        return;
    };
    put_ivarint(out, first);
    let (mut prev, mut prev_delta) = (first, 0i64);
    let mut zeros = 0u64;
    for (i, &t) in rest.iter().enumerate() {
        let delta = t.wrapping_sub(prev);
        prev = t;
        if i == 0 {
            put_ivarint(out, delta);
            prev_delta = delta;
            continue;
        }
        let dod = delta.wrapping_sub(prev_delta);
        prev_delta = delta;
        if dod == 0 {
            zeros += 1;
            continue;
        }
        flush_zeros(out, &mut zeros);
        put_ivarint(out, dod);
    }
    flush_zeros(out, &mut zeros);
}

/// A run of equal deltas becomes a 0 token plus its length, so a regular
/// interval costs a few bytes per chunk instead of one byte per point.
fn flush_zeros(out: &mut Vec<u8>, zeros: &mut u64) {
    if *zeros > 0 {
        out.push(0);
        put_uvarint(out, *zeros);
        *zeros = 0;
    }
}

fn decode_dod(cur: &mut Cursor<'_>, n: usize) -> Result<Vec<i64>, CodecError> {
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return finish(cur, out);
    }
    let mut t = cur.ivarint()?;
    out.push(t);
    if n == 1 {
        return finish(cur, out);
    }
    let mut delta = cur.ivarint()?;
    t = t.wrapping_add(delta);
    out.push(t);
    while out.len() < n {
        let dod = cur.ivarint()?;
        if dod == 0 {
            let run = cur.len()?;
            if run == 0 || run > n - out.len() {
                return Err(CodecError::Corrupt("timestamp run exceeds count"));
            }
            for _ in 0..run {
                t = t.wrapping_add(delta);
                out.push(t);
            }
        } else {
            delta = delta.wrapping_add(dod);
            t = t.wrapping_add(delta);
            out.push(t);
        }
    }
    finish(cur, out)
}

fn finish(cur: &Cursor<'_>, out: Vec<i64>) -> Result<Vec<i64>, CodecError> {
    if cur.is_empty() {
        Ok(out)
    } else {
        Err(CodecError::Corrupt("trailing bytes after timestamps"))
    }
}
