//! `buffer_strategy = "disk"` survives `kill -9` of the agent: what was buffered while the
//! server failed is delivered, in order, by the next run.

#![cfg(unix)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agent::buffer::{Buffer, DiskBuffer};
use support::{Reply, Server};

fn spawn_agent(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tigk-agent"))
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tigk-agent")
}

#[test]
fn disk_buffer_survives_kill_9_and_replays_in_order() {
    let server = Server::start(Reply::Status(503, r#"{"error":"overloaded"}"#));
    let dir = tempfile::tempdir().expect("tempdir");
    let buffer_dir = dir.path().join("buffer");
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[agent]
interval = "100ms"
round_interval = false
flush_interval = "100ms"
hostname = "test-host"
buffer_strategy = "disk"
buffer_directory = "{}"
[[inputs.mem]]
[[outputs.influxdb]]
urls = ["{}"]
skip_database_creation = true
retry_initial = "50ms"
retry_max = "100ms"
"#,
            buffer_dir.display(),
            server.url()
        ),
    )
    .expect("write config");

    // First run: every write fails with 503, so gathers pile up in the disk buffer.
    let mut first = spawn_agent(&config);
    let deadline = Instant::now() + Duration::from_secs(10);
    let out_dir = buffer_dir.join("influxdb-0");
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let segs: u64 = std::fs::read_dir(&out_dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        if segs > 3000 || Instant::now() > deadline {
            break;
        }
    }
    assert!(server.requests().len() > 1, "the agent tried to write");
    first.kill().expect("kill -9");
    first.wait().expect("reap");
    assert!(server.written_lines().is_empty());

    let (mut buf, dropped) =
        DiskBuffer::open(&out_dir, 10_000).expect("open the dead agent's buffer");
    assert_eq!(dropped, 0);
    let (_, pending) = buf.peek(usize::MAX).expect("peek");
    let pending: Vec<String> = pending.iter().map(|l| l.to_string()).collect();
    drop(buf);
    assert!(
        pending.len() >= 3,
        "gathers were buffered on disk: {}",
        pending.len()
    );
    assert!(pending.iter().all(|l| l.starts_with("mem,host=test-host ")));

    // Second run: the server is back; the old points come first, then new gathers.
    server.set_default(Reply::Status(204, ""));
    let mut second = spawn_agent(&config);
    server.wait_for(Duration::from_secs(10), "replayed lines", |got| {
        got.len() > pending.len()
    });
    second.kill().expect("kill");
    second.wait().expect("reap");
    let got = server.written_lines();
    assert_eq!(
        &got[..pending.len()],
        &pending[..],
        "replayed first, in order, unchanged"
    );
    let ts = |l: &String| {
        l.rsplit(' ')
            .next()
            .and_then(|t| t.parse::<i64>().ok())
            .expect("timestamp")
    };
    assert!(
        got.windows(2).all(|w| ts(&w[0]) < ts(&w[1])),
        "timestamps keep increasing"
    );
}
