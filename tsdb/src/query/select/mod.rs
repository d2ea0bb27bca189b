//! SELECT: planning (`plan`), series selection and raw rows (`exec`), aggregates and
//! GROUP BY time (`window`, `aggregate`), transformations and fill (`transform`),
//! expression evaluation (`eval`, `value`).
//!
//! Execution streams group by group (one output series at a time): only one group's
//! columns are in memory, and every read is bounded by the WHERE time range (narrowed
//! further by LIMIT on GROUP BY time).

mod aggregate;
mod eval;
mod exec;
mod par;
mod plan;
mod points;
mod subquery;
mod transform;
mod tz;
mod value;
mod window;

use std::time::Instant;

use influxql::{SelectStatement, Source};

use super::cond::{MAX_TIME, Regexes};
use super::{QueryContext, QueryError, SeriesResult};
use crate::Store;
use eval::Budget;
use plan::{MeasRef, Mode, Plan};
use points::Points;

pub use plan::expr_name;

/// True when `tz(name)` names a known zone.
pub fn zone_exists(name: &str) -> bool {
    tz::Zone::load(name).is_some()
}

/// Runs one SELECT. Blocking: call it off the async runtime.
pub fn execute(
    store: &Store,
    stmt: &SelectStatement,
    ctx: &QueryContext,
) -> Result<Vec<SeriesResult>, QueryError> {
    let budget = Budget::new(ctx.limits.max_points);
    execute_at(store, stmt, ctx, Instant::now(), &budget)
}

/// [`execute`] for a statement that may be a subquery of one that started at `started`:
/// the timeout and the points budget cover the whole statement, subqueries included.
fn execute_at(
    store: &Store,
    stmt: &SelectStatement,
    ctx: &QueryContext,
    started: Instant,
    budget: &Budget,
) -> Result<Vec<SeriesResult>, QueryError> {
    if stmt
        .sources
        .iter()
        .any(|s| matches!(s, Source::SubQuery(_)))
    {
        return subquery::execute(store, stmt, ctx, started, budget);
    }
    let measurements = plan::resolve_sources(store, &stmt.sources, ctx)?;
    run(store, stmt, measurements, ctx, started, budget)
}

/// Plans and runs `stmt` over `measurements` of `store`.
fn run(
    store: &dyn Points,
    stmt: &SelectStatement,
    measurements: Vec<MeasRef>,
    ctx: &QueryContext,
    started: Instant,
    budget: &Budget,
) -> Result<Vec<SeriesResult>, QueryError> {
    if started.elapsed() > ctx.limits.timeout {
        return Err(QueryError::new("query timeout"));
    }
    let plan = plan::plan(stmt, measurements, ctx)?;
    let regexes = match &plan.cond.filter {
        Some(f) => Regexes::collect(f)?,
        None => Regexes::default(),
    };
    let mut groups = exec::groups(store, &plan, &regexes, ctx)?;
    // SOFFSET and SLIMIT count series in ascending order, also under ORDER BY time DESC.
    let soffset = usize::try_from(stmt.soffset).unwrap_or(usize::MAX);
    groups.drain(..soffset.min(groups.len()));
    if stmt.slimit > 0 {
        groups.truncate(usize::try_from(stmt.slimit).unwrap_or(usize::MAX));
    }
    if stmt.is_descending() {
        groups.reverse();
    }
    let zone = match &stmt.timezone {
        Some(name) => tz::Zone::load(name)
            .ok_or_else(|| QueryError::new(format!("unable to find time zone {name}")))?,
        None => tz::Zone::default(),
    };
    let tz = |t: i64| zone.offset_ns(t);
    let buckets = match plan.mode {
        Mode::Aggregate | Mode::Multi => {
            let data_min = if plan.interval > 0 && !plan.cond.has_lower_bound() {
                earliest_point(store, &plan, &groups, ctx)?
            } else {
                None
            };
            match window::buckets(&plan, stmt, ctx, data_min, &tz, store.reads_outside_range())? {
                Some(b) => Some(b),
                None => return Ok(Vec::new()),
            }
        }
        _ => None,
    };
    // Aggregates of different groups are independent: compute them on every core, then
    // assemble in group order.
    let mut done: Option<std::vec::IntoIter<Result<Vec<exec::Row>, QueryError>>> = None;
    if let (Mode::Aggregate, Some(b), true) = (plan.mode, &buckets, groups.len() > 1) {
        let rows = par::map(groups.len(), |i| {
            if started.elapsed() > ctx.limits.timeout {
                return Err(QueryError::new("query timeout"));
            }
            let Some(g) = groups.get(i) else {
                return Ok(Vec::new());
            };
            window::aggregate_group(store, &plan, g, b, &regexes, budget)
        });
        done = Some(rows.into_iter());
    }
    let mut out = Vec::new();
    let mut total_rows = 0usize;
    for g in &groups {
        let mut rows = if let Some(done) = done.as_mut() {
            done.next()
                .unwrap_or_else(|| Err(QueryError::new("missing group result")))?
        } else {
            if started.elapsed() > ctx.limits.timeout {
                return Err(QueryError::new("query timeout"));
            }
            match (plan.mode, &buckets) {
                (Mode::Raw, _) => exec::raw_group(store, &plan, g, &regexes, budget)?,
                (Mode::RawTransform, _) => {
                    exec::raw_transform_group(store, &plan, g, &regexes, budget)?
                }
                (Mode::Aggregate, Some(b)) => {
                    window::aggregate_group(store, &plan, g, b, &regexes, budget)?
                }
                (Mode::Multi, Some(b)) => {
                    window::multi_group(store, &plan, g, b, &regexes, budget)?
                }
                _ => Vec::new(),
            }
        };
        exec::order_and_limit(&mut rows, stmt);
        if rows.is_empty() {
            continue;
        }
        total_rows += rows.len();
        if total_rows > ctx.limits.max_rows {
            return Err(QueryError::new(format!(
                "max-select-rows limit exceeded: ({total_rows}/{})",
                ctx.limits.max_rows
            )));
        }
        out.push(exec::series_result(&plan, g, rows));
    }
    Ok(out)
}

/// The earliest point of the statement's fields: 1.6.7 starts GROUP BY time buckets there
/// when the WHERE clause has no lower time bound.
fn earliest_point(
    store: &dyn Points,
    plan: &Plan,
    groups: &[exec::Group],
    ctx: &QueryContext,
) -> Result<Option<i64>, QueryError> {
    let upper = if plan.cond.has_upper_bound() {
        plan.cond.max_time
    } else {
        ctx.now.min(MAX_TIME)
    };
    let mut min: Option<i64> = None;
    for g in groups {
        let Some(m) = plan.measurements.get(g.meas) else {
            continue;
        };
        for s in &g.series {
            for c in &plan.calls {
                let Some(def) = m.fields.get(&c.field) else {
                    continue;
                };
                // Chunk headers give the column's first time without decoding; only when it
                // lies before the query's lower bound must the range be read.
                let first = match store.time_bounds(s.id, def.id)? {
                    None => None,
                    Some((lo, _)) if lo >= plan.cond.min_time => Some(lo).filter(|&lo| lo <= upper),
                    Some(_) => store
                        .read_column(s.id, def.id, plan.cond.min_time, upper)?
                        .and_then(|(t, _)| t.first().copied()),
                };
                if let Some(first) = first {
                    min = Some(min.map_or(first, |m: i64| m.min(first)));
                }
            }
        }
    }
    Ok(min)
}
