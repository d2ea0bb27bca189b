//! Write batches: what the HTTP layer hands to the writer, and the binary payload of a
//! write-log row.
//!
//! A [`PointBatch`] interns series keys and field names once per request, so the writer
//! resolves each distinct series and field once instead of once per value.

use std::collections::HashMap;

use common::line_protocol::series_key;
use common::{FieldType, FieldValueRef, PointRef};

use super::catalog::{FieldId, SeriesId};
use crate::{Error, Result};

/// A field value inside a batch or a log payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    String(String),
    Boolean(bool),
}

impl Value {
    pub fn field_type(&self) -> FieldType {
        match self {
            Value::Float(_) => FieldType::Float,
            Value::Integer(_) => FieldType::Integer,
            Value::Unsigned(_) => FieldType::Unsigned,
            Value::String(_) => FieldType::String,
            Value::Boolean(_) => FieldType::Boolean,
        }
    }

    fn from_ref(v: &FieldValueRef<'_>) -> Value {
        match v {
            FieldValueRef::Float(f) => Value::Float(*f),
            FieldValueRef::Integer(i) => Value::Integer(*i),
            FieldValueRef::Unsigned(u) => Value::Unsigned(*u),
            FieldValueRef::String(s) => Value::String(s.to_string()),
            FieldValueRef::Boolean(b) => Value::Boolean(*b),
        }
    }

    pub fn to_field_value(&self) -> common::FieldValue {
        match self {
            Value::Float(v) => common::FieldValue::Float(*v),
            Value::Integer(v) => common::FieldValue::Integer(*v),
            Value::Unsigned(v) => common::FieldValue::Unsigned(*v),
            Value::String(v) => common::FieldValue::String(v.clone()),
            Value::Boolean(v) => common::FieldValue::Boolean(*v),
        }
    }
}

/// One distinct series of a batch.
#[derive(Debug, Clone)]
pub struct BatchSeries {
    pub key: String,
    pub measurement: String,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct BatchPoint {
    /// Index into [`PointBatch::series`].
    pub series: u32,
    pub time: i64,
    /// Range into [`PointBatch::values`].
    pub values: std::ops::Range<u32>,
}

/// The parsed points of one write request, interned.
#[derive(Debug, Default, Clone)]
pub struct PointBatch {
    pub series: Vec<BatchSeries>,
    series_index: HashMap<String, u32>,
    pub field_names: Vec<String>,
    field_index: HashMap<String, u32>,
    pub points: Vec<BatchPoint>,
    /// (index into `field_names`, value)
    pub values: Vec<(u32, Value)>,
}

impl PointBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn value_count(&self) -> usize {
        self.values.len()
    }

    /// Adds a parsed point; `default_time` stands in for a missing timestamp.
    pub fn push(&mut self, p: &PointRef<'_>, default_time: i64) {
        let key = series_key(&p.measurement, &p.tags);
        let series = match self.series_index.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.series.len() as u32;
                self.series_index.insert(key.clone(), i);
                self.series.push(BatchSeries {
                    key,
                    measurement: p.measurement.to_string(),
                    tags: p
                        .tags
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                });
                i
            }
        };
        let start = self.values.len() as u32;
        for (name, value) in &p.fields {
            let idx = match self.field_index.get(name.as_ref()) {
                Some(&i) => i,
                None => {
                    let i = self.field_names.len() as u32;
                    self.field_index.insert(name.to_string(), i);
                    self.field_names.push(name.to_string());
                    i
                }
            };
            self.values.push((idx, Value::from_ref(value)));
        }
        self.points.push(BatchPoint {
            series,
            time: p.timestamp.unwrap_or(default_time),
            values: start..self.values.len() as u32,
        });
    }

    /// Adds an owned point (used by tests, the agent-in-process and the alerter's
    /// influxDBOut node).
    pub fn push_point(&mut self, p: &common::Point, default_time: i64) {
        let r = PointRef {
            measurement: p.measurement.as_str().into(),
            tags: p
                .tags
                .iter()
                .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                .collect(),
            fields: p
                .fields
                .iter()
                .map(|(k, v)| (k.as_str().into(), v.as_ref()))
                .collect(),
            timestamp: p.timestamp,
        };
        self.push(&r, default_time);
    }
}

