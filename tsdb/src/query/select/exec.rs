//! Execution: series selection and grouping, raw queries, transformations of raw fields.

use std::collections::BTreeMap;

use influxql::{DataType, SelectStatement};

use super::eval::{self, Budget, RowCtx, Rows};
use super::plan::{Dims, MeasRef, Output, Plan, TransformInput};
use super::points::{Points, RowOrder};
use super::transform;
use super::value::Value;
use crate::query::cond::{self, Reduced, Regexes};
use crate::query::{Cell, QueryContext, QueryError, SeriesResult};
use crate::storage::SeriesId;

/// An output row before the time column is prepended.
pub type Row = (i64, Vec<Cell>);

/// One series of the store selected by the WHERE clause.
pub struct SeriesIn {
    pub id: SeriesId,
    pub tags: crate::storage::catalog::SeriesTags,
    /// The field predicate left for this series, if any.
    pub filter: Option<influxql::Expr>,
}

/// One output series: a measurement and a GROUP BY tag set.
pub struct Group {
    pub meas: usize,
    pub tags: Option<BTreeMap<String, String>>,
    pub series: Vec<SeriesIn>,
}

/// Selects series through the tag index and groups them by the GROUP BY tags, in 1.x's
/// output order (measurement, then tag values).
pub fn groups(
    store: &dyn Points,
    plan: &Plan,
    regexes: &Regexes,
    ctx: &QueryContext,
) -> Result<Vec<Group>, QueryError> {
    let cat = store.catalog();
    let mut out = Vec::new();
    let mut total = 0usize;
    for (mi, mref) in plan.measurements.iter().enumerate() {
        let Some(m) = cat.measurements.get(&mref.id) else {
            continue;
        };
        let candidates: Vec<SeriesId> = match &plan.cond.filter {
            Some(f) => match cond::index_candidates(f, m, regexes) {
                Some(set) => set.into_iter().collect(),
                None => m.series.iter().copied().collect(),
            },
            None => m.series.iter().copied().collect(),
        };
        let keys: Vec<String> = match &plan.dims {
            None => Vec::new(),
            Some(Dims::Keys(k)) => k.clone(),
            Some(Dims::All) => m.tags.keys().map(|k| k.to_string()).collect(),
            Some(Dims::Regex(re)) => m
                .tags
                .keys()
                .filter(|k| re.is_match(k))
                .map(|k| k.to_string())
                .collect(),
        };
        let mut by_key: BTreeMap<Vec<String>, Vec<SeriesIn>> = BTreeMap::new();
        for id in candidates {
            let Some(s) = cat.series.get(&id) else {
                continue;
            };
            let filter = match &plan.cond.filter {
                None => None,
                Some(f) => match cond::reduce_for_series(f, m, &s.tags, regexes) {
                    Reduced::False => continue,
                    Reduced::True => None,
                    Reduced::Fields(e) => Some(e),
                },
            };
            total += 1;
            if total > ctx.limits.max_series {
                return Err(QueryError::new(format!(
                    "max-select-series limit exceeded: ({total}/{})",
                    ctx.limits.max_series
                )));
            }
            let key: Vec<String> = keys
                .iter()
                .map(|k| eval::tag(&s.tags, k).unwrap_or("").to_string())
                .collect();
            by_key.entry(key).or_default().push(SeriesIn {
                id,
                tags: s.tags.clone(),
                filter,
            });
        }
        for (key, mut series) in by_key {
            series.sort_by(|a, b| a.tags.cmp(&b.tags));
            // An empty tag set prints no `tags` (Go's omitempty), as with GROUP BY * over
            // a measurement without tags.
            let tags = plan
                .dims
                .as_ref()
                .map(|_| keys.iter().cloned().zip(key).collect::<BTreeMap<_, _>>())
                .filter(|t| !t.is_empty());
            out.push(Group {
                meas: mi,
                tags,
                series,
            });
        }
    }
    Ok(out)
}

