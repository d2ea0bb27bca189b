//! The data model every crate speaks: a [`Point`] is one line of line protocol.

use std::borrow::Cow;

/// A field value, as InfluxDB 1.x types it. `Unsigned` exists for writers that
/// send `u` suffixes to newer servers; 1.6.7 rejects it on the wire, and so does our parser.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// 64-bit float (no suffix on the wire).
    Float(f64),
    /// Signed integer (`i` suffix).
    Integer(i64),
    /// Unsigned integer (`u` suffix, not accepted by 1.6.7).
    Unsigned(u64),
    /// Quoted string.
    String(String),
    /// Boolean.
    Boolean(bool),
}

/// Borrowed form of [`FieldValue`], produced by the parser without copying string values
/// unless they contain escapes.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValueRef<'a> {
    /// 64-bit float.
    Float(f64),
    /// Signed integer.
    Integer(i64),
    /// Unsigned integer.
    Unsigned(u64),
    /// String, borrowed unless an escape had to be removed.
    String(Cow<'a, str>),
    /// Boolean.
    Boolean(bool),
}

/// The type of a field, fixed per measurement by its first write (1.x conflict rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldType {
    /// `float`
    Float,
    /// `integer`
    Integer,
    /// `unsigned`
    Unsigned,
    /// `string`
    String,
    /// `boolean`
    Boolean,
}

impl FieldType {
    /// The name InfluxDB uses in errors and `SHOW FIELD KEYS`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Unsigned => "unsigned",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
        }
    }

    /// Stable one-byte code used in stored formats.
    pub fn code(self) -> u8 {
        match self {
            FieldType::Float => 0,
            FieldType::Integer => 1,
            FieldType::Unsigned => 2,
            FieldType::String => 3,
            FieldType::Boolean => 4,
        }
    }

    /// Inverse of [`FieldType::code`].
    pub fn from_code(code: u8) -> Option<FieldType> {
        Some(match code {
            0 => FieldType::Float,
            1 => FieldType::Integer,
            2 => FieldType::Unsigned,
            3 => FieldType::String,
            4 => FieldType::Boolean,
            _ => return None,
        })
    }
}

impl FieldValue {
    /// The value's type.
    pub fn field_type(&self) -> FieldType {
        self.as_ref().field_type()
    }

    /// A borrowed view, without copying a string.
    pub fn as_ref(&self) -> FieldValueRef<'_> {
        match self {
            FieldValue::Float(v) => FieldValueRef::Float(*v),
            FieldValue::Integer(v) => FieldValueRef::Integer(*v),
            FieldValue::Unsigned(v) => FieldValueRef::Unsigned(*v),
            FieldValue::String(v) => FieldValueRef::String(Cow::Borrowed(v)),
            FieldValue::Boolean(v) => FieldValueRef::Boolean(*v),
        }
    }
}

impl FieldValueRef<'_> {
    /// The value's type.
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldValueRef::Float(_) => FieldType::Float,
            FieldValueRef::Integer(_) => FieldType::Integer,
            FieldValueRef::Unsigned(_) => FieldType::Unsigned,
            FieldValueRef::String(_) => FieldType::String,
            FieldValueRef::Boolean(_) => FieldType::Boolean,
        }
    }

    /// An owned copy.
    pub fn to_owned_value(&self) -> FieldValue {
        match self {
            FieldValueRef::Float(v) => FieldValue::Float(*v),
            FieldValueRef::Integer(v) => FieldValue::Integer(*v),
            FieldValueRef::Unsigned(v) => FieldValue::Unsigned(*v),
            FieldValueRef::String(v) => FieldValue::String(v.to_string()),
            FieldValueRef::Boolean(v) => FieldValue::Boolean(*v),
        }
    }
}

/// An owned point, as the agent builds it. Tags are kept sorted by key.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement name, unescaped.
    pub measurement: String,
    /// Tag keys and values, unescaped.
    pub tags: Vec<(String, String)>,
    /// Field keys and values, unescaped.
    pub fields: Vec<(String, FieldValue)>,
    /// Nanoseconds since the Unix epoch; `None` lets the server stamp it.
    pub timestamp: Option<i64>,
}

/// A parsed point borrowing from the request body. Tags are sorted by key (as 1.x orders series
/// keys: by the escaped key, which is plain order unless a key holds `,`, `=` or space) and unique;
/// fields are unique by key (the last duplicate wins, as in 1.x). The timestamp is
/// already scaled to nanoseconds by the parser's precision.
#[derive(Debug, Clone, PartialEq)]
pub struct PointRef<'a> {
    /// Measurement name, unescaped.
    pub measurement: Cow<'a, str>,
    /// Tag keys and values, unescaped.
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Field keys and values, unescaped.
    pub fields: Vec<(Cow<'a, str>, FieldValueRef<'a>)>,
    /// Nanoseconds since the Unix epoch; `None` when the line had no timestamp.
    pub timestamp: Option<i64>,
}

impl PointRef<'_> {
    /// An owned copy.
    pub fn to_owned_point(&self) -> Point {
        Point {
            measurement: self.measurement.to_string(),
            tags: self
                .tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            fields: self
                .fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_owned_value()))
                .collect(),
            timestamp: self.timestamp,
        }
    }
}
