//! The alerter survives `kill -9`: a stream task with windows and a batch task run while
//! the server is killed at several seeded-random moments (mid-write, mid-processing,
//! mid-delivery). After each restart the feed continues. At the end the log handlers'
//! files hold exactly the events of an uninterrupted run (computed offline with
//! `alerter::testrun::test_run` over the same input): none missing, none twice.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use alerter::testrun::{TestRunOptions, test_run};
use support::{Server, encode, post};

const PASSWORD: &str = "restart-admin-pass";
const SEED: u64 = 0x5eed_0005;
const HOSTS: usize = 6;
/// Data seconds fed to the stream task, one write per second of data time.
const SECONDS: i64 = 360;
/// Data time of the first stream point (2024-01-01T00:00:00Z).
const T0: i64 = 1_704_067_200_000_000_000;
const SEC: i64 = 1_000_000_000;
const KILLS: usize = 8;

/// SplitMix64: a tiny seeded generator, so the run is the same every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn stream_script(dir: &Path) -> String {
    format!(
        r#"dbrp "telegraf"."autogen"
var data = stream
    |from()
        .measurement('cpu')
        .groupBy('host')
data
    |window()
        .period(10s)
        .every(10s)
    |mean('usage_idle')
    |alert()
        .id('mean:{{{{ .Group }}}}')
        .crit(lambda: "mean" < 70)
        .details('')
        .log('{}')
data
    |alert()
        .id('point:{{{{ .Group }}}}')
        .warn(lambda: "usage_idle" < 60)
        .crit(lambda: "usage_idle" < 55)
        .stateChangesOnly()
        .details('')
        .log('{}')
"#,
        dir.join("mean.log").display(),
        dir.join("point.log").display()
    )
}

/// The seed batch task's shape (mean by time bucket and tag), over data written once
/// before the task starts, so that every run sees the same rows whatever the clock.
fn batch_script(dir: &Path) -> String {
    format!(
        r#"dbrp "telegraf"."autogen"
batch
    |query('''
        SELECT mean(usage_idle)
        FROM "telegraf"."autogen"."cpu_hist"
    ''')
        .period(10m)
        .every(1s)
        .groupBy(time(10s), 'host')
    |alert()
        .id('batch:{{{{ .Group }}}}')
        .crit(lambda: "mean" < 70)
        .details('')
        .log('{}')
"#,
        dir.join("batch.log").display()
    )
}

/// One write per data second: every host's point at that second.
fn stream_batches(rng: &mut Rng) -> Vec<(i64, String)> {
    (0..SECONDS)
        .map(|s| {
            let t = T0 + s * SEC;
            let body: String = (0..HOSTS)
                .map(|h| {
                    // Hosts drift between busy and idle so windows cross 70 both ways.
                    let base = if (s / 40 + h as i64) % 3 == 0 { 58 } else { 78 };
                    let v = base as f64 + rng.below(300) as f64 / 10.0 - 10.0;
                    format!("cpu,host=h{h},cpu=cpu-total usage_idle={v} {t}\n")
                })
                .collect();
            (t, body)
        })
        .collect()
}

