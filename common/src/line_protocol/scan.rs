//! Stage 1 of parsing a line: 1.6.7's byte scanners (`models/points.go`: `scanLine`,
//! `scanMeasurement`, `scanTags*`, `scanFields`, `scanNumber`, `scanBoolean`, `scanTime`,
//! `walkFields`/`scanFieldValue`), each mirrored with its quirks and in the same order, so that
//! the same input gives the same error. They record where keys and values are; nothing here
//! allocates except an error. Offsets in [`Fail`] are byte offsets into the line and only feed
//! our line/column report.

use super::Precision;
use super::error::{MAX_NANO_TIME, MIN_NANO_TIME, ParseErrorKind};

/// A rejection found while scanning one line: byte offset in the line, and why.
#[derive(Debug)]
pub(super) struct Fail {
    pub(super) at: usize,
    pub(super) kind: ParseErrorKind,
}

/// Boxed so that the `Ok` path, taken for nearly every value, moves small results.
pub(super) type Scan<T> = Result<T, Box<Fail>>;

#[cold]
pub(super) fn fail<T>(at: usize, kind: ParseErrorKind) -> Scan<T> {
    Err(Box::new(Fail { at, kind }))
}

/// Byte ranges of one tag in the line, as written.
#[derive(Debug, Clone, Copy)]
pub(super) struct TagSpan {
    /// The key's first 8 bytes, big-endian and zero-padded: orders most keys without a memcmp.
    pub(super) prefix: u64,
    pub(super) key_start: usize,
    pub(super) key_end: usize,
    pub(super) value_end: usize, // the value starts at key_end + 1 (after the `=`)
}

/// Byte ranges of one field in the line, as written.
#[derive(Debug, Clone, Copy)]
pub(super) struct FieldSpan {
    pub(super) key_start: usize,
    pub(super) key_end: usize,
    pub(super) value_end: usize, // the value starts at key_end + 1
}

/// 1.x's `skipWhitespace`: spaces, tabs and NUL bytes.
pub(super) fn skip_whitespace(buf: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | 0) = buf.get(i) {
        i += 1;
    }
    i
}

/// Finds the first `\n`, `"` or `\` eight bytes at a time: most lines have none of the last two,
/// and then the line simply ends at the first newline.
pub(super) fn find_line_special(hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn zero_bytes(v: u64) -> u64 {
        // Exact for the lowest matching byte, which is all we use.
        v.wrapping_sub(LO) & !v & HI
    }
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let m = zero_bytes(v ^ (LO * u64::from(b'\n')))
            | zero_bytes(v ^ (LO * u64::from(b'"')))
            | zero_bytes(v ^ (LO * u64::from(b'\\')));
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n' || b == b'"' || b == b'\\')
        .map(|p| base + p)
}

/// 1.x's `scanLine`: the end of the line starting at `start` (index of its `\n` or the body
/// length), and how many newlines the line itself contains.
///
/// A newline does not end the line inside a quoted field value, nor right after a backslash;
/// the quote tracking is 1.x's rough one (it also runs over comments, so a comment with a
/// space, `=` and `"` swallows the following lines, as in 1.6.7).
pub(super) fn scan_line(buf: &[u8], start: usize) -> (usize, usize) {
    let rest = buf.get(start..).unwrap_or_default();
    match find_line_special(rest) {
        None => return (buf.len(), 0),
        Some(p) if rest.get(p) == Some(&b'\n') => return (start + p, 0),
        Some(_) => {}
    }
    let (mut quoted, mut fields) = (false, false);
    let (mut equals, mut commas) = (0usize, 0usize);
    let mut i = start;
    while let Some(&b) = buf.get(i) {
        // 1.x's bound, relative to the whole body: a backslash just before the last byte
        // escapes nothing.
        if b == b'\\' && i + 2 < buf.len() {
            i += 2;
            continue;
        }
        if b == b' ' {
            fields = true;
        }
        if fields {
            if !quoted && b == b'=' {
                i += 1;
                equals += 1;
                continue;
            } else if !quoted && b == b',' {
                i += 1;
                commas += 1;
                continue;
            } else if b == b'"' && equals > commas {
                i += 1;
                quoted = !quoted;
                continue;
            }
        }
        if b == b'\n' && !quoted {
            break;
        }
        i += 1;
    }
    let newlines = buf
        .get(start..i)
        .unwrap_or_default()
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    (i, newlines)
}

