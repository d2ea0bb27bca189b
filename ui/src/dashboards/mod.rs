//! User dashboards: the model (also the export format), its storage in `ui.db`, and the
//! agent dashboard provisioned on first start.
//!
//! - `pages`: list, view, create/rename/duplicate/delete, JSON export and import.
//! - `panel`: running and drawing one panel, and the panel editor.
//! - `files`: read-only dashboards provisioned from JSON files.

pub mod files;
pub mod health;
pub mod pages;
pub mod panel;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::db::now_secs;
use crate::error::{Result, UiError};
use crate::query::{Builder, TagFilter, TagOp, Transform, check_single_select};
use crate::units::Unit;

pub const MAX_PANELS: usize = 50;
const MAX_TITLE: usize = 200;
const MAX_RAW: usize = 16 * 1024;
/// Marks export files so an import can tell a dashboard from any other JSON.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PanelKind {
    #[default]
    Timeseries,
    Stat,
    Table,
}

impl PanelKind {
    pub fn parse(s: &str) -> Option<PanelKind> {
        match s {
            "timeseries" => Some(PanelKind::Timeseries),
            "stat" => Some(PanelKind::Stat),
            "table" => Some(PanelKind::Table),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PanelKind::Timeseries => "timeseries",
            PanelKind::Stat => "stat",
            PanelKind::Table => "table",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum PanelQuery {
    Builder(Builder),
    Raw { influxql: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    pub title: String,
    #[serde(default)]
    pub kind: PanelKind,
    pub query: PanelQuery,
    #[serde(default)]
    pub unit: Unit,
    #[serde(default)]
    pub decimals: Option<usize>,
    #[serde(default)]
    pub transform: Transform,
    /// Values from here up are drawn and coloured as warnings.
    #[serde(default)]
    pub warn: Option<f64>,
    /// And from here up as critical.
    #[serde(default)]
    pub crit: Option<f64>,
    #[serde(default)]
    pub y_max: Option<f64>,
    /// The y-axis starts here instead of at 0 (or below the lowest negative value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y_min: Option<f64>,
    /// The database the panel reads; `None`: the agents' database (`UiConfig::database`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

impl Panel {
    pub fn validate(&self) -> Result<()> {
        check_title(&self.title)?;
        match &self.query {
            PanelQuery::Builder(b) => b.validate()?,
            PanelQuery::Raw { influxql } => {
                if influxql.len() > MAX_RAW {
                    return Err(UiError::BadRequest("the query is too long".into()));
                }
                // Macros expand to valid InfluxQL, so checking the expanded text is exact.
                check_single_select(&crate::query::expand_macros(influxql, 0, 1, 10_000_000_000))?;
            }
        }
        if let Some(db) = &self.database
            && (db.is_empty() || db.len() > MAX_TITLE || db.chars().any(char::is_control))
        {
            return Err(UiError::BadRequest("invalid database name".into()));
        }
        if self.decimals.is_some_and(|d| d > 6) {
            return Err(UiError::BadRequest("at most 6 decimals".into()));
        }
        for v in [self.warn, self.crit, self.y_max, self.y_min]
            .into_iter()
            .flatten()
        {
            if !v.is_finite() {
                return Err(UiError::BadRequest(
                    "thresholds must be finite numbers".into(),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Present in exports; checked on import.
    #[serde(default)]
    pub tigk_dashboard: u32,
    #[serde(default)]
    pub uid: String,
    pub title: String,
    #[serde(default)]
    pub panels: Vec<Panel>,
}

impl Dashboard {
    pub fn validate(&self) -> Result<()> {
        check_title(&self.title)?;
        if self.panels.len() > MAX_PANELS {
            return Err(UiError::BadRequest(format!(
                "a dashboard holds at most {MAX_PANELS} panels"
            )));
        }
        for p in &self.panels {
            p.validate()?;
        }
        Ok(())
    }
}

pub fn check_title(t: &str) -> Result<()> {
    if t.trim().is_empty() || t.chars().count() > MAX_TITLE || t.chars().any(char::is_control) {
        return Err(UiError::BadRequest(format!(
            "a title needs 1 to {MAX_TITLE} printable characters"
        )));
    }
    Ok(())
}

/// A uid is what URLs carry: 12 lowercase hex characters, so it never needs escaping.
pub fn new_uid() -> String {
    rand::random::<[u8; 6]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn valid_uid(uid: &str) -> bool {
    (1..=40).contains(&uid.len())
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One row of the dashboard list.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub uid: String,
    pub title: String,
    pub panels: usize,
    pub updated: i64,
    /// From a file: read-only.
    pub provisioned: bool,
}

pub fn list(c: &Connection) -> Result<Vec<Summary>> {
    let mut st = c.prepare(
        "SELECT uid, title, body, updated FROM dashboards ORDER BY title COLLATE NOCASE, id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (uid, title, body, updated) = row?;
        let panels = serde_json::from_str::<Dashboard>(&body)
            .map(|d| d.panels.len())
            .unwrap_or(0);
        out.push(Summary {
            uid,
            title,
            panels,
            updated,
            provisioned: false,
        });
    }
    Ok(out)
}

pub fn load(c: &Connection, uid: &str) -> Result<Dashboard> {
    let body: Option<String> = c
        .query_row("SELECT body FROM dashboards WHERE uid = ?1", [uid], |r| {
            r.get(0)
        })
        .optional()?;
    let body = body.ok_or(UiError::NotFound)?;
    serde_json::from_str(&body)
        .map_err(|e| UiError::Internal(format!("dashboard {uid} is unreadable: {e}")))
}

/// Inserts or replaces `d` (by uid).
pub fn save(c: &Connection, d: &Dashboard) -> Result<()> {
    d.validate()?;
    let mut d = d.clone();
    d.tigk_dashboard = FORMAT_VERSION;
    let body = serde_json::to_string(&d).map_err(|e| UiError::Internal(e.to_string()))?;
    c.execute(
        "INSERT INTO dashboards (uid, title, body, updated) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(uid) DO UPDATE SET title = excluded.title, body = excluded.body,
         updated = excluded.updated",
        (&d.uid, &d.title, &body, now_secs()),
    )?;
    Ok(())
}

pub fn delete(c: &Connection, uid: &str) -> Result<()> {
    if c.execute("DELETE FROM dashboards WHERE uid = ?1", [uid])? == 0 {
        return Err(UiError::NotFound);
    }
    Ok(())
}

pub fn uid_taken(c: &Connection, uid: &str) -> Result<bool> {
    Ok(
        c.query_row("SELECT 1 FROM dashboards WHERE uid = ?1", [uid], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

fn builder(measurement: &str, field: &str, aggregate: &str, group_by: &[&str]) -> PanelQuery {
    PanelQuery::Builder(Builder {
        measurement: measurement.into(),
        field: field.into(),
        aggregate: aggregate.into(),
        filters: Vec::new(),
        group_by: group_by.iter().map(|s| s.to_string()).collect(),
    })
}

fn panel(title: &str, kind: PanelKind, query: PanelQuery, unit: Unit) -> Panel {
    Panel {
        title: title.into(),
        kind,
        query,
        unit,
        decimals: None,
        transform: Transform::None,
        warn: None,
        crit: None,
        y_max: None,
        y_min: None,
        database: None,
    }
}

/// The dashboard every new install starts with, over the agent's metrics.
pub fn agent_overview() -> Dashboard {
    let mut cpu = builder("cpu", "usage_user", "mean", &["host"]);
    if let PanelQuery::Builder(b) = &mut cpu {
        b.filters.push(TagFilter {
            key: "cpu".into(),
            op: TagOp::Eq,
            value: "cpu-total".into(),
        });
    }
    let mut cpu = panel(
        "CPU user by host",
        PanelKind::Timeseries,
        cpu,
        Unit::Percent,
    );
    cpu.y_max = Some(100.0);
    let mut mem = panel(
        "Memory used by host",
        PanelKind::Timeseries,
        builder("mem", "used_percent", "mean", &["host"]),
        Unit::Percent,
    );
    (mem.warn, mem.crit, mem.y_max) = (Some(80.0), Some(90.0), Some(100.0));
    let load = panel(
        "Load (1 min) by host",
        PanelKind::Timeseries,
        builder("system", "load1", "mean", &["host"]),
        Unit::Short,
    );
    let mut disk_max = panel(
        "Fullest disk",
        PanelKind::Stat,
        builder("disk", "used_percent", "max", &[]),
        Unit::Percent,
    );
    (disk_max.warn, disk_max.crit) = (Some(80.0), Some(90.0));
    let mut disks = panel(
        "Disk used by host and path",
        PanelKind::Table,
        builder("disk", "used_percent", "last", &["host", "path"]),
        Unit::Percent,
    );
    (disks.warn, disks.crit) = (Some(80.0), Some(90.0));
    // Counters like `bytes_recv`: the bucket's max, turned into a per-second rate.
    let counter_rate = |title: &str, measurement: &str, field: &str, by: &str| {
        let mut p = panel(
            title,
            PanelKind::Timeseries,
            builder(measurement, field, "max", &["host", by]),
            Unit::BytesPerSec,
        );
        p.transform = Transform::Rate;
        p
    };
    let net = counter_rate("Network received", "net", "bytes_recv", "interface");
    let disk_read = counter_rate("Disk read by host", "diskio", "read_bytes", "name");
    let disk_written = counter_rate("Disk written by host", "diskio", "write_bytes", "name");
    Dashboard {
        tigk_dashboard: FORMAT_VERSION,
        uid: "agent-overview".into(),
        title: "Agent overview".into(),
        panels: vec![
            cpu,
            mem,
            load,
            disk_max,
            disks,
            net,
            disk_read,
            disk_written,
        ],
    }
}

/// Adds [`agent_overview`] and [`health::tigk_health`] once per `ui.db`; deleting one
/// later does not bring it back.
pub fn provision_default(c: &Connection) -> Result<()> {
    provision_once(c, "provisioned_agent_overview", agent_overview())?;
    provision_once(c, "provisioned_tigk_health", health::tigk_health())
}

fn provision_once(c: &Connection, key: &str, d: Dashboard) -> Result<()> {
    let done = c
        .query_row("SELECT 1 FROM settings WHERE key = ?1", [key], |_| Ok(()))
        .optional()?
        .is_some();
    if done {
        return Ok(());
    }
    if !uid_taken(c, &d.uid)? {
        save(c, &d)?;
    }
    c.execute("INSERT INTO settings (key, value) VALUES (?1, '1')", [key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_dashboard_is_valid_and_round_trips() {
        let d = agent_overview();
        d.validate().expect("valid");
        assert_eq!(d.panels.len(), 8);
        let json = serde_json::to_string(&d).expect("json");
        let back: Dashboard = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, d);
    }

    #[test]
    fn raw_queries_must_be_one_read() {
        let mut p = panel(
            "x",
            PanelKind::Timeseries,
            PanelQuery::Raw {
                influxql: "SELECT mean(v) FROM m WHERE $timeFilter GROUP BY time($__interval)"
                    .into(),
            },
            Unit::Short,
        );
        p.validate().expect("valid");
        p.query = PanelQuery::Raw {
            influxql: "SELECT v FROM m; DROP DATABASE telegraf".into(),
        };
        assert!(p.validate().is_err());
        p.query = PanelQuery::Raw {
            influxql: "DELETE FROM m".into(),
        };
        assert!(p.validate().is_err());
    }

    #[test]
    fn uids() {
        assert!(valid_uid(&new_uid()));
        assert!(!valid_uid("../x"));
        assert!(!valid_uid(""));
    }
}
