//! The crate's one error type and the only place that turns errors into HTTP responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::render;

/// Everything that can go wrong while serving a page.
///
/// Client errors carry a message meant for the user; server errors carry detail meant for
/// the log only, and the page shows a generic text instead.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("page not found")]
    NotFound,
    #[error("this address does not take that kind of request")]
    MethodNotAllowed,
    /// Not signed in: the browser is sent to the login page, then back to `next`.
    #[error("sign-in required")]
    Unauthenticated { next: String },
    #[error("{0}")]
    Forbidden(String),
    /// The request came from another site or lost its form token.
    #[error("the form expired or came from another site; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    /// A form body past what the UI reads.
    #[error("the form is too large")]
    TooLarge,
    /// A TICKscript the alerter refused, with its position.
    #[error("{}", .0.message)]
    Script(crate::alerts::ScriptError),
    /// The server runs without an alerter.
    #[error("alerting is off on this server")]
    AlertingOff,
    #[error("too many failed sign-in attempts; wait a few minutes")]
    RateLimited,
    /// A query failed in the store (per-statement error or refused query).
    #[error("query failed: {0}")]
    Query(String),
    #[error("ui database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("user store: {0}")]
    Auth(tsdb::auth::AuthError),
    #[error("template: {0}")]
    Template(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<tsdb::auth::AuthError> for UiError {
    fn from(e: tsdb::auth::AuthError) -> Self {
        use tsdb::auth::AuthError;
        match e {
            // The user store's own words for a bad name or weak password are fit to show.
            AuthError::Forbidden(m) => UiError::BadRequest(m),
            other => UiError::Auth(other),
        }
    }
}

impl From<tera::Error> for UiError {
    fn from(e: tera::Error) -> Self {
        UiError::Template(e.to_string())
    }
}

impl From<tokio::task::JoinError> for UiError {
    fn from(e: tokio::task::JoinError) -> Self {
        UiError::Internal(e.to_string())
    }
}

impl UiError {
    pub fn status(&self) -> StatusCode {
        match self {
            UiError::NotFound => StatusCode::NOT_FOUND,
            UiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            UiError::Unauthenticated { .. } => StatusCode::SEE_OTHER,
            UiError::Forbidden(_) | UiError::Csrf => StatusCode::FORBIDDEN,
            UiError::BadRequest(_) | UiError::Script(_) => StatusCode::BAD_REQUEST,
            UiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UiError::AlertingOff => StatusCode::SERVICE_UNAVAILABLE,
            UiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            UiError::Query(_) => StatusCode::BAD_GATEWAY,
            UiError::Db(_) | UiError::Auth(_) | UiError::Template(_) | UiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The text shown to the user: never internals for server errors.
    pub fn public_message(&self) -> String {
        if self.status().is_server_error()
            && !matches!(self, UiError::Query(_) | UiError::AlertingOff)
        {
            "Something went wrong on the server. The error has been logged.".to_string()
        } else {
            self.to_string()
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        if let UiError::Unauthenticated { next } = &self {
            return Redirect::to(&format!("/login?next={}", crate::web::url_encode(next)))
                .into_response();
        }
        let status = self.status();
        if status.is_server_error() && !matches!(self, UiError::AlertingOff) {
            tracing::error!(error = %self, "ui request failed");
        }
        let message = self.public_message();
        let body = render::error_page(None, status, &message);
        let mut resp = (status, body).into_response();
        resp.extensions_mut()
            .insert(render::ErrorPage { status, message });
        if matches!(self, UiError::RateLimited) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("300"));
        }
        resp
    }
}

pub type Result<T, E = UiError> = std::result::Result<T, E>;
