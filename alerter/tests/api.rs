//! The `/kapacitor/v1/tasks` API in process.

mod support;

use alerter::Options;
use alerter::api::router;
use alerter::engine::Engine;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let v = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("json")
    };
    (status, v)
}

#[tokio::test]
async fn task_crud() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        tsdb::Store::open(&dir.path().join("store"), tsdb::StoreOptions::default()).expect("store");
    let engine = Engine::open(
        &dir.path().join("alerter"),
        store.clone(),
        Options::default(),
    )
    .expect("engine");
    let app = router(engine.clone());

    let script = "stream\n    |from()\n        .measurement('cpu')\n    |alert()\n        .crit(lambda: \"usage_idle\" < 70)\n";
    let body = serde_json::json!({
        "id": "cpu_alert", "type": "stream", "status": "disabled",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": script,
    });
    let (s, v) = call(&app, "POST", "/kapacitor/v1/tasks", &body.to_string()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], "cpu_alert");
    assert_eq!(v["status"], "disabled");
    assert_eq!(v["executing"], false);
    assert_eq!(
        v["dbrps"],
        serde_json::json!([{"db": "telegraf", "rp": "autogen"}])
    );
    assert_eq!(
        v["dot"],
        "digraph cpu_alert {\nstream0 -> from1;\nfrom1 -> alert2;\n}"
    );
    assert_eq!(v["link"]["href"], "/kapacitor/v1/tasks/cpu_alert");

    let (s, v) = call(
        &app,
        "PATCH",
        "/kapacitor/v1/tasks/cpu_alert",
        r#"{"status":"enabled"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["executing"], true);
    assert_eq!(v["stats"]["node-stats"]["alert2"]["alerts_triggered"], 0);

    let (s, v) = call(&app, "GET", "/kapacitor/v1/tasks", "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["tasks"].as_array().map(Vec::len), Some(1));

    let (s, v) = call(
        &app,
        "POST",
        "/kapacitor/v1/tasks",
        r#"{"id":"bad","script":"dbrp \"a\".\"b\"\nstream|from().alrt()"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"],
        "invalid TICKscript: line 2 char 15: no method or property \"alrt\" on *pipeline.FromNode"
    );

    let (s, _) = call(&app, "DELETE", "/kapacitor/v1/tasks/cpu_alert", "").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&app, "GET", "/kapacitor/v1/tasks/cpu_alert", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], "no task exists");
    engine.shutdown();
    store.shutdown();
}

