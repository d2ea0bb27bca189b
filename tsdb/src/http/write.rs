//! `POST /write` (1.x) and `POST /api/v2/write` (2.x compatibility).

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::line_protocol::{Parser, Precision};
use serde::Deserialize;

use super::{ApiError, ApiState, credentials};
use crate::storage::{PointBatch, WriteOutcome};

#[derive(Debug, Deserialize)]
pub struct WriteParams {
    db: Option<String>,
    rp: Option<String>,
    precision: Option<String>,
    u: Option<String>,
    p: Option<String>,
}

pub async fn write_v1(
    State(state): State<ApiState>,
    Query(params): Query<WriteParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let creds = credentials::from_request(&headers, params.u.as_deref(), params.p.as_deref());
    let principal = state.principal(creds).await?;
    let db = params
        .db
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::BadRequest("database is required".into()))?;
    principal.authorize_write(&db)?;
    let precision = Precision::from_param(params.precision.as_deref());
    ingest(&state, &db, params.rp.as_deref(), precision, &headers, body).await
}

#[derive(Debug, Deserialize)]
pub struct WriteV2Params {
    bucket: Option<String>,
    #[allow(dead_code)]
    org: Option<String>,
    precision: Option<String>,
}

/// 2.x clients name `db/rp` as the bucket and send `precision` as ns/us/ms/s.
pub async fn write_v2(
    State(state): State<ApiState>,
    Query(params): Query<WriteV2Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let creds = credentials::from_request(&headers, None, None);
        let principal = state.principal(creds).await?;
        let bucket = params
            .bucket
            .filter(|b| !b.is_empty())
            .ok_or_else(|| ApiError::BadRequest("bucket is required".into()))?;
        let (db, rp) = match bucket.split_once('/') {
            Some((db, rp)) => (db.to_string(), Some(rp.to_string())),
            None => (bucket, None),
        };
        principal.authorize_write(&db)?;
        let precision = match params.precision.as_deref() {
            None | Some("ns") => Precision::Nanosecond,
            Some("us") => Precision::Microsecond,
            Some("ms") => Precision::Millisecond,
            Some("s") => Precision::Second,
            Some(other) => {
                return Err(ApiError::BadRequest(format!("invalid precision {other:?}")));
            }
        };
        ingest(&state, &db, rp.as_deref(), precision, &headers, body).await
    }
    .await;
    match result {
        Ok(status) => status.into_response(),
        Err(e) => {
            let code = match &e {
                ApiError::BadRequest(_) => "invalid",
                ApiError::NotFound(_) => "not found",
                ApiError::Unauthorized(_) => "unauthorized",
                ApiError::Forbidden(_) => "forbidden",
                ApiError::PayloadTooLarge => "request too large",
                ApiError::Overloaded { .. } | ApiError::Unavailable(_) => "unavailable",
                ApiError::Internal(_) => "internal error",
            };
            let message = e.message();
            let mut resp = e.into_response();
            *resp.body_mut() = axum::body::Body::from(
                serde_json::json!({ "code": code, "message": message }).to_string(),
            );
            resp
        }
    }
}

async fn ingest(
    state: &ApiState,
    db: &str,
    rp: Option<&str>,
    precision: Precision,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let gzip = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let limits = state.limits.clone();
    let now = crate::storage::now_ns();
    // Parsing a 25 MB body takes milliseconds of CPU: keep it off the async workers.
    let parsed = tokio::task::spawn_blocking(move || -> Result<ParsedBody, ApiError> {
        let body = if gzip {
            inflate(&body, limits.max_inflated_bytes)?
        } else {
            body.to_vec()
        };
        Ok(parse_body(&body, precision, &limits.line_protocol, now))
    })
    .await
    .map_err(|_| ApiError::Internal("internal error".into()))??;

    if let Some(msg) = parsed.fails_request {
        return Err(ApiError::BadRequest(msg));
    }
    let outcome = if parsed.batch.is_empty() {
        WriteOutcome::default()
    } else {
        state.store.write(db, rp, parsed.batch, now).await?
    };
    respond(
        &parsed.errors,
        parsed.dropped_at_parse,
        parsed.first_drop,
        &outcome,
    )
}

struct ParsedBody {
    batch: PointBatch,
    /// 1.x's `unable to parse '...': reason` texts.
    errors: Vec<String>,
    /// Lines that parsed but that 1.x drops afterwards (a `time` key), with the reason.
    dropped_at_parse: usize,
    first_drop: Option<String>,
    /// 1.x refuses the whole request for a field with two types in one line.
    fails_request: Option<String>,
}

fn parse_body(
    body: &[u8],
    precision: Precision,
    limits: &common::line_protocol::Limits,
    now: i64,
) -> ParsedBody {
    let mut out = ParsedBody {
        batch: PointBatch::new(),
        errors: Vec::new(),
        dropped_at_parse: 0,
        first_drop: None,
        fails_request: None,
    };
    for item in Parser::with_limits(body, precision, *limits) {
        match item {
            Ok(point) => out.batch.push(&point, now),
            Err(e) if e.kind.fails_request() => {
                out.fails_request = Some(e.influx_message());
            }
            Err(e) if e.kind.is_dropped() => {
                out.dropped_at_parse += 1;
                out.first_drop.get_or_insert_with(|| e.reason());
            }
            Err(e) => out.errors.push(e.influx_message()),
        }
    }
    out
}

/// Builds 1.x's answer: 204, or 400 with the parse errors and `partial write: ... dropped=N`.
fn respond(
    parse_errors: &[String],
    dropped_at_parse: usize,
    first_drop: Option<String>,
    outcome: &WriteOutcome,
) -> Result<StatusCode, ApiError> {
    let dropped = outcome.dropped + dropped_at_parse;
    if parse_errors.is_empty() && dropped == 0 {
        return Ok(StatusCode::NO_CONTENT);
    }
    // 1.x reports a drop reason (type conflict, `time` key) in preference to parse errors.
    let drop_reason = outcome.drop_reason.clone().or(first_drop);
    let msg = match drop_reason {
        Some(reason) => format!("partial write: {reason} dropped={dropped}"),
        None if outcome.points_written > 0 => {
            format!(
                "partial write: {} dropped={dropped}",
                parse_errors.join("\n")
            )
        }
        None => parse_errors.join("\n"),
    };
    Err(ApiError::BadRequest(msg))
}

fn inflate(body: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadRequest(format!("invalid gzip body: {e}")))?;
    if out.len() > limit {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(out)
}
