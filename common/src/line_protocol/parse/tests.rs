#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::borrow::Cow;

use super::*;
use crate::line_protocol::MAX_NANO_TIME;
use crate::line_protocol::scan::{
    FieldSpan, find_line_special, scan_fields, scan_line, walk_fields,
};
use crate::point::FieldType;

fn parse(body: &str) -> Vec<Result<PointRef<'_>, ParseError>> {
    Parser::new(body.as_bytes(), Precision::Nanosecond).collect()
}

fn one(line: &str) -> Result<PointRef<'_>, ParseError> {
    let mut all = parse(line);
    assert_eq!(all.len(), 1, "{line:?}");
    all.remove(0)
}

fn reason(line: &str) -> String {
    match one(line) {
        Ok(p) => panic!("{line:?} parsed: {p:?}"),
        Err(e) => e.reason(),
    }
}

#[test]
fn simple_point_borrows_everything() {
    let p = one("cpu,host=a,dc=x usage=0.5,n=-3i,s=\"hi\",b=T 17").unwrap();
    assert!(matches!(p.measurement, Cow::Borrowed("cpu")));
    assert_eq!(p.tags.len(), 2);
    assert!(matches!(
        &p.tags[0],
        (Cow::Borrowed("dc"), Cow::Borrowed("x"))
    ));
    assert!(matches!(
        &p.fields[2].1,
        FieldValueRef::String(Cow::Borrowed("hi"))
    ));
    assert_eq!(p.fields[0].1, FieldValueRef::Float(0.5));
    assert_eq!(p.fields[1].1, FieldValueRef::Integer(-3));
    assert_eq!(p.fields[3].1, FieldValueRef::Boolean(true));
    assert_eq!(p.timestamp, Some(17));
}

#[test]
fn line_splitting_fast_and_slow_paths_agree() {
    let bodies: &[&[u8]] = &[
        b"a b=1\nc d=2",
        b"a s=\"x\ny\" 1\nb f=1",
        b"a\\\nb f=1\nc f=2",
        b"# a b=\"c\nm f=1\nm f=2\n",
        b"m f=1 1\\",
        b"m s=\"a\\\"",
        b"0123456789abcdef\n0123456789abcdef\"\n\\\n",
    ];
    for body in bodies {
        let mut start = 0;
        while start < body.len() {
            let (end, _) = scan_line(body, start);
            // Reference: the byte loop alone, without the word-at-a-time shortcut.
            let (mut quoted, mut fields, mut eq, mut co, mut i) = (false, false, 0, 0, start);
            while i < body.len() {
                let b = body[i];
                if b == b'\\' && i + 2 < body.len() {
                    i += 2;
                    continue;
                }
                if b == b' ' {
                    fields = true;
                }
                if fields {
                    if !quoted && b == b'=' {
                        eq += 1;
                        i += 1;
                        continue;
                    } else if !quoted && b == b',' {
                        co += 1;
                        i += 1;
                        continue;
                    } else if b == b'"' && eq > co {
                        quoted = !quoted;
                        i += 1;
                        continue;
                    }
                }
                if b == b'\n' && !quoted {
                    break;
                }
                i += 1;
            }
            assert_eq!(end, i, "{:?} from {start}", String::from_utf8_lossy(body));
            start = end + 1;
        }
    }
    assert_eq!(find_line_special(b"abcdefghij\"kl"), Some(10));
    assert_eq!(find_line_special(b"abcdefg\\"), Some(7));
    assert_eq!(find_line_special(b"abcdefgh"), None);
    assert_eq!(find_line_special(b"\xff\x80\x0a"), Some(2));
}

#[test]
fn comments_blank_lines_and_line_numbers() {
    let body = "\n  \t\n# c\n   # c2\ncpu v=1\n\ncpu v=x\r\n";
    let all = parse(body);
    assert_eq!(all.len(), 2);
    assert!(all[0].is_ok());
    let e = all[1].as_ref().unwrap_err();
    assert_eq!((e.line, e.column), (7, 7));
    assert_eq!(e.line_text(), "cpu v=x\r");
}

#[test]
fn error_positions_count_characters_and_lines() {
    let all = parse("m s=\"a\nb\",t=yes 1\n  温度,t=x f=\"é\",g=tru");
    let e = all[0].as_ref().unwrap_err();
    assert_eq!(e.reason(), "invalid boolean");
    assert_eq!((e.line, e.column), (2, 6));
    let e = all[1].as_ref().unwrap_err();
    assert_eq!((e.line, e.column), (3, 18));
    assert_eq!(e.to_string(), "line 3, column 18: invalid boolean");
    assert_eq!(
        e.influx_message(),
        "unable to parse '温度,t=x f=\"é\",g=tru': invalid boolean"
    );
}

