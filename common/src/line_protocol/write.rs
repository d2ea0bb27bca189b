//! The writer: line protocol that 1.6.7 (and our parser) read back as the same point.
//!
//! What 1.x line protocol cannot carry, and what the writer does about it (as Telegraf does):
//! - NaN and ±Inf floats: the field is left out.
//! - Unsigned values: 1.6.7 rejects `u`, so they are written as integers, clamped to `i64::MAX`.
//! - Empty tag keys or values: the tag is left out (1.x would reject the line).
//! - A newline in a measurement, tag or field key is written as the two characters `\n`.
//! - A backslash right before a character that needs escaping, or at the end of a name, cannot be
//!   written faithfully (1.x has no escape for the backslash itself); it is written as is.
//! - A point with no measurement or no field left is not written at all ([`WriteError`]).

use std::fmt::Write as _;

use crate::point::{FieldValueRef, Point, PointRef};

/// Why [`try_write_point`] wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The measurement is the empty string.
    #[error("point has an empty measurement")]
    EmptyMeasurement,
    /// No field can be written (none, or only NaN/Inf floats).
    #[error("point has no field that line protocol can carry")]
    NoFields,
}

/// Appends `p` as one line (with its `\n`), tags in [`series_key`] order; writes nothing for an
/// unwritable point.
pub fn write_point(out: &mut String, p: &Point) {
    let _ = try_write_point(out, p);
}

/// Appends `p` as one line (with its `\n`), tags in [`series_key`] order; writes nothing for an
/// unwritable point.
pub fn write_point_ref(out: &mut String, p: &PointRef) {
    let _ = try_write_point_ref(out, p);
}

/// Like [`write_point`], but says why nothing was written.
pub fn try_write_point(out: &mut String, p: &Point) -> Result<(), WriteError> {
    let fields = p.fields.iter().map(|(k, v)| (k.as_str(), v.as_ref()));
    write_line(out, &p.measurement, &p.tags, fields, p.timestamp)
}

/// Like [`write_point_ref`], but says why nothing was written.
pub fn try_write_point_ref(out: &mut String, p: &PointRef) -> Result<(), WriteError> {
    let fields = p.fields.iter().map(|(k, v)| (k.as_ref(), v.clone()));
    write_line(out, &p.measurement, &p.tags, fields, p.timestamp)
}

/// Canonical series key `measurement,k1=v1,k2=v2` (line-protocol escaping, tags sorted by
/// their escaped key as 1.x sorts them) used by the store as the series identity. It is 1.x's
/// form too (`SHOW SERIES`).
pub fn series_key(measurement: &str, tags: &[(impl AsRef<str>, impl AsRef<str>)]) -> String {
    let mut out = String::with_capacity(
        measurement.len()
            + tags
                .iter()
                .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 2)
                .sum::<usize>(),
    );
    escape_measurement(&mut out, measurement);
    for i in sorted_order(tags) {
        if let Some((k, v)) = tags.get(i) {
            out.push(',');
            escape_tag(&mut out, k.as_ref());
            out.push('=');
            escape_tag(&mut out, v.as_ref());
        }
    }
    out
}

/// Appends a measurement name, escaping `,` and space (and a newline as `\n`).
pub fn escape_measurement(out: &mut String, s: &str) {
    escape(out, s, |b| matches!(b, b',' | b' '));
}

/// Appends a tag key or value, escaping `,`, `=` and space (and a newline as `\n`).
pub fn escape_tag(out: &mut String, s: &str) {
    escape(out, s, |b| matches!(b, b',' | b'=' | b' '));
}

/// Appends a field key, escaping `,`, `=` and space (and a newline as `\n`).
pub fn escape_field_key(out: &mut String, s: &str) {
    escape(out, s, |b| matches!(b, b',' | b'=' | b' '));
}

fn escape(out: &mut String, s: &str, special: fn(u8) -> bool) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        if b == b'\n' || special(b) {
            out.push_str(s.get(last..i).unwrap_or_default());
            out.push('\\');
            out.push(if b == b'\n' { 'n' } else { char::from(b) });
            last = i + 1;
        }
    }
    out.push_str(s.get(last..).unwrap_or_default());
}

