//! Nodes that keep per-group memory between points: sample, changeDetect, derivative,
//! stateDuration/stateCount.

use std::collections::HashMap;
use std::sync::Arc;

use common::FieldValue;

use super::model::{BatchPoint, FieldScope, Fields, Msg, SerValue, Tags, as_f64, snap, unsnap};
use super::nodes::{dur_prop, has_prop, invalid, lambda_of, str_prop, strings};
use super::{Cx, Node};
use crate::error::Error;
use crate::tick::lambda::{Lambda, LambdaState};
use crate::tick::{Arg, GraphNode, NodeKind};

/// `|sample(n or d)`: every n-th message per group, or those on a multiple of d.
pub(crate) struct Sample {
    count: i64,
    every: i64,
    counts: HashMap<String, i64>,
}

impl Sample {
    pub(crate) fn new(n: &GraphNode) -> Result<Sample, Error> {
        match n.args.first() {
            Some(Arg::Int(c)) if *c > 0 => Ok(Sample {
                count: *c,
                every: 0,
                counts: HashMap::new(),
            }),
            Some(Arg::Duration(d)) if *d > 0 => Ok(Sample {
                count: 0,
                every: *d,
                counts: HashMap::new(),
            }),
            _ => Err(invalid(
                n,
                "sample rate must be a positive count or duration",
            )),
        }
    }

    fn keep(&mut self, group: &str, time: i64) -> bool {
        if self.every > 0 {
            return time.rem_euclid(self.every) == 0;
        }
        let c = self.counts.entry(group.to_string()).or_insert(0);
        let keep = *c % self.count == 0;
        *c += 1;
        keep
    }
}

impl Node for Sample {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        let (group, time) = match &msg {
            Msg::Point(p) => (p.group.clone(), p.time),
            Msg::Batch(b) => (b.group.clone(), b.time),
        };
        if self.keep(&group, time) {
            out.push(msg);
        }
    }

    fn forget(&mut self, group: &str) {
        self.counts.remove(group);
    }

    fn cardinality(&self) -> usize {
        self.counts.len()
    }

    fn snapshot(&self) -> Option<String> {
        snap(&self.counts)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        self.counts = unsnap(state)?;
        Ok(())
    }
}

/// `|changeDetect(fields...)`.
pub(crate) struct ChangeDetect {
    fields: Vec<String>,
    previous: HashMap<String, Fields>,
}

impl ChangeDetect {
    pub(crate) fn new(n: &GraphNode) -> Result<ChangeDetect, Error> {
        Ok(ChangeDetect {
            fields: strings(&n.args),
            previous: HashMap::new(),
        })
    }

    fn changed(&mut self, group: &str, fields: &Fields) -> bool {
        let changed = match self.previous.get(group) {
            None => true,
            Some(prev) => self.fields.iter().any(|f| prev.get(f) != fields.get(f)),
        };
        if changed {
            self.previous.insert(group.to_string(), fields.clone());
        }
        changed
    }
}

impl Node for ChangeDetect {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Point(p) => {
                if self.changed(&p.group, &p.fields) {
                    out.push(Msg::Point(p));
                }
            }
            Msg::Batch(mut b) => {
                let group = b.group.clone();
                b.points.retain(|bp| self.changed(&group, &bp.fields));
                out.push(Msg::Batch(b));
            }
        }
    }

    fn forget(&mut self, group: &str) {
        self.previous.remove(group);
    }

    fn cardinality(&self) -> usize {
        self.previous.len()
    }

    fn snapshot(&self) -> Option<String> {
        let m: HashMap<&String, std::collections::BTreeMap<&String, SerValue>> = self
            .previous
            .iter()
            .map(|(g, f)| (g, f.iter().map(|(k, v)| (k, SerValue::from(v))).collect()))
            .collect();
        snap(&m)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        let m: HashMap<String, std::collections::BTreeMap<String, SerValue>> = unsnap(state)?;
        self.previous = m
            .into_iter()
            .map(|(g, f)| (g, f.into_iter().map(|(k, v)| (k, v.into())).collect()))
            .collect();
        Ok(())
    }
}

/// `|derivative(field)`.
pub(crate) struct Derivative {
    field: String,
    unit: i64,
    non_negative: bool,
    as_name: String,
    previous: HashMap<String, (i64, f64)>,
}

impl Derivative {
    pub(crate) fn new(n: &GraphNode) -> Result<Derivative, Error> {
        let field = strings(&n.args).into_iter().next().unwrap_or_default();
        Ok(Derivative {
            field: field.clone(),
            unit: dur_prop(n, "unit")
                .filter(|u| *u > 0)
                .unwrap_or(1_000_000_000),
            non_negative: has_prop(n, "nonNegative"),
            // Kapacitor's default name is the field's own (deadman relies on it).
            as_name: str_prop(n, "as").unwrap_or_else(|| field.clone()),
            previous: HashMap::new(),
        })
    }

