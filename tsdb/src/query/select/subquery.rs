//! Subqueries: `SELECT ... FROM (SELECT ...)`.
//!
//! Each inner statement runs first (recursively, so subqueries nest), rewritten as 1.x
//! rewrites a substatement's iterator options:
//! - its time range is narrowed to the outer one (a less constrained outer range is
//!   ignored); without an outer upper bound an outer GROUP BY time ends at now();
//! - the outer GROUP BY tags are added to its GROUP BY, so an outer `GROUP BY host`
//!   aggregates per host even when the inner statement does not group by host;
//! - an aggregate without GROUP BY time inherits the outer GROUP BY time interval;
//! - an aggregate's `fill(null)` becomes `fill(none)` (the outer query drops nulls);
//! - it takes the outer ORDER BY.
//!
//! Its rows then become points ([`MemPoints`]): the series name is the measurement, the
//! GROUP BY tags are tags, every other column is a field named as the column (`mean`, an
//! alias), null cells are no value. The outer statement runs over those points with the
//! ordinary executor, so WHERE, GROUP BY, fill, LIMIT and every function behave as on
//! stored data. A measurement listed next to a subquery (`FROM cpu, (SELECT ...)`) is read
//! the same way, as `SELECT * FROM cpu GROUP BY *`.
//!
//! Limits apply to each inner statement as to any statement (series, buckets, rows); the
//! points budget and the timeout cover the whole statement (the points an inner statement
//! reads, then the rows the outer one reads back).

use std::collections::BTreeMap;
use std::time::Instant;

use common::FieldType;

use influxql::{
    BinaryExpr, BinaryOp, DataType, Expr, Field, Fill, SelectStatement, Source, VarRef,
    WildcardType,
};

use super::eval::Budget;
use super::plan::MeasRef;
use super::points::{MemPoints, RowOrder};
use super::value::is_math_function;
use crate::Store;
use crate::query::cond::{self, MAX_TIME, MIN_TIME};
use crate::query::{Cell, QueryContext, QueryError};
use crate::storage::Value;

pub fn execute(
    store: &Store,
    stmt: &SelectStatement,
    ctx: &QueryContext,
    started: Instant,
    budget: &Budget,
) -> Result<Vec<crate::query::SeriesResult>, QueryError> {
    let outer = cond::split(stmt.condition.as_ref(), ctx.now)?;
    let mut time_dim: Option<&Expr> = None;
    let mut tag_dims: Vec<&str> = Vec::new();
    for d in &stmt.dimensions {
        match d.unparen() {
            Expr::Call(c) if c.name == "time" => time_dim = Some(d),
            Expr::VarRef(v) => tag_dims.push(&v.name),
            _ => {}
        }
    }
    let grouped_by_time = time_dim.is_some_and(|d| match d.unparen() {
        Expr::Call(c) => matches!(c.args.first(), Some(Expr::Duration(i)) if *i > 0),
        _ => false,
    });
    let lo = outer.min_time;
    let hi = if grouped_by_time && !outer.has_upper_bound() {
        ctx.now.min(MAX_TIME)
    } else {
        outer.max_time
    };
    let mut mem = MemPoints::default();
    let mut window_only = true;
    for src in &stmt.sources {
        let inner = match src {
            Source::SubQuery(s) => {
                if s.order_by.is_some() && s.is_descending() != stmt.is_descending() {
                    return Err(QueryError::new(
                        "subqueries must be ordered in the same direction as the query itself",
                    ));
                }
                if !aggregates(s) && s.dimensions.iter().any(is_time_dim) {
                    // 1.6.7 turns the fill of a raw subquery grouped by time to none first.
                    return Err(QueryError::new("fill(none) must be used with a function"));
                }
                rewrite(s, stmt, lo, hi, &tag_dims, time_dim)
            }
            Source::Measurement(m) => SelectStatement {
                fields: vec![Field {
                    expr: Expr::Wildcard(WildcardType::All),
                    alias: None,
                }],
                into: None,
                sources: vec![Source::Measurement(m.clone())],
                condition: time_range(None, lo, hi),
                dimensions: vec![Expr::Wildcard(WildcardType::All)],
                fill: Fill::Null,
                order_by: stmt.order_by.clone(),
                limit: 0,
                offset: 0,
                slimit: 0,
                soffset: 0,
                timezone: None,
            },
        };
        window_only &= aggregates(&inner) && !inner.dimensions.iter().any(is_time_dim);
        let types = static_types(store, &inner, ctx);
        for series in super::execute_at(store, &inner, ctx, started, budget)? {
            add_result(&mut mem, series, &types);
        }
    }
    mem.order = if window_only {
        RowOrder::SeriesThenTime
    } else {
        RowOrder::TimeThenSeries
    };
    let measurements: Vec<MeasRef> = mem
        .measurements()
        .map(|m| MeasRef {
            name: m.name.clone(),
            id: m.id,
            fields: m.fields.clone(),
            tag_keys: m.tags.keys().map(|k| k.to_string()).collect(),
        })
        .collect();
    super::run(&mem, stmt, measurements, ctx, started, budget)
}