/// Index of the first byte at or after `from` that `is_stop` selects and that does not follow a
/// backslash (1.x's escape rule in the series key: `\\,` is an escaped comma), or `buf.len()`.
#[inline]
fn find_unescaped(buf: &[u8], from: usize, is_stop: impl Fn(u8) -> bool) -> usize {
    let mut escaped = from.checked_sub(1).and_then(|j| buf.get(j)) == Some(&b'\\');
    let mut i = from;
    while let Some(&b) = buf.get(i) {
        if !escaped && is_stop(b) {
            return i;
        }
        escaped = b == b'\\';
        i += 1;
    }
    i
}

/// 1.x's `scanMeasurement`: the end of the measurement and whether tags follow.
pub(super) fn scan_measurement(buf: &[u8]) -> Scan<(usize, bool)> {
    match buf.first() {
        None | Some(b',') => return fail(0, ParseErrorKind::MissingMeasurement),
        Some(_) => {}
    }
    // The first byte is never a separator, even a space after a backslash-less start.
    let i = find_unescaped(buf, 1, |b| b == b',' || b == b' ');
    match buf.get(i) {
        None => fail(i, ParseErrorKind::MissingFields),
        Some(&b) => Ok((i, b == b',')),
    }
}

/// 1.x's `scanTags`: records each tag and returns the end of the series key (the space).
pub(super) fn scan_tags(buf: &[u8], mut i: usize, tags: &mut Vec<TagSpan>) -> Scan<usize> {
    loop {
        let key_start = i;
        match buf.get(i) {
            None | Some(b' ' | b',' | b'=') => return fail(i, ParseErrorKind::MissingTagKey),
            Some(_) => {}
        }
        let key_end = find_unescaped(buf, i + 1, |b| matches!(b, b' ' | b',' | b'='));
        match buf.get(key_end) {
            Some(b'=') => {}
            _ => return fail(key_end, ParseErrorKind::MissingTagValue),
        }
        i = key_end + 1;
        // The first byte of a value is never checked for `=` (so `t==x` is the value `=x`).
        match buf.get(i) {
            None | Some(b',' | b' ') => return fail(i, ParseErrorKind::MissingTagValue),
            Some(_) => {}
        }
        let value_end = find_unescaped(buf, i + 1, |b| matches!(b, b' ' | b',' | b'='));
        match buf.get(value_end) {
            None => return fail(value_end, ParseErrorKind::MissingFields),
            Some(b'=') => return fail(value_end, ParseErrorKind::InvalidTagFormat),
            Some(&b) => {
                let key = buf.get(key_start..key_end).unwrap_or_default();
                let mut prefix = [0u8; 8];
                for (p, k) in prefix.iter_mut().zip(key) {
                    *p = *k;
                }
                let prefix = u64::from_be_bytes(prefix);
                tags.push(TagSpan {
                    prefix,
                    key_start,
                    key_end,
                    value_end,
                });
                if b == b' ' {
                    return Ok(value_end);
                }
                i = value_end + 1;
            }
        }
    }
}

/// Sorts the tags by key as written and rejects repeated keys. Keys compare equal as written
/// exactly when they do unescaped, since every `,`, `=` and space in a key is escaped.
pub(super) fn check_duplicate_tags(buf: &[u8], tags: &mut [TagSpan]) -> Scan<()> {
    let key = |t: &TagSpan| buf.get(t.key_start..t.key_end).unwrap_or_default();
    let cmp = |a: &TagSpan, b: &TagSpan| a.prefix.cmp(&b.prefix).then_with(|| key(a).cmp(key(b)));
    let mut sorted = true;
    for w in tags.windows(2) {
        if let [a, b] = w {
            match cmp(a, b) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    return fail(b.key_start, ParseErrorKind::DuplicateTags);
                }
                std::cmp::Ordering::Greater => sorted = false,
            }
        }
    }
    if !sorted {
        tags.sort_unstable_by(cmp);
        for w in tags.windows(2) {
            if let [a, b] = w
                && cmp(a, b).is_eq()
            {
                return fail(a.key_start.max(b.key_start), ParseErrorKind::DuplicateTags);
            }
        }
    }
    Ok(())
}

