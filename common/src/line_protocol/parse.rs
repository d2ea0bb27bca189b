//! The parser: splits the body into lines and turns each line into a point.
//!
//! A line goes through three stages:
//! 1. validation on bytes, exactly as 1.x, recording where keys and values are (`scan.rs`);
//! 2. one UTF-8 check of the line (after 1.x's own checks, so their errors win);
//! 3. extraction of names and values, unescaping only where a backslash was seen, then the checks
//!    1.x makes after parsing (`time` keys, duplicate fields of different types).

use std::borrow::Cow;
use std::fmt;

use super::error::{ParseError, ParseErrorKind};
use super::scan::{
    Fail, Scan, check_duplicate_tags, check_field_key_size, fail, scan_fields, scan_line,
    scan_measurement, scan_tags, scan_time, skip_whitespace, walk_fields,
};
use super::{Limits, Precision};
use crate::point::{FieldValueRef, PointRef};

#[cfg(test)]
mod tests;

use super::scan::{FieldSpan, TagSpan};

/// Iterator over the points of a line-protocol body; see the [module docs](super).
///
/// Yields one item per non-blank, non-comment line: the point, or the reason the line was
/// rejected. Lines are independent: an error never affects the next line.
pub struct Parser<'a> {
    body: &'a [u8],
    pos: usize,
    next_line: usize,
    item_line: usize,
    precision: Precision,
    limits: Limits,
    // Reused across lines so that scanning allocates nothing.
    tags: Vec<TagSpan>,
    fields: Vec<FieldSpan>,
}

impl fmt::Debug for Parser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parser")
            .field("body_len", &self.body.len())
            .field("pos", &self.pos)
            .field("next_line", &self.next_line)
            .field("precision", &self.precision)
            .field("limits", &self.limits)
            .finish()
    }
}

impl<'a> Parser<'a> {
    /// Parses `body` with timestamps in `precision` units and the default [`Limits`].
    pub fn new(body: &'a [u8], precision: Precision) -> Self {
        Parser::with_limits(body, precision, Limits::default())
    }