/// Applies ORDER BY, OFFSET and LIMIT to one series' rows.
pub fn order_and_limit(rows: &mut Vec<(i64, Vec<Cell>)>, stmt: &SelectStatement) {
    if stmt.is_descending() {
        rows.reverse();
    }
    let offset = usize::try_from(stmt.offset).unwrap_or(usize::MAX);
    if offset > 0 {
        rows.drain(..offset.min(rows.len()));
    }
    if stmt.limit > 0 {
        rows.truncate(usize::try_from(stmt.limit).unwrap_or(usize::MAX));
    }
}

pub fn series_result(plan: &Plan, g: &Group, rows: Vec<(i64, Vec<Cell>)>) -> SeriesResult {
    SeriesResult {
        name: plan.measurements.get(g.meas).map(|m| m.name.clone()),
        tags: g.tags.clone(),
        columns: plan.columns.clone(),
        values: rows
            .into_iter()
            .map(|(t, mut cells)| {
                cells.insert(0, Cell::Time(t));
                cells
            })
            .collect(),
    }
}

/// Rows of one series that pass its filter: the row table and the indexes kept.
#[allow(clippy::too_many_arguments)]
pub fn filtered_rows(
    store: &dyn Points,
    m: &MeasRef,
    s: &SeriesIn,
    drivers: &[String],
    lo: i64,
    hi: i64,
    regexes: &Regexes,
    budget: &Budget,
) -> Result<(Vec<String>, Rows, Vec<usize>), QueryError> {
    let mut fields: Vec<String> = drivers.to_vec();
    if let Some(f) = &s.filter {
        eval::expr_fields(f, m, &mut fields);
    }
    let cols = eval::load(store, m, s.id, &fields, lo, hi, budget)?;
    let rows = eval::join(&cols, &fields, drivers.len());
    let keep: Vec<usize> = match &s.filter {
        None => (0..rows.times.len()).collect(),
        Some(f) => (0..rows.times.len())
            .filter(|&row| {
                let ctx = RowCtx {
                    fields: &fields,
                    rows: &rows,
                    row,
                    tags: &s.tags,
                    m,
                };
                eval::eval_cond(f, &ctx, regexes)
            })
            .collect(),
    };
    Ok((fields, rows, keep))
}

/// `ORDER BY time DESC LIMIT 1` without a field predicate: the newest row of the group
/// from each column's last value, without reading the columns. `None` when the fast path
/// does not apply (then the general path runs).
fn lastpoint(
    store: &dyn Points,
    plan: &Plan,
    g: &Group,
    m: &MeasRef,
    drivers: &[String],
) -> Result<Option<Vec<Row>>, QueryError> {
    if !(plan.descending && plan.limit == 1 && plan.row_offset == 0)
        || g.series.iter().any(|s| s.filter.is_some())
    {
        return Ok(None);
    }
    // The newest time of the group, and for the series that has it, its values then.
    let mut best: Option<(i64, usize, Vec<Value>)> = None;
    for (si, s) in g.series.iter().enumerate() {
        let mut lasts = Vec::with_capacity(drivers.len());
        for f in drivers {
            let Some(def) = m.fields.get(f) else {
                lasts.push(None);
                continue;
            };
            let last = store.last_value(s.id, def.id)?;
            if let Some((t, _)) = &last
                && *t > plan.cond.max_time
            {
                return Ok(None);
            }
            lasts.push(last.filter(|(t, _)| *t >= plan.cond.min_time));
        }
        let Some(t) = lasts.iter().flatten().map(|(t, _)| *t).max() else {
            continue;
        };
        // Ties go to the later series, as the general path's reversed stable sort does.
        if best.as_ref().is_none_or(|(bt, _, _)| t >= *bt) {
            let values = lasts
                .into_iter()
                .map(|l| match l {
                    Some((lt, v)) if lt == t => super::value::Value::from_storage(v),
                    _ => Value::Null,
                })
                .collect();
            best = Some((t, si, values));
        }
    }
    let Some((t, si, values)) = best else {
        return Ok(Some(Vec::new()));
    };
    let Some(s) = g.series.get(si) else {
        return Ok(Some(Vec::new()));
    };
    let rows = Rows {
        times: vec![t],
        values: values.into_iter().map(|v| vec![v]).collect(),
    };
    let ctx = RowCtx {
        fields: drivers,
        rows: &rows,
        row: 0,
        tags: &s.tags,
        m,
    };
    let refs = |n: &str, ty: Option<DataType>| ctx.get(n, ty);
    let cells = plan
        .outputs
        .iter()
        .map(|o| match o {
            Output::Expr(e) => eval::eval_pexpr(e, &refs, &|_| Value::Null).into_cell(),
            Output::Transform(..) => Cell::Null,
        })
        .collect();
    Ok(Some(vec![(t, cells)]))
}