/// The inner statement as it runs under `outer` (see the module docs).
fn rewrite(
    inner: &SelectStatement,
    outer: &SelectStatement,
    lo: i64,
    hi: i64,
    tag_dims: &[&str],
    time_dim: Option<&Expr>,
) -> SelectStatement {
    let mut s = inner.clone();
    s.condition = time_range(s.condition.take(), lo, hi);
    let groups_all = s
        .dimensions
        .iter()
        .any(|d| matches!(d.unparen(), Expr::Wildcard(_)));
    for t in tag_dims {
        let present = s
            .dimensions
            .iter()
            .any(|d| matches!(d.unparen(), Expr::VarRef(v) if v.name == *t));
        if !groups_all && !present {
            s.dimensions.push(Expr::VarRef(VarRef {
                name: (*t).to_string(),
                data_type: None,
            }));
        }
    }
    if aggregates(&s) {
        let has_time = s.dimensions.iter().any(is_time_dim);
        if let (false, Some(t)) = (has_time, time_dim) {
            s.dimensions.push(t.clone());
        }
        if s.fill == Fill::Null {
            s.fill = Fill::None;
        }
    }
    s.order_by = outer.order_by.clone();
    s
}

fn is_time_dim(d: &Expr) -> bool {
    matches!(d.unparen(), Expr::Call(c) if c.name == "time")
}

/// True when a field calls an aggregate, selector or transformation (not only math).
fn aggregates(s: &SelectStatement) -> bool {
    fn walk(e: &Expr) -> bool {
        match e {
            Expr::Call(c) => !is_math_function(&c.name) || c.args.iter().any(walk),
            Expr::Distinct(_) => true,
            Expr::Binary(b) => walk(&b.lhs) || walk(&b.rhs),
            Expr::Paren(p) => walk(p),
            _ => false,
        }
    }
    s.fields.iter().any(|f| walk(&f.expr))
}

/// `cond AND time >= lo AND time <= hi`, leaving out unbounded sides.
fn time_range(cond: Option<Expr>, lo: i64, hi: i64) -> Option<Expr> {
    let bound = |op, t| {
        Expr::Binary(Box::new(BinaryExpr {
            op,
            lhs: Expr::VarRef(VarRef {
                name: "time".into(),
                data_type: None,
            }),
            rhs: Expr::Integer(t),
        }))
    };
    let mut out = cond.map(|c| Expr::Paren(Box::new(c)));
    for b in [
        (lo > MIN_TIME).then(|| bound(BinaryOp::Gte, lo)),
        (hi < MAX_TIME).then(|| bound(BinaryOp::Lte, hi)),
    ]
    .into_iter()
    .flatten()
    {
        out = Some(match out {
            None => b,
            Some(c) => Expr::Binary(Box::new(BinaryExpr {
                op: BinaryOp::And,
                lhs: c,
                rhs: b,
            })),
        });
    }
    out
}

/// The type 1.6.7 gives each computed column of `inner` (by output name). A subquery's
/// columns keep their expression's static type: arithmetic takes the "lowest" of its
/// operands' types (float before integer), so `used / total` over integers is an integer
/// column there (the quotient truncated), unlike at the top level.
fn static_types(
    store: &Store,
    inner: &SelectStatement,
    ctx: &QueryContext,
) -> BTreeMap<String, FieldType> {
    let fields = source_types(store, inner, ctx, 0);
    let mut out = BTreeMap::new();
    for f in &inner.fields {
        if matches!(f.expr.unparen(), Expr::Binary(_) | Expr::Call(_))
            && let Some(t) = static_type(&f.expr, &fields)
        {
            let name = f
                .alias
                .clone()
                .unwrap_or_else(|| super::plan::expr_name(&f.expr));
            out.insert(name, t);
        }
    }
    out
}