#[test]
fn tags_sorted_duplicates_rejected() {
    let p = one("m,z=1,a=2,m=3 f=1").unwrap();
    let keys: Vec<&str> = p.tags.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(keys, ["a", "m", "z"]);
    assert_eq!(reason("m,b=1,a=1,b=2 f=1"), "duplicate tags");
    assert_eq!(reason("m,a=1,a=2 f=1"), "duplicate tags");
    assert_eq!(
        reason("m,longer_key_1=1,longer_key_1=2 f=1"),
        "duplicate tags"
    );
    // Sorted by the key as written, as 1.x orders series keys: `a\ b` after `a-b`.
    let p = one("m,a\\ b=2,a-b=1 f=1").unwrap();
    assert_eq!(p.tags[0].0, "a-b");
    // Measurements are unescaped twice, as 1.x's `Point.Name()` does.
    assert_eq!(
        one(r#"a\\,b\\ c\\\"d\\x f=1"#).unwrap().measurement,
        r#"a,b c\"d\\x"#
    );
}

#[test]
fn duplicate_fields_last_wins_or_conflict() {
    let p = one("m f=1,g=2,f=3,h=4,f=5").unwrap();
    assert_eq!(
        p.fields,
        vec![
            ("f".into(), FieldValueRef::Float(5.0)),
            ("g".into(), FieldValueRef::Float(2.0)),
            ("h".into(), FieldValueRef::Float(4.0))
        ]
    );
    let e = one("m f=1,g=2,f=\"x\"").unwrap_err();
    assert_eq!(
        e.kind,
        ParseErrorKind::FieldTypeConflict {
            field: "f".into(),
            first: FieldType::Float,
            second: FieldType::String
        }
    );
    assert!(e.kind.fails_request());
    assert_eq!(e.influx_message(), "field type conflict");
    // Many fields take the sorting path.
    let mut line = String::from("m ");
    for i in 0..100 {
        line.push_str(&format!("f{i}={i}i,"));
    }
    line.push_str("f7=70i,f99=1i");
    let p = one(&line).unwrap();
    assert_eq!(p.fields.len(), 100);
    assert_eq!(p.fields[7].1, FieldValueRef::Integer(70));
    assert_eq!(p.fields[99].1, FieldValueRef::Integer(1));
    line.push_str(",f3=true");
    assert!(matches!(
        one(&line).unwrap_err().kind,
        ParseErrorKind::FieldTypeConflict { .. }
    ));
}

#[test]
fn time_keys_are_dropped_kinds() {
    let e = one("cpu,time=1 f=1").unwrap_err();
    assert!(e.kind.is_dropped());
    assert_eq!(
        e.influx_message(),
        "invalid tag key: input tag \"time\" on measurement \"cpu\" is invalid"
    );
    let e = one("c\\ pu time=1,time=2i").unwrap_err();
    assert_eq!(
        e.influx_message(),
        "invalid field name: input field \"time\" on measurement \"c pu\" is invalid"
    );
    let p = one("cpu time=1,f=2").unwrap();
    assert_eq!(p.fields, vec![("f".into(), FieldValueRef::Float(2.0))]);
}

#[test]
fn escapes_follow_1x() {
    let p = one(r#"m\=x\"y\\z\,\ ,t\,\=\ \"\\k=v\\\,w f\,\=\ \"\\x=1,s="a\"b\\c\nd" 1"#).unwrap();
    assert_eq!(p.measurement, r#"m=x"y\\z, "#);
    assert_eq!(p.tags[0], (r#"t,= \"\\k"#.into(), r#"v\\,w"#.into()));
    assert_eq!(p.fields[0].0, r#"f,= "\\x"#);
    assert_eq!(p.fields[1].1, FieldValueRef::String(r#"a"b\c\nd"#.into()));
    // 1.x's second field scanner splits `a\\=1,b=2` at the second `=`.
    let p = one(r"m a\\=1,b=2").unwrap();
    assert_eq!(
        p.fields,
        vec![(r"a\=1,b".into(), FieldValueRef::Float(2.0))]
    );
    assert_eq!(reason(r"m a\\=1"), r"invalid value: field-key=a\\=1");
    let p = one("m,t==x f=1").unwrap();
    assert_eq!(p.tags[0].1, "=x");
    let p = one(r#"m s="x"y"#).unwrap();
    assert_eq!(p.fields[0].1, FieldValueRef::String(r#"x""#.into()));
}

#[test]
fn numbers() {
    for (v, want) in [
        ("1", 1.0),
        ("-1.5", -1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("007", 7.0),
        ("1e3", 1e3),
        ("1E3", 1e3),
        ("1e-3", 1e-3),
        ("1.5e+10", 1.5e10),
        ("123456789012345678901234567890", 1.2345678901234568e29),
        ("5e-324", 5e-324),
        ("1.7976931348623157e308", f64::MAX),
        ("1e-400", 0.0),
    ] {
        assert_eq!(
            one(&format!("m f={v}")).unwrap().fields[0].1,
            FieldValueRef::Float(want),
            "{v}"
        );
    }
    for (v, want) in [
        ("17i", 17),
        ("-0i", 0),
        ("9223372036854775807i", i64::MAX),
        ("-9223372036854775808i", i64::MIN),
    ] {
        assert_eq!(
            one(&format!("m f={v}")).unwrap().fields[0].1,
            FieldValueRef::Integer(want),
            "{v}"
        );
    }
    for (v, why) in [
        ("+1.5", "invalid boolean"),
        ("1.2.3", "invalid number"),
        ("0x1F", "invalid number"),
        ("1_000", "invalid number"),
        ("1e", "invalid float"),
        ("1e309", "invalid float"),
        ("NaN", "invalid number"),
        ("nan", "invalid number"),
        ("Inf", "invalid boolean"),
        ("-Inf", "invalid number"),
        ("-", "invalid number"),
        ("1.5i", "invalid number"),
        ("1.i", "invalid number"),
        ("1i5", "invalid number"),
        ("-i", "invalid number"),
        ("1u", "invalid number"),
        ("1", "ok"),
    ] {
        match one(&format!("m f={v}")) {
            Ok(_) => assert_eq!(why, "ok", "{v}"),
            Err(e) => assert_eq!(e.reason(), why, "{v}"),
        }
    }
    assert_eq!(
        reason("m f=9223372036854775808i"),
        "unable to parse integer 9223372036854775808: strconv.ParseInt: parsing \"9223372036854775808\": value out of range"
    );
}

#[test]
fn timestamps_and_precision() {
    fn at(line: &str, p: Precision) -> Result<PointRef<'_>, ParseError> {
        Parser::new(line.as_bytes(), p).next().unwrap()
    }
    assert_eq!(
        at("m f=1 0017", Precision::Second).unwrap().timestamp,
        Some(17_000_000_000)
    );
    assert_eq!(
        at("m f=1 -5", Precision::Hour).unwrap().timestamp,
        Some(-5 * 3_600_000_000_000)
    );
    assert_eq!(
        at("m f=1 \t 5  ", Precision::Nanosecond).unwrap().timestamp,
        Some(5)
    );
    assert_eq!(
        at("m f=1 9223372036854775806", Precision::Nanosecond)
            .unwrap()
            .timestamp,
        Some(MAX_NANO_TIME)
    );
    let out = "time outside range -9223372036854775806 - 9223372036854775806";
    assert_eq!(
        at("m f=1 9223372036854775807", Precision::Nanosecond)
            .unwrap_err()
            .reason(),
        out
    );
    assert_eq!(
        at("m f=1 -9223372036854775808", Precision::Nanosecond)
            .unwrap_err()
            .reason(),
        out
    );
    assert_eq!(
        at("m f=1 153722867280912931", Precision::Minute)
            .unwrap_err()
            .reason(),
        out
    );
    assert_eq!(
        at("m f=1 99999999999999999999", Precision::Nanosecond)
            .unwrap_err()
            .reason(),
        "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
    );
    assert_eq!(
        at("m f=1 -", Precision::Nanosecond).unwrap_err().reason(),
        "strconv.ParseInt: parsing \"-\": invalid syntax"
    );
    assert_eq!(reason("m f=1 1.5"), "bad timestamp");
    assert_eq!(reason("m f=1 1 # c"), "point is invalid");
    assert_eq!(reason("m f=1 1\r"), "bad timestamp");
    assert_eq!(reason("m f=1\r"), "invalid number");
}

#[test]
fn limits() {
    let limits = Limits {
        max_line_bytes: 30,
        max_tags: 2,
        max_fields: 2,
        max_series_key_bytes: 20,
    };
    let body = "m,a=1,b=2,c=3 f=1\nm f=1,g=2,h=3\nm,abcdefghijklmnopqrstu=1 f=1\nm,a=1 abcdefghijklmn=1\n\
                m f=\"1234567890123456789012345678\"\nm,a=1 abc=1";
    let reasons: Vec<String> = Parser::with_limits(body.as_bytes(), Precision::Nanosecond, limits)
        .map(|r| r.map_or_else(|e| e.reason(), |_| "ok".into()))
        .collect();
    assert_eq!(
        reasons,
        [
            "too many tags: 3 > 2",
            "too many fields: 3 > 2",
            "max key length exceeded: 25 > 20",
            "max key length exceeded: 23 > 20",
            "line too long: 34 > 30 bytes",
            "ok",
        ]
    );
    let long = format!("{} f=1", "a".repeat(70_000));
    assert_eq!(reason(&long), "max key length exceeded: 70000 > 65535");
}

#[test]
fn invalid_utf8_is_an_error_not_a_panic() {
    let all: Vec<_> = Parser::new(
        b"m\xff f=1\nm s=\"\xfe\" 1\nm s=\"x\"\xc3\xa9\nm f=1",
        Precision::Nanosecond,
    )
    .collect();
    let reasons: Vec<String> = all
        .iter()
        .map(|r| r.as_ref().map_or_else(|e| e.reason(), |_| "ok".into()))
        .collect();
    assert_eq!(
        reasons,
        ["invalid UTF-8", "invalid UTF-8", "invalid UTF-8", "ok"]
    );
    assert_eq!(all[0].as_ref().unwrap_err().line_text(), "m\u{fffd} f=1");
    assert_eq!(all[0].as_ref().unwrap_err().column, 2);
}

#[test]
fn no_panic_on_prefixes_of_tricky_lines() {
    let lines: &[&[u8]] = &[
        br#"  m\ x\,y,t\=k=v\\,u=w\ x f\"=1,s="a\"b\\",i=-12i,b=FALSE,e=1.5e-3 -123"#,
        br#"m,t=\\ s="\\\"",x=\,=1 1"#,
        b"m s=\"\xe2\x82\xac\",t=\"\xe2\x82\" 1",
        br"\\\\\\\\\\ \\\\=\\\\ \\\\",
    ];
    for line in lines {
        for end in 0..=line.len() {
            for start in 0..end.min(8) {
                for r in Parser::new(&line[start..end], Precision::Minute) {
                    if let Err(e) = r {
                        let _ = (e.influx_message(), e.to_string());
                    }
                }
            }
        }
    }
}

/// Tiny deterministic generator for the randomized tests below.
fn random_lines(seed: u64, alphabet: &[&[u8]], count: usize, max_pieces: usize) -> Vec<Vec<u8>> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let n = (next() % max_pieces as u64) as usize;
            (0..n)
                .flat_map(|_| alphabet[(next() % alphabet.len() as u64) as usize].to_vec())
                .collect()
        })
        .collect()
}

#[test]
fn regular_field_spans_match_1x_second_scanner() {
    // Without backslashes, the spans recorded while validating must be the ones 1.x's
    // `walkFields` finds, or the fast path would store different keys or values.
    let alphabet: &[&[u8]] = &[
        b"a=1",
        b"b=-2.5",
        b"c=t",
        b"s=\"x,y=z\"",
        b"q=\"x\"y",
        b",",
        b",",
        b"=",
        b"\"",
        b" ",
        b"a",
        b"1",
        b"x\"y",
        b"\t",
        b"e",
        b"i",
    ];
    let mut compared = 0;
    for line in random_lines(7, alphabet, 200_000, 14) {
        let mut buf = b"m ".to_vec();
        buf.extend_from_slice(&line);
        let mut fast = Vec::new();
        let Ok((start, end, true)) = scan_fields(&buf, 1, &mut fast) else {
            continue;
        };
        let mut slow = Vec::new();
        walk_fields(&buf, start, end, 1, usize::MAX, &mut slow).unwrap();
        let spans = |v: &[FieldSpan]| {
            v.iter()
                .map(|f| (f.key_start, f.key_end, f.value_end))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            spans(&fast),
            spans(&slow),
            "{:?}",
            String::from_utf8_lossy(&buf)
        );
        compared += 1;
    }
    assert!(compared > 10_000, "only {compared} regular lines");
}

#[test]
fn random_input_never_panics() {
    let alphabet: &[&[u8]] = &[
        b"a",
        b"=",
        b",",
        b" ",
        b"\"",
        b"\\",
        b"\n",
        b"\t",
        b"#",
        b"-",
        b".",
        b"0",
        b"9",
        b"e",
        b"i",
        b"u",
        b"t",
        b"f",
        b"\xc3\xa9",
        b"\xc3",
        b"\xff",
        b"\r",
        b"\0",
        b"time",
        b"TRUE",
    ];
    let bodies = random_lines(42, alphabet, 50_000, 30);
    for body in &bodies {
        for precision in [Precision::Nanosecond, Precision::Hour] {
            for item in Parser::new(body, precision) {
                match item {
                    Ok(p) => {
                        assert!(!p.fields.is_empty());
                        let mut keys: Vec<&str> = p.tags.iter().map(|(k, _)| k.as_ref()).collect();
                        keys.sort_unstable();
                        keys.dedup();
                        assert_eq!(keys.len(), p.tags.len());
                    }
                    Err(e) => {
                        assert!(e.line >= 1 && e.column >= 1);
                        let _ = (e.influx_message(), e.to_string());
                    }
                }
            }
        }
    }
}
