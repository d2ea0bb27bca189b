//! WHERE clauses, split the way 1.x splits them: a time range, a tag predicate that picks
//! series through the catalog's tag index, and a field predicate evaluated per row.
//!
//! Used by SELECT and by the statements that take a WHERE (DELETE, DROP SERIES, SHOW ...).
//!
//! 1.6.7 rules reproduced here (influxql `ConditionExpr`/`getTimeRange`):
//! - time comparisons are pulled out of the tree wherever they are, also under `OR`, and
//!   always intersected ("there is no such thing as using OR with a time range");
//! - `>` and `<` become inclusive bounds one nanosecond inside;
//! - the right side may be an RFC 3339 or date string, an integer (ns), a duration literal
//!   (`1767225600000ms` is an epoch in ms), `now()`, and `+`/`-` arithmetic on those;
//! - a name that is not a field is a tag, and a missing tag has the value `""`.

use std::collections::{BTreeSet, HashMap};

use influxql::{BinaryOp, DataType, Expr};
use regex::Regex;

use super::QueryError;
use crate::storage::{Catalog, Measurement, SeriesId};

/// 1.x's `influxql.MinTime`/`MaxTime`: the extremes are kept as sentinels.
pub const MIN_TIME: i64 = i64::MIN + 2;
pub const MAX_TIME: i64 = i64::MAX - 1;

/// Compiled regexes are bounded so a hostile pattern cannot take the server's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A WHERE clause after the time range is taken out.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Inclusive bounds; [`MIN_TIME`]/[`MAX_TIME`] when not given.
    pub min_time: i64,
    pub max_time: i64,
    /// Whatever is left (tags and fields), `None` when nothing is.
    pub filter: Option<Expr>,
}

impl Condition {
    pub fn has_lower_bound(&self) -> bool {
        self.min_time != MIN_TIME
    }
    pub fn has_upper_bound(&self) -> bool {
        self.max_time != MAX_TIME
    }
}

/// Splits a WHERE clause into its time range and the rest.
pub fn split(expr: Option<&Expr>, now: i64) -> Result<Condition, QueryError> {
    let mut cond = Condition {
        min_time: MIN_TIME,
        max_time: MAX_TIME,
        filter: None,
    };
    if let Some(e) = expr {
        let (filter, lo, hi) = split_expr(e, now)?;
        cond.filter = filter;
        if let Some(lo) = lo {
            cond.min_time = lo;
        }
        if let Some(hi) = hi {
            cond.max_time = hi;
        }
    }
    Ok(cond)
}

/// The inclusive time range of a WHERE clause (`MIN_TIME`/`MAX_TIME` when unbounded).
pub fn time_range(expr: Option<&Expr>, now: i64) -> Result<(i64, i64), QueryError> {
    let c = split(expr, now)?;
    Ok((c.min_time, c.max_time))
}

type Split = (Option<Expr>, Option<i64>, Option<i64>);