/// Appends a field value: floats in Go's shortest round-trip form without exponent (`1`, `0.1`,
/// as 1.x's `strconv.FormatFloat(v, 'f', -1, 64)`), integers with `i`, unsigned as clamped
/// integers, strings quoted with `"` and `\` escaped, booleans as `true`/`false`.
/// Returns `false` and writes nothing for NaN and ±Inf.
pub fn write_field_value(out: &mut String, v: &FieldValueRef<'_>) -> bool {
    match v {
        FieldValueRef::Float(f) if !f.is_finite() => return false,
        // Rust's `Display` for f64 is the shortest digits that round-trip, never an exponent.
        FieldValueRef::Float(f) => {
            let _ = write!(out, "{f}");
        }
        FieldValueRef::Integer(i) => {
            let _ = write!(out, "{i}i");
        }
        FieldValueRef::Unsigned(u) => {
            let _ = write!(out, "{}i", i64::try_from(*u).unwrap_or(i64::MAX));
        }
        FieldValueRef::String(s) => {
            out.push('"');
            let mut last = 0;
            for (i, b) in s.bytes().enumerate() {
                if b == b'"' || b == b'\\' {
                    out.push_str(s.get(last..i).unwrap_or_default());
                    out.push('\\');
                    last = i;
                }
            }
            out.push_str(s.get(last..).unwrap_or_default());
            out.push('"');
        }
        FieldValueRef::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
    }
    true
}

fn writable(v: &FieldValueRef<'_>) -> bool {
    !matches!(v, FieldValueRef::Float(f) if !f.is_finite())
}

fn write_line<'x, K: AsRef<str>, V: AsRef<str>>(
    out: &mut String,
    measurement: &str,
    tags: &[(K, V)],
    fields: impl Iterator<Item = (&'x str, FieldValueRef<'x>)> + Clone,
    timestamp: Option<i64>,
) -> Result<(), WriteError> {
    if measurement.is_empty() {
        return Err(WriteError::EmptyMeasurement);
    }
    if !fields.clone().any(|(_, v)| writable(&v)) {
        return Err(WriteError::NoFields);
    }
    escape_measurement(out, measurement);
    let order = sorted_order(tags);
    for (n, &i) in order.iter().enumerate() {
        let Some((k, v)) = tags.get(i) else { continue };
        let (k, v) = (k.as_ref(), v.as_ref());
        // The last of equal keys wins, as when setting a tag twice.
        let shadowed = order
            .get(n + 1)
            .and_then(|&j| tags.get(j))
            .is_some_and(|(nk, _)| nk.as_ref() == k);
        if k.is_empty() || v.is_empty() || shadowed {
            continue;
        }
        out.push(',');
        escape_tag(out, k);
        out.push('=');
        escape_tag(out, v);
    }
    let mut sep = ' ';
    for (k, v) in fields {
        if !writable(&v) {
            continue;
        }
        out.push(sep);
        sep = ',';
        escape_field_key(out, k);
        out.push('=');
        write_field_value(out, &v);
    }
    if let Some(ts) = timestamp {
        let _ = write!(out, " {ts}");
    }
    out.push('\n');
    Ok(())
}

/// Indices of `tags` in 1.x's series-key order (by escaped key), stable so that equal keys keep
/// their order.
fn sorted_order<K: AsRef<str>, V>(tags: &[(K, V)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..tags.len()).collect();
    let key = |i: usize| tags.get(i).map_or("", |(k, _)| k.as_ref());
    let cmp = |a: &usize, b: &usize| escaped_tag_bytes(key(*a)).cmp(escaped_tag_bytes(key(*b)));
    if !order
        .windows(2)
        .all(|w| matches!(w, [a, b] if cmp(a, b).is_le()))
    {
        order.sort_by(cmp);
    }
    order
}

