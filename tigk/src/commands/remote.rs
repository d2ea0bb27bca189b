//! Remote mode: `[storage] backend = "remote"`. The UI and batch tasks query a remote
//! InfluxDB 1.x-API engine; the embedded store is only a durable spool for stream tasks,
//! filled by the engine's subscriptions pushing every write to tigk's `/write`.
//!
//! The `[storage]` section is parsed here (raw serde struct, unknown keys refused) and
//! validated into [`Storage`]; `serve.rs` asks this module for the data source, the alerter's
//! batch source and the subscription task.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use super::config::{ServerConfig, parse_duration};

/// Where the data lives.
#[derive(Debug, Clone, Default)]
pub enum Storage {
    /// The embedded store (the default): everything in the data directory.
    #[default]
    Embedded,
    Remote(Box<RemoteConfig>),
}

/// A validated `[storage]` section with `backend = "remote"`.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    pub client: remote::ClientConfig,
    /// Where the engine pushes writes; `None`: this server's own address (loopback only).
    pub subscription_url: Option<String>,
    /// The subscription's name on the engine (one per tigk instance).
    pub subscription_name: String,
    /// How often the subscriptions are brought in line with the enabled stream tasks.
    pub subscription_sync: Duration,
    /// How long the spool keeps pushed points (the spool databases' policy duration).
    pub spool_retention: Duration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStorage {
    backend: Option<String>,
    urls: Option<Vec<String>>,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    timeout: Option<String>,
    tls_ca: Option<std::path::PathBuf>,
    subscription_url: Option<String>,
    subscription_name: Option<String>,
    subscription_sync: Option<String>,
    spool_retention: Option<String>,
}

impl RawStorage {
    /// Validates the section; `bind` and `auth` are the server's (the default subscription
    /// URL is derived from them). Errors name the file and the section.
    pub fn validate(&self, origin: &str, bind: SocketAddr, auth: bool) -> anyhow::Result<Storage> {
        let err = |m: String| anyhow::anyhow!("{origin}: [storage]: {m}");
        let remote_only = [
            ("urls", self.urls.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("token", self.token.is_some()),
            ("timeout", self.timeout.is_some()),
            ("tls_ca", self.tls_ca.is_some()),
            ("subscription_url", self.subscription_url.is_some()),
            ("subscription_name", self.subscription_name.is_some()),
            ("subscription_sync", self.subscription_sync.is_some()),
            ("spool_retention", self.spool_retention.is_some()),
        ];
        match self.backend.as_deref() {
            None | Some("embedded") => {
                if let Some((key, _)) = remote_only.iter().find(|(_, set)| *set) {
                    return Err(err(format!("{key} is only used with backend = \"remote\"")));
                }
                return Ok(Storage::Embedded);
            }
            Some("remote") => {}
            Some(other) => {
                return Err(err(format!(
                    "unknown backend {other:?} (\"embedded\" or \"remote\")"
                )));
            }
        }
        let urls = self.urls.clone().unwrap_or_default();
        if urls.is_empty() {
            return Err(err(
                "backend = \"remote\" needs urls = [\"http://host:8086\", ...]".into(),
            ));
        }
        for u in &urls {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(err(format!(
                    "url {u:?} must start with http:// or https://"
                )));
            }
        }
        let auth_mode = match (&self.username, &self.password, &self.token) {
            (None, None, None) => remote::Auth::None,
            (Some(u), Some(p), None) => remote::Auth::Basic {
                username: u.clone(),
                password: p.clone(),
            },
            (None, None, Some(t)) => remote::Auth::Token(t.clone()),
            (_, _, Some(_)) => {
                return Err(err(
                    "set either token or username and password, not both".into()
                ));
            }
            _ => return Err(err("username and password go together".into())),
        };
        let duration = |key: &str, v: &Option<String>, default: Duration| match v {
            None => Ok(default),
            Some(s) => match parse_duration(s) {
                Some(d) if !d.is_zero() => Ok(d),
                _ => Err(err(format!(
                    "{key}: invalid duration {s:?} (use e.g. \"30s\", \"1m\")"
                ))),
            },
        };
        let mut client = remote::ClientConfig::new(urls);
        client.auth = auth_mode;
        client.timeout = duration("timeout", &self.timeout, client.timeout)?;
        if let Some(path) = &self.tls_ca {
            let pem =
                std::fs::read(path).map_err(|e| err(format!("tls_ca {}: {e}", path.display())))?;
            client.tls_ca = remote::load_ca(&pem)
                .map_err(|e| err(format!("tls_ca {}: {e}", path.display())))?;
        }
        let subscription_sync = duration(
            "subscription_sync",
            &self.subscription_sync,
            Duration::from_secs(60),
        )?;
        let spool_retention = duration(
            "spool_retention",
            &self.spool_retention,
            Duration::from_secs(24 * 3600),
        )?;
        if spool_retention < Duration::from_secs(3600) {
            return Err(err("spool_retention is at least 1h".into()));
        }
        if let Some(u) = &self.subscription_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(err(format!(
                "subscription_url {u:?} must start with http:// or https://"
            )));
        }
        if self.subscription_url.is_none() {
            if bind.ip().is_unspecified() {
                return Err(err(format!(
                    "bind is {bind}: set subscription_url to the address the engine reaches tigk at"
                )));
            }
            if auth {
                return Err(err("with [auth] enabled, subscription_url must carry a tigk user (or token) that may write: \"http://user:password@host:port\"".into()));
            }
        }
        let name = self
            .subscription_name
            .clone()
            .unwrap_or_else(|| "tigk".into());
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(err(format!(
                "subscription_name {name:?} is not a usable name"
            )));
        }
        Ok(Storage::Remote(Box::new(RemoteConfig {
            client,
            subscription_url: self.subscription_url.clone(),
            subscription_name: name,
            subscription_sync,
            spool_retention,
        })))
    }
}

