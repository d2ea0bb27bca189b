//! `|window()`: per-group buffers of points emitted as batches, by data time or count
//! (Kapacitor's `window.go`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::model::{Batch, BatchPoint, Dims, Msg, Point, Tags};
use super::nodes::{dur_prop, has_prop, int_prop};
use super::{Cx, Node};
use crate::error::Error;
use crate::options::Options;
use crate::tick::GraphNode;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Group {
    name: String,
    dims: Dims,
    tags: Tags,
    /// Next emission time (0 before the first point) for time windows.
    next: Option<i64>,
    /// Buffer, sorted by time.
    buf: Vec<BatchPoint>,
    /// Points since the last emission (count windows).
    since_emit: i64,
}

/// The window node.
pub(crate) struct Window {
    period: i64,
    every: i64,
    align: bool,
    fill_period: bool,
    period_count: i64,
    every_count: i64,
    /// Points a group's buffer may hold ([`Options::max_window_points`]).
    cap: usize,
    /// Points dropped because a buffer was full.
    dropped: i64,
    groups: HashMap<String, Group>,
}

fn truncate(t: i64, d: i64) -> i64 {
    if d <= 0 { t } else { t - t.rem_euclid(d) }
}

impl Window {
    pub(crate) fn new(n: &GraphNode, opts: &Options) -> Result<Window, Error> {
        let period = dur_prop(n, "period").unwrap_or(0);
        let every = dur_prop(n, "every").unwrap_or(0);
        let period_count = int_prop(n, "periodCount").unwrap_or(0);
        let every_count = int_prop(n, "everyCount").unwrap_or(0);
        let by_time = period > 0 || every > 0;
        let by_count = period_count > 0 || every_count > 0;
        if by_time && by_count {
            return Err(Error::Invalid(format!(
                "{}: can only use one of time-based or count-based windows",
                n.name()
            )));
        }
        if !by_time && !by_count {
            return Err(Error::Invalid(format!(
                "{}: window must have either a period or a periodCount",
                n.name()
            )));
        }
        if by_count && period_count <= 0 {
            return Err(Error::Invalid(format!(
                "{}: periodCount must be positive",
                n.name()
            )));
        }
        let cap = opts.max_window_points.max(1);
        if period_count > cap as i64 || every_count > cap as i64 {
            return Err(Error::Invalid(format!(
                "{}: a window of more than {cap} points is refused (max_window_points)",
                n.name()
            )));
        }
        Ok(Window {
            // A window with only `every` is as long as it is frequent.
            period: if period > 0 { period } else { every },
            every,
            align: has_prop(n, "align"),
            fill_period: has_prop(n, "fillPeriod"),
            period_count,
            every_count: if every_count > 0 {
                every_count
            } else {
                period_count
            },
            cap,
            dropped: 0,
            groups: HashMap::new(),
        })
    }

    fn batch(g: &Group, group: &str, time: i64, points: Vec<BatchPoint>) -> Msg {
        Msg::Batch(Batch {
            name: g.name.clone(),
            group: group.to_string(),
            dims: g.dims.clone(),
            tags: g.tags.clone(),
            time,
            points,
        })
    }

    fn insert(buf: &mut Vec<BatchPoint>, bp: BatchPoint) {
        // Late points go where they belong; equal times keep arrival order.
        let at = buf.partition_point(|q| q.time <= bp.time);
        buf.insert(at, bp);
    }

    /// Inserts into a time window's buffer; a full buffer drops its oldest point, so a
    /// window longer than the data rate allows (`.period(52w)`) holds the newest
    /// `cap` points rather than growing without bound.
    fn insert_capped(&mut self, buf: &mut Vec<BatchPoint>, bp: BatchPoint, cx: &mut Cx<'_>) {
        Self::insert(buf, bp);
        if buf.len() > self.cap {
            let excess = buf.len() - self.cap;
            buf.drain(..excess);
            self.dropped += excess as i64;
            cx.error(format!(
                "window buffer full ({} points): oldest point dropped",
                self.cap
            ));
        }
    }

