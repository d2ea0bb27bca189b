//! Alert topics and their events (Kapacitor's `/alerts/topics`), read from the outbox.
//!
//! Every alert node with handlers publishes to its anonymous topic
//! `main:<task>:<node>`; a topic's events are the latest state of each event id, and
//! its level the highest of those. What the outbox no longer holds (pruned delivered
//! rows, deleted tasks) is not shown.

use std::collections::BTreeMap;

use crate::alert::Level;
use crate::error::Error;

use super::{Engine, lock};

/// The latest state of one event id in a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicEvent {
    pub id: String,
    pub level: Level,
    pub message: String,
    pub details: String,
    /// ns since the epoch.
    pub time: i64,
    /// ns.
    pub duration: i64,
}

/// One topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub id: String,
    /// The highest level among its events.
    pub level: Level,
    /// Events published to it (as far as the outbox keeps them).
    pub collected: u64,
    /// By event id.
    pub events: Vec<TopicEvent>,
}

fn parse_level(s: &str) -> Level {
    Level::ALL
        .into_iter()
        .find(|l| l.as_str() == s)
        .unwrap_or_default()
}

impl Engine {
    /// All topics, sorted by id.
    pub fn topics(&self) -> Result<Vec<Topic>, Error> {
        let rows = lock(&self.inner.db).events()?;
        let mut topics: BTreeMap<String, (u64, BTreeMap<String, TopicEvent>)> = BTreeMap::new();
        for (task, node, json) in rows {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&json) else {
                continue;
            };
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            let ev = TopicEvent {
                id: s("id"),
                level: parse_level(&s("level")),
                message: s("message"),
                details: s("details"),
                time: crate::gofmt::parse_rfc3339(&s("time")).unwrap_or(0),
                duration: v.get("duration").and_then(|d| d.as_i64()).unwrap_or(0),
            };
            let t = topics.entry(format!("main:{task}:{node}")).or_default();
            t.0 += 1;
            // Rows are oldest first: the last one per id is its state.
            t.1.insert(ev.id.clone(), ev);
        }
        Ok(topics
            .into_iter()
            .map(|(id, (collected, events))| Topic {
                level: events.values().map(|e| e.level).max().unwrap_or_default(),
                id,
                collected,
                events: events.into_values().collect(),
            })
            .collect())
    }

    /// One topic.
    pub fn topic(&self, id: &str) -> Result<Topic, Error> {
        self.topics()?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::NotFound(format!("topic {id}")))
    }
}
