//! The engine's wall clock: a deadman fires without any data, and an httpPost node's
//! requests are delivered apart from evaluation through the address guard.

mod support;

use std::time::Duration;

use alerter::Options;
use alerter::engine::{Engine, Status, TaskRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn deadman_fires_on_the_wall_clock_without_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        tsdb::Store::open(&dir.path().join("store"), tsdb::StoreOptions::default()).expect("store");
    let alerts = dir.path().join("alerts");
    std::fs::create_dir_all(&alerts).expect("dir");
    let log = alerts.join("dead.log");
    let opts = Options {
        alert_dir: Some(alerts.clone()),
        ..Options::default()
    };
    let engine = Engine::open(&dir.path().join("alerter"), store.clone(), opts).expect("engine");
    let script = format!(
        "dbrp \"telegraf\".\"autogen\"\nstream\n    |from()\n        .measurement('cpu')\n    |deadman(0.0, 1s)\n        .log('{}')\n",
        log.display()
    );
    engine
        .define(TaskRequest {
            id: Some("dead".into()),
            script: Some(script),
            status: Some(Status::Enabled),
            ..Default::default()
        })
        .expect("define");
    // The first stats point primes the derivative; the second gives 0 points/s.
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if !text.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = text.lines().next().expect("a deadman event");
    let v: serde_json::Value = serde_json::from_str(first).expect("json");
    assert_eq!(v["level"], "CRITICAL");
    assert_eq!(v["id"], "node 'from1' in task 'dead'");
    assert_eq!(
        v["message"],
        "node 'from1' in task 'dead' is dead: 0.000 points/1s."
    );
    let t = alerter::gofmt::parse_rfc3339(v["time"].as_str().unwrap_or("")).expect("time");
    assert_eq!(t % 1_000_000_000, 0, "aligned stats are on whole intervals");
    engine.shutdown();
    store.shutdown();
}

#[tokio::test]
async fn http_post_node_delivers_rows_apart() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Read until the body (after the blank line) is complete JSON.
        loop {
            let n = s.read(&mut chunk).await.expect("read");
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some((_, body)) = text.split_once("\r\n\r\n")
                && serde_json::from_str::<serde_json::Value>(body).is_ok()
            {
                break;
            }
        }
        s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .await
            .expect("answer");
        String::from_utf8_lossy(&buf).to_string()
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::telegraf_store(dir.path()).await;
    let opts = Options {
        allowed_addresses: vec!["127.0.0.1".into()],
        ..Options::default()
    };
    let engine = Engine::open(&dir.path().join("alerter"), store.clone(), opts).expect("engine");
    let script = format!(
        "dbrp \"telegraf\".\"autogen\"\nstream\n    |from()\n        .measurement('cpu')\n    |httpPost('http://{addr}/in')\n        .header('X-Token', 'abc')\n"
    );
    engine
        .define(TaskRequest {
            id: Some("post".into()),
            script: Some(script),
            status: Some(Status::Enabled),
            ..Default::default()
        })
        .expect("define");
    let mut batch = tsdb::storage::PointBatch::new();
    let line = "cpu,host=h1 usage=5 1704067200000000000";
    let mut parser = common::line_protocol::Parser::new(line.as_bytes(), Default::default());
    batch.push(&parser.next().expect("line").expect("point"), 0);
    store
        .write("telegraf", None, batch, 0)
        .await
        .expect("write");
    let req = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("a request")
        .expect("server");
    assert!(req.starts_with("POST /in HTTP/1.1\r\n"), "{req}");
    assert!(req.contains("\r\nX-Token: abc\r\n"), "{req}");
    let body = req.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    assert_eq!(
        body,
        r#"{"name":"cpu","tags":{"host":"h1"},"columns":["time","usage"],"values":[["2024-01-01T00:00:00Z",5]]}"#
    );
    engine.shutdown();
    store.shutdown();
}

#[test]
fn an_idle_barrier_with_delete_bounds_group_state() {
    use alerter::runtime::Task;
    use alerter::tick::{self, CheckOptions};
    let script = "dbrp \"telegraf\".\"autogen\"\nstream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n    |barrier()\n        .idle(1m)\n        .delete(TRUE)\n    |window()\n        .period(5m)\n        .every(5m)\n    |mean('usage')\n    |alert()\n        .crit(lambda: \"mean\" > 90)\n";
    let g = tick::compile(script, &CheckOptions::strict()).expect("compile");
    let mut task = Task::new("t", g, &Options::default()).expect("task");
    let t0 = 1_704_067_200_000_000_000i64;
    task.tick(t0, false);
    for h in 0..1000 {
        let p = common::Point {
            measurement: "cpu".into(),
            tags: vec![("host".into(), format!("h{h}"))],
            fields: vec![("usage".into(), common::FieldValue::Float(1.0))],
            timestamp: Some(t0 + h),
        };
        task.push_point("telegraf", "autogen", &p);
    }
    let card = |task: &Task, node: &str| task.node_stats()[node]["working_cardinality"];
    assert_eq!(card(&task, "window3"), 1000);
    assert_eq!(card(&task, "barrier2"), 1000);
    // A minute later every group is idle: barriers, then deletions everywhere below.
    task.tick(t0 + 61_000_000_000, false);
    for node in ["barrier2", "window3", "mean4", "alert5"] {
        assert_eq!(card(&task, node), 0, "{node}");
    }
}

#[test]
fn a_deletion_through_the_watched_node_drops_its_stats_group() {
    use alerter::runtime::Task;
    use alerter::tick::{self, CheckOptions};
    // stats watches the barrier, whose deletions cross the watched edge.
    let script = "dbrp \"telegraf\".\"autogen\"\nvar b = stream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n    |barrier()\n        .idle(1m)\n        .delete(TRUE)\nb\n    |stats(10s)\n    |log()\n";
    let g = tick::compile(script, &CheckOptions::strict()).expect("compile");
    let mut task = Task::new("t", g, &Options::default()).expect("task");
    let t0 = 1_704_067_200_000_000_000i64;
    task.tick(t0, false);
    for h in 0..10 {
        let p = common::Point {
            measurement: "cpu".into(),
            tags: vec![("host".into(), format!("h{h}"))],
            fields: vec![("usage".into(), common::FieldValue::Float(1.0))],
            timestamp: Some(t0 + h),
        };
        task.push_point("telegraf", "autogen", &p);
    }
    let card = |task: &Task| task.node_stats()["stats3"]["working_cardinality"];
    assert_eq!(card(&task), 10);
    task.tick(t0 + 61_000_000_000, false);
    assert_eq!(card(&task), 0);
}

#[test]
fn deadman_message_names_the_interval_as_go_prints_it() {
    use alerter::tick::{self, CheckOptions};
    let g = tick::compile(
        "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|deadman(1.0, 1m)",
        &CheckOptions::strict(),
    )
    .expect("compile");
    let alert = g
        .nodes
        .iter()
        .find(|n| n.kind == alerter::tick::NodeKind::Alert)
        .expect("alert node");
    let msg = match alert.prop("message").and_then(|p| p.args.first()) {
        Some(alerter::tick::Arg::String(s)) => s.clone(),
        other => panic!("{other:?}"),
    };
    assert!(msg.ends_with(" points/1m0s."), "{msg}");
}
