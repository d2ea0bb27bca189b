//! Server time to render the default "Agent overview" dashboard (8 panels) over 24 h of 100 hosts,
//! and the size of each chart's SVG. Not a test: run it in release and read the figures.
//!
//! ```text
//! cargo run --release -p ui --example render_bench -- [--hosts 100] [--hours 24]
//!     [--interval 10] [--runs 30] [--dir PATH]
//! ```
//!
//! It writes Telegraf-shaped data (the same generator as the browser tests) through the
//! 1.x `/write` endpoint into a store in `--dir` (a temporary one by default; an existing
//! `--dir` that already holds data is reused, which skips the slow part), signs in, and
//! GETs `/d/agent-overview` `--runs` times through the UI's router in-process: the time
//! covers the queries, the charts and the template, not a network. Targets: median
//! ≤ 50 ms, every chart ≤ 60 KB whatever the range. Repeated renders of one range find the
//! settled buckets in the UI's cache (`ui/src/cache.rs`); a second pass moves the range's
//! start each run so that nothing is cached, the cost of a first visit.

#[path = "../tests/common/telegraf.rs"]
mod telegraf;

/// The allocator of the `tigk` server (tigk/src/main.rs), so the figures are the server's.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tsdb::{Store, StoreOptions};
use ui::{EngineSource, UiConfig, UiState};

const S: i64 = 1_000_000_000;
const USER: (&str, &str) = ("bench", "bench-password-123");

