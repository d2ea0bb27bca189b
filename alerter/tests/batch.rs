//! Batch semantics over a fake [`BatchSource`]: the query Kapacitor would run, the
//! window, batch times, empty buckets, and alert state across runs.

use std::collections::BTreeMap;
use std::sync::Mutex;

use alerter::batch::{BatchSource, BoxFuture, QuerySpec};
use alerter::gofmt::parse_rfc3339;
use alerter::runtime::Task;
use alerter::testrun::run_query;
use alerter::tick::{self, CheckOptions};
use alerter::{Error, Options};
use tsdb::query::{Cell, SeriesResult};

struct Fake {
    queries: Mutex<Vec<String>>,
    answers: Mutex<Vec<Vec<SeriesResult>>>,
}

impl BatchSource for Fake {
    fn query<'a>(
        &'a self,
        db: &'a str,
        rp: &'a str,
        query: &'a str,
        _now: i64,
    ) -> BoxFuture<'a, Result<Vec<SeriesResult>, Error>> {
        Box::pin(async move {
            self.queries
                .lock()
                .map_err(|_| Error::Query("poisoned".into()))?
                .push(format!("{db}.{rp}: {query}"));
            let mut a = self
                .answers
                .lock()
                .map_err(|_| Error::Query("poisoned".into()))?;
            if a.is_empty() {
                return Err(Error::Query("no more answers".into()));
            }
            Ok(a.remove(0))
        })
    }
}

fn t(s: &str) -> i64 {
    parse_rfc3339(s).expect("time")
}

#[allow(clippy::needless_update)]
fn series(cpu: &str, rows: &[(&str, Option<f64>)]) -> SeriesResult {
    let mut tags = BTreeMap::new();
    tags.insert("cpu".to_string(), cpu.to_string());
    SeriesResult {
        name: Some("cpu".into()),
        tags: Some(tags),
        columns: vec!["time".into(), "mean".into()],
        values: rows
            .iter()
            .map(|(ts, v)| vec![Cell::Time(t(ts)), v.map_or(Cell::Null, Cell::Float)])
            .collect(),
        // Other fields may be added to the engine's result type.
        ..Default::default()
    }
}

const SCRIPT: &str = r#"dbrp "telegraf"."autogen"
batch
    |query('SELECT mean(usage_idle) FROM "telegraf"."autogen"."cpu" WHERE host = \'h1\'')
        .period(5m)
        .every(1m)
        .offset(30s)
        .groupBy(time(1m), 'cpu')
        .fill('none')
    |alert()
        .crit(lambda: "mean" < 70)
        .stateChangesOnly()
"#;

#[tokio::test]
async fn query_text_window_and_state_across_runs() {
    let graph = tick::compile(SCRIPT, &CheckOptions::strict()).expect("compile");
    let specs = QuerySpec::all(&graph).expect("specs");
    let spec = &specs[0];
    let mut task = Task::new("b", graph, &Options::default()).expect("task");
    let fake = Fake {
        queries: Mutex::new(Vec::new()),
        answers: Mutex::new(vec![
            // Empty buckets (nulls) are dropped; the batch time is the latest row.
            vec![series(
                "cpu0",
                &[
                    ("2024-01-01T00:00:00Z", Some(80.0)),
                    ("2024-01-01T00:01:00Z", Some(60.0)),
                    ("2024-01-01T00:02:00Z", None),
                ],
            )],
            // Same level again: stateChangesOnly holds it back, across runs.
            vec![series("cpu0", &[("2024-01-01T00:01:00Z", Some(60.0))])],
            // All rows null: an empty batch sends nothing.
            vec![series("cpu0", &[("2024-01-01T00:03:00Z", None)])],
            vec![series("cpu0", &[("2024-01-01T00:04:00Z", Some(99.0))])],
        ]),
    };
    let mut events = Vec::new();
    for now in ["00:05:30", "00:06:30", "00:07:30", "00:08:30"] {
        let now = t(&format!("2024-01-01T{now}Z"));
        events.extend(run_query(&mut task, spec, &fake, now).await.expect("run"));
    }
    let queries = fake.queries.lock().expect("lock").clone();
    assert_eq!(
        queries[0],
        "telegraf.autogen: SELECT mean(usage_idle) FROM telegraf.autogen.cpu WHERE (host = 'h1') AND (time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:05:00Z') GROUP BY time(1m), cpu fill(none)"
    );
    let got: Vec<(String, String, i64)> = events
        .iter()
        .map(|e| {
            (
                e.level.to_string(),
                alerter::gofmt::rfc3339(e.time),
                e.duration,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "CRITICAL".to_string(),
                "2024-01-01T00:01:00Z".to_string(),
                0
            ),
            // Recovery: OK events carry the batch time (the latest row).
            (
                "OK".to_string(),
                "2024-01-01T00:04:00Z".to_string(),
                180_000_000_000
            ),
        ]
    );
    assert_eq!(
        spec.next_after(t("2024-01-01T00:05:10Z"), 0),
        Some(t("2024-01-01T00:06:00Z"))
    );
}

#[test]
fn batch_query_must_read_task_dbrps() {
    let script = r#"dbrp "telegraf"."autogen"
batch|query('SELECT mean(x) FROM "other"."autogen"."cpu"').period(1m).every(1m)|alert()"#;
    let graph = tick::compile(script, &CheckOptions::strict()).expect("compile");
    let err = Task::new("b", graph, &Options::default()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "query1: batch query is not allowed to request data from \"other\".\"autogen\""
    );
}

#[test]
fn subquery_sources_must_read_task_dbrps() {
    // The check walks into subqueries: a nested read of another database is refused
    // as a direct one is, and the same query over the task's dbrp is accepted.
    let q = |db: &str| {
        format!(
            r#"dbrp "telegraf"."autogen"
batch|query('SELECT max(mean) FROM (SELECT mean(x) FROM (SELECT x FROM "{db}"."autogen"."cpu"))').period(1m).every(1m)|alert()"#
        )
    };
    let graph = tick::compile(&q("other"), &CheckOptions::strict()).expect("compile");
    let err = Task::new("b", graph, &Options::default()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "query1: batch query is not allowed to request data from \"other\".\"autogen\""
    );
    let graph = tick::compile(&q("telegraf"), &CheckOptions::strict()).expect("compile");
    let spec = &QuerySpec::all(&graph).expect("accepted")[0];
    assert_eq!(
        (spec.db.as_str(), spec.rp.as_str()),
        ("telegraf", "autogen")
    );
}

#[test]
fn cron_schedule() {
    let script = r#"dbrp "telegraf"."autogen"
batch|query('SELECT mean(x) FROM "telegraf"."autogen"."cpu"').period(1m).cron('*/15 * * * *')|alert()"#;
    let graph = tick::compile(script, &CheckOptions::strict()).expect("compile");
    let spec = &QuerySpec::all(&graph).expect("spec")[0];
    assert_eq!(
        spec.next_after(t("2024-01-01T00:07:00Z"), 0),
        Some(t("2024-01-01T00:15:00Z"))
    );
}
