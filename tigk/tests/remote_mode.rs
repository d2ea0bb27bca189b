//! `[storage] backend = "remote"` against a real InfluxDB 1.6.7 (Debian package `influxdb`)
//! on loopback: the agent writes to influxd; tigk renders the default dashboard from it and
//! runs the seed batch task through queries (failing over past a dead URL), and the seed
//! stream task through an InfluxDB subscription, raising the same alerts as an embedded tigk
//! fed the same points.
//!
//! Not skipped when `influxd` is missing: `.ci/run` installs the package.

#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::influx::{Influxd, free_port, influx_query, influx_write, now_ns, start_influxd};
use support::seed::{BATCH_TASK, STREAM_TASK};
use support::{Server, post, query};

const PASSWORD: &str = "remote-mode-pw";

/// A data directory with an admin user, and a config file (auth off: loopback only).
fn prepare(dir: &Path, storage: &str) -> std::path::PathBuf {
    let made = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(["user", "create", "--name", "admin", "--admin", "--password"])
        .arg(PASSWORD)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .output()
        .expect("tigk user create");
    assert!(made.status.success(), "{made:?}");
    let config = dir.join("tigk.toml");
    std::fs::write(
        &config,
        format!("[auth]\nenabled = false\n[monitor]\nstore_enabled = false\n{storage}"),
    )
    .expect("config");
    config
}

fn remote_storage(influx: &Influxd) -> String {
    // Nothing listens on the first URL: every request fails over to influxd.
    let dead = format!("http://127.0.0.1:{}", free_port());
    format!(
        "[metrics]\npublic = true\n[storage]\nbackend = \"remote\"\nurls = [\"{dead}\", \"{}\"]\ntimeout = \"10s\"\n\
         subscription_sync = \"1s\"\n",
        influx.url
    )
}

fn start(dir: &Path, config: &Path) -> Server {
    let config = config.to_str().expect("utf-8 path");
    Server::start(&dir.join("data"), &["--config", config])
}

/// Defines and enables a task through the task API; `LOG` in the script is the alert log.
fn define(server: &Server, id: &str, script: &str, log: &str) {
    let path = server.data_dir.join("alerts").join(log);
    let body = serde_json::json!({
        "id": id,
        "script": script.replace("LOG", &path.to_string_lossy()),
        "status": "enabled",
    });
    let (status, text) = post(
        &server.url("/kapacitor/v1/tasks"),
        "application/json",
        body.to_string().as_bytes(),
    )
    .expect("define");
    assert_eq!(status, 200, "{text}");
}

fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A signed-in UI session's GET.
fn ui_get(server: &Server) -> impl Fn(&str) -> (u16, String) + use<> {
    let ui: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let login = ui.get(server.url("/login")).call().expect("login form");
    let csrf = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("tigk_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("csrf cookie")
        .to_string();
    let resp = ui
        .post(server.url("/login"))
        .header("Origin", format!("http://{}", server.addr))
        .header("Cookie", format!("tigk_csrf={csrf}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!("csrf={csrf}&user=admin&password={PASSWORD}&next=%2F").as_bytes())
        .expect("sign in");
    assert_eq!(resp.status().as_u16(), 303, "signed in");
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next().map(str::to_string))
        .collect::<Vec<_>>()
        .join("; ");
    let base = format!("http://{}", server.addr);
    move |path: &str| {
        let mut resp = ui
            .get(format!("{base}{path}"))
            .header("Cookie", &cookie)
            .call()
            .expect("page");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().expect("body"))
    }
}

#[test]
fn dashboards_and_batch_tasks_read_the_remote_engine() {
    let influx = start_influxd();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = prepare(dir.path(), &remote_storage(&influx));
    let server = start(dir.path(), &config);

    // The agent writes to influxd, as Telegraf would.
    let agent_config = format!(
        "[agent]\nhostname = \"remote-host\"\n[[inputs.mem]]\n[[inputs.system]]\n\
         [[inputs.disk]]\nmount_points = [\"/\"]\nignore_fs = []\n\
         [[outputs.influxdb]]\nurls = [\"{}\"]\ndatabase = \"telegraf\"\ntimeout = \"30s\"\n",
        influx.url
    );
    let cfg = agent::validate::parse("remote.toml", &agent_config, |_| None).expect("agent config");
    agent::pipeline::Agent::new(cfg)
        .expect("agent")
        .once()
        .expect("written");
    // CPU usage needs two samples; this host's idleness is not what is tested either.
    let t = now_ns() - 20_000_000_000;
    let cpu = format!(
        "cpu,cpu=cpu0,host=remote-host usage_idle=10,usage_user=85 {t}\n\
         cpu,cpu=cpu1,host=remote-host usage_idle=95,usage_user=3 {t}\n"
    );
    influx_write(&influx, &cpu);
    // An embedded server given the same points runs the same batch task as reference.
    let embedded_dir = tempfile::tempdir().expect("tempdir");
    let embedded_cfg = prepare(embedded_dir.path(), "");
    let embedded = start(embedded_dir.path(), &embedded_cfg);
    query(&embedded, "telegraf", "CREATE DATABASE telegraf");
    let (status, text) = post(
        &embedded.url("/write?db=telegraf"),
        "text/plain",
        cpu.as_bytes(),
    )
    .expect("write");
    assert_eq!(status, 204, "{text}");

    define(&server, "batch_cpu_alert", BATCH_TASK, "batch_alerts.log");
    define(&embedded, "batch_cpu_alert", BATCH_TASK, "batch_alerts.log");
    let log = server.data_dir.join("alerts").join("batch_alerts.log");
    wait_for("the batch task's alert", 60, || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("CRITICAL"))
    });
    let text = std::fs::read_to_string(&log).expect("log");
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("a line")).expect("alert json");
    assert_eq!(first["level"], "CRITICAL", "{text}");
    assert_eq!(first["data"]["series"][0]["tags"]["cpu"], "cpu0", "{text}");
    assert_eq!(first["data"]["series"][0]["values"][0][1], 10, "{text}");
    assert!(!text.contains("cpu1"), "cpu1 is idle enough: {text}");
    let reference = embedded.data_dir.join("alerts").join("batch_alerts.log");
    wait_for("the embedded batch task's alert", 60, || {
        std::fs::read_to_string(&reference).is_ok_and(|t| t.contains("CRITICAL"))
    });
    let reference = std::fs::read_to_string(&reference).expect("log");
    let same: serde_json::Value =
        serde_json::from_str(reference.lines().next().expect("a line")).expect("alert json");
    // The alert's own time is its schedule instant; what it says about the data is equal.
    for key in ["id", "message", "level", "data"] {
        assert_eq!(first[key], same[key], "{key}: {text} vs {reference}");
    }
    embedded.stop();

    // No stream task, so no subscription: whatever tigk shows comes from its queries.
    let subs = influx_query(&influx, "SHOW SUBSCRIPTIONS");
    assert!(!subs.to_string().contains("tigk"), "{subs}");
    // tigk's /query is answered by influxd, for reads only.
    let counted = query(&server, "telegraf", "SELECT count(usage_idle) FROM cpu");
    assert_eq!(
        counted["results"][0]["series"][0]["values"][0][1], 2,
        "{counted}"
    );
    let dropped = query(&server, "telegraf", "DROP DATABASE telegraf");
    assert!(
        dropped["results"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("run this one on the engine")),
        "{dropped}"
    );
    let dbs = influx_query(&influx, "SHOW DATABASES");
    assert!(dbs.to_string().contains("\"telegraf\""), "{dbs}");
    let get = ui_get(&server);
    let (status, hosts) = get("/hosts");
    assert_eq!(status, 200, "{hosts}");
    assert!(hosts.contains("remote-host"), "{hosts}");
    let (status, page) = get("/d/agent-overview?from=now-15m");
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("Query error"), "{page}");
    assert!(page.contains("Memory used by host"), "{page}");
    assert!(
        page.contains("remote-host"),
        "series are named by host: {page}"
    );
    server.stop();
}

