//! The alert node (Kapacitor's `alert.go`): levels with reset hysteresis, per-group
//! state and history, when an event is sent, templates, and the events themselves.
//!
//! - `event`: [`AlertEvent`], [`Level`] and the handler JSON.
//! - `template`: the Go text/template subset; `printf`: Go's `Sprintf` for it.
//! - `handlers`: handler definitions (log, post, tcp, exec, email, slack) and delivery.
//! - `guard`: the outbound address guard the handlers and httpPost go through.
//! - `notify`: delivering through a program (exec), SMTP (email) and Slack.

pub mod event;
mod guard;
pub mod handlers;
pub mod notify;
pub mod printf;
pub mod template;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use event::{AlertEvent, Cell, Level, Series};
use handlers::HandlerSpec;
use template::{TVal, Template};

use crate::error::Error;
use crate::options::Options;
use crate::runtime::model::{FieldScope, Fields, Msg, Tags};
use crate::runtime::nodes::{has_prop, str_prop};
use crate::runtime::{Cx, Node};
use crate::tick::lambda::{Lambda, LambdaState};
use crate::tick::{Arg, GraphNode};

const DEFAULT_ID: &str = "{{ .Name }}:{{ .Group }}";
const DEFAULT_MESSAGE: &str = "{{ .ID }} is {{ .Level }}";
const DEFAULT_DETAILS: &str = "{{ json . }}";
const DEFAULT_HISTORY: usize = 21;

/// Per-group alert state (Kapacitor's `alertState`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GroupState {
    history: Vec<Level>,
    idx: usize,
    flapping: bool,
    changed: bool,
    expired: bool,
    first_triggered: i64,
    last_triggered: i64,
    #[serde(default)]
    lambdas: Vec<Option<LambdaState>>,
}

impl GroupState {
    fn new(history: usize) -> GroupState {
        GroupState {
            history: vec![Level::Ok; history],
            idx: 0,
            flapping: false,
            changed: false,
            expired: false,
            first_triggered: 0,
            last_triggered: 0,
            lambdas: Vec::new(),
        }
    }

    fn current(&self) -> Level {
        self.history.get(self.idx).copied().unwrap_or_default()
    }

    fn add_event(&mut self, level: Level, t: i64, resend: i64) {
        self.changed = self.current() != level;
        self.expired = !self.changed && resend > 0 && t - self.last_triggered >= resend;
        self.idx = (self.idx + 1) % self.history.len();
        self.history[self.idx] = level;
    }

    fn previous_idx(&self) -> usize {
        (self.idx + self.history.len() - 1) % self.history.len()
    }

    fn triggered(&mut self, t: i64) {
        self.last_triggered = t;
        if self.changed && self.history[self.previous_idx()] == Level::Ok {
            self.first_triggered = t;
        }
    }

