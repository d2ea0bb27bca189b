//! Nodes driven by the clock rather than by data ([`super::Task::tick`]):
//! `stats` (the source under `deadman`) and `barrier`.
//!
//! Kapacitor runs both on the wall clock, and so does the engine. Offline test runs
//! drive the clock with data time (each point first advances it to its own time), so
//! that their output is deterministic; see `alerter/COMPATIBILITY.md`.

use std::collections::BTreeMap;

use common::FieldValue;
use serde::{Deserialize, Serialize};

use super::model::{Batch, Dims, Msg, Point, Tags, snap, unsnap};
use super::nodes::{dur_prop, has_prop, invalid};
use super::{Cx, Node, Signal};
use crate::error::Error;
use crate::tick::{Arg, GraphNode};

/// Go's `Time.Round` for a positive duration: halfway rounds up.
fn round(t: i64, d: i64) -> i64 {
    if d <= 0 {
        return t;
    }
    let r = t.rem_euclid(d);
    if r + r < d { t - r } else { t - r + d }
}

/// Walks the due instants `next, next + every, ...` up to `now`, calling `f` for each
/// and leaving `next` after `now`. With `skip_missed`, instants more than one period
/// behind are skipped (one emission for a long pause). At most `MAX_CATCH_UP` are
/// emitted per call, so a far jump of the clock cannot stall a task.
fn due(next: &mut i64, every: i64, now: i64, skip_missed: bool, mut f: impl FnMut(i64) -> bool) {
    const MAX_CATCH_UP: i64 = 100_000;
    if every <= 0 {
        return;
    }
    if skip_missed && now - *next >= every {
        *next += (now - *next) / every * every;
    }
    let mut n = 0;
    while *next <= now {
        if n >= MAX_CATCH_UP {
            *next += (now - *next) / every * every + every;
            return;
        }
        let t = *next;
        *next += every;
        n += 1;
        if !f(t) {
            return;
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct WatchedGroup {
    /// Messages the watched node sent on its first edge for this group.
    emitted: i64,
    tags: Tags,
    dims: Dims,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StatsState {
    next: Option<i64>,
    groups: BTreeMap<String, WatchedGroup>,
}

/// `stats(interval)`: every interval, one point per group of the watched node with
/// `emitted`, the number of messages it has sent on its first edge so far (Kapacitor's
/// `nodeStatsByGroup`; a nil group with 0 before any data).
pub(crate) struct Stats {
    interval: i64,
    align: bool,
    state: StatsState,
}

impl Stats {
    pub(crate) fn new(n: &GraphNode) -> Result<Stats, Error> {
        let interval = match n.args.first() {
            Some(Arg::Duration(d)) if *d > 0 => *d,
            _ => return Err(invalid(n, "stats interval must be a positive duration")),
        };
        Ok(Stats {
            interval,
            align: has_prop(n, "align"),
            state: StatsState::default(),
        })
    }

    fn point(&self, time: i64, group: &str, g: &WatchedGroup) -> Msg {
        let mut fields = BTreeMap::new();
        fields.insert("emitted".to_string(), FieldValue::Integer(g.emitted));
        Msg::Point(Point {
            name: "stats".into(),
            db: String::new(),
            rp: String::new(),
            time,
            tags: g.tags.clone(),
            fields,
            dims: g.dims.clone(),
            group: group.to_string(),
        })
    }
}

impl Node for Stats {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        out.push(msg);
    }

    fn observe(&mut self, msg: &Msg) {
        let g = self
            .state
            .groups
            .entry(msg.group().to_string())
            .or_insert_with(|| match msg {
                Msg::Point(p) => WatchedGroup {
                    emitted: 0,
                    tags: p.dims.group_tags(&p.tags),
                    dims: p.dims.clone(),
                },
                Msg::Batch(b) => WatchedGroup {
                    emitted: 0,
                    tags: b.tags.clone(),
                    dims: b.dims.clone(),
                },
            });
        g.emitted += 1;
    }

    fn forget(&mut self, group: &str) {
        self.state.groups.remove(group);
    }

    fn clocked(&self) -> bool {
        true
    }

    fn tick(&mut self, now: i64, skip_missed: bool, _cx: &mut Cx<'_>, out: &mut Vec<Signal>) {
        let interval = self.interval;
        let Some(mut next) = self.state.next else {
            // The clock starts: the first emission is one interval later, or at the
            // next multiple of the interval when aligned.
            self.state.next = Some(if self.align {
                now - now.rem_euclid(interval) + interval
            } else {
                now + interval
            });
            return;
        };
        let mut times = Vec::new();
        due(&mut next, interval, now, skip_missed, |t| {
            times.push(t);
            true
        });
        self.state.next = Some(next);
        for t in times {
            let t = if self.align { round(t, interval) } else { t };
            if self.state.groups.is_empty() {
                out.push(Signal::Msg(self.point(t, "", &WatchedGroup::default())));
            }
            for (group, g) in &self.state.groups {
                out.push(Signal::Msg(self.point(t, group, g)));
            }
        }
    }

    fn cardinality(&self) -> usize {
        self.state.groups.len()
    }

    fn snapshot(&self) -> Option<String> {
        snap(&self.state)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        self.state = unsnap(state)?;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BarrierGroup {
    /// The last barrier's time: older data is dropped.
    last: Option<i64>,
    /// Next barrier instant on the clock.
    next: i64,
}

/// `barrier()`: per group, a barrier when the group was idle for `.idle(d)` (timer
/// reset by each message) or every `.period(d)` since its first message; with
/// `.delete(TRUE)` the barrier is followed by a deletion of the group, downstream and
/// here. Data older than the last barrier is dropped, as in Kapacitor.
pub(crate) struct Barrier {
    idle: i64,
    period: i64,
    delete: bool,
    /// The clock as of the last tick (data arrives between ticks).
    now: Option<i64>,
    groups: BTreeMap<String, BarrierGroup>,
}

impl Barrier {
    pub(crate) fn new(n: &GraphNode) -> Result<Barrier, Error> {
        let idle = dur_prop(n, "idle").unwrap_or(0);
        let period = dur_prop(n, "period").unwrap_or(0);
        if idle < 0 || period < 0 || (idle == 0 && period == 0) {
            return Err(invalid(
                n,
                "barrier node must have either a non zero idle or a non zero period",
            ));
        }
        let delete = matches!(
            n.prop("delete").and_then(|p| p.args.first()),
            Some(Arg::Bool(true))
        );
        Ok(Barrier {
            idle,
            period,
            delete,
            now: None,
            groups: BTreeMap::new(),
        })
    }

    fn every(&self) -> i64 {
        if self.idle > 0 {
            self.idle
        } else {
            self.period
        }
    }

    /// Registers a message of `group` at data time `time`; false when it is older than
    /// the group's last barrier.
    fn admit(&mut self, group: &str, time: i64) -> bool {
        let now = self.now.unwrap_or(time);
        let every = self.every();
        let idle = self.idle > 0;
        let g = self
            .groups
            .entry(group.to_string())
            .or_insert_with(|| BarrierGroup {
                last: None,
                next: now + every,
            });
        if g.last.is_some_and(|l| time < l) {
            return false;
        }
        if idle {
            g.next = now + every;
        }
        true
    }
}

impl Node for Barrier {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Point(p) => {
                if self.admit(&p.group, p.time) {
                    out.push(Msg::Point(p));
                }
            }
            Msg::Batch(b) => {
                let Batch { group, .. } = &b;
                let group = group.clone();
                let mut b = b;
                let now = self.now;
                let every = self.every();
                let last = self.groups.get(&group).and_then(|g| g.last);
                if let Some(l) = last {
                    b.points.retain(|p| p.time >= l);
                }
                let g = self.groups.entry(group).or_insert_with(|| BarrierGroup {
                    last: None,
                    next: now.unwrap_or(b.time) + every,
                });
                if self.idle > 0 {
                    g.next = now.unwrap_or(b.time) + every;
                }
                out.push(Msg::Batch(b));
            }
        }
    }

    fn forget(&mut self, group: &str) {
        self.groups.remove(group);
    }

    fn clocked(&self) -> bool {
        true
    }

    fn tick(&mut self, now: i64, skip_missed: bool, _cx: &mut Cx<'_>, out: &mut Vec<Signal>) {
        self.now = Some(now);
        let every = self.every();
        let mut gone = Vec::new();
        for (group, g) in self.groups.iter_mut() {
            let delete = self.delete;
            due(&mut g.next, every, now, skip_missed, |t| {
                g.last = Some(t);
                out.push(Signal::Barrier {
                    group: group.clone(),
                    time: t,
                });
                if delete {
                    out.push(Signal::Delete {
                        group: group.clone(),
                    });
                    gone.push(group.clone());
                    return false;
                }
                true
            });
        }
        for g in gone {
            self.groups.remove(&g);
        }
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }

    fn snapshot(&self) -> Option<String> {
        snap(&(self.now, &self.groups))
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        let (now, groups) = unsnap(state)?;
        self.now = now;
        self.groups = groups;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_instants() {
        let mut next = 10;
        let mut got = Vec::new();
        due(&mut next, 10, 35, false, |t| {
            got.push(t);
            true
        });
        assert_eq!((got, next), (vec![10, 20, 30], 40));
        let mut next = 10;
        let mut got = Vec::new();
        due(&mut next, 10, 35, true, |t| {
            got.push(t);
            true
        });
        assert_eq!((got, next), (vec![30], 40), "a long pause emits once");
        let mut next = 10;
        due(&mut next, 10, 9, false, |_| panic!("not due"));
        assert_eq!(next, 10);
    }

    #[test]
    fn rounding_is_go_s() {
        assert_eq!(round(14, 10), 10);
        assert_eq!(round(15, 10), 20);
        assert_eq!(round(-15, 10), -10);
    }
}
