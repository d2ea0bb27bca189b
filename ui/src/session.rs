//! Sessions, roles and the request gate that every route passes through.
//!
//! A session id is 256 random bits, sent in an HttpOnly cookie and stored only as its
//! SHA-256, so a leaked `ui.db` does not hand out live sessions. The CSRF token is derived
//! from the id (another SHA-256 with a different prefix): nothing extra to store, and it
//! dies with the session. Forms shown before sign-in (login, first-run) use a
//! double-submit cookie instead.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chart::Theme;
use crate::db::now_secs;
use crate::error::{Result, UiError};
use crate::state::UiState;
use crate::web;

/// Largest form body accepted (a pasted dashboard JSON is the biggest).
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// What a signed-in user may do; each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The signed-in user of this request. Extracting it from a request without a valid
/// session redirects to the login page.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub name: String,
    pub role: Role,
    pub csrf: String,
    pub theme: Theme,
    pub(crate) session_hash: [u8; 32],
}

impl CurrentUser {
    pub fn require(&self, role: Role) -> Result<()> {
        if self.role >= role {
            Ok(())
        } else {
            Err(UiError::Forbidden(format!(
                "this needs the {} role; you are {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }
}

/// What the gate found, kept in the request's extensions for the extractors.
#[derive(Clone)]
struct Resolved(Option<CurrentUser>);

impl FromRequestParts<UiState> for CurrentUser {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _: &UiState) -> Result<Self> {
        match parts.extensions.get::<Resolved>() {
            Some(Resolved(Some(u))) => Ok(u.clone()),
            // After sign-in the browser comes back with a GET: only a GET target is worth
            // returning to.
            _ => Err(UiError::Unauthenticated {
                next: match parts.method {
                    Method::GET => parts
                        .uri
                        .path_and_query()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_else(|| "/".into()),
                    _ => "/".into(),
                },
            }),
        }
    }
}

/// The user if signed in, for pages that also serve anonymous visitors (login).
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequestParts<UiState> for MaybeUser {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _: &UiState) -> Result<Self> {
        Ok(MaybeUser(
            parts.extensions.get::<Resolved>().and_then(|r| r.0.clone()),
        ))
    }
}

pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-tigk_session"
    } else {
        "tigk_session"
    }
}

pub fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-tigk_csrf"
    } else {
        "tigk_csrf"
    }
}

pub const THEME_COOKIE: &str = "tigk_theme";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn csrf_for(raw_id: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"tigk-ui-csrf\0");
    h.update(raw_id);
    hex(&h.finalize())
}

/// Equal-time comparison, so a token cannot be guessed byte by byte from response times.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A fresh random token for pre-login forms.
pub fn random_token() -> String {
    hex(&rand::random::<[u8; 32]>())
}

/// Starts a session for `user`; returns the cookie value.
pub async fn create_session(state: &UiState, user: &str) -> Result<String> {
    let raw: [u8; 32] = rand::random();
    let hash: [u8; 32] = Sha256::digest(raw).into();
    let user = user.to_string();
    let lifetime = state.config().session_lifetime.as_secs() as i64;
    state
        .ui_db()
        .call(move |c| {
            let now = now_secs();
            // Expired rows are dead weight; sweeping at sign-in keeps the table small.
            c.execute(
                "DELETE FROM sessions WHERE created < ?1",
                [now.saturating_sub(lifetime)],
            )?;
            c.execute(
                "INSERT INTO sessions (id_hash, user, created, last_seen) VALUES (?1, ?2, ?3, ?3)",
                (&hash[..], &user, now),
            )?;
            Ok(())
        })
        .await?;
    Ok(hex(&raw))
}

/// Ends every session of `user`, for callers outside a request (the CLI after a password
/// change, say). Opens `ui.db` in `data_dir` directly; safe while a server runs.
pub fn revoke_sessions(data_dir: &std::path::Path, user: &str) -> Result<usize> {
    let db = crate::db::open_ui_db(data_dir)?;
    db.blocking(|c| Ok(c.execute("DELETE FROM sessions WHERE user = ?1", [user])?))
}

pub async fn delete_session(state: &UiState, session_hash: [u8; 32]) -> Result<()> {
    state
        .ui_db()
        .call(move |c| {
            c.execute(
                "DELETE FROM sessions WHERE id_hash = ?1",
                [&session_hash[..]],
            )?;
            Ok(())
        })
        .await
}

