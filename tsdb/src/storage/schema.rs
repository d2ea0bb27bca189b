//! The SQLite schema: two files, their format version and migrations.
//!
//! - `tigk.db` (schema `main`, 1 KiB pages): compressed chunks, users, tokens.
//! - `tigk-log.db` (attached as `log`, 16 KiB pages): the write log and everything that
//!   must commit atomically with it: the catalog, the sequence state, subscriptions.
//!
//! Why two files: the log sees ~0.5 MB rows written once and deleted soon, for which large
//! pages cost least CPU (1 KiB pages doubled ingest CPU, measured); chunks are long-lived
//! blobs whose leaf-page remainder wastes space with large pages (4 KiB pages: +0.25
//! bytes/value, measured). A group commit touches only the log file, so it stays atomic.
//! A flush writes chunks (main) and then trims the log: a crash in between is harmless
//! because chunks carry the newest log sequence they hold (`max_seq`) and replay skips it.
//!
//! Each file's version lives in its `user_version`. A file written by a newer build is
//! refused rather than guessed at.

use std::path::Path;

use rusqlite::Connection;

use crate::{Error, Result};

/// The format this build writes. Bump it with new entries in both migration lists.
pub const FORMAT_VERSION: i64 = 1;

/// The attached log file, relative to the data directory.
pub const LOG_FILE: &str = "tigk-log.db";

/// `MAIN_MIGRATIONS[i]` takes `tigk.db` from version `i` to `i + 1`.
const MAIN_MIGRATIONS: &[&str] = &[r#"
-- Compressed column chunks: one row per series x field x time range. Rows of a column
-- are ordered by id, which is write order: later rows win for equal timestamps.
CREATE TABLE main.chunks (
    id        INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    field_id  INTEGER NOT NULL,
    min_time  INTEGER NOT NULL,
    max_time  INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    max_seq   INTEGER NOT NULL,   -- newest write-log sequence folded into this chunk
    data      BLOB NOT NULL
);
CREATE INDEX main.chunks_by_column ON chunks (series_id, field_id, min_time);
CREATE INDEX main.chunks_by_max_time ON chunks (max_time);
CREATE INDEX main.chunks_by_max_seq ON chunks (max_seq);
CREATE TABLE main.users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin         INTEGER NOT NULL
);
CREATE TABLE main.tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    description TEXT NOT NULL,
    db          TEXT,                 -- NULL: every database
    can_read    INTEGER NOT NULL,
    can_write   INTEGER NOT NULL,
    admin       INTEGER NOT NULL,
    created_ns  INTEGER NOT NULL
);
"#];

