//! The rule builder's model: a form validated into a [`Rule`], and the TICKscript generated
//! from it (Chronograf's shape: vars first, then the data, the trigger and the handlers).
//!
//! Nothing typed into the form reaches the script unchecked: names and texts become
//! TICKscript strings or references through [`tick_string`] / [`tick_ref`], numbers are
//! parsed and printed back, durations are parsed into a number and a unit, templates are
//! parsed with the alerter's template parser, and task ids and handler targets are
//! checked against narrow character sets. The generated script is then compiled by the
//! alerter before it is saved or shown as valid.

use serde::{Deserialize, Serialize};

use super::quote::{
    check_channel, check_email, check_file_name, check_template, check_text, check_url,
};
pub use super::quote::{
    check_task_id, parse_duration, parse_number, tick_float, tick_ref, tick_string,
};
use crate::error::{Result, UiError};
use crate::query::{AGGREGATES, Builder, TagFilter, TagOp, check_name};

/// The first line of a generated script: the rule's JSON follows, so the builder can
/// open the task again. A script whose text no longer equals what its rule generates was
/// edited by hand and opens in the raw editor.
pub const HEADER: &str = "// tigk-rule ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Threshold,
    Relative,
    Deadman,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Threshold => "threshold",
            Kind::Relative => "relative",
            Kind::Deadman => "deadman",
        }
    }
}

/// Comparisons. The two range operators are for threshold rules only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Gt,
    Ge,
    Le,
    Lt,
    Eq,
    Ne,
    Inside,
    Outside,
}

pub const OPS: &[(&str, &str)] = &[
    ("gt", "greater than"),
    ("ge", "equal to or greater"),
    ("le", "equal to or less than"),
    ("lt", "less than"),
    ("eq", "equal to"),
    ("ne", "not equal to"),
    ("inside", "inside range"),
    ("outside", "outside range"),
];

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "le" => Op::Le,
            "lt" => Op::Lt,
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "inside" => Op::Inside,
            "outside" => Op::Outside,
            _ => return None,
        })
    }

    pub fn is_range(self) -> bool {
        matches!(self, Op::Inside | Op::Outside)
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Inside | Op::Outside => "",
        }
    }
}

/// Change against the shifted series: absolute or percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Change,
    Percent,
}

/// A level's value (and upper bound for range operators).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bound {
    pub value: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Handler {
    /// A file name under the alerter's alert directory.
    Log {
        file: String,
    },
    Post {
        url: String,
    },
    Email {
        to: String,
    },
    Slack {
        channel: String,
    },
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The task id.
    pub id: String,
    pub kind: Kind,
    pub db: String,
    pub rp: String,
    /// Measurement, field, aggregate (empty: every point), filters and group by.
    pub query: Builder,
    /// Window period and step when aggregating.
    pub every: String,
    pub op: Op,
    /// crit, warn, info.
    pub levels: [Option<Bound>; 3],
    pub change: Change,
    /// Relative: compared with the series this long ago.
    pub shift: String,
    /// Deadman: alert when no point arrived for this long.
    pub period: String,
    pub message: String,
    pub id_template: String,
    pub handlers: Vec<Handler>,
    pub state_changes_only: bool,
    pub no_recoveries: bool,
}

pub const LEVELS: [&str; 3] = ["crit", "warn", "info"];

/// The builder's form as posted: every field a string, checked by [`RuleForm::validate`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleForm {
    pub id: String,
    pub kind: String,
    pub measurement: String,
    pub field: String,
    pub aggregate: String,
    pub every: String,
    pub f1_key: String,
    pub f1_op: String,
    pub f1_value: String,
    pub f2_key: String,
    pub f2_op: String,
    pub f2_value: String,
    pub f3_key: String,
    pub f3_op: String,
    pub f3_value: String,
    pub group_by: String,
    pub op: String,
    pub crit: String,
    pub crit_upper: String,
    pub warn: String,
    pub warn_upper: String,
    pub info: String,
    pub info_upper: String,
    pub change: String,
    pub shift: String,
    pub period: String,
    pub message: String,
    pub id_template: String,
    pub h_log: String,
    pub h_post: String,
    pub h_email: String,
    pub h_slack: String,
    pub state_changes_only: Option<String>,
    pub no_recoveries: Option<String>,
    /// Preview range in hours.
    pub hours: String,
    /// The button pressed: refresh, preview, test or save.
    pub action: String,
}

