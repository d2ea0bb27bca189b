//! Reading a series' columns, joining them into rows, and evaluating expressions on rows.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use influxql::{BinaryOp, DataType, Expr};

use super::plan::{MeasRef, PExpr};
use super::points::Points;
use super::value::{Value, arithmetic, column_value, compare, math};
use crate::codec::{Column, ColumnBuf};
use crate::query::QueryError;
use crate::query::cond::Regexes;
use crate::storage::SeriesId;

/// Columns of one series, by field name.
pub type Columns = HashMap<String, (Vec<i64>, Column)>;

/// Counts points read against `QueryLimits::max_points`; shared by the threads of a query.
pub struct Budget {
    left: AtomicUsize,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget {
            left: AtomicUsize::new(limit),
        }
    }

    pub fn take(&self, n: usize) -> Result<(), QueryError> {
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .map(|_| ())
            .map_err(|_| QueryError::new("max-select-point limit exceeded"))
    }
}

/// Reads `fields` of one series in `[lo, hi]`; fields the measurement lacks are skipped.
pub fn load(
    store: &dyn Points,
    m: &MeasRef,
    series: SeriesId,
    fields: &[String],
    lo: i64,
    hi: i64,
    budget: &Budget,
) -> Result<Columns, QueryError> {
    let mut out = Columns::new();
    if lo > hi {
        return Ok(out);
    }
    let mut names: Vec<&String> = Vec::new();
    let mut cols = Vec::new();
    for f in fields {
        if names.contains(&f) {
            continue;
        }
        let Some(def) = m.fields.get(f) else { continue };
        names.push(f);
        cols.push((series, def.id));
    }
    let mut bufs: Vec<ColumnBuf> = cols.iter().map(|_| ColumnBuf::default()).collect();
    store.read_columns_into(&cols, lo, hi, &mut bufs)?;
    for (f, buf) in names.into_iter().zip(bufs) {
        if !buf.times.is_empty() {
            budget.take(buf.times.len())?;
            out.insert(f.clone(), (buf.times, buf.values));
        }
    }
    Ok(out)
}

/// Rows of one series: every time at which one of `drivers` has a value, with the values
/// of `fields` (drivers first) at that time.
pub struct Rows {
    pub times: Vec<i64>,
    /// `values[field][row]`
    pub values: Vec<Vec<Value>>,
}

pub fn join(cols: &Columns, fields: &[String], drivers: usize) -> Rows {
    let present: Vec<Option<&(Vec<i64>, Column)>> = fields.iter().map(|f| cols.get(f)).collect();
    // Fast path: every column has the same timestamps (the usual case for one writer).
    let first = present.iter().flatten().next();
    if let Some((t0, _)) = first
        && present.iter().take(drivers).all(|c| c.is_some())
        && present.iter().flatten().all(|(t, _)| t == t0)
    {
        let values = present
            .iter()
            .map(|c| match c {
                Some((_, col)) => (0..t0.len()).map(|i| column_value(col, i)).collect(),
                None => vec![Value::Null; t0.len()],
            })
            .collect();
        return Rows {
            times: t0.clone(),
            values,
        };
    }
    let mut times: Vec<i64> = present
        .iter()
        .take(drivers)
        .flatten()
        .flat_map(|(t, _)| t.iter().copied())
        .collect();
    times.sort_unstable();
    times.dedup();
    let values = present
        .iter()
        .map(|c| {
            let mut out = Vec::with_capacity(times.len());
            let Some((ct, col)) = c else {
                return vec![Value::Null; times.len()];
            };
            let mut j = 0;
            for t in &times {
                while ct.get(j).is_some_and(|x| x < t) {
                    j += 1;
                }
                if ct.get(j) == Some(t) {
                    out.push(column_value(col, j));
                } else {
                    out.push(Value::Null);
                }
            }
            out
        })
        .collect();
    Rows { times, values }
}

