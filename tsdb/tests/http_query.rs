//! `/query` in-process: statements other than SELECT, output formats, errors and auth.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tsdb::auth::{TokenScope, create_token, create_user};
use tsdb::http::{ApiState, router};
use tsdb::{Store, StoreOptions};

struct Server {
    _dir: tempfile::TempDir,
    store: Store,
    state: ApiState,
}

async fn server(auth: bool) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
    let state = ApiState::new(store.clone(), auth);
    Server {
        _dir: dir,
        store,
        state,
    }
}

async fn send(s: &Server, req: Request<Body>) -> (StatusCode, String) {
    let resp = router(s.state.clone())
        .oneshot(req)
        .await
        .expect("response");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn get(s: &Server, params: &str) -> (StatusCode, String) {
    send(
        s,
        Request::get(format!("/query?{params}"))
            .body(Body::empty())
            .expect("req"),
    )
    .await
}

async fn post_q(s: &Server, q: &str, extra: &str) -> (StatusCode, String) {
    let req = Request::post(format!("/query?{extra}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("q={}", enc(q))))
        .expect("req");
    send(s, req).await
}

async fn write(s: &Server, db: &str, body: &str) {
    let req = Request::post(format!("/write?db={db}"))
        .body(Body::from(body.to_string()))
        .expect("req");
    assert_eq!(send(s, req).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn databases_and_retention_policies() {
    let s = server(false).await;
    let (st, body) = post_q(&s, "CREATE DATABASE telegraf; CREATE DATABASE other", "").await;
    assert_eq!(
        (st, body.as_str()),
        (
            StatusCode::OK,
            r#"{"results":[{"statement_id":0},{"statement_id":1}]}"#
        )
    );
    let (_, body) = get(&s, &format!("q={}", enc("SHOW DATABASES"))).await;
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["telegraf"],["other"]]}]}]}"#
    );
    let (_, body) = post_q(
        &s,
        "CREATE RETENTION POLICY week ON telegraf DURATION 7d REPLICATION 1",
        "",
    )
    .await;
    assert_eq!(body, r#"{"results":[{"statement_id":0}]}"#);
    let (_, body) = get(
        &s,
        &format!("db=telegraf&q={}", enc("SHOW RETENTION POLICIES")),
    )
    .await;
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"columns":["name","duration","shardGroupDuration","replicaN","default"],"values":[["autogen","0s","168h0m0s",1,true],["week","168h0m0s","24h0m0s",1,false]]}]}]}"#
    );
    // Writing statements over GET are refused (1.6.7 runs them with a warning), and the
    // statements around them still run.
    let q = "SHOW DATABASES; DROP DATABASE other; CREATE DATABASE third";
    let (status, body) = get(&s, &format!("q={}", enc(q))).await;
    assert_eq!(status, 200);
    assert!(body.contains(r#"{"statement_id":1,"error":"refusing 'DROP DATABASE other' over GET: statements that change the server need a POST request"}"#), "{body}");
    assert!(
        body.contains(r#"{"statement_id":2,"error":"refusing 'CREATE DATABASE third' over GET"#),
        "{body}"
    );
    assert!(body.contains(r#"{"statement_id":0,"series""#), "{body}");
    let names: Vec<String> = s.store.catalog().databases.keys().cloned().collect();
    assert!(
        names.contains(&"other".to_string()) && !names.contains(&"third".to_string()),
        "{names:?}"
    );
}

#[tokio::test]
async fn schema_exploration_statements() {
    let s = server(false).await;
    post_q(&s, "CREATE DATABASE db", "").await;
    write(&s, "db", "cpu,host=a,region=eu usage_idle=90,usage_user=5i 1\ncpu,host=b usage_idle=80 2\nmem,host=a used=1 3\n").await;
    let q = |q: &str| format!("db=db&q={}", enc(q));
    let (_, body) = get(&s, &q("SHOW MEASUREMENTS")).await;
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"],["mem"]]}]}]}"#
    );
    let (_, body) = get(
        &s,
        &q("SHOW MEASUREMENTS WITH MEASUREMENT =~ /^c/ LIMIT 10"),
    )
    .await;
    assert!(body.contains(r#""values":[["cpu"]]"#), "{body}");
    let (_, body) = get(&s, &q("SHOW TAG KEYS FROM cpu")).await;
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["tagKey"],"values":[["host"],["region"]]}]}]}"#
    );
    let (_, body) = get(&s, &q(r#"SHOW TAG VALUES WITH KEY = "host""#)).await;
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["host","a"],["host","b"]]},{"name":"mem","columns":["key","value"],"values":[["host","a"]]}]}]}"#
    );
    let (_, body) = get(&s, &q("SHOW FIELD KEYS FROM cpu")).await;
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["fieldKey","fieldType"],"values":[["usage_idle","float"],["usage_user","integer"]]}]}]}"#
    );
    let (_, body) = get(&s, &q("SHOW SERIES")).await;
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["cpu,host=a,region=eu"],["cpu,host=b"],["mem,host=a"]]}]}]}"#
    );
    let (_, body) = post_q(&s, "DROP MEASUREMENT mem", "db=db").await;
    assert_eq!(body, r#"{"results":[{"statement_id":0}]}"#);
    let (_, body) = get(&s, &q("SHOW MEASUREMENTS")).await;
    assert!(body.contains(r#""values":[["cpu"]]"#), "{body}");
    // CSV and pretty output.
    let req = Request::get(format!("/query?{}", q("SHOW MEASUREMENTS")))
        .header("accept", "text/csv")
        .body(Body::empty())
        .expect("req");
    assert_eq!(send(&s, req).await.1, "name,tags,name\nmeasurements,,cpu\n");
    let (_, body) = get(&s, &format!("pretty=true&{}", q("SHOW DATABASES"))).await;
    assert!(
        body.starts_with("{\n    \"results\": [\n        {\n            \"statement_id\": 0,"),
        "{body}"
    );
}

#[tokio::test]
async fn errors_per_statement_and_per_request() {
    let s = server(false).await;
    let (st, body) = get(&s, "db=x").await;
    assert_eq!(
        (st, body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"error":"missing required parameter \"q\""}"#
        )
    );
    let (st, body) = get(&s, &format!("q={}", enc("SELECT FROM cpu"))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        r#"{"error":"error parsing query: found FROM, expected identifier, string, number, bool at line 1, char 8"}"#
    );
    // An unknown tz() fails the whole request, as a parse error (a known one parses).
    let (st, body) = get(
        &s,
        &format!("q={}", enc("SELECT v FROM m tz('Nowhere/City')")),
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"error":"error parsing query: unable to find time zone Nowhere/City"}"#
        )
    );
    let (st, _) = get(
        &s,
        &format!("q={}", enc("SELECT v FROM m tz('Asia/Kolkata')")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    // A semantic error is per statement, HTTP 200, and the others still run.
    let (st, body) = get(
        &s,
        &format!("q={}", enc("SHOW MEASUREMENTS; SHOW DATABASES")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"error":"database name required"},{"statement_id":1,"series":[{"name":"databases","columns":["name"]}]}]}"#
    );
}

