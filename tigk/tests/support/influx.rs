//! A real InfluxDB 1.6.7 (`influxd`, Debian package `influxdb`) on loopback, as the remote
//! engine of remote-mode tests.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{encode, post};

pub struct Influxd {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn start_influxd() -> Influxd {
    let dir = tempfile::tempdir().expect("tempdir");
    let (http, rpc) = (free_port(), free_port());
    let d = dir.path().display();
    let config = format!(
        "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
         [meta]\n  dir = \"{d}/meta\"\n\
         [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
         [http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n\
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
    influx_query(&server, "CREATE DATABASE telegraf");
    server
}

pub fn influx_query(influx: &Influxd, q: &str) -> serde_json::Value {
    let (status, text) = post(
        &format!("{}/query?db=telegraf", influx.url),
        "application/x-www-form-urlencoded",
        format!("q={}", encode(q)).as_bytes(),
    )
    .expect("influxd query");
    assert_eq!(status, 200, "{q}: {text}");
    serde_json::from_str(&text).expect("json")
}

pub fn influx_write(influx: &Influxd, lines: &str) {
    let (status, text) = post(
        &format!("{}/write?db=telegraf", influx.url),
        "text/plain",
        lines.as_bytes(),
    )
    .expect("influxd write");
    assert_eq!(status, 204, "{text}");
}

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64
}
