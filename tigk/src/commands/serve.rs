//! `tigk serve`: the store behind InfluxDB 1.x's HTTP API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use tsdb::http::metrics::Metrics;
use tsdb::http::{ApiState, router};

use super::config::ServerConfig;
use tsdb::{Store, StoreOptions};

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8086", env = "TIGK_BIND")]
    pub bind: SocketAddr,
    /// Directory holding the store.
    #[arg(long, default_value = "./tigk-data", env = "TIGK_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Turn authentication off. Refused unless bound to a loopback address.
    #[arg(long)]
    pub no_auth: bool,
    /// `full`: a 204 survives power loss (fsync per commit). `normal`: survives a crash of
    /// tigk but may lose the last commits on power loss; faster.
    #[arg(long, value_enum, default_value_t = Durability::Full)]
    pub durability: Durability,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Normal,
}

/// `tigk serve`'s command line: every flag is optional so that a flag given overrides the
/// configuration file and one not given does not.
#[derive(Args, Debug, Clone)]
pub struct ServeCli {
    /// Configuration file (TOML; `tigk config` prints a commented default).
    #[arg(long, env = "TIGK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8086].
    #[arg(long, env = "TIGK_BIND")]
    pub bind: Option<SocketAddr>,
    /// Directory holding the store [default: ./tigk-data].
    #[arg(long, env = "TIGK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Turn authentication off. Refused unless bound to a loopback address.
    #[arg(long)]
    pub no_auth: bool,
    /// `full`: a 204 survives power loss (fsync per commit). `normal`: survives a crash of
    /// tigk but may lose the last commits on power loss; faster [default: full].
    #[arg(long, value_enum)]
    pub durability: Option<Durability>,
}

impl ServeCli {
    /// The configuration file (or the defaults) with this command line's flags applied.
    pub fn resolve(&self) -> anyhow::Result<(ServeArgs, ServerConfig)> {
        let mut cfg = match &self.config {
            Some(path) => super::config::load(path)?,
            None => ServerConfig::default(),
        };
        if let Some(b) = self.bind {
            cfg.bind = b;
        }
        if let Some(d) = &self.data_dir {
            cfg.data_dir = d.clone();
        }
        if let Some(d) = self.durability {
            cfg.durability = d;
        }
        if self.no_auth {
            cfg.auth = false;
        }
        let args = ServeArgs {
            bind: cfg.bind,
            data_dir: cfg.data_dir.clone(),
            no_auth: !cfg.auth,
            durability: cfg.durability,
        };
        Ok((args, cfg))
    }
}

pub fn run(cli: ServeCli) -> anyhow::Result<()> {
    let (args, cfg) = cli.resolve()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = open_store_with(&args, &cfg)?;
        let alerter = open_alerter_with(&cfg, store.clone())?;
        run_server_with(store, alerter, &args, &cfg, None, shutdown_signal()).await
    })
}

/// Opens the store as `args` say, refusing `--no-auth` off loopback.
pub fn open_store(args: &ServeArgs) -> anyhow::Result<Store> {
    open_store_with(args, &ServerConfig::default())
}

/// Opens the store with the configuration's limits; `args` decide durability and auth.
pub fn open_store_with(args: &ServeArgs, cfg: &ServerConfig) -> anyhow::Result<Store> {
    if args.no_auth && !args.bind.ip().is_loopback() {
        bail!(
            "--no-auth is only allowed on a loopback address (got {})",
            args.bind
        );
    }
    let options = StoreOptions {
        synchronous_full: args.durability == Durability::Full,
        ..cfg.store.clone()
    };
    Store::open(&args.data_dir, options)
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))
}

/// Serves the 1.x API and the web UI until `shutdown` resolves, then flushes the store.
/// `ready` (if given) receives the bound address.
pub async fn run_server(
    store: Store,
    alerter: alerter::engine::Engine,
    args: &ServeArgs,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_server_with(
        store,
        alerter,
        args,
        &ServerConfig::default(),
        ready,
        shutdown,
    )
    .await
}

