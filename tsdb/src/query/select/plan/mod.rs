//! Planning: sources, wildcard expansion, function checks, GROUP BY, all with 1.x's errors.

use std::collections::{BTreeMap, BTreeSet};

use common::FieldType;
use influxql::{
    BinaryOp, Call, DataType, Expr, Fill, MeasurementName, SelectStatement, Source, WildcardType,
};

use super::value::{Value, is_math_function, math_arity};

mod builder;
use crate::query::cond::{self, Condition};
use crate::query::{QueryContext, QueryError};
use crate::storage::{FieldDef, MeasurementId};
use builder::Builder;

/// One measurement a statement reads.
#[derive(Debug, Clone)]
pub struct MeasRef {
    pub name: String,
    pub id: MeasurementId,
    pub fields: BTreeMap<String, FieldDef>,
    pub tag_keys: Vec<String>,
}

/// A per-point (or per-bucket) expression.
#[derive(Debug, Clone)]
pub enum PExpr {
    /// A field or tag, decided per measurement.
    Ref(String, Option<DataType>),
    Literal(Value),
    /// The result of `calls[i]` in the current bucket.
    Call(usize),
    Binary(BinaryOp, Box<PExpr>, Box<PExpr>),
    Math(String, Vec<PExpr>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Func {
    Count,
    CountDistinct,
    Mean,
    Sum,
    Min,
    Max,
    First,
    Last,
    Median,
    Mode,
    Spread,
    Stddev,
    Percentile(f64),
    Integral(i64),
    Distinct,
    Top(usize),
    Bottom(usize),
    Sample(usize),
}

impl Func {
    pub fn is_selector(self) -> bool {
        matches!(
            self,
            Func::Min
                | Func::Max
                | Func::First
                | Func::Last
                | Func::Percentile(_)
                | Func::Top(_)
                | Func::Bottom(_)
                | Func::Sample(_)
        )
    }
    /// Produces several rows per bucket.
    pub fn is_multi(self) -> bool {
        matches!(
            self,
            Func::Distinct | Func::Top(_) | Func::Bottom(_) | Func::Sample(_)
        )
    }
}

/// An aggregate or selector over one field.
#[derive(Debug, Clone)]
pub struct AggCall {
    pub func: Func,
    pub field: String,
    /// `top(f, tag1, tag2, N)`: the tags.
    pub tags: Vec<String>,
    /// `mean(f::integer)`: the field's values are cast first (see `eval::cast`).
    pub cast: Option<DataType>,
}

impl AggCall {
    /// True when `m` has the field and its cast (if any) keeps values.
    pub fn reads(&self, m: &MeasRef) -> bool {
        let Some(def) = m.fields.get(&self.field) else {
            return false;
        };
        let numeric = matches!(
            def.field_type,
            FieldType::Float | FieldType::Integer | FieldType::Unsigned
        );
        match self.cast {
            Some(DataType::Float | DataType::Integer | DataType::Unsigned) => numeric,
            Some(DataType::String) => def.field_type == FieldType::String,
            Some(DataType::Boolean) => def.field_type == FieldType::Boolean,
            _ => true,
        }
    }

    /// The type of the values the call sees: the cast's, or the field's in `m`.
    pub fn field_type(&self, m: &MeasRef) -> Option<FieldType> {
        let stored = m.fields.get(&self.field)?.field_type;
        Some(match self.cast {
            Some(DataType::Float) => FieldType::Float,
            Some(DataType::Integer) => FieldType::Integer,
            Some(DataType::Unsigned) => FieldType::Unsigned,
            Some(DataType::String) => FieldType::String,
            Some(DataType::Boolean) => FieldType::Boolean,
            _ => stored,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transform {
    Derivative {
        unit: Option<i64>,
        non_negative: bool,
    },
    Difference {
        non_negative: bool,
    },
    MovingAverage(usize),
    CumulativeSum,
    Elapsed(i64),
}

#[derive(Debug, Clone)]
pub enum Output {
    Expr(PExpr),
    /// A transformation over a raw field (no GROUP BY time) or over `calls[i]`.
    Transform(Transform, TransformInput),
}

#[derive(Debug, Clone)]
pub enum TransformInput {
    Raw(String),
    Call(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Raw,
    RawTransform,
    Aggregate,
    /// One distinct/top/bottom/sample call, several rows per bucket.
    Multi,
}

#[derive(Debug, Clone)]
pub enum Dims {
    Keys(Vec<String>),
    All,
    Regex(regex::Regex),
}

#[derive(Debug)]
pub struct Plan {
    pub measurements: Vec<MeasRef>,
    pub columns: Vec<String>,
    pub outputs: Vec<Output>,
    pub calls: Vec<AggCall>,
    pub mode: Mode,
    pub cond: Condition,
    pub interval: i64,
    pub offset: i64,
    /// Explicit tag keys, `*` or a regex; `None` without GROUP BY tags.
    pub dims: Option<Dims>,
    pub fill: Fill,
    /// ORDER BY time DESC.
    pub descending: bool,
    /// LIMIT and OFFSET (0 = none), for the fast paths.
    pub limit: u64,
    pub row_offset: u64,
}

/// The database, retention policy and measurements of the sources, with 1.x's errors.
pub fn resolve_sources(
    store: &crate::Store,
    sources: &[Source],
    ctx: &QueryContext,
) -> Result<Vec<MeasRef>, QueryError> {
    let cat = store.catalog();
    let mut out: BTreeMap<String, MeasRef> = BTreeMap::new();
    for src in sources {
        let m = match src {
            Source::Measurement(m) => m,
            // Statements with subqueries run in `subquery`, never here.
            Source::SubQuery(_) => return Err(QueryError::new("subqueries are not allowed here")),
        };
        let db = match m.database.as_deref().or(ctx.database.as_deref()) {
            Some(db) if !db.is_empty() => db,
            _ => return Err(QueryError::new("database name required")),
        };
        ctx.principal
            .authorize_read(db)
            .map_err(|e| QueryError::new(e.to_string()))?;
        let database = cat
            .databases
            .get(db)
            .ok_or_else(|| QueryError::new(format!("database not found: {db}")))?;
        let rp_name = m
            .retention_policy
            .as_deref()
            .filter(|r| !r.is_empty())
            .or(if m.database.is_some() {
                None
            } else {
                ctx.retention_policy.as_deref().filter(|r| !r.is_empty())
            })
            .unwrap_or(database.default_rp.as_str());
        let rp = database
            .rps
            .get(rp_name)
            .ok_or_else(|| QueryError::new(format!("retention policy not found: {rp_name}")))?;
        let mut add = |meas: &crate::storage::Measurement| {
            out.entry(meas.name.clone()).or_insert_with(|| MeasRef {
                name: meas.name.clone(),
                id: meas.id,
                fields: meas.fields.clone(),
                tag_keys: meas.tags.keys().map(|k| k.to_string()).collect(),
            });
        };
        match &m.name {
            MeasurementName::Name(n) => {
                if let Some(meas) = cat
                    .measurement_id(rp.id, n)
                    .and_then(|id| cat.measurements.get(&id))
                {
                    add(meas);
                }
            }
            MeasurementName::Regex(re) => {
                let re = cond::compile_regex(&re.0)?;
                for meas in cat.measurements_of(rp.id) {
                    if re.is_match(&meas.name) {
                        add(meas);
                    }
                }
            }
        }
    }
    Ok(out.into_values().collect())
}

fn call_args_error(name: &str, expected: &str, got: usize) -> QueryError {
    QueryError::new(format!(
        "invalid number of arguments for {name}, expected {expected}, got {got}"
    ))
}

/// Builds the plan: expands wildcards against `measurements` and checks the field list.
pub fn plan(
    stmt: &SelectStatement,
    measurements: Vec<MeasRef>,
    ctx: &QueryContext,
) -> Result<Plan, QueryError> {
    // GROUP BY
    let mut interval = 0i64;
    let mut offset = 0i64;
    let mut have_time = false;
    let mut keys: Vec<String> = Vec::new();
    let mut dims: Option<Dims> = None;
    for d in &stmt.dimensions {
        match d.unparen() {
            Expr::Call(c) if c.name == "time" => {
                if have_time {
                    return Err(QueryError::new("multiple time dimensions not allowed"));
                }
                have_time = true;
                match c.args.as_slice() {
                    [Expr::Duration(i)] => interval = *i,
                    [Expr::Duration(i), o] => {
                        interval = *i;
                        offset = match o {
                            Expr::Duration(o) => *o,
                            Expr::Call(n) if n.name == "now" => ctx.now,
                            _ => {
                                return Err(QueryError::new(
                                    "time dimension offset must be duration or now()",
                                ));
                            }
                        };
                    }
                    [_] | [_, _] => {
                        return Err(QueryError::new(
                            "time dimension must have duration argument",
                        ));
                    }
                    _ => return Err(QueryError::new("time dimension expected 1 or 2 arguments")),
                }
            }
            Expr::VarRef(v) => keys.push(v.name.clone()),
            Expr::Wildcard(_) => dims = Some(Dims::All),
            Expr::Regex(re) => dims = Some(Dims::Regex(cond::compile_regex(&re.0)?)),
            _ => return Err(QueryError::new("only time and tag dimensions allowed")),
        }
    }
    if interval < 0 {
        interval = 0;
    }
    if interval > 0 {
        offset = offset.rem_euclid(interval);
    }
    if dims.is_none() && !keys.is_empty() {
        keys.sort();
        keys.dedup();
        dims = Some(Dims::Keys(keys));
    }

    // Expansion of *, regex fields and calls over * or /re/.
    let mut all_fields: BTreeMap<String, FieldType> = BTreeMap::new();
    let mut all_tags: BTreeSet<String> = BTreeSet::new();
    for m in &measurements {
        for (k, f) in &m.fields {
            all_fields.entry(k.clone()).or_insert(f.field_type);
        }
        all_tags.extend(m.tag_keys.iter().cloned());
    }
    let grouped = |t: &str| match &dims {
        Some(Dims::All) => true,
        Some(Dims::Keys(k)) => k.iter().any(|k| k == t),
        Some(Dims::Regex(re)) => re.is_match(t),
        None => false,
    };
    let mut fields: Vec<(Expr, Option<String>, String)> = Vec::new(); // (expr, alias, column)
    for f in &stmt.fields {
        match &f.expr {
            Expr::Wildcard(w) => {
                let mut names: Vec<(String, Expr)> = Vec::new();
                if *w != WildcardType::Tag {
                    for k in all_fields.keys() {
                        names.push((k.clone(), var(k, Some(DataType::Field))));
                    }
                }
                if *w != WildcardType::Field {
                    for t in &all_tags {
                        if !grouped(t) {
                            names.push((t.clone(), var(t, Some(DataType::Tag))));
                        }
                    }
                }
                names.sort_by(|a, b| a.0.cmp(&b.0));
                fields.extend(names.into_iter().map(|(n, e)| (e, None, n)));
            }
            Expr::Regex(re) => {
                let re = cond::compile_regex(&re.0)?;
                let mut names: Vec<(String, Expr)> = Vec::new();
                for k in all_fields.keys().filter(|k| re.is_match(k)) {
                    names.push((k.clone(), var(k, Some(DataType::Field))));
                }
                for t in all_tags.iter().filter(|t| re.is_match(t) && !grouped(t)) {
                    names.push((t.clone(), var(t, Some(DataType::Tag))));
                }
                names.sort_by(|a, b| a.0.cmp(&b.0));
                fields.extend(names.into_iter().map(|(n, e)| (e, None, n)));
            }
            Expr::Call(c) if matches!(c.args.first(), Some(Expr::Wildcard(_) | Expr::Regex(_))) => {
                let re = match c.args.first() {
                    Some(Expr::Regex(r)) => Some(cond::compile_regex(&r.0)?),
                    _ => None,
                };
                for (k, t) in &all_fields {
                    if re.as_ref().is_some_and(|re| !re.is_match(k))
                        || !wildcard_type_ok(&c.name, *t)
                    {
                        continue;
                    }
                    let mut args = c.args.clone();
                    args[0] = var(k, None);
                    let prefix = f.alias.clone().unwrap_or_else(|| c.name.clone());
                    fields.push((
                        Expr::Call(Call {
                            name: c.name.clone(),
                            args,
                        }),
                        None,
                        format!("{prefix}_{k}"),
                    ));
                }
            }
            e => fields.push((
                e.clone(),
                f.alias.clone(),
                f.alias.clone().unwrap_or_else(|| expr_name(e)),
            )),
        }
    }

    let mut b = Builder::default();
    let mut outputs = Vec::new();
    for (e, _, _) in &fields {
        outputs.push(b.output(e, interval > 0)?);
    }
    let has_calls = !b.calls.is_empty() || b.transforms > 0;
    let multi = b.calls.iter().filter(|c| c.func.is_multi()).count();
    if b.calls.iter().any(|c| c.func == Func::Distinct) && (fields.len() > 1 || b.calls.len() > 1) {
        return Err(QueryError::new(
            "aggregate function distinct() cannot be combined with other functions or fields",
        ));
    }
    let mode = if !has_calls {
        if interval > 0 || have_time {
            return Err(QueryError::new(
                "GROUP BY requires at least one aggregate function",
            ));
        }
        Mode::Raw
    } else if b.calls.is_empty() {
        // Only transformations of raw fields.
        if b.refs > 0 {
            return Err(QueryError::new(
                "mixing aggregate and non-aggregate queries is not supported",
            ));
        }
        Mode::RawTransform
    } else {
        let selectors = b.calls.iter().filter(|c| c.func.is_selector()).count();
        if b.refs > 0 && !(b.calls.len() == 1 && selectors == 1) {
            return Err(QueryError::new(
                "mixing aggregate and non-aggregate queries is not supported",
            ));
        }
        if multi > 0 {
            if b.calls.len() > 1 || b.transforms > 0 {
                let name = b
                    .calls
                    .iter()
                    .find(|c| c.func.is_multi())
                    .map_or("top", |c| func_name(c.func));
                return Err(QueryError::new(format!(
                    "selector function {name}() cannot be combined with other functions"
                )));
            }
            Mode::Multi
        } else {
            Mode::Aggregate
        }
    };
    let mut columns = Vec::with_capacity(fields.len() + 1);
    columns.push("time".to_string());
    // 1.x de-duplicates output names with _1, _2 ... suffixes.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (_, _, name) in &fields {
        let mut n = name.clone();
        if let Some(&start) = seen.get(name) {
            let mut count = start;
            loop {
                n = format!("{name}_{count}");
                count += 1;
                if !seen.contains_key(&n) {
                    break;
                }
            }
            seen.insert(name.clone(), count);
        }
        seen.insert(n.clone(), 1);
        columns.push(n);
    }
    // Extra columns: top(f, tag, N) lists its tags after the value.
    if mode == Mode::Multi
        && let Some(c) = b.calls.first()
    {
        for t in &c.tags {
            columns.push(t.clone());
        }
    }
    let cond = cond::split(stmt.condition.as_ref(), ctx.now)?;
    Ok(Plan {
        measurements,
        columns,
        outputs,
        calls: b.calls,
        mode,
        cond,
        interval,
        offset,
        dims,
        fill: stmt.fill,
        descending: stmt.is_descending(),
        limit: stmt.limit,
        row_offset: stmt.offset,
    })
}

fn var(name: &str, t: Option<DataType>) -> Expr {
    Expr::VarRef(influxql::VarRef {
        name: name.to_string(),
        data_type: t,
    })
}

fn wildcard_type_ok(func: &str, t: FieldType) -> bool {
    match func {
        "count" | "first" | "last" | "distinct" | "elapsed" | "mode" | "sample" => true,
        "min" | "max" => t != FieldType::String,
        _ => matches!(
            t,
            FieldType::Float | FieldType::Integer | FieldType::Unsigned
        ),
    }
}

/// 1.x's `Field.Name()`: a call's name, a reference's name, names in a binary joined by `_`.
pub fn expr_name(e: &Expr) -> String {
    fn walk(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::VarRef(v) => out.push(v.name.clone()),
            Expr::Call(c) => out.push(c.name.clone()),
            Expr::Binary(b) => {
                walk(&b.lhs, out);
                walk(&b.rhs, out);
            }
            Expr::Paren(p) => walk(p, out),
            Expr::Distinct(_) => out.push("distinct".into()),
            _ => {}
        }
    }
    let mut parts = Vec::new();
    walk(e, &mut parts);
    parts.join("_")
}

pub fn func_name(f: Func) -> &'static str {
    match f {
        Func::Count | Func::CountDistinct => "count",
        Func::Mean => "mean",
        Func::Sum => "sum",
        Func::Min => "min",
        Func::Max => "max",
        Func::First => "first",
        Func::Last => "last",
        Func::Median => "median",
        Func::Mode => "mode",
        Func::Spread => "spread",
        Func::Stddev => "stddev",
        Func::Percentile(_) => "percentile",
        Func::Integral(_) => "integral",
        Func::Distinct => "distinct",
        Func::Top(_) => "top",
        Func::Bottom(_) => "bottom",
        Func::Sample(_) => "sample",
    }
}

fn field_arg<'a>(c: &'a Call, name: &str) -> Result<&'a str, QueryError> {
    match c.args.first().map(Expr::unparen) {
        Some(Expr::VarRef(v)) => Ok(&v.name),
        Some(Expr::Distinct(_)) | Some(Expr::Call(_)) => Err(QueryError::new(format!(
            "expected field argument in {name}()"
        ))),
        _ => Err(QueryError::new(format!(
            "expected field argument in {name}()"
        ))),
    }
}

fn duration_arg(c: &Call, i: usize, default: i64) -> Result<i64, QueryError> {
    match c.args.get(i) {
        None => Ok(default),
        Some(Expr::Duration(d)) => Ok(*d),
        Some(_) => Err(QueryError::new(format!(
            "second argument to {} must be a duration",
            c.name
        ))),
    }
}
