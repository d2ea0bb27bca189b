//! The InfluxQL function nodes: aggregates (mean, sum, count, median, mode, spread,
//! stddev), selectors (min, max, first, last, percentile, top, bottom, distinct) and
//! transforms (difference, elapsed, cumulativeSum, movingAverage).
//!
//! On a batch, aggregates and single selectors emit one point at the batch time (the
//! selected point's time with `.usePointTimes()`); only `count` emits on an empty batch.
//! On a stream, points of a group with equal times are gathered and reduced when a
//! point with another time arrives, as Kapacitor does.

use std::collections::{HashMap, VecDeque};

use common::FieldValue;

use super::model::{
    Batch, BatchPoint, Dims, Fields, Msg, Point, SerValue, Tags, as_f64, snap, unsnap,
};
use super::nodes::{has_prop, str_prop, strings};
use super::{Cx, Node};
use crate::error::Error;
use crate::tick::{Arg, EdgeType, GraphNode, NodeKind};

#[derive(Debug, Clone)]
enum Func {
    Mean,
    Sum,
    Count,
    Min,
    Max,
    First,
    Last,
    Median,
    Mode,
    Spread,
    Stddev,
    Percentile(f64),
    Distinct,
    Top(usize, Vec<String>),
    Bottom(usize, Vec<String>),
    Difference,
    Elapsed(i64),
    CumulativeSum,
    MovingAverage(usize),
}

impl Func {
    fn is_transform(&self) -> bool {
        matches!(
            self,
            Func::Difference | Func::Elapsed(_) | Func::CumulativeSum | Func::MovingAverage(_)
        )
    }
}

/// Per-group running state for transforms on a stream.
#[derive(Default)]
struct TransformState {
    prev: Option<(i64, FieldValue)>,
    sum: Option<FieldValue>,
    window: VecDeque<f64>,
}

/// Points of one group and one time, waiting for the time to change (stream input).
#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    name: String,
    dims: Dims,
    tags: Tags,
    time: i64,
    points: Vec<BatchPoint>,
}

pub(crate) struct InfluxQl {
    func: Func,
    field: String,
    as_name: String,
    use_point_times: bool,
    emits_batch: bool,
    pending: HashMap<String, Pending>,
    transforms: HashMap<String, TransformState>,
}

/// Builds an InfluxQL function node.
pub(crate) fn build(n: &GraphNode, opts: &crate::Options) -> Result<Box<dyn Node>, Error> {
    let bad = |m: &str| Error::Invalid(format!("{}: {m}", n.name()));
    let field_at = |i: usize| match n.args.get(i) {
        Some(Arg::String(s)) => Ok(s.clone()),
        _ => Err(bad("missing field name")),
    };
    use NodeKind as K;
    let (func, field) = match n.kind {
        K::Mean => (Func::Mean, field_at(0)?),
        K::Sum => (Func::Sum, field_at(0)?),
        K::Count => (Func::Count, field_at(0)?),
        K::Min => (Func::Min, field_at(0)?),
        K::Max => (Func::Max, field_at(0)?),
        K::First => (Func::First, field_at(0)?),
        K::Last => (Func::Last, field_at(0)?),
        K::Median => (Func::Median, field_at(0)?),
        K::Mode => (Func::Mode, field_at(0)?),
        K::Spread => (Func::Spread, field_at(0)?),
        K::Stddev => (Func::Stddev, field_at(0)?),
        K::Distinct => (Func::Distinct, field_at(0)?),
        K::Difference => (Func::Difference, field_at(0)?),
        K::CumulativeSum => (Func::CumulativeSum, field_at(0)?),
        K::Percentile => match n.args.get(1) {
            Some(Arg::Float(p)) => (Func::Percentile(*p), field_at(0)?),
            _ => return Err(bad("percentile needs a float percentile")),
        },
        K::Elapsed => match n.args.get(1) {
            Some(Arg::Duration(u)) if *u > 0 => (Func::Elapsed(*u), field_at(0)?),
            _ => return Err(bad("elapsed needs a positive unit")),
        },
        K::MovingAverage => match n.args.get(1) {
            // Each group holds its window: longer than the window cap is refused.
            Some(Arg::Int(w)) if *w > 0 && *w as u64 > opts.max_window_points as u64 => {
                return Err(bad(&format!(
                    "movingAverage window over {} points is refused (max_window_points)",
                    opts.max_window_points
                )));
            }
            Some(Arg::Int(w)) if *w > 0 => (Func::MovingAverage(*w as usize), field_at(0)?),
            _ => return Err(bad("movingAverage needs a positive window")),
        },
        K::Top | K::Bottom => {
            let count = match n.args.first() {
                Some(Arg::Int(c)) if *c > 0 => *c as usize,
                _ => return Err(bad("the number of points to select must be positive")),
            };
            let tags = strings(n.args.get(2..).unwrap_or_default());
            let f = if n.kind == K::Top {
                Func::Top(count, tags)
            } else {
                Func::Bottom(count, tags)
            };
            (f, field_at(1)?)
        }
        k => {
            return Err(Error::Unsupported(format!(
                "{} is not supported yet",
                k.desc()
            )));
        }
    };
    let default_as = match n.kind {
        K::CumulativeSum => "cumulativeSum".to_string(),
        K::MovingAverage => "movingAverage".to_string(),
        k => k.desc().to_string(),
    };
    Ok(Box::new(InfluxQl {
        func,
        field,
        as_name: str_prop(n, "as").unwrap_or(default_as),
        use_point_times: has_prop(n, "usePointTimes"),
        emits_batch: n.provides == EdgeType::Batch,
        pending: HashMap::new(),
        transforms: HashMap::new(),
    }))
}