/// A raw query (no functions) for one group.
pub fn raw_group(
    store: &dyn Points,
    plan: &Plan,
    g: &Group,
    regexes: &Regexes,
    budget: &Budget,
) -> Result<Vec<(i64, Vec<Cell>)>, QueryError> {
    let Some(m) = plan.measurements.get(g.meas) else {
        return Ok(Vec::new());
    };
    let mut drivers = Vec::new();
    for o in &plan.outputs {
        if let Output::Expr(e) = o {
            eval::pexpr_fields(e, m, &mut drivers);
        }
    }
    if drivers.is_empty() {
        if !store.tag_only_rows() {
            // Only tags selected: 1.x returns nothing.
            return Ok(Vec::new());
        }
        drivers.extend(m.fields.keys().cloned());
    }
    let order = store.row_order();
    if order == RowOrder::Time
        && let Some(rows) = lastpoint(store, plan, g, m, &drivers)?
    {
        return Ok(rows);
    }
    let (lo, hi) = read_range(store, plan);
    let mut rows_out: Vec<(i64, Vec<Cell>)> = Vec::new();
    // The series each row comes from, for the orders that depend on it.
    let mut origin: Vec<usize> = Vec::new();
    for (si, s) in g.series.iter().enumerate() {
        let (fields, rows, keep) = filtered_rows(store, m, s, &drivers, lo, hi, regexes, budget)?;
        for row in keep {
            let ctx = RowCtx {
                fields: &fields,
                rows: &rows,
                row,
                tags: &s.tags,
                m,
            };
            let refs = |n: &str, t: Option<DataType>| ctx.get(n, t);
            let cells = plan
                .outputs
                .iter()
                .map(|o| match o {
                    Output::Expr(e) => eval::eval_pexpr(e, &refs, &|_| Value::Null).into_cell(),
                    Output::Transform(..) => Cell::Null,
                })
                .collect();
            rows_out.push((rows.times.get(row).copied().unwrap_or(0), cells));
            origin.push(si);
        }
    }
    // `order_and_limit` reverses the rows for ORDER BY time DESC: sort so that the reversal
    // gives the wanted order.
    let desc = plan.descending;
    match order {
        // Stable: rows with equal times keep the series order.
        RowOrder::Time => rows_out.sort_by_key(|r| r.0),
        RowOrder::TimeThenSeries => {
            let mut keyed: Vec<_> = origin.into_iter().zip(rows_out).collect();
            keyed.sort_by_key(|(si, r)| (r.0, if desc { usize::MAX - si } else { *si }));
            rows_out = keyed.into_iter().map(|(_, r)| r).collect();
        }
        RowOrder::SeriesThenTime => {
            let mut keyed: Vec<_> = origin.into_iter().zip(rows_out).collect();
            // Within a series the inner order stands (top() keeps time order under DESC).
            if desc {
                keyed.sort_by_key(|(si, r)| std::cmp::Reverse((*si, r.0)));
            } else {
                keyed.sort_by_key(|(si, r)| (*si, r.0));
            }
            rows_out = keyed.into_iter().map(|(_, r)| r).collect();
        }
    }
    Ok(rows_out)
}