pub const DEFAULT_MESSAGE: &str = "{{.ID}} is {{.Level}} value: {{ index .Fields \"value\" }}";
pub const DEFAULT_ID: &str = "{{.TaskName}}:{{.Group}}";

fn bad(m: impl Into<String>) -> UiError {
    UiError::BadRequest(m.into())
}

fn opt(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

impl RuleForm {
    /// A fresh form with the builder's defaults.
    pub fn new_default() -> RuleForm {
        RuleForm {
            kind: "threshold".into(),
            aggregate: "mean".into(),
            every: "1m".into(),
            op: "gt".into(),
            change: "change".into(),
            shift: "1m".into(),
            period: "10m".into(),
            message: DEFAULT_MESSAGE.into(),
            id_template: DEFAULT_ID.into(),
            state_changes_only: Some("on".into()),
            hours: "6".into(),
            ..RuleForm::default()
        }
    }

    /// Checks every field into a [`Rule`] for `db`.`rp`.
    pub fn validate(&self, db: &str, rp: &str) -> Result<Rule> {
        check_task_id(self.id.trim())?;
        let kind = match self.kind.as_str() {
            "threshold" => Kind::Threshold,
            "relative" => Kind::Relative,
            "deadman" => Kind::Deadman,
            other => return Err(bad(format!("unknown rule type {other:?}"))),
        };
        let mut filters = Vec::new();
        for (k, o, v) in [
            (&self.f1_key, &self.f1_op, &self.f1_value),
            (&self.f2_key, &self.f2_op, &self.f2_value),
            (&self.f3_key, &self.f3_op, &self.f3_value),
        ] {
            if let Some(key) = opt(k) {
                filters.push(TagFilter {
                    key: key.to_string(),
                    op: if o == "ne" { TagOp::Ne } else { TagOp::Eq },
                    value: v.to_string(),
                });
            }
        }
        let group_by: Vec<String> = self
            .group_by
            .split(',')
            .filter_map(opt)
            .map(str::to_string)
            .collect();
        let field = if kind == Kind::Deadman {
            String::new()
        } else {
            self.field.trim().to_string()
        };
        let aggregate = if kind == Kind::Deadman {
            String::new()
        } else {
            self.aggregate.trim().to_string()
        };
        let query = Builder {
            measurement: self.measurement.trim().to_string(),
            field: field.clone(),
            aggregate,
            filters,
            group_by,
        };
        check_name("the measurement", &query.measurement)?;
        check_text("the measurement", &query.measurement, 256, false)?;
        if kind != Kind::Deadman {
            check_name("the field", &query.field)?;
            check_text("the field", &query.field, 256, false)?;
        }
        if !query.aggregate.is_empty() && !AGGREGATES.contains(&query.aggregate.as_str()) {
            return Err(bad(format!("unknown aggregate {:?}", query.aggregate)));
        }
        for f in &query.filters {
            check_name("a tag key", &f.key)?;
            check_text("a tag key", &f.key, 256, false)?;
            check_text("a tag value", &f.value, 1024, false)?;
        }
        for g in &query.group_by {
            check_name("a group-by tag", g)?;
            check_text("a group-by tag", g, 256, false)?;
        }
        let every = parse_duration("the window", &self.every)?.0;
        let op = Op::parse(&self.op).ok_or_else(|| bad("unknown comparison"))?;
        if kind == Kind::Relative && op.is_range() {
            return Err(bad("relative rules compare with one value, not a range"));
        }
        let mut levels = [None; 3];
        if kind != Kind::Deadman {
            let inputs = [
                (&self.crit, &self.crit_upper),
                (&self.warn, &self.warn_upper),
                (&self.info, &self.info_upper),
            ];
            for (i, (v, u)) in inputs.into_iter().enumerate() {
                let Some(v) = opt(v) else { continue };
                let value = parse_number(&format!("the {} value", LEVELS[i]), v)?;
                let upper = if op.is_range() {
                    let u = opt(u).ok_or_else(|| {
                        bad(format!("the {} range needs an upper value", LEVELS[i]))
                    })?;
                    let upper = parse_number(&format!("the {} upper value", LEVELS[i]), u)?;
                    if upper < value {
                        return Err(bad(format!(
                            "the {} range's upper value is below its lower value",
                            LEVELS[i]
                        )));
                    }
                    upper
                } else {
                    value
                };
                levels[i] = Some(Bound { value, upper });
            }
            if levels.iter().all(Option::is_none) {
                return Err(bad(
                    "give a value for at least one level (crit, warn or info)",
                ));
            }
        }
        let change = if self.change == "percent" {
            Change::Percent
        } else {
            Change::Change
        };
        let shift = parse_duration("the shift", &self.shift)?.0;
        let period = parse_duration("the deadman period", &self.period)?.0;
        check_template("the message", &self.message)?;
        let id_template = if self.id_template.trim().is_empty() {
            DEFAULT_ID.to_string()
        } else {
            self.id_template.clone()
        };
        check_template("the alert id", &id_template)?;
        let mut handlers = Vec::new();
        if let Some(f) = opt(&self.h_log) {
            check_file_name(f)?;
            handlers.push(Handler::Log { file: f.into() });
        }
        if let Some(u) = opt(&self.h_post) {
            check_url(u)?;
            handlers.push(Handler::Post { url: u.into() });
        }
        if let Some(e) = opt(&self.h_email) {
            check_email(e)?;
            handlers.push(Handler::Email { to: e.into() });
        }
        if let Some(c) = opt(&self.h_slack) {
            check_channel(c)?;
            handlers.push(Handler::Slack { channel: c.into() });
        }
        check_text("the database", db, 256, false)?;
        check_text("the retention policy", rp, 256, false)?;
        Ok(Rule {
            id: self.id.trim().to_string(),
            kind,
            db: db.to_string(),
            rp: rp.to_string(),
            query,
            every,
            op,
            levels,
            change,
            shift,
            period,
            message: self.message.clone(),
            id_template,
            handlers,
            state_changes_only: self.state_changes_only.is_some(),
            no_recoveries: self.no_recoveries.is_some(),
        })
    }
}

impl Rule {
    /// The form that describes this rule (to edit it again).
    pub fn to_form(&self) -> RuleForm {
        let mut f = RuleForm::new_default();
        f.id = self.id.clone();
        f.kind = self.kind.as_str().into();
        f.measurement = self.query.measurement.clone();
        f.field = self.query.field.clone();
        f.aggregate = self.query.aggregate.clone();
        f.every = self.every.clone();
        let slots = [
            (&mut f.f1_key, &mut f.f1_op, &mut f.f1_value),
            (&mut f.f2_key, &mut f.f2_op, &mut f.f2_value),
            (&mut f.f3_key, &mut f.f3_op, &mut f.f3_value),
        ];
        for ((k, o, v), t) in slots.into_iter().zip(&self.query.filters) {
            *k = t.key.clone();
            *o = if t.op == TagOp::Ne { "ne" } else { "eq" }.into();
            *v = t.value.clone();
        }
        f.group_by = self.query.group_by.join(", ");
        f.op = OPS
            .iter()
            .find(|(k, _)| Op::parse(k) == Some(self.op))
            .map(|(k, _)| k.to_string())
            .unwrap_or_default();
        let level_fields = [
            (&mut f.crit, &mut f.crit_upper),
            (&mut f.warn, &mut f.warn_upper),
            (&mut f.info, &mut f.info_upper),
        ];
        for ((v, u), b) in level_fields.into_iter().zip(self.levels) {
            if let Some(b) = b {
                *v = b.value.to_string();
                if self.op.is_range() {
                    *u = b.upper.to_string();
                }
            }
        }
        f.change = if self.change == Change::Percent {
            "percent"
        } else {
            "change"
        }
        .into();
        f.shift = self.shift.clone();
        f.period = self.period.clone();
        f.message = self.message.clone();
        f.id_template = self.id_template.clone();
        for h in &self.handlers {
            match h {
                Handler::Log { file } => f.h_log = file.clone(),
                Handler::Post { url } => f.h_post = url.clone(),
                Handler::Email { to } => f.h_email = to.clone(),
                Handler::Slack { channel } => f.h_slack = channel.clone(),
            }
        }
        f.state_changes_only = self.state_changes_only.then(|| "on".into());
        f.no_recoveries = self.no_recoveries.then(|| "on".into());
        f
    }

    /// The rule as the first line of its script.
    fn header(&self) -> String {
        // serde_json escapes every control character, so the comment stays one line.
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("{HEADER}{json}\n")
    }

    /// The `where` lambda: equal filters on one key are alternatives, the rest all apply.
    fn where_lambda(&self) -> Option<String> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        let mut parts = Vec::new();
        for f in &self.query.filters {
            let cond = format!(
                "{} {} {}",
                tick_ref(&f.key),
                if f.op == TagOp::Ne { "!=" } else { "==" },
                tick_string(&f.value)
            );
            match f.op {
                TagOp::Ne => parts.push(cond),
                TagOp::Eq => match groups.iter_mut().find(|(k, _)| *k == f.key) {
                    Some((_, g)) => g.push(cond),
                    None => groups.push((f.key.clone(), vec![cond])),
                },
            }
        }
        let mut all: Vec<String> = groups
            .into_iter()
            .map(|(_, g)| format!("({})", g.join(" OR ")))
            .collect();
        all.extend(parts.into_iter().map(|p| format!("({p})")));
        (!all.is_empty()).then(|| format!("lambda: {}", all.join(" AND ")))
    }

    fn condition(&self, level: usize) -> String {
        let var = LEVELS.get(level).copied().unwrap_or("crit");
        match self.op {
            Op::Inside => format!("\"value\" >= {var}Lower AND \"value\" <= {var}Upper"),
            Op::Outside => format!("\"value\" < {var}Lower OR \"value\" > {var}Upper"),
            op => format!("\"value\" {} {var}", op.symbol()),
        }
    }

    /// The TICKscript of the rule. `log_dir` is where the alerter lets log handlers
    /// write (a log handler's file goes there).
    pub fn script(&self, log_dir: Option<&str>) -> String {
        let mut s = self.header();
        s.push_str(&format!(
            "dbrp {}.{}\n\n",
            tick_ref(&self.db),
            tick_ref(&self.rp)
        ));
        s.push_str(&format!("var db = {}\n", tick_string(&self.db)));
        s.push_str(&format!("var rp = {}\n", tick_string(&self.rp)));
        s.push_str(&format!(
            "var measurement = {}\n",
            tick_string(&self.query.measurement)
        ));
        s.push_str(&format!("var name = {}\n", tick_string(&self.id)));
        s.push_str(&format!("var idVar = {}\n", tick_string(&self.id_template)));
        s.push_str(&format!("var message = {}\n", tick_string(&self.message)));
        s.push_str("var idTag = 'alertID'\nvar levelTag = 'level'\n");
        s.push_str("var messageField = 'message'\nvar durationField = 'duration'\n");
        s.push_str(&format!("var triggerType = '{}'\n", self.kind.as_str()));
        let aggregated = !self.query.aggregate.is_empty();
        if aggregated {
            s.push_str(&format!(
                "var period = {}\nvar every = {}\n",
                self.every, self.every
            ));
        }
        match self.kind {
            Kind::Deadman => {
                s.push_str(&format!(
                    "var period = {}\nvar threshold = 0.0\n",
                    self.period
                ));
            }
            Kind::Relative => s.push_str(&format!("var shift = {}\n", self.shift)),
            Kind::Threshold => {}
        }
        for (i, b) in self.levels.iter().enumerate() {
            let (Some(b), Some(name)) = (b, LEVELS.get(i)) else {
                continue;
            };
            if self.op.is_range() {
                s.push_str(&format!("var {name}Lower = {}\n", tick_float(b.value)));
                s.push_str(&format!("var {name}Upper = {}\n", tick_float(b.upper)));
            } else {
                s.push_str(&format!("var {name} = {}\n", tick_float(b.value)));
            }
        }
        s.push_str("\nvar data = stream\n    |from()\n        .database(db)\n        .retentionPolicy(rp)\n        .measurement(measurement)\n");
        if !self.query.group_by.is_empty() {
            let tags: Vec<String> = self.query.group_by.iter().map(|g| tick_string(g)).collect();
            s.push_str(&format!("        .groupBy({})\n", tags.join(", ")));
        }
        if let Some(w) = self.where_lambda() {
            s.push_str(&format!("        .where({w})\n"));
        }
        if self.kind != Kind::Deadman {
            let field = tick_string(&self.query.field);
            if aggregated {
                s.push_str("    |window()\n        .period(period)\n        .every(every)\n        .align()\n");
                s.push_str(&format!(
                    "    |{}({field})\n        .as('value')\n",
                    self.query.aggregate
                ));
            } else {
                s.push_str(&format!(
                    "    |eval(lambda: {})\n        .as('value')\n",
                    tick_ref(&self.query.field)
                ));
            }
        }
        s.push('\n');
        match self.kind {
            Kind::Threshold => s.push_str("var trigger = data\n    |alert()\n"),
            Kind::Relative => {
                s.push_str("var past = data\n    |shift(shift)\n\nvar current = data\n\n");
                s.push_str(
                    "var trigger = past\n    |join(current)\n        .as('past', 'current')\n",
                );
                let expr = match self.change {
                    Change::Change => "float(\"current.value\" - \"past.value\")",
                    Change::Percent => {
                        "abs(float(\"current.value\" - \"past.value\")) / float(\"past.value\") * 100.0"
                    }
                };
                s.push_str(&format!(
                    "    |eval(lambda: {expr})\n        .keep()\n        .as('value')\n    |alert()\n"
                ));
            }
            Kind::Deadman => s.push_str("var trigger = data\n    |deadman(threshold, period)\n"),
        }
        if self.kind != Kind::Deadman {
            for (i, b) in self.levels.iter().enumerate() {
                if b.is_some() {
                    s.push_str(&format!(
                        "        .{}(lambda: {})\n",
                        LEVELS[i],
                        self.condition(i)
                    ));
                }
            }
        }
        if self.state_changes_only {
            s.push_str("        .stateChangesOnly()\n");
        }
        if self.no_recoveries {
            s.push_str("        .noRecoveries()\n");
        }
        s.push_str("        .message(message)\n        .id(idVar)\n        .idTag(idTag)\n        .levelTag(levelTag)\n        .messageField(messageField)\n        .durationField(durationField)\n");
        for h in &self.handlers {
            s.push_str(&handler_chain(h, log_dir));
        }
        s
    }
}

