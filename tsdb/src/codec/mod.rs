//! Column-chunk codecs: one self-describing, checksummed blob per chunk of a
//! (series, field), holding sorted unique timestamps and values of one type.
//!
//! Blob layout (format versions 1 and 2), all integers LEB128 unless noted:
//!
//! ```text
//! version u8 | type code u8 (common::FieldType::code) | flags u8 | count
//! [min_time i64 LE | max_time - min_time]            -- only when count > 0
//! [aggregates: length-prefixed]                      -- only when flags & AGGREGATES
//! crc32 of the header so far, u32 LE
//! timestamps: length-prefixed (scheme byte + payload)
//! values:     length-prefixed (scheme byte + payload)
//! crc32 of all preceding bytes, u32 LE
//! ```
//!
//! Version 2 adds one value scheme: pco in pages of 1024 numbers, preceded by the byte
//! length of each page but the last, so that [`decode_range_into`] decodes only the pages
//! a time range overlaps (about +0.008 bytes/value on the TSBS float set). Version-1
//! blobs (pco in one page) still decode.
//!
//! Why this shape: the header up front, with its own checksum, lets range
//! checks and chunk-level aggregates skip decoding and hashing the payload; the two length-prefixed sections let
//! [`decode_timestamps`] skip the values; scheme bytes let the encoder change
//! codec later without a format bump. Choices and figures are in
//! docs/decisions/2026-11-24-chunk-codecs.md.

mod gorilla;
mod other;
mod pcodec;
mod time;
mod varint;

#[cfg(test)]
mod tests;

use common::FieldType;
use varint::{Cursor, put_uvarint, put_uvarint128};

/// Version byte written first in every blob. Version 2 added the paged pco value
/// section ([`VALUES_PCO_PAGED`]); version-1 blobs still decode.
pub const FORMAT_VERSION: u8 = 2;

/// The oldest version [`decode_chunk`] and friends accept.
const OLDEST_VERSION: u8 = 1;

/// Upper bound on points per chunk. It keeps `count` in a u32 and caps the
/// allocation a corrupt-but-checksummed header could request.
pub const MAX_POINTS: usize = 1 << 24;

/// pco level used by [`encode_chunk`]. Level 6 measured 2.4x faster to encode
/// than pco's default 8 for 0.05 B/value more on full-precision floats.
pub const DEFAULT_PCO_LEVEL: usize = 6;

const FLAG_AGGREGATES: u8 = 1;
const VALUES_PCO: u8 = 0;
const VALUES_GORILLA: u8 = 1;
/// pco in pages of [`pcodec::PAGE_N`] numbers with their byte lengths, so that a range
/// decodes only the pages it overlaps (format version 2).
const VALUES_PCO_PAGED: u8 = 2;

/// Values of one chunk; every variant matches one InfluxDB 1.x field type.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Float(Vec<f64>),
    Integer(Vec<i64>),
    Unsigned(Vec<u64>),
    String(Vec<String>),
    Boolean(Vec<bool>),
}

impl Column {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::Float(v) => v.len(),
            Column::Integer(v) => v.len(),
            Column::Unsigned(v) => v.len(),
            Column::String(v) => v.len(),
            Column::Boolean(v) => v.len(),
        }
    }

    /// True when the column holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The field type, whose [`FieldType::code`] is the blob's type byte.
    pub fn field_type(&self) -> FieldType {
        match self {
            Column::Float(_) => FieldType::Float,
            Column::Integer(_) => FieldType::Integer,
            Column::Unsigned(_) => FieldType::Unsigned,
            Column::String(_) => FieldType::String,
            Column::Boolean(_) => FieldType::Boolean,
        }
    }
}

/// Reusable timestamps + values, the output of [`decode_range_into`] and of
/// `Store::read_column_into`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnBuf {
    pub times: Vec<i64>,
    pub values: Column,
}