    /// Kapacitor's flapping update, loop included: it pairs the newest entry with the
    /// oldest and skips the pair of the 2nd and 3rd newest. Kept as is on purpose.
    fn update_flapping(&mut self, low: f64, high: f64) {
        let l = self.history.len();
        let mut changes = 0.0;
        let mut weight = 1.2 / 1.5;
        let step = (1.2 - weight) / (l - 1) as f64;
        for i in 0..l - 1 {
            let c = (i + self.idx) % l;
            let p = if c == 0 { l - 1 } else { c - 1 };
            if self.history[c] != self.history[p] {
                changes += weight;
            }
            weight += step;
        }
        let p = changes / (l - 1) as f64;
        if self.flapping && p < low {
            self.flapping = false;
        } else if !self.flapping && p > high {
            self.flapping = true;
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Snapshot {
    groups: BTreeMap<String, GroupState>,
    topic: BTreeMap<String, Level>,
}

/// The alert node.
pub(crate) struct AlertNode {
    task: String,
    node: String,
    /// Level lambdas indexed by [`Level::index`] (OK has none), then their resets.
    levels: [Option<Arc<Lambda>>; 4],
    resets: [Option<Arc<Lambda>>; 4],
    id: Template,
    message: Template,
    details: Template,
    history: usize,
    state_changes_only: Option<i64>,
    no_recoveries: bool,
    all: bool,
    flapping: Option<(f64, f64)>,
    level_tag: Option<String>,
    level_field: Option<String>,
    id_tag: Option<String>,
    id_field: Option<String>,
    message_field: Option<String>,
    duration_field: Option<String>,
    server: [String; 3],
    pub(crate) handlers: Vec<HandlerSpec>,
    groups: HashMap<String, GroupState>,
    /// Last sent level per event id (the anonymous topic's event state).
    topic: HashMap<String, Level>,
    counts: [i64; 4],
}

fn lambda_prop(n: &GraphNode, name: &str) -> Option<Arc<Lambda>> {
    match n.prop(name)?.args.first()? {
        Arg::Lambda(l) => Some(l.compiled.clone()),
        _ => None,
    }
}

impl AlertNode {
    pub(crate) fn new(task: &str, n: &GraphNode, opts: &Options) -> Result<AlertNode, Error> {
        let bad = |m: String| Error::Invalid(format!("{}: {m}", n.name()));
        for unsupported in ["inhibit", "topic"] {
            if has_prop(n, unsupported) {
                return Err(Error::Unsupported(format!(
                    "{}: alert .{unsupported}() is not supported yet",
                    n.name()
                )));
            }
        }
        let tmpl = |name: &str, default: &str, html: bool| -> Result<Template, Error> {
            let src = str_prop(n, name).unwrap_or_else(|| default.to_string());
            let t = if html {
                Template::parse_html(&src)
            } else {
                Template::parse(&src)
            };
            t.map_err(|e| bad(format!("invalid {name} template: {e}")))
        };
        let history = match n.prop("history").and_then(|p| p.args.first()) {
            Some(Arg::Int(h)) => (*h).max(2) as usize,
            _ => DEFAULT_HISTORY,
        };
        let state_changes_only = n.prop("stateChangesOnly").map(|p| match p.args.first() {
            Some(Arg::Duration(d)) => *d,
            _ => 0,
        });
        let flapping = match n.prop("flapping").map(|p| p.args.as_slice()) {
            Some([Arg::Float(l), Arg::Float(h)]) => Some((*l, *h)),
            _ => None,
        };
        Ok(AlertNode {
            task: task.to_string(),
            node: n.name(),
            levels: [
                None,
                lambda_prop(n, "info"),
                lambda_prop(n, "warn"),
                lambda_prop(n, "crit"),
            ],
            resets: [
                None,
                lambda_prop(n, "infoReset"),
                lambda_prop(n, "warnReset"),
                lambda_prop(n, "critReset"),
            ],
            id: tmpl("id", DEFAULT_ID, false)?,
            message: tmpl("message", DEFAULT_MESSAGE, false)?,
            details: tmpl("details", DEFAULT_DETAILS, true)?,
            history,
            state_changes_only,
            no_recoveries: has_prop(n, "noRecoveries"),
            all: has_prop(n, "all"),
            flapping,
            level_tag: str_prop(n, "levelTag"),
            level_field: str_prop(n, "levelField"),
            id_tag: str_prop(n, "idTag"),
            id_field: str_prop(n, "idField"),
            message_field: str_prop(n, "messageField"),
            duration_field: str_prop(n, "durationField"),
            server: [
                opts.hostname.clone(),
                opts.cluster_id.clone(),
                opts.server_id.clone(),
            ],
            handlers: handlers::build(n, opts)?,
            groups: HashMap::new(),
            topic: HashMap::new(),
            counts: [0; 4],
        })
    }

    fn eval(
        lambda: &Lambda,
        slot: &mut Option<LambdaState>,
        scope: &FieldScope<'_>,
        cx: &mut Cx<'_>,
    ) -> Option<bool> {
        let st = slot.get_or_insert_with(|| lambda.new_state());
        match lambda.eval_bool(scope, st) {
            Ok(b) => Some(b),
            Err(e) => {
                cx.error(e);
                None
            }
        }
    }

    /// Kapacitor's `determineLevel`: crit down to the current level, then the current
    /// level's reset, then the current level down to info. A failing expression counts
    /// as not matched.
    fn determine_level(
        &self,
        st: &mut GroupState,
        scope: &FieldScope<'_>,
        cx: &mut Cx<'_>,
    ) -> Level {
        let cur = st.current();
        if st.lambdas.len() < 8 {
            st.lambdas.resize(8, None);
        }
        let first_match = |from: usize, to_exclusive: i64, st: &mut GroupState, cx: &mut Cx<'_>| {
            let mut l = from as i64;
            while l > to_exclusive {
                let i = l as usize;
                if let Some(lambda) = &self.levels[i]
                    && Self::eval(lambda, &mut st.lambdas[i], scope, cx) == Some(true)
                {
                    return Some(Level::ALL[i]);
                }
                l -= 1;
            }
            None
        };
        if let Some(l) = first_match(3, cur.index() as i64 - 1, st, cx) {
            return l;
        }
        if let Some(reset) = &self.resets[cur.index()]
            && Self::eval(reset, &mut st.lambdas[4 + cur.index()], scope, cx) == Some(false)
        {
            return cur;
        }
        first_match(cur.index(), 0, st, cx).unwrap_or(Level::Ok)
    }

    fn id_info(&self, name: &str, group: &str, tags: &Tags) -> Vec<(String, TVal)> {
        let group = if group.is_empty() { "nil" } else { group };
        let tags = tags
            .iter()
            .map(|(k, v)| (k.clone(), TVal::Str(v.clone())))
            .collect();
        vec![
            ("Name".into(), TVal::Str(name.to_string())),
            ("TaskName".into(), TVal::Str(self.task.clone())),
            ("Group".into(), TVal::Str(group.to_string())),
            ("Tags".into(), TVal::Map(tags, true)),
            (
                "ServerInfo".into(),
                TVal::Struct(vec![
                    ("Hostname".into(), TVal::Str(self.server[0].clone())),
                    ("ClusterID".into(), TVal::Str(self.server[1].clone())),
                    ("ServerID".into(), TVal::Str(self.server[2].clone())),
                ]),
            ),
        ]
    }

    fn render_id(&self, name: &str, group: &str, tags: &Tags) -> Result<String, Error> {
        self.id
            .render(&TVal::Struct(self.id_info(name, group, tags)))
            .map_err(|e| Error::Template(e.to_string()))
    }

    #[allow(clippy::too_many_arguments)]
    fn make_event(
        &mut self,
        id: String,
        name: &str,
        group: &str,
        tags: &Tags,
        fields: &Fields,
        level: Level,
        time: i64,
        duration: i64,
        data: Series,
    ) -> Result<AlertEvent, Error> {
        let fields_t = fields
            .iter()
            .map(|(k, v)| {
                let t = match v {
                    common::FieldValue::Float(f) => TVal::Float(*f),
                    common::FieldValue::Integer(i) => TVal::Int(*i),
                    common::FieldValue::Unsigned(u) => {
                        TVal::Int(i64::try_from(*u).unwrap_or(i64::MAX))
                    }
                    common::FieldValue::String(s) => TVal::Str(s.clone()),
                    common::FieldValue::Boolean(b) => TVal::Bool(*b),
                };
                (k.clone(), t)
            })
            .collect();
        let mut info = self.id_info(name, group, tags);
        info.push(("ID".into(), TVal::Str(id.clone())));
        info.push(("Fields".into(), TVal::Map(fields_t, false)));
        info.push(("Level".into(), TVal::Str(level.as_str().into())));
        info.push(("Time".into(), TVal::Time(time)));
        info.push(("Duration".into(), TVal::Duration(duration)));
        let terr = |e: template::TemplateError| Error::Template(e.to_string());
        let message = self
            .message
            .render(&TVal::Struct(info.clone()))
            .map_err(terr)?;
        info.push(("Message".into(), TVal::Str(message.clone())));
        let details = self.details.render(&TVal::Struct(info)).map_err(terr)?;
        let previous_level = self.topic.insert(id.clone(), level).unwrap_or(Level::Ok);
        self.counts[level.index()] += 1;
        Ok(AlertEvent {
            task: self.task.clone(),
            node: self.node.clone(),
            id,
            message,
            details,
            time,
            duration,
            level,
            previous_level,
            recoverable: !self.no_recoveries,
            data,
        })
    }

    /// Shared decision after the level is known; returns whether to send.
    fn decide(&self, st: &mut GroupState, level: Level, t: i64) -> bool {
        st.add_event(level, t, self.state_changes_only.unwrap_or(0));
        if let Some((low, high)) = self.flapping {
            st.update_flapping(low, high);
            if st.flapping {
                return false;
            }
        }
        if self.state_changes_only.is_some() && !st.changed && !st.expired {
            return false;
        }
        if level != Level::Ok || st.changed {
            st.triggered(t);
            // The recovery happens (state is OK again) but is not sent.
            return !(self.no_recoveries && level == Level::Ok);
        }
        false
    }

    fn augment(&self, ev: &AlertEvent, fields: &mut Fields, tags: &mut Tags) {
        use common::FieldValue as F;
        if let Some(k) = &self.level_tag {
            tags.insert(k.clone(), ev.level.as_str().into());
        }
        if let Some(k) = &self.id_tag {
            tags.insert(k.clone(), ev.id.clone());
        }
        if let Some(k) = &self.level_field {
            fields.insert(k.clone(), F::String(ev.level.as_str().into()));
        }
        if let Some(k) = &self.id_field {
            fields.insert(k.clone(), F::String(ev.id.clone()));
        }
        if let Some(k) = &self.message_field {
            fields.insert(k.clone(), F::String(ev.message.clone()));
        }
        if let Some(k) = &self.duration_field {
            fields.insert(k.clone(), F::Integer(ev.duration));
        }
    }

    fn process_msg(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) -> Result<(), Error> {
        match msg {
            Msg::Point(mut p) => {
                let mut st = self
                    .groups
                    .remove(&p.group)
                    .unwrap_or_else(|| GroupState::new(self.history));
                let scope = FieldScope {
                    time: p.time,
                    fields: &p.fields,
                    tags: &p.tags,
                };
                let level = self.determine_level(&mut st, &scope, cx);
                let send = self.decide(&mut st, level, p.time);
                let duration = st.last_triggered - st.first_triggered;
                self.groups.insert(p.group.clone(), st);
                if !send {
                    return Ok(());
                }
                // Rendered only for events: most points send nothing, and the id does
                // not take part in the level decision.
                let id = self.render_id(&p.name, &p.group, &p.tags)?;
                let data =
                    Series::from_rows(&p.name, &p.tags, std::iter::once((p.time, &p.fields)));
                let ev = self.make_event(
                    id, &p.name, &p.group, &p.tags, &p.fields, level, p.time, duration, data,
                )?;
                self.augment(&ev, &mut p.fields, &mut p.tags);
                cx.events.push(ev);
                out.push(Msg::Point(p));
            }
            Msg::Batch(mut b) => {
                if b.points.is_empty() {
                    return Ok(());
                }
                let id = self.render_id(&b.name, &b.group, &b.tags)?;
                let mut st = self
                    .groups
                    .remove(&b.group)
                    .unwrap_or_else(|| GroupState::new(self.history));
                let mut lowest = Level::Critical;
                let mut highest: Option<(Level, usize)> = None;
                for (i, bp) in b.points.iter().enumerate() {
                    let scope = FieldScope {
                        time: bp.time,
                        fields: &bp.fields,
                        tags: &bp.tags,
                    };
                    // Every point is judged against the level before the batch.
                    let l = self.determine_level(&mut st, &scope, cx);
                    lowest = lowest.min(l);
                    if highest.is_none_or(|(h, _)| l > h) {
                        highest = Some((l, i));
                    }
                }
                let Some((high, hi)) = highest else {
                    self.groups.insert(b.group.clone(), st);
                    return Ok(());
                };
                let level = if self.all { lowest } else { high };
                let t = if self.all || level == Level::Ok {
                    b.time
                } else {
                    b.points[hi].time
                };
                let send = self.decide(&mut st, level, t);
                let duration = st.last_triggered - st.first_triggered;
                self.groups.insert(b.group.clone(), st);
                if !send {
                    return Ok(());
                }
                let data = Series::from_rows(
                    &b.name,
                    &b.tags,
                    b.points.iter().map(|p| (p.time, &p.fields)),
                );
                let fields = b.points[hi].fields.clone();
                let ev = self.make_event(
                    id, &b.name, &b.group, &b.tags, &fields, level, t, duration, data,
                )?;
                for bp in &mut b.points {
                    self.augment(&ev, &mut bp.fields, &mut bp.tags);
                }
                cx.events.push(ev);
                out.push(Msg::Batch(b));
            }
        }
        Ok(())
    }
}

impl Node for AlertNode {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        if let Err(e) = self.process_msg(msg, cx, out) {
            cx.error(e);
        }
    }

    fn stats(&self) -> Vec<(&'static str, i64)> {
        let c = self.counts;
        vec![
            ("alerts_triggered", c.iter().sum()),
            ("crits_triggered", c[3]),
            ("oks_triggered", c[0]),
            ("infos_triggered", c[1]),
            ("warns_triggered", c[2]),
            ("alerts_inhibited", 0),
        ]
    }

    fn forget(&mut self, group: &str) {
        self.groups.remove(group);
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }

    fn handlers(&self) -> &[HandlerSpec] {
        &self.handlers
    }

    fn snapshot(&self) -> Option<String> {
        // Sorted (stable saves), by reference: no copy of the groups' histories.
        #[derive(Serialize)]
        struct SnapshotRef<'a> {
            groups: BTreeMap<&'a String, &'a GroupState>,
            topic: BTreeMap<&'a String, &'a Level>,
        }
        let s = SnapshotRef {
            groups: self.groups.iter().collect(),
            topic: self.topic.iter().collect(),
        };
        serde_json::to_string(&s).ok()
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), Error> {
        let s: Snapshot = serde_json::from_value(state).map_err(|e| Error::State(e.to_string()))?;
        self.groups = s
            .groups
            .into_iter()
            .filter(|(_, g)| !g.history.is_empty())
            .map(|(k, mut g)| {
                // A changed `.history(n)` keeps the current level as the newest entry.
                if g.history.len() != self.history {
                    let cur = g.current();
                    g.history = vec![Level::Ok; self.history];
                    g.idx = 0;
                    g.history[0] = cur;
                }
                (k, g)
            })
            .collect();
        self.topic = s.topic.into_iter().collect();
        Ok(())
    }
}