/// Field names an expression reads (tags excluded by the measurement's schema).
pub fn expr_fields(e: &Expr, m: &MeasRef, out: &mut Vec<String>) {
    match e {
        Expr::VarRef(v)
            if v.data_type != Some(DataType::Tag)
                && m.fields.contains_key(&v.name)
                && !out.contains(&v.name) =>
        {
            out.push(v.name.clone());
        }
        Expr::Binary(b) => {
            expr_fields(&b.lhs, m, out);
            expr_fields(&b.rhs, m, out);
        }
        Expr::Paren(p) => expr_fields(p, m, out),
        Expr::Call(c) => c.args.iter().for_each(|a| expr_fields(a, m, out)),
        _ => {}
    }
}

pub fn pexpr_fields(e: &PExpr, m: &MeasRef, out: &mut Vec<String>) {
    match e {
        PExpr::Ref(name, t)
            if *t != Some(DataType::Tag) && m.fields.contains_key(name) && !out.contains(name) =>
        {
            out.push(name.clone());
        }
        PExpr::Binary(_, l, r) => {
            pexpr_fields(l, m, out);
            pexpr_fields(r, m, out);
        }
        PExpr::Math(_, args) => args.iter().for_each(|a| pexpr_fields(a, m, out)),
        _ => {}
    }
}

/// Looks up names for evaluation: fields of the current row, then tags of the series.
pub struct RowCtx<'a> {
    pub fields: &'a [String],
    pub rows: &'a Rows,
    pub row: usize,
    pub tags: &'a [(Arc<str>, Arc<str>)],
    pub m: &'a MeasRef,
}

impl RowCtx<'_> {
    pub fn get(&self, name: &str, hint: Option<DataType>) -> Value {
        let as_tag =
            hint == Some(DataType::Tag) || (hint.is_none() && !self.m.fields.contains_key(name));
        if as_tag {
            return tag(self.tags, name).map_or(Value::Null, |v| Value::String(v.to_string()));
        }
        let v = match self.fields.iter().position(|f| f == name) {
            Some(i) => self
                .rows
                .values
                .get(i)
                .and_then(|col| col.get(self.row))
                .cloned()
                .unwrap_or(Value::Null),
            None => Value::Null,
        };
        cast(v, hint)
    }
}

/// `f::integer` and friends, as 1.x casts: numbers convert between each other (floats
/// truncate toward zero), every other pairing gives no value.
pub fn cast(v: Value, hint: Option<DataType>) -> Value {
    match (hint, v) {
        (None | Some(DataType::Field | DataType::Tag), v) => v,
        (Some(DataType::Float), Value::Integer(i)) => Value::Float(i as f64),
        (Some(DataType::Float), Value::Unsigned(u)) => Value::Float(u as f64),
        (Some(DataType::Float), v @ Value::Float(_)) => v,
        (Some(DataType::Integer), Value::Float(f)) => Value::Integer(f as i64),
        (Some(DataType::Integer), Value::Unsigned(u)) => Value::Integer(u as i64),
        (Some(DataType::Integer), v @ Value::Integer(_)) => v,
        (Some(DataType::Unsigned), Value::Float(f)) => Value::Unsigned(f as u64),
        (Some(DataType::Unsigned), Value::Integer(i)) => Value::Unsigned(i as u64),
        (Some(DataType::Unsigned), v @ Value::Unsigned(_)) => v,
        (Some(DataType::String), v @ Value::String(_)) => v,
        (Some(DataType::Boolean), v @ Value::Boolean(_)) => v,
        _ => Value::Null,
    }
}

/// A whole column cast as [`cast`] casts values; `None` when no value survives.
pub fn cast_column(col: &Column, t: DataType) -> Option<Column> {
    Some(match (t, col) {
        (DataType::Float, Column::Float(_))
        | (DataType::Integer, Column::Integer(_))
        | (DataType::Unsigned, Column::Unsigned(_))
        | (DataType::String, Column::String(_))
        | (DataType::Boolean, Column::Boolean(_)) => col.clone(),
        (DataType::Float, Column::Integer(v)) => {
            Column::Float(v.iter().map(|&i| i as f64).collect())
        }
        (DataType::Float, Column::Unsigned(v)) => {
            Column::Float(v.iter().map(|&u| u as f64).collect())
        }
        (DataType::Integer, Column::Float(v)) => {
            Column::Integer(v.iter().map(|&f| f as i64).collect())
        }
        (DataType::Integer, Column::Unsigned(v)) => {
            Column::Integer(v.iter().map(|&u| u as i64).collect())
        }
        (DataType::Unsigned, Column::Float(v)) => {
            Column::Unsigned(v.iter().map(|&f| f as u64).collect())
        }
        (DataType::Unsigned, Column::Integer(v)) => {
            Column::Unsigned(v.iter().map(|&i| i as u64).collect())
        }
        _ => return None,
    })
}