impl Default for ColumnBuf {
    fn default() -> Self {
        ColumnBuf {
            times: Vec::new(),
            values: Column::Float(Vec::new()),
        }
    }
}

impl ColumnBuf {
    /// Empties the values, keeping their type and allocation.
    pub fn clear_values(&mut self) {
        match &mut self.values {
            Column::Float(v) => v.clear(),
            Column::Integer(v) => v.clear(),
            Column::Unsigned(v) => v.clear(),
            Column::String(v) => v.clear(),
            Column::Boolean(v) => v.clear(),
        }
    }
}

/// Errors from encoding or decoding a chunk. Corrupt or truncated blobs always
/// produce one of these, never a panic.
#[derive(thiserror::Error, Debug)]
pub enum CodecError {
    /// The blob ends before a field it declares.
    #[error("chunk is truncated")]
    Truncated,
    /// The blob is structurally invalid.
    #[error("chunk is corrupt: {0}")]
    Corrupt(&'static str),
    /// The stored CRC32 does not match the bytes.
    #[error("chunk checksum mismatch")]
    Checksum,
    /// Written by a newer (or unknown) format version.
    #[error("unsupported chunk format version {0}")]
    UnsupportedVersion(u8),
    /// The type byte is not a known [`FieldType`] code.
    #[error("unknown value type code {0}")]
    UnknownType(u8),
    /// A decoded string is not UTF-8.
    #[error("string value is not valid UTF-8")]
    InvalidUtf8,
    /// Encoding input: timestamps and values differ in length.
    #[error("{timestamps} timestamps but {values} values")]
    LengthMismatch { timestamps: usize, values: usize },
    /// Encoding input: timestamps are not strictly increasing at `index`.
    #[error("timestamps must be strictly increasing (at index {index})")]
    Unsorted { index: usize },
    /// Encoding input: more than [`MAX_POINTS`] points.
    #[error("chunk of {0} points exceeds the limit of {MAX_POINTS}")]
    TooManyPoints(usize),
    /// pco rejected the input or the compressed section.
    #[error("pco: {0}")]
    Pco(#[from] pco::errors::PcoError),
    /// deflate failed while encoding strings.
    #[error("deflate: {0}")]
    Io(#[from] std::io::Error),
}

/// Cheap summary of a chunk, read without decoding either section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    /// Number of points.
    pub count: u32,
    /// First timestamp (0 when `count` is 0).
    pub min_time: i64,
    /// Last timestamp (0 when `count` is 0).
    pub max_time: i64,
    /// [`FieldType::code`] of the values.
    pub value_type: u8,
}

/// Per-chunk aggregates stored at encode time, so `count/min/max/sum/mean`
/// over windows that cover whole chunks need no decoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChunkAggregates {
    /// `min`/`max` skip NaN (NaN only if every value is NaN); `sum` is the
    /// in-order f64 sum, so it matches a sequential scan of the chunk.
    Float { min: f64, max: f64, sum: f64 },
    /// Exact sum; i128 cannot overflow for [`MAX_POINTS`] values.
    Integer { min: i64, max: i64, sum: i128 },
    /// Exact sum; u128 cannot overflow for [`MAX_POINTS`] values.
    Unsigned { min: u64, max: u64, sum: u128 },
    /// Number of `true` values.
    Boolean { trues: u64 },
}

/// Timestamp section codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeCodec {
    /// Delta-of-delta, replaced by pco when the timestamps are irregular enough
    /// for pco to be smaller.
    #[default]
    Auto,
    /// pco with first-order deltas: compact for jittered timestamps, slower to decode.
    Pco,
    /// Delta-of-delta zigzag varints with zero runs collapsed: a few bytes per
    /// chunk for regular intervals, ~3-4 bytes per point under jitter.
    DeltaOfDelta,
}