    /// Parses `body` with explicit per-line limits.
    pub fn with_limits(body: &'a [u8], precision: Precision, limits: Limits) -> Self {
        Parser {
            body,
            pos: 0,
            next_line: 1,
            item_line: 0,
            precision,
            limits,
            tags: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// The 1-based line on which the item last returned by `next` starts (0 before the first).
    /// Errors carry their own, more precise, position.
    pub fn line(&self) -> usize {
        self.item_line
    }

    fn parse_line(&mut self, buf: &'a [u8]) -> Scan<PointRef<'a>> {
        if buf.len() > self.limits.max_line_bytes {
            let kind = ParseErrorKind::LineTooLong {
                len: buf.len(),
                max: self.limits.max_line_bytes,
            };
            return fail(self.limits.max_line_bytes, kind);
        }
        self.tags.clear();
        self.fields.clear();

        // Stage 1: 1.x's checks, in 1.x's order.
        let (meas_end, has_tags) = scan_measurement(buf)?;
        let key_end = if has_tags {
            scan_tags(buf, meas_end + 1, &mut self.tags)?
        } else {
            meas_end
        };
        check_duplicate_tags(buf, &mut self.tags)?;
        let max_key = self.limits.max_series_key_bytes;
        if key_end > max_key {
            return fail(
                max_key,
                ParseErrorKind::MaxKeyLength {
                    len: key_end,
                    max: max_key,
                },
            );
        }
        if self.tags.len() > self.limits.max_tags {
            let kind = ParseErrorKind::TooManyTags {
                count: self.tags.len(),
                max: self.limits.max_tags,
            };
            return fail(meas_end, kind);
        }
        let (fields_start, fields_end, regular) = scan_fields(buf, key_end, &mut self.fields)?;
        if regular {
            for f in &self.fields {
                check_field_key_size(key_end, f, max_key)?;
            }
        } else {
            // Escapes or a misplaced `=` make 1.x's second field scanner disagree with the
            // first: redo the split its way, which is the one that decides what gets stored.
            walk_fields(
                buf,
                fields_start,
                fields_end,
                key_end,
                max_key,
                &mut self.fields,
            )?;
        }
        if self.fields.len() > self.limits.max_fields {
            let kind = ParseErrorKind::TooManyFields {
                count: self.fields.len(),
                max: self.limits.max_fields,
            };
            return fail(fields_start, kind);
        }
        let timestamp = scan_time(buf, fields_end, self.precision)?;

        // Stage 2.
        let line = match std::str::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => return fail(e.valid_up_to(), ParseErrorKind::InvalidUtf8),
        };

        // Stage 3.
        let key_escaped = buf.get(..key_end).is_some_and(has_backslash);
        let measurement = measurement_name(line, meas_end, key_escaped);
        // `extend` over an exact-size iterator: one allocation and no per-tag `push` call.
        let mut tags = Vec::with_capacity(self.tags.len());
        tags.extend(self.tags.iter().map(|t| {
            (
                name(line, t.key_start, t.key_end, key_escaped, is_tag_escape),
                name(line, t.key_end + 1, t.value_end, key_escaped, is_tag_escape),
            )
        }));
        // Tags stay in stage 1's order, by key as written (escaped), which is 1.x's series-key
        // order; it differs from plain string order only for keys with `,`, `=` or space.
        if tags.iter().any(|(k, _)| k == "time") {
            let measurement = measurement.into_owned();
            return fail(0, ParseErrorKind::TimeTagKey { measurement });
        }

        let mut fields = Vec::with_capacity(self.fields.len());
        let mut dropped_time = false;
        for f in &self.fields {
            let key = name(line, f.key_start, f.key_end, !regular, is_name_escape);
            if key == "time" {
                // 1.x stores the point without it, unless it was the only field.
                dropped_time = true;
                continue;
            }
            let value = field_value(line, f.key_end + 1, f.value_end)?;
            fields.push((key, value));
        }
        if fields.is_empty() && dropped_time {
            let measurement = measurement.into_owned();
            return fail(fields_start, ParseErrorKind::TimeFieldKey { measurement });
        }
        if let Err(kind) = dedup_fields(&mut fields) {
            return fail(fields_start, kind);
        }

        Ok(PointRef {
            measurement,
            tags,
            fields,
            timestamp,
        })
    }

    fn error(
        &self,
        block: &[u8],
        block_line: usize,
        skipped: usize,
        line: &[u8],
        f: Fail,
    ) -> ParseError {
        // Report the real line and column even inside a multi-line quoted string.
        let at = (skipped + f.at).min(block.len());
        let (mut line_no, mut column) = (block_line, 1);
        for &b in block.get(..at).unwrap_or_default() {
            if b == b'\n' {
                line_no += 1;
                column = 1;
            } else if b & 0xC0 != 0x80 {
                column += 1;
            }
        }
        ParseError {
            line: line_no,
            column,
            kind: f.kind,
            text: String::from_utf8_lossy(line).into_owned(),
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<PointRef<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let body = self.body;
        loop {
            let start = self.pos;
            if start >= body.len() {
                return None;
            }
            let (end, newlines) = scan_line(body, start);
            let block = body.get(start..end).unwrap_or_default();
            let block_line = self.next_line;
            self.pos = end + 1;
            self.next_line += 1 + newlines;

            let skipped = skip_whitespace(block, 0);
            let Some(&first) = block.get(skipped) else {
                continue; // blank
            };
            if first == b'#' {
                continue;
            }
            self.item_line = block_line;
            let mut line = block.get(skipped..).unwrap_or_default();
            if let [rest @ .., b'\n'] = line {
                line = rest;
            }
            return Some(
                self.parse_line(line)
                    .map_err(|f| self.error(block, block_line, skipped, line, *f)),
            );
        }
    }
}

/// Escapes removed from field keys, and in the second pass over measurements (1.x's
/// `escape.Unescape`).
fn is_name_escape(b: u8) -> bool {
    matches!(b, b',' | b'"' | b' ' | b'=')
}

/// Escapes removed from tag keys and values (1.x's `unescapeTag`); `\"` stays.
fn is_tag_escape(b: u8) -> bool {
    matches!(b, b',' | b' ' | b'=')
}

/// 1.x unescapes a measurement twice (its `escape.Unescape`, each pass removing the backslash
/// of `\,` `\"` `\ ` `\=`), so `a\\=b` names the measurement `a=b`. That is the name its
/// index and `SHOW MEASUREMENTS` use, so it is ours too.
fn measurement_name(line: &str, end: usize, escaped: bool) -> Cow<'_, str> {
    let once = name(line, 0, end, escaped, is_name_escape);
    if !escaped {
        return once;
    }
    let twice = match unescape(&once, |b, next| {
        b == b'\\' && next.is_some_and(is_name_escape)
    }) {
        Cow::Borrowed(_) => None,
        Cow::Owned(s) => Some(s),
    };
    twice.map_or(once, Cow::Owned)
}

/// `line[start..end]`, with the backslash of each escape pair removed when `escaped` says the
/// section may contain one. Any other backslash (`\\` included) is kept.
///
/// Names are delimited by ASCII bytes in a line already checked to be UTF-8, so the range always
/// falls on character boundaries; should it not, the bytes are decoded lossily rather than fail.
#[inline]
fn name<'a>(
    line: &'a str,
    start: usize,
    end: usize,
    escaped: bool,
    is_escape: fn(u8) -> bool,
) -> Cow<'a, str> {
    let Some(raw) = line.get(start..end) else {
        let bytes = line.as_bytes().get(start..end).unwrap_or_default();
        return Cow::Owned(String::from_utf8_lossy(bytes).into_owned());
    };
    if !escaped {
        return Cow::Borrowed(raw);
    }
    unescape(raw, |b, next| b == b'\\' && next.is_some_and(is_escape))
}