/// One handler as chained alert-node methods.
pub fn handler_chain(h: &Handler, log_dir: Option<&str>) -> String {
    match h {
        Handler::Log { file } => {
            let dir = log_dir
                .unwrap_or("/var/lib/tigk/alerts")
                .trim_end_matches('/');
            format!("        .log({})\n", tick_string(&format!("{dir}/{file}")))
        }
        Handler::Post { url } => format!("        .post({})\n", tick_string(url)),
        Handler::Email { to } => format!("        .email({})\n", tick_string(to)),
        Handler::Slack { channel } => {
            format!(
                "        .slack()\n        .channel({})\n",
                tick_string(channel)
            )
        }
    }
}

/// The rule a script was generated from, if its first line says so and it still is
/// exactly what that rule generates.
pub fn rule_of(script: &str, log_dir: Option<&str>) -> Option<Rule> {
    let line = script.lines().next()?.strip_prefix(HEADER)?;
    let rule: Rule = serde_json::from_str(line).ok()?;
    (rule.script(log_dir) == script).then_some(rule)
}

/// The rule type named by a script's header, even if edited since ("raw" without one).
pub fn kind_of(script: &str) -> &'static str {
    script
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(HEADER))
        .and_then(|j| serde_json::from_str::<Rule>(j).ok())
        .map_or("raw", |r| r.kind.as_str())
}

#[cfg(test)]
#[path = "rule_tests.rs"]
mod tests;
