//! InfluxDB 1.x line protocol, byte-for-byte as InfluxDB 1.6.7 reads it.
//!
//! [`Parser`] iterates over a request body and yields one [`PointRef`](crate::PointRef) or
//! [`ParseError`] per line; a bad line never stops the lines after it. Points borrow from the
//! body: names and string values are copied only when an escape has to be removed.
//!
//! ```
//! use common::line_protocol::{Parser, Precision};
//! use common::FieldValueRef;
//!
//! let body = b"# comment\ncpu,host=a,dc=x usage=0.5,n=3i 1700000000\ncpu v=yes\n";
//! let mut lines = Parser::new(body, Precision::Second);
//! let p = lines.next().unwrap().unwrap();
//! assert_eq!(p.measurement, "cpu");
//! assert_eq!(p.tags[0], ("dc".into(), "x".into())); // sorted by key
//! assert_eq!(p.fields[1], ("n".into(), FieldValueRef::Integer(3)));
//! assert_eq!(p.timestamp, Some(1_700_000_000_000_000_000));
//! let e = lines.next().unwrap().unwrap_err();
//! assert_eq!(e.influx_message(), "unable to parse 'cpu v=yes': invalid boolean");
//! assert_eq!(e.to_string(), "line 3, column 7: invalid boolean");
//! assert!(lines.next().is_none());
//! ```
//!
//! Why the parser looks odd in places: 1.6.7 scans a line several times with scanners that
//! disagree about escapes (one treats `\` as escaping the next byte, another looks at whether the
//! previous byte is `\`, so `\\` is not an escaped backslash). Clients depend on the results, so
//! `parse.rs` mirrors each of those scanners, quirks included, rather than a cleaner grammar.
//!
//! # Where we differ from 1.6.7, on purpose
//!
//! - Invalid UTF-8 anywhere in a line rejects the line (`invalid UTF-8`); 1.6.7 stores it in
//!   values and fails the whole request with a 500 when it is in a name.
//! - [`Limits`] on line length, tag count and field count are ours; the series-key limit is 1.x's.
//! - What 1.x rejects only after parsing comes out as errors of distinct kinds, so that the HTTP
//!   layer can word and count them as 1.x does: a `time` tag key or a lone `time` field
//!   ([`ParseErrorKind::is_dropped`], counted in `dropped=N`), and one field key repeated with
//!   different types ([`ParseErrorKind::FieldTypeConflict`], which fails the whole request).
//! - With a backslash before an escaped character in a measurement (`a\\,b`), 1.6.7 names the
//!   measurement `a,b` in its index (it unescapes measurements twice) but files the field keys
//!   elsewhere, so the data can't be queried, and its series key keeps another spelling; we use
//!   `a,b` for all three ([`series_key`] escapes it as for any other name).
//! - Error positions (line, column) are ours; 1.x reports none.
//!
//! Everything else, including the quirks below, matches 1.6.7 as observed on a real server
//! (the golden files in `tests/data` and randomized lines were compared with it):
//! `\\` is not an escape in names (`t=a\\,b` is the value `a\,b`), `s="x"y` is the string
//! `x"`, a comment containing `"` can swallow the lines after it, a backslash before a newline
//! joins two lines, CRLF lines fail, a `time` field next to other fields is silently removed,
//! and tags come sorted by their key *as written* (escaped), which is 1.x's series-key order.
//!
//! # Modules
//!
//! - `parse.rs`: the [`Parser`] iterator: lines to points, unescaping, post-parse checks.
//! - `scan.rs`: 1.x's byte scanners, mirrored quirk for quirk.
//! - `write.rs`: the writer (escaping, float formatting) and [`series_key`].
//! - `error.rs`: [`ParseError`] and [`ParseErrorKind`] with 1.x's messages.

mod error;
mod parse;
mod scan;
mod write;

pub use error::{MAX_NANO_TIME, MIN_NANO_TIME, ParseError, ParseErrorKind};
pub use parse::Parser;
pub use write::{
    WriteError, escape_field_key, escape_measurement, escape_tag, series_key, try_write_point,
    try_write_point_ref, write_field_value, write_point, write_point_ref,
};

