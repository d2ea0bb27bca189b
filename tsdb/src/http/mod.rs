//! InfluxDB 1.x's HTTP API: `/ping`, `/write`, `/api/v2/write`, `/query`.
//!
//! Build it with [`router`]; every route is testable in-process with `oneshot`.

pub mod credentials;
mod error;
mod format;
pub mod metrics;
mod query;
mod write;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use error::ApiError;

use crate::Store;
use crate::auth::{Authenticator, Credentials, Principal};

/// The version 1.x clients see. The influx CLI and Grafana read it; `1.6.7` keeps them on
/// the code paths we are compatible with.
pub const INFLUX_VERSION: &str = "1.6.7~tigk";

/// Request limits, finite by default.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest request body on the wire (1.x: max-body-size, 25 MB).
    pub max_body_bytes: usize,
    /// Largest body after gzip inflation: guards against gzip bombs.
    pub max_inflated_bytes: usize,
    pub line_protocol: common::line_protocol::Limits,
    /// Statements per /query request.
    pub max_statements: usize,
    /// What one /query statement may cost.
    pub query: crate::query::QueryLimits,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 25_000_000,
            max_inflated_bytes: 100_000_000,
            line_protocol: common::line_protocol::Limits::default(),
            max_statements: 100,
            query: crate::query::QueryLimits::default(),
        }
    }
}

/// Runs `/query`'s statements elsewhere than the store's engine (tigk's remote mode: an
/// InfluxDB 1.x-API engine). The caller is authenticated already; the runner must refuse
/// what `ctx.principal` may not do. One result per statement, in order.
pub trait QueryRunner: Send + Sync {
    fn run<'a>(
        &'a self,
        query: &'a influxql::Query,
        ctx: &'a crate::query::QueryContext,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Vec<crate::query::StatementResult>> + Send + 'a>,
    >;
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    /// `None` when authentication is off (allowed only on loopback binds; the binary checks).
    pub auth: Option<Arc<Authenticator>>,
    pub limits: Arc<HttpLimits>,
    /// `None`: `/query` runs on the store.
    pub queries: Option<Arc<dyn QueryRunner>>,
}

impl ApiState {
    pub fn new(store: Store, auth_enabled: bool) -> ApiState {
        let auth = auth_enabled.then(|| {
            Arc::new(Authenticator::new(
                store.dir().join(crate::storage::DB_FILE),
            ))
        });
        ApiState {
            store,
            auth,
            limits: Arc::new(HttpLimits::default()),
            queries: None,
        }
    }

    /// Authenticates off the async runtime's threads (Argon2 is slow on purpose).
    pub(crate) async fn principal(&self, creds: Credentials) -> Result<Principal, ApiError> {
        let Some(auth) = self.auth.clone() else {
            return Ok(Principal::anonymous_admin());
        };
        tokio::task::spawn_blocking(move || auth.authenticate(&creds))
            .await
            .map_err(|_| ApiError::Internal("internal error".into()))?
            .map_err(ApiError::from)
    }
}

/// The 1.x API router.
pub fn router(state: ApiState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/ping", get(ping).head(ping))
        .route("/write", post(write::write_v1))
        .route("/api/v2/write", post(write::write_v2))
        .route("/query", get(query::query).post(query::query))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(influx_headers))
        .with_state(state)
}

/// Middleware for other HTTP surfaces mounted beside this API (the Kapacitor-compatible
/// task API): the same credentials as `/write` and `/query`, and admin rights required.
pub async fn require_admin(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    // Decoded like /query's parameters; a malformed query string carries no credentials.
    let pairs =
        credentials::url_pairs(req.uri().query().unwrap_or("").as_bytes()).unwrap_or_default();
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let creds = credentials::from_request(req.headers(), param("u"), param("p"));
    match state
        .principal(creds)
        .await
        .and_then(|p| p.authorize_admin().map_err(ApiError::from))
    {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn ping(State(_): State<ApiState>) -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Adds the headers every 1.x response carries.
async fn influx_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let id = format!("{:032x}", rand::random::<u128>());
    let h = resp.headers_mut();
    h.insert(
        "X-Influxdb-Version",
        HeaderValue::from_static(INFLUX_VERSION),
    );
    h.insert("X-Influxdb-Build", HeaderValue::from_static("OSS"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("Request-Id", v.clone());
        h.insert("X-Request-Id", v);
    }
    resp.into_response()
}
