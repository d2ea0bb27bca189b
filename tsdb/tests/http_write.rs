//! `/ping`, `/write` and `/api/v2/write` in-process, through the public router.

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
    store.create_database("db").await.expect("db");
    let state = ApiState::new(store.clone(), auth);
    Server {
        _dir: dir,
        store,
        state,
    }
}

async fn call(s: &Server, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = router(s.state.clone())
        .oneshot(req)
        .await
        .expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri).body(body.into()).expect("request")
}

#[tokio::test]
async fn ping_answers_204_with_version_headers_without_auth() {
    let s = server(true).await;
    for method in ["GET", "HEAD"] {
        let req = Request::builder()
            .method(method)
            .uri("/ping")
            .body(Body::empty())
            .expect("req");
        let (status, headers, _) = call(&s, req).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(
            headers["x-influxdb-version"]
                .to_str()
                .expect("ascii")
                .starts_with("1.6.7")
        );
        assert_eq!(headers["x-influxdb-build"], "OSS");
        assert!(headers.contains_key("request-id"));
    }
}

#[tokio::test]
async fn write_status_codes_match_1x() {
    let s = server(false).await;
    let (st, h, body) = call(&s, post("/write", "m f=1")).await;
    assert_eq!(
        (st, body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"error":"database is required"}"#
        )
    );
    assert_eq!(h["x-influxdb-error"], "database is required");
    let (st, _, body) = call(&s, post("/write?db=nope", "m f=1")).await;
    assert_eq!(
        (st, body.as_str()),
        (
            StatusCode::NOT_FOUND,
            r#"{"error":"database not found: \"nope\""}"#
        )
    );
    let (st, _, body) = call(&s, post("/write?db=db&rp=nope", "m f=1")).await;
    assert_eq!(
        (st, body.as_str()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"retention policy not found: nope"}"#
        )
    );
    let (st, _, body) = call(&s, post("/write?db=db", "")).await;
    assert_eq!((st, body.as_str()), (StatusCode::NO_CONTENT, ""));
    let (st, _, _) = call(&s, post("/write?db=db", "# only a comment\n\n")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _, _) = call(
        &s,
        post("/write?db=db&precision=s", "m,host=a f=1,g=2i 1700000000\n"),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn bad_lines_do_not_spoil_the_batch() {
    let s = server(false).await;
    let body = "m f=1 1\nm f=tru 2\nm f=3 3\n";
    let (st, _, msg) = call(&s, post("/write?db=db", body)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        msg,
        r#"{"error":"partial write: unable to parse 'm f=tru 2': invalid boolean dropped=0"}"#
    );
    let written: usize = {
        let cat = s.store.catalog();
        cat.series.len()
    };
    assert_eq!(written, 1);
    // Only bad lines: no "partial write" prefix.
    let (st, _, msg) = call(&s, post("/write?db=db", "m\n")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(msg, r#"{"error":"unable to parse 'm': missing fields"}"#);
}

#[tokio::test]
async fn type_conflicts_and_time_keys_are_partial_writes() {
    let s = server(false).await;
    call(&s, post("/write?db=db", "m f=1 1")).await;
    let (st, _, msg) = call(&s, post("/write?db=db", "m f=\"x\" 2")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        msg,
        r#"{"error":"partial write: field type conflict: input field \"f\" on measurement \"m\" is type string, already exists as type float dropped=1"}"#
    );
    let (st, _, msg) = call(&s, post("/write?db=db", "cpu,time=1 f=1 2")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        msg,
        r#"{"error":"partial write: invalid tag key: input tag \"time\" on measurement \"cpu\" is invalid dropped=1"}"#
    );
    // Two types for one field in one line: 1.x refuses the whole request.
    let (st, _, msg) = call(&s, post("/write?db=db", "ok g=1 1\nn f=1,f=\"s\" 1")).await;
    assert_eq!(
        (st, msg.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"error":"field type conflict"}"#
        )
    );
    assert!(
        s.store
            .catalog()
            .measurements
            .values()
            .all(|m| m.name != "ok")
    );
}

#[tokio::test]
async fn gzip_bodies_are_inflated_and_bombs_refused() {
    use std::io::Write;
    let s = server(false).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"m f=1 1\nm f=2 2\n").expect("gzip");
    let req = Request::post("/write?db=db")
        .header("content-encoding", "gzip")
        .body(Body::from(gz.finish().expect("finish")))
        .expect("req");
    assert_eq!(call(&s, req).await.0, StatusCode::NO_CONTENT);

    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b'#'; 1 << 20];
    for _ in 0..101 {
        bomb.write_all(&zeros).expect("bomb");
    }
    let req = Request::post("/write?db=db")
        .header("content-encoding", "gzip")
        .body(Body::from(bomb.finish().expect("finish")))
        .expect("req");
    let (st, _, msg) = call(&s, req).await;
    assert_eq!(
        (st, msg.as_str()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"error":"Request Entity Too Large"}"#
        )
    );
}

