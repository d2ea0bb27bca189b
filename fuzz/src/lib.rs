//! Fuzz targets for every parser and decoder that sees untrusted bytes.
//!
//! Each target takes arbitrary bytes and panics only when an invariant breaks: a parser
//! that panics, an error without a position, or a value that does not survive its own
//! round trip. The same functions are driven two ways:
//! - by libFuzzer, coverage-guided, for long runs (`scripts/fuzz.sh TARGET SECONDS`,
//!   the `fuzz_targets/` binaries behind the `libfuzzer` feature);
//! - by `tests/corpus.rs` in the ordinary test suite: every file of `corpus/TARGET/` plus
//!   a fixed number of deterministic mutations of them ([`mutate`]), so CI runs a short,
//!   reproducible fuzz pass without instrumentation.

pub mod mutate;

use common::line_protocol::{Limits, Parser, Precision, try_write_point_ref};
use common::{FieldValue, Point};
use tsdb::codec::{Column, decode_chunk, encode_chunk};

/// The targets by name, as `corpus/` and `scripts/fuzz.sh` spell them.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("line_protocol", line_protocol),
    ("influxql", influxql),
    ("tickscript", tickscript),
    ("chunk_decode", chunk_decode),
    ("chunk_roundtrip", chunk_roundtrip),
];

/// Line protocol: no panic; every error has a 1-based position; every accepted point,
/// written back out, parses to the same point.
pub fn line_protocol(data: &[u8]) {
    let limits = Limits {
        max_line_bytes: 4096,
        max_tags: 64,
        max_fields: 64,
        max_series_key_bytes: 1024,
    };
    for item in Parser::with_limits(data, Precision::Nanosecond, limits) {
        match item {
            Err(e) => assert!(e.line >= 1 && e.column >= 1, "unpositioned error: {e}"),
            Ok(point) => {
                let mut line = String::new();
                if try_write_point_ref(&mut line, &point).is_err() {
                    continue;
                }
                let original = point.to_owned_point();
                if has_unspellable_name(&original) {
                    continue;
                }
                let mut again = Parser::with_limits(line.as_bytes(), Precision::Nanosecond, limits);
                match again.next() {
                    Some(Ok(p)) => assert_same_point(&original, &p.to_owned_point(), &line),
                    other => panic!("{line:?} written from a parsed point reparses as {other:?}"),
                }
                assert!(
                    again.next().is_none(),
                    "{line:?} reparses as several points"
                );
            }
        }
    }
}

/// Names with a newline or a backslash have no exact spelling in every case: a raw newline
/// has none at all (the writer turns it into `\n` so that it can never start a new line), and
/// 1.x's escaping (unescaped twice for measurements, a trailing backslash escaping the
/// delimiter) cannot give back every backslash sequence, and 1.x skips a NUL byte as white
/// space before the first field key (so `m \0=1` has an empty field key, which `m =1` cannot
/// have), as it skips tabs there (a later field key `\ttime` cannot come first). Such points
/// are not round-tripped.
fn has_unspellable_name(p: &Point) -> bool {
    let names = std::iter::once(&p.measurement)
        .chain(p.tags.iter().flat_map(|(k, v)| [k, v]))
        .chain(p.fields.iter().map(|(k, _)| k));
    names
        .into_iter()
        .any(|n| n.is_empty() || n.contains(['\n', '\\', '\0', '\t']))
}

fn assert_same_point(a: &Point, b: &Point, line: &str) {
    assert_eq!(a.measurement, b.measurement, "measurement of {line:?}");
    assert_eq!(a.tags, b.tags, "tags of {line:?}");
    assert_eq!(a.timestamp, b.timestamp, "timestamp of {line:?}");
    assert_eq!(a.fields.len(), b.fields.len(), "fields of {line:?}");
    for ((ka, va), (kb, vb)) in a.fields.iter().zip(&b.fields) {
        assert_eq!(ka, kb, "field key of {line:?}");
        let same = match (va, vb) {
            // Bitwise, so that -0.0 and 0.0 are told apart.
            (FieldValue::Float(x), FieldValue::Float(y)) => x.to_bits() == y.to_bits(),
            _ => va == vb,
        };
        assert!(same, "field {ka:?} of {line:?}: {va:?} became {vb:?}");
    }
}

