//! The engine over a real store: define/enable/show, stream tasks following the write
//! log, and restart safety (state restored, log replayed, no event sent twice).

mod support;

use std::path::Path;
use std::time::Duration;

use alerter::Options;
use alerter::engine::{Engine, Status, TaskRequest};

const SCRIPT: &str = r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: "usage_idle" < 70)
        .stateChangesOnly()
        .details('')
        .log('LOG')
"#;

async fn write(store: &tsdb::Store, line: &str) {
    let mut batch = tsdb::storage::PointBatch::new();
    let mut parser = common::line_protocol::Parser::new(line.as_bytes(), Default::default());
    let p = parser.next().expect("line").expect("point");
    batch.push(&p, 0);
    store
        .write("telegraf", None, batch, 0)
        .await
        .expect("write");
}

async fn lines(path: &Path, n: usize) -> Vec<String> {
    for _ in 0..300 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let l: Vec<String> = text.lines().map(str::to_string).collect();
        if l.len() >= n {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {n} lines in {}", path.display());
}

fn levels(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            format!(
                "{} {}",
                v["level"].as_str().unwrap_or(""),
                v["time"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn stream_task_survives_a_restart_without_refiring() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::telegraf_store(dir.path()).await;
    let alerts = dir.path().join("alerts");
    std::fs::create_dir_all(&alerts).expect("dir");
    let log = alerts.join("cpu.log");
    let opts = Options {
        alert_dir: Some(alerts.clone()),
        ..Options::default()
    };
    let script = SCRIPT.replace("LOG", &log.to_string_lossy());
    let engine =
        Engine::open(&dir.path().join("alerter"), store.clone(), opts.clone()).expect("engine");
    let info = engine
        .define(TaskRequest {
            id: Some("cpu_alert".into()),
            script: Some(script),
            status: Some(Status::Enabled),
            ..Default::default()
        })
        .expect("define");
    assert!(info.executing);
    assert_eq!(info.def.dbrps.len(), 1);

    write(&store, "cpu,host=h1 usage_idle=50 1704067200000000000").await;
    assert_eq!(
        levels(&lines(&log, 1).await),
        ["CRITICAL 2024-01-01T00:00:00Z"]
    );
    let shown = engine.show("cpu_alert").expect("show");
    assert!(
        shown.dot.contains("alert2 [alerts_triggered=\"1\""),
        "{}",
        shown.dot
    );
    assert!(
        shown.dot.contains("stream0 -> from1 [processed=\"1\"];"),
        "{}",
        shown.dot
    );
    engine.shutdown();
    drop(engine);

    // Written while the alerter is down: still CRITICAL (no event with
    // stateChangesOnly, even though the process restarted), then a recovery.
    write(&store, "cpu,host=h1 usage_idle=40 1704067210000000000").await;
    write(&store, "cpu,host=h1 usage_idle=90 1704067220000000000").await;

    let engine =
        Engine::open(&dir.path().join("alerter"), store.clone(), opts.clone()).expect("reopen");
    let got = levels(&lines(&log, 2).await);
    assert_eq!(
        got,
        ["CRITICAL 2024-01-01T00:00:00Z", "OK 2024-01-01T00:00:20Z"]
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(levels(&lines(&log, 2).await).len(), 2, "nothing sent twice");
    let list = engine.list();
    assert_eq!(list.len(), 1);
    assert!(list[0].executing);

    engine.disable("cpu_alert").expect("disable");
    assert!(!engine.show("cpu_alert").expect("show").executing);
    engine.delete("cpu_alert").expect("delete");
    assert!(engine.show("cpu_alert").is_err());
    engine.shutdown();
    store.shutdown();
}

#[tokio::test]
async fn define_refuses_bad_tasks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        tsdb::Store::open(&dir.path().join("store"), tsdb::StoreOptions::default()).expect("store");
    let engine = Engine::open(
        &dir.path().join("alerter"),
        store.clone(),
        Options::default(),
    )
    .expect("engine");
    let cases = [
        ("stream|from()|alert()", "must specify dbrp"),
        (
            "dbrp \"a\".\"b\"\nstream|from()|alert().log('/tmp/x.log')",
            "alert log path \"/tmp/x.log\" refused: no alert directory is configured for log handlers",
        ),
        (
            "dbrp \"a\".\"b\"\nstream|from()|httpPost('http://example.com/').codeField('code')",
            "not supported yet",
        ),
        (
            // The httpPost node shares the post handler's address guard.
            "dbrp \"a\".\"b\"\nstream|from()|httpPost('http://169.254.169.254/latest')",
            "private, loopback or link-local",
        ),
    ];
    for (script, want) in cases {
        let err = engine
            .define(TaskRequest {
                id: Some("t".into()),
                script: Some(script.into()),
                ..Default::default()
            })
            .expect_err(script);
        assert!(err.to_string().contains(want), "{script}: {err}");
    }
    let err = engine
        .define(TaskRequest {
            id: Some("bad id!".into()),
            script: Some("dbrp \"a\".\"b\"\nstream|from()".into()),
            ..Default::default()
        })
        .expect_err("id");
    assert!(err.to_string().starts_with("task ID must contain only"));
    engine.shutdown();
    store.shutdown();
}

#[tokio::test]
async fn batch_task_runs_on_its_schedule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::telegraf_store(dir.path()).await;
    let alerts = dir.path().join("alerts");
    std::fs::create_dir_all(&alerts).expect("dir");
    let log = alerts.join("batch.log");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64;
    write(
        &store,
        &format!("cpu,cpu=cpu0 usage_idle=50 {}", now - 1_000_000_000),
    )
    .await;
    let script = format!(
        r#"dbrp "telegraf"."autogen"
batch
    |query('SELECT mean(usage_idle) FROM "telegraf"."autogen"."cpu"')
        .period(1h)
        .every(200ms)
        .groupBy('cpu')
    |alert()
        .crit(lambda: "mean" < 70)
        .stateChangesOnly()
        .details('')
        .log('{}')
"#,
        log.display()
    );
    let opts = Options {
        alert_dir: Some(alerts.clone()),
        ..Options::default()
    };
    let engine = Engine::open(&dir.path().join("alerter"), store.clone(), opts).expect("engine");
    engine
        .define(TaskRequest {
            id: Some("batch".into()),
            script: Some(script),
            status: Some(Status::Enabled),
            ..Default::default()
        })
        .expect("define");
    let got = lines(&log, 1).await;
    let v: serde_json::Value = serde_json::from_str(&got[0]).expect("json");
    assert_eq!(v["id"], "cpu:cpu=cpu0");
    assert_eq!(v["level"], "CRITICAL");
    assert_eq!(v["data"]["series"][0]["values"][0][1], 50.0);
    // stateChangesOnly across runs: later runs see the same level and stay quiet.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(lines(&log, 1).await.len(), 1);
    engine.shutdown();
    store.shutdown();
}

#[tokio::test]
async fn a_crash_before_the_state_is_saved_does_not_resend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::telegraf_store(dir.path()).await;
    let alerts = dir.path().join("alerts");
    std::fs::create_dir_all(&alerts).expect("dir");
    let log = alerts.join("cpu.log");
    let opts = Options {
        alert_dir: Some(alerts.clone()),
        ..Options::default()
    };
    let engine =
        Engine::open(&dir.path().join("alerter"), store.clone(), opts.clone()).expect("engine");
    engine
        .define(TaskRequest {
            id: Some("t".into()),
            script: Some(SCRIPT.replace("LOG", &log.to_string_lossy())),
            status: Some(Status::Enabled),
            ..Default::default()
        })
        .expect("define");
    write(&store, "cpu,host=h1 usage_idle=50 1704067200000000000").await;
    lines(&log, 1).await;
    engine.shutdown();
    drop(engine);
    // As if the process died after queueing the event but before saving the state.
    let conn = rusqlite::Connection::open(dir.path().join("alerter/alerter.db")).expect("db");
    conn.execute("UPDATE task_state SET seq = 0, state = '{}'", [])
        .expect("rewind");
    drop(conn);
    write(&store, "cpu,host=h1 usage_idle=90 1704067210000000000").await;
    let engine = Engine::open(&dir.path().join("alerter"), store.clone(), opts).expect("reopen");
    let got = levels(&lines(&log, 2).await);
    assert_eq!(
        got,
        ["CRITICAL 2024-01-01T00:00:00Z", "OK 2024-01-01T00:00:10Z"]
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        levels(&lines(&log, 2).await).len(),
        2,
        "the replayed CRITICAL is not sent again"
    );
    engine.shutdown();
    store.shutdown();
}

#[tokio::test]
async fn influxdb_out_writes_sent_alerts_back_to_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::telegraf_store(dir.path()).await;
    let engine = Engine::open(
        &dir.path().join("alerter"),
        store.clone(),
        Options::default(),
    )
    .expect("engine");
    let script = r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: "usage_idle" < 70)
        .levelTag('level')
        .messageField('message')
        .details('')
    |influxDBOut()
        .create()
        .database('chronograf')
        .measurement('alerts')
        .tag('source', 'tigk')