/// The bytes [`escape_tag`] would write, without writing them.
fn escaped_tag_bytes(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().flat_map(|c| {
        match c {
            b',' | b'=' | b' ' => [Some(b'\\'), Some(c)],
            b'\n' => [Some(b'\\'), Some(b'n')],
            _ => [None, Some(c)],
        }
        .into_iter()
        .flatten()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::point::FieldValue;

    fn point(
        m: &str,
        tags: &[(&str, &str)],
        fields: Vec<(&str, FieldValue)>,
        ts: Option<i64>,
    ) -> Point {
        Point {
            measurement: m.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            timestamp: ts,
        }
    }

    fn line(p: &Point) -> String {
        let mut s = String::new();
        write_point(&mut s, p);
        s
    }

    #[test]
    fn escapes_and_sorts() {
        let p = point(
            "c p,u=x",
            &[("z", "1"), ("a b", "x,y=z"), ("m", "")],
            vec![
                ("f f", FieldValue::String("say \"hi\" \\o/".into())),
                ("n", FieldValue::Integer(-3)),
            ],
            Some(17),
        );
        assert_eq!(
            line(&p),
            "c\\ p\\,u=x,a\\ b=x\\,y\\=z,z=1 f\\ f=\"say \\\"hi\\\" \\\\o/\",n=-3i 17\n"
        );
    }

    #[test]
    fn floats_are_go_shortest() {
        for (v, want) in [
            (1.0, "1"),
            (-0.0, "-0"),
            (0.1, "0.1"),
            (1.5e-7, "0.00000015"),
            (1e21, "1000000000000000000000"),
            (123456.789, "123456.789"),
        ] {
            let mut s = String::new();
            assert!(write_field_value(&mut s, &FieldValueRef::Float(v)));
            assert_eq!(s, want);
        }
        for v in [
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -1.2345678901234567e-300,
        ] {
            let mut s = String::new();
            write_field_value(&mut s, &FieldValueRef::Float(v));
            assert!(!s.contains('e'), "{s}");
            assert_eq!(s.parse::<f64>().ok(), Some(v));
        }
    }

    #[test]
    fn unrepresentable_parts_are_left_out() {
        let p = point(
            "m",
            &[("", "x"), ("t", "b"), ("t", "c")],
            vec![
                ("nan", FieldValue::Float(f64::NAN)),
                ("u", FieldValue::Unsigned(u64::MAX)),
                ("b", FieldValue::Boolean(false)),
            ],
            None,
        );
        assert_eq!(line(&p), "m,t=c u=9223372036854775807i,b=false\n");
        let only_nan = point(
            "m",
            &[],
            vec![("x", FieldValue::Float(f64::INFINITY))],
            None,
        );
        let mut s = String::new();
        assert_eq!(
            try_write_point(&mut s, &only_nan),
            Err(WriteError::NoFields)
        );
        assert_eq!(
            try_write_point(
                &mut s,
                &point("", &[], vec![("x", FieldValue::Boolean(true))], None)
            ),
            Err(WriteError::EmptyMeasurement)
        );
        assert!(s.is_empty());
        let nl = point(
            "a\nb",
            &[("k", "v\nw")],
            vec![("f\n", FieldValue::Boolean(true))],
            None,
        );
        assert_eq!(line(&nl), "a\\nb,k=v\\nw f\\n=true\n");
    }

    #[test]
    fn series_key_is_sorted_and_escaped() {
        assert_eq!(
            series_key("cpu", &[("host", "a"), ("dc", "x y")]),
            "cpu,dc=x\\ y,host=a"
        );
        assert_eq!(series_key("m=x,1", &[] as &[(&str, &str)]), "m=x\\,1");
        assert_eq!(series_key("m", &[("t", "=x")]), "m,t=\\=x");
        // 1.x orders by the escaped key: `a\ b` after `a-b`, though ' ' < '-'.
        assert_eq!(
            series_key("m", &[("a b", "1"), ("a-b", "2")]),
            "m,a-b=2,a\\ b=1"
        );
    }
}
