//! Filtering, grouping and per-point nodes: from, where, groupBy, eval, default,
//! delete, shift; and the property helpers the other node modules share.

use std::collections::HashMap;
use std::sync::Arc;

use common::FieldValue;

use super::model::{Dims, FieldScope, Fields, Msg, Tags, snap, unsnap, value_to_field};
use super::{Cx, Node};
use crate::error::Error;
use crate::tick::lambda::{Lambda, LambdaState, Value};
use crate::tick::{Arg, GraphNode};

// ---- property helpers, shared with the other node modules ----

pub(crate) fn str_prop(n: &GraphNode, name: &str) -> Option<String> {
    match n.prop(name)?.args.first()? {
        Arg::String(s) => Some(s.clone()),
        _ => None,
    }
}

pub(crate) fn dur_prop(n: &GraphNode, name: &str) -> Option<i64> {
    match n.prop(name)?.args.first()? {
        Arg::Duration(d) => Some(*d),
        _ => None,
    }
}

pub(crate) fn int_prop(n: &GraphNode, name: &str) -> Option<i64> {
    match n.prop(name)?.args.first()? {
        Arg::Int(i) => Some(*i),
        _ => None,
    }
}

pub(crate) fn has_prop(n: &GraphNode, name: &str) -> bool {
    n.prop(name).is_some()
}

pub(crate) fn lambda_of(a: Option<&Arg>) -> Option<Arc<Lambda>> {
    match a? {
        Arg::Lambda(l) => Some(l.compiled.clone()),
        _ => None,
    }
}

pub(crate) fn strings(args: &[Arg]) -> Vec<String> {
    args.iter()
        .filter_map(|a| match a {
            Arg::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn invalid(n: &GraphNode, msg: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: {msg}", n.name()))
}

/// A group-by specification: tag names, or `*` (all tags) minus exclusions.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupSpec {
    star: bool,
    tags: Vec<String>,
    exclude: Vec<String>,
    by_name: bool,
}

impl GroupSpec {
    pub(crate) fn from_args(args: &[Arg], by_name: bool, exclude: Vec<String>) -> GroupSpec {
        let star = args.iter().any(|a| matches!(a, Arg::Star));
        let mut tags = strings(args);
        tags.sort();
        tags.dedup();
        GroupSpec {
            star,
            tags,
            exclude,
            by_name,
        }
    }

    pub(crate) fn dims(&self, tags: &Tags) -> Dims {
        let names = if self.star {
            tags.keys()
                .filter(|k| !self.exclude.contains(k))
                .cloned()
                .collect()
        } else {
            self.tags.clone()
        };
        Dims {
            by_name: self.by_name,
            tags: names,
        }
    }
}

/// Per-group lambda state for a node's lambdas.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct GroupLambdas {
    states: HashMap<String, Vec<LambdaState>>,
}

impl GroupLambdas {
    pub(crate) fn get(&mut self, group: &str, lambdas: &[Arc<Lambda>]) -> &mut Vec<LambdaState> {
        self.states
            .entry(group.to_string())
            .or_insert_with(|| lambdas.iter().map(|l| l.new_state()).collect())
    }

    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }

    pub(crate) fn remove(&mut self, group: &str) {
        self.states.remove(group);
    }
}

/// Passes everything through (sources, query, noop).
pub(crate) struct Pass;

impl Node for Pass {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        out.push(msg);
    }
}

/// `|from()`.
pub(crate) struct From {
    database: Option<String>,
    rp: Option<String>,
    measurement: Option<String>,
    filter: Option<Arc<Lambda>>,
    state: LambdaState,
    group: GroupSpec,
    truncate: i64,
    round: i64,
}

impl From {
    pub(crate) fn new(n: &GraphNode) -> Result<From, Error> {
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let filter = n.prop("where").and_then(|p| lambda_of(p.args.first()));
        let args: Vec<Arg> = n.props("groupBy").flat_map(|p| p.args.clone()).collect();
        Ok(From {
            database: nonempty(str_prop(n, "database")),
            rp: nonempty(str_prop(n, "retentionPolicy")),
            measurement: nonempty(str_prop(n, "measurement")),
            state: filter.as_ref().map(|l| l.new_state()).unwrap_or_default(),
            filter,
            group: GroupSpec::from_args(&args, has_prop(n, "groupByMeasurement"), Vec::new()),
            truncate: dur_prop(n, "truncate").unwrap_or(0),
            round: dur_prop(n, "round").unwrap_or(0),
        })
    }
}

