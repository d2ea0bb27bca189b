//! `tigk task test` runs a TICKscript offline; `tigk task define|list|disable|delete` manage
//! a running server's tasks through its Kapacitor-compatible API.

mod support;

use std::process::{Command, Output};

use support::Server;

fn tigk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(args)
        .output()
        .expect("run tigk")
}

const SEED_STREAM: &str = r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: int("usage_idle") <  70)
        .log('/tmp/alerts.log')
"#;

#[test]
fn task_test_prints_the_events_handlers_would_get() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tick = dir.path().join("cpu.tick");
    std::fs::write(&tick, SEED_STREAM).expect("tick");
    let input = dir.path().join("points.lp");
    std::fs::write(
        &input,
        "cpu,host=a,cpu=cpu-total usage_idle=90 1700000000\ncpu,host=a,cpu=cpu-total usage_idle=60.9 1700000010\ncpu,host=a,cpu=cpu-total usage_idle=95 1700000020\n",
    )
    .expect("input");
    let out = tigk(&[
        "task",
        "test",
        tick.to_str().expect("utf8"),
        "--input",
        input.to_str().expect("utf8"),
        "--precision",
        "s",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    // int(60.9) = 60 < 70 fires CRITICAL; 95 recovers to OK; nothing is delivered to /tmp.
    let levels: Vec<&str> = events
        .iter()
        .map(|e| e["level"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(levels, ["CRITICAL", "OK"], "{stdout}");
    assert_eq!(events[0]["time"], "2023-11-14T22:13:30Z");
    assert_eq!(events[0]["id"], "cpu:nil");

    // A broken script: non-zero exit, a positioned error, no events.
    std::fs::write(
        &tick,
        "dbrp \"telegraf\".\"autogen\"\nstream\n    |from()\n        .measurement(\"cpu\")\n",
    )
    .expect("tick");
    let out = tigk(&[
        "task",
        "test",
        tick.to_str().expect("utf8"),
        "--input",
        input.to_str().expect("utf8"),
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn tasks_are_managed_through_the_servers_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let created = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args([
            "user",
            "create",
            "--name",
            "admin",
            "--password",
            "task-admin-pass",
            "--admin",
            "--data-dir",
        ])
        .arg(dir.path())
        .status()
        .expect("user");
    assert!(created.success());
    let server = Server::start(dir.path(), &[]);
    let url = format!("http://{}", server.addr);
    let conn = [
        "--url",
        url.as_str(),
        "--username",
        "admin",
        "--password",
        "task-admin-pass",
    ];
    let tick = dir.path().join("cpu.tick");
    let log = dir.path().join("alerts").join("cpu.log");
    std::fs::write(
        &tick,
        SEED_STREAM.replace("/tmp/alerts.log", log.to_str().expect("utf8")),
    )
    .expect("tick");

    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&conn);
        let out = tigk(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&[
        "task",
        "define",
        "cpu_alert",
        "--tick",
        tick.to_str().expect("utf8"),
    ]);
    let listed = run(&["task", "list"]);
    assert!(
        listed.contains("cpu_alert") && listed.contains("enabled"),
        "{listed}"
    );
    let shown = run(&["task", "show", "cpu_alert"]);
    assert!(shown.contains("digraph cpu_alert"), "{shown}");
    run(&["task", "disable", "cpu_alert"]);
    assert!(run(&["task", "list"]).contains("disabled"));
    run(&["task", "delete", "cpu_alert"]);
    assert!(!run(&["task", "list"]).contains("cpu_alert"));
    // A log path outside the alert directory is refused at definition.
    std::fs::write(&tick, SEED_STREAM).expect("tick");
    let mut args = vec![
        "task",
        "define",
        "escape",
        "--tick",
        tick.to_str().expect("utf8"),
    ];
    args.extend_from_slice(&conn);
    let out = tigk(&args);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HTTP 400"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