fn remote_config(cfg: &ServerConfig) -> Option<&RemoteConfig> {
    match &cfg.storage {
        Storage::Embedded => None,
        Storage::Remote(r) => Some(r),
    }
}

fn client(r: &RemoteConfig) -> anyhow::Result<remote::Client> {
    remote::Client::new(r.client.clone()).context("the remote engine's client")
}

/// Where pages read: the remote engine, or the embedded store. In remote mode a page on
/// `_internal` (the "tigk health" dashboard) still reads the embedded store: that is where
/// this server records itself, as each InfluxDB node keeps its own `_internal`; the engine's
/// `_internal` holds the engine's metrics, under the same measurement names.
pub fn data_source(
    cfg: &ServerConfig,
    store: &tsdb::Store,
) -> anyhow::Result<Arc<dyn ui::DataSource>> {
    let local = ui::EngineSource::with_limits(store.clone(), cfg.http.query.clone());
    Ok(match remote_config(cfg) {
        Some(r) => Arc::new(SplitSource {
            remote: remote::RemoteSource::new(client(r)?),
            local,
        }),
        None => Arc::new(local),
    })
}

/// Remote mode's page source: `_internal` from the embedded store, the rest from the engine.
struct SplitSource {
    remote: remote::RemoteSource,
    local: ui::EngineSource,
}

impl ui::DataSource for SplitSource {
    fn query<'a>(
        &'a self,
        db: &'a str,
        q: &'a str,
    ) -> ui::BoxFuture<'a, Result<Vec<tsdb::query::SeriesResult>, ui::UiError>> {
        if db == super::monitor::DATABASE {
            self.local.query(db, q)
        } else {
            ui::DataSource::query(&self.remote, db, q)
        }
    }
}

/// In remote mode `/query` is answered by the engine (reads only), except queries that read
/// `_internal` only: this server's own, as on pages; `None`: everything by the store.
pub fn query_runner(
    cfg: &ServerConfig,
    store: &tsdb::Store,
) -> anyhow::Result<Option<Arc<dyn tsdb::http::QueryRunner>>> {
    Ok(match remote_config(cfg) {
        Some(r) => Some(Arc::new(SplitRunner {
            remote: remote::QueryProxy::new(client(r)?),
            local: tsdb::query::QueryEngine::new(store.clone()),
        })),
        None => None,
    })
}

/// Remote mode's `/query`: see [`query_runner`].
struct SplitRunner {
    remote: remote::QueryProxy,
    local: tsdb::query::QueryEngine,
}

