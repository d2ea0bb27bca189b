//! TICKscript literals for form values, and the checks that make a value safe to put in
//! one: single-quoted strings escape `'`, references escape `"`, and since TICKscript has no
//! escape for a backslash itself, a value ending in one is refused (it would escape the
//! closing quote). Numbers and durations are parsed and printed back, never pasted.

use crate::error::{Result, UiError};

fn bad(m: impl Into<String>) -> UiError {
    UiError::BadRequest(m.into())
}

/// A task id as the alerter accepts it.
pub fn check_task_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 100
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(bad(
            "the rule name must be 1 to 100 letters, digits, '-', '.' or '_'",
        ));
    }
    Ok(())
}

/// Text that becomes a TICKscript string or reference. A trailing backslash would escape
/// the closing quote (TICKscript has no escape for a backslash itself), so it is refused.
pub(super) fn check_text(what: &str, s: &str, max: usize, newlines: bool) -> Result<()> {
    if s.len() > max {
        return Err(bad(format!("{what} is longer than {max} bytes")));
    }
    if s.chars()
        .any(|c| c.is_control() && !(newlines && (c == '\n' || c == '\t')))
    {
        return Err(bad(format!("{what} must not contain control characters")));
    }
    if s.ends_with('\\') {
        return Err(bad(format!("{what} must not end with a backslash")));
    }
    Ok(())
}

/// A single-quoted TICKscript string. Only `'` needs escaping; callers have refused a
/// trailing backslash ([`check_text`]).
pub fn tick_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "\\'"))
}

/// A double-quoted TICKscript reference (field or tag name in a lambda, dbrp parts).
pub fn tick_ref(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\\\""))
}

/// A finite number from the form.
pub fn parse_number(what: &str, s: &str) -> Result<f64> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| bad(format!("{what} must be a number, not {:?}", s.trim())))?;
    if !v.is_finite() || v.abs() > 1e15 {
        return Err(bad(format!(
            "{what} must be a number between -1e15 and 1e15"
        )));
    }
    Ok(v)
}

/// A TICKscript float literal (always with a decimal point; never an exponent).
pub fn tick_float(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// `10m`, `1h`, ...: digits and one of ms, s, m, h, d, w; at most a year. Returns the
/// normalized text and nanoseconds.
pub fn parse_duration(what: &str, s: &str) -> Result<(String, i64)> {
    let s = s.trim();
    let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
    let (n, unit) = s.split_at(digits);
    let n: i64 = n
        .parse()
        .map_err(|_| bad(format!("{what} must look like 30s, 10m or 1h, not {s:?}")))?;
    let per: i64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 604_800_000_000_000,
        _ => {
            return Err(bad(format!(
                "{what} must look like 30s, 10m or 1h, not {s:?}"
            )));
        }
    };
    let ns = n
        .checked_mul(per)
        .filter(|ns| *ns > 0 && *ns <= 366 * 86_400_000_000_000)
        .ok_or_else(|| bad(format!("{what} must be more than 0 and at most a year")))?;
    Ok((format!("{n}{unit}"), ns))
}

pub(super) fn check_template(what: &str, s: &str) -> Result<()> {
    check_text(what, s, 4096, true)?;
    alerter::alert::template::Template::parse(s).map_err(|e| bad(format!("{what}: {e}")))?;
    Ok(())
}

/// A log handler's file name: one path component, no hidden files.
pub(super) fn check_file_name(s: &str) -> Result<()> {
    if s.is_empty()
        || s.len() > 100
        || s.starts_with('.')
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(bad(
            "a log file name is letters, digits, '-', '.' and '_', not starting with '.'",
        ));
    }
    Ok(())
}

pub(super) fn check_url(s: &str) -> Result<()> {
    check_text("the POST URL", s, 2048, false)?;
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(|| bad("the POST URL must start with http:// or https://"))?;
    if rest.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        return Err(bad(
            "the POST URL must not contain spaces, quotes or backslashes",
        ));
    }
    Ok(())
}

pub(super) fn check_email(s: &str) -> Result<()> {
    let ok = s.len() <= 254
        && s.split_once('@').is_some_and(|(a, b)| {
            !a.is_empty()
                && b.contains('.')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "@.-_+".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(bad("the email address must look like name@example.com"))
    }
}

pub(super) fn check_channel(s: &str) -> Result<()> {
    let body = s
        .strip_prefix('#')
        .or_else(|| s.strip_prefix('@'))
        .unwrap_or(s);
    if body.is_empty()
        || body.len() > 80
        || !body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(bad("a Slack channel looks like #ops or @someone"));
    }
    Ok(())
}
