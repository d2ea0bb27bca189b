//! Golden tests for the line-protocol parser, and a write/parse round trip.
//!
//! Each `tests/data/*.lp` is parsed as one request body; `*.expected` holds one line per parser
//! item: `L: ok <point>` or `L:C: err <kind> <1.x message>`. A comment `# precision: X` in the
//! file sets the precision as the `precision=` query parameter would. `UPDATE_GOLDEN=1 cargo
//! test -p common --test line_protocol` rewrites the expected files; review the diff.
//! The expected outputs were checked against a real InfluxDB 1.6.7 (error texts, accept/reject).

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::fmt::Write as _;
use std::path::Path;

use common::line_protocol::{Parser, Precision, write_point, write_point_ref};
use common::{FieldValue, FieldValueRef, Point, PointRef};

fn render_point(out: &mut String, p: &PointRef) {
    let _ = write!(out, "{:?}", p.measurement);
    out.push_str(" tags{");
    for (i, (k, v)) in p.tags.iter().enumerate() {
        let _ = write!(out, "{}{k:?}={v:?}", if i > 0 { ", " } else { "" });
    }
    out.push_str("} fields{");
    for (i, (k, v)) in p.fields.iter().enumerate() {
        let _ = write!(out, "{}{k:?}=", if i > 0 { ", " } else { "" });
        let _ = match v {
            FieldValueRef::Float(f) => write!(out, "{f:?}f"),
            FieldValueRef::Integer(n) => write!(out, "{n}i"),
            FieldValueRef::Unsigned(n) => write!(out, "{n}u"),
            FieldValueRef::String(s) => write!(out, "{s:?}s"),
            FieldValueRef::Boolean(b) => write!(out, "{b}"),
        };
    }
    out.push('}');
    match p.timestamp {
        Some(ts) => {
            let _ = write!(out, " @{ts}");
        }
        None => out.push_str(" @now"),
    }
}

fn render(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let precision = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("# precision:"))
        .map(str::trim);
    let mut parser = Parser::new(body, Precision::from_param(precision));
    let mut out = String::new();
    while let Some(item) = parser.next() {
        match item {
            Ok(p) => {
                let _ = write!(out, "{}: ok ", parser.line());
                render_point(&mut out, &p);
            }
            Err(e) => {
                let class = if e.kind.is_dropped() {
                    "dropped"
                } else if e.kind.fails_request() {
                    "fails-request"
                } else {
                    "err"
                };
                // Debug-escape the message so that CR and newlines inside it stay on one line.
                let _ = write!(
                    out,
                    "{}:{}: {class} {:?}",
                    e.line,
                    e.column,
                    e.influx_message()
                );
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn golden() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "lp"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no .lp files in {}", dir.display());
    let mut failures = Vec::new();
    for input in &inputs {
        let got = render(&std::fs::read(input).unwrap());
        let expected_path = input.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != want {
            let mut msg = format!("{}:", input.display());
            for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
                if g != w {
                    let _ = write!(
                        msg,
                        "\n  first difference at output line {}:\n    got:  {g}\n    want: {w}",
                        i + 1
                    );
                    break;
                }
            }
            let _ = write!(
                msg,
                "\n  ({} output lines, {} expected)",
                got.lines().count(),
                want.lines().count()
            );
            failures.push(msg);
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nrerun with UPDATE_GOLDEN=1 to accept",
        failures.join("\n")
    );
}

/// Deterministic xorshift generator, so the round trip needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A name made of tricky pieces. A backslash is only ever followed by a plain letter: 1.x has
    /// no escape for the backslash itself, so `\` before `,`, `=`, space, `"` or at the end of a
    /// name cannot round-trip in any writer.
    fn name(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a", "cpu", "x", " ", ",", "=", "\"", "'", "\\x", "\\\\y", "#", "é", "温度", "🦀",
            "\t", "time_", "-", "0", "\\n",
        ];
        loop {
            let mut s = String::new();
            for _ in 0..1 + self.below(5) {
                s.push_str(self.pick(PIECES));
            }
            // A leading tab is eaten by 1.x before the measurement and the first field key, a
            // leading `#` makes a comment; `time` is not a storable key.
            if !s.starts_with(['\t', '#']) && s != "time" {
                return s;
            }
        }
    }

    fn string_value(&mut self) -> String {
        const PIECES: &[&str] = &[
            "", "a", " ", ",", "=", "\"", "\\", "\\\\", "\\\"", "\n", "\r\n", "\t", "é", "🦀",
            "x\"y", "# no",
        ];
        (0..self.below(6)).map(|_| self.pick(PIECES)).collect()
    }

    fn value(&mut self) -> FieldValue {
        match self.below(5) {
            0 => {
                let f = f64::from_bits(self.next());
                FieldValue::Float(if f.is_finite() { f } else { 0.25 })
            }
            1 => FieldValue::Float(
                [0.0, -0.0, 1.0, 0.1, -1.5e-300, 1e300, 123456.789, 5e-324][self.below(8)],
            ),
            2 => FieldValue::Integer(self.next() as i64 >> self.below(64)),
            3 => FieldValue::String(self.string_value()),
            _ => FieldValue::Boolean(self.below(2) == 0),
        }
    }
}

#[test]
fn write_then_parse_round_trips() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut body = String::new();
    let mut points = Vec::new();
    for _ in 0..3_000 {
        let mut tags: Vec<(String, String)> = Vec::new();
        for _ in 0..rng.below(4) {
            let k = rng.name();
            if !tags.iter().any(|(t, _)| *t == k) {
                tags.push((k, rng.name()));
            }
        }
        // 1.x's order: by the key as written.
        let written = |k: &str| {
            let mut s = String::new();
            common::line_protocol::escape_tag(&mut s, k);
            s
        };
        tags.sort_by_key(|(k, _)| written(k));
        let mut fields: Vec<(String, FieldValue)> = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let k = rng.name();
            if !fields.iter().any(|(f, _)| *f == k) {
                fields.push((k, rng.value()));
            }
        }
        let timestamp = match rng.below(3) {
            0 => None,
            1 => Some(rng.next() as i64 >> 2),
            _ => Some(-(rng.below(1_000_000) as i64)),
        };
        let p = Point {
            measurement: rng.name(),
            tags,
            fields,
            timestamp,
        };
        write_point(&mut body, &p);
        points.push(p);
    }
    // The whole body at once: a newline inside a string must not split the line.
    let parsed: Vec<Point> = Parser::new(body.as_bytes(), Precision::Nanosecond)
        .map(|r| {
            r.unwrap_or_else(|e| panic!("{e} in {:?}", e.line_text()))
                .to_owned_point()
        })
        .collect();
    assert_eq!(parsed.len(), points.len());
    for (got, want) in parsed.iter().zip(&points) {
        // The writer turns a newline in a name into the two characters `\n`.
        let mut want = want.clone();
        let fix = |s: &mut String| *s = s.replace('\n', "\\n");
        fix(&mut want.measurement);
        want.tags.iter_mut().for_each(|(k, v)| {
            fix(k);
            fix(v)
        });
        want.fields.iter_mut().for_each(|(k, _)| fix(k));
        assert_eq!(*got, want);
        // And the parsed point writes back to the same text.
        let (mut a, mut b) = (String::new(), String::new());
        write_point(&mut a, &want);
        write_point_ref(
            &mut b,
            &Parser::new(a.as_bytes(), Precision::Nanosecond)
                .next()
                .unwrap()
                .unwrap(),
        );
        assert_eq!(a, b);
    }
}
