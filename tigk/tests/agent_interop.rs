//! The agent writes to `tigk serve` (auth on) with a write-only token for `telegraf`, and the
//! points read back with Telegraf's measurement, field and tag names and types.

mod support;

use std::process::Command;

use support::{Server, post};

fn tigk(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("run tigk");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn admin_query(server: &Server, q: &str) -> serde_json::Value {
    let url = server.url("/query?db=telegraf&u=admin&p=agent-admin-pass");
    let body = format!("q={}", support::encode(q));
    let (status, text) =
        post(&url, "application/x-www-form-urlencoded", body.as_bytes()).expect("query");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("json")
}

#[test]
#[cfg(target_os = "linux")]
fn agent_writes_telegraf_names_with_a_write_only_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    tigk(
        dir.path(),
        &[
            "user",
            "create",
            "--name",
            "admin",
            "--password",
            "agent-admin-pass",
            "--admin",
        ],
    );
    let token = tigk(
        dir.path(),
        &[
            "token",
            "create",
            "--db",
            "telegraf",
            "--write",
            "--description",
            "agent",
        ],
    );
    let server = Server::start(dir.path(), &[]);
    admin_query(&server, "CREATE DATABASE telegraf");

    let config = format!(
        r#"
[global_tags]
dc = "lab"
[agent]
hostname = "interop-host"
[[inputs.cpu]]
[[inputs.mem]]
[[inputs.system]]
[[inputs.disk]]
mount_points = ["/"]
ignore_fs = []
[[outputs.influxdb]]
urls = ["http://{}"]
database = "telegraf"
token = "{token}"
skip_database_creation = true
content_encoding = "gzip"
timeout = "30s"
"#,
        server.addr
    );
    let cfg = agent::validate::parse("interop.toml", &config, |_| None).expect("config");
    agent::pipeline::Agent::new(cfg)
        .expect("agent")
        .once()
        .expect("written to tigk");

    let v = admin_query(&server, "SHOW FIELD KEYS");
    let mut fields = Vec::new();
    for series in v["results"][0]["series"].as_array().expect("series") {
        for row in series["values"].as_array().expect("values") {
            fields.push(format!(
                "{}.{}:{}",
                series["name"].as_str().unwrap_or(""),
                row[0].as_str().unwrap_or(""),
                row[1].as_str().unwrap_or("")
            ));
        }
    }
    for want in [
        "cpu.usage_idle:float",
        "cpu.usage_user:float",
        "cpu.usage_guest_nice:float",
        "mem.used_percent:float",
        "mem.total:integer",
        "system.load1:float",
        "system.n_cpus:integer",
        "system.uptime_format:string",
        "disk.used_percent:float",
    ] {
        assert!(
            fields.iter().any(|f| f == want),
            "missing {want} in {fields:?}"
        );
    }
    let v = admin_query(
        &server,
        r#"SHOW TAG VALUES FROM cpu WITH KEY IN ("host", "dc", "cpu")"#,
    );
    let values = v["results"][0]["series"][0]["values"].to_string();
    for want in [
        r#"["cpu","cpu-total"]"#,
        r#"["dc","lab"]"#,
        r#"["host","interop-host"]"#,
    ] {
        assert!(values.contains(want), "{values}");
    }
    let v = admin_query(
        &server,
        "SELECT usage_idle FROM cpu WHERE cpu = 'cpu-total'",
    );
    let idle = v["results"][0]["series"][0]["values"][0][1]
        .as_f64()
        .expect("a usage_idle value");
    // The value is the kernel's (per-CPU iowait can run backwards, pushing idle past 100 %
    // over short samples); what matters here is that a float arrived under Telegraf's name.
    assert!(idle.is_finite(), "{idle}");

    // The agent's token can write but not read.
    let url = server.url(&format!("/query?db=telegraf&u=agent&p={token}"));
    let (status, text) = post(
        &url,
        "application/x-www-form-urlencoded",
        b"q=SELECT+*+FROM+cpu",
    )
    .expect("query");
    assert_eq!(status, 200);
    assert!(
        text.contains("not authorized to read from database"),
        "{text}"
    );
}