/// Float value section codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FloatCodec {
    /// pco, lossless; detects decimal-like floats (FloatMult) by itself.
    #[default]
    Pco,
    /// Gorilla XOR: faster to encode, larger on most data.
    Gorilla,
}

/// Encoder knobs; [`encode_chunk`] uses the defaults, which are the measured choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    pub time: TimeCodec,
    pub float: FloatCodec,
    /// pco compression level, 0..=12.
    pub pco_level: usize,
    /// Store [`ChunkAggregates`] in the header (a few to 24 bytes per chunk).
    pub aggregates: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            time: TimeCodec::Auto,
            float: FloatCodec::Pco,
            pco_level: DEFAULT_PCO_LEVEL,
            aggregates: true,
        }
    }
}

/// Encodes timestamps + values into one self-describing blob: a format version
/// byte, the type code ([`FieldType::code`]), count, then the encoded timestamps
/// and values sections. Timestamps must be strictly increasing.
pub fn encode_chunk(timestamps: &[i64], values: &Column) -> Result<Vec<u8>, CodecError> {
    encode_chunk_with(timestamps, values, &EncodeOptions::default())
}

/// [`encode_chunk`] with explicit codec choices; any blob decodes with [`decode_chunk`].
pub fn encode_chunk_with(
    timestamps: &[i64],
    values: &Column,
    opts: &EncodeOptions,
) -> Result<Vec<u8>, CodecError> {
    encode_versioned(timestamps, values, opts, FORMAT_VERSION)
}

/// Writes a version-1 blob (pco values in one page), for the compatibility tests.
#[cfg(test)]
pub(crate) fn encode_chunk_v1(
    timestamps: &[i64],
    values: &Column,
    opts: &EncodeOptions,
) -> Result<Vec<u8>, CodecError> {
    encode_versioned(timestamps, values, opts, 1)
}

