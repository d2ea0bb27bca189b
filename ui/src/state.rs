//! What every handler shares: the data source, the UI and user databases, the config.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tsdb::Store;
use tsdb::auth::{Authenticator, Principal};
use tsdb::query::{QueryContext, QueryEngine, QueryLimits, SeriesResult};

use crate::db::{self, Sqlite};
use crate::error::{Result, UiError};
use crate::session::LoginLimiter;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where pages get their data. One InfluxQL statement in, its series out; a statement
/// error is an `Err`. A trait so pages can be tested against fixed series.
pub trait DataSource: Send + Sync + 'static {
    fn query<'a>(&'a self, db: &'a str, q: &'a str) -> BoxFuture<'a, Result<Vec<SeriesResult>>>;
}

/// The real data source: the store's InfluxQL engine.
pub struct EngineSource {
    engine: QueryEngine,
    limits: QueryLimits,
}

/// A page should answer well before a browser gives up, whatever /query allows.
const PAGE_QUERY_TIMEOUT: Duration = Duration::from_secs(30);

impl EngineSource {
    pub fn new(store: Store) -> EngineSource {
        EngineSource::with_limits(store, QueryLimits::default())
    }

    /// With the server's query limits; the timeout is at most 30 s.
    pub fn with_limits(store: Store, limits: QueryLimits) -> EngineSource {
        EngineSource {
            engine: QueryEngine::new(store),
            limits: QueryLimits {
                timeout: limits.timeout.min(PAGE_QUERY_TIMEOUT),
                ..limits
            },
        }
    }
}

impl DataSource for EngineSource {
    fn query<'a>(&'a self, db: &'a str, q: &'a str) -> BoxFuture<'a, Result<Vec<SeriesResult>>> {
        Box::pin(async move {
            let parsed = influxql::parse_query(q).map_err(|e| UiError::Query(e.to_string()))?;
            crate::query::ensure_read_only(&parsed)?;
            let ctx = QueryContext {
                database: Some(db.to_string()),
                retention_policy: None,
                // Pages only read. A principal that cannot write or administer means a
                // raw panel query can never change the store, whatever it says.
                principal: Principal {
                    name: "ui".into(),
                    admin: false,
                    database: None,
                    can_read: true,
                    can_write: false,
                },
                now: now_ns(),
                limits: self.limits.clone(),
                read_only_method: true,
            };
            let mut out = Vec::new();
            for r in self.engine.execute(&parsed, &ctx).await {
                if let Some(e) = r.error {
                    return Err(UiError::Query(e));
                }
                out.extend(r.series);
            }
            Ok(out)
        })
    }
}

/// A data source answering from a fixed table, for tests and demos: the first entry whose
/// fragment occurs in the query text answers it.
#[derive(Default)]
pub struct FixedSource {
    pub answers: Vec<(String, Result<Vec<SeriesResult>, String>)>,
}

impl FixedSource {
    pub fn with(mut self, fragment: &str, answer: Result<Vec<SeriesResult>, String>) -> Self {
        self.answers.push((fragment.to_string(), answer));
        self
    }
}

impl DataSource for FixedSource {
    fn query<'a>(&'a self, _db: &'a str, q: &'a str) -> BoxFuture<'a, Result<Vec<SeriesResult>>> {
        Box::pin(async move {
            match self.answers.iter().find(|(f, _)| q.contains(f.as_str())) {
                Some((_, Ok(s))) => Ok(s.clone()),
                Some((_, Err(e))) => Err(UiError::Query(e.clone())),
                None => Ok(Vec::new()),
            }
        })
    }
}

/// Settings the binary chooses.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// Served over TLS: cookies get `Secure` and the `__Host-` prefix, responses get HSTS.
    pub secure_cookies: bool,
    /// `scheme://host[:port]` users reach the UI at. POSTs must come from it. When unset the
    /// `Origin` must match the request's `Host`.
    pub external_origin: Option<String>,
    /// The database the agents write to.
    pub database: String,
    /// Read-only dashboards are provisioned from the `*.json` files here, read at start;
    /// `None`: `<data dir>/dashboards`.
    pub dashboards_dir: Option<PathBuf>,
    /// A session ends after this long without requests.
    pub session_idle: Duration,
    /// And after this long whatever happens.
    pub session_lifetime: Duration,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            secure_cookies: false,
            external_origin: None,
            database: "telegraf".into(),
            dashboards_dir: None,
            session_idle: Duration::from_secs(12 * 3600),
            session_lifetime: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Shared state; cheap to clone.
