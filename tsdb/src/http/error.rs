//! The one place that decides status codes and error bodies for the 1.x API.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::Error;
use crate::auth::AuthError;

/// An error answer, in InfluxDB 1.x's shape: `{"error": "..."}` plus `X-Influxdb-Error`.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    NotFound(String),
    Unauthorized(String),
    Forbidden(String),
    PayloadTooLarge,
    /// The write queue is full: retry after the given seconds.
    Overloaded {
        retry_after_secs: u32,
    },
    Unavailable(String),
    /// 1.x answers 500 for some client mistakes (an unknown retention policy); Telegraf
    /// keys its behaviour off that, so we keep it.
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Overloaded { .. } | ApiError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => m.clone(),
            ApiError::PayloadTooLarge => "Request Entity Too Large".into(),
            ApiError::Overloaded { .. } => "write queue is full, retry later".into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::MissingCredentials | AuthError::Failed => {
                ApiError::Unauthorized(e.to_string())
            }
            AuthError::NoAdmin | AuthError::Forbidden(_) => ApiError::Forbidden(e.to_string()),
            AuthError::Storage(m) => {
                tracing::error!("auth storage: {m}");
                ApiError::Internal("internal error".into())
            }
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::DatabaseRequired | Error::InvalidName(_) | Error::FieldTypeConflict { .. } => {
                ApiError::BadRequest(e.to_string())
            }
            Error::DatabaseNotFound(_) => ApiError::NotFound(e.to_string()),
            Error::RetentionPolicyNotFound(_) | Error::RetentionPolicyExists => {
                ApiError::Internal(e.to_string())
            }
            Error::Overloaded => ApiError::Overloaded {
                retry_after_secs: 1,
            },
            Error::ShuttingDown => ApiError::Unavailable(e.to_string()),
            // The reason is SQLite's short text ("database or disk is full"): no paths, and
            // it tells the operator what to fix. 503 so that agents keep the batch and retry.
            Error::WriteFailed(_) => ApiError::Unavailable(e.to_string()),
            Error::Auth(a) => a.into(),
            other => {
                // Details go to the log, not to the client.
                tracing::error!("internal error: {other}");
                ApiError::Internal("internal error".into())
            }
        }
    }
}

/// Longest `X-Influxdb-Error` header value.
const MAX_ERROR_HEADER_BYTES: usize = 4096;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let msg = self.message();
        let mut resp = (self.status(), Json(serde_json::json!({ "error": msg }))).into_response();
        let headers = resp.headers_mut();
        // Header values cannot hold newlines (multi-line parse errors); fold them. The header
        // is capped (the body keeps the whole message): an error quoting a huge line must not
        // make a response header that proxies and clients refuse (nginx answers 502 past 4-8 KB).
        let folded: String = msg
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .scan(0usize, |len, c| {
                *len += c.len_utf8();
                (*len <= MAX_ERROR_HEADER_BYTES).then_some(c)
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&folded) {
            headers.insert("X-Influxdb-Error", v);
        }
        if let ApiError::Overloaded { retry_after_secs } = self {
            headers.insert("Retry-After", HeaderValue::from(retry_after_secs));
        }
        if matches!(self, ApiError::Unauthorized(_)) {
            headers.insert(
                "WWW-Authenticate",
                HeaderValue::from_static("Basic realm=\"tigk\""),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_header_is_capped_but_the_body_keeps_the_whole_message() {
        let msg = format!("partial write: {} dropped=1", "é".repeat(60_000));
        let resp = ApiError::BadRequest(msg.clone()).into_response();
        let header = resp.headers()["X-Influxdb-Error"].as_bytes();
        assert!(header.len() <= MAX_ERROR_HEADER_BYTES, "{}", header.len());
        assert!(
            std::str::from_utf8(header).is_ok(),
            "cut inside a character"
        );
        assert!(header.starts_with(b"partial write: "));
        let body = body_text(resp);
        assert!(body.contains(&msg), "body lost the message");
    }

    fn body_text(resp: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let bytes = rt
            .block_on(axum::body::to_bytes(resp.into_body(), usize::MAX))
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }
}
