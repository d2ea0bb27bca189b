//! SQLite access: the UI's own `ui.db` (sessions, roles, dashboards) and the store's user
//! table (through `tsdb::auth`).
//!
//! Both are single connections behind a mutex, used from `spawn_blocking`: the UI writes
//! a handful of rows per request, so a pool would only add contention on SQLite's own lock.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Result, UiError};

pub const UI_DB_FILE: &str = "ui.db";

/// One SQLite connection shared by the request handlers.
#[derive(Clone)]
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
}

impl Sqlite {
    pub fn new(conn: Connection) -> Sqlite {
        Sqlite {
            conn: Arc::new(Mutex::new(conn)),
        }
    }

    /// Runs `f` on the connection off the async workers.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| UiError::Internal("ui database lock poisoned".into()))?;
            f(&mut guard)
        })
        .await?
    }
}

impl Sqlite {
    /// For start-up work, before any request runs.
    pub fn blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let guard = self
            .conn
            .lock()
            .map_err(|_| UiError::Internal("ui database lock poisoned".into()))?;
        f(&guard)
    }
}

/// Opens (creating if needed) `ui.db` in `data_dir` and brings its schema up to date.
pub fn open_ui_db(data_dir: &Path) -> Result<Sqlite> {
    std::fs::create_dir_all(data_dir).map_err(|e| UiError::Internal(e.to_string()))?;
    let path = data_dir.join(UI_DB_FILE);
    let mut conn = Connection::open(&path)?;
    restrict_permissions(&path);
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut conn)?;
    Ok(Sqlite::new(conn))
}

/// Session hashes and dashboards are nobody else's business on a shared host.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Each entry moves the schema from version `i` to `i + 1`; never edit a released entry,
/// append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: sessions, roles, dashboards.
    "CREATE TABLE sessions (
        id_hash BLOB PRIMARY KEY,
        user TEXT NOT NULL,
        created INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sessions_user ON sessions(user);
    CREATE TABLE roles (
        user TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin'))
    ) WITHOUT ROWID;
    CREATE TABLE dashboards (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        updated INTEGER NOT NULL
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
];

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(0);
    if version > MIGRATIONS.len() {
        return Err(UiError::Internal(format!(
            "ui.db schema version {version} is newer than this program ({}): refusing to touch it",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Seconds since the epoch; the UI needs no finer clock for sessions and edits.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer_files() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| UiError::Internal(e.to_string()))?;
        drop(open_ui_db(dir.path())?);
        // Reopening is a no-op.
        drop(open_ui_db(dir.path())?);
        let conn = Connection::open(dir.path().join(UI_DB_FILE))?;
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        assert_eq!(v, MIGRATIONS.len() as i64);
        conn.pragma_update(None, "user_version", 99)?;
        drop(conn);
        assert!(open_ui_db(dir.path()).is_err());
        Ok(())
    }
}
