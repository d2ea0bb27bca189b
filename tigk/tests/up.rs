//! `tigk up` on a fresh data directory: the admin is created, this host's metrics arrive in
//! `telegraf` through the built-in agent, the UI is served, and a restart keeps everything.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::post;

struct Up {
    child: Child,
    addr: String,
}

impl Up {
    fn start(dir: &std::path::Path) -> Up {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tigk"))
            .args([
                "up",
                "--bind",
                "127.0.0.1:0",
                "--interval",
                "1s",
                "--data-dir",
            ])
            .arg(dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tigk up");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(
                        rest.chars()
                            .take_while(|c| !c.is_whitespace() && *c != ';')
                            .collect::<String>(),
                    );
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("tigk up did not start");
        Up { child, addr }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count_cpu(up: &Up, password: &str) -> u64 {
    let url = format!("http://{}/query?db=telegraf&u=admin&p={password}", up.addr);
    let body = format!(
        "q={}",
        support::encode("SELECT count(usage_idle) FROM cpu WHERE cpu = 'cpu-total'")
    );
    let (status, text) =
        post(&url, "application/x-www-form-urlencoded", body.as_bytes()).expect("query");
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

fn wait_for_points(up: &Up, password: &str, more_than: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = count_cpu(up, password);
        if n > more_than {
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "no new cpu points from the built-in agent (have {n})"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
#[cfg(target_os = "linux")]
fn up_collects_this_host_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let up = Up::start(dir.path());
    let password =
        std::fs::read_to_string(dir.path().join("admin-password")).expect("admin password file");
    let password = password.trim().to_string();
    let first = wait_for_points(&up, &password, 0);
    // The seed tasks are defined and enabled, and the stream seed fires on a low idle.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .get(format!(
            "http://{}/kapacitor/v1/tasks?u=admin&p={password}",
            up.addr
        ))
        .call()
        .expect("task list");
    assert_eq!(resp.status().as_u16(), 200);
    let tasks: serde_json::Value =
        serde_json::from_str(&resp.body_mut().read_to_string().expect("body")).expect("json");
    let listed = tasks.to_string();
    for id in ["cpu_alert", "batch_cpu_alert"] {
        assert!(listed.contains(&format!(r#""id":"{id}""#)), "{listed}");
    }
    assert_eq!(
        listed.matches(r#""status":"enabled""#).count(),
        2,
        "{listed}"
    );
    let unauthenticated = agent
        .get(format!("http://{}/kapacitor/v1/tasks", up.addr))
        .call()
        .expect("call");
    assert_eq!(
        unauthenticated.status().as_u16(),
        401,
        "the task API needs credentials"
    );
    let url = format!("http://{}/write?db=telegraf&u=admin&p={password}", up.addr);
    let (status, text) = post(
        &url,
        "text/plain",
        b"cpu,host=seed-test,cpu=cpu-total usage_idle=12.5",
    )
    .expect("write");
    assert_eq!(status, 204, "{text}");
    let log = dir.path().join("alerts").join("alerts.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("seed-test")) {
            break line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no alert for the low idle in {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let event: serde_json::Value = serde_json::from_str(&event).expect("alert JSON line");
    assert_eq!(event["level"], "CRITICAL");
    // Kapacitor's default id is `{{.Name}}:{{.Group}}`; the seed script has no groupBy.
    assert_eq!(event["id"], "cpu:nil");
    assert_eq!(
        event["data"]["series"][0]["tags"]["host"], "seed-test",
        "{event}"
    );
    // The UI is served by the same process, and the default dashboard draws this host's data.
    let ui = support::UiSession::sign_in(&format!("http://{}", up.addr), "admin", &password);
    assert_default_dashboard_has_data(&ui);
    up.stop();

    let up = Up::start(dir.path());
    let again = std::fs::read_to_string(dir.path().join("admin-password")).expect("kept");
    assert_eq!(again.trim(), password, "the admin password is created once");
    let after = wait_for_points(&up, &password, first);
    assert!(
        after > first,
        "data from the first run kept and new points added ({first} -> {after})"
    );
    let ui = support::UiSession::sign_in(&format!("http://{}", up.addr), "admin", &password);
    assert_default_dashboard_has_data(&ui);
    up.stop();
}

/// The agent overview (the default dashboard) is listed and draws this host's data.
fn assert_default_dashboard_has_data(ui: &support::UiSession) {
    let (status, list) = ui.get("/dashboards");
    assert_eq!(status, 200, "{list}");
    assert!(list.contains("/d/agent-overview"), "{list}");
    let (status, page) = ui.get("/d/agent-overview?from=now-15m&to=now");
    assert_eq!(status, 200, "{page}");
    let panels = page.matches("<section class=\"panel\"").count();
    assert!(panels >= 4, "{panels} panels: {page}");
    assert!(!page.contains("Query error"), "{page}");
    // Charts are drawn, and not every panel is in the no-data state (some inputs, such as
    // diskio in a container, may have nothing to show).
    assert!(page.contains("<svg"), "no chart: {page}");
    assert!(
        page.contains("<path") || page.contains("<polyline"),
        "no series drawn: {page}"
    );
    assert!(
        page.matches("No data").count() < panels,
        "every panel is empty: {page}"
    );
}
