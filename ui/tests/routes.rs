//! Sign-in, sessions, roles, CSRF and headers, through the router as a browser sees them.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use ui::FixedSource;

fn assert_security_headers(r: &Resp) {
    let h = |n: &str| {
        r.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(
        h("content-security-policy").contains("default-src 'self'"),
        "{:?}",
        r.headers
    );
    assert!(h("content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(h("x-frame-options"), "DENY");
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("referrer-policy"), "same-origin");
}

#[tokio::test]
async fn every_response_has_security_headers() {
    let env = env(FixedSource::default()).await;
    for path in ["/login", "/static/style.css", "/nope", "/admin/users", "/"] {
        let r = env.get(path).await;
        assert_security_headers(&r);
    }
    let admin = env.login(ADMIN).await;
    assert_security_headers(&admin.get(&env, "/admin/users").await);
    assert_security_headers(&admin.post_raw(&env, "/admin/users/role", "x=1", None).await);
    let r = admin.get(&env, "/logout").await;
    assert_eq!(
        r.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "sign-out is POST only"
    );
    assert_security_headers(&r);
    let nf = env.get("/nope").await;
    assert_eq!(nf.status, StatusCode::NOT_FOUND);
    assert!(nf.body.contains("404"));
}

#[tokio::test]
async fn pages_require_a_session() {
    let env = env(FixedSource::default()).await;
    let r = env.get("/admin/users?x=1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login?next=%2Fadmin%2Fusers%3Fx%3D1");
    // A forged or unknown cookie is no session.
    let fake = Client {
        cookies: format!("tigk_session={}", "ab".repeat(32)),
        csrf: String::new(),
    };
    assert_eq!(
        fake.get(&env, "/admin/users").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn session_cookie_attributes_and_logout() {
    let env = env(FixedSource::default()).await;
    let page = env.get("/login").await;
    let csrf = csrf_in(&page.body).expect("csrf");
    let pre = page.set_cookies()[0]
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    assert!(
        page.set_cookies()[0].contains("HttpOnly")
            && page.set_cookies()[0].contains("SameSite=Lax")
    );
    let r = send(
        &env.app,
        Request::post("/login")
            .header(header::HOST, "localhost")
            .header(header::ORIGIN, "http://localhost")
            .header(header::COOKIE, &pre)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form_body(&[
                ("csrf", &csrf),
                ("user", ADMIN.0),
                ("password", ADMIN.1),
                ("next", "//evil.example/"),
            ])))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/", "open redirects are refused");
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("tigk_session="))
        .expect("cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"));
    // The id is 256 bits of hex.
    let id = cookie
        .split(';')
        .next()
        .unwrap_or("")
        .trim_start_matches("tigk_session=");
    assert_eq!(id.len(), 64);

    let admin = env.login(ADMIN).await;
    assert_eq!(admin.get(&env, "/admin/users").await.status, StatusCode::OK);
    let out = admin.post(&env, "/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("tigk_session=;") && c.contains("Max-Age=0"))
    );
    assert_eq!(
        admin.get(&env, "/admin/users").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn secure_mode_uses_host_prefix_and_hsts() {
    let dir = tempfile::tempdir().expect("tmp");
    let conn = tsdb::storage::admin_connection(dir.path()).expect("conn");
    tsdb::auth::create_user(&conn, ADMIN.0, ADMIN.1, true).expect("user");
    let config = ui::UiConfig {
        secure_cookies: true,
        external_origin: Some("https://tigk.example".into()),
        ..ui::UiConfig::default()
    };
    let state =
        ui::UiState::new(Arc::new(FixedSource::default()), dir.path(), config).expect("state");
    let app = ui::router(state);
    let r = send(
        &app,
        Request::get("/login")
            .header(header::HOST, "tigk.example")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    let c = &r.set_cookies()[0];
    assert!(
        c.starts_with("__Host-tigk_csrf=") && c.contains("Secure"),
        "{c}"
    );
    assert!(r.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    // With an external origin configured, a POST from the bare Host is not enough.
    let csrf = csrf_in(&r.body).expect("csrf");
    let pre = c.split(';').next().unwrap_or("").to_string();
    let post = |origin: &'static str| {
        Request::post("/login")
            .header(header::HOST, "tigk.example")
            .header(header::ORIGIN, origin)
            .header(header::COOKIE, &pre)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form_body(&[
                ("csrf", &csrf),
                ("user", ADMIN.0),
                ("password", ADMIN.1),
            ])))
            .expect("req")
    };
    assert_eq!(
        send(&app, post("http://tigk.example")).await.status,
        StatusCode::FORBIDDEN
    );
    let ok = send(&app, post("https://tigk.example")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert!(
        ok.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-tigk_session=") && c.contains("Secure"))
    );
}

#[tokio::test]
async fn wrong_passwords_and_rate_limit() {
    let env = env(FixedSource::default()).await;
    let page = env.get("/login").await;
    let csrf = csrf_in(&page.body).expect("csrf");
    let pre = page.set_cookies()[0]
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    let attempt = |password: &str| {
        Request::post("/login")
            .header(header::HOST, "localhost")
            .header(header::ORIGIN, "http://localhost")
            .header(header::COOKIE, &pre)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form_body(&[
                ("csrf", &csrf),
                ("user", VIEWER.0),
                ("password", password),
            ])))
            .expect("req")
    };
    for _ in 0..5 {
        let r = send(&env.app, attempt("wrong-password-xx")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("Wrong user name or password"));
    }
    let r = send(&env.app, attempt(VIEWER.1)).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "locked out even with the right password"
    );
    assert!(r.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn a_token_is_not_a_password() {
    let env = env(FixedSource::default()).await;
    let conn = tsdb::storage::admin_connection(env.dir.path()).expect("conn");
    let scope = tsdb::auth::TokenScope {
        database: None,
        can_read: true,
        can_write: true,
        admin: true,
    };
    let token = tsdb::auth::create_token(&conn, "agent", &scope).expect("token");
    let page = env.get("/login").await;
    let csrf = csrf_in(&page.body).expect("csrf");
    let pre = page.set_cookies()[0]
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    let r = send(
        &env.app,
        Request::post("/login")
            .header(header::HOST, "localhost")
            .header(header::ORIGIN, "http://localhost")
            .header(header::COOKIE, &pre)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form_body(&[
                ("csrf", &csrf),
                ("user", ADMIN.0),
                ("password", &token),
            ])))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn roles_gate_admin_pages() {
    let env = env(FixedSource::default()).await;
    let viewer = env.login(VIEWER).await;
    let r = viewer.get(&env, "/admin/users").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("admin role"));
    let r = viewer
        .post(
            &env,
            "/admin/users/role",
            &[("user", VIEWER.0), ("role", "admin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no self-promotion");
    let admin = env.login(ADMIN).await;
    let page = admin.get(&env, "/admin/users").await;
    assert!(page.body.contains("eddie"));
    assert!(
        page.body.contains("<option value=\"editor\" selected>"),
        "{}",
        page.body
    );
    let r = admin
        .post(
            &env,
            "/admin/users/role",
            &[("user", "nobody"), ("role", "admin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = admin
        .post(
            &env,
            "/admin/users/role",
            &[("user", VIEWER.0), ("role", "root")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn csrf_refusals() {
    let env = env(FixedSource::default()).await;
    let admin = env.login(ADMIN).await;
    let body_ok = form_body(&[
        ("csrf", &admin.csrf),
        ("user", VIEWER.0),
        ("role", "editor"),
    ]);
    let no_token = form_body(&[("user", VIEWER.0), ("role", "editor")]);
    let bad_token = form_body(&[
        ("csrf", &"0".repeat(64)),
        ("user", VIEWER.0),
        ("role", "editor"),
    ]);
    let cases = [
        (no_token.as_str(), Some("http://localhost"), "missing token"),
        (bad_token.as_str(), Some("http://localhost"), "bad token"),
        (
            body_ok.as_str(),
            Some("http://evil.example"),
            "foreign origin",
        ),
        (body_ok.as_str(), Some("null"), "opaque origin"),
        (body_ok.as_str(), None, "no origin nor referer"),
    ];
    for (body, origin, what) in cases {
        let r = admin
            .post_raw(&env, "/admin/users/role", body, origin)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
        assert!(r.body.contains("another site"), "{what}");
    }
    // Another user's token is not this user's.
    let viewer = env.login(VIEWER).await;
    let stolen = form_body(&[
        ("csrf", &viewer.csrf),
        ("user", VIEWER.0),
        ("role", "editor"),
    ]);
    let r = admin
        .post_raw(&env, "/admin/users/role", &stolen, Some("http://localhost"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A same-origin Referer stands in for a missing Origin.
    let r = send(
        &env.app,
        Request::post("/admin/users/role")
            .header(header::HOST, "localhost")
            .header(header::REFERER, "http://localhost/admin/users")
            .header(header::COOKIE, &admin.cookies)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body_ok.clone()))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The login form is protected too (login CSRF), by its double-submit cookie.
    let r = send(
        &env.app,
        Request::post("/login")
            .header(header::HOST, "localhost")
            .header(header::ORIGIN, "http://localhost")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form_body(&[
                ("csrf", &"a".repeat(64)),
                ("user", ADMIN.0),
                ("password", ADMIN.1),
            ])))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn dropped_users_lose_their_sessions() {
    let env = env(FixedSource::default()).await;
    let viewer = env.login(VIEWER).await;
    assert_eq!(viewer.get(&env, "/hosts").await.status, StatusCode::OK);
    let conn = tsdb::storage::admin_connection(env.dir.path()).expect("conn");
    tsdb::auth::drop_user(&conn, VIEWER.0).expect("drop");
    assert_eq!(
        viewer.get(&env, "/hosts").await.status,
        StatusCode::SEE_OTHER
    );
}

async fn setup_post(env: &Env, host: &str, fields: &[(&str, &str)]) -> Resp {
    let page = send(
        &env.app,
        Request::get("/setup")
            .header(header::HOST, host)
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    let csrf = csrf_in(&page.body).unwrap_or_default();
    let pre = page
        .set_cookies()
        .first()
        .map(|c| c.split(';').next().unwrap_or("").to_string())
        .unwrap_or_default();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    send(
        &env.app,
        Request::post("/setup")
            .header(header::HOST, host)
            .header(header::ORIGIN, format!("http://{host}"))
            .header(header::COOKIE, pre)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form_body(&all)))
            .expect("req"),
    )
    .await
}

#[tokio::test]
async fn first_run_only_from_loopback_and_only_once() {
    let env = env_with(Arc::new(FixedSource::default()), false, "127.0.0.1:5000").await;
    let r = env.get("/login").await;
    assert_eq!(r.location(), "/setup");
    // A DNS-rebinding page reaches loopback but names its own host.
    let r = send(
        &env.app,
        Request::get("/setup")
            .header(header::HOST, "evil.example")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(
        &env.app,
        Request::get("/setup")
            .header(header::HOST, "localhost")
            .header("x-forwarded-for", "203.0.113.9")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "proxied requests are remote"
    );
    let short = setup_post(
        &env,
        "localhost:8086",
        &[
            ("user", "root"),
            ("password", "short"),
            ("confirm", "short"),
        ],
    )
    .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(short.body.contains("at least 12"));
    let ok = setup_post(
        &env,
        "localhost:8086",
        &[
            ("user", "root"),
            ("password", "a-long-password"),
            ("confirm", "a-long-password"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(
        ok.set_cookies()
            .iter()
            .any(|c| c.starts_with("tigk_session="))
    );
    let conn = tsdb::storage::admin_connection(env.dir.path()).expect("conn");
    assert_eq!(
        tsdb::auth::list_users(&conn).expect("users"),
        vec![("root".to_string(), true)]
    );
    assert_eq!(
        env.get("/setup").await.status,
        StatusCode::NOT_FOUND,
        "gone once an admin exists"
    );
    let again = setup_post(
        &env,
        "localhost",
        &[
            ("user", "x"),
            ("password", "a-long-password"),
            ("confirm", "a-long-password"),
        ],
    )
    .await;
    assert!(matches!(
        again.status,
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));
    assert_eq!(tsdb::auth::list_users(&conn).expect("users").len(), 1);
}

#[tokio::test]
async fn first_run_is_not_offered_remotely() {
    let env = env_with(Arc::new(FixedSource::default()), false, "192.0.2.7:5000").await;
    assert_eq!(env.get("/setup").await.status, StatusCode::NOT_FOUND);
    let r = env.get("/login").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("No administrator exists yet"));
    assert!(!r.body.contains("<form method=\"post\" action=\"/login\""));
}

#[tokio::test]
async fn theme_switch_returns_to_the_page_and_themes_charts() {
    let env = env(FixedSource::default()).await;
    let c = env.login(VIEWER).await;
    let r = send(
        &env.app,
        Request::post("/theme")
            .header(header::HOST, "localhost")
            .header(
                header::REFERER,
                "http://localhost/hosts/web1?from=now-6h&to=now",
            )
            .header(header::COOKIE, &c.cookies)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form_body(&[
                ("csrf", &c.csrf),
                ("theme", "dark"),
            ])))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/hosts/web1?from=now-6h&to=now");
    let theme = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("tigk_theme=dark"))
        .expect("cookie");
    let dark = Client {
        cookies: format!("{}; tigk_theme=dark", c.cookies),
        csrf: c.csrf.clone(),
    };
    let page = dark.get(&env, "/hosts/web1").await;
    assert!(page.body.contains("class=\"theme-dark\""));
    assert!(
        page.body.contains("#181B1F") || page.body.contains("#181b1f"),
        "charts drawn in the dark palette"
    );
    assert!(theme.contains("SameSite=Lax"));
}

#[tokio::test]
async fn sessions_can_be_revoked_from_outside() {
    let env = env(FixedSource::default()).await;
    let a = env.login(VIEWER).await;
    let b = env.login(VIEWER).await;
    let other = env.login(ADMIN).await;
    assert!(ui::revoke_sessions(env.dir.path(), VIEWER.0).expect("revoke") >= 2);
    assert_eq!(a.get(&env, "/hosts").await.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get(&env, "/hosts").await.status, StatusCode::SEE_OTHER);
    assert_eq!(other.get(&env, "/hosts").await.status, StatusCode::OK);
}
