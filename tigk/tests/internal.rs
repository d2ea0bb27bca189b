//! Self-monitoring: the real server records its own metrics into `_internal` (InfluxDB's
//! measurement names, a `monitor` policy), and the provisioned "tigk health" dashboard
//! renders every panel with data from it.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{Server, post, query};

const PASSWORD: &str = "health-check-pw";

fn names(v: &serde_json::Value) -> Vec<String> {
    v["results"][0]["series"][0]["values"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r[0].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn last(server: &Server, field: &str, measurement: &str) -> f64 {
    let v = query(
        server,
        "_internal",
        &format!("SELECT last(\"{field}\") FROM \"{measurement}\""),
    );
    v["results"][0]["series"][0]["values"][0][1]
        .as_f64()
        .unwrap_or_else(|| panic!("no {measurement}.{field}: {v}"))
}

#[test]
fn server_records_itself_and_the_health_dashboard_shows_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let made = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args([
            "user",
            "create",
            "--name",
            "admin",
            "--admin",
            "--password",
            PASSWORD,
        ])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .expect("tigk user create");
    assert!(made.status.success(), "{made:?}");
    let config = dir.path().join("tigk.toml");
    std::fs::write(
        &config,
        "[auth]\nenabled = false\n[monitor]\nstore_interval = \"200ms\"\nretention = \"2h\"\n",
    )
    .expect("config");
    let server = Server::start(&data, &["--config", config.to_str().expect("utf-8")]);

    query(&server, "", "CREATE DATABASE telegraf");
    let task = serde_json::json!({
        "id": "hot", "type": "stream", "status": "enabled",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": format!(
            "stream|from().measurement('cpu')|alert().crit(lambda: \"v\" > 1).log('{}')",
            data.join("alerts").join("hot.log").display()
        ),
    });
    let (status, body) = post(
        &server.url("/kapacitor/v1/tasks"),
        "application/json",
        task.to_string().as_bytes(),
    )
    .expect("define task");
    assert_eq!(status, 200, "{body}");

    // Traffic for the counters: writes (one refused), queries, and an alert.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut writes, mut refused) = (0, 0);
    let expected = [
        "alerter",
        "database",
        "httpd",
        "queryExecutor",
        "runtime",
        "store",
        "system",
        "task",
        "write",
    ];
    loop {
        let (status, _) = post(
            &server.url("/write?db=telegraf"),
            "text/plain",
            format!("cpu,host=a v={writes}").as_bytes(),
        )
        .expect("write");
        assert_eq!(status, 204);
        writes += 1;
        let (status, _) = post(
            &server.url("/write?db=telegraf"),
            "text/plain",
            b"cpu,host=a v=\"a string now\"",
        )
        .expect("write");
        assert_eq!(status, 400, "a type conflict is refused");
        refused += 1;
        let found = names(&query(&server, "_internal", "SHOW MEASUREMENTS"));
        if writes >= 10 && expected.iter().all(|m| found.iter().any(|f| f == m)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "_internal holds {found:?}, expected {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Rate panels need two of the UI's (10 s) buckets: keep the traffic going until the
    // recorded points span a bucket boundary.
    loop {
        let buckets = query(
            &server,
            "_internal",
            "SELECT max(writeReq) FROM httpd WHERE time > now() - 1m GROUP BY time(10s) fill(none)",
        );
        let n = buckets["results"][0]["series"][0]["values"]
            .as_array()
            .map_or(0, Vec::len);
        if n >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{buckets}");
        let (status, _) = post(
            &server.url("/write?db=telegraf"),
            "text/plain",
            format!("cpu,host=a v={writes}").as_bytes(),
        )
        .expect("write");
        assert_eq!(status, 204);
        writes += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let one more interval record the last requests.
    std::thread::sleep(Duration::from_millis(600));

    let rps = query(&server, "_internal", "SHOW RETENTION POLICIES");
    assert_eq!(
        rps["results"][0]["series"][0]["values"],
        serde_json::json!([["monitor", "2h0m0s", "1h0m0s", 1, true]]),
        "{rps}"
    );
    let fields = names(&query(&server, "_internal", "SHOW FIELD KEYS FROM httpd"));
    for f in [
        "writeReq",
        "queryReq",
        "pointsWrittenDropped",
        "queryReqDurationNs",
    ] {
        assert!(fields.iter().any(|x| x == f), "httpd lacks {f}: {fields:?}");
    }
    assert_eq!(
        last(&server, "writeReq", "httpd"),
        f64::from(writes + refused)
    );
    assert_eq!(
        last(&server, "pointsWrittenDropped", "httpd"),
        f64::from(refused)
    );
    assert!(last(&server, "queryReq", "httpd") >= f64::from(refused));
    // The store's own count includes _internal's points, so it exceeds ours.
    assert!(last(&server, "pointsWritten", "write") > f64::from(writes));
    assert_eq!(last(&server, "writeDrop", "write"), f64::from(refused));
    assert!(last(&server, "rssBytes", "runtime") > 1e6);
    assert!(last(&server, "diskBytes", "store") > 0.0);
    assert_eq!(last(&server, "numEnabledTasks", "alerter"), 1.0);
    assert!(last(&server, "alertsTriggered", "alerter") >= 1.0);
    assert!(last(&server, "deliveriesSent", "alerter") >= 1.0);
    assert_eq!(last(&server, "deliveriesFailed", "alerter"), 0.0);
    let series = query(
        &server,
        "_internal",
        "SELECT last(numSeries) FROM \"database\" WHERE \"database\" = 'telegraf'",
    );
    assert_eq!(
        series["results"][0]["series"][0]["values"][0][1], 1,
        "{series}"
    );
    let tasks = query(
        &server,
        "_internal",
        "SELECT last(alertsTriggered) FROM task GROUP BY task",
    );
    assert_eq!(
        tasks["results"][0]["series"][0]["tags"]["task"], "hot",
        "{tasks}"
    );

    // The health dashboard, as a signed-in user sees it.
    let ui = support::UiSession::sign_in(&format!("http://{}", server.addr), "admin", PASSWORD);
    let get = |path: &str| ui.get(path);
    let (status, list) = get("/dashboards");
    assert_eq!(status, 200, "{list}");
    assert!(list.contains("tigk health"), "{list}");
    // The range ends after now, so that the newest bucket counts as complete.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64;
    let to = common::time::rfc3339_nanos(now + 120_000_000_000);
    let to = to.get(..16).expect("YYYY-MM-DDTHH:MM");
    let (status, page) = get(&format!("/d/tigk-health?from=now-5m&to={to}"));
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page.matches("<section class=\"panel\"").count(),
        12,
        "{page}"
    );
    assert!(!page.contains("Query error"), "{page}");
    assert!(!page.contains("No data"), "every panel has data: {page}");
    assert!(
        page.contains(">hot<"),
        "the task table names the task: {page}"
    );
    server.stop();
}
