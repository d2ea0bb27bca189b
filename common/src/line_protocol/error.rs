//! Per-line parse errors carrying both InfluxDB 1.6.7's wording and our line/column position.

use std::fmt;

use crate::point::FieldType;

/// Smallest timestamp 1.x stores, in ns (`math.MinInt64 + 2`).
pub const MIN_NANO_TIME: i64 = i64::MIN + 2;
/// Largest timestamp 1.x stores, in ns (`math.MaxInt64 - 1`).
pub const MAX_NANO_TIME: i64 = i64::MAX - 1;

/// Why a line was rejected. The `Display` text of each variant is exactly 1.6.7's reason
/// (or, for the variants 1.x does not have, a message in the same style).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The line starts with a comma.
    #[error("missing measurement")]
    MissingMeasurement,
    /// The line ends before the field section.
    #[error("missing fields")]
    MissingFields,
    /// `m,=v f=1`
    #[error("missing tag key")]
    MissingTagKey,
    /// `m,t f=1`, `m,t= f=1`
    #[error("missing tag value")]
    MissingTagValue,
    /// An unescaped `=` inside a tag value (1.6.7 rejects it; newer versions accept it).
    #[error("invalid tag format")]
    InvalidTagFormat,
    /// The same tag key twice in one line.
    #[error("duplicate tags")]
    DuplicateTags,
    /// `m =1`, `m a=1,=2`
    #[error("missing field key")]
    MissingFieldKey,
    /// `m f=`, `m f=,g=1`
    #[error("missing field value")]
    MissingFieldValue,
    /// Keys and values do not pair up (`m f`, `m f=1,`, `m f=1,,g=2`, `m `).
    #[error("invalid field format")]
    InvalidFieldFormat,
    /// A string field value without its closing quote.
    #[error("unbalanced quotes")]
    UnbalancedQuotes,
    /// A malformed number, `NaN`, or an unsigned (`1u`) value, which 1.6.7 OSS does not accept.
    #[error("invalid number")]
    InvalidNumber,
    /// A float that is syntactically a number but does not parse or overflows (`1e`, `1e309`).
    #[error("invalid float")]
    InvalidFloat,
    /// Anything that is neither number, string nor one of the accepted boolean spellings.
    #[error("invalid boolean")]
    InvalidBoolean,
    /// An `i` value outside the int64 range; `digits` is the text before the `i`.
    #[error(
        "unable to parse integer {digits}: strconv.ParseInt: parsing \"{digits}\": value out of range"
    )]
    IntegerOutOfRange {
        /// The offending digits as written.
        digits: String,
    },
    /// 1.x's second field scanner (which treats escapes differently from the first) found a field
    /// key without a value, e.g. `m a\\=1`.
    #[error("invalid value: field-key={key}")]
    InvalidFieldValue {
        /// The raw (escaped) key as that scanner saw it.
        key: String,
    },
    /// The timestamp contains something other than an optional leading `-` and digits.
    #[error("bad timestamp")]
    BadTimestamp,
    /// The timestamp does not fit an int64 (`out_of_range`) or is a lone `-`.
    #[error("strconv.ParseInt: parsing \"{text}\": {}", if *.out_of_range { "value out of range" } else { "invalid syntax" })]
    TimestampSyntax {
        /// The timestamp as written.
        text: String,
        /// Overflow rather than bad syntax.
        out_of_range: bool,
    },
    /// The timestamp, once scaled to ns, is outside what 1.x can store.
    #[error("time outside range {MIN_NANO_TIME} - {MAX_NANO_TIME}")]
    TimeOutsideRange,
    /// Something other than spaces follows the timestamp (a trailing `# comment` included).
    #[error("point is invalid")]
    InvalidPoint,
    /// The series key (measurement and tags as written, plus `#!~#` and the field key for the
    /// per-field check) is longer than the limit.
    #[error("max key length exceeded: {len} > {max}")]
    MaxKeyLength {
        /// Length in bytes as 1.x measures it.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not in 1.x (which stores invalid UTF-8 or fails with a 500): names and string values must be UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// Not in 1.x: [`Limits::max_line_bytes`](super::Limits::max_line_bytes).
    #[error("line too long: {len} > {max} bytes")]
    LineTooLong {
        /// Length of the line in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not in 1.x: [`Limits::max_tags`](super::Limits::max_tags).
    #[error("too many tags: {count} > {max}")]
    TooManyTags {
        /// Tags in the line.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Not in 1.x: [`Limits::max_fields`](super::Limits::max_fields).
    #[error("too many fields: {count} > {max}")]
    TooManyFields {
        /// Fields in the line.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A tag key `time`. 1.x parses the line, then drops the point and counts it in `dropped=N`.
    #[error("invalid tag key: input tag \"time\" on measurement \"{measurement}\" is invalid")]
    TimeTagKey {
        /// Unescaped measurement name.
        measurement: String,
    },
    /// `time` is the only field key. 1.x drops the point and counts it in `dropped=N`; when other
    /// fields exist it silently removes the `time` field, and so does our parser.
    #[error("invalid field name: input field \"time\" on measurement \"{measurement}\" is invalid")]
    TimeFieldKey {
        /// Unescaped measurement name.
        measurement: String,
    },
    /// The same field key twice in one line with different types. 1.x rejects the *whole request*
    /// with `field type conflict` (and registers `first` as the field's type); see
    /// [`ParseErrorKind::fails_request`].
    #[error("field type conflict")]
    FieldTypeConflict {
        /// Unescaped field key.
        field: String,
        /// Type of the first occurrence in the line.
        first: FieldType,
        /// Type of the first later occurrence with another type.
        second: FieldType,
    },
}

impl ParseErrorKind {
    /// True for rejections 1.x makes after parsing (tag or field key `time`): the HTTP layer
    /// counts these points in `dropped=N` and reports the reason without `unable to parse`.
    pub fn is_dropped(&self) -> bool {
        matches!(
            self,
            ParseErrorKind::TimeTagKey { .. } | ParseErrorKind::TimeFieldKey { .. }
        )
    }

    /// True when 1.x fails the whole request (nothing stored) with the bare reason as the error.
    pub fn fails_request(&self) -> bool {
        matches!(self, ParseErrorKind::FieldTypeConflict { .. })
    }
}

/// A rejected line: where (1-based line and character column in the body) and why.
///
/// `Display` gives our form for logs and the CLI (`line 3, column 7: invalid boolean`);
/// [`ParseError::influx_message`] gives 1.6.7's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number in the body where the problem is.
    pub line: usize,
    /// 1-based column, counted in characters, of the problem on that line.
    pub column: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// The offending line as 1.x quotes it: leading whitespace removed, lossy UTF-8.
    pub(crate) text: String,
}

impl ParseError {
    /// The 1.x wording of the reason only, e.g. `invalid boolean`.
    pub fn reason(&self) -> String {
        self.kind.to_string()
    }

    /// The offending line (leading whitespace removed as 1.x does, invalid UTF-8 replaced).
    pub fn line_text(&self) -> &str {
        &self.text
    }

    /// The message InfluxDB 1.6.7 gives for this line: `unable to parse '<line>': <reason>`.
    ///
    /// For kinds that 1.x reports after parsing ([`ParseErrorKind::is_dropped`],
    /// [`ParseErrorKind::fails_request`]) this is the bare reason, as 1.x words it; the HTTP layer
    /// adds `partial write: ` and ` dropped=N` itself.
    pub fn influx_message(&self) -> String {
        if self.kind.is_dropped() || self.kind.fails_request() {
            self.reason()
        } else {
            format!("unable to parse '{}': {}", self.text, self.kind)
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.kind
        )
    }
}

impl std::error::Error for ParseError {}