/// Removes the first byte of every pair `(b, next)` that `drop_first` selects, scanning left to
/// right and skipping both bytes of a removed pair. Borrows when nothing is removed.
fn unescape<'a>(raw: &'a str, drop_first: impl Fn(u8, Option<u8>) -> bool) -> Cow<'a, str> {
    let bytes = raw.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut last = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let next = bytes.get(i + 1).copied();
        if drop_first(b, next) {
            let o = out.get_or_insert_with(|| Vec::with_capacity(raw.len()));
            o.extend_from_slice(bytes.get(last..i).unwrap_or_default());
            last = i + 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    match out {
        None => Cow::Borrowed(raw),
        Some(mut o) => {
            o.extend_from_slice(bytes.get(last..).unwrap_or_default());
            // Only ASCII backslashes were removed, so this cannot fail; stay lossless anyway.
            Cow::Owned(
                String::from_utf8(o)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            )
        }
    }
}

/// Types and decodes a field value the way 1.x's field iterator does (by its first byte).
#[inline]
fn field_value<'a>(line: &'a str, start: usize, end: usize) -> Scan<FieldValueRef<'a>> {
    let Some(raw) = line.get(start..end) else {
        return fail(start, ParseErrorKind::InvalidUtf8);
    };
    let bytes = raw.as_bytes();
    match bytes.first() {
        None => fail(start, ParseErrorKind::MissingFieldValue),
        Some(b'"') => {
            // 1.x strips the first and last byte whatever they are: `"x"y` is `x"`.
            if bytes.len() < 2 {
                return fail(start, ParseErrorKind::UnbalancedQuotes);
            }
            let Some(inner) = raw.get(1..raw.len() - 1) else {
                return fail(start, ParseErrorKind::InvalidUtf8);
            };
            Ok(FieldValueRef::String(unescape(inner, |b, next| {
                b == b'\\' && matches!(next, Some(b'\\' | b'"'))
            })))
        }
        Some(b'0'..=b'9' | b'-' | b'.' | b'n' | b'N' | b'i' | b'I' | b'u') => match bytes
            .split_last()
        {
            Some((b'i', num)) => match std::str::from_utf8(num).map(str::parse::<i64>) {
                Ok(Ok(v)) => Ok(FieldValueRef::Integer(v)),
                Ok(Err(e))
                    if matches!(
                        e.kind(),
                        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
                    ) =>
                {
                    let digits = String::from_utf8_lossy(num).into_owned();
                    fail(start, ParseErrorKind::IntegerOutOfRange { digits })
                }
                _ => fail(start, ParseErrorKind::InvalidNumber),
            },
            Some((b'u', _)) => fail(start, ParseErrorKind::InvalidNumber),
            _ => match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(FieldValueRef::Float(v)),
                _ => fail(start, ParseErrorKind::InvalidFloat),
            },
        },
        Some(_) => match raw {
            "t" | "T" | "true" | "True" | "TRUE" | "1" => Ok(FieldValueRef::Boolean(true)),
            "f" | "F" | "false" | "False" | "FALSE" | "0" => Ok(FieldValueRef::Boolean(false)),
            _ => fail(start, ParseErrorKind::InvalidBoolean),
        },
    }
}

