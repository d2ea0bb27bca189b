//! The `/kapacitor/v1/tasks` API in process.

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
