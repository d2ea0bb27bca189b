//! Interop: the agent writes to a real InfluxDB 1.6.7 (Debian package `influxdb`) on
//! loopback, and the stored field keys and types are Telegraf's.
//!
//! Not skipped when `influxd` is missing: that would let CI go green without checking the
//! one thing this test is for. `.ci/run` installs the package.

#![cfg(target_os = "linux")]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

fn start_influxd() -> Influxd {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("influxd").is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "influxd is not on PATH: this interop test needs InfluxDB 1.6.7. \
         Run .ci/run (it installs the Debian package `influxdb`), or `apt-get install -y influxdb`."
    );
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
        .arg("run")
        .arg("-config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start influxd");
    let url = format!("http://127.0.0.1:{http}");
    let server = Influxd {
        child,
        url,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(format!("{}/ping", server.url)).call().is_err() {
        assert!(
            Instant::now() < deadline,
            "influxd did not answer /ping within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn query(url: &str, q: &str) -> serde_json::Value {
    let mut resp = ureq::get(format!("{url}/query"))
        .query("db", "telegraf")
        .query("q", q)
        .call()
        .expect("query");
    let text = resp.body_mut().read_to_string().expect("body");
    serde_json::from_str(&text).expect("json")
}

/// `measurement -> [(field, type)]` from SHOW FIELD KEYS.
fn field_keys(url: &str) -> Vec<(String, String, String)> {
    let v = query(url, "SHOW FIELD KEYS");
    let mut out = Vec::new();
    for series in v["results"][0]["series"].as_array().expect("series") {
        let m = series["name"].as_str().expect("name").to_string();
        for row in series["values"].as_array().expect("values") {
            out.push((
                m.clone(),
                row[0].as_str().expect("key").into(),
                row[1].as_str().expect("type").into(),
            ));
        }
    }
    out
}

#[test]
fn agent_writes_telegraf_names_to_influxdb_1_6() {
    let influx = start_influxd();
    let text = format!(
        r#"
[global_tags]
dc = "test"
[agent]
hostname = "interop-host"
[[inputs.cpu]]
[[inputs.mem]]
[[inputs.swap]]
[[inputs.system]]
[[inputs.disk]]
mount_points = ["/"]
ignore_fs = []
[[inputs.diskio]]
[[inputs.net]]
interfaces = ["lo"]
[[inputs.processes]]
[[inputs.kernel]]
[[inputs.internal]]
[[outputs.influxdb]]
urls = ["{}"]
database = "telegraf"
content_encoding = "gzip"
# A loaded CI machine can be slow to answer; a timeout here is not what this test checks.
timeout = "30s"
"#,
        influx.url
    );
    let cfg = agent::validate::parse("interop.toml", &text, |_| None).expect("config");
    agent::pipeline::Agent::new(cfg)
        .expect("agent")
        .once()
        .expect("written");

    let fields = field_keys(&influx.url);
    let ty = |m: &str, f: &str| {
        fields
            .iter()
            .find(|(mm, ff, _)| mm == m && ff == f)
            .map(|(_, _, t)| t.as_str())
            .unwrap_or("missing")
    };
    let expect = [
        ("cpu", "usage_idle", "float"),
        ("cpu", "usage_guest_nice", "float"),
        ("mem", "total", "integer"),
        ("mem", "used_percent", "float"),
        ("mem", "available_percent", "float"),
        ("swap", "in", "integer"),
        ("swap", "used_percent", "float"),
        ("system", "load1", "float"),
        ("system", "n_cpus", "integer"),
        ("system", "uptime", "integer"),
        ("system", "uptime_format", "string"),
        ("disk", "inodes_used_percent", "float"),
        ("disk", "used", "integer"),
        ("diskio", "weighted_io_time", "integer"),
        ("net", "bytes_recv", "integer"),
        ("net", "tcp_activeopens", "integer"),
        ("processes", "total_threads", "integer"),
        ("kernel", "context_switches", "integer"),
        ("internal_gather", "gather_time_ns", "integer"),
    ];
    for (m, f, t) in expect {
        assert_eq!(ty(m, f), t, "{m}.{f}");
    }

    let v = query(
        &influx.url,
        "SELECT last(usage_idle) FROM cpu WHERE cpu = 'cpu-total' AND host = 'interop-host' AND dc = 'test'",
    );
    let idle = v["results"][0]["series"][0]["values"][0][1]
        .as_f64()
        .expect("cpu-total usage_idle stored");
    // Only that a float round-trips: the value itself is the kernel's. Per-CPU iowait can
    // run backwards on Linux, which pushes idle past 100 % over short samples (Telegraf's
    // identical formula reports the same), so a range check here would be flaky.
    assert!(idle.is_finite(), "{idle}");
    let v = query(&influx.url, "SHOW TAG KEYS FROM disk");
    let tags: Vec<&str> = v["results"][0]["series"][0]["values"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|r| r[0].as_str())
        .collect();
    assert_eq!(tags, ["dc", "device", "fstype", "host", "mode", "path"]);
}
