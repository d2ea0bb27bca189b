//! Filling the gap a restart leaves: while tigk is down the engine's subscription pushes
//! fail and are dropped, so at start tigk asks the engine by time for the points it missed
//! and hands them to its spool like pushed ones.
//!
//! Points come back in time order across series (a stream task with one group sees them
//! as it would have), with the field types of `SHOW FIELD KEYS`: 1.x's JSON writes a whole
//! float without a fraction, and the spool must not see it as an integer.

use std::collections::BTreeMap;

use common::{FieldValue, Point};
use influxql::quote_ident;
use tsdb::query::Cell;

use crate::{Client, Error};

/// Points of `db`.`rp` with `after < time <= until`, oldest first, at most `max` of them
/// (the newest are kept: they carry the state a task needs now).
pub fn points_between(
    client: &Client,
    db: &str,
    rp: &str,
    after: i64,
    until: i64,
    max: usize,
) -> Result<Vec<Point>, Error> {
    if after >= until {
        return Ok(Vec::new());
    }
    let mut types: BTreeMap<(String, String), String> = BTreeMap::new();
    for s in client.query_one(db, rp, "SHOW FIELD KEYS")? {
        let m = s.name.clone().unwrap_or_default();
        for row in &s.values {
            if let (Some(Cell::String(f)), Some(Cell::String(t))) = (row.first(), row.get(1)) {
                types.insert((m.clone(), f.clone()), t.clone());
            }
        }
    }
    let q = format!(
        "SELECT * FROM {}.{}./.*/ WHERE time > {after} AND time <= {until} GROUP BY *",
        quote_ident(db),
        quote_ident(rp)
    );
    let mut points = Vec::new();
    for s in client.query_one(db, rp, &q)? {
        let measurement = s.name.clone().unwrap_or_default();
        let tags: Vec<(String, String)> = s
            .tags
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        for row in &s.values {
            let mut time = None;
            let mut fields = Vec::new();
            for (col, cell) in s.columns.iter().zip(row) {
                if col == "time" {
                    if let Cell::Time(t) | Cell::Integer(t) = cell {
                        time = Some(*t);
                    }
                    continue;
                }
                let ty = types
                    .get(&(measurement.clone(), col.clone()))
                    .map(String::as_str);
                let value = match (cell, ty) {
                    (Cell::Null, _) => continue,
                    (Cell::Integer(i), Some("float")) => FieldValue::Float(*i as f64),
                    (Cell::Unsigned(u), Some("float")) => FieldValue::Float(*u as f64),
                    (Cell::Float(f), _) => FieldValue::Float(*f),
                    (Cell::Integer(i), _) => FieldValue::Integer(*i),
                    (Cell::Unsigned(u), _) => FieldValue::Unsigned(*u),
                    (Cell::String(x), _) => FieldValue::String(x.clone()),
                    (Cell::Boolean(b), _) => FieldValue::Boolean(*b),
                    (Cell::Time(t), _) => FieldValue::Integer(*t),
                };
                fields.push((col.clone(), value));
            }
            if let (Some(t), false) = (time, fields.is_empty()) {
                points.push(Point {
                    measurement: measurement.clone(),
                    tags: tags.clone(),
                    fields,
                    timestamp: Some(t),
                });
            }
        }
    }
    points.sort_by(|a, b| {
        (a.timestamp, &a.measurement, &a.tags).cmp(&(b.timestamp, &b.measurement, &b.tags))
    });
    if points.len() > max {
        tracing::warn!(
            "{} points missed in {db}.{rp} since {after}: keeping the newest {max}",
            points.len()
        );
        points.drain(..points.len() - max);
    }
    Ok(points)
}
