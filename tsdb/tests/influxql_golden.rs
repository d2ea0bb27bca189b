//! InfluxQL golden test: every query of tests/golden/queries.txt runs against the data set
//! tests/golden/data.lp and must give the answer InfluxDB 1.6.7 gave
//! (tests/golden/expected.json, recorded by scripts/record-golden.py), or, for queries
//! flagged `@diff`, our deliberate answer (tests/golden/expected-ours.json, reasons in
//! tests/golden/DIFFERENCES.md).
//!
//! Comparison: same statement error, or same series (name, tags, columns) with the same rows;
//! floats within 1e-9 relative; rows with equal timestamps compare as a set (1.x's order of
//! ties between series is not stable). The queries run twice: with the data in the
//! in-memory head, and again after a flush to compressed chunks.
//!
//! `GOLDEN_ACTUAL=path` writes our answers as JSON (for reviewing), `GOLDEN_BLESS_OURS=1`
//! rewrites expected-ours.json from our answers to the `@diff` queries, `GOLDEN_DIR=dir`
//! reads data.lp, queries.txt and expected.json from another directory (for trying queries
//! answered by `scripts/record-golden.py --serve`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::line_protocol::{Parser, Precision};
use serde_json::{Value as Json, json};
use tsdb::auth::Principal;
use tsdb::query::{Cell, QueryContext, QueryEngine, QueryLimits, StatementResult};
use tsdb::storage::PointBatch;
use tsdb::{Store, StoreOptions};

const DB: &str = "golden";

