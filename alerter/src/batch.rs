//! Batch tasks: the query a `|query()` node runs at each schedule instant, the
//! schedule itself (`.every()`/`.align()`/`.offset()` or `.cron()`), and turning query
//! results into batches (Kapacitor's `batch.go` and `influxql.go`).
//!
//! Querying goes through [`BatchSource`], so that the store's query engine can be
//! swapped for a fake in tests.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use influxql::{Expr, Fill, SelectStatement, Source, Statement};
use tsdb::query::{Cell, QueryContext, QueryEngine, QueryLimits, SeriesResult};

use crate::error::Error;
use crate::runtime::model::{Batch, BatchPoint, Dims, Tags};
use crate::runtime::nodes::{dur_prop, has_prop, str_prop};
use crate::tick::{Arg, Dbrp, GraphNode, TaskGraph};

/// A boxed future, so that [`BatchSource`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs a batch query.
pub trait BatchSource: Send + Sync {
    /// Runs `query` (one SELECT) with `db`/`rp` as the defaults and `now` as `now()`.
    fn query<'a>(
        &'a self,
        db: &'a str,
        rp: &'a str,
        query: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<Vec<SeriesResult>, Error>>;
}

/// [`BatchSource`] over the store's InfluxQL engine.
#[derive(Clone)]
pub struct StoreSource {
    engine: QueryEngine,
}

impl StoreSource {
    pub fn new(store: tsdb::Store) -> StoreSource {
        StoreSource {
            engine: QueryEngine::new(store),
        }
    }
}

impl BatchSource for StoreSource {
    fn query<'a>(
        &'a self,
        db: &'a str,
        rp: &'a str,
        query: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<Vec<SeriesResult>, Error>> {
        Box::pin(async move {
            let q = influxql::parse_query(query).map_err(|e| Error::Query(e.to_string()))?;
            let ctx = QueryContext {
                database: Some(db.to_string()),
                retention_policy: Some(rp.to_string()),
                principal: tsdb::auth::Principal {
                    name: "alerter".into(),
                    admin: false,
                    database: None,
                    can_read: true,
                    can_write: false,
                },
                now,
                limits: QueryLimits::default(),
                read_only_method: false,
            };
            let mut results = self.engine.execute(&q, &ctx).await;
            if results.is_empty() {
                return Ok(Vec::new());
            }
            let r = results.swap_remove(0);
            match r.error {
                Some(e) => Err(Error::Query(e)),
                None => Ok(r.series),
            }
        })
    }
}

/// When a query node runs.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every `every` ns; aligned to multiples of it, or counted from the task start.
    Every { every: i64, align: bool },
    /// A cron expression.
    Cron(Box<cron::Schedule>),
}

/// A `|query()` node, ready to run.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    /// The query node's id in the graph.
    pub node: usize,
    stmt: SelectStatement,
    pub db: String,
    pub rp: String,
    pub period: i64,
    pub offset: i64,
    pub schedule: Schedule,
    time_dim: Option<(i64, i64)>,
    align_group: bool,
    tags: Vec<String>,
    star: bool,
    by_name: bool,
    fill: Option<Fill>,
}

/// Converts a Kapacitor (gorhill/cronexpr) expression to the `cron` crate's syntax:
/// 5 fields get a seconds field, 6 fields end with a year; day-of-week numbers go
/// from 0-6 (Sunday = 0) to 1-7 (Sunday = 1).
fn convert_cron(expr: &str) -> String {
    let expr = expr.trim();
    if expr.starts_with('@') {
        return expr.to_string();
    }
    let mut fields: Vec<String> = expr.split_whitespace().map(str::to_string).collect();
    if fields.len() == 5 || fields.len() == 6 {
        fields.insert(0, "0".into());
    }
    if let Some(dow) = fields.get_mut(5) {
        let mut out = String::new();
        let mut after_slash = false;
        let mut num = String::new();
        let flush = |num: &mut String, out: &mut String, step: bool| {
            if num.is_empty() {
                return;
            }
            match num.parse::<u32>() {
                Ok(n) if !step => out.push_str(&((n % 7) + 1).to_string()),
                _ => out.push_str(num),
            }
            num.clear();
        };
        for c in dow.chars() {
            if c.is_ascii_digit() {
                num.push(c);
            } else {
                flush(&mut num, &mut out, after_slash);
                after_slash = c == '/';
                out.push(c);
            }
        }
        flush(&mut num, &mut out, after_slash);
        *dow = out;
    }
    fields.join(" ")
}

/// Every measurement a query reads, down through its subqueries: each must be in the
/// task's dbrps, whatever depth it is named at.
fn measurements<'a>(sources: &'a [Source], out: &mut Vec<&'a influxql::ast::Measurement>) {
    for s in sources {
        match s {
            Source::Measurement(m) => out.push(m),
            Source::SubQuery(q) => measurements(&q.sources, out),
        }
    }
}

fn bad(n: &GraphNode, m: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: {m}", n.name()))
}