fn encode_versioned(
    timestamps: &[i64],
    values: &Column,
    opts: &EncodeOptions,
    version: u8,
) -> Result<Vec<u8>, CodecError> {
    let n = timestamps.len();
    if values.len() != n {
        return Err(CodecError::LengthMismatch {
            timestamps: n,
            values: values.len(),
        });
    }
    if n > MAX_POINTS {
        return Err(CodecError::TooManyPoints(n));
    }
    if let Some(i) = timestamps.windows(2).position(|w| w[0] >= w[1]) {
        return Err(CodecError::Unsorted { index: i + 1 });
    }
    let mut out = Vec::with_capacity(32 + n * 2);
    out.push(version);
    out.push(values.field_type().code());
    let aggregates = if opts.aggregates {
        aggregates_of(values)
    } else {
        None
    };
    out.push(if aggregates.is_some() {
        FLAG_AGGREGATES
    } else {
        0
    });
    put_uvarint(&mut out, n as u64);
    if let (Some(&first), Some(&last)) = (timestamps.first(), timestamps.last()) {
        out.extend_from_slice(&first.to_le_bytes());
        put_uvarint(&mut out, last.wrapping_sub(first) as u64);
    }
    if let Some(agg) = aggregates {
        let mut sec = Vec::with_capacity(32);
        write_aggregates(&agg, &mut sec);
        put_section(&mut out, &sec);
    }
    let header_crc = crc32(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    let mut sec = Vec::new();
    if n > 0 {
        time::encode(timestamps, opts.time, opts.pco_level, &mut sec)?;
    }
    put_section(&mut out, &sec);
    sec.clear();
    if n > 0 {
        encode_values(values, opts, version >= 2, &mut sec)?;
    }
    put_section(&mut out, &sec);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn encode_values(
    values: &Column,
    opts: &EncodeOptions,
    paged: bool,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    fn numbers<T: pco::data_types::Number>(
        v: &[T],
        level: usize,
        paged: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        if paged {
            out.push(VALUES_PCO_PAGED);
            pcodec::encode_paged(v, level, pco::DeltaSpec::Auto, out)
        } else {
            out.push(VALUES_PCO);
            pcodec::encode(v, level, pco::DeltaSpec::Auto, out)
        }
    }
    match values {
        Column::Float(v) => match opts.float {
            FloatCodec::Pco => numbers(v, opts.pco_level, paged, out),
            FloatCodec::Gorilla => {
                out.push(VALUES_GORILLA);
                gorilla::encode(v, out);
                Ok(())
            }
        },
        Column::Integer(v) => numbers(v, opts.pco_level, paged, out),
        Column::Unsigned(v) => numbers(v, opts.pco_level, paged, out),
        Column::String(v) => other::encode_strings(v, out),
        Column::Boolean(v) => {
            other::encode_bools(v, out);
            Ok(())
        }
    }
}

fn put_section(out: &mut Vec<u8>, sec: &[u8]) {
    put_uvarint(out, sec.len() as u64);
    out.extend_from_slice(sec);
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// The parsed blob: header fields plus borrowed, still-encoded sections.
struct Parsed<'a> {
    header: ChunkHeader,
    field_type: FieldType,
    aggregates: Option<&'a [u8]>,
    times: &'a [u8],
    values: &'a [u8],
}

/// How much of the blob [`parse`] must vouch for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verify {
    /// Header CRC only: enough for [`read_header`] and [`read_aggregates`], whose
    /// cost then stays independent of the chunk's size.
    Header,
    /// Header CRC and blob CRC, before any section decoder sees the payload.
    All,
}

/// Checks the checksums and splits the blob. A flipped bit anywhere gives an
/// error on the paths that read the affected bytes; structural checks (every
/// length in bounds, nothing trailing) run on every path, so truncation always does.
fn parse(blob: &[u8], verify: Verify) -> Result<Parsed<'_>, CodecError> {
    let body_len = blob.len().checked_sub(4).ok_or(CodecError::Truncated)?;
    let (body, tail) = blob.split_at(body_len);
    let mut cur = Cursor::new(body);
    let version = cur.u8()?;
    if !(OLDEST_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(CodecError::UnsupportedVersion(version));
    }
    let code = cur.u8()?;
    let flags = cur.u8()?;
    let count = cur.len()?;
    let range = if count > 0 {
        Some((cur.i64_le()?, cur.uvarint()?))
    } else {
        None
    };
    let aggregates = if flags & FLAG_AGGREGATES != 0 {
        Some(cur.section()?)
    } else {
        None
    };
    let header_len = body.len() - cur.remaining();
    let header_crc = u32::from_le_bytes(cur.array4()?);
    if header_crc != crc32(&body[..header_len]) {
        return Err(CodecError::Checksum);
    }
    let times = cur.section()?;
    let values = cur.section()?;
    if !cur.is_empty() {
        return Err(CodecError::Corrupt("trailing bytes after values"));
    }
    if verify == Verify::All {
        let mut stored = [0u8; 4];
        stored.copy_from_slice(tail);
        if u32::from_le_bytes(stored) != crc32(body) {
            return Err(CodecError::Checksum);
        }
    }
    // The header checksum makes these checks redundant for honest blobs; they
    // remain so that a blob forged with valid checksums still cannot mislead.
    let field_type = FieldType::from_code(code).ok_or(CodecError::UnknownType(code))?;
    if flags & !FLAG_AGGREGATES != 0 {
        return Err(CodecError::Corrupt("unknown flags"));
    }
    if count > MAX_POINTS {
        return Err(CodecError::Corrupt("count exceeds MAX_POINTS"));
    }
    let (min_time, max_time) = match range {
        Some((min, span)) => {
            let max = min.wrapping_add(span as i64);
            if max < min || (count == 1) != (span == 0) {
                return Err(CodecError::Corrupt("time range inconsistent with count"));
            }
            (min, max)
        }
        None => (0, 0),
    };
    if count == 0 && !(times.is_empty() && values.is_empty()) {
        return Err(CodecError::Corrupt("empty chunk with data"));
    }
    let header = ChunkHeader {
        count: count as u32,
        min_time,
        max_time,
        value_type: code,
    };
    Ok(Parsed {
        header,
        field_type,
        aggregates,
        times,
        values,
    })
}

