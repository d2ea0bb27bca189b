//! `tigk up`: the one command that starts the whole stack locally.
//!
//! One process on 127.0.0.1: the store with its 1.x API, the web UI, and this host's
//! metrics collected by the agent's inputs and written through the same API as any agent
//! (a write-only token for `telegraf`). On the first start it creates the `admin` user and
//! prints its password once (also kept, readable only by the owner, in the data directory
//! so a newcomer cannot lock themselves out). Ctrl-C stops the agent first, so its last
//! points still land, then flushes the store; a second `tigk up` continues with the data.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::serve::{
    ALERT_DIR, Durability, ServeArgs, open_alerter, open_store, run_server, shutdown_signal,
};

#[derive(Args, Debug)]
pub struct UpArgs {
    #[arg(long, default_value = "127.0.0.1:8086")]
    pub bind: SocketAddr,
    #[arg(long, default_value = "./tigk-data")]
    pub data_dir: PathBuf,
    /// How often this host's metrics are collected.
    #[arg(long, default_value = "10s")]
    pub interval: String,
}

/// The database the built-in agent writes to, as Telegraf's default.
const AGENT_DB: &str = "telegraf";

pub fn run(args: UpArgs) -> anyhow::Result<()> {
    if !args.bind.ip().is_loopback() {
        anyhow::bail!(
            "tigk up is for a local stack and binds loopback only; use `tigk serve` for more"
        );
    }
    let conn = tsdb::storage::admin_connection(&args.data_dir)?;
    let password_file = args.data_dir.join("admin-password");
    if !tsdb::auth::has_admin(&conn)? {
        let password = super::admin::random_password();
        tsdb::auth::create_user(&conn, "admin", &password, true)?;
        write_private(&password_file, &password)?;
        println!("Created user 'admin' with password: {password}");
        println!("(saved in {})", password_file.display());
    } else if password_file.exists() {
        println!(
            "Log in as 'admin'; the password is in {}",
            password_file.display()
        );
    }
    let token = agent_token(&conn, &args.data_dir)?;
    drop(conn);

    let serve_args = ServeArgs {
        bind: args.bind,
        data_dir: args.data_dir.clone(),
        no_auth: false,
        durability: Durability::Full,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let store = open_store(&serve_args)?;
        store.create_database(AGENT_DB).await?;
        let alerter = open_alerter(&serve_args.data_dir, store.clone())?;
        provision_seed_tasks(&alerter, &serve_args.data_dir)?;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let agent_stop = agent::pipeline::Shutdown::new();
        let (agent_done_tx, agent_done_rx) = tokio::sync::oneshot::channel::<()>();
        // Stop the agent before the server so its final flush is accepted.
        let stop = agent_stop.clone();
        let shutdown = async move {
            shutdown_signal().await;
            stop.trigger();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), agent_done_rx).await;
        };
        let server = tokio::spawn(async move {
            run_server(store, alerter, &serve_args, Some(ready_tx), shutdown).await
        });
        let addr = ready_rx.await.context("the server did not start")?;
        let config = agent_config(addr, &token, &args.interval);
        let cfg = agent::validate::parse("tigk up (built-in agent)", &config, |_| None)
            .context("the built-in agent's configuration")?;
        std::thread::Builder::new()
            .name("agent".into())
            .spawn(move || {
                match agent::pipeline::Agent::new(cfg) {
                    Ok(a) => {
                        if let Err(e) = a.run(agent_stop) {
                            tracing::error!("the built-in agent stopped: {e}");
                        }
                    }
                    Err(e) => tracing::error!("the built-in agent could not start: {e}"),
                }
                let _ = agent_done_tx.send(());
            })?;
        println!(
            "tigk is up: web UI and InfluxDB 1.x API on http://{addr}/ (data in {})",
            args.data_dir.display()
        );
        println!(
            "This host's metrics go to the '{AGENT_DB}' database every {}. Ctrl-C stops.",
            args.interval
        );
        server.await?
    })
}

/// The two seed tasks of DEVELOPERS.md, exactly as written there except that they log
/// into the data directory's alert directory (log handlers may write nowhere else).
const SEED_TASKS: [(&str, &str, &str); 2] = [
    (
        "cpu_alert",
        "alerts.log",
        r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: int("usage_idle") <  70)
        .log('LOG_PATH')
"#,
    ),
    (
        "batch_cpu_alert",
        "batch_alerts.log",
        r#"dbrp "telegraf"."autogen"
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
        .log('LOG_PATH')
"#,
    ),
];

/// Defines and enables the seed tasks on the first start; later starts keep whatever the
/// user made of them (edited, disabled or deleted tasks stay so).
fn provision_seed_tasks(engine: &alerter::engine::Engine, data_dir: &Path) -> anyhow::Result<()> {
    let marker = data_dir.join(".seed-tasks-provisioned");
    if marker.exists() {
        return Ok(());
    }
    let alert_dir = std::path::absolute(data_dir.join(ALERT_DIR))?;
    for (id, file, script) in SEED_TASKS {
        let path = alert_dir
            .join(file)
            .to_string_lossy()
            .replace('\\', "\\\\")
            .replace('\'', "\\'");
        let req = alerter::engine::TaskRequest {
            id: Some(id.to_string()),
            script: Some(script.replace("LOG_PATH", &path)),
            status: Some(alerter::engine::Status::Enabled),
            ..Default::default()
        };
        engine
            .define(req)
            .with_context(|| format!("defining the seed task {id}"))?;
    }
    std::fs::write(&marker, b"")?;
    Ok(())
}

/// The built-in agent: the sample configuration's inputs, writing to this server.
fn agent_config(addr: SocketAddr, token: &str, interval: &str) -> String {
    let mut config = format!(
        "[agent]\n  interval = \"{interval}\"\n  flush_interval = \"{interval}\"\n\
         [[outputs.influxdb]]\n  urls = [\"http://{addr}\"]\n  database = \"{AGENT_DB}\"\n  token = \"{token}\"\n  skip_database_creation = true\n"
    );
    for input in [
        "cpu",
        "mem",
        "swap",
        "system",
        "disk",
        "diskio",
        "net",
        "processes",
        "kernel",
    ] {
        config.push_str(&format!("[[inputs.{input}]]\n"));
    }
    config
}

/// A write-only token for `telegraf`, created once and kept (owner-readable) in the data
/// directory: tokens are stored hashed, so the plain one must be kept somewhere to reuse.
fn agent_token(conn: &rusqlite::Connection, dir: &Path) -> anyhow::Result<String> {
    let file = dir.join("agent-token");
    if let Ok(t) = std::fs::read_to_string(&file) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let scope = tsdb::auth::TokenScope {
        database: Some(AGENT_DB.to_string()),
        can_read: false,
        can_write: true,
        admin: false,
    };
    let token = tsdb::auth::create_token(conn, "built-in agent (tigk up)", &scope)?;
    write_private(&file, &token)?;
    Ok(token)
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "{content}")?;
    Ok(())
}