fn intersect(a: Option<i64>, b: Option<i64>, pick: fn(i64, i64) -> i64) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(pick(x, y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn split_expr(e: &Expr, now: i64) -> Result<Split, QueryError> {
    match e {
        Expr::Paren(inner) => {
            let (f, lo, hi) = split_expr(inner, now)?;
            Ok((f.map(|f| Expr::Paren(Box::new(f))), lo, hi))
        }
        Expr::Binary(b) => match b.op {
            BinaryOp::And | BinaryOp::Or => {
                let (lf, llo, lhi) = split_expr(&b.lhs, now)?;
                let (rf, rlo, rhi) = split_expr(&b.rhs, now)?;
                let lo = intersect(llo, rlo, i64::max);
                let hi = intersect(lhi, rhi, i64::min);
                let f = match (lf, rf) {
                    (None, r) => r,
                    (l, None) => l,
                    (Some(l), Some(r)) => Some(Expr::Binary(Box::new(influxql::BinaryExpr {
                        op: b.op,
                        lhs: l,
                        rhs: r,
                    }))),
                };
                Ok((f, lo, hi))
            }
            BinaryOp::Eq
            | BinaryOp::Neq
            | BinaryOp::Lt
            | BinaryOp::Lte
            | BinaryOp::Gt
            | BinaryOp::Gte => {
                if is_time(&b.lhs) {
                    let (lo, hi) = time_bound(b.op, &b.rhs, now)?;
                    return Ok((None, lo, hi));
                }
                if is_time(&b.rhs) {
                    let (lo, hi) = time_bound(reverse(b.op), &b.lhs, now)?;
                    return Ok((None, lo, hi));
                }
                Ok((Some(e.clone()), None, None))
            }
            BinaryOp::EqRegex | BinaryOp::NeqRegex => Ok((Some(e.clone()), None, None)),
            _ => Err(QueryError::new(format!(
                "invalid condition expression: {e}"
            ))),
        },
        Expr::Boolean(_) => Ok((Some(e.clone()), None, None)),
        _ => Err(QueryError::new(format!(
            "invalid condition expression: {e}"
        ))),
    }
}

fn is_time(e: &Expr) -> bool {
    matches!(e.unparen(), Expr::VarRef(v) if v.name.eq_ignore_ascii_case("time"))
}

fn reverse(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Lte => BinaryOp::Gte,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Gte => BinaryOp::Lte,
        other => other,
    }
}

fn time_bound(
    op: BinaryOp,
    rhs: &Expr,
    now: i64,
) -> Result<(Option<i64>, Option<i64>), QueryError> {
    let t = time_value(rhs, now)?;
    Ok(match op {
        BinaryOp::Gt => (Some(t.saturating_add(1)), None),
        BinaryOp::Gte => (Some(t), None),
        BinaryOp::Lt => (None, Some(t.saturating_sub(1))),
        BinaryOp::Lte => (None, Some(t)),
        BinaryOp::Eq => (Some(t), Some(t)),
        _ => {
            return Err(QueryError::new(format!(
                "invalid time comparison operator: {}",
                op.as_str()
            )));
        }
    })
}

/// What a time comparison's other side means, in ns since the epoch.
fn time_value(e: &Expr, now: i64) -> Result<i64, QueryError> {
    match e {
        Expr::Paren(inner) => time_value(inner, now),
        Expr::String(s) => {
            parse_time_string(s).ok_or_else(|| incompatible("*influxql.StringLiteral"))
        }
        Expr::Integer(i) => Ok(*i),
        Expr::Number(f) => Ok(*f as i64),
        Expr::Duration(d) => Ok(*d),
        Expr::Call(c) if c.name == "now" && c.args.is_empty() => Ok(now),
        Expr::Binary(b) if matches!(b.op, BinaryOp::Add | BinaryOp::Sub) => {
            let l = time_value(&b.lhs, now)?;
            let r = time_value(&b.rhs, now)?;
            Ok(if b.op == BinaryOp::Add {
                l.saturating_add(r)
            } else {
                l.saturating_sub(r)
            })
        }
        Expr::Boolean(_) => Err(incompatible("*influxql.BooleanLiteral")),
        Expr::Regex(_) => Err(incompatible("*influxql.RegexLiteral")),
        Expr::VarRef(_) => Err(incompatible("*influxql.VarRef")),
        Expr::Call(_) => Err(incompatible("*influxql.Call")),
        _ => Err(incompatible("*influxql.BinaryExpr")),
    }
}

fn incompatible(kind: &str) -> QueryError {
    QueryError::new(format!(
        "invalid operation: time and {kind} are not compatible"
    ))
}

/// `2006-01-02`, `2006-01-02 15:04:05[.frac]` and RFC 3339 (`T`, fraction, `Z` or offset),
/// the forms 1.x's `ToTimeLiteral` accepts. Wall times without a zone are UTC.
pub fn parse_time_string(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
    {
        return None;
    }
    // Month and day were range-checked above, so they fit in u32.
    let days = common::time::days_from_civil(y, mo as u32, d as u32);
    let mut secs = days * 86_400;
    let mut nanos = 0i64;
    if b.len() > 10 {
        let sep = *b.get(10)?;
        if sep != b'T' && sep != b' ' {
            return None;
        }
        let (h, mi, se) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + se;
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let digits = b.get(start..i)?;
            if digits.is_empty() || digits.len() > 9 {
                return None;
            }
            let mut n = 0i64;
            for (k, c) in digits.iter().enumerate().take(9) {
                n += i64::from(c - b'0') * 10i64.pow(8 - k as u32);
            }
            nanos = n;
        }
        match b.get(i) {
            None => {}
            Some(b'Z') if i + 1 == b.len() => {}
            Some(&c @ (b'+' | b'-')) if b.len() == i + 6 && b.get(i + 3) == Some(&b':') => {
                let off = num(i + 1, 2)? * 3600 + num(i + 4, 2)? * 60;
                secs -= if c == b'+' { off } else { -off };
            }
            _ => return None,
        }
    }
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Compiles a regex with 1.x's (Go RE2) semantics as far as the `regex` crate shares them.
pub fn compile_regex(pattern: &str) -> Result<Regex, QueryError> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| QueryError::new(format!("error parsing regexp: {e}")))
}