/// The user's UI role: store admins are always admins; others have what `ui.db` says
/// (viewer by default).
pub async fn role_of(state: &UiState, user: &str) -> Result<Option<Role>> {
    let name = user.to_string();
    let store_user = state
        .users()
        .call(move |c| {
            Ok(tsdb::auth::list_users(c)?
                .into_iter()
                .find(|(n, _)| *n == name))
        })
        .await?;
    let Some((_, store_admin)) = store_user else {
        return Ok(None);
    };
    if store_admin {
        return Ok(Some(Role::Admin));
    }
    let name = user.to_string();
    let role: Option<String> = state
        .ui_db()
        .call(move |c| {
            Ok(
                c.query_row("SELECT role FROM roles WHERE user = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await?;
    Ok(Some(
        role.and_then(|r| Role::parse(&r)).unwrap_or(Role::Viewer),
    ))
}

async fn resolve(state: &UiState, headers: &HeaderMap) -> Result<Option<CurrentUser>> {
    let secure = state.config().secure_cookies;
    let Some(raw) = web::cookie(headers, session_cookie_name(secure)).and_then(unhex32) else {
        return Ok(None);
    };
    let hash: [u8; 32] = Sha256::digest(raw).into();
    let idle = state.config().session_idle.as_secs() as i64;
    let lifetime = state.config().session_lifetime.as_secs() as i64;
    let user: Option<String> = state
        .ui_db()
        .call(move |c| {
            let now = now_secs();
            let row: Option<(String, i64, i64)> = c
                .query_row(
                    "SELECT user, created, last_seen FROM sessions WHERE id_hash = ?1",
                    [&hash[..]],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((user, created, last_seen)) = row else {
                return Ok(None);
            };
            if now - last_seen > idle || now - created > lifetime {
                c.execute("DELETE FROM sessions WHERE id_hash = ?1", [&hash[..]])?;
                return Ok(None);
            }
            // One write a minute per session is enough for the idle timeout.
            if now - last_seen > 60 {
                c.execute(
                    "UPDATE sessions SET last_seen = ?1 WHERE id_hash = ?2",
                    (now, &hash[..]),
                )?;
            }
            Ok(Some(user))
        })
        .await?;
    let Some(user) = user else { return Ok(None) };
    let Some(role) = role_of(state, &user).await? else {
        // The user was dropped from the store: the session goes with it.
        delete_session(state, hash).await?;
        return Ok(None);
    };
    let theme = match web::cookie(headers, THEME_COOKIE) {
        Some("dark") => Theme::Dark,
        _ => Theme::Light,
    };
    Ok(Some(CurrentUser {
        name: user,
        role,
        csrf: csrf_for(&raw),
        theme,
        session_hash: hash,
    }))
}

/// The authority (`host[:port]`) part of an origin or URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

fn scheme_and_authority(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once("://")?;
    Some(format!("{}://{}", scheme, authority(url)?).to_ascii_lowercase())
}

/// A state-changing request must say it comes from our own pages.
fn check_origin(state: &UiState, headers: &HeaderMap) -> Result<()> {
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(scheme_and_authority)
        .ok_or(UiError::Csrf)?;
    let ok = match &state.config().external_origin {
        Some(ext) => scheme_and_authority(ext).is_some_and(|e| e == claimed),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .ok_or(UiError::Csrf)?;
            authority(&claimed).is_some_and(|a| a.eq_ignore_ascii_case(host))
        }
    };
    if ok { Ok(()) } else { Err(UiError::Csrf) }
}

/// The `csrf` field of an urlencoded body. Tokens are hex, so no decoding is needed: an
/// encoded token is simply wrong.
fn csrf_field(body: &[u8]) -> Option<&str> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "csrf")
        .map(|(_, v)| v)
}

/// Runs before every route: finds the session, and refuses any unsafe request without a
/// same-site origin and a valid form token. Doing it here means no handler can forget.
pub async fn gate(State(state): State<UiState>, req: Request, next: Next) -> Response {
    match gate_inner(state, req).await {
        Ok(req) => {
            let user = req.extensions().get::<Resolved>().and_then(|r| r.0.clone());
            let resp = next.run(req).await;
            match user {
                // Errors are drawn where the user is unknown; a signed-in user's error page
                // gets the navigation, the theme and the sign-out button back.
                Some(u) => crate::render::with_user(resp, &u),
                None => resp,
            }
        }
        Err(e) => e.into_response(),
    }
}

async fn gate_inner(state: UiState, req: Request) -> Result<Request> {
    let user = resolve(&state, req.headers()).await?;
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(Resolved(user.clone()));
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe {
        return Ok(Request::from_parts(parts, body));
    }
    check_origin(&state, &parts.headers)?;
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| UiError::TooLarge)?;
    let sent = csrf_field(&bytes).ok_or(UiError::Csrf)?;
    let expected = match &user {
        Some(u) => u.csrf.clone(),
        None => web::cookie(
            &parts.headers,
            csrf_cookie_name(state.config().secure_cookies),
        )
        .filter(|c| c.len() >= 32)
        .ok_or(UiError::Csrf)?
        .to_string(),
    };
    if !ct_eq(sent, &expected) {
        return Err(UiError::Csrf);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The client's address for rate limiting; unknown peers share one bucket.
pub fn peer_ip(peer: web::Peer) -> IpAddr {
    peer.0
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

const LIMIT_FAILURES: u32 = 5;
const LIMIT_WINDOW: Duration = Duration::from_secs(300);
const LIMIT_MAX_KEYS: usize = 100_000;

/// Failed sign-ins per user and address: five in five minutes locks that pair out, for
/// twice as long each time it happens again.
#[derive(Default)]
pub struct LoginLimiter {
    map: Mutex<HashMap<(String, IpAddr), Bucket>>,
}

struct Bucket {
    failures: u32,
    window_start: Instant,
    strikes: u32,
    locked_until: Option<Instant>,
}

impl LoginLimiter {
    pub fn check(&self, user: &str, ip: IpAddr) -> Result<()> {
        let Ok(map) = self.map.lock() else {
            return Ok(());
        };
        match map.get(&(user.to_string(), ip)) {
            Some(Bucket {
                locked_until: Some(t),
                ..
            }) if *t > Instant::now() => Err(UiError::RateLimited),
            _ => Ok(()),
        }
    }

    pub fn failed(&self, user: &str, ip: IpAddr) {
        let Ok(mut map) = self.map.lock() else { return };
        if map.len() >= LIMIT_MAX_KEYS {
            // Under a flood of distinct names, forget everyone rather than grow forever.
            map.clear();
        }
        let now = Instant::now();
        let b = map.entry((user.to_string(), ip)).or_insert(Bucket {
            failures: 0,
            window_start: now,
            strikes: 0,
            locked_until: None,
        });
        if now.duration_since(b.window_start) > LIMIT_WINDOW {
            b.failures = 0;
            b.window_start = now;
        }
        b.failures += 1;
        if b.failures >= LIMIT_FAILURES {
            let factor = 1u32 << b.strikes.min(6);
            b.locked_until = Some(now + LIMIT_WINDOW * factor);
            b.strikes += 1;
            b.failures = 0;
        }
    }

    pub fn succeeded(&self, user: &str, ip: IpAddr) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&(user.to_string(), ip));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_csrf_differs_from_id() {
        let raw: [u8; 32] = rand::random();
        assert_eq!(unhex32(&hex(&raw)), Some(raw));
        assert_ne!(csrf_for(&raw), hex(&raw));
        assert_eq!(unhex32("zz"), None);
        assert_eq!(unhex32(&"g".repeat(64)), None);
    }

    #[test]
    fn origin_parsing() {
        assert_eq!(authority("http://a.b:8080/x?y"), Some("a.b:8080"));
        assert_eq!(
            scheme_and_authority("HTTPS://A.b/"),
            Some("https://a.b".into())
        );
        assert_eq!(authority("null"), None);
    }

    #[test]
    fn csrf_field_lookup() {
        assert_eq!(csrf_field(b"a=1&csrf=abc&b=2"), Some("abc"));
        assert_eq!(csrf_field(b"xcsrf=abc"), None);
    }

    #[test]
    fn limiter_locks_after_five_failures() {
        let l = LoginLimiter::default();
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for _ in 0..4 {
            l.failed("bob", ip);
            assert!(l.check("bob", ip).is_ok());
        }
        l.failed("bob", ip);
        assert!(matches!(l.check("bob", ip), Err(UiError::RateLimited)));
        assert!(l.check("alice", ip).is_ok());
    }
}
