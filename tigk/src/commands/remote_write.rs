//! Remote mode's write paths. Agents set up by the "add a host" page write to tigk's
//! `/write` (and 2.x clients to `/api/v2/write`): with a remote engine those writes are
//! checked against tigk's users and tokens, then passed to the engine as they came, so that
//! they land where pages and batch tasks read. The engine's subscription pushes every write
//! back to tigk: those go to `/spool/write` (the subscription's destination carries the
//! `/spool` path, which InfluxDB 1.x keeps), into the spool the stream tasks read, and are
//! never forwarded again.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tsdb::auth::Principal;
use tsdb::http::{ApiError, ApiState, credentials};

/// The path prefix of the subscription's destination.
pub const SPOOL_PREFIX: &str = "/spool";

#[derive(Clone)]
struct Forward {
    client: remote::Client,
    state: ApiState,
}

/// `api` (the 1.x API) with its writes forwarded to the engine, and `/spool/write` taking
/// the engine's pushes; `api` as it is without a remote engine.
pub fn wrap(api: Router, state: ApiState, client: Option<remote::Client>) -> Router {
    let Some(client) = client else {
        return api;
    };
    let spool = tower::ServiceBuilder::new()
        .map_request(super::serve::to_write_path)
        .service(tsdb::http::router(state.clone()));
    api.layer(axum::middleware::from_fn_with_state(
        Forward { client, state },
        forward,
    ))
    .route_service(&format!("{SPOOL_PREFIX}/write"), spool)
}

async fn forward(State(f): State<Forward>, req: Request, next: Next) -> Response {
    let v2 = match (req.method(), req.uri().path()) {
        (&Method::POST, "/write") => false,
        (&Method::POST, "/api/v2/write") => true,
        _ => return next.run(req).await,
    };
    match relay(&f, req, v2).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Where a write goes: database, policy (empty: the default) and precision (empty: ns).
fn destination(pairs: &[(String, String)], v2: bool) -> Result<(String, String, String), ApiError> {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (db, rp) = if v2 {
        let bucket = get("bucket");
        match bucket.split_once('/') {
            Some((db, rp)) => (db.to_string(), rp.to_string()),
            None => (bucket, String::new()),
        }
    } else {
        (get("db"), get("rp"))
    };
    if db.is_empty() {
        let what = if v2 { "bucket" } else { "database" };
        return Err(ApiError::BadRequest(format!("{what} is required")));
    }
    Ok((db, rp, get("precision")))
}

async fn principal(
    state: &ApiState,
    headers: &HeaderMap,
    u: Option<&str>,
    p: Option<&str>,
) -> Result<Principal, ApiError> {
    let creds = credentials::from_request(headers, u, p);
    let Some(auth) = state.auth.clone() else {
        return Ok(Principal::anonymous_admin());
    };
    tokio::task::spawn_blocking(move || auth.authenticate(&creds))
        .await
        .map_err(|_| ApiError::Internal("internal error".into()))?
        .map_err(ApiError::from)
}

async fn relay(f: &Forward, req: Request, v2: bool) -> Result<(), ApiError> {
    let (parts, body) = req.into_parts();
    let pairs = credentials::url_pairs(parts.uri.query().unwrap_or("").as_bytes())?;
    let param = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (u, p) = if v2 {
        (None, None)
    } else {
        (param("u"), param("p"))
    };
    let who = principal(&f.state, &parts.headers, u, p).await?;
    let (db, rp, precision) = destination(&pairs, v2)?;
    who.authorize_write(&db)?;
    let body = axum::body::to_bytes(body, f.state.limits.max_body_bytes)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let gzip = parts
        .headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let client = f.client.clone();
    let sent =
        tokio::task::spawn_blocking(move || client.write_body(&db, &rp, &precision, &body, gzip))
            .await
            .map_err(|_| ApiError::Internal("internal error".into()))?;
    match sent {
        Ok(()) => Ok(()),
        // The engine's own answer to what was sent (a parse error, a partial write).
        Err(remote::Error::Query(m)) => Err(ApiError::BadRequest(m)),
        Err(remote::Error::Auth(m)) => Err(ApiError::Unavailable(format!(
            "the remote engine refused tigk's credentials: {m}"
        ))),
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        credentials::url_pairs(q.as_bytes()).expect("query string")
    }

    #[test]
    fn writes_keep_their_database_policy_and_precision() {
        assert_eq!(
            destination(&pairs("db=telegraf&rp=week&precision=s"), false).expect("v1"),
            ("telegraf".into(), "week".into(), "s".into())
        );
        assert_eq!(
            destination(&pairs("bucket=telegraf%2Fweek&org=x"), true).expect("v2"),
            ("telegraf".into(), "week".into(), String::new())
        );
        assert!(destination(&pairs("rp=week"), false).is_err());
        assert!(destination(&pairs("db="), false).is_err());
        assert!(
            destination(&pairs("db=telegraf"), true).is_err(),
            "v2 names a bucket"
        );
    }
}
