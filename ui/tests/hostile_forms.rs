//! Hostile bytes at the UI's forms and static files (issue #8): path traversal under
//! `/static` in its encodings, form bodies past the limit, and forms with invalid UTF-8.
//! Each gets a 4xx (or a normal answer for harmless input), never a 5xx, a file from
//! disk or a panic. (`tigk/tests/hostile.rs` sends the same traversals to the whole
//! server over a socket.)

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{ADMIN, EDITOR, csrf_in, env, send};
use ui::FixedSource;

fn clean(what: &str, status: StatusCode, body: &str) {
    assert!(!status.is_server_error(), "{what}: {status} {body:.300}");
    for leak in ["root:", "panicked", "RUST_BACKTRACE", "/etc/passwd"] {
        assert!(!body.contains(leak), "{what}: {leak} in {body:.300}");
    }
}

#[tokio::test]
async fn static_paths_in_every_encoding_serve_nothing_from_disk() {
    let env = env(FixedSource::default()).await;
    for path in [
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/static/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "/static/..%5c..%5c..%5cetc%5cpasswd",
        "/static/%5c..%5c..%5cetc%5cpasswd",
        "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "/static/%c0%af..%c0%afetc%c0%afpasswd",
        "/static/%e0%80%ae%e0%80%ae/etc/passwd",
        "/static/style.css%00.png",
        "/static/style.css/../../../etc/passwd",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/..;/..;/etc/passwd",
    ] {
        let r = env.get(path).await;
        clean(path, r.status, &r.body);
        assert!(
            r.status.is_client_error() || r.status.is_redirection(),
            "{path}: {}",
            r.status
        );
    }
    // A literal backslash is not a valid URI character: refused before routing, or
    // routed as a plain (missing) file name.
    if let Ok(req) = Request::get("/static/..\\..\\etc\\passwd")
        .header(header::HOST, "localhost")
        .body(Body::empty())
    {
        let r = send(&env.app, req).await;
        clean("backslash", r.status, &r.body);
        assert!(r.status.is_client_error(), "backslash: {}", r.status);
    }
    // The real files are still there.
    assert_eq!(env.get("/static/style.css").await.status, StatusCode::OK);
}

#[tokio::test]
async fn huge_form_bodies_are_refused() {
    let env = env(FixedSource::default()).await;
    let editor = env.login(EDITOR).await;
    let big = format!("csrf={}&title={}", editor.csrf, "x".repeat(30 << 20));
    let r = editor
        .post_raw(&env, "/dashboards", &big, Some("http://localhost"))
        .await;
    clean("30 MB dashboard form", r.status, &r.body);
    // The gate reads at most 2 MiB of a form before it looks for the token.
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{:.300}", r.body);
    assert!(r.body.contains("the form is too large"), "{:.300}", r.body);
    // Before signing in too: the login form.
    let page = env.get("/login").await;
    let csrf = csrf_in(&page.body).expect("csrf");
    let r = send(
        &env.app,
        Request::post("/login")
            .header(header::HOST, "localhost")
            .header(header::ORIGIN, "http://localhost")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "csrf={csrf}&user=admin&password={}",
                "p".repeat(30 << 20)
            )))
            .expect("req"),
    )
    .await;
    clean("30 MB login form", r.status, &r.body);
    assert!(r.status.is_client_error(), "{}", r.status);
    // A title under the body limit but past the field's own limit is a clear 4xx.
    let r = editor
        .post(&env, "/dashboards", &[("title", &"t".repeat(100_000))])
        .await;
    clean("100 KB title", r.status, &r.body);
    assert!(r.status.is_client_error(), "{}", r.status);
    // Nothing of it was stored.
    let list = editor.get(&env, "/dashboards").await;
    assert!(
        !list.body.contains("tttttttttt"),
        "a refused title was kept"
    );
}

#[tokio::test]
async fn forms_with_invalid_utf8_are_refused_or_stored_as_valid_text() {
    let env = env(FixedSource::default()).await;
    let editor = env.login(EDITOR).await;
    // Percent-encoded bytes that are not UTF-8 (and an overlong '/').
    let r = editor
        .post_raw(
            &env,
            "/dashboards",
            &format!("csrf={}&title=bad%FF%FE%C0%AFname", editor.csrf),
            Some("http://localhost"),
        )
        .await;
    clean("percent-encoded invalid UTF-8", r.status, &r.body);
    // Raw bytes that are not UTF-8 in the body itself.
    let mut raw = format!("csrf={}&title=raw", editor.csrf).into_bytes();
    raw.extend_from_slice(b"\xff\xfe\xc3\x28name");
    let r = send(
        &env.app,
        Request::post("/dashboards")
            .header(header::HOST, "localhost")
            .header(header::ORIGIN, "http://localhost")
            .header(header::COOKIE, &editor.cookies)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(raw))
            .expect("req"),
    )
    .await;
    clean("raw invalid UTF-8", r.status, &r.body);
    // Whatever was accepted reads back as valid text, and the pages still render.
    let list = editor.get(&env, "/dashboards").await;
    assert_eq!(list.status, StatusCode::OK);
    clean("dashboard list", list.status, &list.body);
    // A login with invalid UTF-8 credentials is a failed login, not an error.
    let page = env.get("/login").await;
    let csrf = csrf_in(&page.body).expect("csrf");
    let pre = page.set_cookies()[0]
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    let mut body = format!("csrf={csrf}&user={}&password=", ADMIN.0).into_bytes();
    body.extend_from_slice(b"\xff\xfe%FF");
    let r = send(
        &env.app,
        Request::post("/login")
            .header(header::HOST, "localhost")
            .header(header::ORIGIN, "http://localhost")
            .header(header::COOKIE, &pre)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("req"),
    )
    .await;
    clean("login with invalid UTF-8", r.status, &r.body);
    assert!(
        !r.set_cookies()
            .iter()
            .any(|c| c.starts_with("tigk_session=") && !c.contains("Max-Age=0")),
        "signed in with a wrong password"
    );
}
