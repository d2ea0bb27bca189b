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

/// A server on a fresh data directory with one admin, as an operator sets one up.
fn admin_server(dir: &std::path::Path, user: &str, password: &str) -> Server {
    let created = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(["user", "create", "--name", user, "--password", password])
        .args(["--admin", "--data-dir"])
        .arg(dir)
        .status()
        .expect("user");
    assert!(created.success());
    Server::start(dir, &[])
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
    let server = admin_server(dir.path(), "admin", "task-admin-pass");
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

const SEED_BATCH: &str = r#"dbrp "telegraf"."autogen"
batch
    |query('''
        SELECT mean(usage_idle)
        FROM "telegraf"."autogen"."cpu"
    ''')
        .period(5m)
        .every(5m)
        .groupBy(time(1m), 'cpu')
    |alert()
        .crit(lambda: "mean" < 70)
        .log('/tmp/batch_alerts.log')
"#;

/// `tigk task replay` runs a defined task over the server's stored data and prints the
/// events `tigk task test` prints for the same points in a file.
#[test]
fn replay_runs_a_defined_task_over_stored_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (user, password) = ("admin", "replay-admin-pass");
    let server = admin_server(dir.path(), user, password);
    let url = format!("http://{}", server.addr);
    let conn = [
        "--url",
        url.as_str(),
        "--username",
        user,
        "--password",
        password,
    ];
    let auth = format!("u={user}&p={password}");
    // (`query` puts its db argument in the URL: the credentials ride along.)
    support::query(&server, &format!("&{auth}"), "CREATE DATABASE telegraf");

    // 10 minutes of two cpus every 10 s from 2023-11-14T22:10:00Z; cpu0 dips below 70
    // for the minute 22:14, cpu1 never does. Integer and string fields ride along.
    let t0 = 1_699_999_800i64;
    let mut lp = String::new();
    for i in 0..60i64 {
        let t = t0 + i * 10;
        let idle0 = if (24..30).contains(&i) {
            50.5
        } else {
            90.0 + (i % 3) as f64
        };
        lp.push_str(&format!(
            "cpu,host=a,cpu=cpu0 usage_idle={idle0},runs={i}i,state=\"x\" {t}\n\
             cpu,host=a,cpu=cpu1 usage_idle=95.25 {t}\n\
             mem,host=a used_percent=42.5 {t}\n"
        ));
    }
    let (status, text) = support::post(
        &server.url(&format!("/write?db=telegraf&precision=s&{auth}")),
        "text/plain",
        lp.as_bytes(),
    )
    .expect("write");
    assert_eq!(status, 204, "{text}");
    let input = dir.path().join("points.lp");
    std::fs::write(&input, &lp).expect("input");

    let (from, to) = ("2023-11-14T22:10:00Z", "2023-11-14T22:20:00Z");
    let tigk_ok = |args: &[&str]| {
        let out = tigk(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (id, script) in [("seed_stream", SEED_STREAM), ("seed_batch", SEED_BATCH)] {
        let log = dir.path().join("alerts").join(format!("{id}.log"));
        let tick = dir.path().join(format!("{id}.tick"));
        let script = script
            .replace("/tmp/alerts.log", log.to_str().expect("utf8"))
            .replace("/tmp/batch_alerts.log", log.to_str().expect("utf8"));
        std::fs::write(&tick, &script).expect("tick");
        let mut define = vec!["task", "define", id, "--tick", tick.to_str().expect("utf8")];
        define.push("--disabled");
        define.extend_from_slice(&conn);
        tigk_ok(&define);

        let mut replay = vec!["task", "replay", id, "--from", from, "--to", to];
        replay.extend_from_slice(&conn);
        let replayed = tigk_ok(&replay);
        let tested = tigk_ok(&[
            "task",
            "test",
            tick.to_str().expect("utf8"),
            "--input",
            input.to_str().expect("utf8"),
            "--precision",
            "s",
            "--name",
            id,
            "--from",
            from,
            "--to",
            to,
        ]);
        let levels: Vec<String> = replayed
            .lines()
            .map(|l| {
                let e: serde_json::Value = serde_json::from_str(l).expect("JSON line");
                e["level"].as_str().unwrap_or_default().to_string()
            })
            .collect();
        assert!(levels.contains(&"CRITICAL".to_string()), "{id}: {replayed}");
        assert!(levels.contains(&"OK".to_string()), "{id}: {replayed}");
        assert_eq!(replayed, tested, "{id}: replay and test differ");
        // Nothing was delivered: the task is disabled and a replay never sends.
        assert!(
            !log.exists(),
            "{id}: a replay delivered to {}",
            log.display()
        );
    }

    // A range with no data replays to no events; an unknown task is an error.
    let mut empty = vec![
        "task",
        "replay",
        "seed_stream",
        "--from",
        "2020-01-01T00:00:00Z",
        "--to",
        "2020-01-02T00:00:00Z",
    ];
    empty.extend_from_slice(&conn);
    assert_eq!(tigk_ok(&empty), "");
    let mut unknown = vec!["task", "replay", "nope", "--from", from, "--to", to];
    unknown.extend_from_slice(&conn);
    let out = tigk(&unknown);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
}

/// Kapacitor's `/kapacitor/v1/ping` and `/kapacitor/v1/write`: a point written there is
/// stored and reaches an enabled stream task, with `/write`'s credentials.
#[test]
fn kapacitor_ping_and_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (user, password) = ("admin", "kapacitor-write-pass");
    let server = admin_server(dir.path(), user, password);
    let url = format!("http://{}", server.addr);
    let auth = format!("u={user}&p={password}");

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let ping = agent
        .get(&server.url("/kapacitor/v1/ping"))
        .call()
        .expect("ping");
    assert_eq!(ping.status().as_u16(), 204);
    assert!(ping.headers().contains_key("x-kapacitor-version"));

    support::query(&server, &format!("&{auth}"), "CREATE DATABASE telegraf");
    let log = dir.path().join("alerts").join("cpu.log");
    let tick = dir.path().join("cpu.tick");
    std::fs::write(
        &tick,
        SEED_STREAM.replace("/tmp/alerts.log", log.to_str().expect("utf8")),
    )
    .expect("tick");
    let out = tigk(&[
        "task",
        "define",
        "cpu_alert",
        "--tick",
        tick.to_str().expect("utf8"),
        "--url",
        &url,
        "--username",
        user,
        "--password",
        password,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let line = b"cpu,host=k,cpu=cpu-total usage_idle=42 1700000000000000000\n";
    let (status, _) = support::post(
        &server.url("/kapacitor/v1/write?db=telegraf"),
        "text/plain",
        line,
    )
    .expect("write");
    assert_eq!(status, 401, "credentials are required as on /write");
    let (status, text) = support::post(
        &server.url(&format!("/kapacitor/v1/write?db=telegraf&{auth}")),
        "text/plain",
        line,
    )
    .expect("write");
    assert_eq!(status, 204, "{text}");
    let stored = support::query(
        &server,
        &format!("telegraf&{auth}"),
        "SELECT usage_idle FROM cpu WHERE host = 'k'",
    );
    assert_eq!(
        stored["results"][0]["series"][0]["values"][0][1], 42,
        "{stored}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        if logged.contains("CRITICAL") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no alert from the written point: {logged:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
