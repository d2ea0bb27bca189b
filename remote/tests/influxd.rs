//! The client against a real InfluxDB 1.6.7 (Debian package `influxdb`) on loopback: writes
//! and queries, failover past dead URLs, credentials, and idempotent subscriptions.
//!
//! Not skipped when `influxd` is missing: `.ci/run` installs the package.

#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use remote::subscription::{self, Change};
use remote::{Auth, Client, ClientConfig, Error};
use tsdb::query::Cell;

struct Influxd {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A URL where nothing listens.
fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

fn start_influxd(auth: bool) -> Influxd {
    let dir = tempfile::tempdir().expect("tempdir");
    let (http, rpc) = (free_port(), free_port());
    let d = dir.path().display();
    let config = format!(
        "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
         [meta]\n  dir = \"{d}/meta\"\n\
         [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
         [http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n  auth-enabled = {auth}\n\
         [monitor]\n  store-enabled = false\n"
    );
    let path = dir.path().join("influxdb.conf");
    std::fs::write(&path, config).expect("write influxdb.conf");
    let child = Command::new("influxd")
        .args(["run", "-config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("influxd is not on PATH: install the Debian package `influxdb` (1.6.7)");
    let server = Influxd {
        child,
        url: format!("http://127.0.0.1:{http}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(format!("{}/ping", server.url)).call().is_err() {
        assert!(Instant::now() < deadline, "influxd did not answer /ping");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn client(urls: Vec<String>, auth: Auth) -> Client {
    let mut cfg = ClientConfig::new(urls);
    cfg.auth = auth;
    cfg.timeout = Duration::from_secs(10);
    cfg.backoff = Duration::from_millis(10);
    Client::new(cfg).expect("client")
}

#[test]
fn writes_queries_and_fails_over_to_a_live_url() {
    let influx = start_influxd(false);
    // Two dead URLs before the live one: every request still lands.
    let c = client(vec![dead_url(), dead_url(), influx.url.clone()], Auth::None);
    c.query_one("", "", "CREATE DATABASE telegraf")
        .expect("create");
    c.write(
        "telegraf",
        "",
        "cpu,cpu=cpu0,host=a usage_idle=12.5,n=3i,up=true,s=\"x\" 1700000000000000000\n\
         cpu,cpu=cpu1,host=a usage_idle=90 1700000000000000000\n",
    )
    .expect("write");
    let series = c
        .query_one(
            "telegraf",
            "autogen",
            "SELECT usage_idle, n, up, s FROM cpu WHERE cpu = 'cpu0'",
        )
        .expect("select");
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].name.as_deref(), Some("cpu"));
    assert_eq!(series[0].columns, ["time", "usage_idle", "n", "up", "s"]);
    assert_eq!(
        series[0].values,
        vec![vec![
            Cell::Time(1_700_000_000_000_000_000),
            Cell::Float(12.5),
            Cell::Integer(3),
            Cell::Boolean(true),
            Cell::String("x".into()),
        ]]
    );
    let grouped = c
        .query_one(
            "telegraf",
            "",
            "SELECT mean(usage_idle) FROM cpu WHERE time >= 1700000000000000000 AND time < 1700000060000000000 GROUP BY time(1m), cpu",
        )
        .expect("grouped");
    let by_cpu: Vec<_> = grouped
        .iter()
        .map(|s| {
            (
                s.tags.as_ref().and_then(|t| t.get("cpu")).cloned(),
                s.values[0][1].clone(),
            )
        })
        .collect();
    // 90.0 comes back as a JSON 90: an integer, as Kapacitor reads 1.x's JSON too.
    assert_eq!(
        by_cpu,
        vec![
            (Some("cpu0".into()), Cell::Float(12.5)),
            (Some("cpu1".into()), Cell::Integer(90))
        ]
    );
    // A statement's error is the statement's, not a failover.
    let e = c
        .query_one("nope", "", "SELECT * FROM cpu")
        .expect_err("no such database");
    assert!(
        matches!(&e, Error::Query(t) if t.contains("database not found")),
        "{e}"
    );
    let e = c
        .query_one("telegraf", "", "SELEC")
        .expect_err("parse error");
    assert!(
        matches!(&e, Error::Query(t) if t.contains("error parsing query")),
        "{e}"
    );
    let e = c
        .write("telegraf", "", "cpu usage_idle=")
        .expect_err("bad line");
    assert!(
        matches!(&e, Error::Query(t) if t.contains("unable to parse")),
        "{e}"
    );

    // The engine stops: the client says unavailable instead of hanging or panicking.
    drop(influx);
    assert!(matches!(
        c.query_one("telegraf", "", "SHOW DATABASES"),
        Err(Error::Unavailable(_))
    ));
}

#[test]
fn credentials_are_sent_and_refusals_are_auth_errors() {
    let influx = start_influxd(true);
    let none = client(vec![influx.url.clone()], Auth::None);
    // With auth on and no users, 1.x lets only the first admin be created.
    none.query_one(
        "",
        "",
        "CREATE USER admin WITH PASSWORD 'pw' WITH ALL PRIVILEGES",
    )
    .expect("first admin");
    assert!(matches!(
        none.query_one("", "", "SHOW DATABASES"),
        Err(Error::Auth(_))
    ));
    let wrong = client(
        vec![influx.url.clone()],
        Auth::Basic {
            username: "admin".into(),
            password: "nope".into(),
        },
    );
    assert!(matches!(
        wrong.query_one("", "", "SHOW DATABASES"),
        Err(Error::Auth(_))
    ));
    let admin = client(
        vec![dead_url(), influx.url.clone()],
        Auth::Basic {
            username: "admin".into(),
            password: "pw".into(),
        },
    );
    admin
        .query_one("", "", "CREATE DATABASE telegraf")
        .expect("admin may create");
    admin
        .write("telegraf", "", "cpu usage_idle=1 1700000000000000000")
        .expect("admin may write");
    let s = admin
        .query_one("telegraf", "", "SELECT count(usage_idle) FROM cpu")
        .expect("count");
    assert_eq!(s[0].values[0][1], Cell::Integer(1));
}

#[test]
fn subscriptions_are_synced_idempotently() {
    let influx = start_influxd(false);
    let c = client(vec![influx.url.clone()], Auth::None);
    for q in [
        "CREATE DATABASE telegraf",
        "CREATE DATABASE other",
        "CREATE RETENTION POLICY \"short term\" ON other DURATION 2h REPLICATION 1",
        // Someone else's subscription: never touched.
        "CREATE SUBSCRIPTION kapacitor ON telegraf.autogen DESTINATIONS ALL 'http://10.0.0.9:9092'",
    ] {
        c.query_one("", "", q).expect(q);
    }
    let want = |pairs: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        pairs
            .iter()
            .map(|(d, r)| (d.to_string(), r.to_string()))
            .collect()
    };
    let changes = |dest: &str, pairs: &[(&str, &str)]| -> Vec<(String, String, Change)> {
        subscription::sync(&c, "tigk", dest, &want(pairs))
            .expect("sync")
            .into_iter()
            .map(|((d, r), res)| (d, r, res.expect("per dbrp")))
            .collect()
    };
    let both = [("telegraf", "autogen"), ("other", "short term")];
    let created = changes("http://127.0.0.1:9999", &both);
    assert!(
        created.iter().all(|c| c.2 == Change::Created),
        "{created:?}"
    );
    let again = changes("http://127.0.0.1:9999", &both);
    assert!(again.iter().all(|c| c.2 == Change::Unchanged), "{again:?}");
    let moved = changes("http://127.0.0.1:9998", &both[..1]);
    assert_eq!(
        moved,
        vec![
            ("telegraf".into(), "autogen".into(), Change::Replaced),
            ("other".into(), "short term".into(), Change::Dropped)
        ]
    );
    let mut subs = subscription::list(&c).expect("list");
    subs.sort_by(|a, b| a.name.cmp(&b.name));
    let summary: Vec<_> = subs
        .iter()
        .map(|s| {
            (
                s.db.as_str(),
                s.rp.as_str(),
                s.name.as_str(),
                s.mode.as_str(),
                s.destinations.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "telegraf",
                "autogen",
                "kapacitor",
                "ALL",
                vec!["http://10.0.0.9:9092".to_string()]
            ),
            (
                "telegraf",
                "autogen",
                "tigk",
                "ANY",
                vec!["http://127.0.0.1:9998".to_string()]
            ),
        ]
    );
    // A database that does not exist yet fails on its own; the others still sync.
    let mixed = subscription::sync(
        &c,
        "tigk",
        "http://127.0.0.1:9998",
        &want(&[("telegraf", "autogen"), ("later", "autogen")]),
    )
    .expect("sync");
    assert!(matches!(mixed[0].1, Err(Error::Query(_))), "{mixed:?}");
    assert!(matches!(mixed[1].1, Ok(Change::Unchanged)), "{mixed:?}");
}

/// A node that accepts connections and answers every request with 503, counting them.
fn failing_node() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::Ordering;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            counter.fetch_add(1, Ordering::SeqCst);
            let body = r#"{"error":"node is restarting"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, hits)
}

#[test]
fn a_5xx_moves_to_the_next_url_which_is_kept() {
    use std::sync::atomic::Ordering;
    let influx = start_influxd(false);
    let (failing, hits) = failing_node();
    let c = client(vec![failing.clone(), influx.url.clone()], Auth::None);
    c.query_one("", "", "CREATE DATABASE telegraf")
        .expect("answered by the live node");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the failing node was tried first"
    );
    for _ in 0..3 {
        c.query_one("telegraf", "", "SHOW MEASUREMENTS")
            .expect("query");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "later requests start at the node that answered"
    );
    // Only 5xx nodes left: the error says what they answered.
    let only = client(vec![failing], Auth::None);
    let e = only.query_one("", "", "SHOW DATABASES").expect_err("503");
    assert!(
        matches!(&e, Error::Unavailable(t) if t.contains("503") && t.contains("node is restarting")),
        "{e}"
    );
}

/// An https influxd whose certificate only the configured CA file vouches for.
#[test]
fn https_engines_are_trusted_through_the_configured_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("cert");
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert_pem).expect("cert");
    std::fs::write(&key_path, &key_pem).expect("key");
    let (http, rpc) = (free_port(), free_port());
    let d = dir.path().display();
    let config = format!(
        "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
         [meta]\n  dir = \"{d}/meta\"\n\
         [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
         [http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n\
         https-enabled = true\n  https-certificate = \"{}\"\n  https-private-key = \"{}\"\n\
         [monitor]\n  store-enabled = false\n",
        cert_path.display(),
        key_path.display()
    );
    let path = dir.path().join("influxdb.conf");
    std::fs::write(&path, config).expect("conf");
    let child = Command::new("influxd")
        .args(["run", "-config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("influxd");
    let _influx = Influxd {
        child,
        url: format!("https://127.0.0.1:{http}"),
        _dir: tempfile::tempdir().expect("tempdir"),
    };
    let url = format!("https://127.0.0.1:{http}");
    let mut cfg = ClientConfig::new(vec![url.clone()]);
    cfg.timeout = Duration::from_secs(10);
    cfg.backoff = Duration::from_millis(10);
    cfg.tls_ca = remote::load_ca(cert_pem.as_bytes()).expect("ca");
    let trusted = Client::new(cfg).expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match trusted.query_one("", "", "SHOW DATABASES") {
            Ok(_) => break,
            Err(e) => {
                assert!(Instant::now() < deadline, "https influxd: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    // The web roots do not vouch for it.
    let untrusted = client(vec![url], Auth::None);
    let e = untrusted
        .query_one("", "", "SHOW DATABASES")
        .expect_err("unknown issuer");
    assert!(matches!(e, Error::Unavailable(_)), "{e}");
    assert!(remote::load_ca(b"not a pem").is_err());
}
