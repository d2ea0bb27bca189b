//! Go's formatting conventions, reproduced because handlers and templates compare
//! byte for byte with Kapacitor's output: `time.Time` as RFC 3339 (JSON) and as
//! `String()`, `%v` for floats, and `encoding/json` for floats and strings.

use common::time::{civil_from_days, days_from_civil};

struct Parts {
    y: i64,
    mo: u32,
    d: u32,
    h: i64,
    mi: i64,
    s: i64,
    ns: i64,
}

fn parts(t: i64) -> Parts {
    let secs = t.div_euclid(1_000_000_000);
    let ns = t.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    Parts {
        y,
        mo,
        d,
        h: sod / 3600,
        mi: sod % 3600 / 60,
        s: sod % 60,
        ns,
    }
}

/// Fractional seconds with trailing zeros removed (Go's `.999999999`), or nothing.
fn frac(ns: i64) -> String {
    if ns == 0 {
        return String::new();
    }
    let s = format!(".{ns:09}");
    s.trim_end_matches('0').to_string()
}

/// `time.Time` in `RFC3339Nano`, UTC: `2024-01-01T00:00:20.5Z`.
pub fn rfc3339(t: i64) -> String {
    let p = parts(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z",
        p.y,
        p.mo,
        p.d,
        p.h,
        p.mi,
        p.s,
        frac(p.ns)
    )
}

/// `time.Time.String()` in UTC: `2024-01-01 00:00:20 +0000 UTC`.
pub fn time_string(t: i64) -> String {
    let p = parts(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{} +0000 UTC",
        p.y,
        p.mo,
        p.d,
        p.h,
        p.mi,
        p.s,
        frac(p.ns)
    )
}

/// Parses an RFC 3339 time (`2024-01-01T00:00:00Z`, fractional seconds and numeric
/// offsets allowed) to nanoseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut i = 19;
    let mut ns = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = s.get(start..i)?;
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        ns = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
    }
    let offset = match s.get(i..)? {
        "Z" | "z" => 0,
        rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            (oh * 3600 + om * 60) * if rest.starts_with('-') { -1 } else { 1 }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(ns)
}

/// A Go `time.Duration` as `String()` prints it (`1m30s`, `1.5s`, `0s`).
pub fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&trim_frac(u, div));
        out.push_str(unit);
    } else {
        let h = u / 3_600_000_000_000;
        let m = u / 60_000_000_000 % 60;
        let rem = u % 60_000_000_000;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&trim_frac(rem, 1_000_000_000));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

fn trim_frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let f = v % div;
    if f == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let fs = format!("{f:0width$}");
    format!("{whole}.{}", fs.trim_end_matches('0'))
}

/// Go's `strconv.FormatFloat(f, 'e', -1, 64)` exponent form: `1e+06`, `1.5e-07`.
fn exp_form(f: f64, min_exp_digits: usize) -> String {
    let s = format!("{f:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mant}e{sign}{digits:0>min_exp_digits$}")
}

fn special(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// `fmt.Sprintf("%v", f)` for a float64: shortest digits, exponent form when the
/// exponent is < -4 or >= 6 (Go decides with precision 6 for the shortest form).
pub fn float_v(f: f64) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let exp = f.abs().log10().floor() as i32;
    // log10 can be off by one at exact powers; the shortest repr decides.
    let e_repr = format!("{f:e}");
    let exp = e_repr
        .split_once('e')
        .and_then(|(_, e)| e.parse::<i32>().ok())
        .unwrap_or(exp);
    if !(-4..6).contains(&exp) {
        exp_form(f, 2)
    } else {
        format!("{f}")
    }
}

/// `encoding/json` for a float64: plain decimal unless |f| < 1e-6 or >= 1e21.
/// NaN and infinities have no JSON form; Go fails the whole encoding, we write null.
pub fn float_json(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        // Go trims "e-07" to "e-7".
        exp_form(f, 1)
    } else {
        format!("{f}")
    }
}

/// A JSON string literal as Go's `encoding/json` writes it (HTML-safe escapes on).
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `html/template`'s escaping of text output.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '+' => out.push_str("&#43;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        let t = parse_rfc3339("2024-01-01T00:00:20Z").unwrap_or_default();
        assert_eq!(rfc3339(t), "2024-01-01T00:00:20Z");
        assert_eq!(rfc3339(t + 500_000_000), "2024-01-01T00:00:20.5Z");
        assert_eq!(time_string(t), "2024-01-01 00:00:20 +0000 UTC");
        assert_eq!(
            parse_rfc3339("2024-01-01T02:00:20+02:00"),
            Some(t),
            "offsets"
        );
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
    }

    #[test]
    fn floats() {
        assert_eq!(float_v(12.5), "12.5");
        assert_eq!(float_v(30.0), "30");
        assert_eq!(float_v(1e6), "1e+06");
        assert_eq!(float_v(123456.0), "123456");
        assert_eq!(float_v(0.0001), "0.0001");
        assert_eq!(float_v(0.00001), "1e-05");
        assert_eq!(float_json(70.0), "70");
        assert_eq!(float_json(69.9), "69.9");
        assert_eq!(float_json(1e21), "1e+21");
        assert_eq!(float_json(1e-7), "1e-7");
        assert_eq!(duration_string(90_000_000_000), "1m30s");
        assert_eq!(duration_string(1_500_000_000), "1.5s");
        assert_eq!(duration_string(3_600_000_000_000), "1h0m0s");
        assert_eq!(duration_string(1_500), "1.5µs");
    }
}