impl tsdb::http::QueryRunner for SplitRunner {
    fn run<'a>(
        &'a self,
        query: &'a influxql::Query,
        ctx: &'a tsdb::query::QueryContext,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Vec<tsdb::query::StatementResult>> + Send + 'a>,
    > {
        let db = ctx.database.as_deref().unwrap_or_default();
        if remote::reads_only(query, db, super::monitor::DATABASE) {
            Box::pin(self.local.execute(query, ctx))
        } else {
            self.remote.run(query, ctx)
        }
    }
}

/// In remote mode the client tigk's `/write` forwards agents' writes through.
pub fn write_client(cfg: &ServerConfig) -> anyhow::Result<Option<remote::Client>> {
    remote_config(cfg).map(client).transpose()
}

/// Opens the alerter; in remote mode its batch tasks query the remote engine and its
/// tasks' `influxDBOut` writes go there (not into the spool, which pages never read).
pub fn open_alerter(
    cfg: &ServerConfig,
    store: tsdb::Store,
    mut opts: alerter::Options,
) -> anyhow::Result<alerter::engine::Engine> {
    let engine = match remote_config(cfg) {
        Some(r) => {
            opts.output = Some(Arc::new(remote::RemoteOutput::new(client(r)?)));
            let source = Arc::new(remote::RemoteSource::new(client(r)?));
            let placement: Arc<dyn alerter::engine::Placement> = match &cfg.cluster {
                Some(members) => members.clone(),
                None => Arc::new(alerter::engine::Everything),
            };
            alerter::engine::Engine::open_placed(&cfg.data_dir, store, source, opts, placement)
        }
        None => alerter::engine::Engine::open(&cfg.data_dir, store, opts),
    };
    engine.context("starting the alerter")
}

/// The (database, retention policy) pairs enabled stream tasks read.
fn stream_dbrps(alerter: &alerter::engine::Engine) -> BTreeSet<(String, String)> {
    alerter
        .list()
        .into_iter()
        .filter(|t| {
            t.def.status == alerter::engine::Status::Enabled
                && t.def.task_type == alerter::tick::TaskType::Stream
        })
        .flat_map(|t| t.def.dbrps.into_iter().map(|d| (d.db, d.rp)))
        .collect()
}

/// Points asked for after a restart, at most (the newest are kept).
const MAX_GAP_POINTS: usize = 2_000_000;
/// Points per spool write when filling a gap.
const GAP_BATCH: usize = 10_000;