fn truncate(t: i64, d: i64) -> i64 {
    if d <= 0 { t } else { t - t.rem_euclid(d) }
}

/// Go's `Time.Round`: halfway rounds up.
fn round(t: i64, d: i64) -> i64 {
    if d <= 0 {
        return t;
    }
    let r = t.rem_euclid(d);
    if r + r < d { t - r } else { t - r + d }
}

impl Node for From {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        let Msg::Point(mut p) = msg else {
            return;
        };
        let keep = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        if !keep(&self.database, &p.db)
            || !keep(&self.rp, &p.rp)
            || !keep(&self.measurement, &p.name)
        {
            return;
        }
        if self.truncate > 0 {
            p.time = truncate(p.time, self.truncate);
        } else if self.round > 0 {
            p.time = round(p.time, self.round);
        }
        if let Some(f) = &self.filter {
            let scope = FieldScope {
                time: p.time,
                fields: &p.fields,
                tags: &p.tags,
            };
            match f.eval_bool(&scope, &mut self.state) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => return cx.error(e),
            }
        }
        p.dims = self.group.dims(&p.tags);
        p.regroup();
        out.push(Msg::Point(p));
    }

    fn snapshot(&self) -> Option<String> {
        snap(&self.state)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        self.state = unsnap(state)?;
        Ok(())
    }
}

/// `|where(lambda)`.
pub(crate) struct Where {
    lambda: Arc<Lambda>,
    states: GroupLambdas,
}

impl Where {
    pub(crate) fn new(n: &GraphNode) -> Result<Where, Error> {
        let lambda = lambda_of(n.args.first()).ok_or_else(|| invalid(n, "needs a lambda"))?;
        Ok(Where {
            lambda,
            states: GroupLambdas::default(),
        })
    }

    fn keep(&mut self, group: &str, time: i64, f: &Fields, t: &Tags, cx: &mut Cx<'_>) -> bool {
        let st = &mut self.states.get(group, std::slice::from_ref(&self.lambda))[0];
        let scope = FieldScope {
            time,
            fields: f,
            tags: t,
        };
        match self.lambda.eval_bool(&scope, st) {
            Ok(b) => b,
            Err(e) => {
                cx.error(e);
                false
            }
        }
    }
}

impl Node for Where {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Point(p) => {
                if self.keep(&p.group, p.time, &p.fields, &p.tags, cx) {
                    out.push(Msg::Point(p));
                }
            }
            Msg::Batch(mut b) => {
                let group = b.group.clone();
                b.points
                    .retain(|bp| self.keep(&group, bp.time, &bp.fields, &bp.tags, cx));
                out.push(Msg::Batch(b));
            }
        }
    }

    fn forget(&mut self, group: &str) {
        self.states.remove(group);
    }

    fn cardinality(&self) -> usize {
        self.states.len()
    }

    fn snapshot(&self) -> Option<String> {
        snap(&self.states)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        self.states = unsnap(state)?;
        Ok(())
    }
}

/// `|groupBy(...)`.
pub(crate) struct GroupBy {
    spec: GroupSpec,
}

impl GroupBy {
    pub(crate) fn new(n: &GraphNode) -> Result<GroupBy, Error> {
        let exclude: Vec<String> = n.props("exclude").flat_map(|p| strings(&p.args)).collect();
        Ok(GroupBy {
            spec: GroupSpec::from_args(&n.args, has_prop(n, "byMeasurement"), exclude),
        })
    }
}