/// 1.x's `isNumeric`.
fn is_numeric(b: u8) -> bool {
    b.is_ascii_digit() || b == b'.'
}

/// 1.x's `scanFields`: validates the field section starting at `from` and returns its bounds and
/// whether it is "regular": no backslash and strictly `key=value` pairs separated by commas, in
/// which case the recorded spans are the ones 1.x's second scanner would find.
pub(super) fn scan_fields(
    buf: &[u8],
    from: usize,
    fields: &mut Vec<FieldSpan>,
) -> Scan<(usize, usize, bool)> {
    let start = skip_whitespace(buf, from);
    let mut i = start;
    let mut quoted = false;
    let mut quote_at = start;
    let (mut equals, mut commas) = (0usize, 0usize);
    let mut regular = true;
    let mut field_start = start;
    loop {
        // Skip what cannot change the state: most of a key, most of a string.
        if quoted {
            while buf.get(i).is_some_and(|&b| b != b'\\' && b != b'"') {
                i += 1;
            }
        } else if equals == commas {
            while buf
                .get(i)
                .is_some_and(|&b| !matches!(b, b'\\' | b'=' | b',' | b' '))
            {
                i += 1;
            }
        }
        let Some(&b) = buf.get(i) else { break };
        if b == b'\\' && i + 1 < buf.len() {
            regular = false;
            i += 2;
            continue;
        }
        if b == b'"' && equals > commas {
            quoted = !quoted;
            quote_at = i;
            i += 1;
            continue;
        }
        if b == b'=' && !quoted {
            if equals == commas {
                fields.push(FieldSpan {
                    key_start: field_start,
                    key_end: i,
                    value_end: i + 1,
                });
            } else {
                regular = false;
            }
            equals += 1;
            let prev = i.checked_sub(1).and_then(|j| buf.get(j));
            let prev2 = i.checked_sub(2).and_then(|j| buf.get(j));
            if matches!(prev, Some(b' ' | b',')) && prev2 != Some(&b'\\') {
                return fail(i, ParseErrorKind::MissingFieldKey);
            }
            match buf.get(i + 1) {
                None | Some(b',' | b' ') => return fail(i + 1, ParseErrorKind::MissingFieldValue),
                Some(&n) if is_numeric(n) || matches!(n, b'-' | b'N' | b'n') => {
                    i = scan_number(buf, i + 1)?;
                    continue;
                }
                Some(b'"') => {} // a string: the quote toggles on the next turn
                Some(_) => {
                    i = scan_boolean(buf, i + 1)?;
                    continue;
                }
            }
        }
        if b == b',' && !quoted {
            if equals == commas + 1 {
                if let Some(last) = fields.last_mut() {
                    last.value_end = i;
                }
            } else {
                regular = false;
            }
            commas += 1;
            field_start = i + 1;
        }
        if b == b' ' && !quoted {
            break;
        }
        i += 1;
    }
    if quoted {
        return fail(quote_at, ParseErrorKind::UnbalancedQuotes);
    }
    if equals == 0 || commas + 1 != equals {
        return fail(i, ParseErrorKind::InvalidFieldFormat);
    }
    if let Some(last) = fields.last_mut() {
        last.value_end = i;
    }
    Ok((start, i, regular))
}

/// 1.x's `scanNumber`: validates a number starting at `i`, returns where it ends.
fn scan_number(buf: &[u8], i: usize) -> Scan<usize> {
    match scan_plain_number(buf, i) {
        Some(end) => Ok(end),
        None => scan_number_exact(buf, i),
    }
}