fn num_kind_int(vals: &[(i64, FieldValue, &Tags)]) -> bool {
    vals.iter()
        .all(|(_, v, _)| matches!(v, FieldValue::Integer(_)))
}

fn numeric(vals: &[(i64, FieldValue, &Tags)]) -> Result<Vec<(i64, f64)>, String> {
    vals.iter()
        .map(|(t, v, _)| {
            as_f64(v)
                .map(|f| (*t, f))
                .ok_or_else(|| "unsupported field type".into())
        })
        .collect()
}

fn cmp_values(a: &FieldValue, b: &FieldValue) -> std::cmp::Ordering {
    use FieldValue as F;
    match (a, b) {
        (F::String(x), F::String(y)) => x.cmp(y),
        (F::Boolean(x), F::Boolean(y)) => x.cmp(y),
        _ => {
            let (x, y) = (as_f64(a).unwrap_or(f64::NAN), as_f64(b).unwrap_or(f64::NAN));
            x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
        }
    }
}

/// One selected or reduced value: (time of the selected point if a selector, value,
/// extra fields).
type Out = (Option<i64>, FieldValue, Fields);

impl InfluxQl {
    /// Reduces the values of one batch to zero or more outputs.
    fn reduce(&self, vals: &[(i64, FieldValue, &Tags)]) -> Result<Vec<Out>, String> {
        let one = |t: Option<i64>, v: FieldValue| Ok(vec![(t, v, Fields::new())]);
        if vals.is_empty() {
            return match self.func {
                Func::Count => one(None, FieldValue::Integer(0)),
                _ => Ok(Vec::new()),
            };
        }
        match &self.func {
            Func::Count => one(None, FieldValue::Integer(vals.len() as i64)),
            Func::Mean => {
                let n = numeric(vals)?;
                one(
                    None,
                    FieldValue::Float(n.iter().map(|x| x.1).sum::<f64>() / n.len() as f64),
                )
            }
            Func::Sum => {
                if num_kind_int(vals) {
                    let s = vals.iter().fold(0i64, |a, (_, v, _)| match v {
                        FieldValue::Integer(i) => a.wrapping_add(*i),
                        _ => a,
                    });
                    one(None, FieldValue::Integer(s))
                } else {
                    one(
                        None,
                        FieldValue::Float(numeric(vals)?.iter().map(|x| x.1).sum()),
                    )
                }
            }
            Func::Min | Func::Max => {
                numeric(vals)?;
                let mut best = &vals[0];
                for v in &vals[1..] {
                    let o = cmp_values(&v.1, &best.1);
                    let better = match self.func {
                        Func::Min => o.is_lt(),
                        _ => o.is_gt(),
                    };
                    if better || (o.is_eq() && v.0 < best.0) {
                        best = v;
                    }
                }
                one(Some(best.0), best.1.clone())
            }
            Func::First => {
                let mut best = &vals[0];
                for v in &vals[1..] {
                    if v.0 < best.0 {
                        best = v;
                    }
                }
                one(Some(best.0), best.1.clone())
            }
            Func::Last => {
                let mut best = &vals[0];
                for v in &vals[1..] {
                    if v.0 >= best.0 {
                        best = v;
                    }
                }
                one(Some(best.0), best.1.clone())
            }
            Func::Median => {
                let mut n: Vec<f64> = numeric(vals)?.into_iter().map(|x| x.1).collect();
                n.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                let m = n.len() / 2;
                let v = if n.len().is_multiple_of(2) {
                    n[m - 1] + (n[m] - n[m - 1]) / 2.0
                } else {
                    n[m]
                };
                one(None, FieldValue::Float(v))
            }
            Func::Mode => {
                let mut sorted: Vec<&FieldValue> = vals.iter().map(|v| &v.1).collect();
                sorted.sort_by(|a, b| cmp_values(a, b));
                let (mut best, mut best_n) = (sorted[0], 0);
                let mut i = 0;
                while i < sorted.len() {
                    let mut j = i;
                    while j < sorted.len() && cmp_values(sorted[j], sorted[i]).is_eq() {
                        j += 1;
                    }
                    if j - i > best_n {
                        best = sorted[i];
                        best_n = j - i;
                    }
                    i = j;
                }
                one(None, best.clone())
            }
            Func::Spread => {
                if num_kind_int(vals) {
                    let it = vals.iter().filter_map(|(_, v, _)| match v {
                        FieldValue::Integer(i) => Some(*i),
                        _ => None,
                    });
                    let (mn, mx) = it.fold((i64::MAX, i64::MIN), |(a, b), x| (a.min(x), b.max(x)));
                    one(None, FieldValue::Integer(mx.wrapping_sub(mn)))
                } else {
                    let n = numeric(vals)?;
                    let (mn, mx) = n
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                            (a.min(x.1), b.max(x.1))
                        });
                    one(None, FieldValue::Float(mx - mn))
                }
            }
            Func::Stddev => {
                let n = numeric(vals)?;
                if n.len() < 2 {
                    return Ok(Vec::new());
                }
                let mean = n.iter().map(|x| x.1).sum::<f64>() / n.len() as f64;
                let var =
                    n.iter().map(|x| (x.1 - mean).powi(2)).sum::<f64>() / (n.len() - 1) as f64;
                one(None, FieldValue::Float(var.sqrt()))
            }
            Func::Percentile(p) => {
                numeric(vals)?;
                let mut sorted: Vec<&(i64, FieldValue, &Tags)> = vals.iter().collect();
                sorted.sort_by(|a, b| cmp_values(&a.1, &b.1).then(a.0.cmp(&b.0)));
                let i = (sorted.len() as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
                match usize::try_from(i).ok().and_then(|i| sorted.get(i)) {
                    Some(v) => one(Some(v.0), v.1.clone()),
                    None => Ok(Vec::new()),
                }
            }
            Func::Distinct => {
                let mut sorted: Vec<&FieldValue> = vals.iter().map(|v| &v.1).collect();
                sorted.sort_by(|a, b| cmp_values(a, b));
                sorted.dedup_by(|a, b| cmp_values(a, b).is_eq());
                Ok(sorted
                    .into_iter()
                    .map(|v| (None, v.clone(), Fields::new()))
                    .collect())
            }
            Func::Top(n, tags) | Func::Bottom(n, tags) => {
                numeric(vals)?;
                let top = matches!(self.func, Func::Top(..));
                let better = |a: &(i64, FieldValue, &Tags), b: &(i64, FieldValue, &Tags)| {
                    let o = cmp_values(&a.1, &b.1);
                    let o = if top { o.reverse() } else { o };
                    o.then(a.0.cmp(&b.0))
                };
                let mut cands: Vec<&(i64, FieldValue, &Tags)> = vals.iter().collect();
                cands.sort_by(|a, b| better(a, b));
                if !tags.is_empty() {
                    // One candidate per distinct combination of the named tags.
                    let mut seen = std::collections::HashSet::new();
                    cands.retain(|c| {
                        let key: Vec<Option<&String>> = tags.iter().map(|t| c.2.get(t)).collect();
                        seen.insert(key)
                    });
                }
                cands.truncate(*n);
                cands.sort_by_key(|c| c.0);
                Ok(cands
                    .into_iter()
                    .map(|c| {
                        let extra = tags
                            .iter()
                            .filter_map(|t| {
                                c.2.get(t)
                                    .map(|v| (t.clone(), FieldValue::String(v.clone())))
                            })
                            .collect();
                        (Some(c.0), c.1.clone(), extra)
                    })
                    .collect())
            }
            Func::Difference | Func::Elapsed(_) | Func::CumulativeSum | Func::MovingAverage(_) => {
                let mut st = TransformState::default();
                let mut outs = Vec::new();
                for (t, v, _) in vals {
                    if let Some(o) = self.transform(&mut st, *t, v)? {
                        outs.push((Some(*t), o, Fields::new()));
                    }
                }
                Ok(outs)
            }
        }
    }

    /// One step of a transform.
    fn transform(
        &self,
        st: &mut TransformState,
        t: i64,
        v: &FieldValue,
    ) -> Result<Option<FieldValue>, String> {
        use FieldValue as F;
        let out = match &self.func {
            Func::Difference => {
                let out = match &st.prev {
                    Some((_, F::Integer(p))) => match v {
                        F::Integer(c) => Some(F::Integer(c.wrapping_sub(*p))),
                        _ => as_f64(v).map(|c| F::Float(c - *p as f64)),
                    },
                    Some((_, p)) => match (as_f64(p), as_f64(v)) {
                        (Some(p), Some(c)) => Some(F::Float(c - p)),
                        _ => return Err("unsupported field type".into()),
                    },
                    None => {
                        if as_f64(v).is_none() {
                            return Err("unsupported field type".into());
                        }
                        None
                    }
                };
                st.prev = Some((t, v.clone()));
                out
            }
            Func::Elapsed(unit) => {
                let out = st.prev.as_ref().map(|(pt, _)| F::Integer((t - pt) / unit));
                st.prev = Some((t, v.clone()));
                out
            }
            Func::CumulativeSum => {
                let next = match (&st.sum, v) {
                    (None, F::Integer(_) | F::Float(_)) => v.clone(),
                    (Some(F::Integer(a)), F::Integer(b)) => F::Integer(a.wrapping_add(*b)),
                    (Some(a), b) => match (as_f64(a), as_f64(b)) {
                        (Some(a), Some(b)) => F::Float(a + b),
                        _ => return Err("unsupported field type".into()),
                    },
                    _ => return Err("unsupported field type".into()),
                };
                st.sum = Some(next.clone());
                Some(next)
            }
            Func::MovingAverage(n) => {
                let x = as_f64(v).ok_or("unsupported field type")?;
                st.window.push_back(x);
                if st.window.len() > *n {
                    st.window.pop_front();
                }
                (st.window.len() == *n).then(|| F::Float(st.window.iter().sum::<f64>() / *n as f64))
            }
            _ => None,
        };
        Ok(out)
    }

    fn emit(&self, b: Batch, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        let vals: Vec<(i64, FieldValue, &Tags)> = b
            .points
            .iter()
            .filter_map(|p| {
                p.fields
                    .get(&self.field)
                    .map(|v| (p.time, v.clone(), &p.tags))
            })
            .collect();
        let results = match self.reduce(&vals) {
            Ok(r) => r,
            Err(e) => return cx.error(format!("{}: field {:?}", e, self.field)),
        };
        let time_of = |t: Option<i64>| match t {
            Some(t) if self.use_point_times || self.func.is_transform() => t,
            _ => b.time,
        };
        let mk_fields = |v: FieldValue, extra: Fields| {
            let mut f = extra;
            f.insert(self.as_name.clone(), v);
            f
        };
        if self.emits_batch {
            let points = results
                .into_iter()
                .map(|(t, v, extra)| BatchPoint {
                    time: time_of(t),
                    fields: mk_fields(v, extra),
                    tags: b.tags.clone(),
                })
                .collect();
            out.push(Msg::Batch(Batch { points, ..b }));
        } else {
            for (t, v, extra) in results {
                out.push(Msg::Point(Point {
                    name: b.name.clone(),
                    db: String::new(),
                    rp: String::new(),
                    time: time_of(t),
                    tags: b.tags.clone(),
                    fields: mk_fields(v, extra),
                    dims: b.dims.clone(),
                    group: b.group.clone(),
                }));
            }
        }
    }

    fn stream_transform(&mut self, p: Point, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        let Some(v) = p.fields.get(&self.field).cloned() else {
            return cx.error(format!("field {:?} missing", self.field));
        };
        let mut st = self.transforms.remove(&p.group).unwrap_or_default();
        let r = self.transform(&mut st, p.time, &v);
        self.transforms.insert(p.group.clone(), st);
        match r {
            Ok(Some(o)) => {
                let mut fields = Fields::new();
                fields.insert(self.as_name.clone(), o);
                out.push(Msg::Point(Point { fields, ..p }));
            }
            Ok(None) => {}
            Err(e) => cx.error(e),
        }
    }
}