    /// Kapacitor's rule: store the point when its value parses; emit when there is a
    /// previous value, time moved, and (nonNegative) the change is not negative.
    fn step(
        field: &str,
        unit: i64,
        non_negative: bool,
        prev: &mut Option<(i64, f64)>,
        time: i64,
        fields: &Fields,
        cx: &mut Cx<'_>,
    ) -> Option<f64> {
        let Some(f1) = fields.get(field).and_then(as_f64) else {
            cx.error(format!(
                "cannot apply derivative to field {field:?}: missing or not numeric"
            ));
            return None;
        };
        let Some((t0, f0)) = *prev else {
            *prev = Some((time, f1));
            return None;
        };
        let elapsed = (time - t0) as f64;
        if elapsed == 0.0 {
            cx.error("cannot compute derivative of two points at the same time");
            return None;
        }
        *prev = Some((time, f1));
        let diff = f1 - f0;
        if non_negative && diff < 0.0 {
            return None;
        }
        Some(diff / (elapsed / unit as f64))
    }
}

impl Node for Derivative {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Point(mut p) => {
                let mut prev = self.previous.get(&p.group).copied();
                let v = Self::step(
                    &self.field,
                    self.unit,
                    self.non_negative,
                    &mut prev,
                    p.time,
                    &p.fields,
                    cx,
                );
                if let Some(prev) = prev {
                    self.previous.insert(p.group.clone(), prev);
                }
                if let Some(v) = v {
                    p.fields.insert(self.as_name.clone(), FieldValue::Float(v));
                    out.push(Msg::Point(p));
                }
            }
            Msg::Batch(mut b) => {
                // Within a batch only: every batch starts without a previous point.
                let mut prev = None;
                let mut kept: Vec<BatchPoint> = Vec::new();
                for mut bp in std::mem::take(&mut b.points) {
                    let field = &self.field;
                    if let Some(v) = Self::step(
                        field,
                        self.unit,
                        self.non_negative,
                        &mut prev,
                        bp.time,
                        &bp.fields,
                        cx,
                    ) {
                        bp.fields.insert(self.as_name.clone(), FieldValue::Float(v));
                        kept.push(bp);
                    }
                }
                b.points = kept;
                out.push(Msg::Batch(b));
            }
        }
    }

    fn forget(&mut self, group: &str) {
        self.previous.remove(group);
    }

    fn cardinality(&self) -> usize {
        self.previous.len()
    }

    fn snapshot(&self) -> Option<String> {
        snap(&self.previous)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        self.previous = unsnap(state)?;
        Ok(())
    }
}

/// `|stateDuration(lambda)` and `|stateCount(lambda)`.
pub(crate) struct StateTrack {
    lambda: Arc<Lambda>,
    duration: bool,
    unit: i64,
    as_name: String,
    /// Per group: lambda state, and the state's start time or count.
    groups: HashMap<String, (LambdaState, Option<i64>, i64)>,
}

impl StateTrack {
    pub(crate) fn new(n: &GraphNode) -> Result<StateTrack, Error> {
        let lambda = lambda_of(n.args.first()).ok_or_else(|| invalid(n, "needs a lambda"))?;
        let duration = n.kind == NodeKind::StateDuration;
        let default_as = if duration {
            "state_duration"
        } else {
            "state_count"
        };
        Ok(StateTrack {
            lambda,
            duration,
            unit: dur_prop(n, "unit")
                .filter(|u| *u > 0)
                .unwrap_or(1_000_000_000),
            as_name: str_prop(n, "as").unwrap_or_else(|| default_as.into()),
            groups: HashMap::new(),
        })
    }

    fn track(
        &mut self,
        group: &str,
        time: i64,
        fields: &mut Fields,
        tags: &Tags,
    ) -> Result<(), String> {
        let lambda = self.lambda.clone();
        let (st, start, count) = self
            .groups
            .entry(group.to_string())
            .or_insert_with(|| (lambda.new_state(), None, 0));
        let scope = FieldScope { time, fields, tags };
        let in_state = lambda.eval_bool(&scope, st).map_err(|e| e.to_string())?;
        let v = if self.duration {
            if !in_state {
                *start = None;
                FieldValue::Float(-1.0)
            } else {
                let s = *start.get_or_insert(time);
                FieldValue::Float((time - s) as f64 / self.unit as f64)
            }
        } else if !in_state {
            *count = 0;
            FieldValue::Integer(-1)
        } else {
            *count += 1;
            FieldValue::Integer(*count)
        };
        fields.insert(self.as_name.clone(), v);
        Ok(())
    }
}

impl Node for StateTrack {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Point(mut p) => match self.track(&p.group, p.time, &mut p.fields, &p.tags) {
                Ok(()) => out.push(Msg::Point(p)),
                Err(e) => cx.error(e),
            },
            Msg::Batch(mut b) => {
                let group = b.group.clone();
                let mut kept = Vec::new();
                for mut bp in std::mem::take(&mut b.points) {
                    match self.track(&group, bp.time, &mut bp.fields, &bp.tags) {
                        Ok(()) => kept.push(bp),
                        Err(e) => cx.error(e),
                    }
                }
                b.points = kept;
                out.push(Msg::Batch(b));
            }
        }
    }

    fn forget(&mut self, group: &str) {
        self.groups.remove(group);
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }

    fn snapshot(&self) -> Option<String> {
        snap(&self.groups)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        self.groups = unsnap(state)?;
        Ok(())
    }
}
