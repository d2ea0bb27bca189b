//! Per-bucket reducers for aggregates and selectors, with 1.x's tie-breaking.

use std::cmp::Ordering;

use super::plan::Func;
use super::value::{Value, column_value};
use super::window::Buckets;
use crate::codec::Column;

/// A point fed to a reducer: time, value, and which series (of the group) it came from.
#[derive(Debug, Clone)]
pub struct Pt {
    pub time: i64,
    pub value: Value,
    pub series: usize,
}

/// The state of one call in one bucket.
#[derive(Debug, Clone)]
pub enum Acc {
    Count(i64),
    Mean {
        sum: f64,
        n: u64,
    },
    /// Sums, and whether any value came (an empty bucket's sum is null, not 0).
    SumF(f64, bool),
    SumI(i64, bool),
    SumU(u64, bool),
    /// min/max/first/last: the selected point.
    Sel(Option<Pt>),
    /// Everything that needs all the values.
    All(Vec<Pt>),
}

impl Acc {
    pub fn new(func: Func, integer_sum: Option<bool>) -> Acc {
        match func {
            Func::Count => Acc::Count(0),
            Func::Mean => Acc::Mean { sum: 0.0, n: 0 },
            Func::Sum => match integer_sum {
                Some(true) => Acc::SumI(0, false),
                Some(false) => Acc::SumU(0, false),
                None => Acc::SumF(0.0, false),
            },
            Func::Min | Func::Max | Func::First | Func::Last => Acc::Sel(None),
            _ => Acc::All(Vec::new()),
        }
    }

    /// Feeds a float without building a [`Value`] (the hot path).
    #[inline]
    pub fn push_f64(&mut self, func: Func, time: i64, v: f64, series: usize) {
        match self {
            Acc::Count(n) => *n += 1,
            Acc::Mean { sum, n } => {
                *sum += v;
                *n += 1;
            }
            Acc::SumF(s, seen) => {
                *s += v;
                *seen = true;
            }
            Acc::Sel(cur) => {
                let better = match cur {
                    None => true,
                    Some(p) => {
                        let pv = p.value.as_f64().unwrap_or(f64::NAN);
                        match func {
                            Func::Max => v > pv || (v == pv && time < p.time),
                            Func::Min => v < pv || (v == pv && time < p.time),
                            // On equal times 1.x keeps the larger value.
                            Func::First => time < p.time || (time == p.time && v > pv),
                            _ => time > p.time || (time == p.time && v > pv),
                        }
                    }
                };
                if better {
                    *cur = Some(Pt {
                        time,
                        value: Value::Float(v),
                        series,
                    });
                }
            }
            _ => self.push(
                func,
                Pt {
                    time,
                    value: Value::Float(v),
                    series,
                },
            ),
        }
    }