/// Byte counts of a blob's parts, for measuring where the space goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SectionSizes {
    /// Version, type, flags, count, time range, section lengths and checksums.
    pub header: usize,
    /// The aggregates section (0 when absent).
    pub aggregates: usize,
    /// The encoded timestamps.
    pub timestamps: usize,
    /// The encoded values.
    pub values: usize,
}

/// Splits a blob's size into its parts without decoding the sections.
pub fn section_sizes(blob: &[u8]) -> Result<SectionSizes, CodecError> {
    let p = parse(blob, Verify::Header)?;
    let aggregates = p.aggregates.map_or(0, <[u8]>::len);
    let (timestamps, values) = (p.times.len(), p.values.len());
    Ok(SectionSizes {
        header: blob.len() - aggregates - timestamps - values,
        aggregates,
        timestamps,
        values,
    })
}

/// Decodes a blob written by [`encode_chunk`] into timestamps and values.
pub fn decode_chunk(blob: &[u8]) -> Result<(Vec<i64>, Column), CodecError> {
    let p = parse(blob, Verify::All)?;
    let ts = decode_times(&p)?;
    let n = ts.len();
    let values = if n == 0 {
        empty_column(p.field_type)
    } else {
        decode_values(p.field_type, p.values, n)?
    };
    Ok((ts, values))
}

/// Decodes only the timestamps, for range checks; the value section is not touched.
pub fn decode_timestamps(blob: &[u8]) -> Result<Vec<i64>, CodecError> {
    decode_times(&parse(blob, Verify::All)?)
}

/// Reads the count, time range and type without decoding any section. Checks
/// the header's own checksum but not the payload's, so its cost does not grow
/// with the chunk.
pub fn read_header(blob: &[u8]) -> Result<ChunkHeader, CodecError> {
    Ok(parse(blob, Verify::Header)?.header)
}

/// Reads the stored aggregates without decoding any section. `None` for string
/// chunks, empty chunks, and blobs encoded with `aggregates: false`.
/// Like [`read_header`], checks only the header checksum.
pub fn read_aggregates(blob: &[u8]) -> Result<Option<ChunkAggregates>, CodecError> {
    let p = parse(blob, Verify::Header)?;
    match p.aggregates {
        Some(sec) => read_aggregate_section(p.field_type, sec).map(Some),
        None => Ok(None),
    }
}

fn decode_times(p: &Parsed<'_>) -> Result<Vec<i64>, CodecError> {
    let n = p.header.count as usize;
    if n == 0 {
        return Ok(Vec::new());
    }
    let ts = time::decode(p.times, n)?;
    // The header range is what range checks trust, so it must agree with the data.
    if ts.first() != Some(&p.header.min_time) || ts.last() != Some(&p.header.max_time) {
        return Err(CodecError::Corrupt("timestamps disagree with header range"));
    }
    Ok(ts)
}

fn empty_column(t: FieldType) -> Column {
    match t {
        FieldType::Float => Column::Float(Vec::new()),
        FieldType::Integer => Column::Integer(Vec::new()),
        FieldType::Unsigned => Column::Unsigned(Vec::new()),
        FieldType::String => Column::String(Vec::new()),
        FieldType::Boolean => Column::Boolean(Vec::new()),
    }
}

fn decode_values(t: FieldType, sec: &[u8], n: usize) -> Result<Column, CodecError> {
    let mut col = empty_column(t);
    decode_values_range(sec, n, 0, n, &mut col)?;
    Ok(col)
}