/// In remote mode: fills the spool's gap since the last point it holds (the engine's pushes
/// are lost while tigk is down), before the server accepts pushes, so that stream tasks see
/// the missed points in time order and before the new ones; then keeps the engine's
/// subscriptions in line with the enabled stream tasks (now, then every
/// `subscription_sync`). `addr` is where this server listens (the default destination).
pub async fn spawn_subscriptions(
    cfg: &ServerConfig,
    alerter: alerter::engine::Engine,
    store: tsdb::Store,
    addr: SocketAddr,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(r) = remote_config(cfg) else {
        return Ok(None);
    };
    let client = client(r)?;
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    // Pushes go to the spool's path: tigk's own `/write` forwards to the engine.
    let destination = format!(
        "{}{}",
        r.subscription_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{addr}"))
            .trim_end_matches('/'),
        super::remote_write::SPOOL_PREFIX
    );
    let (name, every, spool) = (
        r.subscription_name.clone(),
        r.subscription_sync,
        r.spool_retention,
    );
    tracing::info!(
        "storage: remote engine at {}; stream tasks get its writes through subscription {name:?} to {}",
        r.client.urls.join(", "),
        redact(&destination)
    );
    let mut spooled = BTreeSet::new();
    let started = now_ns();
    for (db, rp) in stream_dbrps(&alerter) {
        if let Err(e) = prepare_spool(&store, &db, &rp, spool).await {
            tracing::warn!("spool for {db}.{rp}: {e:#}");
            continue;
        }
        spooled.insert((db.clone(), rp.clone()));
        if let Err(e) = fill_gap(&client, &store, &db, &rp, started).await {
            tracing::warn!("filling the gap in {db}.{rp} since the last restart: {e:#}");
        }
    }
    Ok(Some(tokio::spawn(async move {
        let mut last: BTreeMap<(String, String), String> = BTreeMap::new();
        loop {
            let wanted = stream_dbrps(&alerter);
            for dbrp in wanted.difference(&spooled.clone()) {
                match prepare_spool(&store, &dbrp.0, &dbrp.1, spool).await {
                    Ok(()) => {
                        spooled.insert(dbrp.clone());
                    }
                    Err(e) => tracing::warn!("spool for {}.{}: {e:#}", dbrp.0, dbrp.1),
                }
            }
            let (c, n, d) = (client.clone(), name.clone(), destination.clone());
            let outcome = tokio::task::spawn_blocking(move || {
                remote::subscription::sync(&c, &n, &d, &wanted)
            })
            .await;
            match outcome {
                Ok(Ok(changes)) => log_changes(&mut last, changes),
                Ok(Err(e)) => tracing::warn!("remote engine subscriptions: {e}"),
                Err(e) => tracing::warn!("remote engine subscriptions: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    })))
}

/// A URL without the password it may carry (`http://user:***@host`).
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The newest point time in the spool's `db`.`rp`; `None` when it holds nothing (a first
/// start: there is nothing to resume).
async fn newest_spooled(store: &tsdb::Store, db: &str, rp: &str) -> anyhow::Result<Option<i64>> {
    let q = format!(
        "SELECT * FROM {}.{}./.*/ ORDER BY time DESC LIMIT 1",
        influxql::quote_ident(db),
        influxql::quote_ident(rp)
    );
    let parsed = influxql::parse_query(&q)?;
    let ctx = tsdb::query::QueryContext {
        database: Some(db.to_string()),
        retention_policy: Some(rp.to_string()),
        principal: tsdb::auth::Principal {
            name: "spool".into(),
            admin: false,
            database: None,
            can_read: true,
            can_write: false,
        },
        now: now_ns(),
        limits: tsdb::query::QueryLimits::default(),
        read_only_method: true,
    };
    let mut newest = None;
    for r in tsdb::query::QueryEngine::new(store.clone())
        .execute(&parsed, &ctx)
        .await
    {
        if let Some(e) = r.error {
            anyhow::bail!("{e}");
        }
        for s in r.series {
            for row in s.values {
                if let Some(tsdb::query::Cell::Time(t)) = row.first() {
                    newest = newest.max(Some(*t));
                }
            }
        }
    }
    Ok(newest)
}

/// Writes into the spool what the engine holds for `db`.`rp` after the spool's newest point
/// and up to `until` (this start).
async fn fill_gap(
    client: &remote::Client,
    store: &tsdb::Store,
    db: &str,
    rp: &str,
    until: i64,
) -> anyhow::Result<()> {
    let Some(after) = newest_spooled(store, db, rp).await? else {
        return Ok(());
    };
    let (c, d, r) = (client.clone(), db.to_string(), rp.to_string());
    let points = tokio::task::spawn_blocking(move || {
        remote::gap::points_between(&c, &d, &r, after, until, MAX_GAP_POINTS)
    })
    .await??;
    let n = points.len();
    for chunk in points.chunks(GAP_BATCH) {
        let mut batch = tsdb::storage::PointBatch::new();
        for p in chunk {
            batch.push_point(p, until);
        }
        store.write(db, Some(rp), batch, now_ns()).await?;
    }
    if n > 0 {
        tracing::info!("filled the gap in {db}.{rp} since the last restart: {n} points");
    }
    Ok(())
}

/// Logs what changed; a persisting error is logged once, not at every sync.
fn log_changes(
    last: &mut BTreeMap<(String, String), String>,
    changes: Vec<(
        (String, String),
        Result<remote::subscription::Change, remote::Error>,
    )>,
) {
    use remote::subscription::Change;
    for ((db, rp), result) in changes {
        let text = match &result {
            Ok(c) => format!("{c:?}"),
            Err(e) => e.to_string(),
        };
        if last.get(&(db.clone(), rp.clone())) == Some(&text) {
            continue;
        }
        match result {
            Ok(Change::Unchanged) => {}
            Ok(c) => tracing::info!("remote engine subscription on {db}.{rp}: {c:?}"),
            Err(e) => tracing::warn!("remote engine subscription on {db}.{rp}: {e}"),
        }
        last.insert((db, rp), text);
    }
}

/// The spool takes pushed writes for `db`.`rp`: the database and policy exist, and the
/// policy keeps points only `spool` long (stream tasks read them as they arrive; the data
/// of record is on the engine).
async fn prepare_spool(
    store: &tsdb::Store,
    db: &str,
    rp: &str,
    spool: Duration,
) -> anyhow::Result<()> {
    let ns = i64::try_from(spool.as_nanos()).unwrap_or(i64::MAX);
    store.create_database(db).await?;
    if rp == "autogen" {
        store
            .alter_retention_policy(db, rp, Some(ns), false)
            .await?;
    } else if let Err(e) = store.create_retention_policy(db, rp, ns, 0, 1, false).await {
        // Already there (a restart): keep it, with the spool's duration.
        tracing::debug!("spool policy {db}.{rp}: {e}");
        store
            .alter_retention_policy(db, rp, Some(ns), false)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Storage> {
        let raw: RawStorage = toml::from_str(text)?;
        raw.validate("t.toml", SocketAddr::from(([127, 0, 0, 1], 8086)), false)
    }

    #[test]
    fn embedded_is_the_default_and_takes_no_remote_keys() {
        assert!(matches!(parse("").expect("empty"), Storage::Embedded));
        let e = parse("backend = \"embedded\"\nurls = [\"http://a:8086\"]")
            .expect_err("remote keys refused");
        assert!(
            e.to_string()
                .contains("urls is only used with backend = \"remote\""),
            "{e}"
        );
        assert!(parse("backend = \"cluster\"").is_err());
        assert!(
            parse("backend = \"remote\"\nurl = \"x\"").is_err(),
            "unknown key"
        );
    }

    #[test]
    fn remote_is_validated() {
        let ok = parse(
            "backend = \"remote\"\nurls = [\"http://a:8086\", \"https://b:8086\"]\n\
             username = \"tigk\"\npassword = \"pw\"\ntimeout = \"5s\"\nsubscription_sync = \"10s\"",
        )
        .expect("valid");
        let Storage::Remote(r) = ok else {
            panic!("remote expected")
        };
        assert_eq!(r.client.urls.len(), 2);
        assert_eq!(r.client.timeout, Duration::from_secs(5));
        assert_eq!(r.subscription_name, "tigk");
        assert_eq!(r.subscription_sync, Duration::from_secs(10));
        for (bad, says) in [
            ("backend = \"remote\"", "needs urls"),
            (
                "backend = \"remote\"\nurls = [\"a:8086\"]",
                "must start with http",
            ),
            (
                "backend = \"remote\"\nurls = [\"http://a\"]\nusername = \"u\"",
                "go together",
            ),
            (
                "backend = \"remote\"\nurls = [\"http://a\"]\ntoken = \"t\"\nusername = \"u\"\npassword = \"p\"",
                "not both",
            ),
            (
                "backend = \"remote\"\nurls = [\"http://a\"]\ntimeout = \"0s\"",
                "timeout",
            ),
            (
                "backend = \"remote\"\nurls = [\"https://a\"]\ntls_ca = \"/nonexistent/ca.pem\"",
                "tls_ca /nonexistent/ca.pem",
            ),
            (
                "backend = \"remote\"\nurls = [\"http://a\"]\nspool_retention = \"5m\"",
                "at least 1h",
            ),
        ] {
            let e = parse(bad).expect_err(bad).to_string();
            assert!(
                e.contains(says) && e.starts_with("t.toml: [storage]"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn logged_destinations_hide_the_password() {
        assert_eq!(
            redact("http://sub:s3cret@tigk:8086"),
            "http://sub:***@tigk:8086"
        );
        assert_eq!(redact("http://tigk:8086"), "http://tigk:8086");
    }

    #[test]
    fn the_subscription_url_is_needed_when_it_cannot_be_derived() {
        let raw: RawStorage =
            toml::from_str("backend = \"remote\"\nurls = [\"http://a:8086\"]").expect("toml");
        let any = SocketAddr::from(([0, 0, 0, 0], 8086));
        let local = SocketAddr::from(([127, 0, 0, 1], 8086));
        assert!(raw.validate("t", any, false).is_err());
        assert!(
            raw.validate("t", local, true).is_err(),
            "auth needs credentials"
        );
        assert!(raw.validate("t", local, false).is_ok());
    }
}