/// The snapshot form of the node's stream state.
#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    pending: HashMap<String, Pending>,
    transforms: HashMap<String, TransformSnap>,
}

/// A transform's state: previous (time, value), running sum, moving-average window.
type TransformSnap = (Option<(i64, SerValue)>, Option<SerValue>, Vec<f64>);

impl Node for InfluxQl {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Batch(b) => self.emit(b, cx, out),
            Msg::Point(p) if self.func.is_transform() => self.stream_transform(p, cx, out),
            Msg::Point(p) => {
                let bp = BatchPoint {
                    time: p.time,
                    fields: p.fields,
                    tags: p.tags.clone(),
                };
                match self.pending.get_mut(&p.group) {
                    Some(pend) if pend.time == p.time => pend.points.push(bp),
                    _ => {
                        let fresh = Pending {
                            name: p.name,
                            tags: p.dims.group_tags(&p.tags),
                            dims: p.dims,
                            time: p.time,
                            points: vec![bp],
                        };
                        if let Some(prev) = self.pending.insert(p.group.clone(), fresh) {
                            let b = Batch {
                                name: prev.name,
                                group: p.group,
                                dims: prev.dims,
                                tags: prev.tags,
                                time: prev.time,
                                points: prev.points,
                            };
                            self.emit(b, cx, out);
                        }
                    }
                }
            }
        }
    }

    fn forget(&mut self, group: &str) {
        self.pending.remove(group);
        self.transforms.remove(group);
    }

    fn cardinality(&self) -> usize {
        self.pending.len() + self.transforms.len()
    }

    fn snapshot(&self) -> Option<String> {
        let transforms = self
            .transforms
            .iter()
            .map(|(g, t)| {
                let prev = t.prev.as_ref().map(|(ts, v)| (*ts, SerValue::from(v)));
                let sum = t.sum.as_ref().map(SerValue::from);
                (g.clone(), (prev, sum, t.window.iter().copied().collect()))
            })
            .collect();
        let pending = self
            .pending
            .iter()
            .map(|(g, p)| {
                let copy = Pending {
                    name: p.name.clone(),
                    dims: p.dims.clone(),
                    tags: p.tags.clone(),
                    time: p.time,
                    points: p.points.clone(),
                };
                (g.clone(), copy)
            })
            .collect();
        snap(&Snapshot {
            pending,
            transforms,
        })
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        let s: Snapshot = unsnap(state)?;
        self.pending = s.pending;
        self.transforms = s
            .transforms
            .into_iter()
            .map(|(g, (prev, sum, window))| {
                let t = TransformState {
                    prev: prev.map(|(ts, v)| (ts, v.into())),
                    sum: sum.map(Into::into),
                    window: window.into(),
                };
                (g, t)
            })
            .collect();
        Ok(())
    }
}