/// Decodes the values at indexes `lo..hi` of a value section of `n` values into `col`,
/// which must be of the section's type (its contents are replaced, its allocation kept).
/// Paged pco sections decode only the pages overlapping the range; the other schemes
/// decode everything and trim.
fn decode_values_range(
    sec: &[u8],
    n: usize,
    lo: usize,
    hi: usize,
    col: &mut Column,
) -> Result<(), CodecError> {
    fn numbers<T: pco::data_types::Number + Copy + Default>(
        cur: &mut Cursor<'_>,
        n: usize,
        (lo, hi): (usize, usize),
        out: &mut Vec<T>,
        what: &'static str,
    ) -> Result<(), CodecError> {
        match cur.u8()? {
            VALUES_PCO_PAGED => pcodec::decode_range(cur.bytes(cur.remaining())?, n, lo, hi, out),
            VALUES_PCO => {
                *out = pcodec::decode(cur.bytes(cur.remaining())?, n)?;
                trim(out, lo, hi);
                Ok(())
            }
            _ => Err(CodecError::Corrupt(what)),
        }
    }
    let mut cur = Cursor::new(sec);
    match col {
        Column::Float(out) => {
            let mut peek = Cursor::new(sec);
            if peek.u8()? == VALUES_GORILLA {
                *out = gorilla::decode(peek.bytes(peek.remaining())?, n)?;
                trim(out, lo, hi);
                Ok(())
            } else {
                numbers(&mut cur, n, (lo, hi), out, "unknown float scheme")
            }
        }
        Column::Integer(out) => numbers(&mut cur, n, (lo, hi), out, "unknown integer scheme"),
        Column::Unsigned(out) => numbers(&mut cur, n, (lo, hi), out, "unknown integer scheme"),
        Column::String(out) => {
            *out = other::decode_strings(sec, n)?;
            trim(out, lo, hi);
            Ok(())
        }
        Column::Boolean(out) => {
            *out = other::decode_bools(sec, n)?;
            trim(out, lo, hi);
            Ok(())
        }
    }
}

fn trim<T>(v: &mut Vec<T>, lo: usize, hi: usize) {
    v.truncate(hi);
    v.drain(..lo.min(v.len()));
}

/// Decodes the points with `start <= time <= end` into `times` and `values`, replacing
/// their contents and reusing their allocations (`values` changes variant when the
/// chunk's type differs). Timestamps are walked without materialising those outside the
/// range, and paged value sections decode only the pages the range overlaps, so a query
/// over an hour of a day-long chunk costs a fraction of [`decode_chunk`]. Checks the same
/// checksums as [`decode_chunk`].
pub fn decode_range_into(
    blob: &[u8],
    start: i64,
    end: i64,
    times: &mut Vec<i64>,
    values: &mut Column,
) -> Result<(), CodecError> {
    range_into(parse(blob, Verify::All)?, start, end, times, values)
}

/// Checks both checksums and the structure of a blob without decoding its sections.
pub fn verify(blob: &[u8]) -> Result<ChunkHeader, CodecError> {
    Ok(parse(blob, Verify::All)?.header)
}

/// [`decode_range_into`] without hashing the whole blob, for a blob that [`verify`] (or
/// a decode) accepted and that has stayed in memory since
/// (a cache of blobs). The header checksum and every structural check still run.
pub fn decode_range_into_verified(
    blob: &[u8],
    start: i64,
    end: i64,
    times: &mut Vec<i64>,
    values: &mut Column,
) -> Result<(), CodecError> {
    range_into(parse(blob, Verify::Header)?, start, end, times, values)
}

