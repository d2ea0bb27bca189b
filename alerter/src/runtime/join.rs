//! `union` and `join` (Kapacitor's `union.go` and `join.go`).
//!
//! Join pairs the messages of its parents by group and by time rounded to
//! `.tolerance()`. Per group it keeps sets of messages by rounded time, and the newest
//! time seen from each parent (its head). The oldest sets are emitted when complete,
//! or, once every parent has moved past them, incomplete (filled, or dropped without
//! `.fill()`). With `.on(tags)`, messages grouped by more tags ("specific") are paired
//! with messages grouped by just the `.on` tags, which take the specific one's tags.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use common::FieldValue;
use serde::{Deserialize, Serialize};

use super::model::{Batch, BatchPoint, Dims, Fields, Msg, Point, snap, unsnap};
use super::nodes::{dur_prop, invalid, str_prop, strings};
use super::{Cx, Node};
use crate::error::Error;
use crate::options::Options;
use crate::tick::{Arg, GraphNode};

/// `|union(nodes...)`: passes every parent's data on, optionally renamed.
pub(crate) struct Union {
    rename: Option<String>,
}

impl Union {
    pub(crate) fn new(n: &GraphNode) -> Result<Union, Error> {
        Ok(Union {
            rename: str_prop(n, "rename").filter(|s| !s.is_empty()),
        })
    }
}

impl Node for Union {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        let Some(name) = &self.rename else {
            out.push(msg);
            return;
        };
        match msg {
            Msg::Point(mut p) => {
                p.name = name.clone();
                p.regroup();
                out.push(Msg::Point(p));
            }
            Msg::Batch(mut b) => {
                b.name = name.clone();
                b.group = b.dims.group_id(&b.name, &b.tags);
                out.push(Msg::Batch(b));
            }
        }
    }
}

/// Go's `Time.Round` (no rounding for a zero tolerance).
fn round(t: i64, d: i64) -> i64 {
    if d <= 0 {
        return t;
    }
    let r = t.rem_euclid(d);
    if r + r < d { t - r } else { t - r + d }
}

#[derive(Debug, Clone, PartialEq)]
enum Fill {
    /// Inner join: incomplete sets are dropped.
    None,
    /// Outer join; the missing parent's fields are left out (tigk has no null fields).
    Null,
    Number(FieldValue),
}

/// Messages of one rounded time, one slot per parent.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JoinSet {
    time: i64,
    values: Vec<Option<Msg>>,
}

impl JoinSet {
    fn ready(&self) -> bool {
        self.values.iter().all(Option::is_some)
    }

    fn first(&self) -> Option<&Msg> {
        self.values.iter().flatten().next()
    }
}

/// Whether head `h` is after `t` (`None` is Go's zero time, before everything).
fn after(h: Option<i64>, t: Option<i64>) -> bool {
    match (h, t) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(h), Some(t)) => h > t,
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct JoinGroup {
    sets: BTreeMap<i64, VecDeque<JoinSet>>,
    head: Vec<Option<i64>>,
    oldest: Option<i64>,
    /// Sets waiting in `sets`.
    #[serde(default)]
    pending: usize,
}

impl JoinGroup {
    fn new(parents: usize) -> JoinGroup {
        JoinGroup {
            sets: BTreeMap::new(),
            head: vec![None; parents],
            oldest: None,
            pending: 0,
        }
    }

    /// Past `cap` waiting sets (a parent that never sends: Kapacitor waits for it for
    /// ever), the oldest go as if that parent had moved past them: complete or filled
    /// per `.fill()`, else dropped. Returns how many were forced out.
    fn overflow(&mut self, cap: usize, done: &mut Vec<JoinSet>) -> usize {
        let mut forced = 0;
        while self.pending > cap {
            let Some(mut q) = self.sets.first_entry() else {
                self.pending = 0;
                break;
            };
            if let Some(s) = q.get_mut().pop_front() {
                done.push(s);
                forced += 1;
            }
            self.pending = self.pending.saturating_sub(1);
            if q.get().is_empty() {
                q.remove();
            }
        }
        self.oldest = self.sets.keys().next().copied();
        forced
    }

    fn see(&mut self, src: usize, t: i64) {
        if self.oldest.is_none_or(|o| t < o) {
            self.oldest = Some(t);
        }
        if let Some(h) = self.head.get_mut(src) {
            *h = Some(t);
        }
    }

    /// Whether some parent has not moved past the oldest time yet (then only
    /// complete sets may go).
    fn only_ready(&self) -> bool {
        self.head.iter().any(|h| !after(*h, self.oldest))
    }

