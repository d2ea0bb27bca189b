//! Transformations (derivative, difference, moving_average, cumulative_sum, elapsed) and
//! fill(), over sequences of (time, value).

use influxql::{BinaryOp, Fill};

use super::plan::Transform;
use super::value::{Value, arithmetic};

/// Applies a transformation to points sorted by time (nulls already skipped), in the
/// statement's order as 1.x does (ORDER BY time DESC runs it backwards); the result is
/// sorted by ascending time. `default_unit` is the GROUP BY interval, or 1s for raw fields.
pub fn apply(
    t: Transform,
    points: &[(i64, Value)],
    default_unit: i64,
    descending: bool,
) -> Vec<(i64, Value)> {
    if descending {
        let reversed: Vec<(i64, Value)> = points.iter().rev().cloned().collect();
        let mut out = apply_in_order(t, &reversed, default_unit);
        out.reverse();
        return out;
    }
    apply_in_order(t, points, default_unit)
}

fn apply_in_order(t: Transform, points: &[(i64, Value)], default_unit: i64) -> Vec<(i64, Value)> {
    let mut out = Vec::new();
    match t {
        Transform::Derivative { unit, non_negative } => {
            let unit = unit.unwrap_or(default_unit) as f64;
            let mut prev: Option<(i64, f64)> = None;
            for (t, v) in points {
                let Some(v) = v.as_f64() else { continue };
                if let Some((pt, pv)) = prev {
                    // Points with the same time as the previous one are skipped, as in 1.x.
                    if *t == pt {
                        continue;
                    }
                    // 1.x divides by the absolute elapsed time in either direction.
                    let d = (v - pv) / ((*t - pt).abs() as f64 / unit);
                    if !(non_negative && d < 0.0) {
                        out.push((*t, Value::Float(d)));
                    }
                }
                prev = Some((*t, v));
            }
        }
        Transform::Difference { non_negative } => {
            let mut prev: Option<(i64, &Value)> = None;
            for (t, v) in points {
                if let Some((pt, pv)) = prev {
                    if *t == pt {
                        continue;
                    }
                    let d = arithmetic(BinaryOp::Sub, v, pv);
                    let negative = match &d {
                        Value::Float(f) => *f < 0.0,
                        Value::Integer(i) => *i < 0,
                        _ => false,
                    };
                    if !(d.is_null() || non_negative && negative) {
                        out.push((*t, d));
                    }
                }
                prev = Some((*t, v));
            }
        }
        Transform::MovingAverage(n) => {
            let mut window: std::collections::VecDeque<f64> =
                std::collections::VecDeque::with_capacity(n);
            let mut sum = 0.0;
            for (t, v) in points {
                let Some(v) = v.as_f64() else { continue };
                window.push_back(v);
                sum += v;
                if window.len() > n {
                    sum -= window.pop_front().unwrap_or(0.0);
                }
                if window.len() == n {
                    // Recompute rather than trust the running sum, to match 1.x's rounding.
                    let s: f64 = window.iter().sum();
                    out.push((*t, Value::Float(s / n as f64)));
                }
            }
            let _ = sum;
        }
        Transform::CumulativeSum => {
            let mut acc: Option<Value> = None;
            for (t, v) in points {
                let next = match &acc {
                    None => v.clone(),
                    Some(a) => arithmetic(BinaryOp::Add, a, v),
                };
                out.push((*t, next.clone()));
                acc = Some(next);
            }
        }
        Transform::Elapsed(unit) => {
            let mut prev: Option<i64> = None;
            for (t, _) in points {
                if let Some(pt) = prev {
                    out.push((*t, Value::Integer((*t - pt) / unit)));
                }
                prev = Some(*t);
            }
        }
    }
    out
}

/// Fills the empty buckets (`None`) of one call's column. `integer` says the call's
/// results are integers (a numeric fill is then truncated, as 1.x casts it).
pub fn fill(values: &mut [Option<Value>], fill: Fill, count_like: bool, integer: bool) {
    match fill {
        Fill::None => {}
        Fill::Null => {
            if count_like {
                for v in values.iter_mut().filter(|v| v.is_none()) {
                    *v = Some(Value::Integer(0));
                }
            }
        }
        Fill::Integer(_) | Fill::Float(_) => {
            let f = match fill {
                Fill::Integer(i) if integer => Value::Integer(i),
                Fill::Integer(i) => Value::Float(i as f64),
                Fill::Float(f) if integer => Value::Integer(f as i64),
                Fill::Float(f) => Value::Float(f),
                _ => Value::Null,
            };
            for v in values.iter_mut().filter(|v| v.is_none()) {
                *v = Some(f.clone());
            }
        }
        Fill::Previous => {
            let mut prev: Option<Value> = None;
            for v in values.iter_mut() {
                match v {
                    Some(x) => prev = Some(x.clone()),
                    None => *v = prev.clone(),
                }
            }
        }
        Fill::Linear => {
            let known: Vec<usize> = (0..values.len())
                .filter(|&i| {
                    values
                        .get(i)
                        .is_some_and(|v| v.as_ref().is_some_and(|v| v.as_f64().is_some()))
                })
                .collect();
            for w in known.windows(2) {
                let (&[a, b], true) = (w, true) else { continue };
                let (Some(Some(va)), Some(Some(vb))) =
                    (values.get(a).cloned(), values.get(b).cloned())
                else {
                    continue;
                };
                for i in a + 1..b {
                    let frac = (i - a) as f64 / (b - a) as f64;
                    let v = match (&va, &vb) {
                        (Value::Integer(x), Value::Integer(y)) => {
                            Value::Integer(x + ((y - x) as f64 * frac) as i64)
                        }
                        _ => {
                            let (x, y) = (va.as_f64().unwrap_or(0.0), vb.as_f64().unwrap_or(0.0));
                            Value::Float(x + (y - x) * frac)
                        }
                    };
                    if let Some(slot) = values.get_mut(i) {
                        *slot = Some(v);
                    }
                }
            }
        }
    }
}