impl Node for GroupBy {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Point(mut p) => {
                p.dims = self.spec.dims(&p.tags);
                p.regroup();
                out.push(Msg::Point(p));
            }
            Msg::Batch(b) => {
                // Regrouping a batch splits its rows by their new group, in first-seen order.
                let mut order: Vec<String> = Vec::new();
                let mut groups: HashMap<String, super::model::Batch> = HashMap::new();
                for bp in b.points {
                    let dims = self.spec.dims(&bp.tags);
                    let gid = dims.group_id(&b.name, &bp.tags);
                    let entry = groups.entry(gid.clone()).or_insert_with(|| {
                        order.push(gid.clone());
                        super::model::Batch {
                            name: b.name.clone(),
                            group: gid.clone(),
                            tags: dims.group_tags(&bp.tags),
                            dims,
                            time: b.time,
                            points: Vec::new(),
                        }
                    });
                    entry.points.push(bp);
                }
                for g in order {
                    if let Some(nb) = groups.remove(&g) {
                        out.push(Msg::Batch(nb));
                    }
                }
            }
        }
    }
}

/// `|eval(lambdas...)`.
pub(crate) struct Eval {
    lambdas: Vec<Arc<Lambda>>,
    names: Vec<String>,
    tags: Vec<String>,
    keep: Option<Vec<String>>,
    states: GroupLambdas,
}

impl Eval {
    pub(crate) fn new(n: &GraphNode) -> Result<Eval, Error> {
        let lambdas: Vec<Arc<Lambda>> = n.args.iter().filter_map(|a| lambda_of(Some(a))).collect();
        let names: Vec<String> = n.props("as").flat_map(|p| strings(&p.args)).collect();
        if names.len() != lambdas.len() {
            return Err(invalid(
                n,
                "must provide one name per expression via the 'As' property",
            ));
        }
        let keep = n
            .prop("keep")
            .map(|_| n.props("keep").flat_map(|p| strings(&p.args)).collect());
        Ok(Eval {
            lambdas,
            names,
            tags: n.props("tags").flat_map(|p| strings(&p.args)).collect(),
            keep,
            states: GroupLambdas::default(),
        })
    }

    fn eval(
        &mut self,
        group: &str,
        time: i64,
        fields: &mut Fields,
        tags: &mut Tags,
    ) -> Result<(), String> {
        let states = self.states.get(group, &self.lambdas);
        for (i, l) in self.lambdas.iter().enumerate() {
            let scope = FieldScope { time, fields, tags };
            let st = &mut states[i];
            let v = l.eval(&scope, st).map_err(|e| e.to_string())?;
            let name = &self.names[i];
            if self.tags.contains(name) {
                match v {
                    Value::String(s) => {
                        tags.insert(name.clone(), s);
                    }
                    other => {
                        return Err(format!(
                            "cannot convert {} to string for tag {name}",
                            other.go_type()
                        ));
                    }
                }
            } else {
                fields.insert(name.clone(), value_to_field(v).map_err(|e| e.to_string())?);
            }
        }
        match &self.keep {
            Some(list) if !list.is_empty() => {
                let mut kept = Fields::new();
                for f in list {
                    match fields.get(f) {
                        Some(v) => {
                            kept.insert(f.clone(), v.clone());
                        }
                        None if tags.contains_key(f) => {}
                        None => {
                            return Err(format!("cannot keep field {f:?}, field does not exist"));
                        }
                    }
                }
                *fields = kept;
            }
            Some(_) => {}
            None => {
                fields.retain(|k, _| self.names.contains(k) && !self.tags.contains(k));
            }
        }
        Ok(())
    }
}