/// Regexes of an expression, compiled once per statement.
#[derive(Default, Debug)]
pub struct Regexes(HashMap<String, Regex>);

impl Regexes {
    pub fn collect(e: &Expr) -> Result<Regexes, QueryError> {
        let mut r = Regexes::default();
        r.add(e)?;
        Ok(r)
    }

    pub fn add(&mut self, e: &Expr) -> Result<(), QueryError> {
        match e {
            Expr::Regex(re) if !self.0.contains_key(&re.0) => {
                self.0.insert(re.0.clone(), compile_regex(&re.0)?);
            }
            Expr::Binary(b) => {
                self.add(&b.lhs)?;
                self.add(&b.rhs)?;
            }
            Expr::Paren(p) => self.add(p)?,
            Expr::Call(c) => {
                for a in &c.args {
                    self.add(a)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub fn get(&self, pattern: &str) -> Option<&Regex> {
        self.0.get(pattern)
    }
}

/// Whether a name in a condition refers to a field of `m` (else it is a tag).
pub fn is_field_ref(m: &Measurement, name: &str, hint: Option<DataType>) -> bool {
    match hint {
        Some(DataType::Tag) => false,
        Some(_) => true,
        None => m.fields.contains_key(name),
    }
}

/// A tag predicate evaluated against one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Reduced {
    True,
    False,
    /// Only field comparisons (and logic around them) remain.
    Fields(Expr),
}

/// Replaces every tag comparison by its truth for a series with `tags` (sorted by key),
/// leaving field comparisons. Exact: used after the index gave a superset of series.
pub fn reduce_for_series(
    e: &Expr,
    m: &Measurement,
    tags: &[(std::sync::Arc<str>, std::sync::Arc<str>)],
    regexes: &Regexes,
) -> Reduced {
    match e {
        Expr::Paren(inner) => match reduce_for_series(inner, m, tags, regexes) {
            Reduced::Fields(f) => Reduced::Fields(Expr::Paren(Box::new(f))),
            other => other,
        },
        Expr::Boolean(true) => Reduced::True,
        Expr::Boolean(false) => Reduced::False,
        Expr::Binary(b) => match b.op {
            BinaryOp::And => {
                let l = reduce_for_series(&b.lhs, m, tags, regexes);
                if l == Reduced::False {
                    return Reduced::False;
                }
                let r = reduce_for_series(&b.rhs, m, tags, regexes);
                match (l, r) {
                    (_, Reduced::False) => Reduced::False,
                    (Reduced::True, r) => r,
                    (l, Reduced::True) => l,
                    (Reduced::Fields(l), Reduced::Fields(r)) => {
                        Reduced::Fields(binary(BinaryOp::And, l, r))
                    }
                    _ => Reduced::False,
                }
            }
            BinaryOp::Or => {
                let l = reduce_for_series(&b.lhs, m, tags, regexes);
                if l == Reduced::True {
                    return Reduced::True;
                }
                let r = reduce_for_series(&b.rhs, m, tags, regexes);
                match (l, r) {
                    (_, Reduced::True) => Reduced::True,
                    (Reduced::False, r) => r,
                    (l, Reduced::False) => l,
                    (Reduced::Fields(l), Reduced::Fields(r)) => {
                        Reduced::Fields(binary(BinaryOp::Or, l, r))
                    }
                    _ => Reduced::True,
                }
            }
            _ => match tag_comparison(b.op, &b.lhs, &b.rhs, m) {
                Some((key, op, lit)) => {
                    let value = tag_value(tags, key);
                    if tag_matches(value, op, lit, regexes) {
                        Reduced::True
                    } else {
                        Reduced::False
                    }
                }
                None => Reduced::Fields(e.clone()),
            },
        },
        _ => Reduced::Fields(e.clone()),
    }
}

fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr::Binary(Box::new(influxql::BinaryExpr { op, lhs, rhs }))
}

fn tag_value<'a>(tags: &'a [(std::sync::Arc<str>, std::sync::Arc<str>)], key: &str) -> &'a str {
    tags.binary_search_by(|(k, _)| (**k).cmp(key))
        .ok()
        .and_then(|i| tags.get(i))
        .map_or("", |(_, v)| &**v)
}