/// Transformations of raw fields (derivative(f), difference(f), ...) for one group.
pub fn raw_transform_group(
    store: &dyn Points,
    plan: &Plan,
    g: &Group,
    regexes: &Regexes,
    budget: &Budget,
) -> Result<Vec<(i64, Vec<Cell>)>, QueryError> {
    let Some(m) = plan.measurements.get(g.meas) else {
        return Ok(Vec::new());
    };
    let (lo, hi) = read_range(store, plan);
    let mut columns: Vec<BTreeMap<i64, Value>> = Vec::new();
    for o in &plan.outputs {
        let mut out = BTreeMap::new();
        if let Output::Transform(t, TransformInput::Raw(field)) = o {
            if let Some(def) = m.fields.get(field) {
                numeric_check(
                    transform_name(t),
                    def.field_type,
                    !matches!(t, super::plan::Transform::Elapsed(_)),
                )?;
            }
            let mut points: Vec<(i64, Value)> = Vec::new();
            for s in &g.series {
                let (_, rows, keep) = filtered_rows(
                    store,
                    m,
                    s,
                    std::slice::from_ref(field),
                    lo,
                    hi,
                    regexes,
                    budget,
                )?;
                for row in keep {
                    let v = rows
                        .values
                        .first()
                        .and_then(|c| c.get(row))
                        .cloned()
                        .unwrap_or(Value::Null);
                    if !v.is_null() {
                        points.push((rows.times.get(row).copied().unwrap_or(0), v));
                    }
                }
            }
            points.sort_by_key(|p| p.0);
            out.extend(transform::apply(
                *t,
                &points,
                1_000_000_000,
                plan.descending,
            ));
        }
        columns.push(out);
    }
    Ok(zip_columns(columns))
}

/// The time range a raw query reads: the WHERE range, or everything for points that
/// ignore it (see [`Points::reads_outside_range`]).
fn read_range(store: &dyn Points, plan: &Plan) -> (i64, i64) {
    if store.reads_outside_range() {
        (i64::MIN, i64::MAX)
    } else {
        (plan.cond.min_time, plan.cond.max_time)
    }
}

/// Joins per-field (time -> value) maps into rows, by time.
pub fn zip_columns(columns: Vec<BTreeMap<i64, Value>>) -> Vec<(i64, Vec<Cell>)> {
    let mut times: Vec<i64> = columns.iter().flat_map(|c| c.keys().copied()).collect();
    times.sort_unstable();
    times.dedup();
    times
        .into_iter()
        .map(|t| {
            (
                t,
                columns
                    .iter()
                    .map(|c| c.get(&t).cloned().unwrap_or(Value::Null).into_cell())
                    .collect(),
            )
        })
        .collect()
}

pub fn transform_name(t: &super::plan::Transform) -> &'static str {
    use super::plan::Transform::*;
    match t {
        Derivative {
            non_negative: false,
            ..
        } => "derivative",
        Derivative {
            non_negative: true, ..
        } => "non_negative_derivative",
        Difference {
            non_negative: false,
        } => "difference",
        Difference { non_negative: true } => "non_negative_difference",
        MovingAverage(_) => "moving_average",
        CumulativeSum => "cumulative_sum",
        Elapsed(_) => "elapsed",
    }
}

/// 1.x fails numeric functions on strings and booleans with its iterator type names.
pub fn numeric_check(
    func: &str,
    t: common::FieldType,
    numeric_only: bool,
) -> Result<(), QueryError> {
    if !numeric_only {
        return Ok(());
    }
    let kind = match t {
        common::FieldType::String => "string",
        common::FieldType::Boolean => "boolean",
        _ => return Ok(()),
    };
    Err(QueryError::new(format!(
        "unsupported {func} iterator type: *query.{kind}InterruptIterator"
    )))
}
