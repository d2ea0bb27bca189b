//! `tigk task replay`: a defined task over a time range of the server's stored data, in
//! an isolated in-memory engine, printing each alert event as one JSON line (what
//! `tigk task test` prints for a file). Nothing is delivered and the running task is
//! not touched.
//!
//! The points come from the server's 1.x `/query` API (every measurement of the task's
//! first dbrp in the range, with field types from `SHOW FIELD KEYS`), so a replay sees
//! what the store holds now: data deleted or expired since is not replayed.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use common::{FieldValue, Point};
use serde_json::Value;

use super::task::{Conn, call, get_query};

pub fn replay(conn: &Conn, id: &str, from: &str, to: &str) -> anyhow::Result<()> {
    let instant = |s: &str| {
        alerter::gofmt::parse_rfc3339(s).with_context(|| format!("not an RFC 3339 time: {s}"))
    };
    let (from, to) = (instant(from)?, instant(to)?);
    if from >= to {
        bail!("--from must be before --to");
    }
    let task = call(conn, "GET", &format!("/kapacitor/v1/tasks/{id}"), None)?;
    let script = task["script"].as_str().unwrap_or_default().to_string();
    let vars: BTreeMap<String, alerter::engine::Var> =
        serde_json::from_value(task["vars"].clone()).unwrap_or_default();
    let vars = alerter::engine::var_values(&vars)?;
    let listed: Vec<alerter::tick::Dbrp> = task["dbrps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| alerter::tick::Dbrp {
            db: d["db"].as_str().unwrap_or_default().to_string(),
            rp: d["rp"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    // dbrps given with the definition (not in the script) are passed the same way.
    let in_script = alerter::tick::compile(
        &script,
        &alerter::tick::CheckOptions {
            vars: vars.clone(),
            ..Default::default()
        },
    )
    .map(|g| !g.dbrps.is_empty())
    .unwrap_or(true);
    let Some(dbrp) = listed.first().cloned() else {
        bail!("task {id} has no dbrp");
    };
    let points = stored_points(conn, &dbrp, from, to)?;
    let mut input = String::new();
    for p in &points {
        common::line_protocol::write_point(&mut input, p);
        input.push('\n');
    }
    let opts = alerter::testrun::TestRunOptions {
        name: id.to_string(),
        dbrps: if in_script { Vec::new() } else { listed },
        vars,
        range: Some((from, to)),
        ..Default::default()
    };
    let events = alerter::testrun::test_run(&script, &input, &opts)
        .map_err(|e| anyhow::anyhow!("task {id}: {e}"))?;
    for e in events {
        println!("{}", e.to_json());
    }
    Ok(())
}

/// Every point of `dbrp` with `from <= time < to`, in time order.
fn stored_points(
    conn: &Conn,
    dbrp: &alerter::tick::Dbrp,
    from: i64,
    to: i64,
) -> anyhow::Result<Vec<Point>> {
    let db = &dbrp.db;
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let measurements = first_column(&get_query(conn, db, "SHOW MEASUREMENTS")?);
    let mut points = Vec::new();
    for m in measurements {
        let source = format!("{}.{}.{}", quote(db), quote(&dbrp.rp), quote(&m));
        let keys = get_query(conn, db, &format!("SHOW FIELD KEYS FROM {source}"))?;
        let types: BTreeMap<String, String> = rows(&keys)
            .filter_map(|r| Some((r.first()?.as_str()?.into(), r.get(1)?.as_str()?.into())))
            .collect();
        let q = format!("SELECT * FROM {source} WHERE time >= {from} AND time < {to} GROUP BY *");
        let data = get_query(conn, db, &q)?;
        for series in all_series(&data) {
            let tags: Vec<(String, String)> = series["tags"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            let columns: Vec<&str> = series["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().unwrap_or_default())
                .collect();
            for row in series["values"].as_array().into_iter().flatten() {
                let Some(row) = row.as_array() else { continue };
                let Some(time) = row.first().and_then(Value::as_i64) else {
                    continue;
                };
                let fields: Vec<(String, FieldValue)> = columns
                    .iter()
                    .zip(row)
                    .skip(1)
                    .filter_map(|(c, v)| {
                        let ty = types.get(*c).map(String::as_str).unwrap_or("float");
                        Some((c.to_string(), field_value(ty, v)?))
                    })
                    .collect();
                if fields.is_empty() {
                    continue;
                }
                points.push(Point {
                    measurement: m.clone(),
                    tags: tags.clone(),
                    fields,
                    timestamp: Some(time),
                });
            }
        }
    }
    // As a stream would have seen them: in time order across measurements and series.
    points.sort_by_key(|p| p.timestamp);
    Ok(points)
}

fn field_value(ty: &str, v: &Value) -> Option<FieldValue> {
    Some(match ty {
        "integer" => FieldValue::Integer(v.as_i64()?),
        "unsigned" => FieldValue::Unsigned(v.as_u64()?),
        "string" => FieldValue::String(v.as_str()?.to_string()),
        "boolean" => FieldValue::Boolean(v.as_bool()?),
        _ => FieldValue::Float(v.as_f64()?),
    })
}

fn all_series(result: &Value) -> impl Iterator<Item = &Value> {
    result["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["series"].as_array().into_iter().flatten())
}

fn rows(result: &Value) -> impl Iterator<Item = &Vec<Value>> {
    all_series(result)
        .flat_map(|s| s["values"].as_array().into_iter().flatten())
        .filter_map(Value::as_array)
}

fn first_column(result: &Value) -> Vec<String> {
    rows(result)
        .filter_map(|r| r.first()?.as_str().map(str::to_string))
        .collect()
}
