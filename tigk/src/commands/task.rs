//! `tigk task …`: run a TICKscript offline (`test`, `replay`), or manage the tasks of a running
//! server through its Kapacitor-compatible API (`list`, `show`, `define`, `enable`,
//! `disable`, `delete`), as the kapacitor CLI does.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum TaskCommand {
    /// Run a task on points from a file in an isolated in-memory engine and print each
    /// alert event as one JSON line (what handlers would receive). Nothing is delivered.
    Test(TestArgs),
    /// Run a defined task over a time range of the server's stored data in an isolated
    /// in-memory engine and print each alert event as one JSON line. Nothing is delivered.
    Replay {
        #[command(flatten)]
        conn: Conn,
        id: String,
        /// Start of the range (RFC 3339), inclusive.
        #[arg(long)]
        from: String,
        /// End of the range (RFC 3339), exclusive.
        #[arg(long)]
        to: String,
    },
    /// List the server's tasks.
    List(#[command(flatten)] Conn),
    /// Show a task: status, errors and its pipeline as DOT with per-node stats.
    Show {
        #[command(flatten)]
        conn: Conn,
        id: String,
    },
    /// Define (or redefine) a task from a TICKscript file, enabled unless --disabled.
    Define {
        #[command(flatten)]
        conn: Conn,
        id: String,
        /// The TICKscript.
        #[arg(long)]
        tick: PathBuf,
        #[arg(long)]
        disabled: bool,
    },
    Enable {
        #[command(flatten)]
        conn: Conn,
        id: String,
    },
    Disable {
        #[command(flatten)]
        conn: Conn,
        id: String,
    },
    Delete {
        #[command(flatten)]
        conn: Conn,
        id: String,
    },
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// The TICKscript to run.
    pub tick: PathBuf,
    /// Line protocol to feed it (stream tasks: in file order; batch tasks: the data queried).
    #[arg(long)]
    pub input: PathBuf,
    /// Task name (`.TaskName` in templates).
    #[arg(long, default_value = "test")]
    pub name: String,
    /// Timestamp precision of the input: ns, u, ms, s, m, h.
    #[arg(long, default_value = "ns")]
    pub precision: String,
    /// Batch tasks: run at these instants (RFC 3339), repeatable.
    #[arg(long)]
    pub at: Vec<String>,
    /// Batch tasks: run at every schedule instant after --from up to --to (RFC 3339).
    /// Stream tasks: the clock of deadman, stats and barrier nodes runs from --from to --to
    /// (it follows the points' time in between).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    #[arg(long, requires = "from")]
    pub to: Option<String>,
}