/// The points both servers get: two CPUs crossing the threshold back and forth, written in
/// several requests.
fn batches(t0: i64) -> Vec<String> {
    let idle = [
        [90.0, 99.0],
        [50.0, 98.0],
        [60.0, 20.0],
        [95.0, 25.5],
        [96.0, 80.0],
        [10.0, 81.0],
    ];
    idle.iter()
        .enumerate()
        .map(|(i, pair)| {
            let t = t0 + i as i64 * 10_000_000_000;
            format!(
                "cpu,cpu=cpu0,host=h usage_idle={} {t}\ncpu,cpu=cpu1,host=h usage_idle={} {}\n",
                pair[0],
                pair[1],
                t + 1_000_000_000
            )
        })
        .collect()
}

/// Points the server's store took since it started (/metrics): in remote mode, the spool.
fn spooled(server: &Server) -> i64 {
    let mut resp = ureq::get(server.url("/metrics")).call().expect("metrics");
    let text = resp.body_mut().read_to_string().expect("body");
    text.lines()
        .find_map(|l| l.strip_prefix("tigk_store_points_written_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as i64)
}

#[test]
fn stream_tasks_get_the_engine_writes_through_a_subscription() {
    compare_with_embedded(None);
}

/// tigk stops after two writes and two more reach the engine while it is down (their pushes
/// fail): at restart it asks the engine for them, and the alerts are still the embedded
/// server's.
#[test]
fn a_restart_fills_the_gap_from_the_engine() {
    compare_with_embedded(Some(2));
}

fn running(r: &Option<Server>) -> &Server {
    r.as_ref().expect("running")
}

fn wait_subscribed(influx: &Influxd, server: &Server) {
    let want = format!("http://{}", server.addr);
    wait_for("the subscription", 30, || {
        influx_query(influx, "SHOW SUBSCRIPTIONS")
            .to_string()
            .contains(&want)
    });
}

/// Feeds the same writes to an embedded tigk and, through influxd, to a remote-mode tigk
/// (stopped after `stop_after` writes and started again two writes later), and compares
/// their alert logs.
fn compare_with_embedded(stop_after: Option<usize>) {
    let influx = start_influxd();
    let remote_dir = tempfile::tempdir().expect("tempdir");
    let remote_cfg = prepare(remote_dir.path(), &remote_storage(&influx));
    let mut remote = Some(start(remote_dir.path(), &remote_cfg));
    let embedded_dir = tempfile::tempdir().expect("tempdir");
    let embedded_cfg = prepare(embedded_dir.path(), "");
    let embedded = start(embedded_dir.path(), &embedded_cfg);
    query(&embedded, "telegraf", "CREATE DATABASE telegraf");
    for s in [running(&remote), &embedded] {
        define(s, "cpu_alert", STREAM_TASK, "alerts.log");
    }
    // tigk registers its subscription for the task's database, pointing at itself.
    wait_subscribed(&influx, running(&remote));

    let t0 = now_ns() - 600_000_000_000;
    // Points the running remote server's spool should have taken.
    let mut sent = 0;
    let mut down = None;
    for (i, lines) in batches(t0).into_iter().enumerate() {
        if Some(i) == stop_after {
            remote.take().expect("running").stop();
            down = Some(());
        }
        if down.is_some() && Some(i) == stop_after.map(|s| s + 2) {
            remote = Some(start(remote_dir.path(), &remote_cfg));
            down = None;
            // The two missed writes are in the spool before the server listens.
            assert_eq!(spooled(running(&remote)), 4, "the gap is filled");
            sent = 4;
            // A new port: tigk moves its subscription there.
            wait_subscribed(&influx, running(&remote));
        }
        let (status, text) = post(
            &embedded.url("/write?db=telegraf"),
            "text/plain",
            lines.as_bytes(),
        )
        .expect("write");
        assert_eq!(status, 204, "{text}");
        influx_write(&influx, &lines);
        if down.is_none() {
            sent += 2;
            // The engine pushes each write on its own schedule; wait for it to reach the
            // spool so that the task sees the writes in the same order.
            wait_for("the pushed points in the spool", 30, || {
                spooled(running(&remote)) == sent
            });
        }
    }

    let read = |s: &Server| {
        std::fs::read_to_string(s.data_dir.join("alerts").join("alerts.log")).unwrap_or_default()
    };
    // The embedded server's alerts are the reference (one group; every non-OK point and
    // each recovery is an event, as in Kapacitor without stateChangesOnly).
    wait_for("the embedded server's alerts", 30, || {
        read(&embedded).lines().count() >= 9
    });
    let expected = read(&embedded);
    let levels: Vec<String> = expected
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["level"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        levels,
        [
            "CRITICAL", "OK", "CRITICAL", "CRITICAL", "OK", "CRITICAL", "OK", "CRITICAL", "OK"
        ],
        "{expected}"
    );
    wait_for("the remote server's alerts", 30, || {
        read(running(&remote)).lines().count() >= 9
    });
    assert_eq!(read(running(&remote)), expected);
    remote.take().expect("running").stop();
    embedded.stop();
}

/// With tigk's auth on, the engine pushes with the credentials in `subscription_url`.
#[test]
fn pushes_authenticate_with_the_subscription_urls_credentials() {
    let influx = start_influxd();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let storage = format!(
        "{}subscription_url = \"http://admin:{PASSWORD}@127.0.0.1:{port}\"\n",
        remote_storage(&influx)
    );
    let config = prepare(dir.path(), &storage).with_file_name("auth.toml");
    std::fs::write(
        &config,
        format!("[monitor]\nstore_enabled = false\n{storage}"),
    )
    .expect("config");
    let bind = format!("127.0.0.1:{port}");
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().expect("utf-8"), "--bind", &bind],
    );
    let path = server.data_dir.join("alerts").join("alerts.log");
    let body = serde_json::json!({
        "id": "cpu_alert",
        "script": STREAM_TASK.replace("LOG", &path.to_string_lossy()),
        "status": "enabled",
    });
    let url = server.url(&format!("/kapacitor/v1/tasks?u=admin&p={PASSWORD}"));
    let (status, text) =
        post(&url, "application/json", body.to_string().as_bytes()).expect("define");
    assert_eq!(status, 200, "{text}");
    // Unauthenticated writes are refused: only the engine's pushes get in.
    let (status, _) = post(
        &server.url("/write?db=telegraf"),
        "text/plain",
        b"cpu usage_idle=1",
    )
    .expect("write");
    assert_eq!(status, 401);
    // An authenticated write is passed on to the engine.
    let (status, text) = post(
        &server.url(&format!("/write?db=telegraf&u=admin&p={PASSWORD}")),
        "text/plain",
        b"mem,host=h used_percent=1",
    )
    .expect("write");
    assert_eq!(status, 204, "{text}");
    let mem = influx_query(&influx, "SELECT count(used_percent) FROM mem");
    assert_eq!(mem["results"][0]["series"][0]["values"][0][1], 1, "{mem}");
    wait_for("the subscription", 30, || {
        influx_query(&influx, "SHOW SUBSCRIPTIONS")
            .to_string()
            .contains(&format!("127.0.0.1:{port}"))
    });
    influx_write(
        &influx,
        &format!("cpu,cpu=cpu0,host=h usage_idle=5 {}", now_ns()),
    );
    wait_for("the pushed point's alert", 30, || {
        std::fs::read_to_string(&path).is_ok_and(|t| t.contains("CRITICAL"))
    });
    server.stop();
}

