//! The server's configuration file (`tigk serve --config /etc/tigk/tigk.toml`), `tigk config`
//! (prints the commented default) and `tigk validate`.
//!
//! Raw serde structs mirror the file and refuse unknown keys, so a typo is an error and not a
//! silently ignored setting. [`parse`] turns them into [`ServerConfig`], the runtime settings;
//! every error names `file:line:col`. Nothing after `parse` re-checks configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;
use toml::Spanned;

use super::serve::Durability;
use super::tls::TlsFiles;

/// The commented default configuration: what `tigk config` prints and what
/// deploy/config/tigk.toml holds (a test keeps the two equal).
pub const DEFAULT_CONFIG: &str = include_str!("../../../deploy/config/tigk.toml");

/// Everything `tigk serve` needs beyond its command line, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub auth: bool,
    pub store: tsdb::StoreOptions,
    pub http: tsdb::http::HttpLimits,
    pub allowed_addresses: Vec<String>,
    pub delivery_timeout: Duration,
    pub handler_queue: usize,
    /// Points one group of a TICKscript window may hold (`alerter.max_window_points`).
    pub max_window_points: usize,
    /// Serve `/metrics` without credentials (it is admin-only otherwise).
    pub metrics_public: bool,
    /// Serve HTTPS with these files instead of HTTP.
    pub tls: Option<TlsFiles>,
    pub monitor: MonitorConfig,
    /// The exec, email and slack alert handlers (`None`: off).
    pub exec: Option<alerter::options::ExecOptions>,
    pub smtp: Option<alerter::options::SmtpOptions>,
    pub slack: Option<alerter::options::SlackOptions>,
    /// The embedded store, or a remote engine (`[storage]`, commands/remote.rs).
    pub storage: super::remote::Storage,
    /// The members sharing the tasks (`[cluster]`, commands/cluster.rs); `None`: this
    /// instance runs every task.
    pub cluster: Option<std::sync::Arc<super::cluster::Members>>,
}