#[derive(Args, Debug)]
pub struct Conn {
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8086", env = "TIGK_URL")]
    pub url: String,
    /// An admin token (or use --username/--password).
    #[arg(long, env = "TIGK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long, env = "TIGK_USERNAME")]
    pub username: Option<String>,
    #[arg(long, env = "TIGK_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

pub fn run(cmd: TaskCommand) -> anyhow::Result<()> {
    match cmd {
        TaskCommand::Test(args) => test(args),
        TaskCommand::Replay { conn, id, from, to } => super::replay::replay(&conn, &id, &from, &to),
        TaskCommand::List(conn) => {
            let v = call(&conn, "GET", "/kapacitor/v1/tasks", None)?;
            println!(
                "{:<24} {:<7} {:<9} {:<9} databases and retention policies",
                "ID", "Type", "Status", "Executing"
            );
            for t in v["tasks"].as_array().into_iter().flatten() {
                let dbrps: Vec<String> = t["dbrps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        format!(
                            "\"{}\".\"{}\"",
                            d["db"].as_str().unwrap_or(""),
                            d["rp"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                // Only when several instances share the tasks ([cluster]).
                let runs_on = t["runs-on"]
                    .as_str()
                    .map(|m| format!("  runs on {m}"))
                    .unwrap_or_default();
                println!(
                    "{:<24} {:<7} {:<9} {:<9} {}{runs_on}",
                    t["id"].as_str().unwrap_or(""),
                    t["type"].as_str().unwrap_or(""),
                    t["status"].as_str().unwrap_or(""),
                    t["executing"].as_bool().unwrap_or(false),
                    dbrps.join(",")
                );
            }
            Ok(())
        }
        TaskCommand::Show { conn, id } => {
            let v = call(&conn, "GET", &format!("/kapacitor/v1/tasks/{id}"), None)?;
            for key in ["id", "error", "type", "status", "executing"] {
                println!(
                    "{key}: {}",
                    v[key]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v[key].to_string())
                );
            }
            if let Some(m) = v["runs-on"].as_str() {
                println!("runs-on: {m}");
            }
            println!("TICKscript:\n{}", v["script"].as_str().unwrap_or(""));
            println!("DOT:\n{}", v["dot"].as_str().unwrap_or(""));
            Ok(())
        }
        TaskCommand::Define {
            conn,
            id,
            tick,
            disabled,
        } => {
            let script = std::fs::read_to_string(&tick)
                .with_context(|| format!("reading {}", tick.display()))?;
            let status = if disabled { "disabled" } else { "enabled" };
            let body = serde_json::json!({ "id": id, "script": script, "status": status });
            // Redefine when it exists (PATCH), else create (POST).
            let exists = call(&conn, "GET", &format!("/kapacitor/v1/tasks/{id}"), None).is_ok();
            if exists {
                call(
                    &conn,
                    "PATCH",
                    &format!("/kapacitor/v1/tasks/{id}"),
                    Some(body),
                )?;
            } else {
                call(&conn, "POST", "/kapacitor/v1/tasks", Some(body))?;
            }
            println!("task {id} defined ({status})");
            Ok(())
        }
        TaskCommand::Enable { conn, id } => set_status(&conn, &id, "enabled"),
        TaskCommand::Disable { conn, id } => set_status(&conn, &id, "disabled"),
        TaskCommand::Delete { conn, id } => {
            call(&conn, "DELETE", &format!("/kapacitor/v1/tasks/{id}"), None)?;
            println!("task {id} deleted");
            Ok(())
        }
    }
}

fn set_status(conn: &Conn, id: &str, status: &str) -> anyhow::Result<()> {
    call(
        conn,
        "PATCH",
        &format!("/kapacitor/v1/tasks/{id}"),
        Some(serde_json::json!({ "status": status })),
    )?;
    println!("task {id} {status}");
    Ok(())
}

fn test(args: TestArgs) -> anyhow::Result<()> {
    let script = std::fs::read_to_string(&args.tick)
        .with_context(|| format!("reading {}", args.tick.display()))?;
    let input = std::fs::read_to_string(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let instant = |s: &str| {
        alerter::gofmt::parse_rfc3339(s).with_context(|| format!("not an RFC 3339 time: {s}"))
    };
    let opts = alerter::testrun::TestRunOptions {
        name: args.name,
        precision: common::line_protocol::Precision::from_param(Some(&args.precision)),
        at: args
            .at
            .iter()
            .map(|s| instant(s))
            .collect::<anyhow::Result<_>>()?,
        range: match (&args.from, &args.to) {
            (Some(f), Some(t)) => Some((instant(f)?, instant(t)?)),
            _ => None,
        },
        ..Default::default()
    };
    // A rejected script or input exits non-zero with its positioned error and no events.
    let events = alerter::testrun::test_run(&script, &input, &opts)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.tick.display()))?;
    for e in events {
        println!("{}", e.to_json());
    }
    Ok(())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn auth(conn: &Conn) -> Option<String> {
    match (&conn.token, &conn.username, &conn.password) {
        (Some(t), _, _) => Some(format!("Token {t}")),
        (None, Some(u), Some(p)) => Some(format!("Basic {}", base64_encode(&format!("{u}:{p}")))),
        _ => None,
    }
}

/// One InfluxQL statement through the server's 1.x `/query` (epoch ns); a statement's
/// error is an error here.
pub(super) fn get_query(conn: &Conn, db: &str, q: &str) -> anyhow::Result<serde_json::Value> {
    let url = format!("{}/query", conn.url.trim_end_matches('/'));
    let mut req = agent()
        .get(&url)
        .query("db", db)
        .query("epoch", "ns")
        .query("q", q);
    if let Some(a) = auth(conn) {
        req = req.header("Authorization", a);
    }
    let mut resp = req.call().with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    let error = v["error"].as_str().or_else(|| {
        v["results"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|r| r["error"].as_str())
    });
    if let Some(e) = error {
        bail!("{q}: {e}");
    }
    if !(200..300).contains(&status) {
        bail!("{q}: HTTP {status}: {text}");
    }
    Ok(v)
}

/// One call to the task API; errors carry the server's message.
pub(super) fn call(
    conn: &Conn,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let agent = agent();
    let url = format!("{}{path}", conn.url.trim_end_matches('/'));
    let auth = auth(conn);
    let req = ureq::http::Request::builder().method(method).uri(&url);
    let req = match &auth {
        Some(a) => req.header("Authorization", a),
        None => req,
    };
    let mut resp = match body {
        Some(b) => agent.run(
            req.header("Content-Type", "application/json")
                .body(b.to_string())?,
        ),
        None => agent.run(req.body(())?),
    }
    .with_context(|| format!("{method} {url}"))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    if !(200..300).contains(&status) {
        let msg = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(text);
        bail!("{method} {path}: HTTP {status}: {msg}");
    }
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(&text).with_context(|| format!("{method} {path}: not JSON"))
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