/// A stream task's and a batch task's `influxDBOut` points land in the engine, where pages
/// and batch tasks read, not in the local spool.
#[test]
fn influxdbout_writes_to_the_engine() {
    let influx = start_influxd();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = prepare(dir.path(), &remote_storage(&influx));
    let server = start(dir.path(), &config);
    let stream = r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('cpu')
    |eval(lambda: 100.0 - "usage_idle")
        .as('busy')
    |influxDBOut()
        .create()
        .database('derived')
        .measurement('cpu_busy')
"#;
    let batch = r#"dbrp "telegraf"."autogen"
batch
    |query('SELECT max(usage_idle) FROM "telegraf"."autogen"."cpu"')
        .period(5m)
        .every(1s)
    |influxDBOut()
        .create()
        .database('derived')
        .measurement('cpu_max')
"#;
    define(&server, "busy", stream, "unused.log");
    define(&server, "max", batch, "unused.log");
    wait_subscribed(&influx, &server);
    let t = now_ns() - 10_000_000_000;
    influx_write(&influx, &format!("cpu,cpu=cpu0,host=h usage_idle=30 {t}\n"));
    let on_engine = |q: &str| {
        let (status, text) = post(
            &format!("{}/query?db=derived&epoch=ns", influx.url),
            "application/x-www-form-urlencoded",
            format!("q={}", q.replace(' ', "+")).as_bytes(),
        )
        .expect("influxd query");
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<serde_json::Value>(&text).expect("json")
    };
    wait_for("the stream task's output on the engine", 30, || {
        on_engine("SELECT busy FROM cpu_busy")["results"][0]["series"][0]["values"][0][1] == 70.0
    });
    let busy = on_engine("SELECT busy FROM cpu_busy WHERE cpu = 'cpu0'");
    assert_eq!(
        busy["results"][0]["series"][0]["values"][0][0], t,
        "the point keeps its time and tags: {busy}"
    );
    wait_for("the batch task's output on the engine", 30, || {
        on_engine("SELECT max FROM cpu_max")["results"][0]["series"][0]["values"][0][1] == 30
    });
    // tigk's /query reads the engine: the outputs are there for pages and batch tasks.
    let seen = query(&server, "derived", "SELECT count(busy) FROM cpu_busy");
    assert_eq!(seen["results"][0]["series"][0]["values"][0][1], 1, "{seen}");
    // The spool took the one pushed point and none of the outputs.
    assert_eq!(spooled(&server), 1);
    server.stop();
}