fn range_into(
    p: Parsed<'_>,
    start: i64,
    end: i64,
    times: &mut Vec<i64>,
    values: &mut Column,
) -> Result<(), CodecError> {
    if values.field_type() != p.field_type {
        *values = empty_column(p.field_type);
    }
    let n = p.header.count as usize;
    if n == 0 || start > end || p.header.max_time < start || p.header.min_time > end {
        times.clear();
        clear_column(values);
        return Ok(());
    }
    let lo = time::decode_range(
        p.times,
        n,
        (start, end),
        (p.header.min_time, p.header.max_time),
        times,
    )?;
    decode_values_range(p.values, n, lo, lo + times.len(), values)?;
    if values.len() != times.len() {
        return Err(CodecError::Corrupt("values shorter than timestamps"));
    }
    Ok(())
}

fn clear_column(c: &mut Column) {
    match c {
        Column::Float(v) => v.clear(),
        Column::Integer(v) => v.clear(),
        Column::Unsigned(v) => v.clear(),
        Column::String(v) => v.clear(),
        Column::Boolean(v) => v.clear(),
    }
}

fn aggregates_of(values: &Column) -> Option<ChunkAggregates> {
    if values.is_empty() {
        return None;
    }
    match values {
        Column::Float(v) => {
            let (mut min, mut max, mut sum) = (f64::NAN, f64::NAN, 0.0);
            for &x in v {
                // f64::min/max return the non-NaN operand, which is the skip-NaN rule we want.
                min = min.min(x);
                max = max.max(x);
                sum += x;
            }
            Some(ChunkAggregates::Float { min, max, sum })
        }
        Column::Integer(v) => Some(ChunkAggregates::Integer {
            min: v.iter().copied().min().unwrap_or(0),
            max: v.iter().copied().max().unwrap_or(0),
            sum: v.iter().map(|&x| i128::from(x)).sum(),
        }),
        Column::Unsigned(v) => Some(ChunkAggregates::Unsigned {
            min: v.iter().copied().min().unwrap_or(0),
            max: v.iter().copied().max().unwrap_or(0),
            sum: v.iter().map(|&x| u128::from(x)).sum(),
        }),
        Column::Boolean(v) => Some(ChunkAggregates::Boolean {
            trues: v.iter().filter(|&&b| b).count() as u64,
        }),
        Column::String(_) => None,
    }
}

fn write_aggregates(agg: &ChunkAggregates, out: &mut Vec<u8>) {
    match *agg {
        ChunkAggregates::Float { min, max, sum } => {
            for x in [min, max, sum] {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        ChunkAggregates::Integer { min, max, sum } => {
            varint::put_ivarint(out, min);
            varint::put_ivarint(out, max);
            put_uvarint128(out, ((sum << 1) ^ (sum >> 127)) as u128);
        }
        ChunkAggregates::Unsigned { min, max, sum } => {
            put_uvarint(out, min);
            put_uvarint(out, max);
            put_uvarint128(out, sum);
        }
        ChunkAggregates::Boolean { trues } => put_uvarint(out, trues),
    }
}

fn read_aggregate_section(t: FieldType, sec: &[u8]) -> Result<ChunkAggregates, CodecError> {
    let mut cur = Cursor::new(sec);
    let agg = match t {
        FieldType::Float => ChunkAggregates::Float {
            min: cur.f64_le()?,
            max: cur.f64_le()?,
            sum: cur.f64_le()?,
        },
        FieldType::Integer => {
            let (min, max) = (cur.ivarint()?, cur.ivarint()?);
            let z = cur.uvarint128()?;
            let sum = ((z >> 1) as i128) ^ -((z & 1) as i128);
            ChunkAggregates::Integer { min, max, sum }
        }
        FieldType::Unsigned => ChunkAggregates::Unsigned {
            min: cur.uvarint()?,
            max: cur.uvarint()?,
            sum: cur.uvarint128()?,
        },
        FieldType::Boolean => ChunkAggregates::Boolean {
            trues: cur.uvarint()?,
        },
        FieldType::String => return Err(CodecError::Corrupt("aggregates on a string chunk")),
    };
    if !cur.is_empty() {
        return Err(CodecError::Corrupt("trailing bytes after aggregates"));
    }
    Ok(agg)
}
