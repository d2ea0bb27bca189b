//! Result formatting exactly as 1.x prints it: JSON (Go's float rules) and CSV.

use std::fmt::Write;

use crate::query::{Cell, SeriesResult, StatementResult};

/// How `Cell::Time` is printed: RFC 3339 by default, or an integer in the `epoch` unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Epoch {
    Rfc3339,
    /// Divisor from nanoseconds.
    Unit(i64),
}

impl Epoch {
    /// 1.x: `h m s ms u ns`; an unknown value means nanoseconds.
    pub fn from_param(p: Option<&str>) -> Epoch {
        match p {
            None | Some("") => Epoch::Rfc3339,
            Some("h") => Epoch::Unit(3_600_000_000_000),
            Some("m") => Epoch::Unit(60_000_000_000),
            Some("s") => Epoch::Unit(1_000_000_000),
            Some("ms") => Epoch::Unit(1_000_000),
            Some("u") | Some("us") | Some("µ") => Epoch::Unit(1_000),
            Some(_) => Epoch::Unit(1),
        }
    }
}

/// Go's `encoding/json` float format: shortest round-trip digits, exponent form below
/// 1e-6 and from 1e21 on, `e-7` rather than `e-07`.
pub fn go_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        out.push_str("null");
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => {
                out.push_str(mantissa);
                out.push('e');
                match exp.strip_prefix('-') {
                    Some(digits) => {
                        out.push('-');
                        out.push_str(digits);
                    }
                    None => {
                        out.push('+');
                        if exp.len() < 2 {
                            out.push('0');
                        }
                        out.push_str(exp);
                    }
                }
            }
            None => out.push_str(&s),
        }
    } else {
        let _ = write!(out, "{f}");
    }
}

/// RFC 3339 with up to 9 fractional digits, trailing zeros trimmed, UTC (`Z`).
pub fn rfc3339(ns: i64) -> String {
    common::time::rfc3339_nanos(ns)
}

pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Go escapes these for safe embedding in HTML.
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn cell(out: &mut String, c: &Cell, epoch: Epoch) {
    match c {
        Cell::Null => out.push_str("null"),
        Cell::Float(f) => go_float(out, *f),
        Cell::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Cell::Unsigned(u) => {
            let _ = write!(out, "{u}");
        }
        Cell::String(s) => json_string(out, s),
        Cell::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Cell::Time(ns) => match epoch {
            Epoch::Rfc3339 => json_string(out, &rfc3339(*ns)),
            Epoch::Unit(d) => {
                let _ = write!(out, "{}", ns / d);
            }
        },
    }
}

/// One series object: `{"name":..,"tags":{..},"columns":[..],"values":[[..]]}`.
pub fn series_json(out: &mut String, s: &SeriesResult, epoch: Epoch, partial: bool) {
    out.push('{');
    let mut first = true;
    let mut key = |out: &mut String, k: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        json_string(out, k);
        out.push(':');
    };
    if let Some(name) = &s.name {
        key(out, "name");
        json_string(out, name);
    }
    if let Some(tags) = &s.tags {
        key(out, "tags");
        out.push('{');
        for (i, (k, v)) in tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_string(out, k);
            out.push(':');
            json_string(out, v);
        }
        out.push('}');
    }
    key(out, "columns");
    out.push('[');
    for (i, c) in s.columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(out, c);
    }
    out.push(']');
    if !s.values.is_empty() {
        key(out, "values");
        out.push('[');
        for (i, row) in s.values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            for (j, c) in row.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                cell(out, c, epoch);
            }
            out.push(']');
        }
        out.push(']');
    }
    if partial {
        key(out, "partial");
        out.push_str("true");
    }
    out.push('}');
}

/// One statement result object.
pub fn statement_json(out: &mut String, r: &StatementResult, epoch: Epoch, partial: bool) {
    let _ = write!(out, "{{\"statement_id\":{}", r.statement_id);
    if !r.series.is_empty() {
        out.push_str(",\"series\":[");
        for (i, s) in r.series.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            series_json(out, s, epoch, false);
        }
        out.push(']');
    }
    if !r.messages.is_empty() {
        out.push_str(",\"messages\":[");
        for (i, (level, text)) in r.messages.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"level\":");
            json_string(out, level);
            out.push_str(",\"text\":");
            json_string(out, text);
            out.push('}');
        }
        out.push(']');
    }
    if let Some(e) = &r.error {
        out.push_str(",\"error\":");
        json_string(out, e);
    }
    if partial {
        out.push_str(",\"partial\":true");
    }
    out.push('}');
}

/// The whole `{"results":[...]}` document.
pub fn results_json(results: &[StatementResult], epoch: Epoch) -> String {
    let mut out = String::from("{\"results\":[");
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        statement_json(&mut out, r, epoch, false);
    }
    out.push_str("]}");
    out
}

/// 1.x's CSV: `name,tags,time,<columns>` per series, a blank line between statements.
pub fn results_csv(results: &[StatementResult], epoch: Epoch) -> String {
    let mut out = String::new();
    let mut header_for: Option<Vec<String>> = None;
    for (i, r) in results.iter().enumerate() {
        if i > 0 && !out.is_empty() {
            out.push('\n');
        }
        for s in &r.series {
            if header_for.as_ref() != Some(&s.columns) {
                out.push_str("name,tags");
                for c in &s.columns {
                    out.push(',');
                    csv_field(&mut out, c);
                }
                out.push('\n');
                header_for = Some(s.columns.clone());
            }
            let tags = s
                .tags
                .as_ref()
                .map(|t| {
                    t.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            for row in &s.values {
                csv_field(&mut out, s.name.as_deref().unwrap_or(""));
                out.push(',');
                csv_field(&mut out, &tags);
                for c in row {
                    out.push(',');
                    let mut v = String::new();
                    match c {
                        Cell::Null => {}
                        Cell::String(s) => v.push_str(s),
                        // CSV carries times as integers unless another epoch is asked for.
                        Cell::Time(ns) => match epoch {
                            Epoch::Unit(d) => v = (ns / d).to_string(),
                            Epoch::Rfc3339 => v = ns.to_string(),
                        },
                        other => cell(&mut v, other, epoch),
                    }
                    csv_field(&mut out, &v);
                }
                out.push('\n');
            }
        }
        if let Some(e) = &r.error {
            out.push_str("error\n");
            csv_field(&mut out, e);
            out.push('\n');
        }
    }
    out
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut s = String::new();
        go_float(&mut s, x);
        s
    }

    #[test]
    fn floats_print_like_go() {
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-0.5), "-0.5");
        assert_eq!(f(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1.5e300), "1.5e+300");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(2.5e-10), "2.5e-10");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(0.0), "0");
    }

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600_000_000_000), "2026-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(
            rfc3339(1_700_000_000_120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
    }
}
