//! Operations on typed columns shared by the head, flushes, compaction and reads.

use super::batch::Value;
use crate::codec::Column;

impl Column {
    /// An empty column of the value's type.
    pub fn empty_like(value: &Value) -> Column {
        match value {
            Value::Float(_) => Column::Float(Vec::new()),
            Value::Integer(_) => Column::Integer(Vec::new()),
            Value::Unsigned(_) => Column::Unsigned(Vec::new()),
            Value::String(_) => Column::String(Vec::new()),
            Value::Boolean(_) => Column::Boolean(Vec::new()),
        }
    }

    /// Appends a value; returns false (and appends nothing) when its type differs.
    pub fn push(&mut self, value: &Value) -> bool {
        match (self, value) {
            (Column::Float(c), Value::Float(v)) => c.push(*v),
            (Column::Integer(c), Value::Integer(v)) => c.push(*v),
            (Column::Unsigned(c), Value::Unsigned(v)) => c.push(*v),
            (Column::String(c), Value::String(v)) => c.push(v.clone()),
            (Column::Boolean(c), Value::Boolean(v)) => c.push(*v),
            _ => return false,
        }
        true
    }

    /// Appends another column of the same type; returns false when the types differ.
    pub fn extend_from(&mut self, other: &Column) -> bool {
        match (self, other) {
            (Column::Float(a), Column::Float(b)) => a.extend_from_slice(b),
            (Column::Integer(a), Column::Integer(b)) => a.extend_from_slice(b),
            (Column::Unsigned(a), Column::Unsigned(b)) => a.extend_from_slice(b),
            (Column::String(a), Column::String(b)) => a.extend_from_slice(b),
            (Column::Boolean(a), Column::Boolean(b)) => a.extend_from_slice(b),
            _ => return false,
        }
        true
    }

    /// The values at `idx`, in that order.
    pub fn gather(&self, idx: &[usize]) -> Column {
        fn pick<T: Clone>(v: &[T], idx: &[usize]) -> Vec<T> {
            idx.iter().filter_map(|&i| v.get(i).cloned()).collect()
        }
        match self {
            Column::Float(v) => Column::Float(pick(v, idx)),
            Column::Integer(v) => Column::Integer(pick(v, idx)),
            Column::Unsigned(v) => Column::Unsigned(pick(v, idx)),
            Column::String(v) => Column::String(pick(v, idx)),
            Column::Boolean(v) => Column::Boolean(pick(v, idx)),
        }
    }

    /// The value at `i` as a batch value.
    pub fn value(&self, i: usize) -> Option<Value> {
        Some(match self {
            Column::Float(v) => Value::Float(*v.get(i)?),
            Column::Integer(v) => Value::Integer(*v.get(i)?),
            Column::Unsigned(v) => Value::Unsigned(*v.get(i)?),
            Column::String(v) => Value::String(v.get(i)?.clone()),
            Column::Boolean(v) => Value::Boolean(*v.get(i)?),
        })
    }
}

/// Sorts by time and keeps, for each timestamp, the value appended last: 1.x's rule that
/// a duplicate point's fields overwrite the earlier ones. Callers append older data first.
/// Points outside `[start, end]` are dropped on the way.
pub fn normalize(times: &[i64], values: &Column, start: i64, end: i64) -> (Vec<i64>, Column) {
    let already_sorted = times.windows(2).all(|w| w[0] < w[1]);
    if already_sorted {
        let lo = times.partition_point(|&t| t < start);
        let hi = times.partition_point(|&t| t <= end);
        if lo == 0 && hi == times.len() {
            return (times.to_vec(), values.clone());
        }
        let idx: Vec<usize> = (lo..hi).collect();
        return (times[lo..hi].to_vec(), values.gather(&idx));
    }
    let mut idx: Vec<usize> = (0..times.len())
        .filter(|&i| times[i] >= start && times[i] <= end)
        .collect();
    // Stable: among equal times the later-appended index stays later, and we keep it.
    idx.sort_by_key(|&i| times[i]);
    let mut keep: Vec<usize> = Vec::with_capacity(idx.len());
    for i in idx {
        match keep.last_mut() {
            Some(last) if times[*last] == times[i] => *last = i,
            _ => keep.push(i),
        }
    }
    let t = keep.iter().map(|&i| times[i]).collect();
    (t, values.gather(&keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_sorts_and_last_write_wins() {
        let times = [30, 10, 20, 10, 40];
        let values = Column::Float(vec![3.0, 1.0, 2.0, 1.5, 4.0]);
        let (t, v) = normalize(&times, &values, 10, 30);
        assert_eq!(t, vec![10, 20, 30]);
        assert_eq!(v, Column::Float(vec![1.5, 2.0, 3.0]));
    }

    #[test]
    fn normalize_sorted_input_is_sliced() {
        let (t, v) = normalize(&[1, 2, 3, 4], &Column::Integer(vec![1, 2, 3, 4]), 2, 3);
        assert_eq!((t, v), (vec![2, 3], Column::Integer(vec![2, 3])));
    }
}