/// `tag op literal` (either order), when the reference is a tag of `m`.
fn tag_comparison<'a>(
    op: BinaryOp,
    lhs: &'a Expr,
    rhs: &'a Expr,
    m: &Measurement,
) -> Option<(&'a str, BinaryOp, &'a Expr)> {
    let comparable = matches!(
        op,
        BinaryOp::Eq | BinaryOp::Neq | BinaryOp::EqRegex | BinaryOp::NeqRegex
    );
    if !comparable {
        return None;
    }
    match (lhs.unparen(), rhs.unparen()) {
        (Expr::VarRef(v), lit @ (Expr::String(_) | Expr::Regex(_)))
        | (lit @ (Expr::String(_) | Expr::Regex(_)), Expr::VarRef(v))
            if !is_field_ref(m, &v.name, v.data_type) =>
        {
            Some((v.name.as_str(), op, lit))
        }
        _ => None,
    }
}

fn tag_matches(value: &str, op: BinaryOp, lit: &Expr, regexes: &Regexes) -> bool {
    match (op, lit) {
        (BinaryOp::Eq, Expr::String(s)) => value == s,
        (BinaryOp::Neq, Expr::String(s)) => value != s,
        (BinaryOp::EqRegex, Expr::Regex(r)) => {
            regexes.get(&r.0).is_some_and(|re| re.is_match(value))
        }
        (BinaryOp::NeqRegex, Expr::Regex(r)) => {
            regexes.get(&r.0).is_none_or(|re| !re.is_match(value))
        }
        // `tag = /re/` and `tag =~ 'str'` never match in 1.x.
        _ => false,
    }
}

