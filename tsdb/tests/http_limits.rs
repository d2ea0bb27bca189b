//! The limits and defaults a server configures reach `/query`: the query engine's limits
//! from [`HttpLimits::query`] and new databases' retention from
//! [`StoreOptions::default_retention`].

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tsdb::http::{ApiState, HttpLimits, router};
use tsdb::query::QueryLimits;
use tsdb::{Store, StoreOptions};

async fn send(state: &ApiState, req: Request<Body>) -> (StatusCode, String) {
    let resp = router(state.clone()).oneshot(req).await.expect("response");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn query(state: &ApiState, db: &str, q: &str) -> String {
    let req = Request::post(format!("/query?db={db}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "q={}",
            q.replace('%', "%25")
                .replace(' ', "%20")
                .replace(';', "%3B")
        )))
        .expect("req");
    let (status, body) = send(state, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn configured_query_limits_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
    store.create_database("db").await.expect("db");
    let mut state = ApiState::new(store.clone(), false);
    let write = Request::post("/write?db=db")
        .body(Body::from("m,h=a v=1 1000000000\nm,h=b v=2 1000000000\n"))
        .expect("req");
    assert_eq!(send(&state, write).await.0, StatusCode::NO_CONTENT);
    let both = query(&state, "db", "SELECT v FROM m").await;
    assert!(!both.contains("error") && both.contains(",2]"), "{both}");

    state.limits = Arc::new(HttpLimits {
        query: QueryLimits {
            max_series: 1,
            ..QueryLimits::default()
        },
        ..HttpLimits::default()
    });
    let body = query(&state, "db", "SELECT v FROM m").await;
    assert!(
        body.contains("max-select-series limit exceeded: (2/1)"),
        "{body}"
    );
    state.limits = Arc::new(HttpLimits {
        query: QueryLimits {
            max_buckets: 10,
            ..QueryLimits::default()
        },
        ..HttpLimits::default()
    });
    let body = query(
        &state,
        "db",
        "SELECT mean(v) FROM m WHERE time >= 0 AND time < 100s GROUP BY time(1s)",
    )
    .await;
    assert!(body.contains("max-select-buckets limit exceeded"), "{body}");
}

#[tokio::test]
async fn new_databases_get_the_default_retention() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = StoreOptions {
        default_retention: Some(Duration::from_secs(3 * 24 * 3600)),
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), options).expect("open");
    let state = ApiState::new(store.clone(), false);
    query(
        &state,
        "",
        "CREATE DATABASE short; CREATE DATABASE long WITH DURATION INF",
    )
    .await;
    let body = query(&state, "short", "SHOW RETENTION POLICIES").await;
    assert!(
        body.contains(r#"["autogen","72h0m0s","24h0m0s",1,true]"#),
        "{body}"
    );
    let body = query(&state, "long", "SHOW RETENTION POLICIES").await;
    assert!(body.contains(r#"["autogen","0s","#), "{body}");
    // The store's own API (used by `tigk up` and the alerter) applies it too.
    store.create_database("agent").await.expect("db");
    let body = query(&state, "agent", "SHOW RETENTION POLICIES").await;
    assert!(body.contains(r#"["autogen","72h0m0s""#), "{body}");
}