/// The field types `stmt` reads: those of its measurements, and the static types of its
/// subqueries' columns (recursively; the parser bounds the depth, `depth` guards anyway).
fn source_types(
    store: &Store,
    stmt: &SelectStatement,
    ctx: &QueryContext,
    depth: usize,
) -> BTreeMap<String, FieldType> {
    let mut fields: BTreeMap<String, FieldType> = BTreeMap::new();
    for src in &stmt.sources {
        match src {
            Source::Measurement(_) => {
                if let Ok(ms) = super::plan::resolve_sources(store, std::slice::from_ref(src), ctx)
                {
                    for m in ms {
                        for (k, f) in m.fields {
                            fields.entry(k).or_insert(f.field_type);
                        }
                    }
                }
            }
            Source::SubQuery(sub) if depth < 64 => {
                let nested = source_types(store, sub, ctx, depth + 1);
                for f in &sub.fields {
                    if matches!(f.expr, Expr::Wildcard(_) | Expr::Regex(_)) {
                        for (k, t) in &nested {
                            fields.entry(k.clone()).or_insert(*t);
                        }
                    } else if let Some(t) = static_type(&f.expr, &nested) {
                        let name = f
                            .alias
                            .clone()
                            .unwrap_or_else(|| super::plan::expr_name(&f.expr));
                        fields.entry(name).or_insert(t);
                    }
                }
            }
            Source::SubQuery(_) => {}
        }
    }
    fields
}

fn static_type(e: &Expr, fields: &BTreeMap<String, FieldType>) -> Option<FieldType> {
    fn rank(t: FieldType) -> u8 {
        match t {
            FieldType::Float => 1,
            FieldType::Integer | FieldType::Unsigned => 2,
            FieldType::String => 3,
            FieldType::Boolean => 4,
        }
    }
    match e {
        Expr::VarRef(v) => match v.data_type {
            Some(DataType::Float) => Some(FieldType::Float),
            Some(DataType::Integer) => Some(FieldType::Integer),
            _ => fields.get(&v.name).copied(),
        },
        Expr::Integer(_) | Expr::Duration(_) => Some(FieldType::Integer),
        Expr::Number(_) => Some(FieldType::Float),
        Expr::String(_) => Some(FieldType::String),
        Expr::Boolean(_) => Some(FieldType::Boolean),
        Expr::Paren(p) => static_type(p, fields),
        Expr::Distinct(f) => fields.get(f).copied(),
        Expr::Binary(b) => match (static_type(&b.lhs, fields), static_type(&b.rhs, fields)) {
            (Some(l), Some(r)) => Some(if rank(r) < rank(l) { r } else { l }),
            (l, r) => l.or(r),
        },
        Expr::Call(c) => match c.name.as_str() {
            "count" | "elapsed" => Some(FieldType::Integer),
            "mean"
            | "median"
            | "stddev"
            | "integral"
            | "derivative"
            | "non_negative_derivative"
            | "moving_average" => Some(FieldType::Float),
            "abs"
            | "floor"
            | "ceil"
            | "round"
            | "max"
            | "min"
            | "first"
            | "last"
            | "sum"
            | "mode"
            | "spread"
            | "percentile"
            | "top"
            | "bottom"
            | "sample"
            | "distinct"
            | "difference"
            | "non_negative_difference"
            | "cumulative_sum" => static_type(c.args.first()?, fields),
            n if is_math_function(n) => Some(FieldType::Float),
            _ => None,
        },
        Expr::Regex(_) | Expr::Wildcard(_) => None,
    }
}

/// One series of an inner result as points.
fn add_result(
    mem: &mut MemPoints,
    series: crate::query::SeriesResult,
    types: &BTreeMap<String, FieldType>,
) {
    let fields: Vec<String> = series.columns.iter().skip(1).cloned().collect();
    let integer: Vec<bool> = fields
        .iter()
        .map(|f| types.get(f) == Some(&FieldType::Integer))
        .collect();
    let mut rows: Vec<(i64, Vec<Option<Value>>)> = series
        .values
        .into_iter()
        .map(|row| {
            let mut cells = row.into_iter();
            let time = match cells.next() {
                Some(Cell::Time(t)) | Some(Cell::Integer(t)) => t,
                _ => 0,
            };
            let values = cells
                .zip(&integer)
                .map(|(c, &int)| match (c, int) {
                    // Go's int64(f): truncation toward zero.
                    (Cell::Float(f), true) if f.is_finite() => Some(Value::Integer(f as i64)),
                    (c, _) => cell_value(c),
                })
                .collect();
            (time, values)
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    let tags = series.tags.unwrap_or_default();
    let name = series.name.unwrap_or_default();
    mem.add_series(&name, &tags, &fields, rows);
}

fn cell_value(c: Cell) -> Option<Value> {
    match c {
        Cell::Null => None,
        Cell::Float(f) => Some(Value::Float(f)),
        Cell::Integer(i) | Cell::Time(i) => Some(Value::Integer(i)),
        Cell::Unsigned(u) => Some(Value::Unsigned(u)),
        Cell::String(s) => Some(Value::String(s)),
        Cell::Boolean(b) => Some(Value::Boolean(b)),
    }
}