fn golden_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("GOLDEN_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

struct Query {
    text: String,
    nodb: bool,
    diff: bool,
}

fn queries() -> Vec<Query> {
    let text = std::fs::read_to_string(golden_dir().join("queries.txt")).expect("queries.txt");
    let mut out = Vec::new();
    for line in text.lines() {
        let mut line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (mut nodb, mut diff) = (false, false);
        while line.starts_with('@') {
            let (flag, rest) = line.split_once(' ').unwrap_or((line, ""));
            match flag {
                "@nodb" => nodb = true,
                "@diff" => diff = true,
                other => panic!("unknown flag {other}"),
            }
            line = rest.trim();
        }
        out.push(Query {
            text: line.to_string(),
            nodb,
            diff,
        });
    }
    out
}

async fn load(store: &Store) {
    store.create_database(DB).await.expect("create db");
    store
        .create_retention_policy(DB, "short", 0, 7 * 24 * 3600 * 1_000_000_000, 1, false)
        .await
        .expect("create rp");
    let data = std::fs::read_to_string(golden_dir().join("data.lp")).expect("data.lp");
    let mut rp = "autogen".to_string();
    let mut block = String::new();
    let mut blocks = Vec::new();
    for line in data.lines() {
        if let Some(r) = line.strip_prefix("# rp=") {
            blocks.push((rp.clone(), std::mem::take(&mut block)));
            rp = r.to_string();
        } else if !line.starts_with('#') {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks.push((rp, block));
    for (rp, body) in blocks {
        let mut batch = PointBatch::new();
        for p in Parser::new(body.as_bytes(), Precision::Nanosecond) {
            batch.push(&p.expect("data.lp parses"), 0);
        }
        let out = store
            .write(DB, Some(&rp), batch, now())
            .await
            .expect("write");
        assert_eq!(out.dropped, 0, "{:?}", out.drop_reason);
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn cell_json(c: &Cell) -> Json {
    match c {
        Cell::Null => Json::Null,
        Cell::Float(f) => json!(f),
        Cell::Integer(i) => json!(i),
        Cell::Unsigned(u) => json!(u),
        Cell::String(s) => json!(s),
        Cell::Boolean(b) => json!(b),
        Cell::Time(t) => json!(t),
    }
}

/// Our answer in 1.x's JSON shape (epoch=ns).
fn result_json(r: &StatementResult) -> Json {
    let mut o = serde_json::Map::new();
    o.insert("statement_id".into(), json!(r.statement_id));
    if let Some(e) = &r.error {
        o.insert("error".into(), json!(e));
    } else if !r.series.is_empty() {
        let series: Vec<Json> = r
            .series
            .iter()
            .map(|s| {
                let mut so = serde_json::Map::new();
                if let Some(n) = &s.name {
                    so.insert("name".into(), json!(n));
                }
                if let Some(t) = &s.tags {
                    so.insert("tags".into(), json!(t));
                }
                so.insert("columns".into(), json!(s.columns));
                let values: Vec<Json> = s
                    .values
                    .iter()
                    .map(|row| Json::Array(row.iter().map(cell_json).collect()))
                    .collect();
                so.insert("values".into(), Json::Array(values));
                Json::Object(so)
            })
            .collect();
        o.insert("series".into(), Json::Array(series));
    }
    Json::Object(o)
}

fn num_eq(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => {
            if let (Some(i), Some(j)) = (a.as_i64(), b.as_i64()) {
                return i == j;
            }
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        _ => a == b,
    }
}

/// Sorts rows with equal timestamps by their text, so ties compare as sets.
fn normalise_rows(rows: &[Json]) -> Vec<Json> {
    let mut rows = rows.to_vec();
    let mut i = 0;
    while i < rows.len() {
        let t = rows.get(i).and_then(|r| r.get(0)).cloned();
        let mut j = i + 1;
        while j < rows.len() && rows.get(j).and_then(|r| r.get(0)).cloned() == t {
            j += 1;
        }
        if let Some(run) = rows.get_mut(i..j) {
            run.sort_by_key(|r| r.to_string());
        }
        i = j;
    }
    rows
}

/// Why two statement results differ, or `None` when they agree.
fn compare(expected: &Json, actual: &Json) -> Option<String> {
    let (ee, ae) = (expected.get("error"), actual.get("error"));
    if ee.is_some() || ae.is_some() {
        return (ee != ae).then(|| format!("error: expected {ee:?}, got {ae:?}"));
    }
    let empty = Vec::new();
    let es = expected
        .get("series")
        .and_then(Json::as_array)
        .unwrap_or(&empty);
    let as_ = actual
        .get("series")
        .and_then(Json::as_array)
        .unwrap_or(&empty);
    if es.len() != as_.len() {
        return Some(format!("{} series expected, got {}", es.len(), as_.len()));
    }
    for (k, (e, a)) in es.iter().zip(as_).enumerate() {
        for key in ["name", "tags", "columns"] {
            if e.get(key) != a.get(key) {
                return Some(format!(
                    "series {k}: {key} expected {:?}, got {:?}",
                    e.get(key),
                    a.get(key)
                ));
            }
        }
        let ev = normalise_rows(e.get("values").and_then(Json::as_array).unwrap_or(&empty));
        let av = normalise_rows(a.get("values").and_then(Json::as_array).unwrap_or(&empty));
        if ev.len() != av.len() {
            return Some(format!(
                "series {k}: {} rows expected, got {}",
                ev.len(),
                av.len()
            ));
        }
        for (r, (er, ar)) in ev.iter().zip(&av).enumerate() {
            let (Some(ec), Some(ac)) = (er.as_array(), ar.as_array()) else {
                continue;
            };
            if ec.len() != ac.len() || ec.iter().zip(ac).any(|(x, y)| !num_eq(x, y)) {
                return Some(format!("series {k} row {r}: expected {er}, got {ar}"));
            }
        }
    }
    None
}

async fn run_all(
    engine: &QueryEngine,
    qs: &[Query],
    expected: &[Json],
    ours: &BTreeMap<String, Json>,
    phase: &str,
) -> (Vec<String>, BTreeMap<String, Json>) {
    let mut failures = Vec::new();
    let mut actual = BTreeMap::new();
    for (q, exp) in qs.iter().zip(expected) {
        assert_eq!(
            exp.get("query").and_then(Json::as_str),
            Some(q.text.as_str()),
            "expected.json is stale: rerun scripts/record-golden.py"
        );
        let got = match influxql::parse_query_opts(&q.text, None, &tsdb::query::parse_options()) {
            Ok(parsed) => {
                let ctx = QueryContext {
                    database: (!q.nodb).then(|| DB.to_string()),
                    retention_policy: None,
                    principal: Principal::anonymous_admin(),
                    now: now(),
                    limits: QueryLimits::default(),
                    read_only_method: false,
                };
                let results = engine.execute(&parsed, &ctx).await;
                results.first().map(result_json).unwrap_or(Json::Null)
            }
            Err(e) => json!({ "request_error": format!("error parsing query: {e}") }),
        };
        actual.insert(q.text.clone(), got.clone());
        let want = if q.diff {
            match ours.get(&q.text) {
                Some(w) => w.clone(),
                None => {
                    failures.push(format!(
                        "[{phase}] {}\n    no entry in expected-ours.json",
                        q.text
                    ));
                    continue;
                }
            }
        } else if let Some(err) = exp.get("error") {
            json!({ "request_error": err })
        } else {
            exp.get("result").cloned().unwrap_or(Json::Null)
        };
        let diff = if want.get("request_error").is_some() || got.get("request_error").is_some() {
            (want.get("request_error") != got.get("request_error")).then(|| {
                format!(
                    "request error: expected {:?}, got {:?}",
                    want.get("request_error"),
                    got.get("request_error")
                )
            })
        } else {
            compare(&want, &got)
        };
        if let Some(d) = diff {
            failures.push(format!("[{phase}] {}\n    {d}", q.text));
        }
    }
    (failures, actual)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxql_matches_influxdb_1_6_7() {
    let qs = queries();
    let expected_doc: Json = serde_json::from_str(
        &std::fs::read_to_string(golden_dir().join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    let expected = expected_doc
        .get("queries")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        expected.len(),
        qs.len(),
        "expected.json is stale: rerun scripts/record-golden.py"
    );
    let ours: BTreeMap<String, Json> =
        std::fs::read_to_string(golden_dir().join("expected-ours.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open store");
    load(&store).await;
    let engine = QueryEngine::new(store.clone());

    let (mut failures, actual) = run_all(&engine, &qs, &expected, &ours, "head").await;
    store.flush().await.expect("flush");
    let (more, _) = run_all(&engine, &qs, &expected, &ours, "chunks").await;
    failures.extend(more);

    if let Ok(path) = std::env::var("GOLDEN_ACTUAL") {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&actual).unwrap_or_default(),
        )
        .expect("write actual");
    }
    if std::env::var("GOLDEN_BLESS_OURS").is_ok() {
        let blessed: BTreeMap<String, Json> = qs
            .iter()
            .filter(|q| q.diff)
            .filter_map(|q| actual.get(&q.text).map(|a| (q.text.clone(), a.clone())))
            .collect();
        std::fs::write(
            golden_dir().join("expected-ours.json"),
            serde_json::to_string_pretty(&blessed).unwrap_or_default() + "\n",
        )
        .expect("write expected-ours.json");
    }
    let store2 = store.clone();
    tokio::task::spawn_blocking(move || store2.shutdown())
        .await
        .expect("shutdown");
    let total = qs.len() * 2;
    assert!(
        failures.is_empty(),
        "{} of {total} golden checks differ from InfluxDB 1.6.7:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
