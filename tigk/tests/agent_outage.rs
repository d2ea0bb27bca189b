//! The server goes away while an agent collects: the agent buffers, and once the server is
//! back every gathered point arrives exactly once (no gap, no duplicate in the series of
//! interval timestamps).
//!
//! The outage lasts `TIGK_OUTAGE_SECS` seconds (default 8; the issue's ten-minute run is
//! `TIGK_OUTAGE_SECS=600 cargo test -p tigk --test agent_outage`).

mod support;

use std::net::TcpListener;
use std::time::Duration;

use support::{Server, encode, post};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn mem_times(server: &Server) -> Vec<i64> {
    let v = support::query(
        server,
        "telegraf",
        "SELECT used FROM mem WHERE host = 'outage-host'",
    );
    v["results"][0]["series"][0]["values"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r[0].as_i64()).collect())
        .unwrap_or_default()
}

#[test]
#[cfg(target_os = "linux")]
fn an_agent_buffers_through_a_server_outage_and_delivers_every_point_once() {
    let outage: u64 = std::env::var("TIGK_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let dir = tempfile::tempdir().expect("tempdir");
    let bind = format!("127.0.0.1:{}", free_port());
    let args = ["--no-auth", "--bind", bind.as_str()];
    let server = Server::start(dir.path(), &args);
    let (st, body) = post(
        &server.url("/query"),
        "application/x-www-form-urlencoded",
        format!("q={}", encode("CREATE DATABASE telegraf")).as_bytes(),
    )
    .expect("create");
    assert_eq!(st, 200, "{body}");

    // One mem point per second; the buffer holds far more than the outage produces.
    let config = format!(
        r#"
[agent]
hostname = "outage-host"
interval = "1s"
flush_interval = "1s"
metric_buffer_limit = 100000
[[inputs.mem]]
[[outputs.influxdb]]
urls = ["http://{bind}"]
database = "telegraf"
skip_database_creation = true
timeout = "2s"
retry_initial = "200ms"
retry_max = "1s"
"#
    );
    let cfg = agent::validate::parse("outage.toml", &config, |_| None).expect("config");
    let shutdown = agent::pipeline::Shutdown::new();
    let agent = {
        let shutdown = shutdown.clone();
        std::thread::spawn(move || {
            agent::pipeline::Agent::new(cfg)
                .expect("agent")
                .run(shutdown)
        })
    };

    std::thread::sleep(Duration::from_secs(4));
    let before = mem_times(&server);
    assert!(!before.is_empty(), "no points before the outage");
    server.stop();
    std::thread::sleep(Duration::from_secs(outage));
    let server = Server::start(dir.path(), &args);
    std::thread::sleep(Duration::from_secs(4));
    shutdown.trigger();
    agent
        .join()
        .expect("agent thread")
        .expect("agent stopped cleanly");

    let times = mem_times(&server);
    let step = 1_000_000_000i64;
    let (first, last) = (times[0], times[times.len() - 1]);
    let expected = ((last - first) / step + 1) as usize;
    assert_eq!(
        times.len(),
        expected,
        "gaps or duplicates from {first} to {last}: {times:?}"
    );
    assert!(
        times.windows(2).all(|w| w[1] - w[0] == step),
        "not one point per interval: {times:?}"
    );
    // The points span the outage: the agent kept gathering and delivered the backlog.
    assert!(
        times.len() as u64 >= outage + 6,
        "{} points for a run of at least {} s",
        times.len(),
        outage + 8
    );
    server.stop();
}