#[tokio::test]
async fn auth_is_on_by_default_and_tokens_are_scoped() {
    let s = server(true).await;
    let (st, _, msg) = call(&s, post("/write?db=db", "m f=1")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(msg.contains("create admin user first"));
    let conn = tsdb::storage::admin_connection(s.store.dir()).expect("admin conn");
    create_user(&conn, "admin", "s3cret-pass", true).expect("user");
    let (st, h, msg) = call(&s, post("/write?db=db", "m f=1")).await;
    assert_eq!(
        (st, msg.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"unable to parse authentication credentials"}"#
        )
    );
    assert!(h.contains_key("www-authenticate"));
    let (st, _, msg) = call(&s, post("/write?db=db&u=admin&p=wrong-pass", "m f=1")).await;
    assert_eq!(
        (st, msg.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"authorization failed"}"#
        )
    );
    assert_eq!(
        call(&s, post("/write?db=db&u=admin&p=s3cret-pass", "m f=1"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );

    let scope = TokenScope {
        database: Some("db".into()),
        can_read: false,
        can_write: true,
        admin: false,
    };
    let token = create_token(&conn, "agent", &scope).expect("token");
    let with_token = |uri: &str| {
        Request::post(uri)
            .header("authorization", format!("Token {token}"))
            .body(Body::from("m f=2 2"))
            .expect("req")
    };
    assert_eq!(
        call(&s, with_token("/write?db=db")).await.0,
        StatusCode::NO_CONTENT
    );
    s.store.create_database("other").await.expect("other");
    let (st, _, msg) = call(&s, with_token("/write?db=other")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(
        msg.contains("not authorized to write to database \\\"other\\\""),
        "{msg}"
    );
    // 1.x clients carry the token as the password.
    let uri = format!("/write?db=db&u=agent&p={token}");
    assert_eq!(
        call(&s, post(&uri, "m f=3 3")).await.0,
        StatusCode::NO_CONTENT
    );
    // v2 endpoint, bucket = db/rp.
    let req = Request::post("/api/v2/write?bucket=db/autogen&precision=s")
        .header("authorization", format!("Token {token}"))
        .body(Body::from("m f=4 4"))
        .expect("req");
    assert_eq!(call(&s, req).await.0, StatusCode::NO_CONTENT);
    let req = Request::post("/api/v2/write?bucket=db&precision=s")
        .body(Body::from("m f=4 4"))
        .expect("req");
    let (st, _, msg) = call(&s, req).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(msg.contains(r#""code":"unauthorized""#), "{msg}");
}

#[tokio::test]
async fn full_queue_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(
        dir.path(),
        StoreOptions {
            queue_capacity: 1,
            max_group: 1,
            ..StoreOptions::default()
        },
    )
    .expect("open");
    store.create_database("db").await.expect("db");
    let s = Server {
        state: ApiState::new(store.clone(), false),
        store,
        _dir: dir,
    };
    // Many concurrent writes against a queue of one: some must be turned away with 503.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let r = router(s.state.clone());
        tasks.push(tokio::spawn(async move {
            let body: String = (0..2000).map(|j| format!("m,h=h{i} f={j} {j}\n")).collect();
            r.oneshot(post("/write?db=db", body)).await.expect("resp")
        }));
    }
    let mut saw_503 = false;
    for t in tasks {
        let resp = t.await.expect("join");
        match resp.status() {
            StatusCode::NO_CONTENT => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(resp.headers()["retry-after"], "1");
                saw_503 = true;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        saw_503,
        "a queue of one must overflow under 64 concurrent writers"
    );
}
