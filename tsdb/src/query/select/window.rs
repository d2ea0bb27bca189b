//! Aggregates and selectors, with or without GROUP BY time: buckets, fill, the timestamp
//! rules, transformations of aggregates, and the multi-row functions (top, distinct...).

use std::collections::BTreeMap;

use common::FieldType;
use influxql::{DataType, Fill, SelectStatement};

use super::aggregate::{self, Acc, Pt, feed_column, finish_multi};
use super::eval::{self, Budget};
use super::exec::{Group, filtered_rows, numeric_check};
use super::par;
use super::plan::{Func, MeasRef, Mode, Output, Plan, TransformInput, func_name};
use super::points::Points;
use super::transform;
use super::value::{Value, column_value};
use crate::query::cond::Regexes;
use crate::query::{Cell, QueryContext, QueryError};

/// The buckets of a statement and the time range to read.
#[derive(Debug, Clone, Copy)]
pub struct Buckets {
    pub first: i64,
    pub count: usize,
    pub interval: i64,
    pub read_lo: i64,
    pub read_hi: i64,
    /// Row time without GROUP BY time: the lower bound, or 0 without one.
    pub default_time: i64,
    /// Rows outside are dropped: the extra bucket read for derivative() and friends.
    pub emit_lo: i64,
    pub emit_hi: i64,
    /// The read range before LIMIT pushdown, when the pushdown narrowed it.
    pub unpushed: Option<(i64, i64)>,
}

impl Buckets {
    pub(super) fn start(&self, b: usize) -> i64 {
        self.first
            .saturating_add((b as i64).saturating_mul(self.interval))
    }

    #[inline]
    pub(super) fn index(&self, t: i64) -> Option<usize> {
        if self.interval == 0 {
            return Some(0);
        }
        if t < self.first {
            return None;
        }
        let b = ((t - self.first) / self.interval) as usize;
        (b < self.count).then_some(b)
    }
}

/// Works out the buckets; `data_min` is the earliest point, used (as 1.6.7 does) when
/// GROUP BY time has no lower bound. `None` when there is nothing to read.
pub fn buckets(
    plan: &Plan,
    stmt: &SelectStatement,
    ctx: &QueryContext,
    data_min: Option<i64>,
    tz_offset: &dyn Fn(i64) -> i64,
    outside_range: bool,
) -> Result<Option<Buckets>, QueryError> {
    let c = &plan.cond;
    let default_time = if c.has_lower_bound() { c.min_time } else { 0 };
    if plan.interval == 0 {
        return Ok(Some(Buckets {
            first: 0,
            count: 1,
            interval: 0,
            read_lo: if outside_range { i64::MIN } else { c.min_time },
            read_hi: if outside_range { i64::MAX } else { c.max_time },
            default_time,
            emit_lo: i64::MIN,
            emit_hi: i64::MAX,
            unpushed: None,
        }));
    }
    let i = plan.interval;
    let lower = if c.has_lower_bound() {
        c.min_time
    } else {
        match data_min {
            Some(t) => t,
            None => return Ok(None),
        }
    };
    let upper = if c.has_upper_bound() {
        c.max_time
    } else {
        ctx.now
    };
    if upper < lower {
        return Ok(None);
    }
    let start = |t: i64| {
        let local = t.saturating_add(tz_offset(t));
        t - (local - plan.offset).rem_euclid(i)
    };
    let first = start(lower);
    let last = start(upper);
    let count = ((last - first) / i) as u64 + 1;
    if count > ctx.limits.max_buckets as u64 {
        return Err(QueryError::new(format!(
            "max-select-buckets limit exceeded: ({count}/{})",
            ctx.limits.max_buckets
        )));
    }
    let mut b = Buckets {
        first,
        count: count as usize,
        interval: i,
        // Points outside the range but inside a bucket still count when they may.
        read_lo: if outside_range { first } else { lower },
        read_hi: if outside_range {
            last.saturating_add(i - 1)
        } else {
            upper
        },
        default_time,
        emit_lo: i64::MIN,
        emit_hi: i64::MAX,
        unpushed: None,
    };
    // 1.x reads one more interval for functions that need a previous bucket, so that the
    // first bucket of the range gets a value too.
    let looks_back = plan.outputs.iter().any(|o| {
        matches!(o, Output::Transform(t, TransformInput::Call(_)) if !matches!(t, super::plan::Transform::CumulativeSum))
    });
    if looks_back {
        if stmt.is_descending() {
            b.emit_hi = b.start(b.count - 1);
            b.count += 1;
            b.read_hi = b.read_hi.saturating_add(i);
        } else {
            b.emit_lo = b.first;
            b.first -= i;
            b.count += 1;
            b.read_lo = b.read_lo.saturating_sub(i);
        }
    }
    // LIMIT pushdown: only the buckets that can be returned are read.
    let transforms = plan
        .outputs
        .iter()
        .any(|o| matches!(o, Output::Transform(..)));
    // integral() carries area across buckets: every bucket must be read.
    let integral = plan
        .calls
        .iter()
        .any(|c| matches!(c.func, Func::Integral(_)));
    if stmt.limit > 0
        && plan.fill != Fill::None
        && !transforms
        && !integral
        && plan.mode == Mode::Aggregate
    {
        b.unpushed = Some((b.read_lo, b.read_hi));
        let needed = stmt.limit.saturating_add(stmt.offset).min(b.count as u64) as usize;
        if stmt.is_descending() {
            let skip = b.count - needed;
            b.first = b.start(skip);
            b.count = needed;
            b.read_lo = b.read_lo.max(b.first);
        } else {
            b.count = needed;
            b.read_hi = b.read_hi.min(b.start(needed).saturating_sub(1));
        }
    }
    Ok(Some(b))
}