    fn collect(&mut self, src: usize, t: i64, msg: Msg, parents: usize, done: &mut Vec<JoinSet>) {
        self.see(src, t);
        let q = self.sets.entry(t).or_default();
        match q
            .iter_mut()
            .find(|s| s.values.get(src).is_some_and(Option::is_none))
        {
            Some(set) => set.values[src] = Some(msg),
            None => {
                let mut values = vec![None; parents];
                if let Some(v) = values.get_mut(src) {
                    *v = Some(msg);
                }
                q.push_back(JoinSet { time: t, values });
                self.pending += 1;
            }
        }
        let only = self.only_ready();
        self.emit(only, done);
    }

    fn barrier(&mut self, src: usize, t: i64, done: &mut Vec<JoinSet>) {
        self.see(src, t);
        let only = self.only_ready();
        self.emit(only, done);
    }

    /// Emits the oldest time's sets (complete ones only, or all), then, when all were
    /// allowed, goes on while every parent is past the new oldest time.
    fn emit(&mut self, mut only_ready: bool, done: &mut Vec<JoinSet>) {
        loop {
            if self.sets.is_empty() {
                self.oldest = None;
                return;
            }
            if let Some(o) = self.oldest
                && let Some(q) = self.sets.get_mut(&o)
            {
                while q.front().is_some_and(|s| s.ready() || !only_ready) {
                    if let Some(s) = q.pop_front() {
                        done.push(s);
                        self.pending = self.pending.saturating_sub(1);
                    }
                }
                if q.is_empty() {
                    self.sets.remove(&o);
                }
            }
            self.oldest = self.sets.keys().next().copied();
            if only_ready {
                return;
            }
            only_ready = self.only_ready();
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct JoinState {
    groups: BTreeMap<String, JoinGroup>,
    /// `.on()` matching: newest rounded time per parent, by match group.
    low_marks: BTreeMap<String, Vec<Option<i64>>>,
    reported: BTreeSet<usize>,
    /// Messages grouped by just the `.on` tags, waiting for specific ones.
    matches: BTreeMap<String, VecDeque<(usize, Msg)>>,
    /// Specific messages waiting for their match.
    specific: BTreeMap<String, VecDeque<(usize, Msg)>>,
}

/// A message to collect (parent, message), with the less specific one it pairs with.
type Pairing = (usize, Msg, Option<(usize, Msg)>);

/// `|join(nodes...)`.
pub(crate) struct Join {
    prefixes: Vec<String>,
    on: Vec<String>,
    tolerance: i64,
    fill: Fill,
    delimiter: String,
    stream_name: Option<String>,
    parents: usize,
    state: JoinState,
    /// Messages a group may hold waiting ([`Options::max_window_points`]).
    cap: usize,
    /// Sets and messages forced out by the cap.
    forced: i64,
}

impl Join {
    pub(crate) fn new(n: &GraphNode, opts: &Options) -> Result<Join, Error> {
        let prefixes: Vec<String> = n.props("as").flat_map(|p| strings(&p.args)).collect();
        if prefixes.len() != n.parents.len() {
            return Err(invalid(
                n,
                "number of prefixes specified by join.as() must match the number of joined streams",
            ));
        }
        let fill = match n.prop("fill").and_then(|p| p.args.first()) {
            None => Fill::None,
            Some(Arg::String(s)) if s == "none" => Fill::None,
            Some(Arg::String(s)) if s == "null" => Fill::Null,
            Some(Arg::Int(i)) => Fill::Number(FieldValue::Integer(*i)),
            Some(Arg::Float(f)) => Fill::Number(FieldValue::Float(*f)),
            Some(other) => return Err(invalid(n, format!("unexpected fill option {other:?}"))),
        };
        let tolerance = dur_prop(n, "tolerance").unwrap_or(0);
        if tolerance < 0 {
            return Err(invalid(n, "tolerance must be positive"));
        }
        Ok(Join {
            prefixes,
            on: n.props("on").flat_map(|p| strings(&p.args)).collect(),
            tolerance,
            fill,
            delimiter: str_prop(n, "delimiter").unwrap_or_else(|| ".".into()),
            stream_name: str_prop(n, "streamName").filter(|s| !s.is_empty()),
            parents: n.parents.len(),
            state: JoinState::default(),
            cap: opts.max_window_points.max(1),
            forced: 0,
        })
    }

    fn collect(&mut self, src: usize, msg: Msg, out: &mut Vec<Msg>) {
        let t = round(msg.time(), self.tolerance);
        let group = msg.group().to_string();
        let parents = self.parents;
        let mut done = Vec::new();
        let g = self
            .state
            .groups
            .entry(group)
            .or_insert_with(|| JoinGroup::new(parents));
        g.collect(src, t, msg, parents, &mut done);
        self.forced += g.overflow(self.cap, &mut done) as i64;
        for set in done {
            self.emit_set(set, out);
        }
    }

    /// `.on()` matching (Kapacitor's `matchPoints`).
    fn match_on(&mut self, src: usize, msg: Msg, out: &mut Vec<Msg>) {
        let parents = self.parents;
        self.state.reported.insert(src);
        let all_reported = self.state.reported.len() >= parents;
        let tol = self.tolerance;
        let t = round(msg.time(), tol);
        let dims = Dims {
            by_name: msg.dims().by_name,
            tags: self.on.clone(),
        };
        let gid = dims.group_id(msg.name(), &msg.group_tags());
        let marks = self
            .state
            .low_marks
            .entry(gid.clone())
            .or_insert_with(|| vec![None; parents]);
        if let Some(m) = marks.get_mut(src) {
            *m = Some(t);
        }
        let low = if all_reported {
            marks.iter().map(|m| m.unwrap_or(i64::MIN)).min()
        } else {
            None
        };
        let mut sends: Vec<Pairing> = Vec::new();
        if let Some(low) = low
            && let Some(buf) = self.state.specific.get_mut(&gid)
        {
            // Specific messages that can no longer be matched go alone.
            while buf.front().is_some_and(|(_, m)| round(m.time(), tol) < low) {
                if let Some((s, m)) = buf.pop_front() {
                    sends.push((s, m, None));
                }
            }
        }
        if msg.dims().tags.len() > self.on.len() {
            let mut matched = false;
            if let Some(buf) = self.state.matches.get_mut(&gid) {
                let mut i = 0;
                while let Some((s, m)) = buf.get(i) {
                    let mt = round(m.time(), tol);
                    if mt == t {
                        sends.push((src, msg.clone(), Some((*s, m.clone()))));
                        matched = true;
                    }
                    if low.is_none_or(|l| mt >= l) {
                        break;
                    }
                    i += 1;
                }
                if all_reported {
                    buf.drain(..i.min(buf.len()));
                }
            }
            if !matched {
                if low.is_some_and(|l| t < l) {
                    sends.push((src, msg, None));
                } else {
                    let buf = self.state.specific.entry(gid).or_default();
                    buf.push_back((src, msg));
                    // A side that never reports: the oldest go alone, as past the mark.
                    while buf.len() > self.cap {
                        if let Some((s, m)) = buf.pop_front() {
                            self.forced += 1;
                            sends.push((s, m, None));
                        }
                    }
                }
            }
        } else {
            let buf = self.state.matches.entry(gid.clone()).or_default();
            buf.push_back((src, msg.clone()));
            while buf.len() > self.cap {
                buf.pop_front();
                self.forced += 1;
            }
            if let Some(buf) = self.state.specific.get_mut(&gid) {
                while buf.front().is_some_and(|(_, m)| round(m.time(), tol) == t) {
                    if let Some((s, m)) = buf.pop_front() {
                        sends.push((s, m, Some((src, msg.clone()))));
                    }
                }
            }
        }
        for (s, specific, matched) in sends {
            let tags = specific.group_tags();
            let dims = specific.dims().clone();
            self.collect(s, specific, out);
            if let Some((ms, m)) = matched {
                // The less specific message joins the specific one's group.
                let m = match m {
                    Msg::Point(mut p) => {
                        p.tags = tags;
                        p.dims = dims;
                        p.regroup();
                        Msg::Point(p)
                    }
                    Msg::Batch(mut b) => {
                        b.tags = tags;
                        b.dims = dims;
                        b.group = b.dims.group_id(&b.name, &b.tags);
                        Msg::Batch(b)
                    }
                };
                self.collect(ms, m, out);
            }
        }
    }

    fn prefixed(&self, i: usize, k: &str) -> String {
        let p = self.prefixes.get(i).map(String::as_str).unwrap_or("");
        format!("{p}{}{k}", self.delimiter)
    }

    /// Fields for parent `i` missing from a set; `None` drops the set (inner join).
    fn fill_missing(&self, i: usize, names: &[String], fields: &mut Fields) -> Option<()> {
        match &self.fill {
            Fill::None => None,
            Fill::Null => Some(()),
            Fill::Number(v) => {
                for k in names {
                    fields.insert(self.prefixed(i, k), v.clone());
                }
                Some(())
            }
        }
    }

    fn emit_set(&self, set: JoinSet, out: &mut Vec<Msg>) {
        let Some(first) = set.first().cloned() else {
            return;
        };
        let name = self
            .stream_name
            .clone()
            .unwrap_or_else(|| first.name().to_string());
        match first {
            Msg::Point(fp) => {
                let names: Vec<String> = fp.fields.keys().cloned().collect();
                let mut fields = Fields::new();
                for (i, v) in set.values.iter().enumerate() {
                    match v {
                        Some(Msg::Point(p)) => {
                            for (k, val) in &p.fields {
                                fields.insert(self.prefixed(i, k), val.clone());
                            }
                        }
                        Some(Msg::Batch(_)) => return,
                        None => {
                            if self.fill_missing(i, &names, &mut fields).is_none() {
                                return;
                            }
                        }
                    }
                }
                let mut p = Point {
                    name,
                    db: String::new(),
                    rp: String::new(),
                    time: set.time,
                    tags: fp.dims.group_tags(&fp.tags),
                    fields,
                    dims: fp.dims.clone(),
                    group: String::new(),
                };
                p.regroup();
                out.push(Msg::Point(p));
            }
            Msg::Batch(fb) => {
                let batches: Vec<Option<&Batch>> = set
                    .values
                    .iter()
                    .map(|v| match v {
                        Some(Msg::Batch(b)) => Some(b),
                        _ => None,
                    })
                    .collect();
                let points = self.join_batches(&batches, &fb.tags);
                let group = fb.dims.group_id(&name, &fb.tags);
                out.push(Msg::Batch(Batch {
                    name,
                    group,
                    dims: fb.dims.clone(),
                    tags: fb.tags.clone(),
                    time: set.time,
                    points,
                }));
            }
        }
    }

    /// Joins batches row by row: walks all batches in time order, taking from each
    /// the rows of the earliest rounded time.
    fn join_batches(
        &self,
        batches: &[Option<&Batch>],
        tags: &super::model::Tags,
    ) -> Vec<BatchPoint> {
        let tol = self.tolerance;
        let mut idx = vec![0usize; batches.len()];
        let mut names: Option<Vec<String>> = None;
        let mut out = Vec::new();
        loop {
            // The earliest rounded time among the rows not yet taken.
            let next = batches
                .iter()
                .enumerate()
                .filter_map(|(i, b)| b.and_then(|b| b.points.get(idx[i])))
                .map(|p| round(p.time, tol))
                .min();
            let Some(t) = next else {
                return out;
            };
            let mut row: Vec<Option<&BatchPoint>> = vec![None; batches.len()];
            for (i, b) in batches.iter().enumerate() {
                if let Some(p) = b.and_then(|b| b.points.get(idx[i]))
                    && round(p.time, tol) == t
                {
                    if names.is_none() {
                        names = Some(p.fields.keys().cloned().collect());
                    }
                    row[i] = Some(p);
                    idx[i] += 1;
                }
            }
            let names_now = names.clone().unwrap_or_default();
            let mut fields = Fields::new();
            let mut keep = true;
            for (i, p) in row.iter().enumerate() {
                match p {
                    Some(p) => {
                        for (k, v) in &p.fields {
                            fields.insert(self.prefixed(i, k), v.clone());
                        }
                    }
                    None => {
                        if self.fill_missing(i, &names_now, &mut fields).is_none() {
                            keep = false;
                            break;
                        }
                    }
                }
            }
            if keep {
                out.push(BatchPoint {
                    time: t,
                    fields,
                    tags: tags.clone(),
                });
            }
        }
    }
}

impl Node for Join {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        let src = cx.src;
        let forced = self.forced;
        if self.on.is_empty() {
            self.collect(src, msg, out);
        } else {
            self.match_on(src, msg, out);
        }
        if self.forced > forced {
            cx.error(format!(
                "join buffer full ({} messages): the oldest went without a match",
                self.cap
            ));
        }
    }

    fn stats(&self) -> Vec<(&'static str, i64)> {
        vec![("buffer_overflows", self.forced)]
    }

    fn barrier(&mut self, group: &str, time: i64, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        let t = round(time, self.tolerance);
        let parents = self.parents;
        let mut done = Vec::new();
        self.state
            .groups
            .entry(group.to_string())
            .or_insert_with(|| JoinGroup::new(parents))
            .barrier(cx.src, t, &mut done);
        for set in done {
            self.emit_set(set, out);
        }
    }

    fn forget(&mut self, group: &str) {
        self.state.groups.remove(group);
        self.state.matches.remove(group);
        self.state.specific.remove(group);
        self.state.low_marks.remove(group);
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