/// Static history for the batch task: 20 buckets of 10 s per host, ending a minute ago.
fn history(rng: &mut Rng, now: i64) -> String {
    let end = now / (10 * SEC) * (10 * SEC) - 60 * SEC;
    let mut s = String::new();
    for h in 0..HOSTS {
        for b in 0..20 {
            for k in 0..5 {
                let t = end - (20 - b) * 10 * SEC + k * 2 * SEC;
                let dip = h % 2 == 0 && b == 5 + 3 * h as i64;
                let v = if dip { 50.0 } else { 80.0 } + rng.below(100) as f64 / 10.0;
                s.push_str(&format!("cpu_hist,host=h{h} usage_idle={v} {t}\n"));
            }
        }
    }
    s
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn tigk_user(dir: &Path) {
    let ok = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(["user", "create", "--name", "admin", "--password", PASSWORD])
        .args(["--admin", "--data-dir"])
        .arg(dir)
        .status()
        .expect("tigk user create");
    assert!(ok.success());
}

fn write_url(server: &Server) -> String {
    server.url(&format!("/write?db=telegraf&u=admin&p={PASSWORD}"))
}

fn define(server: &Server, id: &str, script: &str) {
    let body = serde_json::json!({"id": id, "script": script, "status": "enabled"});
    let (status, text) = post(
        &server.url(&format!("/kapacitor/v1/tasks?u=admin&p={PASSWORD}")),
        "application/json",
        body.to_string().as_bytes(),
    )
    .expect("define task");
    assert_eq!(status, 200, "{text}");
}

/// Points stored at data time `t` (all hosts or none: the store has no half batches).
fn stored_at(server: &Server, t: i64) -> i64 {
    let q = format!("SELECT count(usage_idle) FROM cpu WHERE time = {t}");
    let url = server.url(&format!("/query?db=telegraf&u=admin&p={PASSWORD}"));
    let body = format!("q={}", encode(&q));
    let (status, text) =
        post(&url, "application/x-www-form-urlencoded", body.as_bytes()).expect("query");
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["results"][0]["series"][0]["values"][0][1]
        .as_i64()
        .unwrap_or(0)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn expected(script: &str, input: &str, name: &str, opts: TestRunOptions) -> Vec<(String, String)> {
    let opts = TestRunOptions {
        name: name.into(),
        ..opts
    };
    test_run(script, input, &opts)
        .expect("reference run")
        .into_iter()
        .map(|e| (e.id.clone(), e.to_json()))
        .collect()
}

fn only(events: &[(String, String)], prefix: &str) -> Vec<String> {
    events
        .iter()
        .filter(|(id, _)| id.starts_with(prefix))
        .map(|(_, j)| j.clone())
        .collect()
}

#[test]
fn events_after_kill_9_restarts_equal_an_uninterrupted_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let alerts = std::path::absolute(data.join("alerts")).expect("path");
    tigk_user(&data);
    let mut rng = Rng(SEED);
    let batches = stream_batches(&mut rng);
    let (stream, batch) = (stream_script(&alerts), batch_script(&alerts));

    let mut server = Server::start(&data, &[]);
    let (status, text) = post(
        &server.url(&format!("/query?u=admin&p={PASSWORD}")),
        "application/x-www-form-urlencoded",
        b"q=CREATE+DATABASE+telegraf",
    )
    .expect("create db");
    assert_eq!(status, 200, "{text}");
    let now = now_ns();
    let hist = history(&mut rng, now);
    let (status, text) = post(&write_url(&server), "text/plain", hist.as_bytes()).expect("hist");
    assert_eq!(status, 204, "{text}");
    define(&server, "windows", &stream);
    define(&server, "hist", &batch);

    // Kill points: after the write with this index is acknowledged, wait this long
    // (the feed goes on meanwhile), then SIGKILL. Sorted, distinct write indices.
    // The first kill comes early, within the tasks' first second (before any periodic
    // state save); the others anywhere in the feed.
    let mut kills: Vec<(usize, u64)> = (0..KILLS)
        .map(|k| {
            let at = if k == 0 {
                rng.below(20) + 5
            } else {
                rng.below(SECONDS as u64 - 20) + 10
            };
            (at as usize, rng.below(400))
        })
        .collect();
    kills.sort();
    kills.dedup_by_key(|k| k.0);
    let kills_planned = kills.len();
    let mut killer: Option<std::thread::JoinHandle<()>> = None;
    let mut restarts = 0;
    let mut resent = 0;
    let mut i = 0;
    while i < batches.len() {
        let (t, body) = &batches[i];
        match post(&write_url(&server), "text/plain", body.as_bytes()) {
            Ok((204, _)) => {
                if kills.first().is_some_and(|k| k.0 <= i) && killer.is_none() {
                    let (_, delay) = kills.remove(0);
                    let pid = server.child.id().to_string();
                    killer = Some(std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(delay));
                        let _ = Command::new("kill").args(["-9", &pid]).status();
                    }));
                }
                i += 1;
                // Pace the feed a little so that the alerter works while we write.
                std::thread::sleep(Duration::from_millis(3));
            }
            Ok((status, text)) => panic!("write {i}: {status} {text}"),
            Err(_) => {
                // The server is gone: restart it, and resend this write only if it did
                // not commit (a client retrying an ambiguous write checks first).
                if let Some(k) = killer.take() {
                    k.join().expect("killer");
                }
                server.kill9();
                server = Server::start(&data, &[]);
                restarts += 1;
                match stored_at(&server, *t) {
                    0 => resent += 1,
                    n if n == HOSTS as i64 => i += 1,
                    n => panic!("half a batch stored at {t}: {n} points"),
                }
            }
        }
    }
    // A last kill after the feed, while the alerter may still be catching up.
    if let Some(k) = killer.take() {
        k.join().expect("killer");
    }
    server.kill9();
    let server = Server::start(&data, &[]);
    restarts += 1;
    // A planned kill reached while the previous one is still pending waits for the
    // next write; at the end of the feed the rest is dropped. Most must have hit.
    assert!(
        restarts > kills_planned / 2,
        "too few kills hit: {restarts} restarts for {kills_planned} planned kills"
    );

    let input: String = batches.iter().map(|(_, b)| b.as_str()).collect();
    let want_stream = expected(&stream, &input, "windows", TestRunOptions::default());
    let want_mean = only(&want_stream, "mean:");
    let want_point = only(&want_stream, "point:");
    let mut want_batch = only(
        &expected(
            &batch,
            &hist,
            "hist",
            TestRunOptions {
                at: vec![now_ns()],
                ..TestRunOptions::default()
            },
        ),
        "batch:",
    );
    assert!(want_mean.len() > 20, "mean events: {}", want_mean.len());
    assert!(want_point.len() > 20, "point events: {}", want_point.len());
    assert_eq!(want_batch.len(), HOSTS / 2, "{want_batch:?}");

    // Wait until every expected event arrived, then a little more: a duplicate would
    // come late (a redelivery or a batch re-run after the restart).
    let (mean, point, batch_log) = (
        alerts.join("mean.log"),
        alerts.join("point.log"),
        alerts.join("batch.log"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline
        && (lines(&mean).len() < want_mean.len()
            || lines(&point).len() < want_point.len()
            || lines(&batch_log).len() < want_batch.len())
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    drop(server);

    let got_mean = lines(&mean);
    let got_point = lines(&point);
    let mut got_batch = lines(&batch_log);
    eprintln!(
        "restarts {restarts} (writes resent {resent}); events: mean {}, point {}, batch {}",
        got_mean.len(),
        got_point.len(),
        got_batch.len()
    );
    assert_eq!(got_mean, want_mean, "windowed mean events");
    assert_eq!(got_point, want_point, "per-point events");
    got_batch.sort();
    want_batch.sort();
    assert_eq!(got_batch, want_batch, "batch events");
}