"#;
    engine
        .define(TaskRequest {
            id: Some("out".into()),
            script: Some(script.into()),
            status: Some(Status::Enabled),
            ..Default::default()
        })
        .expect("define");
    write(&store, "cpu,host=h1 usage_idle=50 1704067200000000000").await;
    write(&store, "cpu,host=h1 usage_idle=95 1704067210000000000").await;
    let source = alerter::batch::StoreSource::new(store.clone());
    let q = "SELECT message, usage_idle FROM chronograf.autogen.alerts GROUP BY *";
    let mut rows = Vec::new();
    for _ in 0..300 {
        use alerter::batch::BatchSource;
        if let Ok(series) = source.query("chronograf", "autogen", q, 0).await {
            rows = series
                .iter()
                .flat_map(|s| {
                    let tags = s.tags.clone().unwrap_or_default();
                    s.values.iter().map(move |r| format!("{tags:?} {r:?}"))
                })
                .collect::<Vec<_>>();
            if rows.len() == 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        rows,
        [
            r#"{"host": "h1", "level": "CRITICAL", "source": "tigk"} [Time(1704067200000000000), String("cpu:nil is CRITICAL"), Float(50.0)]"#,
            r#"{"host": "h1", "level": "OK", "source": "tigk"} [Time(1704067210000000000), String("cpu:nil is OK"), Float(95.0)]"#,
        ]
    );
    engine.shutdown();
    store.shutdown();
}