/// [`run_server`] with a configuration's HTTP limits and /metrics setting.
pub async fn run_server_with(
    store: Store,
    alerter: alerter::engine::Engine,
    args: &ServeArgs,
    cfg: &ServerConfig,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut state = ApiState::new(store.clone(), !args.no_auth);
    state.limits = Arc::new(cfg.http.clone());
    state.queries = super::remote::query_runner(cfg, &store)?;
    let metrics = Metrics::default();
    let tasks = alerter::api::router(alerter.clone()).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        tsdb::http::require_admin,
    ));
    let ui_state = ui::UiState::new(
        super::remote::data_source(cfg, &store)?,
        &args.data_dir,
        ui::UiConfig {
            secure_cookies: cfg.tls.is_some(),
            ..ui::UiConfig::default()
        },
    )
    .context("opening the UI's state")?
    .with_alerts(Arc::new(alerter.clone()));
    // One listener for both surfaces: the 1.x API paths and the UI's pages do not overlap.
    // In remote mode agents' writes go on to the engine (see remote_write.rs).
    let api = super::remote_write::wrap(
        router(state.clone()),
        state.clone(),
        super::remote::write_client(cfg)?,
    );
    let kapacitor_api = api.clone();
    let app = api
        .merge(metrics.router(state, cfg.metrics_public))
        .merge(tasks)
        .merge(super::downloads::router(
            super::downloads::AgentBinary::from_env(),
            ui_state.config().secure_cookies,
        ))
        .merge(ui::router(ui_state))
        .merge(kapacitor_extras(kapacitor_api));
    let app = metrics.instrument(app);
    let monitor = cfg.monitor.interval.map(|interval| {
        let sources = super::monitor::Sources {
            store: store.clone(),
            requests: metrics.requests.clone(),
            alerter: Some(alerter.clone()),
            hostname: hostname(),
        };
        super::monitor::spawn(sources, interval, cfg.monitor.retention)
    });
    let stopping = metrics.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.begin_shutdown();
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    let addr = listener.local_addr()?;
    // Loaded again (parse checked them) so that a renewed certificate is used on restart.
    let tls = cfg.tls.as_ref().map(|files| files.load()).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        "tigk listening on {scheme}://{addr} (auth {}); web UI at {scheme}://{addr}/",
        if args.no_auth { "off" } else { "on" }
    );
    let subscriptions =
        super::remote::spawn_subscriptions(cfg, alerter.clone(), store.clone(), addr).await?;
    let cluster = cfg
        .cluster
        .clone()
        .map(|members| super::cluster::spawn(members, alerter.clone(), store.clone()));
    if let Some(tx) = ready {
        let _ = tx.send(addr);
    }
    let limits = super::accept::ConnLimits::default();
    match tls {
        Some(config) => {
            let listener = super::tls::TlsListener::new(listener, config)?;
            super::accept::serve(listener, app, limits, shutdown).await;
        }
        None => super::accept::serve(listener, app, limits, shutdown).await,
    }
    for task in [monitor, subscriptions, cluster].into_iter().flatten() {
        task.abort();
    }
    tracing::info!("shutting down: saving alert state, flushing the store");
    tokio::task::spawn_blocking(move || {
        alerter.shutdown();
        store.shutdown();
    })
    .await?;
    Ok(())
}

/// Alert log handlers may write only under this directory of the data directory.
pub const ALERT_DIR: &str = "alerts";

/// The alerter: task definitions and state in `alerter.db` next to the store.
pub fn open_alerter(
    data_dir: &std::path::Path,
    store: Store,
) -> anyhow::Result<alerter::engine::Engine> {
    let alert_dir = std::path::absolute(data_dir.join(ALERT_DIR))?;
    std::fs::create_dir_all(&alert_dir)
        .with_context(|| format!("creating {}", alert_dir.display()))?;
    let opts = alerter::Options {
        alert_dir: Some(alert_dir),
        hostname: hostname(),
        ..alerter::Options::default()
    };
    alerter::engine::Engine::open(data_dir, store, opts).context("starting the alerter")
}

/// The alerter with the configuration's handler allow-list and delivery settings.
pub fn open_alerter_with(
    cfg: &ServerConfig,
    store: Store,
) -> anyhow::Result<alerter::engine::Engine> {
    let mut opts = super::config::alerter_options(cfg)?;
    let alert_dir = opts.alert_dir.clone().unwrap_or_default();
    std::fs::create_dir_all(&alert_dir)
        .with_context(|| format!("creating {}", alert_dir.display()))?;
    opts.hostname = hostname();
    super::remote::open_alerter(cfg, store, opts)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Kapacitor's `/kapacitor/v1/ping`, and its `/kapacitor/v1/write`: points written there
/// reach stream tasks as every write does, so the route is `api`'s `/write` itself (its
/// credentials, limits and answers, and in remote mode its forwarding to the engine)
/// under Kapacitor's path.
fn kapacitor_extras(api: axum::Router) -> axum::Router {
    use axum::http::{StatusCode, header::HeaderName};
    let write = tower::ServiceBuilder::new()
        .map_request(to_write_path)
        .service(api);
    let ping = || async {
        (
            StatusCode::NO_CONTENT,
            [(
                HeaderName::from_static("x-kapacitor-version"),
                env!("CARGO_PKG_VERSION"),
            )],
        )
    };
    axum::Router::new()
        .route_service("/kapacitor/v1/write", write)
        .route("/kapacitor/v1/ping", axum::routing::get(ping).head(ping))
}

/// The same request addressed to `/write` (the query string kept): for the routes that
/// are the 1.x write under another path.
pub(super) fn to_write_path(mut req: axum::extract::Request) -> axum::extract::Request {
    let path_and_query = match req.uri().query() {
        Some(q) => format!("/write?{q}"),
        None => "/write".to_string(),
    };
    if let Ok(uri) = axum::http::Uri::builder()
        .path_and_query(path_and_query)
        .build()
    {
        *req.uri_mut() = uri;
    }
    req
}