#[tokio::test]
async fn http_out_serves_the_latest_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::telegraf_store(dir.path()).await;
    let engine = Engine::open(
        &dir.path().join("alerter"),
        store.clone(),
        Options::default(),
    )
    .expect("engine");
    let app = router(engine.clone());
    let body = serde_json::json!({
        "id": "h", "status": "enabled",
        "script": "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu').groupBy('host')|httpOut('latest')",
    });
    let (s, v) = call(&app, "POST", "/kapacitor/v1/tasks", &body.to_string()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for line in [
        "cpu,host=a v=1 1704067200000000000",
        "cpu,host=a v=2 1704067210000000000",
        "cpu,host=b v=3 1704067200000000000",
    ] {
        let mut batch = tsdb::storage::PointBatch::new();
        let p = common::line_protocol::Parser::new(line.as_bytes(), Default::default())
            .next()
            .expect("line")
            .expect("point");
        batch.push(&p, 0);
        store
            .write("telegraf", None, batch, 0)
            .await
            .expect("write");
    }
    let want = serde_json::json!({"series": [
        {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "v"], "values": [["2024-01-01T00:00:10Z", 2]]},
        {"name": "cpu", "tags": {"host": "b"}, "columns": ["time", "v"], "values": [["2024-01-01T00:00:00Z", 3]]},
    ]});
    let mut got = serde_json::Value::Null;
    for _ in 0..300 {
        let (s, v) = call(&app, "GET", "/kapacitor/v1/tasks/h/latest", "").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        got = v;
        if got == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(got, want);
    let (s, _) = call(&app, "GET", "/kapacitor/v1/tasks/h/nope", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    engine.shutdown();
    store.shutdown();
}

#[tokio::test]
async fn templates_and_tasks_from_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        tsdb::Store::open(&dir.path().join("store"), tsdb::StoreOptions::default()).expect("store");
    let engine = Engine::open(
        &dir.path().join("alerter"),
        store.clone(),
        Options::default(),
    )
    .expect("engine");
    let app = router(engine.clone());

    let script = "var measurement string\nvar crit = 70.0\nvar window = 1m\nstream\n    |from()\n        .measurement(measurement)\n    |window()\n        .period(window)\n        .every(window)\n    |mean('usage_idle')\n    |alert()\n        .crit(lambda: \"mean\" < crit)\n";
    let body = serde_json::json!({"id": "threshold", "type": "stream", "script": script});
    let (s, v) = call(&app, "POST", "/kapacitor/v1/templates", &body.to_string()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], "threshold");
    assert_eq!(
        v["vars"],
        serde_json::json!({
            "measurement": {"type": "string", "value": null, "description": ""},
            "crit": {"type": "float", "value": 70.0, "description": ""},
            "window": {"type": "duration", "value": "1m", "description": ""},
        })
    );
    let (s, _) = call(&app, "POST", "/kapacitor/v1/templates", &body.to_string()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "duplicate id");
    let bad = serde_json::json!({"id": "bad", "script": "var x float\nstream|from()|eval(lambda: x + 1)"});
    let (s, v) = call(&app, "POST", "/kapacitor/v1/templates", &bad.to_string()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    // A task from the template: its script and type, and the vars' values.
    let task = serde_json::json!({
        "id": "cpu_low", "template-id": "threshold",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "vars": {
            "measurement": {"type": "string", "value": "cpu"},
            "crit": {"type": "float", "value": 20},
            "window": {"type": "duration", "value": "5m"},
        },
    });
    let (s, v) = call(&app, "POST", "/kapacitor/v1/tasks", &task.to_string()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["template-id"], "threshold");
    assert_eq!(v["script"], script);
    assert_eq!(v["vars"]["crit"]["value"], 20);
    let missing = serde_json::json!({
        "id": "no_vars", "template-id": "threshold",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
    });
    let (s, v) = call(&app, "POST", "/kapacitor/v1/tasks", &missing.to_string()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("missing value for var \"measurement\""),
        "{v}"
    );
    let wrong = serde_json::json!({
        "id": "wrong", "template-id": "threshold",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "vars": {"measurement": {"type": "int", "value": 3}},
    });
    let (s, v) = call(&app, "POST", "/kapacitor/v1/tasks", &wrong.to_string()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    let (s, v) = call(&app, "GET", "/kapacitor/v1/templates/threshold", "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["tasks"][0]["id"], "cpu_low");

    // Updating the template updates its tasks; a script they cannot run is refused.
    let script2 = script.replace(
        ".crit(lambda: \"mean\" < crit)",
        ".crit(lambda: \"mean\" <= crit)",
    );
    let (s, v) = call(
        &app,
        "PATCH",
        "/kapacitor/v1/templates/threshold",
        &serde_json::json!({"script": script2}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = call(&app, "GET", "/kapacitor/v1/tasks/cpu_low", "").await;
    assert_eq!(v["script"], script2);
    let broken = "var measurement string\nvar crit = 70.0\nvar window = 1m\nstream|from().measurement(measurement)|window().period(window).every(window)|mean('usage_idle')|alert().crit(lambda: \"mean\" < crit).log('/etc/x.log')";
    let (s, v) = call(
        &app,
        "PATCH",
        "/kapacitor/v1/templates/threshold",
        &serde_json::json!({"script": broken}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").contains("task cpu_low"),
        "{v}"
    );

    let (s, v) = call(&app, "GET", "/kapacitor/v1/templates?pattern=thr*", "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["templates"].as_array().map(Vec::len), Some(1));
    let (s, _) = call(&app, "DELETE", "/kapacitor/v1/templates/threshold", "").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&app, "GET", "/kapacitor/v1/templates/threshold", "").await;
    assert_eq!(
        (s, v["error"].clone()),
        (StatusCode::NOT_FOUND, "no template exists".into())
    );
    // The task keeps its script.
    let (s, _) = call(&app, "GET", "/kapacitor/v1/tasks/cpu_low", "").await;
    assert_eq!(s, StatusCode::OK);
    engine.shutdown();
    store.shutdown();
}

#[tokio::test]
async fn alert_topics_and_their_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::telegraf_store(dir.path()).await;
    let alerts = dir.path().join("alerts");
    std::fs::create_dir_all(&alerts).expect("dir");
    let log = alerts.join("cpu.log");
    let opts = Options {
        alert_dir: Some(alerts.clone()),
        ..Options::default()
    };
    let engine = Engine::open(&dir.path().join("alerter"), store.clone(), opts).expect("engine");
    let app = router(engine.clone());
    let script = format!(
        "dbrp \"telegraf\".\"autogen\"\nstream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n    |alert()\n        .warn(lambda: \"usage\" > 50)\n        .crit(lambda: \"usage\" > 90)\n        .details('')\n        .log('{}')\n",
        log.display()
    );
    let body = serde_json::json!({"id": "cpu", "status": "enabled", "script": script});
    let (s, v) = call(&app, "POST", "/kapacitor/v1/tasks", &body.to_string()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut batch = tsdb::storage::PointBatch::new();
    let lines = "cpu,host=a usage=95 1704067200000000000\ncpu,host=b usage=60 1704067200000000000\ncpu,host=a usage=10 1704067210000000000\n";
    let parser = common::line_protocol::Parser::new(lines.as_bytes(), Default::default());
    for p in parser {
        batch.push(&p.expect("point"), 0);
    }
    store
        .write("telegraf", None, batch, 0)
        .await
        .expect("write");
    for _ in 0..300 {
        if std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 3) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (s, v) = call(&app, "GET", "/kapacitor/v1/alerts/topics", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["topics"],
        serde_json::json!([{
            "link": {"rel": "self", "href": "/kapacitor/v1/alerts/topics/main:cpu:alert2"},
            "id": "main:cpu:alert2",
            "level": "WARNING",
            "collected": 3,
            "events-link": {"rel": "events", "href": "/kapacitor/v1/alerts/topics/main:cpu:alert2/events"},
            "handlers-link": {"rel": "handlers", "href": "/kapacitor/v1/alerts/topics/main:cpu:alert2/handlers"},
        }])
    );
    let (s, v) = call(
        &app,
        "GET",
        "/kapacitor/v1/alerts/topics/main:cpu:alert2/events",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let states: Vec<(String, String, String)> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or("").to_string(),
                e["state"]["level"].as_str().unwrap_or("").to_string(),
                e["state"]["duration"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("cpu:host=a".into(), "OK".into(), "10s".into()),
            ("cpu:host=b".into(), "WARNING".into(), "0s".into()),
        ]
    );
    let (_, v) = call(
        &app,
        "GET",
        "/kapacitor/v1/alerts/topics/main:cpu:alert2/events?min-level=WARNING",
        "",
    )
    .await;
    assert_eq!(v["events"].as_array().map(Vec::len), Some(1));
    let (s, v) = call(
        &app,
        "GET",
        "/kapacitor/v1/alerts/topics/main:cpu:alert2/events/cpu:host=b",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"]["message"], "cpu:host=b is WARNING");
    assert_eq!(v["state"]["time"], "2024-01-01T00:00:00Z");
    let (s, _) = call(&app, "GET", "/kapacitor/v1/alerts/topics/nope", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        &app,
        "GET",
        "/kapacitor/v1/alerts/topics?min-level=LOUD",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    engine.shutdown();
    store.shutdown();
}
