//! Telegraf-style log lines (`2026-01-02T03:04:05Z E! [outputs.influxdb] ...`) on stderr.
//!
//! A logging framework would cost more binary and memory than the handful of lines the agent
//! ever logs; the format matches Telegraf's so existing log filters keep working.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static DEBUG: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// Only errors are printed; used by `--test` so stdout/stderr stay readable.
pub fn set_quiet(on: bool) {
    QUIET.store(on, Ordering::Relaxed);
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

pub fn log(level: Level, args: std::fmt::Arguments<'_>) {
    let letter = match level {
        Level::Debug if !DEBUG.load(Ordering::Relaxed) => return,
        Level::Debug => 'D',
        Level::Info | Level::Warn if QUIET.load(Ordering::Relaxed) => return,
        Level::Info => 'I',
        Level::Warn => 'W',
        Level::Error => 'E',
    };
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    eprintln!("{} {letter}! {args}", rfc3339(secs as i64));
}

/// UTC RFC 3339 for a Unix time in seconds.
pub fn rfc3339(secs: i64) -> String {
    common::time::rfc3339_nanos(secs.saturating_mul(1_000_000_000))
}

#[macro_export]
macro_rules! debug { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Debug, format_args!($($t)*)) } }
#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Info, format_args!($($t)*)) } }
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Warn, format_args!($($t)*)) } }
#[macro_export]
macro_rules! error { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Error, format_args!($($t)*)) } }

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
