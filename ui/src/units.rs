//! Value and time formatting shared by axis ticks, legends, tables and stat panels.

use common::time::{civil_from_days, days_from_civil};

use serde::{Deserialize, Serialize};

/// How a number is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Plain number with SI suffixes for large values (k, M, G…).
    #[default]
    Short,
    /// 0–100.
    Percent,
    /// IEC multiples (KiB, MiB…).
    Bytes,
    BytesPerSec,
    Seconds,
    /// No scaling at all.
    None,
}

impl Unit {
    pub const ALL: [Unit; 6] = [
        Unit::Short,
        Unit::Percent,
        Unit::Bytes,
        Unit::BytesPerSec,
        Unit::Seconds,
        Unit::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Short => "short",
            Unit::Percent => "percent",
            Unit::Bytes => "bytes",
            Unit::BytesPerSec => "bytes_per_sec",
            Unit::Seconds => "seconds",
            Unit::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Unit> {
        Unit::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

/// Decimals that show a difference of `step` (an axis tick step or a value's magnitude).
pub fn auto_decimals(step: f64) -> usize {
    let step = step.abs();
    if !step.is_finite() || step == 0.0 || step >= 1.0 {
        return if step > 0.0 && step < 10.0 && step.fract() != 0.0 {
            1
        } else {
            0
        };
    }
    ((-step.log10()).ceil() as usize).min(6)
}

fn scaled(v: f64, base: f64, suffixes: &'static [&'static str]) -> (f64, &'static str) {
    let mut v = v;
    let mut i = 0;
    while v.abs() >= base && i + 1 < suffixes.len() {
        v /= base;
        i += 1;
    }
    (v, suffixes.get(i).copied().unwrap_or(""))
}

/// Formats `v` in `unit`. `decimals: None` picks a sensible number for the magnitude.
pub fn format_value(v: f64, unit: Unit, decimals: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let fmt = |x: f64| -> String {
        let d = decimals.unwrap_or_else(|| {
            let a = x.abs();
            if a == 0.0 || a >= 100.0 {
                0
            } else if a >= 10.0 {
                1
            } else if a >= 0.01 {
                2
            } else {
                auto_decimals(a) + 1
            }
        });
        format!("{x:.d$}")
    };
    match unit {
        Unit::None => fmt(v),
        Unit::Percent => format!("{}%", fmt(v)),
        Unit::Short => {
            let (x, s) = scaled(v, 1000.0, &["", "k", "M", "G", "T", "P", "E"]);
            format!("{}{s}", fmt(x))
        }
        Unit::Bytes | Unit::BytesPerSec => {
            let (x, s) = scaled(v, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"]);
            let per = if unit == Unit::BytesPerSec { "/s" } else { "" };
            format!("{} {s}{per}", fmt(x))
        }
        Unit::Seconds => {
            let a = v.abs();
            if a == 0.0 {
                "0 s".into()
            } else if a < 1e-3 {
                format!("{} µs", fmt(v * 1e6))
            } else if a < 1.0 {
                format!("{} ms", fmt(v * 1e3))
            } else if a < 60.0 {
                format!("{} s", fmt(v))
            } else if a < 3600.0 {
                format!("{} min", fmt(v / 60.0))
            } else if a < 86400.0 {
                format!("{} h", fmt(v / 3600.0))
            } else {
                format!("{} d", fmt(v / 86400.0))
            }
        }
    }
}

/// Broken-down UTC time: (year, month, day, hour, minute, second).
pub fn utc_parts(ns: i64) -> (i64, u32, u32, u32, u32, u32) {
    let secs = ns.div_euclid(1_000_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    (
        y,
        mo,
        d,
        (s / 3600) as u32,
        (s % 3600 / 60) as u32,
        (s % 60) as u32,
    )
}

/// `2026-11-24 07:30:05` (UTC).
pub fn format_time(ns: i64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(ns);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// `2026-11-24T07:30`, the `datetime-local` input format.
pub fn format_datetime_local(ns: i64) -> String {
    let (y, mo, d, h, mi, _) = utc_parts(ns);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}")
}

/// An axis label, shorter when the range is short.
pub fn format_tick(ns: i64, span_ns: i64) -> String {
    let (_, mo, d, h, mi, s) = utc_parts(ns);
    if span_ns <= 10 * 60 * 1_000_000_000 {
        format!("{h:02}:{mi:02}:{s:02}")
    } else if span_ns <= 36 * 3600 * 1_000_000_000 {
        format!("{h:02}:{mi:02}")
    } else {
        format!("{mo:02}-{d:02} {h:02}:{mi:02}")
    }
}

/// Parses `YYYY-MM-DDTHH:MM[:SS]` (or with a space) as UTC.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00"));
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    if !(1970..=2500).contains(&y) {
        return None;
    }
    let mut tp = time.split(':');
    let h: i64 = tp.next()?.parse().ok()?;
    let mi: i64 = tp.next()?.parse().ok()?;
    let sec: i64 = match tp.next() {
        Some(x) => x.split('.').next()?.parse().ok()?,
        None => 0,
    };
    if tp.next().is_some() || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    Some((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000_000)
}

/// `3m ago`, `2h ago`, for "last seen".
pub fn format_ago(ns: i64, now_ns: i64) -> String {
    let secs = (now_ns - ns).max(0) / 1_000_000_000;
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(format_value(12.345, Unit::Percent, None), "12.3%");
        assert_eq!(format_value(12.345, Unit::Percent, Some(2)), "12.35%");
        assert_eq!(format_value(1536.0, Unit::Bytes, None), "1.50 KiB");
        assert_eq!(
            format_value(3.0 * 1024.0 * 1024.0, Unit::BytesPerSec, Some(0)),
            "3 MiB/s"
        );
        assert_eq!(format_value(2_500_000.0, Unit::Short, None), "2.50M");
        assert_eq!(format_value(0.25, Unit::Seconds, None), "250 ms");
        assert_eq!(format_value(7200.0, Unit::Seconds, Some(0)), "2 h");
        assert_eq!(format_value(f64::NAN, Unit::Short, None), "NaN");
    }

    #[test]
    fn times_round_trip() {
        let ns = parse_datetime("2026-11-24T07:30").unwrap_or_default();
        assert_eq!(format_time(ns), "2026-11-24 07:30:00");
        assert_eq!(format_datetime_local(ns), "2026-11-24T07:30");
        assert_eq!(
            parse_datetime("2024-02-29 23:59:59"),
            Some(1_709_251_199_000_000_000)
        );
        assert_eq!(parse_datetime("1970-01-01T00:00"), Some(0));
        assert_eq!(parse_datetime("2026-13-01T00:00"), None);
        assert_eq!(parse_datetime("x"), None);
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
    }
}
