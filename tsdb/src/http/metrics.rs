//! Self-monitoring over HTTP: `GET /health` (public) and `GET /metrics` (Prometheus text
//! format 0.0.4; admin credentials unless configured public), plus the middleware that
//! counts /write and /query requests.
//!
//! `/health` answers 200 `{"status":"pass"}` only when a no-op job made it through the
//! writer's queue, so a full queue, a stuck writer or a stopping server give 503.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiState;
use crate::storage::{Health, LATENCY_BUCKETS, RequestStats, process_rss_bytes};

/// How long `/health` waits for the writer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// The self-monitoring state one server shares between its routes and middleware.
#[derive(Clone)]
pub struct Metrics {
    pub requests: Arc<RequestStats>,
    shutting_down: Arc<AtomicBool>,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Arc::default(),
            shutting_down: Arc::default(),
            started: Instant::now(),
        }
    }
}

#[derive(Clone)]
struct RouteState {
    api: ApiState,
    metrics: Metrics,
}

impl Metrics {
    /// From now on `/health` answers 503: call it when shutdown begins, so that load
    /// balancers stop sending traffic before the listener closes.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// `/health` and `/metrics`. With `public_metrics` false, `/metrics` takes the same
    /// credentials as `/query` and requires an admin (user or token).
    pub fn router(&self, api: ApiState, public_metrics: bool) -> Router {
        let state = RouteState {
            api: api.clone(),
            metrics: self.clone(),
        };
        let mut metrics = Router::new()
            .route("/metrics", get(metrics))
            .with_state(state.clone());
        if !public_metrics {
            metrics = metrics.layer(middleware::from_fn_with_state(api, super::require_admin));
        }
        Router::new()
            .route("/health", get(health))
            .with_state(state)
            .merge(metrics)
    }

    /// Wraps `app` so that /write and /query requests are counted.
    pub fn instrument(&self, app: Router) -> Router {
        app.layer(middleware::from_fn_with_state(self.requests.clone(), track))
    }
}