    fn by_time(
        &mut self,
        g: &mut Group,
        group: &str,
        p: Point,
        cx: &mut Cx<'_>,
        out: &mut Vec<Msg>,
    ) {
        let bp = BatchPoint {
            time: p.time,
            fields: p.fields,
            tags: p.tags,
        };
        if self.every == 0 {
            // Emit on every point: the right-closed window (t - period, t].
            let t = bp.time;
            self.insert_capped(&mut g.buf, bp, cx);
            let min = t - self.period;
            g.buf.retain(|q| q.time > min);
            let points = g.buf.clone();
            out.push(Self::batch(g, group, t, points));
            return;
        }
        let next = match g.next {
            Some(n) => n,
            None => {
                let first = if self.fill_period {
                    let full = bp.time + self.period;
                    if self.align {
                        let t = truncate(full, self.every);
                        if t < full { t + self.every } else { t }
                    } else {
                        full
                    }
                } else {
                    let t = bp.time + self.every;
                    if self.align {
                        truncate(t, self.every)
                    } else {
                        t
                    }
                };
                g.next = Some(first);
                first
            }
        };
        if bp.time >= next {
            let points = self.emit(g, next, bp.time);
            out.push(Self::batch(g, group, next, points));
        }
        self.insert_capped(&mut g.buf, bp, cx);
    }

    /// Closes the window ending at `next` (reached at `time`): sets the next window
    /// end and returns the points of `[next - period, next)`. Points that no later
    /// window reaches (before the next end minus the period; ends only grow) are moved
    /// out rather than copied and kept: a tumbling window then holds one window of
    /// points, not two, and copies none.
    fn emit(&self, g: &mut Group, next: i64, time: i64) -> Vec<BatchPoint> {
        let t = time + self.every;
        let after = if self.align {
            truncate(t, self.every)
        } else {
            t
        };
        g.next = Some(after);
        let (min, keep_from) = (next - self.period, after - self.period);
        let mut points = Vec::new();
        let mut kept = Vec::with_capacity(g.buf.len());
        for q in g.buf.drain(..) {
            if q.time < min {
                // Before this window: no window reaches it any more.
            } else if q.time >= next {
                kept.push(q);
            } else if q.time < keep_from {
                points.push(q);
            } else {
                points.push(q.clone());
                kept.push(q);
            }
        }
        g.buf = kept;
        points
    }

    fn by_count(&self, g: &mut Group, group: &str, p: Point, out: &mut Vec<Msg>) {
        let time = p.time;
        g.buf.push(BatchPoint {
            time: p.time,
            fields: p.fields,
            tags: p.tags,
        });
        let size = self.period_count as usize;
        if g.buf.len() > size {
            let excess = g.buf.len() - size;
            g.buf.drain(..excess);
        }
        g.since_emit += 1;
        if g.since_emit >= self.every_count && (!self.fill_period || g.buf.len() == size) {
            g.since_emit = 0;
            let points = g.buf.clone();
            out.push(Self::batch(g, group, time, points));
        }
    }
}

impl Node for Window {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        let Msg::Point(p) = msg else {
            return;
        };
        let group_id = p.group.clone();
        let mut g = self.groups.remove(&group_id).unwrap_or_else(|| Group {
            name: p.name.clone(),
            dims: p.dims.clone(),
            tags: p.dims.group_tags(&p.tags),
            next: None,
            buf: Vec::new(),
            since_emit: 0,
        });
        if self.period_count > 0 {
            self.by_count(&mut g, &group_id, p, out);
        } else {
            self.by_time(&mut g, &group_id, p, cx, out);
        }
        self.groups.insert(group_id, g);
    }

    fn barrier(&mut self, group: &str, time: i64, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        // A barrier closes a time window as a point at its time would, without adding
        // to it: so windows close although their group's data stopped.
        if self.period_count > 0 || self.every == 0 {
            return;
        }
        let Some(next) = self.groups.get(group).and_then(|g| g.next) else {
            return;
        };
        if time < next {
            return;
        }
        let Some(mut g) = self.groups.remove(group) else {
            return;
        };
        let points = self.emit(&mut g, next, time);
        out.push(Self::batch(&g, group, next, points));
        self.groups.insert(group.to_string(), g);
    }

    fn forget(&mut self, group: &str) {
        self.groups.remove(group);
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }

    fn stats(&self) -> Vec<(&'static str, i64)> {
        vec![("points_dropped", self.dropped)]
    }

    fn snapshot(&self) -> Option<String> {
        serde_json::to_string(&self.groups).ok()
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        self.groups = serde_json::from_value(state).map_err(|e| Error::State(e.to_string()))?;
        Ok(())
    }
}