    /// Feeds the floats of one bucket from one series (times ascending).
    pub fn push_f64_run(&mut self, func: Func, ts: &[i64], vs: &[f64], series: usize) {
        match (self, func) {
            (Acc::Count(n), _) => *n += vs.len() as i64,
            (Acc::Mean { sum, n }, _) => {
                for v in vs {
                    *sum += v;
                }
                *n += vs.len() as u64;
            }
            (Acc::SumF(s, seen), _) => {
                for v in vs {
                    *s += v;
                }
                *seen |= !vs.is_empty();
            }
            (acc @ Acc::Sel(_), Func::Max | Func::Min)
                if vs.first().is_some_and(|v| !v.is_nan()) =>
            {
                // Same choice as the loop below (the earliest of the extreme values; NaN
                // after a number never wins), in two passes the compiler vectorises.
                let m = if func == Func::Max {
                    vs.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b))
                } else {
                    vs.iter().fold(f64::INFINITY, |a, &b| a.min(b))
                };
                if let Some(i) = vs.iter().position(|&v| v == m)
                    && let (Some(t), Some(v)) = (ts.get(i), vs.get(i))
                {
                    acc.push_f64(func, *t, *v, series);
                }
            }
            (acc @ Acc::Sel(_), Func::Max | Func::Min) => {
                let max = func == Func::Max;
                let mut best: Option<usize> = None;
                let mut bv = 0.0;
                for (i, v) in vs.iter().enumerate() {
                    // Strict comparison: the earliest of equal values wins.
                    if best.is_none() || (max && *v > bv) || (!max && *v < bv) {
                        best = Some(i);
                        bv = *v;
                    }
                }
                if let Some(i) = best
                    && let (Some(t), Some(v)) = (ts.get(i), vs.get(i))
                {
                    acc.push_f64(func, *t, *v, series);
                }
            }
            (acc @ Acc::Sel(_), Func::First) => {
                if let (Some(t), Some(v)) = (ts.first(), vs.first()) {
                    acc.push_f64(func, *t, *v, series);
                }
            }
            (acc @ Acc::Sel(_), Func::Last) => {
                if let (Some(t), Some(v)) = (ts.last(), vs.last()) {
                    acc.push_f64(func, *t, *v, series);
                }
            }
            (acc, _) => {
                for (t, v) in ts.iter().zip(vs) {
                    acc.push_f64(func, *t, *v, series);
                }
            }
        }
    }

    /// Feeds the integers of one bucket from one series (times ascending): what
    /// [`Acc::push`] does point by point, without a `Value` per point.
    pub fn push_i64_run(&mut self, func: Func, ts: &[i64], vs: &[i64], series: usize) {
        let pt = |i: usize| {
            Some(Pt {
                time: *ts.get(i)?,
                value: Value::Integer(*vs.get(i)?),
                series,
            })
        };
        match (self, func) {
            (Acc::Count(n), _) => *n += vs.len() as i64,
            (Acc::Mean { sum, n }, _) => {
                for v in vs {
                    *sum += *v as f64;
                }
                *n += vs.len() as u64;
            }
            (Acc::SumI(s, seen), _) => {
                for v in vs {
                    *s = s.wrapping_add(*v);
                }
                *seen |= !vs.is_empty();
            }
            (acc @ Acc::Sel(_), Func::Max | Func::Min) => {
                // The earliest of the extreme values, as point by point.
                let m = if func == Func::Max {
                    vs.iter().max()
                } else {
                    vs.iter().min()
                };
                if let Some(p) = m.and_then(|m| vs.iter().position(|v| v == m)).and_then(pt) {
                    acc.push(func, p);
                }
            }
            (acc @ Acc::Sel(_), Func::First) => {
                if let Some(p) = pt(0) {
                    acc.push(func, p);
                }
            }
            (acc @ Acc::Sel(_), Func::Last) => {
                if let Some(p) = vs.len().checked_sub(1).and_then(pt) {
                    acc.push(func, p);
                }
            }
            (acc, _) => {
                for i in 0..ts.len().min(vs.len()) {
                    if let Some(p) = pt(i) {
                        acc.push(func, p);
                    }
                }
            }
        }
    }

    pub fn push(&mut self, func: Func, p: Pt) {
        match self {
            Acc::Count(n) => *n += 1,
            Acc::Mean { sum, n } => {
                if let Some(v) = p.value.as_f64() {
                    *sum += v;
                    *n += 1;
                }
            }
            Acc::SumF(s, seen) => {
                if let Some(v) = p.value.as_f64() {
                    *s += v;
                    *seen = true;
                }
            }
            Acc::SumI(s, seen) => {
                if let Value::Integer(v) = p.value {
                    *s = s.wrapping_add(v);
                    *seen = true;
                }
            }
            Acc::SumU(s, seen) => {
                if let Value::Unsigned(v) = p.value {
                    *s = s.wrapping_add(v);
                    *seen = true;
                }
            }
            Acc::Sel(cur) => {
                let better = match cur {
                    None => true,
                    Some(c) => match func {
                        Func::Max => match p.value.compare(&c.value) {
                            Some(Ordering::Greater) => true,
                            Some(Ordering::Equal) => p.time < c.time,
                            _ => false,
                        },
                        Func::Min => match p.value.compare(&c.value) {
                            Some(Ordering::Less) => true,
                            Some(Ordering::Equal) => p.time < c.time,
                            _ => false,
                        },
                        Func::First => {
                            p.time < c.time
                                || (p.time == c.time
                                    && p.value.compare(&c.value) == Some(Ordering::Greater))
                        }
                        _ => {
                            p.time > c.time
                                || (p.time == c.time
                                    && p.value.compare(&c.value) == Some(Ordering::Greater))
                        }
                    },
                };
                if better {
                    *cur = Some(p);
                }
            }
            Acc::All(v) => v.push(p),
        }
    }

    /// The points kept by a reducer that needs them all (none for the others).
    pub fn points(&self) -> &[Pt] {
        match self {
            Acc::All(v) => v,
            _ => &[],
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Acc::Count(n) => *n == 0,
            Acc::Mean { n, .. } => *n == 0,
            Acc::SumF(_, seen) | Acc::SumI(_, seen) | Acc::SumU(_, seen) => !seen,
            Acc::Sel(p) => p.is_none(),
            Acc::All(v) => v.is_empty(),
        }
    }

    /// The single result: value and, for selectors, the chosen point (time, series).
    pub fn finish(self, func: Func) -> Option<(Value, Option<(i64, usize)>)> {
        match self {
            Acc::Count(n) => Some((Value::Integer(n), None)),
            Acc::Mean { sum, n } => (n > 0).then(|| (Value::Float(sum / n as f64), None)),
            Acc::SumF(s, seen) => seen.then_some((Value::Float(s), None)),
            Acc::SumI(s, seen) => seen.then_some((Value::Integer(s), None)),
            Acc::SumU(s, seen) => seen.then_some((Value::Unsigned(s), None)),
            Acc::Sel(p) => p.map(|p| (p.value, Some((p.time, p.series)))),
            Acc::All(points) => finish_all(func, points),
        }
    }
}