/// Self-monitoring into the `_internal` database (InfluxDB's `[monitor]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorConfig {
    /// How often the server records its own metrics; `None`: never.
    pub interval: Option<Duration>,
    /// Duration of `_internal`'s `monitor` policy when the database is created.
    pub retention: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            interval: Some(Duration::from_secs(10)),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl Default for ServerConfig {
    /// The settings of `tigk serve` without a file; equal to an empty file.
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8086)),
            data_dir: PathBuf::from("./tigk-data"),
            durability: Durability::Full,
            auth: true,
            store: tsdb::StoreOptions::default(),
            http: tsdb::http::HttpLimits::default(),
            allowed_addresses: Vec::new(),
            delivery_timeout: alerter::Options::default().delivery_timeout,
            handler_queue: alerter::Options::default().handler_queue,
            max_window_points: alerter::Options::default().max_window_points,
            metrics_public: false,
            tls: None,
            monitor: MonitorConfig::default(),
            exec: None,
            smtp: None,
            slack: None,
            storage: super::remote::Storage::Embedded,
            cluster: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    bind: Option<Spanned<String>>,
    data_dir: Option<PathBuf>,
    durability: Option<Spanned<String>>,
    auth: RawAuth,
    tls: RawTls,
    limits: RawLimits,
    retention: RawRetention,
    alerter: RawAlerter,
    metrics: RawMetrics,
    monitor: RawMonitor,
    smtp: alerter::options::SmtpConfig,
    storage: super::remote::RawStorage,
    cluster: super::cluster::RawCluster,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAuth {
    enabled: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTls {
    cert: Option<Spanned<PathBuf>>,
    key: Option<Spanned<PathBuf>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    write_queue: Option<Spanned<i64>>,
    max_group: Option<Spanned<i64>>,
    max_body_bytes: Option<Spanned<i64>>,
    max_inflated_bytes: Option<Spanned<i64>>,
    max_series_per_database: Option<Spanned<i64>>,
    max_head_values: Option<Spanned<i64>>,
    max_statements: Option<Spanned<i64>>,
    query_timeout: Option<Spanned<String>>,
    max_select_series: Option<Spanned<i64>>,
    max_select_points: Option<Spanned<i64>>,
    max_select_buckets: Option<Spanned<i64>>,
    max_result_rows: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRetention {
    write_log: Option<Spanned<String>>,
    head_max_age: Option<Spanned<String>>,
    default_duration: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAlerter {
    allowed_addresses: Option<Vec<Spanned<String>>>,
    delivery_timeout: Option<Spanned<String>>,
    handler_queue: Option<Spanned<i64>>,
    max_window_points: Option<Spanned<i64>>,
    exec: alerter::options::ExecConfig,
    slack: alerter::options::SlackConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMetrics {
    public: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMonitor {
    store_enabled: Option<bool>,
    store_interval: Option<Spanned<String>>,
    retention: Option<Spanned<String>>,
}

/// `origin:line:col: message` errors for spans of one file.
struct Source<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn err<T>(&self, s: &Spanned<T>, message: impl std::fmt::Display) -> anyhow::Error {
        let before = &self.text[..s.span().start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        anyhow::anyhow!("{}:{line}:{col}: {message}", self.origin)
    }

    fn positive(&self, v: &Option<Spanned<i64>>, default: usize) -> anyhow::Result<usize> {
        match v {
            None => Ok(default),
            Some(n) if *n.get_ref() > 0 => Ok(*n.get_ref() as usize),
            Some(n) => Err(self.err(n, "must be a positive integer")),
        }
    }

    /// A retention policy's duration: 1.x's minimum is one hour.
    fn at_least_an_hour(&self, s: &Spanned<String>) -> anyhow::Result<Duration> {
        let d = self.duration(&Some(s.clone()), Duration::ZERO)?;
        if d < Duration::from_secs(3600) {
            return Err(self.err(s, "a retention duration is at least 1h (or \"INF\")"));
        }
        Ok(d)
    }

    fn duration(&self, v: &Option<Spanned<String>>, default: Duration) -> anyhow::Result<Duration> {
        match v {
            None => Ok(default),
            Some(s) => parse_duration(s.get_ref()).ok_or_else(|| {
                self.err(
                    s,
                    format!(
                        "invalid duration {:?} (use e.g. \"30s\", \"24h\")",
                        s.get_ref()
                    ),
                )
            }),
        }
    }
}

/// `500ms`, `30s`, `5m`, `24h`, `7d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = s[..split].parse().ok()?;
    let unit = match &s[split..] {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(Duration::from_millis(n.checked_mul(unit)?))
}

/// Parses and validates a configuration; `origin` names the file in errors.
pub fn parse(origin: &str, text: &str) -> anyhow::Result<ServerConfig> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        // toml's message already quotes the line; prefix the position like our own errors.
        let pos = e.span().map(|r| {
            let before = &text[..r.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before
                .rfind('\n')
                .map_or(before.len(), |nl| before.len() - nl - 1)
                + 1;
            format!(":{line}:{col}")
        });
        anyhow::anyhow!("{origin}{}: {}", pos.unwrap_or_default(), e.message())
    })?;
    let src = Source { origin, text };
    let mut cfg = ServerConfig::default();
    if let Some(b) = &raw.bind {
        cfg.bind = b.get_ref().parse().map_err(|_| {
            src.err(
                b,
                format!("invalid address {:?} (use IP:PORT)", b.get_ref()),
            )
        })?;
    }
    if let Some(d) = raw.data_dir {
        cfg.data_dir = d;
    }
    if let Some(d) = &raw.durability {
        cfg.durability = match d.get_ref().as_str() {
            "full" => Durability::Full,
            "normal" => Durability::Normal,
            other => {
                return Err(src.err(d, format!("unknown durability {other:?} (full or normal)")));
            }
        };
    }
    if let Some(a) = &raw.auth.enabled {
        cfg.auth = *a.get_ref();
        if !cfg.auth && !cfg.bind.ip().is_loopback() {
            return Err(src.err(
                a,
                format!(
                    "auth can only be disabled on a loopback address (bind is {})",
                    cfg.bind
                ),
            ));
        }
    }
    match (&raw.tls.cert, &raw.tls.key) {
        (None, None) => {}
        (Some(cert), Some(key)) => {
            let files = TlsFiles {
                cert: cert.get_ref().clone(),
                key: key.get_ref().clone(),
            };
            // Loaded now so that `tigk validate` and start-up report a bad file with the
            // line that names it; the server loads them again when it starts listening.
            files.load().map_err(|e| src.err(cert, format!("{e:#}")))?;
            cfg.tls = Some(files);
        }
        (Some(one), None) | (None, Some(one)) => {
            return Err(src.err(one, "TLS needs both cert and key"));
        }
    }
    let l = &raw.limits;
    let store_defaults = tsdb::StoreOptions::default();
    cfg.store.queue_capacity = src.positive(&l.write_queue, store_defaults.queue_capacity)?;
    cfg.store.max_group = src.positive(&l.max_group, store_defaults.max_group)?;
    cfg.store.max_series_per_database = src.positive(
        &l.max_series_per_database,
        store_defaults.max_series_per_database,
    )?;
    cfg.store.max_head_values = src.positive(&l.max_head_values, store_defaults.max_head_values)?;
    cfg.http.max_body_bytes = src.positive(&l.max_body_bytes, cfg.http.max_body_bytes)?;
    cfg.http.max_inflated_bytes =
        src.positive(&l.max_inflated_bytes, cfg.http.max_inflated_bytes)?;
    cfg.http.max_statements = src.positive(&l.max_statements, cfg.http.max_statements)?;
    let q = &mut cfg.http.query;
    q.timeout = src.duration(&l.query_timeout, q.timeout)?;
    if let Some(t) = l.query_timeout.as_ref().filter(|_| q.timeout.is_zero()) {
        return Err(src.err(t, "query_timeout must be positive"));
    }
    q.max_series = src.positive(&l.max_select_series, q.max_series)?;
    q.max_points = src.positive(&l.max_select_points, q.max_points)?;
    q.max_buckets = src.positive(&l.max_select_buckets, q.max_buckets)?;
    q.max_rows = src.positive(&l.max_result_rows, q.max_rows)?;
    cfg.store.log_retention = src.duration(&raw.retention.write_log, cfg.store.log_retention)?;
    cfg.store.max_head_age = src.duration(&raw.retention.head_max_age, cfg.store.max_head_age)?;
    if cfg.store.max_head_age.is_zero() {
        let s = raw
            .retention
            .head_max_age
            .as_ref()
            .expect("zero only when given");
        return Err(src.err(s, "head_max_age must be positive"));
    }
    if let Some(d) = &raw.retention.default_duration {
        cfg.store.default_retention = match d.get_ref().as_str() {
            "INF" | "inf" => None,
            _ => Some(src.at_least_an_hour(d)?),
        };
    }
    let a = &raw.alerter;
    if let Some(list) = &a.allowed_addresses {
        for entry in list {
            if entry.get_ref().trim().is_empty() || entry.get_ref().contains(char::is_whitespace) {
                return Err(src.err(entry, "an allowed address is a host, IP or CIDR"));
            }
        }
        cfg.allowed_addresses = list.iter().map(|s| s.get_ref().clone()).collect();
    }
    cfg.delivery_timeout = src.duration(&a.delivery_timeout, cfg.delivery_timeout)?;
    cfg.handler_queue = src.positive(&a.handler_queue, cfg.handler_queue)?;
    cfg.max_window_points = src.positive(&a.max_window_points, cfg.max_window_points)?;
    cfg.metrics_public = raw.metrics.public.unwrap_or(false);
    let m = &raw.monitor;
    let interval = src.duration(&m.store_interval, Duration::from_secs(10))?;
    if let Some(i) = m.store_interval.as_ref().filter(|_| interval.is_zero()) {
        return Err(src.err(i, "store_interval must be positive"));
    }
    cfg.monitor.interval = m.store_enabled.unwrap_or(true).then_some(interval);
    if let Some(r) = &m.retention {
        cfg.monitor.retention = src.at_least_an_hour(r)?;
    }
    // The alerter validates its handler sections (they have no spans: name the section).
    let section = |name: &str, e: String| anyhow::anyhow!("{origin}: [{name}]: {e}");
    cfg.exec = a.exec.validate().map_err(|e| section("alerter.exec", e))?;
    cfg.slack = a
        .slack
        .validate()
        .map_err(|e| section("alerter.slack", e))?;
    cfg.smtp = raw.smtp.validate().map_err(|e| section("smtp", e))?;
    cfg.storage = raw.storage.validate(origin, cfg.bind, cfg.auth)?;
    cfg.cluster = raw
        .cluster
        .validate(origin, &mut cfg.storage)?
        .map(|c| std::sync::Arc::new(super::cluster::Members::new(c)));
    Ok(cfg)
}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> anyhow::Result<ServerConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration {}", path.display()))?;
    parse(&path.display().to_string(), &text)
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The configuration file (default: the built-in defaults).
    #[arg(long, env = "TIGK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Overrides the file's data_dir.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// `tigk config`.
pub fn print_default() -> anyhow::Result<()> {
    print!("{DEFAULT_CONFIG}");
    Ok(())
}

/// `tigk validate`: the file parses and, if the data directory holds an alerter database,
/// every stored task still compiles under this configuration's handler rules.
pub fn validate(args: ValidateArgs) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(p) => load(p)?,
        None => ServerConfig::default(),
    };
    if let Some(d) = args.data_dir {
        cfg.data_dir = d;
    }
    let origin = args
        .config
        .as_ref()
        .map_or("built-in defaults".to_string(), |p| p.display().to_string());
    let checked = check_tasks(&cfg)?;
    println!("{origin}: OK ({checked} stored tasks compile)");
    Ok(())
}

/// Compiles each task stored in `DATA_DIR/alerter.db` as the engine would at start-up,
/// opening the file read-only so that this is safe next to a running server.
fn check_tasks(cfg: &ServerConfig) -> anyhow::Result<usize> {
    let path = cfg.data_dir.join("alerter.db");
    if !path.exists() {
        return Ok(0);
    }
    let conn = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mut stmt = conn
        .prepare("SELECT def FROM tasks ORDER BY id")
        .with_context(|| format!("reading tasks from {}", path.display()))?;
    let defs: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let opts = alerter_options(cfg)?;
    let mut failed = Vec::new();
    for json in &defs {
        let def: alerter::engine::TaskDef =
            serde_json::from_str(json).context("a stored task definition is unreadable")?;
        let check = alerter::tick::CheckOptions {
            dbrps: if def.dbrps_out_of_band {
                def.dbrps.clone()
            } else {
                Vec::new()
            },
            require_dbrp: true,
            task_type: Some(def.task_type),
            vars: Default::default(),
        };
        let result = alerter::tick::compile(&def.script, &check)
            .map_err(|e| e.to_string())
            .and_then(|g| {
                alerter::runtime::Task::new(&def.id, g, &opts)
                    .map(drop)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            failed.push(format!("task {}: {e}", def.id));
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} stored tasks do not compile:\n  {}",
            failed.len(),
            defs.len(),
            failed.join("\n  ")
        );
    }
    Ok(defs.len())
}

/// The alerter's options under this configuration.
pub fn alerter_options(cfg: &ServerConfig) -> anyhow::Result<alerter::Options> {
    let alert_dir = std::path::absolute(cfg.data_dir.join(super::serve::ALERT_DIR))?;
    Ok(alerter::Options {
        alert_dir: Some(alert_dir),
        allowed_addresses: cfg.allowed_addresses.clone(),
        delivery_timeout: cfg.delivery_timeout,
        handler_queue: cfg.handler_queue,
        max_window_points: cfg.max_window_points,
        exec: cfg.exec.clone(),
        smtp: cfg.smtp.clone(),
        slack: cfg.slack.clone(),
        ..alerter::Options::default()
    })
}
