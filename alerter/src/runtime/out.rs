//! Output nodes: log, influxDBOut, httpOut (httpPost is in `http_post`).

use super::model::{Fields, Msg, Tags};
use super::nodes::{has_prop, invalid, str_prop, strings};
use super::{Cx, Node};
use crate::error::Error;
use crate::tick::{Arg, GraphNode};

/// `|log()`: data passing through goes to the daemon log.
pub(crate) struct Log {
    level: String,
    prefix: String,
}

impl Log {
    pub(crate) fn new(n: &GraphNode) -> Result<Log, Error> {
        let level = str_prop(n, "level")
            .unwrap_or_else(|| "INFO".into())
            .to_uppercase();
        if !["DEBUG", "INFO", "WARN", "ERROR"].contains(&level.as_str()) {
            return Err(invalid(n, format!("invalid log level {level}")));
        }
        Ok(Log {
            level,
            prefix: str_prop(n, "prefix").unwrap_or_default(),
        })
    }
}

impl Node for Log {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        let text = match &msg {
            Msg::Point(p) => format!("{p:?}"),
            Msg::Batch(b) => format!("{b:?}"),
        };
        let (task, node, prefix) = (cx.task, cx.node, &self.prefix);
        match self.level.as_str() {
            "DEBUG" => tracing::debug!(task, node, prefix, "{text}"),
            "WARN" => tracing::warn!(task, node, prefix, "{text}"),
            "ERROR" => tracing::error!(task, node, prefix, "{text}"),
            _ => tracing::info!(task, node, prefix, "{text}"),
        }
        out.push(msg);
    }
}

/// `|influxDBOut()`: points to write back to the store (the caller writes them).
pub(crate) struct InfluxDbOut {
    database: String,
    rp: String,
    measurement: Option<String>,
    tags: Vec<(String, String)>,
    precision: i64,
    create: bool,
    written: i64,
}

impl InfluxDbOut {
    pub(crate) fn new(n: &GraphNode) -> Result<InfluxDbOut, Error> {
        let database = str_prop(n, "database").unwrap_or_default();
        if database.is_empty() {
            return Err(invalid(n, "influxDBOut needs a .database()"));
        }
        let rp = str_prop(n, "retentionPolicy").unwrap_or_default();
        let precision = match str_prop(n, "precision").as_deref() {
            None | Some("") | Some("n") | Some("ns") => 1,
            Some("u") | Some("us") => 1_000,
            Some("ms") => 1_000_000,
            Some("s") => 1_000_000_000,
            Some("m") => 60_000_000_000,
            Some("h") => 3_600_000_000_000,
            Some(p) => return Err(invalid(n, format!("invalid precision {p:?}"))),
        };
        let tags = n
            .props("tag")
            .filter_map(|p| match p.args.as_slice() {
                [Arg::String(k), Arg::String(v)] => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect();
        Ok(InfluxDbOut {
            database,
            rp,
            measurement: str_prop(n, "measurement").filter(|m| !m.is_empty()),
            tags,
            precision,
            create: has_prop(n, "create"),
            written: 0,
        })
    }

    fn write(&mut self, name: &str, time: i64, tags: &Tags, fields: &Fields, cx: &mut Cx<'_>) {
        if fields.is_empty() {
            return;
        }
        let mut tags = tags.clone();
        for (k, v) in &self.tags {
            tags.insert(k.clone(), v.clone());
        }
        let point = common::Point {
            measurement: self.measurement.clone().unwrap_or_else(|| name.to_string()),
            tags: tags.into_iter().collect(),
            fields: fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            timestamp: Some(time - time.rem_euclid(self.precision)),
        };
        self.written += 1;
        cx.writes.push(super::Write {
            database: self.database.clone(),
            retention_policy: self.rp.clone(),
            create: self.create,
            point,
        });
    }
}

impl Node for InfluxDbOut {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        match &msg {
            Msg::Point(p) => self.write(&p.name, p.time, &p.tags, &p.fields, cx),
            Msg::Batch(b) => {
                for bp in &b.points {
                    self.write(&b.name, bp.time, &bp.tags, &bp.fields, cx);
                }
            }
        }
        out.push(msg);
    }

    fn stats(&self) -> Vec<(&'static str, i64)> {
        vec![("points_written", self.written)]
    }
}

/// `|httpOut(name)`: keeps the latest data, served by the task API.
pub(crate) struct HttpOut {
    name: String,
    /// Latest message per group, as InfluxQL-style series.
    latest: std::collections::BTreeMap<String, crate::alert::Series>,
}

impl HttpOut {
    pub(crate) fn new(n: &GraphNode) -> Result<HttpOut, Error> {
        let name = strings(&n.args).into_iter().next().unwrap_or_default();
        if name.is_empty() {
            return Err(invalid(n, "httpOut needs a name"));
        }
        Ok(HttpOut {
            name,
            latest: std::collections::BTreeMap::new(),
        })
    }
}

impl Node for HttpOut {
    fn process(&mut self, msg: Msg, _cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        use crate::alert::Series;
        let (group, series) = match &msg {
            Msg::Point(p) => (
                p.group.clone(),
                Series::from_rows(&p.name, &p.tags, std::iter::once((p.time, &p.fields))),
            ),
            Msg::Batch(b) => (
                b.group.clone(),
                Series::from_rows(
                    &b.name,
                    &b.tags,
                    b.points.iter().map(|p| (p.time, &p.fields)),
                ),
            ),
        };
        self.latest.insert(group, series);
        out.push(msg);
    }

    fn forget(&mut self, group: &str) {
        self.latest.remove(group);
    }

    fn cardinality(&self) -> usize {
        self.latest.len()
    }

    fn http_out(&self) -> Option<(&str, String)> {
        let mut s = String::from("{\"series\":[");
        for (i, series) in self.latest.values().enumerate() {
            if i > 0 {
                s.push(',');
            }
            series.json(&mut s);
        }
        s.push_str("]}");
        Some((&self.name, s))
    }
}