/// `LOG_MIGRATIONS[i]` takes `tigk-log.db` from version `i` to `i + 1`.
const LOG_MIGRATIONS: &[&str] = &[r#"
CREATE TABLE log.databases (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    default_rp TEXT NOT NULL
);
CREATE TABLE log.retention_policies (
    id                INTEGER PRIMARY KEY,
    db_id             INTEGER NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    duration_ns       INTEGER NOT NULL,   -- 0 = keep forever
    shard_duration_ns INTEGER NOT NULL,
    replication       INTEGER NOT NULL,
    UNIQUE (db_id, name)
);
CREATE TABLE log.measurements (
    id    INTEGER PRIMARY KEY,
    rp_id INTEGER NOT NULL REFERENCES retention_policies(id) ON DELETE CASCADE,
    name  TEXT NOT NULL,
    UNIQUE (rp_id, name)
);
CREATE TABLE log.fields (
    id             INTEGER PRIMARY KEY,
    measurement_id INTEGER NOT NULL REFERENCES measurements(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    type           INTEGER NOT NULL,
    UNIQUE (measurement_id, name)
);
-- `key` is the canonical series key `measurement,k=v,...` with line-protocol escaping.
CREATE TABLE log.series (
    id             INTEGER PRIMARY KEY,
    measurement_id INTEGER NOT NULL REFERENCES measurements(id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    UNIQUE (measurement_id, key)
);
-- One row per accepted write request, in commit order. Rows stay until their points are
-- in chunks and every subscriber has read past them (bounded by the log retention).
CREATE TABLE log.write_log (
    seq     INTEGER PRIMARY KEY,
    rp_id   INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE log.store_state (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE log.subscriptions (
    name      TEXT PRIMARY KEY,
    acked_seq INTEGER NOT NULL
);
"#];

/// Applies the connection settings every connection needs.
pub fn configure(conn: &Connection, synchronous_full: bool) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    set_synchronous(conn, synchronous_full)
}

fn set_synchronous(conn: &Connection, full: bool) -> Result<()> {
    let level = if full { "FULL" } else { "NORMAL" };
    for schema in ["main", "log"] {
        if attached(conn, schema)? {
            conn.pragma_update(Some(schema), "synchronous", level)?;
        }
    }
    Ok(())
}

fn attached(conn: &Connection, schema: &str) -> Result<bool> {
    let mut stmt = conn.prepare("SELECT 1 FROM pragma_database_list WHERE name = ?1")?;
    Ok(stmt.exists([schema])?)
}

/// Attaches the log file to a connection on the main file (read-only connections get a
/// read-only attachment, as SQLite opens attachments with the main file's flags).
pub fn attach_log(conn: &Connection, dir: &Path) -> Result<()> {
    let path = dir.join(LOG_FILE);
    let path = path
        .to_str()
        .ok_or_else(|| Error::corrupt("data directory", "path is not UTF-8"))?;
    conn.execute("ATTACH DATABASE ?1 AS log", [path])?;
    Ok(())
}

/// Brings both files of a write connection (log attached) to [`FORMAT_VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<()> {
    prepare_file(conn, "main", 1024)?;
    prepare_file(conn, "log", 16384)?;
    run_migrations(conn, "main", MAIN_MIGRATIONS)?;
    run_migrations(conn, "log", LOG_MIGRATIONS)?;
    Ok(())
}

/// Page size and auto-vacuum must be set before a file's first table; on an existing file
/// these are no-ops. Then WAL mode, which every connection relies on.
fn prepare_file(conn: &Connection, schema: &str, page_size: i64) -> Result<()> {
    conn.pragma_update(Some(schema), "page_size", page_size)?;
    conn.pragma_update(Some(schema), "auto_vacuum", "INCREMENTAL")?;
    let mode: String =
        conn.pragma_update_and_check(Some(schema), "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::corrupt(
            "database",
            format!("cannot enable WAL mode on {schema} (got {mode})"),
        ));
    }
    Ok(())
}

fn run_migrations(conn: &mut Connection, schema: &str, migrations: &[&str]) -> Result<()> {
    let found: i64 = conn.pragma_query_value(Some(schema), "user_version", |r| r.get(0))?;
    if found > FORMAT_VERSION {
        return Err(Error::NewerFormat {
            found,
            supported: FORMAT_VERSION,
        });
    }
    for (version, sql) in migrations.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(Some(schema), "user_version", version as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> Connection {
        let conn = Connection::open(dir.join("tigk.db")).expect("open");
        attach_log(&conn, dir).expect("attach");
        conn
    }

    #[test]
    fn migrates_fresh_files_and_refuses_newer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = open(dir.path());
        migrate(&mut conn).expect("migrate");
        for schema in ["main", "log"] {
            let v: i64 = conn
                .pragma_query_value(Some(schema), "user_version", |r| r.get(0))
                .expect("version");
            assert_eq!(v, FORMAT_VERSION);
        }
        let page: i64 = conn
            .pragma_query_value(Some("main"), "page_size", |r| r.get(0))
            .expect("page");
        assert_eq!(page, 1024);
        // Re-running is a no-op.
        migrate(&mut conn).expect("migrate twice");
        conn.pragma_update(Some("log"), "user_version", FORMAT_VERSION + 1)
            .expect("bump");
        drop(conn);
        let mut conn = open(dir.path());
        match migrate(&mut conn) {
            Err(Error::NewerFormat { found, .. }) => assert_eq!(found, FORMAT_VERSION + 1),
            other => panic!("expected NewerFormat, got {other:?}"),
        }
    }
}