#[derive(Clone)]
pub struct UiState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub source: Arc<dyn DataSource>,
    pub data_dir: PathBuf,
    pub config: UiConfig,
    pub ui_db: Sqlite,
    /// The store's own file, for users (Argon2 hashes) and the admin flag.
    pub users: Sqlite,
    pub authenticator: Authenticator,
    pub limiter: LoginLimiter,
    /// The alerter, when the server runs one (set once, after construction).
    pub alerts: std::sync::OnceLock<Arc<dyn crate::alerts::AlertBackend>>,
    /// Settled parts of bucketed panel queries.
    pub cache: crate::cache::ResultCache,
    /// Dashboards from files, read-only.
    pub provisioned: Vec<crate::dashboards::Dashboard>,
}

impl UiState {
    /// Opens `ui.db` (creating and migrating it) and the store's user table in `data_dir`,
    /// and provisions the default dashboard on first start.
    pub fn new(
        source: Arc<dyn DataSource>,
        data_dir: impl Into<PathBuf>,
        config: UiConfig,
    ) -> Result<UiState> {
        let data_dir = data_dir.into();
        let ui_db = db::open_ui_db(&data_dir)?;
        ui_db.blocking(crate::dashboards::provision_default)?;
        let users = tsdb::storage::admin_connection(&data_dir)
            .map_err(|e| UiError::Internal(format!("opening the user store: {e}")))?;
        let authenticator = Authenticator::new(data_dir.join(tsdb::storage::DB_FILE));
        let provisioned = crate::dashboards::files::load_dir(
            &config
                .dashboards_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("dashboards")),
        );
        let state = UiState {
            inner: Arc::new(Inner {
                source,
                data_dir,
                config,
                ui_db,
                users: Sqlite::new(users),
                authenticator,
                limiter: LoginLimiter::default(),
                alerts: std::sync::OnceLock::new(),
                cache: crate::cache::ResultCache::default(),
                provisioned,
            }),
        };
        Ok(state)
    }

    /// Connects the alert pages to an alerter. Without one they say alerting is off.
    pub fn with_alerts(self, backend: Arc<dyn crate::alerts::AlertBackend>) -> UiState {
        // Set once: a second call keeps the first backend.
        let _ = self.inner.alerts.set(backend);
        self
    }

    /// The alerter, or `UiError::AlertingOff`.
    pub(crate) fn alerts(&self) -> Result<&dyn crate::alerts::AlertBackend> {
        self.inner
            .alerts
            .get()
            .map(|b| b.as_ref())
            .ok_or(UiError::AlertingOff)
    }

    pub fn config(&self) -> &UiConfig {
        &self.inner.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub(crate) fn source(&self) -> &dyn DataSource {
        self.inner.source.as_ref()
    }

    /// The file-provisioned dashboard `uid`, if there is one.
    pub(crate) fn provisioned(&self, uid: &str) -> Option<&crate::dashboards::Dashboard> {
        self.inner.provisioned.iter().find(|d| d.uid == uid)
    }

    pub(crate) fn all_provisioned(&self) -> &[crate::dashboards::Dashboard] {
        &self.inner.provisioned
    }

    pub(crate) fn cache(&self) -> &crate::cache::ResultCache {
        &self.inner.cache
    }

    pub(crate) fn ui_db(&self) -> &Sqlite {
        &self.inner.ui_db
    }

    pub(crate) fn users(&self) -> &Sqlite {
        &self.inner.users
    }

    /// Runs one statement against the agents' database.
    pub(crate) async fn query(&self, q: &str) -> Result<Vec<SeriesResult>> {
        self.source().query(&self.inner.config.database, q).await
    }
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