fn numeric_only(f: Func) -> bool {
    !matches!(
        f,
        Func::Count
            | Func::CountDistinct
            | Func::First
            | Func::Last
            | Func::Distinct
            | Func::Mode
            | Func::Sample(_)
            | Func::Min
            | Func::Max
    )
}

/// Type checks of the calls against this measurement's fields.
fn check_calls(plan: &Plan, m: &MeasRef) -> Result<(), QueryError> {
    for c in &plan.calls {
        if let Some(t) = c.field_type(m) {
            let numeric = numeric_only(c.func)
                || (matches!(c.func, Func::Min | Func::Max) && t == FieldType::String);
            numeric_check(func_name(c.func), t, numeric)?;
        }
    }
    Ok(())
}

/// Whether a call's results are integers (a numeric fill is then truncated).
fn integer_result(f: Func, t: Option<FieldType>) -> bool {
    match f {
        Func::Count | Func::CountDistinct => true,
        Func::Sum
        | Func::Min
        | Func::Max
        | Func::First
        | Func::Last
        | Func::Mode
        | Func::Spread
        | Func::Percentile(_) => t == Some(FieldType::Integer),
        _ => false,
    }
}

/// Feeds every point of the group to `accs[call][bucket]`.
#[allow(clippy::too_many_arguments)]
fn feed(
    store: &dyn Points,
    plan: &Plan,
    g: &Group,
    m: &MeasRef,
    b: &Buckets,
    accs: &mut [Vec<Acc>],
    regexes: &Regexes,
    budget: &Budget,
) -> Result<(), QueryError> {
    let mut fields: Vec<String> = Vec::new();
    for c in &plan.calls {
        if !fields.contains(&c.field) {
            fields.push(c.field.clone());
        }
    }
    let call_field: Vec<usize> = plan
        .calls
        .iter()
        .map(|c| fields.iter().position(|f| *f == c.field).unwrap_or(0))
        .collect();
    // last() without GROUP BY time: each column's newest point, unless it lies past the
    // upper bound (then the column is read).
    let last_only = b.interval == 0 && plan.calls.iter().all(|c| c.func == Func::Last);
    // Series without a field filter are read in waves of up to WAVE_COLUMNS columns,
    // decoded in parallel and fed in series order, so results do not depend on threads.
    let wave_series = if last_only {
        1
    } else {
        (WAVE_COLUMNS / fields.len().max(1)).max(1)
    };
    let mut si = 0;
    while si < g.series.len() {
        let Some(s) = g.series.get(si) else { break };
        if s.filter.is_none() && !last_only {
            let mut end = si + 1;
            while end < g.series.len()
                && end - si < wave_series
                && g.series.get(end).is_some_and(|s| s.filter.is_none())
            {
                end += 1;
            }
            feed_wave(store, plan, g, m, b, &fields, si..end, accs, budget)?;
            si = end;
            continue;
        }
        si += 1;
        let si = si - 1;
        if last_only && s.filter.is_none() {
            let mut fallback = false;
            for (ci, c) in plan.calls.iter().enumerate() {
                let Some(def) = m.fields.get(&c.field) else {
                    continue;
                };
                match store.last_value(s.id, def.id)? {
                    Some((t, _)) if t > b.read_hi => fallback = true,
                    Some((t, v)) if t >= b.read_lo => {
                        let value = eval::cast(Value::from_storage(v), c.cast);
                        if let (false, Some(a)) = (
                            value.is_null(),
                            accs.get_mut(ci).and_then(|a| a.first_mut()),
                        ) {
                            a.push(
                                c.func,
                                Pt {
                                    time: t,
                                    value,
                                    series: si,
                                },
                            );
                        }
                    }
                    _ => {}
                }
            }
            // Feeding a point twice to last() is harmless, so the fallback just reads.
            if !fallback {
                continue;
            }
        }
        if s.filter.is_none() {
            feed_wave(store, plan, g, m, b, &fields, si..si + 1, accs, budget)?;
        } else {
            let (_, rows, keep) =
                filtered_rows(store, m, s, &fields, b.read_lo, b.read_hi, regexes, budget)?;
            for row in keep {
                let t = rows.times.get(row).copied().unwrap_or(0);
                let Some(k) = b.index(t) else { continue };
                for (ci, c) in plan.calls.iter().enumerate() {
                    let v = rows
                        .values
                        .get(call_field.get(ci).copied().unwrap_or(0))
                        .and_then(|col| col.get(row));
                    let v = v.map(|v| eval::cast(v.clone(), c.cast));
                    if let (Some(v), Some(a)) = (v, accs.get_mut(ci).and_then(|a| a.get_mut(k)))
                        && !v.is_null()
                    {
                        a.push(
                            c.func,
                            Pt {
                                time: t,
                                value: v,
                                series: si,
                            },
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// Columns decoded at once by [`feed_wave`]: enough to keep every core busy, few enough
/// that a wave's buffers stay small.
const WAVE_COLUMNS: usize = 64;

/// Reads `fields` of the series `range` (all without a field filter) in parallel, then
/// feeds them to the calls in series order.
#[allow(clippy::too_many_arguments)]
fn feed_wave(
    store: &dyn Points,
    plan: &Plan,
    g: &Group,
    m: &MeasRef,
    b: &Buckets,
    fields: &[String],
    range: std::ops::Range<usize>,
    accs: &mut [Vec<Acc>],
    budget: &Budget,
) -> Result<(), QueryError> {
    let mut jobs = Vec::new();
    for si in range {
        let Some(s) = g.series.get(si) else { continue };
        for (fi, f) in fields.iter().enumerate() {
            if let Some(def) = m.fields.get(f) {
                jobs.push((si, s.id, fi, def.id));
            }
        }
    }
    // Batches share a connection and its memory map (see `Store::read_columns_into`).
    let batches = par::batches(jobs.len());
    let read = par::map(batches.len(), |bi| {
        let Some(jobs) = batches.get(bi).and_then(|r| jobs.get(r.clone())) else {
            return Vec::new();
        };
        let cols: Vec<_> = jobs.iter().map(|j| (j.1, j.3)).collect();
        let mut bufs: Vec<_> = cols.iter().map(|_| par::take()).collect();
        match store.read_columns_into(&cols, b.read_lo, b.read_hi, &mut bufs) {
            Ok(()) => bufs.into_iter().map(Ok).collect(),
            Err(e) => {
                bufs.into_iter().for_each(par::give);
                let mut out = vec![Err(e)];
                out.resize_with(cols.len(), || {
                    Err(crate::Error::corrupt("batch", "not read"))
                });
                out
            }
        }
    });
    let read = read.into_iter().flatten();
    let mut failed: Option<QueryError> = None;
    for (&(si, _, fi, _), r) in jobs.iter().zip(read) {
        let buf = match r {
            Ok(buf) => buf,
            Err(e) => {
                failed.get_or_insert(e.into());
                continue;
            }
        };
        if failed.is_none() && !buf.times.is_empty() {
            if let Err(e) = budget.take(buf.times.len()) {
                failed = Some(e);
            } else {
                let field = fields.get(fi);
                for (ci, c) in plan.calls.iter().enumerate() {
                    if Some(&c.field) != field {
                        continue;
                    }
                    let Some(acc) = accs.get_mut(ci) else {
                        continue;
                    };
                    match c.cast {
                        None | Some(DataType::Field | DataType::Tag) => {
                            feed_column(b, c.func, &buf.times, &buf.values, acc, si)
                        }
                        Some(t) => {
                            if let Some(col) = eval::cast_column(&buf.values, t) {
                                feed_column(b, c.func, &buf.times, &col, acc, si);
                            }
                        }
                    }
                }
            }
        }
        par::give(buf);
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Looks up a reference at a selected point: a tag of its series or a field at its time.
fn aux_value(
    store: &dyn Points,
    m: &MeasRef,
    g: &Group,
    name: &str,
    hint: Option<DataType>,
    sel: Option<(i64, usize)>,
) -> Value {
    let Some((time, si)) = sel else {
        return Value::Null;
    };
    let Some(s) = g.series.get(si) else {
        return Value::Null;
    };
    let as_tag = hint == Some(DataType::Tag) || (hint.is_none() && !m.fields.contains_key(name));
    if as_tag {
        return eval::tag(&s.tags, name).map_or(Value::Null, |v| Value::String(v.to_string()));
    }
    let Some(def) = m.fields.get(name) else {
        return Value::Null;
    };
    match store.read_column(s.id, def.id, time, time) {
        Ok(Some((_, col))) => column_value(&col, 0),
        _ => Value::Null,
    }
}

/// Whether a group without points in the LIMIT-narrowed range has some in the full range:
/// 1.x then still returns its (filled) rows.
fn has_points_outside(
    store: &dyn Points,
    plan: &Plan,
    g: &Group,
    m: &MeasRef,
    b: &Buckets,
) -> Result<bool, QueryError> {
    let Some((lo, hi)) = b.unpushed else {
        return Ok(false);
    };
    for s in &g.series {
        for c in &plan.calls {
            let Some(def) = m.fields.get(&c.field) else {
                continue;
            };
            if store.read_column(s.id, def.id, lo, hi)?.is_some() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// An aggregate query for one group.
#[allow(clippy::too_many_arguments)]
pub fn aggregate_group(
    store: &dyn Points,
    plan: &Plan,
    g: &Group,
    b: &Buckets,
    regexes: &Regexes,
    budget: &Budget,
) -> Result<Vec<(i64, Vec<Cell>)>, QueryError> {
    let Some(m) = plan.measurements.get(g.meas) else {
        return Ok(Vec::new());
    };
    check_calls(plan, m)?;
    let mut accs: Vec<Vec<Acc>> = plan
        .calls
        .iter()
        .map(|c| {
            let sum_kind = match c.field_type(m) {
                Some(FieldType::Integer) => Some(true),
                Some(FieldType::Unsigned) => Some(false),
                _ => None,
            };
            vec![Acc::new(c.func, sum_kind); b.count]
        })
        .collect();
    feed(store, plan, g, m, b, &mut accs, regexes, budget)?;
    let mut had = vec![false; b.count];
    let mut values: Vec<Vec<Option<Value>>> = Vec::with_capacity(plan.calls.len());
    let mut selected: Vec<Vec<Option<(i64, usize)>>> = Vec::with_capacity(plan.calls.len());
    // Under ORDER BY time DESC too: the same areas, newest first.
    let streams_integral = b.interval > 0;
    // 1.6.7 never fills integral() windows: only windows that got an area make rows.
    let fill = if streams_integral
        && plan
            .calls
            .iter()
            .all(|c| matches!(c.func, Func::Integral(_)))
    {
        Fill::None
    } else {
        plan.fill
    };
    for (ci, acc) in accs.into_iter().enumerate() {
        let func = plan.calls.get(ci).map_or(Func::Count, |c| c.func);
        let mut vals = Vec::with_capacity(b.count);
        let mut sels = Vec::with_capacity(b.count);
        // integral() under GROUP BY time carries area across bucket edges.
        let streamed = match func {
            Func::Integral(unit) if streams_integral => {
                let integer = plan
                    .calls
                    .get(ci)
                    .and_then(|c| c.field_type(m))
                    .is_some_and(|t| t == FieldType::Integer);
                let mut points: Vec<(i64, f64)> = acc
                    .iter()
                    .flat_map(|a| a.points())
                    .filter_map(|p| Some((p.time, p.value.as_f64()?)))
                    .collect();
                points.sort_by_key(|p| p.0);
                Some(aggregate::integral_windows(
                    &points,
                    b.count,
                    unit,
                    integer,
                    |t| {
                        let k = b.index(t)?;
                        Some((k, b.start(k), b.start(k).saturating_add(b.interval)))
                    },
                ))
            }
            _ => None,
        };
        // A call over a field the measurement lacks (or cannot be cast) has no iterator in
        // 1.x: its column is null, not 0 (count, sum).
        let absent = plan.calls.get(ci).is_some_and(|c| !c.reads(m));
        for (k, a) in acc.into_iter().enumerate() {
            let r = match &streamed {
                _ if absent => None,
                Some(w) => w.get(k).copied().flatten().map(|v| (Value::Float(v), None)),
                None if a.is_empty() => None,
                None => a.finish(func),
            };
            if r.is_some()
                && let Some(h) = had.get_mut(k)
            {
                *h = true;
            }
            sels.push(r.as_ref().and_then(|r| r.1));
            vals.push(r.map(|r| r.0));
        }
        values.push(vals);
        selected.push(sels);
    }
    if !had.iter().any(|h| *h) && !has_points_outside(store, plan, g, m, b)? {
        return Ok(Vec::new());
    }
    if b.interval > 0 {
        for (ci, vals) in values.iter_mut().enumerate() {
            let Some(c) = plan.calls.get(ci) else {
                continue;
            };
            // fill(number) fills an absent call's column too, but not with count's 0.
            let count_like = matches!(c.func, Func::Count | Func::CountDistinct) && c.reads(m);
            let integer = integer_result(c.func, c.field_type(m));
            transform::fill(vals, fill, count_like, integer);
        }
    }
    let bucket_time = |k: usize| {
        if b.interval > 0 {
            b.start(k)
        } else {
            b.default_time
        }
    };
    // Transformations of aggregates.
    let mut transformed: Vec<Option<BTreeMap<i64, Value>>> = Vec::new();
    for o in &plan.outputs {
        transformed.push(match o {
            Output::Transform(t, TransformInput::Call(ci)) => {
                let seq: Vec<(i64, Value)> = values
                    .get(*ci)
                    .map(|vals| {
                        vals.iter()
                            .enumerate()
                            .filter_map(|(k, v)| {
                                v.clone()
                                    .filter(|v| !v.is_null())
                                    .map(|v| (bucket_time(k), v))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Some(
                    transform::apply(*t, &seq, b.interval.max(1), plan.descending)
                        .into_iter()
                        .collect(),
                )
            }
            _ => None,
        });
    }
    let has_expr = plan.outputs.iter().any(|o| matches!(o, Output::Expr(_)));
    let single_selector =
        plan.calls.len() == 1 && plan.calls.first().is_some_and(|c| c.func.is_selector());
    // 1.x quirk: integral() without GROUP BY time is stamped 0, even with a lower bound.
    let integral = plan
        .calls
        .iter()
        .any(|c| matches!(c.func, Func::Integral(_)));
    let mut rows = Vec::with_capacity(b.count.min(1 << 16));
    for k in 0..b.count {
        let sel = if single_selector {
            selected.first().and_then(|s| s.get(k).copied().flatten())
        } else {
            None
        };
        let time = match (b.interval, sel) {
            (0, Some((t, _))) => t,
            (0, None) if integral => 0,
            _ => bucket_time(k),
        };
        if time < b.emit_lo || time > b.emit_hi {
            continue;
        }
        let expr_row = has_expr
            && (had.get(k).copied().unwrap_or(false) || (b.interval > 0 && fill != Fill::None));
        let tr_row = transformed.iter().flatten().any(|t| t.contains_key(&time));
        if !expr_row && !tr_row {
            continue;
        }
        let calls = |ci: usize| {
            values
                .get(ci)
                .and_then(|v| v.get(k))
                .cloned()
                .flatten()
                .unwrap_or(Value::Null)
        };
        let refs = |n: &str, t: Option<DataType>| aux_value(store, m, g, n, t, sel);
        // One spare cell: `series_result` puts the time in front without reallocating.
        let mut cells = Vec::with_capacity(plan.outputs.len() + 1);
        cells.extend(
            plan.outputs
                .iter()
                .zip(&transformed)
                .map(|(o, tr)| match (o, tr) {
                    (Output::Expr(e), _) if expr_row => {
                        eval::eval_pexpr(e, &refs, &calls).into_cell()
                    }
                    (_, Some(tr)) => tr.get(&time).cloned().unwrap_or(Value::Null).into_cell(),
                    _ => Cell::Null,
                }),
        );
        rows.push((time, cells));
    }
    Ok(rows)
}

/// distinct(), top(), bottom(), sample() for one group: several rows per bucket.
pub fn multi_group(
    store: &dyn Points,
    plan: &Plan,
    g: &Group,
    b: &Buckets,
    regexes: &Regexes,
    budget: &Budget,
) -> Result<Vec<(i64, Vec<Cell>)>, QueryError> {
    let Some(m) = plan.measurements.get(g.meas) else {
        return Ok(Vec::new());
    };
    let Some(call) = plan.calls.first() else {
        return Ok(Vec::new());
    };
    check_calls(plan, m)?;
    let mut accs: Vec<Vec<Acc>> = vec![vec![Acc::All(Vec::new()); b.count]];
    feed(store, plan, g, m, b, &mut accs, regexes, budget)?;
    let mut rows = Vec::new();
    let tag_key = |si: usize| -> Vec<String> {
        let tags = g.series.get(si).map(|s| s.tags.clone());
        call.tags
            .iter()
            .map(|k| {
                tags.as_ref()
                    .and_then(|t| eval::tag(t, k))
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    for (k, acc) in accs
        .into_iter()
        .next()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let Acc::All(points) = acc else { continue };
        if points.is_empty() {
            continue;
        }
        let bucket_time = if b.interval > 0 {
            b.start(k)
        } else {
            b.default_time
        };
        for p in finish_multi(call.func, points, tag_key, !call.tags.is_empty()) {
            let time = if call.func == Func::Distinct {
                bucket_time
            } else {
                p.time
            };
            let sel = Some((p.time, p.series));
            let refs = |n: &str, t: Option<DataType>| aux_value(store, m, g, n, t, sel);
            let calls = |_: usize| p.value.clone();
            let mut cells: Vec<Cell> = plan
                .outputs
                .iter()
                .map(|o| match o {
                    Output::Expr(e) => eval::eval_pexpr(e, &refs, &calls).into_cell(),
                    Output::Transform(..) => Cell::Null,
                })
                .collect();
            for t in tag_key(p.series) {
                cells.push(Cell::String(t));
            }
            rows.push((time, cells));
        }
    }
    Ok(rows)
}