#[tokio::test]
async fn chunked_responses_split_rows() {
    let s = server(false).await;
    post_q(&s, "CREATE DATABASE db", "").await;
    write(&s, "db", "a f=1 1\nb f=1 1\nc f=1 1\n").await;
    let (_, body) = get(
        &s,
        &format!(
            "db=db&chunked=true&chunk_size=2&q={}",
            enc("SHOW MEASUREMENTS")
        ),
    )
    .await;
    let docs: Vec<&str> = body.lines().collect();
    assert_eq!(docs.len(), 2, "{body}");
    assert_eq!(
        docs[0],
        r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["a"],["b"]],"partial":true}],"partial":true}]}"#
    );
    assert_eq!(
        docs[1],
        r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["c"]]}]}]}"#
    );
}

#[tokio::test]
async fn query_permissions_follow_the_principal() {
    let s = server(true).await;
    // Unlike 1.x, the first admin cannot be created over HTTP by whoever comes first: it
    // comes from `tigk user create` or `tigk up`, on the machine itself.
    let (st, body) = post_q(
        &s,
        "CREATE USER root WITH PASSWORD 'r00t-pass' WITH ALL PRIVILEGES",
        "",
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (
            StatusCode::FORBIDDEN,
            r#"{"error":"error authorizing query: create admin user first or disable authentication"}"#
        )
    );
    let conn = tsdb::storage::admin_connection(s.store.dir()).expect("conn");
    create_user(&conn, "root", "r00t-pass", true).expect("user");
    let (st, _) = post_q(&s, "CREATE DATABASE db", "").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, body) = post_q(
        &s,
        "CREATE DATABASE db; CREATE DATABASE secret",
        "u=root&p=r00t-pass",
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (
            StatusCode::OK,
            r#"{"results":[{"statement_id":0},{"statement_id":1}]}"#
        )
    );
    let token = create_token(
        &conn,
        "reader",
        &TokenScope {
            database: Some("db".into()),
            can_read: true,
            can_write: false,
            admin: false,
        },
    )
    .expect("token");
    let with_token = |q: &str| {
        Request::post("/query?db=db")
            .header("authorization", format!("Token {token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("q={}", enc(q))))
            .expect("req")
    };
    let (_, body) = send(&s, with_token("SHOW DATABASES")).await;
    assert!(
        body.contains(r#""values":[["db"]]"#),
        "a reader sees only its database: {body}"
    );
    let (_, body) = send(&s, with_token("DROP DATABASE db")).await;
    assert!(body.contains("requires admin privilege"), "{body}");
    let (_, body) = send(&s, with_token("DROP MEASUREMENT cpu")).await;
    assert!(body.contains("not authorized to write"), "{body}");
    let (_, body) = send(&s, with_token("SHOW MEASUREMENTS ON secret")).await;
    assert!(
        body.contains("not authorized to read from database"),
        "{body}"
    );
}

#[tokio::test]
async fn where_clauses_on_show_delete_and_drop_series() {
    let s = server(false).await;
    post_q(&s, "CREATE DATABASE db", "").await;
    write(
        &s,
        "db",
        "cpu,host=a,dc=eu v=1 1000000000\ncpu,host=a,dc=eu v=2 2000000000\ncpu,host=b,dc=us v=3 1000000000\nmem,host=c v=1 1000000000\n",
    )
    .await;
    let q = |q: &str| format!("db=db&q={}", enc(q));
    let (_, body) = get(&s, &q("SHOW MEASUREMENTS WHERE host = 'c'")).await;
    assert!(body.contains(r#""values":[["mem"]]"#), "{body}");
    let (_, body) = get(&s, &q("SHOW SERIES WHERE dc =~ /e/")).await;
    assert!(
        body.contains(r#""values":[["cpu,dc=eu,host=a"]]"#),
        "{body}"
    );
    let (_, body) = get(
        &s,
        &q(r#"SHOW TAG VALUES FROM cpu WITH KEY = "host" WHERE dc = 'us'"#),
    )
    .await;
    assert!(body.contains(r#""values":[["host","b"]]"#), "{body}");
    let (_, body) = get(&s, &q("SHOW TAG KEYS WHERE host = 'c'")).await;
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"name":"mem","columns":["tagKey"],"values":[["host"]]}]}]}"#
    );

    // DELETE with a time range keeps the series; only the points go.
    let (_, body) = post_q(
        &s,
        "DELETE FROM cpu WHERE host = 'a' AND time < 1500000000",
        "db=db",
    )
    .await;
    assert_eq!(body, r#"{"results":[{"statement_id":0}]}"#);
    let (_, body) = get(
        &s,
        &format!("epoch=s&{}", q("SELECT v FROM cpu WHERE host = 'a'")),
    )
    .await;
    assert!(body.contains(r#""values":[[2,2]]"#), "{body}");
    let (_, body) = post_q(&s, "DROP SERIES WHERE time > 0", "db=db").await;
    assert!(
        body.contains("DROP SERIES doesn't support time in WHERE clause"),
        "{body}"
    );
    let (_, body) = post_q(&s, "DROP SERIES FROM cpu WHERE dc = 'us'", "db=db").await;
    assert_eq!(body, r#"{"results":[{"statement_id":0}]}"#);
    let (_, body) = get(&s, &q("SHOW SERIES")).await;
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["cpu,dc=eu,host=a"],["mem,host=c"]]}]}]}"#
    );
}