impl Node for Eval {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Point(mut p) => match self.eval(&p.group, p.time, &mut p.fields, &mut p.tags) {
                Ok(()) => out.push(Msg::Point(p)),
                Err(e) => cx.error(e),
            },
            Msg::Batch(mut b) => {
                let group = b.group.clone();
                let mut kept = Vec::with_capacity(b.points.len());
                for mut bp in std::mem::take(&mut b.points) {
                    match self.eval(&group, bp.time, &mut bp.fields, &mut bp.tags) {
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
        self.states.remove(group);
    }

    fn cardinality(&self) -> usize {
        self.states.len()
    }

    fn snapshot(&self) -> Option<String> {
        snap(&self.states)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        self.states = unsnap(state)?;
        Ok(())
    }
}

fn arg_to_field(a: &Arg) -> Option<FieldValue> {
    Some(match a {
        Arg::Int(i) => FieldValue::Integer(*i),
        Arg::Float(f) => FieldValue::Float(*f),
        Arg::String(s) => FieldValue::String(s.clone()),
        Arg::Bool(b) => FieldValue::Boolean(*b),
        Arg::Duration(d) => FieldValue::Integer(*d),
        _ => return None,
    })
}

/// `|default()`.
pub(crate) struct Default {
    fields: Vec<(String, FieldValue)>,
    tags: Vec<(String, String)>,
    fields_defaulted: i64,
    tags_defaulted: i64,
}

impl Default {
    pub(crate) fn new(n: &GraphNode) -> Result<Default, Error> {
        let mut fields = Vec::new();
        for p in n.props("field") {
            match (p.args.first(), p.args.get(1).and_then(arg_to_field)) {
                (Some(Arg::String(k)), Some(v)) => fields.push((k.clone(), v)),
                _ => return Err(invalid(n, "default field needs a name and a value")),
            }
        }
        let tags = n
            .props("tag")
            .filter_map(|p| match p.args.as_slice() {
                [Arg::String(k), Arg::String(v)] => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect();
        Ok(Default {
            fields,
            tags,
            fields_defaulted: 0,
            tags_defaulted: 0,
        })
    }

    fn apply(&mut self, fields: &mut Fields, tags: &mut Tags) {
        for (k, v) in &self.fields {
            if !fields.contains_key(k) {
                fields.insert(k.clone(), v.clone());
                self.fields_defaulted += 1;
            }
        }
        for (k, v) in &self.tags {
            if !tags.contains_key(k) {
                tags.insert(k.clone(), v.clone());
                self.tags_defaulted += 1;
            }
        }
    }
}

impl Node for Default {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Point(mut p) => {
                self.apply(&mut p.fields, &mut p.tags);
                p.regroup();
                out.push(Msg::Point(p));
            }
            Msg::Batch(mut b) => {
                for bp in &mut b.points {
                    self.apply(&mut bp.fields, &mut bp.tags);
                }
                out.push(Msg::Batch(b));
            }
        }
    }

    fn stats(&self) -> Vec<(&'static str, i64)> {
        vec![
            ("fields_defaulted", self.fields_defaulted),
            ("tags_defaulted", self.tags_defaulted),
        ]
    }
}

/// `|delete()`.
pub(crate) struct Delete {
    fields: Vec<String>,
    tags: Vec<String>,
}

impl Delete {
    pub(crate) fn new(n: &GraphNode) -> Result<Delete, Error> {
        Ok(Delete {
            fields: n.props("field").flat_map(|p| strings(&p.args)).collect(),
            tags: n.props("tag").flat_map(|p| strings(&p.args)).collect(),
        })
    }

    fn apply(&self, fields: &mut Fields, tags: &mut Tags) {
        for f in &self.fields {
            fields.remove(f);
        }
        for t in &self.tags {
            tags.remove(t);
        }
    }
}

impl Node for Delete {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Point(mut p) => {
                self.apply(&mut p.fields, &mut p.tags);
                p.dims.tags.retain(|t| !self.tags.contains(t));
                p.regroup();
                out.push(Msg::Point(p));
            }
            Msg::Batch(mut b) => {
                for bp in &mut b.points {
                    self.apply(&mut bp.fields, &mut bp.tags);
                }
                if b.dims.tags.iter().any(|t| self.tags.contains(t)) {
                    b.dims.tags.retain(|t| !self.tags.contains(t));
                    for t in &self.tags {
                        b.tags.remove(t);
                    }
                    b.group = b.dims.group_id(&b.name, &b.tags);
                }
                out.push(Msg::Batch(b));
            }
        }
    }
}

/// `|shift(d)`.
pub(crate) struct Shift(i64);

impl Shift {
    pub(crate) fn new(n: &GraphNode) -> Result<Shift, Error> {
        match n.args.first() {
            Some(Arg::Duration(d)) => Ok(Shift(*d)),
            _ => Err(invalid(n, "shift needs a duration")),
        }
    }
}

impl Node for Shift {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match msg {
            Msg::Point(mut p) => {
                p.time = p.time.saturating_add(self.0);
                out.push(Msg::Point(p));
            }
            Msg::Batch(mut b) => {
                b.time = b.time.saturating_add(self.0);
                for bp in &mut b.points {
                    bp.time = bp.time.saturating_add(self.0);
                }
                out.push(Msg::Batch(b));
            }
        }
    }
}
