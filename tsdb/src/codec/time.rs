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

/// The timestamps within `[start, end]` into `out` (replacing its contents, keeping its
/// allocation); returns the index of the first one (the number of points before `start`).
/// Delta-of-delta runs are skipped arithmetically, so a regular section costs a few
/// operations per run plus the points kept. The whole section is still walked, and its
/// first and last timestamps are checked against `min`/`max` from the header.
pub(crate) fn decode_range(
    src: &[u8],
    n: usize,
    (start, end): (i64, i64),
    (min, max): (i64, i64),
    out: &mut Vec<i64>,
) -> Result<usize, CodecError> {
    out.clear();
    let mut cur = Cursor::new(src);
    match cur.u8()? {
        SCHEME_PCO => {
            let all = super::pcodec::decode::<i64>(cur.bytes(cur.remaining())?, n)?;
            if all.first() != Some(&min) || all.last() != Some(&max) {
                return Err(CodecError::Corrupt("timestamps disagree with header range"));
            }
            let lo = all.partition_point(|&t| t < start);
            let hi = all.partition_point(|&t| t <= end).max(lo);
            out.extend_from_slice(&all[lo..hi]);
            Ok(lo)
        }
        SCHEME_DOD => {
            let mut r = RangeOut {
                start,
                end,
                below: 0,
                out,
            };
            let mut seen = 0usize;
            let mut t = cur.ivarint()?;
            if t != min {
                return Err(CodecError::Corrupt("timestamps disagree with header range"));
            }
            r.one(t);
            seen += 1;
            let mut delta = 0i64;
            if n > 1 {
                delta = cur.ivarint()?;
                t = t.wrapping_add(delta);
                r.one(t);
                seen += 1;
            }
            while seen < n {
                let dod = cur.ivarint()?;
                if dod == 0 {
                    let run = cur.len()?;
                    if run == 0 || run > n - seen {
                        return Err(CodecError::Corrupt("timestamp run exceeds count"));
                    }
                    t = r.run(t, delta, run);
                    seen += run;
                } else {
                    delta = delta.wrapping_add(dod);
                    t = t.wrapping_add(delta);
                    r.one(t);
                    seen += 1;
                }
            }
            if !cur.is_empty() {
                return Err(CodecError::Corrupt("trailing bytes after timestamps"));
            }
            if t != max {
                return Err(CodecError::Corrupt("timestamps disagree with header range"));
            }
            Ok(r.below)
        }
        _ => Err(CodecError::Corrupt("unknown timestamp scheme")),
    }
}

struct RangeOut<'a> {
    start: i64,
    end: i64,
    below: usize,
    out: &'a mut Vec<i64>,
}

impl RangeOut<'_> {
    #[inline]
    fn one(&mut self, t: i64) {
        if t < self.start {
            self.below += 1;
        } else if t <= self.end {
            self.out.push(t);
        }
    }

    /// `run` points at `t + delta`, `t + 2 * delta`, ...; returns the last.
    fn run(&mut self, t: i64, delta: i64, run: usize) -> i64 {
        let last = t.wrapping_add(delta.wrapping_mul(run as i64));
        if delta <= 0 {
            // Only a chunk spanning most of the i64 range wraps; walk it point by point.
            let mut x = t;
            for _ in 0..run {
                x = x.wrapping_add(delta);
                self.one(x);
            }
            return last;
        }
        // Points k = 1..=run at t + k * delta, computed without overflow in i128.
        let (t128, d) = (i128::from(t), i128::from(delta));
        let k_lo =
            ((i128::from(self.start) - t128 + d - 1).div_euclid(d)).clamp(1, run as i128 + 1);
        let k_hi = ((i128::from(self.end) - t128).div_euclid(d)).clamp(0, run as i128);
        self.below += (k_lo - 1) as usize;
        if k_lo <= k_hi {
            // A counted iterator: one reservation, and a loop the compiler vectorises.
            let (k_lo, k_hi) = (k_lo as i64, k_hi as i64);
            self.out
                .extend((k_lo..=k_hi).map(|k| t.wrapping_add(delta.wrapping_mul(k))));
        }
        last
    }
}