/// The shapes nearly every number has (`-?digits[.digits]` or `-?digits` + `i`, short enough
/// that 1.x does not range-check them), for which 1.x's scanner can only succeed.
/// `None` means "not that shape": ask [`scan_number_exact`].
#[inline]
fn scan_plain_number(buf: &[u8], start: usize) -> Option<usize> {
    let digits_from = |mut j: usize| {
        while buf.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    };
    let first = if buf.get(start) == Some(&b'-') {
        start + 1
    } else {
        start
    };
    let mut j = digits_from(first);
    let mut digits = j - first;
    let decimal = buf.get(j) == Some(&b'.');
    if decimal {
        let f = j + 1;
        j = digits_from(f);
        digits += j - f;
    }
    let ends = |j: usize| matches!(buf.get(j), None | Some(b',' | b' '));
    if digits == 0 {
        return None;
    }
    if ends(j) {
        return (j - start < 25).then_some(j);
    }
    if buf.get(j) == Some(&b'i') && !decimal && ends(j + 1) && j - start < 19 {
        return Some(j + 1);
    }
    None
}

/// 1.x's `scanNumber`, byte for byte.
fn scan_number_exact(buf: &[u8], mut i: usize) -> Scan<usize> {
    use ParseErrorKind::InvalidNumber;
    let start = i;
    let (mut is_int, mut is_unsigned) = (false, false);
    let negative = buf.get(i) == Some(&b'-');
    if negative {
        i += 1;
        if i == buf.len() {
            return fail(i, InvalidNumber);
        }
    }
    let (mut decimal, mut scientific) = (false, false);
    while let Some(&b) = buf.get(i) {
        if b == b',' || b == b' ' {
            break;
        }
        if i > start && !(is_int || is_unsigned) {
            if b == b'i' {
                is_int = true;
                i += 1;
                continue;
            } else if b == b'u' {
                is_unsigned = true;
                i += 1;
                continue;
            }
        }
        if b == b'.' {
            if decimal {
                return fail(i, InvalidNumber);
            }
            decimal = true;
        }
        if i > start && (b == b'e' || b == b'E') {
            scientific = true;
            i += 1;
            continue;
        }
        if (b == b'+' || b == b'-') && matches!(buf.get(i.wrapping_sub(1)), Some(b'e' | b'E')) {
            i += 1;
            continue;
        }
        if i + 2 < buf.len() && (b == b'N' || b == b'n') {
            return fail(i, InvalidNumber);
        }
        if !is_numeric(b) {
            return fail(i, InvalidNumber);
        }
        i += 1;
    }
    if (is_int || is_unsigned) && (decimal || scientific) {
        return fail(start, InvalidNumber);
    }
    let digits = (i - start)
        .saturating_sub(usize::from(is_int) + usize::from(decimal) + usize::from(negative));
    if digits == 0 {
        return fail(start, InvalidNumber);
    }
    let text = buf.get(start..i).unwrap_or_default();
    if is_int {
        let Some((b'i', num)) = text.split_last().map(|(l, r)| (*l, r)) else {
            return fail(start, InvalidNumber); // `9i10`
        };
        // Like 1.x, only long numbers are range-checked here; stage 3 parses all of them.
        if num.len() >= 19 && parse_ascii::<i64>(num).is_none() {
            let digits = String::from_utf8_lossy(num).into_owned();
            return fail(start, ParseErrorKind::IntegerOutOfRange { digits });
        }
    } else if is_unsigned {
        // 1.6.7 OSS is built without uint64 support.
        return fail(start, InvalidNumber);
    } else if (scientific || text.len() >= 25) && parse_float(text).is_none() {
        return fail(start, ParseErrorKind::InvalidFloat);
    }
    Ok(i)
}

/// 1.x's `scanBoolean`: validates a boolean starting at `i`, returns where it ends.
fn scan_boolean(buf: &[u8], i: usize) -> Scan<usize> {
    let start = i;
    let end = buf
        .get(start..)
        .unwrap_or_default()
        .iter()
        .position(|&b| b == b',' || b == b' ')
        .map_or(buf.len(), |p| start + p);
    match buf.get(start..end) {
        Some(
            b"t" | b"T" | b"true" | b"True" | b"TRUE" | b"f" | b"F" | b"false" | b"False"
            | b"FALSE",
        ) => Ok(end),
        _ => fail(start, ParseErrorKind::InvalidBoolean),
    }
}