/// A point resolved to catalog ids, as stored in a log payload.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPoint {
    pub series: SeriesId,
    pub time: i64,
    pub fields: Vec<(FieldId, Value)>,
}

const PAYLOAD_VERSION: u8 = 1;

/// Encodes resolved points as a write-log payload: a version byte, then per point the
/// series id, time, and (field id, type, value) triples, integers as LEB128 varints.
pub fn encode_payload(points: &[ResolvedPoint], out: &mut Vec<u8>) {
    out.push(PAYLOAD_VERSION);
    put_uvarint(out, points.len() as u64);
    for p in points {
        put_uvarint(out, p.series as u64);
        put_ivarint(out, p.time);
        put_uvarint(out, p.fields.len() as u64);
        for (field, value) in &p.fields {
            put_uvarint(out, *field as u64);
            out.push(value.field_type().code());
            match value {
                Value::Float(f) => out.extend_from_slice(&f.to_bits().to_le_bytes()),
                Value::Integer(i) => put_ivarint(out, *i),
                Value::Unsigned(u) => put_uvarint(out, *u),
                Value::Boolean(b) => out.push(*b as u8),
                Value::String(s) => {
                    put_uvarint(out, s.len() as u64);
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
    }
}

pub fn decode_payload(buf: &[u8]) -> Result<Vec<ResolvedPoint>> {
    let mut r = Reader { buf, pos: 0 };
    let version = r.byte()?;
    if version != PAYLOAD_VERSION {
        return Err(Error::corrupt(
            "log payload",
            format!("unknown version {version}"),
        ));
    }
    let n = r.uvarint()? as usize;
    // Every point takes at least 3 bytes: a length that claims more is corrupt, and this
    // bounds the allocation below.
    if n > buf.len() {
        return Err(Error::corrupt("log payload", "point count exceeds payload"));
    }
    let mut points = Vec::with_capacity(n);
    for _ in 0..n {
        let series = r.uvarint()? as SeriesId;
        let time = r.ivarint()?;
        let nf = r.uvarint()? as usize;
        if nf > buf.len() {
            return Err(Error::corrupt("log payload", "field count exceeds payload"));
        }
        let mut fields = Vec::with_capacity(nf);
        for _ in 0..nf {
            let field = r.uvarint()? as FieldId;
            let code = r.byte()?;
            let value = match FieldType::from_code(code) {
                Some(FieldType::Float) => {
                    Value::Float(f64::from_bits(u64::from_le_bytes(r.array()?)))
                }
                Some(FieldType::Integer) => Value::Integer(r.ivarint()?),
                Some(FieldType::Unsigned) => Value::Unsigned(r.uvarint()?),
                Some(FieldType::Boolean) => Value::Boolean(r.byte()? != 0),
                Some(FieldType::String) => {
                    let len = r.uvarint()? as usize;
                    let bytes = r.take(len)?;
                    Value::String(
                        String::from_utf8(bytes.to_vec())
                            .map_err(|_| Error::corrupt("log payload", "string is not UTF-8"))?,
                    )
                }
                None => return Err(Error::corrupt("log payload", format!("type code {code}"))),
            };
            fields.push((field, value));
        }
        points.push(ResolvedPoint {
            series,
            time,
            fields,
        });
    }
    Ok(points)
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| Error::corrupt("log payload", "truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| Error::corrupt("log payload", "truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn uvarint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::corrupt("log payload", "varint too long"))
    }

    fn ivarint(&mut self) -> Result<i64> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_truncation() {
        let points = vec![
            ResolvedPoint {
                series: 7,
                time: -5,
                fields: vec![
                    (1, Value::Float(-0.0)),
                    (2, Value::Integer(i64::MIN)),
                    (3, Value::Unsigned(u64::MAX)),
                    (4, Value::Boolean(true)),
                    (5, Value::String("é\"x".into())),
                ],
            },
            ResolvedPoint {
                series: 1 << 40,
                time: i64::MAX,
                fields: vec![(9, Value::Float(1.5))],
            },
        ];
        let mut buf = Vec::new();
        encode_payload(&points, &mut buf);
        assert_eq!(decode_payload(&buf).expect("decode"), points);
        for cut in 0..buf.len() {
            assert!(
                decode_payload(&buf[..cut]).is_err(),
                "cut at {cut} must fail"
            );
        }
    }
}
