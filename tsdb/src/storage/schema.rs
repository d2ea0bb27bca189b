//! The SQLite schema, its version and the migrations between versions.
//!
//! The version lives in `PRAGMA user_version`. A file written by a newer build is refused
//! rather than guessed at: silently reading a format we don't know could corrupt it.

use rusqlite::Connection;

use crate::{Error, Result};

/// The format this build writes. Bump it with a new entry in [`MIGRATIONS`].
pub const FORMAT_VERSION: i64 = 1;

/// `MIGRATIONS[i]` takes a file from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE databases (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    default_rp TEXT NOT NULL
);
CREATE TABLE retention_policies (
    id                INTEGER PRIMARY KEY,
    db_id             INTEGER NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    duration_ns       INTEGER NOT NULL,   -- 0 = keep forever
    shard_duration_ns INTEGER NOT NULL,
    replication       INTEGER NOT NULL,
    UNIQUE (db_id, name)
);
CREATE TABLE measurements (
    id    INTEGER PRIMARY KEY,
    rp_id INTEGER NOT NULL REFERENCES retention_policies(id) ON DELETE CASCADE,
    name  TEXT NOT NULL,
    UNIQUE (rp_id, name)
);
CREATE TABLE fields (
    id             INTEGER PRIMARY KEY,
    measurement_id INTEGER NOT NULL REFERENCES measurements(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    type           INTEGER NOT NULL,
    UNIQUE (measurement_id, name)
);
-- `tags` is the canonical escaped tag set `k=v,k2=v2`, `key` the full series key.
CREATE TABLE series (
    id             INTEGER PRIMARY KEY,
    measurement_id INTEGER NOT NULL REFERENCES measurements(id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    UNIQUE (measurement_id, key)
);
-- One row per accepted write batch, in commit order. Rows stay until their points are
-- in chunks and every subscriber has read past them (bounded by the log limits).
CREATE TABLE write_log (
    seq     INTEGER PRIMARY KEY,
    rp_id   INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    payload BLOB NOT NULL
);
-- Compressed column chunks: one row per series x field x time range.
CREATE TABLE chunks (
    id        INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    field_id  INTEGER NOT NULL,
    min_time  INTEGER NOT NULL,
    max_time  INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    max_seq   INTEGER NOT NULL,   -- newest write-log sequence folded into this chunk
    data      BLOB NOT NULL
);
CREATE INDEX chunks_by_column ON chunks (series_id, field_id, min_time);
CREATE INDEX chunks_by_max_time ON chunks (max_time);
CREATE INDEX chunks_by_max_seq ON chunks (max_seq);
CREATE TABLE store_state (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE subscriptions (
    name      TEXT PRIMARY KEY,
    acked_seq INTEGER NOT NULL
);
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin         INTEGER NOT NULL
);
CREATE TABLE tokens (
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

/// Applies the connection settings every connection needs.
pub fn configure(conn: &Connection, synchronous_full: bool) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(
        None,
        "synchronous",
        if synchronous_full { "FULL" } else { "NORMAL" },
    )?;
    Ok(())
}

/// Brings a freshly opened write connection to [`FORMAT_VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<()> {
    // Must be set before the first table exists; on an existing file it is a no-op.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::corrupt(
            "database",
            format!("cannot enable WAL mode (got {mode})"),
        ));
    }
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > FORMAT_VERSION {
        return Err(Error::NewerFormat {
            found,
            supported: FORMAT_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_fresh_file_and_refuses_newer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).expect("open");
        migrate(&mut conn).expect("migrate");
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(v, FORMAT_VERSION);
        // Re-running is a no-op.
        migrate(&mut conn).expect("migrate twice");
        conn.pragma_update(None, "user_version", FORMAT_VERSION + 1)
            .expect("bump");
        drop(conn);
        let mut conn = Connection::open(&path).expect("reopen");
        match migrate(&mut conn) {
            Err(Error::NewerFormat { found, .. }) => assert_eq!(found, FORMAT_VERSION + 1),
            other => panic!("expected NewerFormat, got {other:?}"),
        }
    }
}