/// A superset of the series of `m` that can satisfy `e`, from the tag index; `None` means
/// every series. [`reduce_for_series`] then decides exactly.
pub fn index_candidates(
    e: &Expr,
    m: &Measurement,
    regexes: &Regexes,
) -> Option<BTreeSet<SeriesId>> {
    match e {
        Expr::Paren(inner) => index_candidates(inner, m, regexes),
        Expr::Boolean(false) => Some(BTreeSet::new()),
        Expr::Binary(b) => match b.op {
            BinaryOp::And => match (
                index_candidates(&b.lhs, m, regexes),
                index_candidates(&b.rhs, m, regexes),
            ) {
                (None, r) => r,
                (l, None) => l,
                (Some(l), Some(r)) => Some(l.intersection(&r).copied().collect()),
            },
            BinaryOp::Or => match (
                index_candidates(&b.lhs, m, regexes),
                index_candidates(&b.rhs, m, regexes),
            ) {
                (Some(mut l), Some(r)) => {
                    l.extend(r);
                    Some(l)
                }
                _ => None,
            },
            _ => {
                let (key, op, lit) = tag_comparison(b.op, &b.lhs, &b.rhs, m)?;
                let values = m.tags.get(key);
                let with_key = || -> BTreeSet<SeriesId> {
                    values
                        .map(|vs| vs.values().flatten().copied().collect())
                        .unwrap_or_default()
                };
                let matching: BTreeSet<SeriesId> = match values {
                    None => BTreeSet::new(),
                    Some(vs) => vs
                        .iter()
                        .filter(|(v, _)| tag_matches(v, op, lit, regexes))
                        .flat_map(|(_, ids)| ids.iter().copied())
                        .collect(),
                };
                // Series without the key have the value "": include them when "" matches.
                if tag_matches("", op, lit, regexes) {
                    let have = with_key();
                    let mut out: BTreeSet<SeriesId> = m.series.difference(&have).copied().collect();
                    out.extend(matching);
                    Some(out)
                } else {
                    Some(matching)
                }
            }
        },
        _ => None,
    }
}

/// The series of `m` matching the tag part of `filter` (field comparisons are treated as
/// possibly true), sorted by id. For DELETE, DROP SERIES, SHOW SERIES/TAG VALUES ... WHERE.
pub fn matching_series(
    catalog: &Catalog,
    m: &Measurement,
    filter: Option<&Expr>,
) -> Result<Vec<SeriesId>, QueryError> {
    let Some(filter) = filter else {
        return Ok(m.series.iter().copied().collect());
    };
    let regexes = Regexes::collect(filter)?;
    let candidates = index_candidates(filter, m, &regexes).unwrap_or_else(|| m.series.clone());
    Ok(candidates
        .into_iter()
        .filter(|id| {
            catalog
                .series
                .get(id)
                .is_some_and(|s| reduce_for_series(filter, m, &s.tags, &regexes) != Reduced::False)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(q: &str) -> Result<Condition, QueryError> {
        let stmt = influxql::parse_query(&format!("SELECT x FROM m WHERE {q}"))
            .map_err(|e| QueryError::new(e.to_string()))?;
        let influxql::Statement::Select(s) = &stmt.statements[0] else {
            return Err(QueryError::new("not a select"));
        };
        split(s.condition.as_ref(), 1_000_000_000_000)
    }

    #[test]
    fn time_forms() {
        let c = cond("time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z'").ok();
        assert_eq!(
            c.map(|c| (c.min_time, c.max_time)),
            Some((1_767_225_600_000_000_000, 1_767_229_199_999_999_999))
        );
        let c = cond("time >= 1767225600000ms and time <= 1767225600001ms AND host = 'a'").ok();
        assert_eq!(
            c.as_ref().map(|c| (c.min_time, c.max_time)),
            Some((1_767_225_600_000_000_000, 1_767_225_600_001_000_000))
        );
        assert!(c.is_some_and(|c| c.filter.is_some()));
        let c = cond("time > now() - 1s").ok();
        assert_eq!(c.map(|c| c.min_time), Some(999_000_000_001));
        let c = cond("time >= '2026-01-01 00:10:00.5' - 30s").ok();
        assert_eq!(c.map(|c| c.min_time), Some(1_767_226_170_500_000_000));
        assert_eq!(
            parse_time_string("2026-01-01T05:30:00+05:30"),
            Some(1_767_225_600_000_000_000)
        );
        assert_eq!(
            parse_time_string("2026-01-01"),
            Some(1_767_225_600_000_000_000)
        );
        let e = cond("time >= 'bogus'").err();
        assert_eq!(
            e.map(|e| e.0),
            Some("invalid operation: time and *influxql.StringLiteral are not compatible".into())
        );
    }
}