/// The "tigk health" dashboard reads this server's own `_internal` (kept in the embedded
/// store) in remote mode too, not the engine's.
#[test]
fn the_health_dashboard_reads_this_servers_own_metrics() {
    let influx = start_influxd();
    let dir = tempfile::tempdir().expect("tempdir");
    prepare(dir.path(), "");
    let config = dir.path().join("health.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\nenabled = false\n[monitor]\nstore_interval = \"200ms\"\n{}",
            remote_storage(&influx)
        ),
    )
    .expect("config");
    let server = start(dir.path(), &config);
    let get = ui_get(&server);
    let to = common::time::rfc3339_nanos(now_ns() + 120_000_000_000);
    let to = to.get(..16).expect("YYYY-MM-DDTHH:MM").to_string();
    let mut page = String::new();
    wait_for("the health dashboard's data", 30, || {
        let (status, text) = get(&format!("/d/tigk-health?from=now-5m&to={to}"));
        assert_eq!(status, 200, "{text}");
        page = text;
        // The memory chart and the series table have rows only once tigk recorded itself.
        page.contains("rssBytes") && page.contains(">_internal</td>")
    });
    assert!(!page.contains("Query error"), "{page}");
    assert!(page.contains("<h2>Disk used</h2>"), "{page}");
    // The engine keeps no `_internal` here (its monitor store is off): what is drawn is tigk's.
    let engine_dbs = influx_query(&influx, "SHOW DATABASES").to_string();
    assert!(!engine_dbs.contains("_internal"), "{engine_dbs}");
    // tigk's /query answers a query on `_internal` alone from there too.
    let own = query(&server, "_internal", "SELECT count(rssBytes) FROM runtime");
    assert!(
        own["results"][0]["series"][0]["values"][0][1]
            .as_i64()
            .is_some_and(|n| n > 0),
        "{own}"
    );
    let mixed = query(
        &server,
        "_internal",
        "SELECT count(rssBytes) FROM runtime, telegraf.autogen.cpu",
    );
    assert!(
        mixed["results"][0]["error"].is_string() || mixed["results"][0]["series"].is_null(),
        "a query reaching past `_internal` goes to the engine: {mixed}"
    );
    server.stop();
}

