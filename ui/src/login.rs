//! Sign-in, sign-out, the first-run page and the theme switch.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tsdb::auth::Credentials;

use crate::error::{Result, UiError};
use crate::render;
use crate::session::{self, CurrentUser, MaybeUser};
use crate::state::UiState;
use crate::web::{self, Peer};

/// The UI asks more of a password than the store's CLI does (reliability spec §3.3).
const MIN_PASSWORD: usize = 12;

async fn has_admin(state: &UiState) -> Result<bool> {
    state.users().call(|c| Ok(tsdb::auth::has_admin(c)?)).await
}

/// The pre-login CSRF token: the one already in the browser's cookie, or a new one.
fn login_csrf(state: &UiState, headers: &HeaderMap) -> (String, Option<String>) {
    let name = session::csrf_cookie_name(state.config().secure_cookies);
    match web::cookie(headers, name).filter(|c| c.len() == 64) {
        Some(c) => (c.to_string(), None),
        None => {
            let t = session::random_token();
            let cookie = web::set_cookie(name, &t, None, state.config().secure_cookies);
            (t, Some(cookie))
        }
    }
}

fn with_cookie(mut resp: Response, cookie: Option<String>) -> Response {
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

fn login_page(
    state: &UiState,
    headers: &HeaderMap,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response> {
    let (csrf, cookie) = login_csrf(state, headers);
    let mut ctx = render::context(None, "Sign in");
    ctx.insert("csrf", &csrf);
    ctx.insert("next", next);
    ctx.insert("error", &error);
    ctx.insert("no_admin", &false);
    let page = render::render("login.html", &ctx)?;
    Ok(with_cookie((status, page).into_response(), cookie))
}

pub async fn login_form(
    State(state): State<UiState>,
    MaybeUser(user): MaybeUser,
    Query(p): Query<NextParam>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response> {
    let next = web::safe_next(p.next.as_deref());
    if user.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    if !has_admin(&state).await? {
        if setup_allowed(&headers, peer) {
            return Ok(Redirect::to("/setup").into_response());
        }
        // Say what to do, without offering anything to a remote visitor.
        let mut ctx = render::context(None, "Sign in");
        ctx.insert("no_admin", &true);
        ctx.insert("csrf", "");
        ctx.insert("next", "/");
        ctx.insert("error", &Option::<&str>::None);
        return Ok(render::render("login.html", &ctx)?.into_response());
    }
    login_page(&state, &headers, &next, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
}

pub async fn login_submit(
    State(state): State<UiState>,
    MaybeUser(old): MaybeUser,
    peer: Peer,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response> {
    let next = web::safe_next(f.next.as_deref());
    let ip = session::peer_ip(peer);
    state.inner.limiter.check(&f.user, ip)?;
    let creds = Credentials::Password {
        user: f.user.clone(),
        password: f.password,
    };
    let st = state.clone();
    // Argon2 is deliberately slow: keep it off the async workers.
    let outcome =
        tokio::task::spawn_blocking(move || st.inner.authenticator.authenticate(&creds)).await?;
    match outcome {
        // A token typed as a password authenticates as the token, not as the user: refuse.
        Ok(p) if p.name == f.user => {}
        Ok(_) | Err(tsdb::auth::AuthError::Failed | tsdb::auth::AuthError::MissingCredentials) => {
            tracing::warn!(user = %f.user.escape_debug(), %ip, "ui sign-in refused");
            state.inner.limiter.failed(&f.user, ip);
            return login_page(
                &state,
                &headers,
                &next,
                Some("Wrong user name or password."),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(tsdb::auth::AuthError::NoAdmin) => return Ok(Redirect::to("/login").into_response()),
        Err(e) => return Err(e.into()),
    }
    state.inner.limiter.succeeded(&f.user, ip);
    tracing::info!(user = %f.user.escape_debug(), %ip, "ui sign-in");
    // Rotate: whatever session the browser had is replaced, never upgraded.
    if let Some(u) = old {
        session::delete_session(&state, u.session_hash).await?;
    }
    start_session(&state, &f.user, &next).await
}

async fn start_session(state: &UiState, user: &str, next: &str) -> Result<Response> {
    let id = session::create_session(state, user).await?;
    let secure = state.config().secure_cookies;
    let cookie = web::set_cookie(
        session::session_cookie_name(secure),
        &id,
        Some(state.config().session_lifetime.as_secs() as i64),
        secure,
    );
    Ok(with_cookie(
        Redirect::to(next).into_response(),
        Some(cookie),
    ))
}

pub async fn logout(State(state): State<UiState>, user: CurrentUser) -> Result<Response> {
    session::delete_session(&state, user.session_hash).await?;
    let secure = state.config().secure_cookies;
    let cookie = web::set_cookie(session::session_cookie_name(secure), "", Some(0), secure);
    Ok(with_cookie(
        Redirect::to("/login").into_response(),
        Some(cookie),
    ))
}

/// The first-run page is for whoever sits at the server: a direct loopback connection
/// that also names a loopback host (a DNS-rebinding page would name its own host).
fn setup_allowed(headers: &HeaderMap, peer: Peer) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    let loopback_name = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback_name && web::is_local_request(headers, peer)
}

async fn setup_gate(state: &UiState, headers: &HeaderMap, peer: Peer) -> Result<()> {
    // Once an admin exists, or for anyone not at the server, the page does not exist.
    if !setup_allowed(headers, peer) || has_admin(state).await? {
        return Err(UiError::NotFound);
    }
    Ok(())
}

fn setup_page(
    state: &UiState,
    headers: &HeaderMap,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response> {
    let (csrf, cookie) = login_csrf(state, headers);
    let mut ctx = render::context(None, "Create the first administrator");
    ctx.insert("csrf", &csrf);
    ctx.insert("error", &error);
    ctx.insert("min_password", &MIN_PASSWORD);
    let page = render::render("setup.html", &ctx)?;
    Ok(with_cookie((status, page).into_response(), cookie))
}

pub async fn setup_form(
    State(state): State<UiState>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response> {
    setup_gate(&state, &headers, peer).await?;
    setup_page(&state, &headers, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct SetupForm {
    user: String,
    password: String,
    confirm: String,
}

pub async fn setup_submit(
    State(state): State<UiState>,
    peer: Peer,
    headers: HeaderMap,
    Form(f): Form<SetupForm>,
) -> Result<Response> {
    setup_gate(&state, &headers, peer).await?;
    let user = f.user.trim().to_string();
    let problem = if user.is_empty() || user.len() > 64 || user.chars().any(char::is_control) {
        Some("Choose a user name of 1 to 64 printable characters.".to_string())
    } else if f.password.chars().count() < MIN_PASSWORD {
        Some(format!(
            "The password needs at least {MIN_PASSWORD} characters."
        ))
    } else if f.password != f.confirm {
        Some("The two passwords differ.".to_string())
    } else {
        None
    };
    if let Some(p) = problem {
        return setup_page(&state, &headers, Some(&p), StatusCode::BAD_REQUEST);
    }
    let (name, password) = (user.clone(), f.password);
    let created = state
        .users()
        .call(move |c| {
            // Checked again under the connection lock: two racing first-run forms must not
            // both create an admin.
            if tsdb::auth::has_admin(c)? {
                return Ok(false);
            }
            tsdb::auth::create_user(c, &name, &password, true)?;
            Ok(true)
        })
        .await?;
    if !created {
        return Err(UiError::NotFound);
    }
    tracing::info!(user = %user, "first administrator created from the web UI");
    start_session(&state, &user, "/").await
}

#[derive(Deserialize)]
pub struct ThemeForm {
    theme: String,
    next: Option<String>,
}

pub async fn set_theme(
    State(state): State<UiState>,
    _user: CurrentUser,
    headers: HeaderMap,
    Form(f): Form<ThemeForm>,
) -> Result<Response> {
    // Back to the page the switch was pressed on: the gate has checked that the Referer
    // (when it is what vouched for the request) is ours, and `safe_next` keeps it local.
    let back = f.next.or_else(|| {
        headers
            .get(header::REFERER)
            .and_then(|r| r.to_str().ok())
            .and_then(|r| r.split_once("://"))
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
    });
    let theme = if f.theme == "dark" { "dark" } else { "light" };
    let cookie = web::set_cookie(
        session::THEME_COOKIE,
        theme,
        Some(365 * 24 * 3600),
        state.config().secure_cookies,
    );
    Ok(with_cookie(
        Redirect::to(&web::safe_next(back.as_deref())).into_response(),
        Some(cookie),
    ))
}
