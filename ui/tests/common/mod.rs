//! Shared test fixtures: a data dir with users, an app, and a browser-like client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use ui::{DataSource, FixedSource, UiConfig, UiState};

pub const ADMIN: (&str, &str) = ("admin", "admin-password-123");
pub const VIEWER: (&str, &str) = ("viv", "viewer-password-123");
pub const EDITOR: (&str, &str) = ("eddie", "editor-password-123");

pub struct Env {
    pub dir: tempfile::TempDir,
    pub app: Router,
    pub state: UiState,
}

/// A data dir with an admin, a viewer and an editor (role set through the admin page).
pub async fn env_with(source: Arc<dyn DataSource>, users: bool, peer: &str) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    if users {
        let conn = tsdb::storage::admin_connection(dir.path()).expect("admin conn");
        tsdb::auth::create_user(&conn, ADMIN.0, ADMIN.1, true).expect("admin");
        tsdb::auth::create_user(&conn, VIEWER.0, VIEWER.1, false).expect("viewer");
        tsdb::auth::create_user(&conn, EDITOR.0, EDITOR.1, false).expect("editor");
    }
    let state = UiState::new(source, dir.path(), UiConfig::default()).expect("state");
    let peer: SocketAddr = peer.parse().expect("addr");
    let app = ui::router(state.clone()).layer(MockConnectInfo(peer));
    let env = Env { dir, app, state };
    if users {
        let admin = env.login(ADMIN).await;
        let r = admin
            .post(
                &env,
                "/admin/users/role",
                &[("user", EDITOR.0), ("role", "editor")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    env
}

pub async fn env(source: FixedSource) -> Env {
    env_with(Arc::new(source), true, "127.0.0.1:40000").await
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect()
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Resp {
    let resp: Response<Body> = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the first `name="csrf" value="…"` in a page.
pub fn csrf_in(body: &str) -> Option<String> {
    let i = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let j = body[i..].find('"')?;
    Some(body[i..i + j].to_string())
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or("").to_string()
}

/// A signed-in browser: its cookies and its form token.
#[derive(Clone, Debug)]
pub struct Client {
    pub cookies: String,
    pub csrf: String,
}

impl Env {
    pub async fn get(&self, path: &str) -> Resp {
        send(
            &self.app,
            Request::get(path)
                .header(header::HOST, "localhost")
                .body(Body::empty())
                .expect("req"),
        )
        .await
    }

    /// Signs in through the form, as a browser would.
    pub async fn login(&self, (user, password): (&str, &str)) -> Client {
        let page = self.get("/login").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = csrf_in(&page.body).expect("login csrf");
        let pre = page
            .set_cookies()
            .first()
            .map(|c| cookie_pair(c))
            .expect("csrf cookie");
        let r = send(
            &self.app,
            Request::post("/login")
                .header(header::HOST, "localhost")
                .header(header::ORIGIN, "http://localhost")
                .header(header::COOKIE, &pre)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form_body(&[
                    ("csrf", &csrf),
                    ("user", user),
                    ("password", password),
                    ("next", "/hosts"),
                ])))
                .expect("req"),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let session = r
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("tigk_session="))
            .expect("session cookie");
        let mut client = Client {
            cookies: cookie_pair(&session),
            csrf: String::new(),
        };
        let page = client.get(self, "/hosts").await;
        client.csrf = csrf_in(&page.body).expect("session csrf");
        client
    }
}

impl Client {
    pub async fn get(&self, env: &Env, path: &str) -> Resp {
        send(
            &env.app,
            Request::get(path)
                .header(header::HOST, "localhost")
                .header(header::COOKIE, &self.cookies)
                .body(Body::empty())
                .expect("req"),
        )
        .await
    }

    /// A form POST from our own origin with the session's token.
    pub async fn post(&self, env: &Env, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(env, path, &form_body(&all), Some("http://localhost"))
            .await
    }

    pub async fn post_raw(&self, env: &Env, path: &str, body: &str, origin: Option<&str>) -> Resp {
        let mut b = Request::post(path)
            .header(header::HOST, "localhost")
            .header(header::COOKIE, &self.cookies)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        send(&env.app, b.body(Body::from(body.to_string())).expect("req")).await
    }
}
