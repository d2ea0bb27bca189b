//! Buffering and retry against an in-process HTTP server that fails, hangs, refuses and
//! recovers. Driven through the library's writer thread and influxdb output.

mod support;

use std::sync::Arc;
use std::time::Duration;

use agent::batch::{Shared, Timing, Writer};
use agent::buffer::{Buffer, MemoryBuffer};
use agent::output::influxdb::{Influxdb, InfluxdbOptions};
use agent::stats::Stats;
use agent::validate::RetryPolicy;
use support::{Reply, Server};

fn options(server: &Server, gzip: bool) -> InfluxdbOptions {
    InfluxdbOptions {
        urls: vec![server.url()],
        database: "telegraf".into(),
        retention_policy: None,
        write_consistency: None,
        token: Some("write-only".into()),
        username: None,
        password: None,
        timeout: Duration::from_millis(300),
        gzip,
        skip_database_creation: true,
        user_agent: "test".into(),
        http_headers: Vec::new(),
        tls_ca: Vec::new(),
        insecure_skip_verify: false,
    }
}

struct Rig {
    shared: Arc<Shared>,
    thread: std::thread::JoinHandle<()>,
}

fn rig(server: &Server, limit: usize, batch: usize, gzip: bool) -> Rig {
    let stats = Stats::default();
    let out_stats = stats.register_output("influxdb", None, limit);
    let buffer: Box<dyn Buffer> = Box::new(MemoryBuffer::new(limit, batch));
    let shared = Shared::new("outputs.influxdb".into(), buffer, batch, out_stats);
    let timing = Timing {
        flush_interval: Duration::from_millis(50),
        flush_jitter: Duration::ZERO,
        retry: RetryPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
    };
    let thread = Writer::spawn(
        shared.clone(),
        Box::new(Influxdb::new(options(server, gzip))),
        timing,
    )
    .expect("spawn");
    Rig { shared, thread }
}

impl Rig {
    fn stop(self) -> Arc<Shared> {
        self.shared.stop();
        self.thread.join().expect("writer thread");
        self.shared
    }
}

fn lines(range: std::ops::Range<u32>) -> Vec<Arc<str>> {
    range
        .map(|i| {
            Arc::from(format!(
                "mem,host=h used={i}i {}",
                1_700_000_000_000_000_000u64 + u64::from(i)
            ))
        })
        .collect()
}

fn strings(range: std::ops::Range<u32>) -> Vec<String> {
    lines(range).iter().map(|l| l.to_string()).collect()
}

fn get(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(std::sync::atomic::Ordering::Relaxed)
}

