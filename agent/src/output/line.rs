//! Line protocol serialization with InfluxDB's escaping (spec influx.md §1.3).
//!
//! Private stop-gap until `common::line_protocol::write_point` lands; the rules match it.

use std::fmt::Write as _;

use common::{FieldValue, Point};

/// Appends one line (no trailing newline). Returns false, writing nothing, when the point has
/// no field that line protocol can carry.
pub fn write_point(out: &mut String, p: &Point) -> bool {
    let start = out.len();
    escape(out, &p.measurement, &[',', ' ']);
    for (k, v) in &p.tags {
        // Empty tag keys or values are rejected by InfluxDB; Telegraf leaves such tags out.
        if k.is_empty() || v.is_empty() {
            continue;
        }
        out.push(',');
        escape(out, k, &[',', '=', ' ']);
        out.push('=');
        escape(out, v, &[',', '=', ' ']);
    }
    let mut sep = ' ';
    for (k, v) in &p.fields {
        if let FieldValue::Float(f) = v
            && !f.is_finite()
        {
            continue;
        }
        out.push(sep);
        sep = ',';
        escape(out, k, &[',', '=', ' ']);
        out.push('=');
        match v {
            // Rust's Display gives the shortest repr that round-trips, never in exponent
            // form, which is what Go's FormatFloat(v, 'f', -1, 64) prints in Telegraf.
            FieldValue::Float(f) => {
                let _ = write!(out, "{f}");
            }
            FieldValue::Integer(i) => {
                let _ = write!(out, "{i}i");
            }
            // 1.6.7 rejects the `u` suffix; Telegraf clamps into a signed integer instead.
            FieldValue::Unsigned(u) => {
                let _ = write!(out, "{}i", i64::try_from(*u).unwrap_or(i64::MAX));
            }
            FieldValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
            FieldValue::String(s) => {
                out.push('"');
                escape(out, s, &['"', '\\']);
                out.push('"');
            }
        }
    }
    if sep == ' ' {
        out.truncate(start);
        return false;
    }
    if let Some(ts) = p.timestamp {
        let _ = write!(out, " {ts}");
    }
    true
}

/// A raw newline would end the line early; names carry it as the two characters `\n`, as
/// Telegraf's serializer does. Inside string values (escaped only for `"` and `\`) it is kept.
fn escape(out: &mut String, s: &str, special: &[char]) {
    for c in s.chars() {
        if c == '\n' && special.contains(&' ') {
            out.push_str("\\n");
            continue;
        }
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(p: &Point) -> String {
        let mut s = String::new();
        write_point(&mut s, p);
        s
    }

    #[test]
    fn escapes_each_part() {
        let p = Point {
            measurement: "disk usage,x".into(),
            tags: vec![
                ("path".into(), "/mnt/my disk".into()),
                ("a=b".into(), "c,d".into()),
                ("empty".into(), String::new()),
            ],
            fields: vec![
                ("used percent".into(), FieldValue::Float(12.5)),
                ("n".into(), FieldValue::Integer(-3)),
                ("ok".into(), FieldValue::Boolean(true)),
                ("s".into(), FieldValue::String(r#"say "hi" \o/"#.into())),
                ("big".into(), FieldValue::Float(1e21)),
                ("tiny".into(), FieldValue::Float(1e-7)),
                ("whole".into(), FieldValue::Float(3.0)),
                ("nan".into(), FieldValue::Float(f64::NAN)),
                ("u".into(), FieldValue::Unsigned(u64::MAX)),
            ],
            timestamp: Some(1_700_000_000_000_000_000),
        };
        assert_eq!(
            line(&p),
            r#"disk\ usage\,x,path=/mnt/my\ disk,a\=b=c\,d used\ percent=12.5,n=-3i,ok=true,s="say \"hi\" \\o/",big=1000000000000000000000,tiny=0.0000001,whole=3,u=9223372036854775807i 1700000000000000000"#
        );
    }

    #[test]
    fn newline_in_names_stays_on_one_line() {
        let p = Point {
            measurement: "m\nx".into(),
            tags: vec![("t".into(), "a\nb".into())],
            fields: vec![("s".into(), FieldValue::String("two\nlines".into()))],
            timestamp: None,
        };
        assert_eq!(line(&p), "m\\nx,t=a\\nb s=\"two\nlines\"");
    }

    #[test]
    fn point_without_usable_fields_writes_nothing() {
        let p = Point {
            measurement: "m".into(),
            tags: vec![],
            fields: vec![("x".into(), FieldValue::Float(f64::INFINITY))],
            timestamp: None,
        };
        let mut s = String::from("keep");
        assert!(!write_point(&mut s, &p));
        assert_eq!(s, "keep");
    }
}
