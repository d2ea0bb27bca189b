//! What flows along the edges of a running task: points and batches, with their group.

use std::collections::BTreeMap;

use common::FieldValue;
use serde::{Deserialize, Serialize};

use crate::tick::lambda::{EvalError, Scope, Value};

/// Field values by name; ordered, because the alert data columns are sorted.
pub type Fields = BTreeMap<String, FieldValue>;
/// Tags by name.
pub type Tags = BTreeMap<String, String>;

/// How data is grouped: by measurement and/or by tag names (sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dims {
    pub by_name: bool,
    pub tags: Vec<String>,
}

impl Dims {
    /// Kapacitor's `ToGroupID`: `name\n` when grouped by measurement, then `k=v,k2=v2`.
    /// The empty string is the nil group.
    pub fn group_id(&self, name: &str, tags: &Tags) -> String {
        let mut s = String::new();
        if self.by_name {
            s.push_str(name);
            if !self.tags.is_empty() {
                s.push('\n');
            }
        }
        for (i, d) in self.tags.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(d);
            s.push('=');
            s.push_str(tags.get(d).map(String::as_str).unwrap_or(""));
        }
        s
    }

    /// The tags of `tags` that are group dimensions.
    pub fn group_tags(&self, tags: &Tags) -> Tags {
        self.tags
            .iter()
            .filter_map(|d| tags.get(d).map(|v| (d.clone(), v.clone())))
            .collect()
    }
}

/// One point of a stream edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub name: String,
    pub db: String,
    pub rp: String,
    /// Nanoseconds since the epoch.
    pub time: i64,
    pub tags: Tags,
    #[serde(with = "field_map")]
    pub fields: Fields,
    pub dims: Dims,
    /// Cached `dims.group_id(name, tags)`.
    pub group: String,
}

impl Point {
    /// Recomputes the group after a change of dims, tags or name.
    pub fn regroup(&mut self) {
        self.group = self.dims.group_id(&self.name, &self.tags);
    }
}

/// One row of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchPoint {
    pub time: i64,
    #[serde(with = "field_map")]
    pub fields: Fields,
    pub tags: Tags,
}

/// A batch: the contents of one window or one query series, for one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub name: String,
    pub group: String,
    pub dims: Dims,
    /// The group's tags.
    pub tags: Tags,
    /// Window end, or the query's batch time.
    pub time: i64,
    pub points: Vec<BatchPoint>,
}

/// A message on an edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    Point(Point),
    Batch(Batch),
}

impl Msg {
    /// The message's data time: the point's, or the batch's.
    pub fn time(&self) -> i64 {
        match self {
            Msg::Point(p) => p.time,
            Msg::Batch(b) => b.time,
        }
    }

    /// The measurement (or renamed stream) name.
    pub fn name(&self) -> &str {
        match self {
            Msg::Point(p) => &p.name,
            Msg::Batch(b) => &b.name,
        }
    }

    /// The group's dimensions.
    pub fn dims(&self) -> &Dims {
        match self {
            Msg::Point(p) => &p.dims,
            Msg::Batch(b) => &b.dims,
        }
    }

    /// The group's tags (only the dimensions' tags).
    pub fn group_tags(&self) -> Tags {
        match self {
            Msg::Point(p) => p.dims.group_tags(&p.tags),
            Msg::Batch(b) => b.tags.clone(),
        }
    }

    /// The group this message belongs to.
    pub fn group(&self) -> &str {
        match self {
            Msg::Point(p) => &p.group,
            Msg::Batch(b) => &b.group,
        }
    }
}

/// A lambda scope over a point's time, fields and tags.
pub struct FieldScope<'a> {
    pub time: i64,
    pub fields: &'a Fields,
    pub tags: &'a Tags,
}

impl Scope for FieldScope<'_> {
    fn get(&self, name: &str) -> Result<Option<Value>, EvalError> {
        match (self.fields.get(name), self.tags.get(name)) {
            (Some(_), Some(_)) => Err(EvalError(format!(
                "cannot have field and tags with same name {name:?}"
            ))),
            (Some(v), None) => Ok(Some(v.into())),
            (None, Some(v)) => Ok(Some(Value::String(v.clone()))),
            (None, None) if name == "time" => Ok(Some(Value::Time(self.time))),
            (None, None) => Ok(None),
        }
    }
}

/// A field value as a float, for numeric functions.
pub fn as_f64(v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::Float(f) => Some(*f),
        FieldValue::Integer(i) => Some(*i as f64),
        FieldValue::Unsigned(u) => Some(*u as f64),
        _ => None,
    }
}

/// A lambda result as a field value (durations and times become integer nanoseconds,
/// as they do when Kapacitor writes them out).
pub fn value_to_field(v: Value) -> Result<FieldValue, EvalError> {
    Ok(match v {
        Value::Float(f) => FieldValue::Float(f),
        Value::Int(i) | Value::Duration(i) | Value::Time(i) => FieldValue::Integer(i),
        Value::String(s) => FieldValue::String(s),
        Value::Bool(b) => FieldValue::Boolean(b),
        Value::Regex(_) => return Err(EvalError("cannot store a regex in a field".into())),
    })
}

/// Serializes node state for a snapshot.
pub(crate) fn snap<T: Serialize>(v: &T) -> Option<String> {
    serde_json::to_string(v).ok()
}

/// Reads node state back from a snapshot.
pub(crate) fn unsnap<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
) -> Result<T, crate::error::Error> {
    serde_json::from_value(v).map_err(|e| crate::error::Error::State(e.to_string()))
}

/// A field value that serializes (for snapshots).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum SerValue {
    F(f64),
    I(i64),
    U(u64),
    S(String),
    B(bool),
}

impl std::convert::From<&FieldValue> for SerValue {
    fn from(v: &FieldValue) -> SerValue {
        match v {
            FieldValue::Float(x) => SerValue::F(*x),
            FieldValue::Integer(x) => SerValue::I(*x),
            FieldValue::Unsigned(x) => SerValue::U(*x),
            FieldValue::String(x) => SerValue::S(x.clone()),
            FieldValue::Boolean(x) => SerValue::B(*x),
        }
    }
}

impl std::convert::From<SerValue> for FieldValue {
    fn from(v: SerValue) -> FieldValue {
        match v {
            SerValue::F(x) => FieldValue::Float(x),
            SerValue::I(x) => FieldValue::Integer(x),
            SerValue::U(x) => FieldValue::Unsigned(x),
            SerValue::S(x) => FieldValue::String(x),
            SerValue::B(x) => FieldValue::Boolean(x),
        }
    }
}

/// Serde for field maps: `common::FieldValue` has no serde, and snapshots need one.
pub(crate) mod field_map {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &Fields, s: S) -> Result<S::Ok, S::Error> {
        let m: BTreeMap<&String, SerValue> =
            f.iter().map(|(k, v)| (k, SerValue::from(v))).collect();
        m.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        let m: BTreeMap<String, SerValue> = BTreeMap::deserialize(d)?;
        Ok(m.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}