/// 5xx, a hang past the timeout, a dropped connection and 429 all keep the data: every
/// line arrives, first arrivals in order, and nothing is counted as dropped.
#[test]
fn transient_failures_lose_nothing_while_the_buffer_has_room() {
    let server = Server::start(Reply::Status(204, ""));
    server.script([
        Reply::Status(500, r#"{"error":"timeout"}"#),
        Reply::Status(503, ""),
        Reply::Hang(Duration::from_millis(600)),
        Reply::Close,
        Reply::Status(429, ""),
    ]);
    let rig = rig(&server, 1000, 10, true);
    for chunk in 0..10 {
        rig.shared.add(lines(chunk * 10..chunk * 10 + 10));
        std::thread::sleep(Duration::from_millis(30));
    }
    server.wait_for(Duration::from_secs(15), "all 100 lines", |got| {
        let mut seen: Vec<&String> = got.iter().collect();
        seen.sort();
        seen.dedup();
        seen.len() == 100
    });
    let shared = rig.stop();
    let got = server.written_lines();
    let mut first_seen = Vec::new();
    for l in &got {
        if !first_seen.contains(l) {
            first_seen.push(l.clone());
        }
    }
    assert_eq!(first_seen, strings(0..100), "delivered in gather order");
    assert_eq!(get(&shared.stats.metrics_dropped), 0);
    assert!(get(&shared.stats.errors) >= 5, "each failure is counted");
    assert_eq!(shared.buffered(), 0);
    let req = &server.requests()[0];
    assert_eq!(req.header("Authorization"), Some("Token write-only"));
    assert_eq!(req.header("Content-Encoding"), Some("gzip"));
    assert!(
        req.target.starts_with("/write?db=telegraf"),
        "{}",
        req.target
    );
}

/// A 4xx drops that batch (retrying cannot help) and the next one goes through.
#[test]
fn client_errors_drop_the_batch_and_count_it() {
    let server = Server::start(Reply::Status(204, ""));
    server.script([Reply::Status(
        400,
        r#"{"error":"partial write: field type conflict dropped=1"}"#,
    )]);
    let rig = rig(&server, 1000, 10, false);
    rig.shared.add(lines(0..10));
    std::thread::sleep(Duration::from_millis(200));
    rig.shared.add(lines(10..20));
    server.wait_for(Duration::from_secs(5), "second batch", |got| {
        got.len() == 10
    });
    let shared = rig.stop();
    assert_eq!(server.written_lines(), strings(10..20));
    assert_eq!(get(&shared.stats.metrics_dropped), 10);
    assert_eq!(get(&shared.stats.metrics_written), 10);
}

/// While the server is down, a full buffer drops exactly the oldest overflow; after recovery
/// exactly the newest `limit` lines arrive.
#[test]
fn full_buffer_drops_exactly_the_oldest() {
    let server = Server::start(Reply::Status(503, ""));
    let rig = rig(&server, 50, 10, false);
    for chunk in 0..12 {
        rig.shared.add(lines(chunk * 10..chunk * 10 + 10));
        std::thread::sleep(Duration::from_millis(15));
    }
    assert_eq!(get(&rig.shared.stats.metrics_dropped), 70);
    assert_eq!(rig.shared.buffered(), 50);
    server.set_default(Reply::Status(204, ""));
    server.wait_for(Duration::from_secs(5), "the newest 50 lines", |got| {
        got.len() >= 50
    });
    let shared = rig.stop();
    assert_eq!(server.written_lines(), strings(70..120));
    assert_eq!(get(&shared.stats.metrics_dropped), 70);
    assert_eq!(get(&shared.stats.metrics_written), 50);
}

/// 413 splits the batch until the pieces fit; nothing is dropped.
#[test]
fn too_large_splits_the_batch() {
    let server = Server::start(Reply::LimitLines(4));
    let rig = rig(&server, 1000, 16, false);
    rig.shared.add(lines(0..16));
    server.wait_for(Duration::from_secs(5), "16 lines", |got| got.len() == 16);
    let shared = rig.stop();
    assert_eq!(server.written_lines(), strings(0..16));
    assert_eq!(get(&shared.stats.metrics_dropped), 0);
    let sizes: Vec<usize> = server
        .requests()
        .iter()
        .map(|r| r.body.lines().count())
        .collect();
    assert_eq!(sizes, [16, 8, 4, 4, 8, 4, 4]);
}

/// On shutdown the writer flushes what is buffered even before the flush interval.
#[test]
fn stop_flushes_the_rest() {
    let server = Server::start(Reply::Status(204, ""));
    let rig = rig(&server, 1000, 100, false);
    rig.shared.add(lines(0..3));
    let shared = rig.stop();
    assert_eq!(server.written_lines(), strings(0..3));
    assert_eq!(shared.buffered(), 0);
}

fn paths(server: &Server) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.target.split('?').next().unwrap_or("").to_string())
        .collect()
}

/// Telegraf's behaviour: a write answered `database not found` creates the database and is
/// sent again at once, so a single flush (`--once`) still delivers.
#[test]
fn a_missing_database_is_created_and_the_write_repeated_at_once() {
    use agent::output::Output;
    let server = Server::start(Reply::Status(204, ""));
    server.script([
        Reply::Status(204, ""),
        Reply::Status(404, r#"{"error":"database not found: \"telegraf\""}"#),
    ]);
    let mut opts = options(&server, false);
    opts.skip_database_creation = false;
    let mut out = Influxdb::new(opts);
    out.write(&lines(0..3))
        .expect("written within the same call");
    assert_eq!(paths(&server), ["/query", "/write", "/query", "/write"]);
    assert_eq!(server.written_lines(), strings(0..3));
}

/// 1.x reports a failed CREATE DATABASE inside a 200 answer; that is not a created database,
/// so the next write tries to create it again first.
#[test]
fn a_create_error_inside_a_200_answer_is_not_success() {
    use agent::output::Output;
    let server = Server::start(Reply::Status(204, ""));
    server.script([Reply::Status(
        200,
        r#"{"results":[{"statement_id":0,"error":"meta service unavailable"}]}"#,
    )]);
    let mut opts = options(&server, false);
    opts.skip_database_creation = false;
    let mut out = Influxdb::new(opts);
    out.write(&lines(0..2)).expect("first write");
    out.write(&lines(2..4)).expect("second write");
    assert_eq!(paths(&server), ["/query", "/write", "/query", "/write"]);
}