/// Makes field keys unique, the last value winning in the place of the first, as 1.x stores them;
/// a repeated key with another type is 1.x's request-wide `field type conflict`.
fn dedup_fields(fields: &mut Vec<(Cow<'_, str>, FieldValueRef<'_>)>) -> Result<(), ParseErrorKind> {
    const SMALL: usize = 32;
    let n = fields.len();
    if n < 2 {
        return Ok(());
    }
    if n <= SMALL {
        // Comparing fingerprints pairwise is cheaper than hashing into a set, and than comparing
        // strings that mostly share a prefix (`usage_user`, `usage_system`, ...).
        let mut prints = [0u64; SMALL];
        for (p, (k, _)) in prints.iter_mut().zip(fields.iter()) {
            *p = fingerprint(k.as_bytes());
        }
        let prints = prints.get(..n).unwrap_or_default();
        let repeated = prints
            .iter()
            .enumerate()
            .any(|(i, p)| prints.get(..i).unwrap_or_default().contains(p));
        if !repeated {
            return Ok(());
        }
    }
    // Rare path: sort indices by key (stable, so line order within a key) and merge runs.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        fields
            .get(a)
            .map(|f| &f.0)
            .cmp(&fields.get(b).map(|f| &f.0))
    });
    let key = |i: usize| fields.get(i).map(|f| &f.0);
    let mut keep = vec![true; n];
    let mut moves = Vec::new();
    let mut run = 0;
    while let Some(&first) = order.get(run) {
        let mut end = run + 1;
        while order.get(end).is_some_and(|&o| key(o) == key(first)) {
            end += 1;
        }
        let members = order.get(run + 1..end).unwrap_or_default();
        for &other in members {
            if let (Some((k, a)), Some((_, b))) = (fields.get(first), fields.get(other))
                && a.field_type() != b.field_type()
            {
                return Err(ParseErrorKind::FieldTypeConflict {
                    field: k.to_string(),
                    first: a.field_type(),
                    second: b.field_type(),
                });
            }
            if let Some(k) = keep.get_mut(other) {
                *k = false;
            }
        }
        if let Some(&last) = members.last() {
            moves.push((first, last));
        }
        run = end;
    }
    for (first, last) in moves {
        if let Some(v) = fields
            .get_mut(last)
            .map(|f| std::mem::replace(&mut f.1, FieldValueRef::Boolean(false)))
            && let Some(f) = fields.get_mut(first)
        {
            f.1 = v;
        }
    }
    let mut idx = 0;
    fields.retain(|_| {
        idx += 1;
        keep.get(idx - 1).copied().unwrap_or(true)
    });
    Ok(())
}

/// A cheap key fingerprint: equal keys always match; different keys rarely do, and then only
/// cost the exact comparison.
fn fingerprint(b: &[u8]) -> u64 {
    let word = |w: Option<&[u8]>| {
        w.and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
    };
    let n = b.len();
    let (head, tail) = match (word(b.get(..8)), word(b.get(n.saturating_sub(8)..))) {
        (Some(h), Some(t)) => (h, t),
        // Short keys: fold the bytes (no memcpy call for a partial word).
        _ => (b.iter().fold(0u64, |h, &c| (h << 8) | u64::from(c)), 0),
    };
    head ^ tail.rotate_left(29) ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Whether `b` holds a backslash, eight bytes at a time.
fn has_backslash(b: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = b.chunks_exact(8);
    let found = chunks.by_ref().any(|c| {
        let v = <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes) ^ (LO * u64::from(b'\\'));
        v.wrapping_sub(LO) & !v & HI != 0
    });
    found || chunks.remainder().contains(&b'\\')
}