#[tokio::test]
async fn grafana_style_select_with_ms_bounds_and_epoch() {
    let s = server(false).await;
    post_q(&s, "CREATE DATABASE telegraf", "").await;
    let body: String = (0..6)
        .map(|i| {
            format!(
                "cpu,host=web01,cpu=cpu-total usage_idle={} {}\n",
                90 + i,
                1_700_000_000 + i * 5
            )
        })
        .collect();
    let req = Request::post("/write?db=telegraf&precision=s")
        .body(Body::from(body))
        .expect("req");
    assert_eq!(send(&s, req).await.0, StatusCode::NO_CONTENT);
    // What Grafana's InfluxQL data source sends: $timeFilter in ms, epoch=ms, fill(null).
    let q = r#"SELECT mean("usage_idle") FROM "cpu" WHERE ("host" = 'web01') AND time >= 1700000000000ms and time <= 1700000029999ms GROUP BY time(10s) fill(null)"#;
    let (st, body) = get(&s, &format!("db=telegraf&epoch=ms&q={}", enc(q))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[[1700000000000,90.5],[1700000010000,92.5],[1700000020000,94.5]]}]}]}"#
    );
    // Default epoch: RFC 3339 strings.
    let (_, body) = get(
        &s,
        &format!("db=telegraf&q={}", enc("SELECT last(usage_idle) FROM cpu")),
    )
    .await;
    assert_eq!(
        body,
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","last"],"values":[["2023-11-14T22:13:45Z",95]]}]}]}"#
    );
}

#[tokio::test]
async fn require_admin_decodes_credentials_like_query() {
    let s = server(true).await;
    let conn = tsdb::storage::admin_connection(s.store.dir()).expect("conn");
    create_user(&conn, "admin", "p@ss word!", true).expect("user");
    let guarded = axum::Router::new()
        .route("/guarded", axum::routing::get(|| async { "ok" }))
        .layer(axum::middleware::from_fn_with_state(
            s.state.clone(),
            tsdb::http::require_admin,
        ));
    let call = |uri: &str| {
        let guarded = guarded.clone();
        let req = Request::get(uri).body(Body::empty()).expect("req");
        async move { guarded.oneshot(req).await.expect("response").status() }
    };
    assert_eq!(
        call("/guarded?u=admin&p=p%40ss+word%21").await,
        StatusCode::OK
    );
    assert_eq!(
        call("/guarded?u=admin&p=p%40ss+word").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call("/guarded").await, StatusCode::UNAUTHORIZED);
    // The same escaped password works on /query.
    let (st, _) = post_q(&s, "SHOW DATABASES", "u=admin&p=p%40ss+word%21").await;
    assert_eq!(st, StatusCode::OK);
}