pub fn tag<'a>(tags: &'a [(Arc<str>, Arc<str>)], key: &str) -> Option<&'a str> {
    tags.binary_search_by(|(k, _)| (**k).cmp(key))
        .ok()
        .and_then(|i| tags.get(i))
        .map(|(_, v)| &**v)
}

/// A WHERE clause's field part on one row.
pub fn eval_cond(e: &Expr, ctx: &RowCtx<'_>, regexes: &Regexes) -> bool {
    match e {
        Expr::Paren(p) => eval_cond(p, ctx, regexes),
        Expr::Boolean(b) => *b,
        Expr::Binary(b) => match b.op {
            BinaryOp::And => eval_cond(&b.lhs, ctx, regexes) && eval_cond(&b.rhs, ctx, regexes),
            BinaryOp::Or => eval_cond(&b.lhs, ctx, regexes) || eval_cond(&b.rhs, ctx, regexes),
            BinaryOp::EqRegex | BinaryOp::NeqRegex => {
                let (v, re) = match (b.lhs.unparen(), b.rhs.unparen()) {
                    (Expr::Regex(r), other) | (other, Expr::Regex(r)) => {
                        (eval_value(other, ctx), r)
                    }
                    _ => return false,
                };
                let Value::String(s) = v else { return false };
                let m = regexes.get(&re.0).is_some_and(|re| re.is_match(&s));
                if b.op == BinaryOp::EqRegex { m } else { !m }
            }
            op if op.is_boolean() => {
                compare(op, &eval_value(&b.lhs, ctx), &eval_value(&b.rhs, ctx))
            }
            _ => false,
        },
        _ => false,
    }
}

fn eval_value(e: &Expr, ctx: &RowCtx<'_>) -> Value {
    match e {
        Expr::Paren(p) => eval_value(p, ctx),
        Expr::VarRef(v) => ctx.get(&v.name, v.data_type),
        Expr::Integer(i) => Value::Integer(*i),
        Expr::Number(f) => Value::Float(*f),
        Expr::String(s) => Value::String(s.clone()),
        Expr::Boolean(b) => Value::Boolean(*b),
        Expr::Duration(d) => Value::Integer(*d),
        Expr::Binary(b) if !b.op.is_boolean() => {
            arithmetic(b.op, &eval_value(&b.lhs, ctx), &eval_value(&b.rhs, ctx))
        }
        Expr::Call(c) => math(
            &c.name,
            &c.args
                .iter()
                .map(|a| eval_value(a, ctx))
                .collect::<Vec<_>>(),
        ),
        _ => Value::Null,
    }
}

/// Evaluates a projection; `refs` resolves field/tag references, `calls` call results.
pub fn eval_pexpr(
    e: &PExpr,
    refs: &dyn Fn(&str, Option<DataType>) -> Value,
    calls: &dyn Fn(usize) -> Value,
) -> Value {
    match e {
        PExpr::Ref(n, t) => refs(n, *t),
        PExpr::Literal(v) => v.clone(),
        PExpr::Call(i) => calls(*i),
        PExpr::Binary(op, l, r) => arithmetic(
            *op,
            &eval_pexpr(l, refs, calls),
            &eval_pexpr(r, refs, calls),
        ),
        PExpr::Math(name, args) => math(
            name,
            &args
                .iter()
                .map(|a| eval_pexpr(a, refs, calls))
                .collect::<Vec<_>>(),
        ),
    }
}
