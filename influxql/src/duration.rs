//! Duration literals: `10s`, `1h30m`, `5d`, `1w`, `100ms`, `10u`/`10µ`, `5ns`.
//!
//! Durations are signed nanosecond counts (`i64`), as in Go's `time.Duration`.

use std::fmt::Write as _;

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// Error from [`parse_duration`]; `Display` gives 1.x's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// `invalid duration`
    Invalid,
    /// `overflowed duration 300000w: choose a smaller duration or INF`
    Overflow {
        /// The last numeric component that was read.
        measure: i64,
        /// Its unit as written.
        unit: String,
    },
}

impl std::fmt::Display for DurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DurationError::Invalid => f.write_str("invalid duration"),
            DurationError::Overflow { measure, unit } => write!(
                f,
                "overflowed duration {measure}{unit}: choose a smaller duration or INF"
            ),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses an InfluxQL duration literal into nanoseconds, with 1.x's rules: a sequence of
/// `<digits><unit>` pairs (`ns`, `u`/`µ`, `ms`, `s`, `m`, `h`, `d`, `w`), optional leading `-`.
///
/// Like 1.x, overflow is only detected when the (wrapping) sum turns negative.
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    let a: Vec<char> = s.chars().collect();
    if s.len() < 2 {
        return Err(DurationError::Invalid);
    }
    let mut i = 0;
    let negative = a[0] == '-';
    if negative {
        i += 1;
    }
    let mut d: i64 = 0;
    let mut measure: i64 = 0;
    let mut unit = String::new();
    while i < a.len() {
        let start = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        if i >= a.len() || i == start {
            return Err(DurationError::Invalid);
        }
        let digits: String = a[start..i].iter().collect();
        let n: i64 = digits.parse().map_err(|_| DurationError::Invalid)?;
        measure = n;
        unit = a[i].to_string();
        let mult = match a[i] {
            'n' if i + 1 < a.len() && a[i + 1] == 's' => {
                unit = "ns".into();
                i += 1;
                NS
            }
            'u' | 'µ' => US,
            'm' => {
                if i + 1 < a.len() && a[i + 1] == 's' {
                    unit = "ms".into();
                    i += 1;
                    MS
                } else {
                    MIN
                }
            }
            's' => SEC,
            'h' => HOUR,
            'd' => DAY,
            'w' => WEEK,
            _ => return Err(DurationError::Invalid),
        };
        // Go's time.Duration arithmetic wraps; the overflow check below relies on that.
        d = d.wrapping_add(n.wrapping_mul(mult));
        i += 1;
    }
    if d < 0 && !negative {
        return Err(DurationError::Overflow { measure, unit });
    }
    Ok(if negative { d.wrapping_neg() } else { d })
}

/// Formats nanoseconds the way 1.x prints duration literals: the largest unit that
/// divides exactly (`2w`, `3d`, `90m`, `1500ms`, `7u`, `5ns`; `0s` for zero).
pub fn format_duration(d: i64) -> String {
    let units: [(i64, &str); 7] = [
        (WEEK, "w"),
        (DAY, "d"),
        (HOUR, "h"),
        (MIN, "m"),
        (SEC, "s"),
        (MS, "ms"),
        (US, "u"),
    ];
    if d == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (u, name) in units {
        if d % u == 0 {
            let _ = write!(out, "{}{}", d / u, name);
            return out;
        }
    }
    format!("{d}ns")
}

/// Formats nanoseconds like Go's `time.Duration.String()` (`168h0m0s`, `1m30s`, `1.5s`,
/// `0s`), which 1.x uses in `SHOW RETENTION POLICIES` output. Provided for executors.
pub fn format_go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second: pick ns, µs or ms with a fraction.
        let (unit, div) = if u < 1_000 {
            ("ns", 1u64)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac(u, div));
        out.push_str(unit);
    } else {
        let h = u / 3_600_000_000_000;
        let rem = u % 3_600_000_000_000;
        let m = rem / 60_000_000_000;
        let s_ns = rem % 60_000_000_000;
        if h > 0 {
            let _ = write!(out, "{h}h");
        }
        if h > 0 || m > 0 {
            let _ = write!(out, "{m}m");
        }
        out.push_str(&frac(s_ns, 1_000_000_000));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

/// `v / div` with the fractional part's trailing zeros trimmed (Go's fmtFrac).
fn frac(v: u64, div: u64) -> String {
    let int = v / div;
    let rem = v % div;
    if rem == 0 {
        return int.to_string();
    }
    let width = div.trailing_zeros_dec();
    let mut f = format!("{rem:0width$}");
    while f.ends_with('0') {
        f.pop();
    }
    format!("{int}.{f}")
}

trait DecDigits {
    fn trailing_zeros_dec(self) -> usize;
}

impl DecDigits for u64 {
    fn trailing_zeros_dec(self) -> usize {
        let mut n = self;
        let mut c = 0;
        while n >= 10 && n.is_multiple_of(10) {
            n /= 10;
            c += 1;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse_duration("5m"), Ok(5 * MIN));
        assert_eq!(parse_duration("1h30m"), Ok(HOUR + 30 * MIN));
        assert_eq!(parse_duration("100ms"), Ok(100 * MS));
        assert_eq!(parse_duration("7µ"), Ok(7 * US));
        assert_eq!(parse_duration("3ns"), Ok(3));
        assert_eq!(parse_duration("-2w"), Ok(-2 * WEEK));
        assert_eq!(parse_duration("1x"), Err(DurationError::Invalid));
        assert_eq!(parse_duration("1"), Err(DurationError::Invalid));
        assert_eq!(parse_duration("1h5"), Err(DurationError::Invalid));
        assert!(matches!(
            parse_duration("9999999999999w"),
            Err(DurationError::Overflow { .. })
        ));
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(90 * MIN), "90m");
        assert_eq!(format_duration(14 * DAY), "2w");
        assert_eq!(format_duration(1500 * MS), "1500ms");
        assert_eq!(format_duration(-5 * MIN), "-5m");
        assert_eq!(format_go_duration(168 * HOUR), "168h0m0s");
        assert_eq!(format_go_duration(90 * SEC), "1m30s");
        assert_eq!(format_go_duration(1500 * MS), "1.5s");
        assert_eq!(format_go_duration(1500 * US), "1.5ms");
    }
}