/// InfluxQL: no panic; errors are positioned; an accepted query prints as text that parses
/// to a query printing the same way (`Display` is what the server echoes and what the UI
/// stores, so it must be a fixpoint).
pub fn influxql(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match influxql::parse_query(text) {
        Err(e) => assert!(!e.message.is_empty(), "error without a message: {e:?}"),
        Ok(q) => {
            let printed = q.to_string();
            let again = influxql::parse_query(&printed)
                .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
            assert_eq!(
                printed,
                again.to_string(),
                "Display is not a fixpoint for {text:?}"
            );
        }
    }
}

/// TICKscript: no panic in the parser, the checker or the graph printer; check errors
/// with a position point inside the script.
pub fn tickscript(data: &[u8]) {
    let Ok(script) = std::str::from_utf8(data) else {
        return;
    };
    match alerter::tick::compile(script, &alerter::tick::CheckOptions::default()) {
        Ok(graph) => {
            let dot = graph.to_dot("fuzz");
            assert!(dot.starts_with("digraph"), "odd DOT output: {dot:?}");
        }
        Err(e) => {
            assert!(!e.message.is_empty(), "empty error for {script:?}");
            if let Some(pos) = e.pos {
                let lines = script.lines().count().max(1);
                assert!(
                    pos.line >= 1 && pos.line <= lines + 1,
                    "{e} is outside the script"
                );
            }
        }
    }
}

/// Chunk decoding of arbitrary bytes (a corrupt file on disk): an error, never a panic,
/// and a decoded chunk has as many values as timestamps.
pub fn chunk_decode(data: &[u8]) {
    if let Ok((ts, col)) = decode_chunk(data) {
        assert_eq!(ts.len(), column_len(&col), "decoded lengths differ");
    }
}

/// Chunk encoding: whatever column the bytes describe encodes and decodes to itself.
pub fn chunk_roundtrip(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let words: Vec<u64> = rest
        .chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect();
    if words.is_empty() {
        return;
    }
    // Timestamps strictly increase, as the store guarantees: the words give the deltas.
    let mut t = i64::MIN / 2;
    let timestamps: Vec<i64> = words
        .iter()
        .map(|w| {
            t = t.saturating_add((*w % 1_000_000_000_000) as i64 + 1);
            t
        })
        .collect();
    if timestamps.windows(2).any(|p| p[0] >= p[1]) {
        return;
    }
    let column = match kind % 5 {
        0 => Column::Float(words.iter().map(|w| f64::from_bits(*w)).collect()),
        1 => Column::Integer(words.iter().map(|w| *w as i64).collect()),
        2 => Column::Unsigned(words.clone()),
        3 => Column::Boolean(words.iter().map(|w| w & 1 == 1).collect()),
        _ => Column::String(
            rest.split(|b| *b == 0)
                .take(words.len())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .chain(std::iter::repeat(String::new()))
                .take(words.len())
                .collect(),
        ),
    };
    let blob = encode_chunk(&timestamps, &column).expect("a valid column encodes");
    let (ts, back) = decode_chunk(&blob).expect("an encoded chunk decodes");
    assert_eq!(ts, timestamps, "timestamps changed");
    assert!(same_column(&column, &back), "values changed");
}

fn column_len(c: &Column) -> usize {
    match c {
        Column::Float(v) => v.len(),
        Column::Integer(v) => v.len(),
        Column::Unsigned(v) => v.len(),
        Column::String(v) => v.len(),
        Column::Boolean(v) => v.len(),
    }
}

fn same_column(a: &Column, b: &Column) -> bool {
    match (a, b) {
        (Column::Float(x), Column::Float(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        }
        (Column::Integer(x), Column::Integer(y)) => x == y,
        (Column::Unsigned(x), Column::Unsigned(y)) => x == y,
        (Column::String(x), Column::String(y)) => x == y,
        (Column::Boolean(x), Column::Boolean(y)) => x == y,
        _ => false,
    }
}