/// Rejects a field whose series key (as 1.x sizes it, `key#!~#field`) is too long.
pub(super) fn check_field_key_size(key_end: usize, f: &FieldSpan, max: usize) -> Scan<()> {
    let len = key_end + 4 + (f.key_end - f.key_start);
    if len > max {
        return fail(f.key_start, ParseErrorKind::MaxKeyLength { len, max });
    }
    Ok(())
}

/// 1.x's `walkFields` (the same splitting as its field iterator): keys end at an `=` not preceded
/// by a backslash, values at a comma outside quotes, where only `\"` and `\\` are escapes.
pub(super) fn walk_fields(
    buf: &[u8],
    start: usize,
    end: usize,
    key_end: usize,
    max_key: usize,
    fields: &mut Vec<FieldSpan>,
) -> Scan<()> {
    fields.clear();
    let block = buf.get(start..end).unwrap_or_default();
    let mut off = 0;
    while let Some(sub) = block.get(off..).filter(|s| !s.is_empty()) {
        let eq = (0..sub.len())
            .find(|&i| sub.get(i) == Some(&b'=') && (i == 0 || sub.get(i - 1) != Some(&b'\\')))
            .unwrap_or(sub.len());
        if eq + 2 > sub.len() {
            let key = String::from_utf8_lossy(sub.get(..eq).unwrap_or_default()).into_owned();
            return fail(start + off, ParseErrorKind::InvalidFieldValue { key });
        }
        let value_start = off + eq + 1;
        let value_len = scan_field_value(block.get(value_start..).unwrap_or_default());
        let f = FieldSpan {
            key_start: start + off,
            key_end: start + off + eq,
            value_end: start + value_start + value_len,
        };
        check_field_key_size(key_end, &f, max_key)?;
        fields.push(f);
        off = value_start + value_len + 1; // past the comma
    }
    Ok(())
}

/// 1.x's `scanFieldValue`: length of the value at the start of `buf`.
fn scan_field_value(buf: &[u8]) -> usize {
    let mut i = 0;
    let mut quoted = false;
    while let Some(&b) = buf.get(i) {
        if b == b'\\' && matches!(buf.get(i + 1), Some(b'"' | b'\\')) {
            i += 2;
            continue;
        }
        if b == b'"' {
            quoted = !quoted;
        } else if b == b',' && !quoted {
            break;
        }
        i += 1;
    }
    i
}

/// 1.x's `scanTime` and what `parsePoint` does with the result.
pub(super) fn scan_time(buf: &[u8], from: usize, precision: Precision) -> Scan<Option<i64>> {
    let start = skip_whitespace(buf, from);
    let mut i = start;
    while let Some(&b) = buf.get(i) {
        if b == b'\n' || b == b' ' {
            break;
        }
        if !(b.is_ascii_digit() || (i == start && b == b'-')) {
            return fail(i, ParseErrorKind::BadTimestamp);
        }
        i += 1;
    }
    let text = buf.get(start..i).unwrap_or_default();
    if text.is_empty() {
        return Ok(None);
    }
    let fast = text.iter().try_fold(0i64, |n, &d| {
        let digit = d.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(i64::from(digit))
    });
    let Some(ts) = fast.or_else(|| parse_ascii::<i64>(text)) else {
        let out_of_range = text.len() > 1; // anything but a lone `-`
        let text = String::from_utf8_lossy(text).into_owned();
        return fail(
            start,
            ParseErrorKind::TimestampSyntax { text, out_of_range },
        );
    };
    let Some(ns) = ts
        .checked_mul(precision.multiplier())
        .filter(|ns| (MIN_NANO_TIME..=MAX_NANO_TIME).contains(ns))
    else {
        return fail(start, ParseErrorKind::TimeOutsideRange);
    };
    if let Some(p) = buf
        .get(i..)
        .unwrap_or_default()
        .iter()
        .position(|&b| b != b' ')
    {
        return fail(i + p, ParseErrorKind::InvalidPoint);
    }
    Ok(Some(ns))
}

fn parse_ascii<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Go's `ParseFloat` on the forms that reach it: overflow is an error, not infinity.
fn parse_float(b: &[u8]) -> Option<f64> {
    parse_ascii::<f64>(b).filter(|v| v.is_finite())
}
