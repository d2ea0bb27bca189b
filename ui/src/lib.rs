//! tigk's web UI: server-rendered pages over the store, usable without JavaScript.
//!
//! - [`router`]: every route, behind the session gate and the security headers.
//! - `state`: [`UiState`], [`UiConfig`] and the [`DataSource`] seam (the real one is
//!   [`EngineSource`]; [`FixedSource`] answers from a table for tests).
//! - `error`: [`UiError`], the one place that picks status codes and renders error pages.
//! - `session`: sessions in `ui.db`, roles, the CSRF + Origin gate, sign-in rate limiting.
//! - `login`: sign-in, sign-out, first-run administrator (loopback only), theme switch.
//! - `admin`: UI roles per user. `tokens`: agent tokens (create, shown once; revoke).
//! - `hosts_add`: the one-line agent install command with a fresh token.
//! - `alerts`: alert rules (builder and raw TICKscript), task pages, active alerts and
//!   history, through the [`AlertBackend`] seam (implemented for the alerter's `Engine`).
//! - `hosts`: the host list and the automatic per-host dashboard.
//! - `dashboards`: user dashboards (list, panels, query builder, JSON export/import) and
//!   the agent dashboard provisioned on first start.
//! - `explore`: the data explorer (ad-hoc InfluxQL as chart and table, schema to pick from).
//! - `timerange`: the time-range picker's URL parameters.
//! - `cache`: settled buckets of panel queries, so a reload queries only the newest ones.
//! - `query`: InfluxQL building (quoted, parsed back, read-only) and result conversion.
//! - `chart`: time series to SVG with plotters, min/max downsampled per pixel column.
//! - `units`: number, byte, duration and UTC time formatting.
//! - `db`: `ui.db` schema and migrations. `render`: embedded templates and CSS.
//! - `web`: cookies, URL encoding, security headers, loopback detection.

mod admin;
mod alerts;
mod cache;
pub mod chart;
mod dashboards;
mod db;
mod error;
mod explore;
mod hosts;
mod hosts_add;
mod login;
mod query;
mod render;
mod session;
mod state;
mod timerange;
mod tokens;
pub mod units;
mod web;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Redirect;
use axum::routing::{get, post};

use dashboards::pages as dp;

pub use alerts::{AlertBackend, ScriptError, TaskDetail, TaskSummary};
pub use error::UiError;
pub use session::{Role, revoke_sessions};
pub use state::{BoxFuture, DataSource, EngineSource, FixedSource, UiConfig, UiState};

/// All UI routes. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the first-run page can tell
/// loopback clients apart (without the peer address it stays closed).
pub fn router(state: UiState) -> Router {
    let secure = state.config().secure_cookies;
    let app = Router::new()
        .route("/", get(|| async { Redirect::to("/hosts") }))
        .route("/static/style.css", get(web::style_css))
        .route("/static/tigk.js", get(web::script_js))
        .route("/login", get(login::login_form).post(login::login_submit))
        .route("/logout", post(login::logout))
        .route("/setup", get(login::setup_form).post(login::setup_submit))
        .route("/theme", post(login::set_theme))
        .route("/hosts", get(hosts::list))
        .route("/explore", get(explore::page))
        .route("/hosts/{host}", get(hosts::dashboard))
        .route("/dashboards", get(dp::list).post(dp::create))
        .route("/dashboards/import", post(dp::import))
        .route("/d/{uid}", get(dp::view))
        .route("/d/{uid}/rename", post(dp::rename))
        .route("/d/{uid}/duplicate", post(dp::duplicate))
        .route("/d/{uid}/delete", get(dp::delete_form).post(dp::delete))
        .route("/d/{uid}/export", get(dp::export))
        .route(
            "/d/{uid}/panels/{idx}/edit",
            get(dp::edit_form).post(dp::edit_submit),
        )
        .route("/d/{uid}/panels/{idx}/body", get(dp::panel_fragment))
        .route("/d/{uid}/panels/{idx}/delete", post(dp::delete_panel))
        .route("/d/{uid}/panels/{idx}/move", post(dp::move_panel))
        .route("/alerts", get(alerts::alerts_page))
        .route("/alerts/history", get(alerts::history_page))
        .route("/alerts/rules", get(alerts::rules_list))
        .route(
            "/alerts/rules/{id}",
            get(alerts::builder_form).post(alerts::builder_submit),
        )
        .route("/alerts/tasks/{id}", get(alerts::task_page))
        .route(
            "/alerts/tasks/{id}/script",
            get(alerts::edit_form).post(alerts::edit_submit),
        )
        .route("/alerts/tasks/{id}/enabled", post(alerts::set_enabled))
        .route(
            "/alerts/tasks/{id}/delete",
            get(alerts::delete_form).post(alerts::delete),
        )
        .route("/admin/users", get(admin::users))
        .route("/admin/users/role", post(admin::set_role))
        .route("/admin/tokens", get(tokens::list).post(tokens::create))
        .route("/admin/tokens/{id}/revoke", post(tokens::revoke))
        .route(
            "/admin/hosts/add",
            get(hosts_add::form).post(hosts_add::submit),
        )
        .fallback(|| async { UiError::NotFound })
        .method_not_allowed_fallback(|| async { UiError::MethodNotAllowed })
        .layer(from_fn_with_state(state.clone(), session::gate))
        .layer(from_fn(web::security_headers))
        .with_state(state);
    if secure {
        app.layer(from_fn(web::hsts))
    } else {
        app
    }
}