/// Timestamp unit of a write request (`precision=` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// `n`, `ns`, and anything unrecognised.
    #[default]
    Nanosecond,
    /// `u`
    Microsecond,
    /// `ms`
    Millisecond,
    /// `s`
    Second,
    /// `m`
    Minute,
    /// `h`
    Hour,
}

impl Precision {
    /// 1.x query-param semantics: `n`/`ns` ns, `u` us, `ms`, `s`, `m`, `h`; ANY other value
    /// (including `us` and the empty string) is ns, silently, as in 1.6.7.
    pub fn from_param(s: Option<&str>) -> Precision {
        match s {
            Some("u") => Precision::Microsecond,
            Some("ms") => Precision::Millisecond,
            Some("s") => Precision::Second,
            Some("m") => Precision::Minute,
            Some("h") => Precision::Hour,
            _ => Precision::Nanosecond,
        }
    }

    /// Nanoseconds per unit.
    pub fn multiplier(self) -> i64 {
        match self {
            Precision::Nanosecond => 1,
            Precision::Microsecond => 1_000,
            Precision::Millisecond => 1_000_000,
            Precision::Second => 1_000_000_000,
            Precision::Minute => 60_000_000_000,
            Precision::Hour => 3_600_000_000_000,
        }
    }

    /// The canonical query-parameter spelling (`ns`, `u`, `ms`, `s`, `m`, `h`).
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Nanosecond => "ns",
            Precision::Microsecond => "u",
            Precision::Millisecond => "ms",
            Precision::Second => "s",
            Precision::Minute => "m",
            Precision::Hour => "h",
        }
    }
}

/// Per-line limits the parser enforces, each failing only the offending line.
///
/// 1.x has only the series-key limit; the others are ours, set far above what Telegraf sends so
/// that they only stop pathological input from costing unbounded work per point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line in bytes ([`Limits::DEFAULT_MAX_LINE_BYTES`]).
    pub max_line_bytes: usize,
    /// Most tags in one line ([`Limits::DEFAULT_MAX_TAGS`]).
    pub max_tags: usize,
    /// Most fields in one line, duplicates included ([`Limits::DEFAULT_MAX_FIELDS`]).
    pub max_fields: usize,
    /// Longest series key in bytes, measured as 1.x does ([`Limits::DEFAULT_MAX_SERIES_KEY_BYTES`]).
    pub max_series_key_bytes: usize,
}

impl Limits {
    /// 1 MiB: 1.x has no line limit but a 25 MB body limit; 1 MiB still fits the 70 000-byte
    /// strings 1.x accepts many times over.
    pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
    /// Telegraf plugins send tens of tags; cardinality, not parsing, is what many tags cost.
    pub const DEFAULT_MAX_TAGS: usize = 1_024;
    /// Wide Telegraf inputs (mysql, nvidia_smi) send a few hundred fields.
    pub const DEFAULT_MAX_FIELDS: usize = 10_000;
    /// 1.x's `MaxKeyLength`.
    pub const DEFAULT_MAX_SERIES_KEY_BYTES: usize = 65_535;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: Limits::DEFAULT_MAX_LINE_BYTES,
            max_tags: Limits::DEFAULT_MAX_TAGS,
            max_fields: Limits::DEFAULT_MAX_FIELDS,
            max_series_key_bytes: Limits::DEFAULT_MAX_SERIES_KEY_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_params_follow_1x() {
        for (p, want) in [
            (None, Precision::Nanosecond),
            (Some(""), Precision::Nanosecond),
            (Some("n"), Precision::Nanosecond),
            (Some("ns"), Precision::Nanosecond),
            (Some("us"), Precision::Nanosecond),
            (Some("rfc3339"), Precision::Nanosecond),
            (Some("u"), Precision::Microsecond),
            (Some("ms"), Precision::Millisecond),
            (Some("s"), Precision::Second),
            (Some("m"), Precision::Minute),
            (Some("h"), Precision::Hour),
            (Some("H"), Precision::Nanosecond),
        ] {
            assert_eq!(Precision::from_param(p), want, "{p:?}");
        }
        assert_eq!(Precision::Hour.multiplier(), 3_600 * 1_000_000_000);
        assert_eq!(
            Precision::from_param(Some(Precision::Minute.as_str())),
            Precision::Minute
        );
    }
}