/// An agent set up as the "add a host" page says (writing to tigk's `/write`) has its data
/// on the engine and on the hosts page; the engine's push of it reaches the stream task
/// through the spool, once.
#[test]
fn agents_writing_to_tigk_land_on_the_engine() {
    let influx = start_influxd();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = prepare(dir.path(), &remote_storage(&influx));
    let server = start(dir.path(), &config);
    define(&server, "cpu_alert", STREAM_TASK, "alerts.log");
    wait_subscribed(&influx, &server);
    let subs = influx_query(&influx, "SHOW SUBSCRIPTIONS").to_string();
    assert!(
        subs.contains("/spool"),
        "pushes go to the spool's path: {subs}"
    );

    let get = ui_get(&server);
    let (status, page) = get("/admin/hosts/add");
    assert_eq!(status, 200, "{page}");
    let tigk_url = format!("http://{}", server.addr);
    assert!(
        page.contains(&tigk_url),
        "the page points agents at tigk: {page}"
    );

    // What the install line sets up: the agent's output is tigk's URL.
    let agent_config = format!(
        "[agent]\nhostname = \"via-tigk\"\n[[inputs.mem]]\n[[inputs.system]]\n\
         [[outputs.influxdb]]\nurls = [\"{tigk_url}\"]\ndatabase = \"telegraf\"\ntimeout = \"30s\"\n"
    );
    let cfg = agent::validate::parse("agent.toml", &agent_config, |_| None).expect("agent config");
    agent::pipeline::Agent::new(cfg)
        .expect("agent")
        .once()
        .expect("written");
    let on_engine = influx_query(
        &influx,
        "SELECT count(total) FROM mem WHERE host = 'via-tigk'",
    );
    assert_eq!(
        on_engine["results"][0]["series"][0]["values"][0][1], 1,
        "{on_engine}"
    );

    // A busy CPU written to tigk alerts: engine, subscription, spool, stream task.
    let (status, text) = post(
        &server.url("/write?db=telegraf&precision=s"),
        "text/plain",
        format!(
            "cpu,cpu=cpu0,host=via-tigk usage_idle=5 {}",
            now_ns() / 1_000_000_000
        )
        .as_bytes(),
    )
    .expect("write");
    assert_eq!(status, 204, "{text}");
    let log = server.data_dir.join("alerts").join("alerts.log");
    wait_for("the alert", 30, || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("CRITICAL"))
    });
    // The hosts page lists hosts by their cpu series.
    let (status, hosts) = get("/hosts");
    assert_eq!(status, 200, "{hosts}");
    assert!(hosts.contains("via-tigk"), "{hosts}");
    // The writes were pushed to the spool once, and not forwarded back to the engine.
    // (A loop would keep pushing them: the spool would keep growing.)
    let pushed = spooled(&server);
    assert!(pushed >= 2, "{pushed}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(spooled(&server), pushed);
    let cpu = influx_query(&influx, "SELECT count(usage_idle) FROM cpu");
    assert_eq!(cpu["results"][0]["series"][0]["values"][0][1], 1, "{cpu}");
    // The engine's own answer to a bad line comes back to the writer.
    let (status, text) = post(
        &server.url("/write?db=telegraf"),
        "text/plain",
        b"cpu usage_idle=",
    )
    .expect("write");
    assert_eq!(status, 400, "{text}");
    // Kapacitor's write path is the same write: it reaches the engine too.
    let (status, text) = post(
        &server.url("/kapacitor/v1/write?db=telegraf&precision=s"),
        "text/plain",
        format!(
            "mem,host=via-kapacitor total=7i {}",
            now_ns() / 1_000_000_000
        )
        .as_bytes(),
    )
    .expect("write");
    assert_eq!(status, 204, "{text}");
    let on_engine = influx_query(
        &influx,
        "SELECT count(total) FROM mem WHERE host = 'via-kapacitor'",
    );
    assert_eq!(
        on_engine["results"][0]["series"][0]["values"][0][1], 1,
        "{on_engine}"
    );
    server.stop();
}