impl QuerySpec {
    /// Reads a query node; checks the query and that it reads the task's dbrps.
    pub fn new(n: &GraphNode, dbrps: &[Dbrp]) -> Result<QuerySpec, Error> {
        let Some(Arg::String(text)) = n.args.first() else {
            return Err(bad(n, "query needs an InfluxQL statement"));
        };
        let q = influxql::parse_query(text).map_err(|e| bad(n, format!("invalid query: {e}")))?;
        let stmt = match q.statements.as_slice() {
            [Statement::Select(s)] => s.clone(),
            _ => return Err(bad(n, "query must be exactly one SELECT statement")),
        };
        let default = dbrps.first();
        let mut read = Vec::new();
        measurements(&stmt.sources, &mut read);
        let (mut db, mut rp) = (None, None);
        for m in read {
            let d = m.database.clone().or_else(|| default.map(|d| d.db.clone()));
            let r = m
                .retention_policy
                .clone()
                .or_else(|| default.map(|d| d.rp.clone()));
            let (Some(d), Some(r)) = (d, r) else {
                return Err(bad(
                    n,
                    "batch query must name a database and retention policy",
                ));
            };
            if !dbrps.iter().any(|x| x.db == d && x.rp == r) {
                return Err(bad(
                    n,
                    format!("batch query is not allowed to request data from \"{d}\".\"{r}\""),
                ));
            }
            db.get_or_insert(d);
            rp.get_or_insert(r);
        }
        let period = dur_prop(n, "period").unwrap_or(0);
        if period <= 0 {
            return Err(bad(n, "query period must be positive"));
        }
        let schedule = match str_prop(n, "cron") {
            Some(c) => {
                let s = cron::Schedule::from_str(&convert_cron(&c))
                    .map_err(|e| bad(n, format!("invalid cron expression {c:?}: {e}")))?;
                Schedule::Cron(Box::new(s))
            }
            None => {
                let every = dur_prop(n, "every").unwrap_or(0);
                if every <= 0 {
                    return Err(bad(n, "must define one of 'every' or 'cron'"));
                }
                Schedule::Every {
                    every,
                    align: has_prop(n, "align"),
                }
            }
        };
        let mut time_dim = None;
        let mut tags = Vec::new();
        let mut star = false;
        for p in n.props("groupBy") {
            for a in &p.args {
                match a {
                    Arg::TimeDimension { interval, offset } => {
                        time_dim = Some((*interval, *offset))
                    }
                    Arg::String(s) => tags.push(s.clone()),
                    Arg::Star => star = true,
                    _ => {}
                }
            }
        }
        tags.sort();
        tags.dedup();
        let fill = match n.prop("fill").and_then(|p| p.args.first()) {
            None => None,
            Some(Arg::String(s)) => Some(match s.as_str() {
                "null" => Fill::Null,
                "none" => Fill::None,
                "previous" => Fill::Previous,
                "linear" => Fill::Linear,
                other => return Err(bad(n, format!("unexpected fill option {other}"))),
            }),
            Some(Arg::Int(i)) => Some(Fill::Integer(*i)),
            Some(Arg::Float(f)) => Some(Fill::Float(*f)),
            Some(_) => {
                return Err(bad(
                    n,
                    "fill must be null, none, previous, linear or a number",
                ));
            }
        };
        Ok(QuerySpec {
            node: n.id,
            stmt,
            db: db
                .or_else(|| default.map(|d| d.db.clone()))
                .unwrap_or_default(),
            rp: rp
                .or_else(|| default.map(|d| d.rp.clone()))
                .unwrap_or_default(),
            period,
            offset: dur_prop(n, "offset").unwrap_or(0),
            schedule,
            time_dim,
            align_group: has_prop(n, "alignGroup"),
            tags,
            star,
            by_name: has_prop(n, "groupByMeasurement"),
            fill,
        })
    }

    /// All query nodes of a batch task.
    pub fn all(graph: &TaskGraph) -> Result<Vec<QuerySpec>, Error> {
        graph
            .topo_order()
            .into_iter()
            .filter(|&i| graph.nodes[i].kind == crate::tick::NodeKind::Query)
            .map(|i| QuerySpec::new(&graph.nodes[i], &graph.dbrps))
            .collect()
    }

    /// The window a run at `now` reads: `[now - offset - period, now - offset)`.
    pub fn window(&self, now: i64) -> (i64, i64) {
        let stop = now - self.offset;
        (stop - self.period, stop)
    }