async fn track(State(stats): State<Arc<RequestStats>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    match path.as_str() {
        "/write" | "/api/v2/write" => {
            let status = resp.status().as_u16();
            if status != 400 {
                stats.record_write(status, None);
                return resp;
            }
            // A 400 body is a short error message; read it for the `dropped=N` count.
            let (parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let dropped = std::str::from_utf8(&bytes).ok().and_then(|t| {
                let n = t
                    .rsplit("dropped=")
                    .next()
                    .filter(|_| t.contains("dropped="))?;
                n.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok()
            });
            stats.record_write(status, dropped);
            Response::from_parts(parts, Body::from(bytes))
        }
        "/query" => {
            stats.record_query(resp.status().is_success(), start.elapsed());
            resp
        }
        _ => resp,
    }
}

async fn health(State(s): State<RouteState>) -> Response {
    let health = if s.metrics.shutting_down.load(Ordering::Relaxed) {
        Health::ShuttingDown
    } else {
        s.api.store.health(HEALTH_TIMEOUT).await
    };
    let (status, body) = match health {
        Health::Pass => (StatusCode::OK, serde_json::json!({"status": "pass"})),
        Health::ShuttingDown => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "fail", "output": "shutting down"}),
        ),
        Health::Degraded(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "fail", "output": why}),
        ),
    };
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn metrics(State(s): State<RouteState>) -> Response {
    let store = s.api.store.clone();
    let stats = match tokio::task::spawn_blocking(move || store.stats()).await {
        Ok(Ok(stats)) => stats,
        Ok(Err(e)) => {
            tracing::warn!("reading store stats for /metrics: {e}");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let mut out = String::with_capacity(4096);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let one = |v: f64| vec![(String::new(), v)];
    let r = &s.metrics.requests;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed) as f64;
    let writes: Vec<_> = [
        ("ok", &r.writes_ok),
        ("rejected", &r.writes_rejected),
        ("overloaded", &r.writes_overloaded),
        ("unauthorized", &r.writes_unauthorized),
        ("other", &r.writes_other),
    ]
    .iter()
    .map(|(k, c)| (format!("{{result=\"{k}\"}}"), load(c)))
    .collect();
    metric(
        "tigk_write_requests_total",
        "counter",
        "Write requests (/write, /api/v2/write) by result: ok (204), rejected (400), overloaded (429/503), unauthorized (401/403), other.",
        &writes,
    );
    metric(
        "tigk_write_points_dropped_total",
        "counter",
        "Points partial writes reported as dropped (dropped=N in the 400 answer).",
        &one(load(&r.points_dropped)),
    );
    metric(
        "tigk_store_points_written_total",
        "counter",
        "Points committed by the store since it started.",
        &one(stats.points_written as f64),
    );
    metric(
        "tigk_store_values_written_total",
        "counter",
        "Field values committed by the store since it started.",
        &one(stats.values_written as f64),
    );
    metric(
        "tigk_store_points_dropped_total",
        "counter",
        "Points the store refused after parsing (type conflicts, retention, series limit).",
        &one(stats.points_dropped as f64),
    );
    metric(
        "tigk_write_queue_depth",
        "gauge",
        "Requests waiting for the store's writer; at the queue capacity writes get 503.",
        &one(stats.write_queue_depth as f64),
    );
    metric(
        "tigk_committed_sequence",
        "counter",
        "Newest committed write-log sequence; it grows by one per write request that stored points.",
        &one(stats.committed_seq as f64),
    );
    metric(
        "tigk_head_values",
        "gauge",
        "Values held in memory, not yet compressed into chunks.",
        &one(stats.head_values as f64),
    );
    metric(
        "tigk_chunks",
        "gauge",
        "Compressed chunks stored.",
        &one(stats.chunks as f64),
    );
    metric(
        "tigk_chunk_bytes",
        "gauge",
        "Payload bytes of the stored chunks.",
        &one(stats.chunk_bytes as f64),
    );
    metric(
        "tigk_stored_values",
        "gauge",
        "Values stored: in chunks plus in memory.",
        &one((stats.chunk_values + stats.head_values as u64) as f64),
    );
    metric(
        "tigk_write_log_rows",
        "gauge",
        "Rows in the write log; growing without bound means flushing is stuck.",
        &one(stats.write_log_rows as f64),
    );
    let series: Vec<_> = stats
        .series
        .iter()
        .map(|(db, n)| (format!("{{db=\"{}\"}}", escape_label(db)), *n as f64))
        .collect();
    metric("tigk_series", "gauge", "Series per database.", &series);
    let files: Vec<_> = stats
        .files
        .iter()
        .map(|(f, n)| (format!("{{file=\"{}\"}}", escape_label(f)), *n as f64))
        .collect();
    metric(
        "tigk_file_bytes",
        "gauge",
        "Size of each SQLite file (and its -wal) in the data directory.",
        &files,
    );
    metric(
        "tigk_queries_total",
        "counter",
        "/query requests answered.",
        &one(load(&r.queries)),
    );
    metric(
        "tigk_query_errors_total",
        "counter",
        "/query requests answered with a non-2xx status.",
        &one(load(&r.query_errors)),
    );
    let mut cumulative = 0.0;
    let mut buckets = Vec::new();
    for (i, bound) in LATENCY_BUCKETS
        .iter()
        .map(|b| b.to_string())
        .chain(["+Inf".to_string()])
        .enumerate()
    {
        cumulative += load(&r.query_latency[i]);
        buckets.push((format!("_bucket{{le=\"{bound}\"}}"), cumulative));
    }
    buckets.push(("_sum".into(), load(&r.query_latency_us) / 1e6));
    buckets.push(("_count".into(), cumulative));
    metric(
        "tigk_query_duration_seconds",
        "histogram",
        "Time to answer a /query request.",
        &buckets,
    );
    if let Some(rss) = process_rss_bytes() {
        metric(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            &one(rss as f64),
        );
    }
    metric(
        "tigk_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        &one(s.metrics.started.elapsed().as_secs_f64()),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