struct Args {
    hosts: usize,
    hours: i64,
    interval: i64,
    runs: usize,
    dir: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        hosts: 100,
        hours: 24,
        interval: 10,
        runs: 30,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        let n = || {
            v.parse::<i64>()
                .unwrap_or_else(|_| panic!("{k} wants a number"))
        };
        match k.as_str() {
            "--hosts" => a.hosts = n() as usize,
            "--hours" => a.hours = n(),
            "--interval" => a.interval = n(),
            "--runs" => a.runs = n() as usize,
            "--dir" => a.dir = Some(PathBuf::from(&v)),
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

struct Resp {
    status: StatusCode,
    cookies: Vec<String>,
    body: String,
}

async fn send(app: &Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let cookies = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .collect();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        cookies,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Writes `hours` of data ending now, 50 intervals per request.
async fn seed(store: &Store, a: &Args) {
    store.create_database("telegraf").await.expect("db");
    let api = tsdb::http::router(tsdb::http::ApiState::new(store.clone(), false));
    let hosts = telegraf::host_names(a.hosts);
    let ticks = a.hours * 3600 / a.interval;
    let now = now_ns();
    let started = Instant::now();
    let mut lp = String::new();
    let mut lines = 0usize;
    for i in 0..ticks {
        let t = now - (ticks - i) * a.interval * S;
        telegraf::tick(&hosts, t, i, a.interval, &mut lp);
        if i % 50 == 49 || i == ticks - 1 {
            lines += lp.lines().count();
            let r = send(
                &api,
                Request::post("/write?db=telegraf")
                    .body(Body::from(std::mem::take(&mut lp)))
                    .expect("req"),
            )
            .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        }
    }
    store.flush().await.expect("flush");
    println!(
        "seeded {lines} lines ({} hosts x {} h every {} s) in {:.1} s",
        a.hosts,
        a.hours,
        a.interval,
        started.elapsed().as_secs_f64()
    );
}

/// Signs in through the form and returns the session cookie.
async fn login(app: &Router) -> String {
    let page = send(
        app,
        Request::get("/login")
            .header(header::HOST, "localhost")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    let marker = "name=\"csrf\" value=\"";
    let i = page.body.find(marker).expect("csrf field") + marker.len();
    let csrf = &page.body[i..i + page.body[i..].find('"').expect("csrf end")];
    let body = format!("csrf={csrf}&user={}&password={}&next=%2F", USER.0, USER.1);
    let r = send(
        app,
        Request::post("/login")
            .header(header::HOST, "localhost")
            .header(header::ORIGIN, "http://localhost")
            .header(header::COOKIE, page.cookies.join("; "))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.cookies
        .into_iter()
        .find(|c| c.starts_with("tigk_session="))
        .expect("session cookie")
}

/// Sizes of every `<svg …>…</svg>` in a page, in bytes.
fn svg_sizes(page: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(i) = rest.find("<svg") {
        let Some(j) = rest[i..].find("</svg>") else {
            break;
        };
        out.push(j + "</svg>".len());
        rest = &rest[i + j..];
    }
    out
}

/// User plus system CPU time of this process so far (`/proc/self/stat`, Linux), in seconds.
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; in ticks.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = args();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).expect("dir");
    let fresh = !dir.join(tsdb::storage::DB_FILE).exists();
    let store = Store::open(&dir, StoreOptions::default()).expect("store");
    if fresh {
        seed(&store, &a).await;
    } else {
        println!("reusing the store in {}", dir.display());
    }
    // An administrator: without one the sign-in page only explains how to create one.
    let conn = tsdb::storage::admin_connection(&dir).expect("admin conn");
    let _ = tsdb::auth::create_user(&conn, "bench-admin", USER.1, true);
    let _ = tsdb::auth::create_user(&conn, USER.0, USER.1, false);
    let state = UiState::new(
        Arc::new(EngineSource::new(store.clone())),
        &dir,
        UiConfig::default(),
    )
    .expect("ui state");
    let peer: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let app = ui::router(state).layer(MockConnectInfo(peer));
    let session = login(&app).await;
    let get = |path: String| {
        let (app, session) = (app.clone(), session.clone());
        async move {
            let started = Instant::now();
            let r = send(
                &app,
                Request::get(&path)
                    .header(header::HOST, "localhost")
                    .header(header::COOKIE, &session)
                    .body(Body::empty())
                    .expect("req"),
            )
            .await;
            let took = started.elapsed();
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
            assert!(!r.body.contains("Query error"), "{path}: {}", r.body);
            (took, r.body)
        }
    };

    let path = format!("/d/agent-overview?from=now-{}h&to=now", a.hours);
    // One untimed render warms the store's caches, as any second visitor would find them.
    let (first, page) = get(path.clone()).await;
    let sizes = svg_sizes(&page);
    println!(
        "first render {:.1} ms, page {} KB, charts (bytes): {sizes:?}",
        first.as_secs_f64() * 1e3,
        page.len() / 1024
    );
    let mut times = Vec::with_capacity(a.runs);
    for _ in 0..a.runs {
        times.push(get(path.clone()).await.0);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{path}: {} runs, median {:.1} ms, p95 {:.1} ms, min {:.1} ms, max {:.1} ms",
        a.runs,
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(times[0]),
        ms(times[times.len() - 1]),
    );

    // The same span moved back by one 5 min bucket each run: new bucket boundaries, so the
    // panels' settled buckets are never in the UI's cache and every render queries the
    // whole range, as the first visitor after a quiet spell does (the store's own caches
    // stay warm). At most 20 runs: the last range still covers 22 h 20 min of the data.
    let cold_runs = a.runs.min(20);
    let mut cold = Vec::with_capacity(cold_runs);
    let (cpu_before, wall_before) = (process_cpu_secs(), Instant::now());
    for k in 0..cold_runs {
        let back = 5 * (k as i64 + 1);
        let from = a.hours * 60 + back;
        cold.push(
            get(format!("/d/agent-overview?from=now-{from}m&to=now-{back}m"))
                .await
                .0,
        );
    }
    let cores_busy = (process_cpu_secs() - cpu_before) / wall_before.elapsed().as_secs_f64();
    cold.sort();
    println!(
        "cold UI cache (a new range each run): {} runs, median {:.1} ms, p95 {:.1} ms, min {:.1} ms, {cores_busy:.2} cores busy",
        cold_runs,
        ms(percentile(&cold, 0.5)),
        ms(percentile(&cold, 0.95)),
        ms(cold[0]),
    );

    // The same statements the dashboard's panels run (builder output, 5 min buckets),
    // straight to the store's engine: what of the page time is the queries'.
    let source = Arc::new(EngineSource::new(store.clone()));
    let mut qtimes = Vec::with_capacity(a.runs);
    let mut n_queries = 0;
    for _ in 0..a.runs {
        let to = now_ns();
        let from = to - a.hours * 3600 * S;
        let tf = format!("time >= {from} AND time < {to}");
        let queries = [
            format!(
                "SELECT mean(usage_user) AS usage_user FROM cpu WHERE {tf} AND cpu = 'cpu-total' GROUP BY time(5m), host fill(null)"
            ),
            format!(
                "SELECT mean(used_percent) AS used_percent FROM mem WHERE {tf} GROUP BY time(5m), host fill(null)"
            ),
            format!(
                "SELECT mean(load1) AS load1 FROM system WHERE {tf} GROUP BY time(5m), host fill(null)"
            ),
            format!(
                "SELECT max(used_percent) AS used_percent FROM disk WHERE {tf} GROUP BY time(5m) fill(null)"
            ),
            format!(
                "SELECT last(used_percent) AS used_percent FROM disk WHERE {tf} GROUP BY host, path"
            ),
            format!(
                "SELECT max(bytes_recv) AS bytes_recv FROM net WHERE {tf} GROUP BY time(5m), host, interface fill(null)"
            ),
            format!(
                "SELECT max(read_bytes) AS read_bytes FROM diskio WHERE {tf} GROUP BY time(5m), host, \"name\" fill(null)"
            ),
            format!(
                "SELECT max(write_bytes) AS write_bytes FROM diskio WHERE {tf} GROUP BY time(5m), host, \"name\" fill(null)"
            ),
        ];
        n_queries = queries.len();
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for q in queries {
            let source = source.clone();
            set.spawn(async move {
                use ui::DataSource;
                source.query("telegraf", &q).await.map(|r| r.len())
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("join").expect("query");
        }
        qtimes.push(started.elapsed());
    }
    qtimes.sort();
    println!(
        "the panels' {} queries alone (concurrent, as the page runs them): median {:.1} ms, p95 {:.1} ms",
        n_queries,
        ms(percentile(&qtimes, 0.5)),
        ms(percentile(&qtimes, 0.95)),
    );

    // The SVG cap must hold whatever the range, so look at short and long ones too.
    let mut max_svg = 0;
    for range in ["now-15m", "now-1h", "now-6h", "now-24h", "now-7d"] {
        let (took, page) = get(format!("/d/agent-overview?from={range}&to=now")).await;
        let sizes = svg_sizes(&page);
        let m = sizes.iter().copied().max().unwrap_or(0);
        max_svg = max_svg.max(m);
        println!(
            "from={range}: {:.1} ms, {} charts, largest SVG {:.1} KB",
            ms(took),
            sizes.len(),
            m as f64 / 1024.0
        );
    }
    println!(
        "largest chart SVG over all ranges: {:.1} KB (cap 60 KB)",
        max_svg as f64 / 1024.0
    );
    store.shutdown();
}
