//! Alert events and the JSON handlers receive (Kapacitor's `alert.Data`).

use serde::{Deserialize, Serialize};

use crate::gofmt;
use crate::runtime::model::{Fields, Tags};

/// Alert levels, ordered.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum Level {
    #[default]
    Ok,
    Info,
    Warning,
    Critical,
}

impl Level {
    /// Kapacitor's name: `OK`, `INFO`, `WARNING`, `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        }
    }

    pub(crate) const ALL: [Level; 4] = [Level::Ok, Level::Info, Level::Warning, Level::Critical];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value in the event's data rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    Null,
    Float(f64),
    Int(i64),
    Str(String),
    Bool(bool),
}

impl From<&common::FieldValue> for Cell {
    fn from(v: &common::FieldValue) -> Cell {
        use common::FieldValue as F;
        match v {
            F::Float(f) => Cell::Float(*f),
            F::Integer(i) => Cell::Int(*i),
            F::Unsigned(u) => Cell::Int(i64::try_from(*u).unwrap_or(i64::MAX)),
            F::String(s) => Cell::Str(s.clone()),
            F::Boolean(b) => Cell::Bool(*b),
        }
    }
}

/// One InfluxQL-style series: what the alert saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub tags: Tags,
    /// Field columns, sorted (the `time` column is implicit and first).
    pub columns: Vec<String>,
    /// (time, one cell per field column).
    pub rows: Vec<(i64, Vec<Cell>)>,
}

impl Series {
    /// A series from rows of (time, fields): the columns are the sorted union of names.
    pub fn from_rows<'a>(
        name: &str,
        tags: &Tags,
        rows: impl Iterator<Item = (i64, &'a Fields)> + Clone,
    ) -> Series {
        let mut columns: Vec<String> = rows.clone().flat_map(|(_, f)| f.keys().cloned()).collect();
        columns.sort();
        columns.dedup();
        let rows = rows
            .map(|(t, f)| {
                let cells = columns
                    .iter()
                    .map(|c| f.get(c).map_or(Cell::Null, Cell::from))
                    .collect();
                (t, cells)
            })
            .collect();
        Series {
            name: name.to_string(),
            tags: tags.clone(),
            columns,
            rows,
        }
    }

    pub(crate) fn json(&self, out: &mut String) {
        out.push_str("{\"name\":");
        gofmt::json_string(out, &self.name);
        if !self.tags.is_empty() {
            out.push_str(",\"tags\":{");
            for (i, (k, v)) in self.tags.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                gofmt::json_string(out, k);
                out.push(':');
                gofmt::json_string(out, v);
            }
            out.push('}');
        }
        out.push_str(",\"columns\":[\"time\"");
        for c in &self.columns {
            out.push(',');
            gofmt::json_string(out, c);
        }
        out.push_str("],\"values\":[");
        for (i, (t, cells)) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            gofmt::json_string(out, &gofmt::rfc3339(*t));
            for c in cells {
                out.push(',');
                match c {
                    Cell::Null => out.push_str("null"),
                    Cell::Float(f) => out.push_str(&gofmt::float_json(*f)),
                    Cell::Int(i) => out.push_str(&i.to_string()),
                    Cell::Str(s) => gofmt::json_string(out, s),
                    Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                }
            }
            out.push(']');
        }
        out.push_str("]}");
    }
}

/// One alert event, as an alert node sends it to its handlers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Task id.
    pub task: String,
    /// Alert node name (`alert2`).
    pub node: String,
    pub id: String,
    pub message: String,
    pub details: String,
    /// ns since the epoch.
    pub time: i64,
    /// ns.
    pub duration: i64,
    pub level: Level,
    pub previous_level: Level,
    pub recoverable: bool,
    pub data: Series,
}

impl AlertEvent {
    /// The JSON handlers receive, byte for byte as Kapacitor's `json.Marshal(alert.Data)`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("{\"id\":");
        gofmt::json_string(&mut out, &self.id);
        out.push_str(",\"message\":");
        gofmt::json_string(&mut out, &self.message);
        out.push_str(",\"details\":");
        gofmt::json_string(&mut out, &self.details);
        out.push_str(",\"time\":");
        gofmt::json_string(&mut out, &gofmt::rfc3339(self.time));
        out.push_str(&format!(",\"duration\":{}", self.duration));
        out.push_str(&format!(",\"level\":\"{}\"", self.level));
        out.push_str(",\"data\":{\"series\":[");
        self.data.json(&mut out);
        out.push_str("]}");
        out.push_str(&format!(
            ",\"previousLevel\":\"{}\",\"recoverable\":{}}}",
            self.previous_level, self.recoverable
        ));
        out
    }

    /// A key that identifies the event across replays (for deduplication by receivers
    /// and the outbox): task, node, id, time and level.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.task, self.node, self.id, self.time, self.level
        )
    }
}
