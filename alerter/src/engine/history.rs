//! Alert history for readers such as the web UI: the events the outbox holds, read back
//! through a read-only connection to `alerter.db` (so a slow page never holds the lock
//! the running tasks commit under).
//!
//! The outbox keeps one row per event and handler; this reads each event once (the row of
//! handler 0). What it can show follows from that: events of alert nodes without handlers
//! are never queued, delivered rows are pruned to the newest 10,000 per task, and deleting
//! a task deletes its events.

use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};
use serde::Serialize;

use super::Engine;
use crate::alert::Level;
use crate::error::Error;
use crate::options::Options;

/// Rows read at most per query; filters apply to these, newest first.
const SCAN_LIMIT: i64 = 50_000;

/// Which events [`Engine::history`] returns. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub task: Option<String>,
    /// Events at exactly this level.
    pub level: Option<Level>,
    /// Events whose series has this tag value (`host` for the UI's host filter).
    pub tag: Option<(String, String)>,
    /// ns since the epoch, inclusive.
    pub from_ns: Option<i64>,
    pub to_ns: Option<i64>,
    /// At most this many, newest first; 0 means 100.
    pub limit: usize,
}

/// Where an event's deliveries stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    Pending,
    Delivered,
    /// Given up after the maximum number of attempts.
    Failed,
}

/// One alert event as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEvent {
    pub task: String,
    /// Alert node name (`alert5`).
    pub node: String,
    pub id: String,
    pub level: Level,
    pub previous_level: Level,
    /// ns since the epoch.
    pub time: i64,
    /// ns.
    pub duration: i64,
    pub message: String,
    /// Tags of the event's series.
    pub tags: BTreeMap<String, String>,
    /// The `value` column of the event's last row, else its first numeric column.
    pub value: Option<f64>,
    /// Delivery of the first handler.
    pub delivery: Delivery,
}

fn db_err(e: rusqlite::Error) -> Error {
    Error::Db(e.to_string())
}

fn parse_level(s: &str) -> Option<Level> {
    Level::ALL.into_iter().find(|l| l.as_str() == s)
}

/// `task/node/id/time/level` (ids may contain `/`, task and node names do not).
fn split_key(key: &str) -> Option<(&str, &str, &str, i64, Level)> {
    let (task, rest) = key.split_once('/')?;
    let (node, rest) = rest.split_once('/')?;
    let (rest, level) = rest.rsplit_once('/')?;
    let (id, time) = rest.rsplit_once('/')?;
    Some((task, node, id, time.parse().ok()?, parse_level(level)?))
}

fn event_value(series: &serde_json::Value) -> Option<f64> {
    let columns = series.get("columns")?.as_array()?;
    let row = series.get("values")?.as_array()?.last()?.as_array()?;
    let numeric = |i: usize| row.get(i).and_then(|v| v.as_f64());
    columns
        .iter()
        .position(|c| c.as_str() == Some("value"))
        .and_then(numeric)
        .or_else(|| (1..row.len()).find_map(numeric))
}

/// One outbox row to an event; `None` for rows this version cannot read.
fn to_event(task: String, key: &str, json: &str, delivered: i64) -> Option<HistoryEvent> {
    let (_, node, id, time, level) = split_key(key)?;
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let series = v.pointer("/data/series/0");
    let tags = series
        .and_then(|s| s.get("tags"))
        .and_then(|t| t.as_object())
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some(HistoryEvent {
        task,
        node: node.to_string(),
        id: id.to_string(),
        level,
        previous_level: v
            .get("previousLevel")
            .and_then(|l| l.as_str())
            .and_then(parse_level)
            .unwrap_or_default(),
        time,
        duration: v.get("duration").and_then(|d| d.as_i64()).unwrap_or(0),
        message: v
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_string(),
        tags,
        value: series.and_then(event_value),
        delivery: match delivered {
            0 => Delivery::Pending,
            1 => Delivery::Delivered,
            _ => Delivery::Failed,
        },
    })
}

impl Engine {
    /// The alerter's configuration (the log handlers' directory, the address allow-list).
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// Stored alert events matching `q`, newest first. Blocking (a SQLite read).
    pub fn history(&self, q: &HistoryQuery) -> Result<Vec<HistoryEvent>, Error> {
        let conn = Connection::open_with_flags(
            self.inner.dir.join("alerter.db"),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(db_err)?;
        let mut stmt = conn
            .prepare(
                "SELECT task, key, json, delivered FROM outbox
                 WHERE handler = 0 AND (?1 IS NULL OR task = ?1)
                 ORDER BY rowid DESC LIMIT ?2",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![q.task, SCAN_LIMIT], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(db_err)?;
        let limit = if q.limit == 0 { 100 } else { q.limit };
        let mut out = Vec::new();
        for row in rows {
            let (task, key, json, delivered) = row.map_err(db_err)?;
            // Time and level are in the key: most rows are skipped before their JSON is
            // parsed (charts ask for the events of their range on every render).
            let Some((_, _, _, time, level)) = split_key(&key) else {
                continue;
            };
            if q.level.is_some_and(|l| level != l)
                || q.from_ns.is_some_and(|f| time < f)
                || q.to_ns.is_some_and(|t| time > t)
            {
                continue;
            }
            let Some(ev) = to_event(task, &key, &json, delivered) else {
                continue;
            };
            if q.tag
                .as_ref()
                .is_none_or(|(k, v)| ev.tags.get(k) == Some(v))
            {
                out.push(ev);
            }
        }
        // Rowids follow commits; batch tasks may commit older times later.
        out.sort_by_key(|e| std::cmp::Reverse(e.time));
        out.truncate(limit);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_with_slashes_in_the_id() {
        assert_eq!(
            split_key("cpu/alert3/cpu:host=a/b/1700000000000000000/CRITICAL"),
            Some((
                "cpu",
                "alert3",
                "cpu:host=a/b",
                1_700_000_000_000_000_000,
                Level::Critical
            ))
        );
        assert_eq!(split_key("t/alert2/x/notatime/OK"), None);
    }

    #[test]
    fn events_read_back_from_handler_json() {
        let json = r#"{"id":"cpu:host=a","message":"hot","details":"","time":"2023-11-14T22:13:20Z","duration":5000000000,"level":"WARNING","data":{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],"values":[["2023-11-14T22:13:20Z",91.5]]}]},"previousLevel":"OK","recoverable":true}"#;
        let ev = to_event(
            "t".into(),
            "t/alert2/cpu:host=a/1700000000000000000/WARNING",
            json,
            1,
        );
        let Some(ev) = ev else { panic!("not read") };
        assert_eq!(ev.level, Level::Warning);
        assert_eq!(ev.previous_level, Level::Ok);
        assert_eq!(ev.value, Some(91.5));
        assert_eq!(ev.tags.get("host").map(String::as_str), Some("a"));
        assert_eq!(ev.duration, 5_000_000_000);
        assert_eq!(ev.delivery, Delivery::Delivered);
    }
}