    /// The statement a run at `now` executes, as Kapacitor builds it: the task's
    /// SELECT with the time range added to WHERE, `.groupBy()` dimensions and `.fill()`.
    pub fn query_text(&self, now: i64) -> Result<String, Error> {
        let (start, stop) = self.window(now);
        let mut helper = format!(
            "SELECT x FROM y WHERE time >= '{}' AND time < '{}'",
            crate::gofmt::rfc3339(start),
            crate::gofmt::rfc3339(stop)
        );
        let mut dims: Vec<String> = Vec::new();
        if let Some((interval, offset)) = self.time_dim {
            let offset = if self.align_group {
                start.rem_euclid(interval)
            } else {
                offset
            };
            if offset != 0 {
                dims.push(format!("time({interval}ns, {offset}ns)"));
            } else {
                dims.push(format!("time({interval}ns)"));
            }
        }
        if self.star {
            dims.push("*".into());
        } else {
            dims.extend(
                self.tags
                    .iter()
                    .map(|t| format!("\"{}\"", t.replace('"', "\\\""))),
            );
        }
        if !dims.is_empty() {
            helper.push_str(" GROUP BY ");
            helper.push_str(&dims.join(", "));
        }
        let parsed = influxql::parse_query(&helper).map_err(|e| Error::Query(e.to_string()))?;
        let Some(Statement::Select(h)) = parsed.statements.into_iter().next() else {
            return Err(Error::Query("internal: bad helper query".into()));
        };
        let mut stmt = self.stmt.clone();
        let time_cond = h
            .condition
            .ok_or_else(|| Error::Query("internal: no time condition".into()))?;
        stmt.condition = Some(match stmt.condition.take() {
            Some(c) => Expr::Binary(Box::new(influxql::ast::BinaryExpr {
                op: influxql::ast::BinaryOp::And,
                lhs: Expr::Paren(Box::new(c)),
                rhs: time_cond,
            })),
            None => time_cond,
        });
        stmt.dimensions.extend(h.dimensions);
        if let Some(f) = self.fill {
            stmt.fill = f;
        }
        Ok(Statement::Select(stmt).to_string())
    }

    /// The first schedule instant strictly after `t` (for `every` without `align`,
    /// instants count from `origin`).
    pub fn next_after(&self, t: i64, origin: i64) -> Option<i64> {
        match &self.schedule {
            Schedule::Every { every, align } => {
                let base = if *align { 0 } else { origin };
                let k = (t - base).div_euclid(*every) + 1;
                Some(base + k * every)
            }
            Schedule::Cron(c) => {
                let secs = t.div_euclid(1_000_000_000);
                let nanos = t.rem_euclid(1_000_000_000) as u32;
                let dt = chrono::DateTime::from_timestamp(secs, nanos)?;
                let next = c.after(&dt).next()?;
                next.timestamp_nanos_opt()
            }
        }
    }

    /// Turns the series of one run into batches, one per series (group).
    pub fn to_batches(&self, series: Vec<SeriesResult>, now: i64) -> Vec<Batch> {
        let (_, stop) = self.window(now);
        let mut out = Vec::with_capacity(series.len());
        for s in series {
            let tags: Tags = s.tags.clone().unwrap_or_default().into_iter().collect();
            let name = s.name.clone().unwrap_or_default();
            let dims = Dims {
                by_name: self.by_name,
                tags: if self.star {
                    tags.keys().cloned().collect()
                } else {
                    self.tags.clone()
                },
            };
            let time_col = s.columns.iter().position(|c| c == "time");
            let mut points = Vec::new();
            for row in &s.values {
                let mut time = stop;
                let mut fields = crate::runtime::model::Fields::new();
                for (i, cell) in row.iter().enumerate() {
                    if Some(i) == time_col {
                        if let Cell::Time(t) | Cell::Integer(t) = cell {
                            time = *t;
                        }
                        continue;
                    }
                    let Some(col) = s.columns.get(i) else {
                        continue;
                    };
                    let v = match cell {
                        Cell::Null => continue,
                        Cell::Float(f) => common::FieldValue::Float(*f),
                        Cell::Integer(x) => common::FieldValue::Integer(*x),
                        Cell::Unsigned(u) => common::FieldValue::Unsigned(*u),
                        Cell::String(x) => common::FieldValue::String(x.clone()),
                        Cell::Boolean(b) => common::FieldValue::Boolean(*b),
                        Cell::Time(t) => common::FieldValue::Integer(*t),
                    };
                    fields.insert(col.clone(), v);
                }
                // Rows with only nulls are empty GROUP BY time buckets: Kapacitor drops them.
                if fields.is_empty() {
                    continue;
                }
                points.push(BatchPoint {
                    time,
                    fields,
                    tags: tags.clone(),
                });
            }
            let time = match (self.time_dim, points.iter().map(|p| p.time).max()) {
                (Some(_), Some(t)) => t,
                _ => stop,
            };
            out.push(Batch {
                group: dims.group_id(&name, &tags),
                name,
                dims,
                tags,
                time,
                points,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_conversion() {
        assert_eq!(convert_cron("*/5 * * * *"), "0 */5 * * * *");
        assert_eq!(convert_cron("0 9 * * 1-5"), "0 0 9 * * 2-6");
        assert_eq!(convert_cron("0 9 * * 0,6"), "0 0 9 * * 1,7");
        // 6 fields end with a year (cronexpr); 7 start with seconds.
        assert_eq!(convert_cron("0 9 * * 1/2 2030"), "0 0 9 * * 2/2 2030");
        assert_eq!(convert_cron("30 0 9 * * 0 *"), "30 0 9 * * 1 *");
        assert_eq!(convert_cron("@hourly"), "@hourly");
        assert!(cron::Schedule::from_str(&convert_cron("*/5 * * * *")).is_ok());
    }
}