fn sort_by_value(points: &mut [Pt]) {
    points.sort_by(|a, b| {
        a.value
            .compare(&b.value)
            .unwrap_or(Ordering::Equal)
            .then(a.time.cmp(&b.time))
    });
}

fn finish_all(func: Func, mut points: Vec<Pt>) -> Option<(Value, Option<(i64, usize)>)> {
    if points.is_empty() {
        return None;
    }
    match func {
        Func::Median => {
            sort_by_value(&mut points);
            let n = points.len();
            let mid = points.get(n / 2)?.value.clone();
            if n % 2 == 1 {
                return Some((mid_value(mid), None));
            }
            let lo = points.get(n / 2 - 1)?.value.as_f64()?;
            let hi = mid.as_f64()?;
            Some((Value::Float(lo + (hi - lo) / 2.0), None))
        }
        Func::Mode => {
            // 1.x's loop, quirks included: a run is only counted from its second point
            // (so a lone value never beats the first run), and ties go to the run whose
            // first point is earliest.
            points.sort_by(|a, b| {
                a.value
                    .compare(&b.value)
                    .unwrap_or(Ordering::Equal)
                    .then(a.time.cmp(&b.time))
            });
            let first = points.first()?;
            let (mut most_freq, mut curr_freq) = (0usize, 0usize);
            let (mut most_mode, mut most_time) = (&first.value, first.time);
            let (mut curr_mode, mut curr_time) = (&first.value, first.time);
            for p in &points {
                if p.value != *curr_mode {
                    curr_freq = 1;
                    curr_mode = &p.value;
                    curr_time = p.time;
                    continue;
                }
                curr_freq += 1;
                if most_freq > curr_freq || (most_freq == curr_freq && curr_time > most_time) {
                    continue;
                }
                most_freq = curr_freq;
                most_mode = &p.value;
                most_time = curr_time;
            }
            Some((most_mode.clone(), None))
        }
        Func::Spread => {
            let mut min = points.first()?.value.clone();
            let mut max = min.clone();
            for p in &points {
                if p.value.compare(&min) == Some(Ordering::Less) {
                    min = p.value.clone();
                }
                if p.value.compare(&max) == Some(Ordering::Greater) {
                    max = p.value.clone();
                }
            }
            Some((
                super::value::arithmetic(influxql::BinaryOp::Sub, &max, &min),
                None,
            ))
        }
        Func::Stddev => {
            let vals: Vec<f64> = points.iter().filter_map(|p| p.value.as_f64()).collect();
            if vals.len() < 2 {
                return Some((Value::Null, None)).filter(|_| !vals.is_empty());
            }
            let n = vals.len() as f64;
            let mean = vals.iter().sum::<f64>() / n;
            let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
            Some((Value::Float(var.sqrt()), None))
        }
        Func::Percentile(p) => {
            sort_by_value(&mut points);
            let idx = (points.len() as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
            if idx < 0 {
                return None;
            }
            let pt = points.get(idx as usize)?;
            Some((pt.value.clone(), Some((pt.time, pt.series))))
        }
        Func::CountDistinct => {
            let mut vals: Vec<Value> = points.into_iter().map(|p| p.value).collect();
            vals.sort_by(|a, b| a.compare(b).unwrap_or(Ordering::Equal));
            vals.dedup();
            Some((Value::Integer(vals.len() as i64), None))
        }
        Func::Integral(unit) => {
            points.sort_by_key(|p| p.time);
            let mut sum = 0.0;
            let mut prev: Option<(i64, f64)> = None;
            for p in &points {
                let Some(v) = p.value.as_f64() else { continue };
                if let Some((pt, pv)) = prev
                    && p.time != pt
                {
                    sum += 0.5 * (v + pv) * ((p.time - pt) as f64 / unit as f64);
                }
                prev = Some((p.time, v));
            }
            Some((Value::Float(sum), None))
        }
        _ => None,
    }
}

/// `integral()` under GROUP BY time, as 1.x's streaming integral reducer computes it: the
/// points of the whole range in time order; when a point lies past the current window, the
/// value at the window's end is interpolated linearly, the window gets the area up to its
/// end, and the area from there to the point goes to the point's window (so the area over
/// an empty window lands in the next window with points). A last window whose only point
/// sits on its start gets no value. `window(t)` gives the bucket index and `[start, end)`.
/// Points with equal times: the later one replaces the earlier.
///
/// `integer` reproduces 1.x's integer reducer: after interpolating at a window's end it
/// keeps the previous point's value (not the interpolated one) and uses the interpolated
/// value as the new point's, for the area from the window's end to the new point.
pub fn integral_windows(
    points: &[(i64, f64)],
    count: usize,
    unit: i64,
    integer: bool,
    window: impl Fn(i64) -> Option<(usize, i64, i64)>,
) -> Vec<Option<f64>> {
    let mut out = vec![None; count];
    let unit = unit as f64;
    let mut prev: Option<(i64, f64)> = None;
    let mut win = (0usize, 0i64, 0i64);
    let mut sum = 0.0;
    for &(t, v) in points {
        let Some(w) = window(t) else { continue };
        let Some((mut pt, mut pv)) = prev else {
            prev = Some((t, v));
            win = w;
            continue;
        };
        if pt == t {
            prev = Some((t, v));
            continue;
        }
        let mut v_next = v;
        if t >= win.2 {
            if pt != win.2 {
                // 1.x's linearFloat, term for term.
                let m = (v - pv) / (t - pt) as f64;
                let value = m * (win.2 - pt) as f64 + pv;
                sum += 0.5 * (value + pv) * ((win.2 - pt) as f64 / unit);
                if integer {
                    v_next = value;
                } else {
                    pv = value;
                }
                pt = win.2;
            }
            if let Some(o) = out.get_mut(win.0) {
                *o = Some(sum);
            }
            win = w;
            sum = 0.0;
        }
        sum += 0.5 * (v_next + pv) * ((t - pt) as f64 / unit);
        prev = Some((t, v));
    }
    if let Some((pt, _)) = prev
        && pt != win.1
        && let Some(o) = out.get_mut(win.0)
    {
        *o = Some(sum);
    }
    out
}

/// Odd-count medians are floats in 1.x, whatever the field type.
fn mid_value(v: Value) -> Value {
    match v.as_f64() {
        Some(f) => Value::Float(f),
        None => v,
    }
}

/// Rows of a multi-row function in one bucket, as (time, value, series).
pub fn finish_multi(
    func: Func,
    mut points: Vec<Pt>,
    tag_key: impl Fn(usize) -> Vec<String>,
    has_tags: bool,
) -> Vec<Pt> {
    match func {
        Func::Distinct => {
            // One row per value, ordered by first occurrence, then by value.
            points.sort_by_key(|a| a.time);
            let mut out: Vec<Pt> = Vec::new();
            for p in points {
                if !out.iter().any(|o| o.value == p.value) {
                    out.push(p);
                }
            }
            out.sort_by(|a, b| {
                a.time
                    .cmp(&b.time)
                    .then(a.value.compare(&b.value).unwrap_or(Ordering::Equal))
            });
            out
        }
        Func::Top(n) | Func::Bottom(n) => {
            let top = matches!(func, Func::Top(_));
            let better = |a: &Pt, b: &Pt| -> Ordering {
                // Best first: the larger (top) or smaller (bottom) value, then the earlier time.
                let ord = a.value.compare(&b.value).unwrap_or(Ordering::Equal);
                let ord = if top { ord.reverse() } else { ord };
                ord.then(a.time.cmp(&b.time))
            };
            if has_tags {
                // The best point per distinct tag set, then the best n of those.
                let mut best: Vec<(Vec<String>, Pt)> = Vec::new();
                for p in points {
                    let key = tag_key(p.series);
                    match best.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, cur)) => {
                            if better(&p, cur) == Ordering::Less {
                                *cur = p;
                            }
                        }
                        None => best.push((key, p)),
                    }
                }
                points = best.into_iter().map(|(_, p)| p).collect();
            }
            points.sort_by(&better);
            points.truncate(n);
            points.sort_by(|a, b| a.time.cmp(&b.time).then(better(a, b)));
            points
        }
        Func::Sample(n) => {
            // Deterministic stand-in for 1.x's random reservoir: evenly spaced points.
            points.sort_by_key(|p| p.time);
            if points.len() <= n {
                return points;
            }
            let len = points.len();
            (0..n)
                .filter_map(|i| points.get(i * len / n).cloned())
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Feeds one series' column into its buckets' accumulators.
pub(super) fn feed_column(
    b: &Buckets,
    func: Func,
    times: &[i64],
    col: &Column,
    acc: &mut [Acc],
    si: usize,
) {
    match col {
        Column::Float(vals) => feed_runs(b, times, vals.len(), acc, |a, r| {
            if let (Some(ts), Some(vs)) = (times.get(r.clone()), vals.get(r)) {
                a.push_f64_run(func, ts, vs, si);
            }
        }),
        Column::Integer(vals) => feed_runs(b, times, vals.len(), acc, |a, r| {
            if let (Some(ts), Some(vs)) = (times.get(r.clone()), vals.get(r)) {
                a.push_i64_run(func, ts, vs, si);
            }
        }),
        _ => {
            for (i, t) in times.iter().enumerate() {
                if let Some(a) = b.index(*t).and_then(|k| acc.get_mut(k)) {
                    a.push(
                        func,
                        Pt {
                            time: *t,
                            value: column_value(col, i),
                            series: si,
                        },
                    );
                }
            }
        }
    }
}

/// The number of leading `times` below `end`, for a sorted slice. Searched outward from
/// the front: a bucket holds a few dozen points, so doubling steps bound its end in a few
/// comparisons where a binary search over the whole rest of the column takes ~20.
fn gallop(times: &[i64], end: i64) -> usize {
    let mut bound = 1usize;
    while times.get(bound - 1).is_some_and(|&x| x < end) {
        bound = bound.saturating_mul(2);
    }
    let lo = bound / 2;
    let hi = bound.min(times.len());
    lo + times
        .get(lo..hi)
        .map_or(0, |w| w.partition_point(|&x| x < end))
}

/// Hands a column to its buckets run by run: one galloping search per bucket instead of
/// a division per point, and tight loops over each bucket's slice.
fn feed_runs(
    b: &Buckets,
    times: &[i64],
    len: usize,
    acc: &mut [Acc],
    mut run: impl FnMut(&mut Acc, std::ops::Range<usize>),
) {
    let n = times.len().min(len);
    let mut i = 0;
    while i < n {
        let Some(k) = times.get(i).and_then(|t| b.index(*t)) else {
            i += 1;
            continue;
        };
        let end_t = if b.interval == 0 {
            i64::MAX
        } else {
            b.start(k + 1)
        };
        let j = i + times.get(i..n).map_or(0, |rest| gallop(rest, end_t));
        if let Some(a) = acc.get_mut(k)
            && j > i
        {
            run(a, i..j);
        }
        i = j.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gallop_matches_partition_point() {
        let times: Vec<i64> = (0..200).map(|i| i * 3 - (i % 4)).collect::<Vec<_>>();
        let mut sorted = times.clone();
        sorted.sort();
        for len in [0, 1, 2, 3, 7, 64, 65, 200] {
            let s = &sorted[..len];
            for end in -2..610 {
                assert_eq!(
                    gallop(s, end),
                    s.partition_point(|&x| x < end),
                    "{len} {end}"
                );
            }
        }
    }

    fn chosen(acc: Acc) -> Option<(i64, u64)> {
        match acc {
            Acc::Sel(Some(p)) => Some((p.time, p.value.as_f64().map_or(0, f64::to_bits))),
            _ => None,
        }
    }

    /// Integer runs choose and sum exactly as integer points fed one by one, including
    /// ties (the earliest wins) and a second series joining the bucket.
    #[test]
    fn integer_runs_match_point_by_point() {
        let a: (Vec<i64>, Vec<i64>) = (vec![1, 2, 3, 4, 5, 6], vec![7, -3, 9, 9, -3, 2]);
        let b: (Vec<i64>, Vec<i64>) = (vec![0, 2, 7], vec![8, -2, 1]);
        let funcs = [
            Func::Count,
            Func::Mean,
            Func::Sum,
            Func::Min,
            Func::Max,
            Func::First,
            Func::Last,
            Func::Median,
        ];
        for func in funcs {
            let mut runs = Acc::new(func, Some(true));
            let mut points = Acc::new(func, Some(true));
            for (si, (ts, vs)) in [&a, &b].into_iter().enumerate() {
                runs.push_i64_run(func, ts, vs, si);
                for (t, v) in ts.iter().zip(vs) {
                    let p = Pt {
                        time: *t,
                        value: Value::Integer(*v),
                        series: si,
                    };
                    points.push(func, p);
                }
            }
            assert_eq!(runs.finish(func), points.finish(func), "{func:?}");
        }
    }

    /// Worked by hand, over 10-unit windows.
    #[test]
    fn integral_windows_split_area_at_edges() {
        let window = |t: i64| Some(((t / 10) as usize, t / 10 * 10, t / 10 * 10 + 10));
        let pts = [(0, 0.0), (15, 15.0)];
        assert_eq!(
            integral_windows(&pts, 4, 1, false, window),
            vec![Some(50.0), Some(62.5), None, None]
        );
        // 1.x's integer reducer: the edge value (10) and the old value (0) for 10..15.
        assert_eq!(
            integral_windows(&pts, 4, 1, true, window),
            vec![Some(50.0), Some(25.0), None, None]
        );
        // Past an empty window the gap's area goes to the next window with points, and a
        // last point on a window start gives that window nothing.
        let pts = [(0, 0.0), (5, 10.0), (30, 10.0)];
        assert_eq!(
            integral_windows(&pts, 4, 5, false, window),
            vec![Some(5.0 + 10.0), None, None, None]
        );
        // Window 2 gets 10..25 at 10 (30, across empty window 1) plus 25..30 down to the
        // value 5 interpolated at 30 (7.5); window 3: 30..35 from 5 down to 0 (2.5).
        let pts = [(0, 0.0), (5, 10.0), (25, 10.0), (35, 0.0)];
        assert_eq!(
            integral_windows(&pts, 4, 5, false, window),
            vec![Some(15.0), None, Some(30.0 + 7.5), Some(2.5)]
        );
    }

    /// The vectorised max/min of `push_f64_run` picks what point-by-point pushes pick.
    #[test]
    fn max_min_runs_match_point_by_point() {
        let cases: Vec<Vec<f64>> = vec![
            vec![1.0, 3.0, 3.0, 2.0],
            vec![-0.0, 0.0, -0.0],
            vec![0.0, -0.0],
            vec![2.0, f64::NAN, 5.0, 5.0, f64::NAN],
            vec![f64::NAN, 1.0, 2.0],
            vec![f64::INFINITY, 1.0, f64::INFINITY],
            vec![f64::NEG_INFINITY, f64::NEG_INFINITY],
            vec![7.5],
            (0..1000).map(|i| ((i * 7919) % 101) as f64 / 3.0).collect(),
        ];
        for vs in cases {
            let ts: Vec<i64> = (0..vs.len() as i64).map(|i| 100 + i * 10).collect();
            for func in [Func::Max, Func::Min] {
                let mut run = Acc::new(func, None);
                run.push_f64_run(func, &ts, &vs, 0);
                let mut one = Acc::new(func, None);
                for (t, v) in ts.iter().zip(&vs) {
                    one.push_f64(func, *t, *v, 0);
                }
                assert_eq!(chosen(run), chosen(one), "{func:?} of {vs:?}");
            }
        }
    }
}
