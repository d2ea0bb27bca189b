//! `alerter.db`: task definitions, state snapshots with their write-log position, and
//! the event outbox. State, position and new events of one step are written in one
//! transaction, so a restart resumes exactly where the saved state is and replays the
//! rest; replayed events get the same keys and are ignored if already queued.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::TaskDef;
use crate::alert::AlertEvent;
use crate::error::Error;

fn db_err(e: rusqlite::Error) -> Error {
    Error::Db(e.to_string())
}

pub(crate) struct Db {
    conn: Connection,
}

/// One queued delivery.
#[derive(Debug, Clone)]
pub(crate) struct OutboxRow {
    pub rowid: i64,
    pub node: String,
    pub handler: i64,
    pub json: String,
    /// Delivery attempts started before; > 0 means an earlier attempt may have
    /// succeeded without being recorded (a crash between delivery and [`Db::finish`]).
    pub attempts: i64,
}

fn insert_events(
    tx: &rusqlite::Transaction<'_>,
    task: &str,
    events: &[(AlertEvent, usize)],
) -> Result<usize, Error> {
    let mut queued = 0;
    let mut ins = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO outbox (key, handler, task, node, json) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db_err)?;
    for (ev, handlers) in events {
        let json = ev.to_json();
        for h in 0..*handlers {
            queued += ins
                .execute(params![ev.key(), h as i64, task, ev.node, json])
                .map_err(db_err)?;
        }
    }
    Ok(queued)
}

impl Db {
    pub(crate) fn open(dir: &Path) -> Result<Db, Error> {
        std::fs::create_dir_all(dir)?;
        let conn = Connection::open(dir.join("alerter.db")).map_err(db_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS tasks (
                 id TEXT PRIMARY KEY,
                 def TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS task_state (
                 id TEXT PRIMARY KEY,
                 script TEXT NOT NULL,
                 seq INTEGER NOT NULL,
                 state TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS outbox (
                 key TEXT NOT NULL,
                 handler INTEGER NOT NULL,
                 task TEXT NOT NULL,
                 node TEXT NOT NULL,
                 json TEXT NOT NULL,
                 delivered INTEGER NOT NULL DEFAULT 0,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 PRIMARY KEY (key, handler)
             );
             CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (task, delivered);
             CREATE TABLE IF NOT EXISTS templates (
                 id TEXT PRIMARY KEY,
                 def TEXT NOT NULL
             );",
        )
        .map_err(db_err)?;
        Ok(Db { conn })
    }

    pub(crate) fn load_tasks(&self) -> Result<Vec<TaskDef>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT def FROM tasks ORDER BY id")
            .map_err(db_err)?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)?;
        rows.iter()
            .map(|s| serde_json::from_str(s).map_err(|e| Error::Db(e.to_string())))
            .collect()
    }

    pub(crate) fn save_task(&self, def: &TaskDef) -> Result<(), Error> {
        let json = serde_json::to_string(def).map_err(|e| Error::Db(e.to_string()))?;
        self.conn
            .execute(
                "INSERT INTO tasks (id, def) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET def = excluded.def",
                params![def.id, json],
            )
            .map_err(db_err)?;
        Ok(())
    }

    /// Task templates (JSON definitions), sorted by id.
    pub(crate) fn load_templates(&self) -> Result<Vec<String>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT def FROM templates ORDER BY id")
            .map_err(db_err)?;
        stmt.query_map([], |r| r.get(0))
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    pub(crate) fn save_template(&self, id: &str, json: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO templates (id, def) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET def = excluded.def",
                params![id, json],
            )
            .map_err(db_err)?;
        Ok(())
    }

    pub(crate) fn delete_template(&self, id: &str) -> Result<bool, Error> {
        let n = self
            .conn
            .execute("DELETE FROM templates WHERE id = ?1", [id])
            .map_err(db_err)?;
        Ok(n > 0)
    }

    pub(crate) fn delete_task(&mut self, id: &str) -> Result<(), Error> {
        let tx = self.conn.transaction().map_err(db_err)?;
        tx.execute("DELETE FROM tasks WHERE id = ?1", [id])
            .map_err(db_err)?;
        tx.execute("DELETE FROM task_state WHERE id = ?1", [id])
            .map_err(db_err)?;
        tx.execute("DELETE FROM outbox WHERE task = ?1", [id])
            .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    /// The saved (seq, state) of a task, if it was saved for this exact script.
    pub(crate) fn load_state(
        &self,
        id: &str,
        script: &str,
    ) -> Result<Option<(u64, String)>, Error> {
        let row: Option<(String, i64, String)> = self
            .conn
            .query_row(
                "SELECT script, seq, state FROM task_state WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db_err)?;
        Ok(row
            .filter(|(s, _, _)| s == script)
            .map(|(_, seq, state)| (seq as u64, state)))
    }

    /// Saves state, position and the step's events (one row per handler) atomically.
    pub(crate) fn commit_step(
        &mut self,
        id: &str,
        script: &str,
        seq: u64,
        state: &str,
        events: &[(AlertEvent, usize)],
    ) -> Result<usize, Error> {
        let tx = self.conn.transaction().map_err(db_err)?;
        let queued = insert_events(&tx, id, events)?;
        tx.execute(
            "INSERT INTO task_state (id, script, seq, state) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET script = excluded.script, seq = excluded.seq, state = excluded.state",
            params![id, script, seq as i64, state],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(queued)
    }

    /// Queues events without touching the saved state.
    pub(crate) fn queue_events(
        &mut self,
        task: &str,
        events: &[(AlertEvent, usize)],
    ) -> Result<usize, Error> {
        if events.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.transaction().map_err(db_err)?;
        let queued = insert_events(&tx, task, events)?;
        tx.commit().map_err(db_err)?;
        Ok(queued)
    }

    pub(crate) fn pending(
        &self,
        task: &str,
        node: &str,
        handler: usize,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, Error> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT rowid, node, handler, json, attempts FROM outbox
                 WHERE task = ?1 AND node = ?2 AND handler = ?3 AND delivered = 0 ORDER BY rowid LIMIT ?4",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![task, node, handler as i64, limit as i64], |r| {
                Ok(OutboxRow {
                    rowid: r.get(0)?,
                    node: r.get(1)?,
                    handler: r.get(2)?,
                    json: r.get(3)?,
                    attempts: r.get(4)?,
                })
            })
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)?;
        Ok(rows)
    }

    /// Records that delivery attempts start, before they are made (one transaction for
    /// the lot): after a crash a row with attempts > 0 is "in doubt" and the worker
    /// checks before delivering it again.
    pub(crate) fn begin(&mut self, rowids: &[i64]) -> Result<(), Error> {
        let tx = self.conn.transaction().map_err(db_err)?;
        {
            let mut st = tx
                .prepare_cached("UPDATE outbox SET attempts = attempts + 1 WHERE rowid = ?1")
                .map_err(db_err)?;
            for r in rowids {
                st.execute([r]).map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)
    }

    /// Marks deliveries done, or failed attempts (a row is given up after `max`
    /// attempts, as counted by [`Db::begin`]). One transaction for the lot.
    pub(crate) fn finish(
        &mut self,
        results: &[(i64, bool)],
        max_attempts: i64,
    ) -> Result<(), Error> {
        let tx = self.conn.transaction().map_err(db_err)?;
        {
            let mut done = tx
                .prepare_cached("UPDATE outbox SET delivered = 1 WHERE rowid = ?1")
                .map_err(db_err)?;
            let mut failed = tx
                .prepare_cached(
                    "UPDATE outbox SET delivered = CASE WHEN attempts >= ?2 THEN 2 ELSE 0 END
                     WHERE rowid = ?1",
                )
                .map_err(db_err)?;
            for (r, ok) in results {
                if *ok {
                    done.execute([r]).map_err(db_err)?;
                } else {
                    failed.execute(params![r, max_attempts]).map_err(db_err)?;
                }
            }
        }
        tx.commit().map_err(db_err)
    }

    /// (task, node, event JSON) of every queued event, oldest first (one row per
    /// event: its first handler's).
    pub(crate) fn events(&self) -> Result<Vec<(String, String, String)>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT task, node, json FROM outbox WHERE handler = 0 ORDER BY rowid")
            .map_err(db_err)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    /// Deliveries waiting (not yet made or being retried).
    pub(crate) fn pending_count(&self) -> Result<u64, Error> {
        self.conn
            .query_row("SELECT count(*) FROM outbox WHERE delivered = 0", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(db_err)
    }

    /// Drops delivered rows (kept only as dedup keys while a replay could recreate them).
    pub(crate) fn prune_delivered(&self, task: &str, keep: usize) -> Result<(), Error> {
        self.conn
            .execute(
                "DELETE FROM outbox WHERE task = ?1 AND delivered != 0 AND rowid NOT IN
                 (SELECT rowid FROM outbox WHERE task = ?1 ORDER BY rowid DESC LIMIT ?2)",
                params![task, keep as i64],
            )
            .map_err(db_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Level, Series};

    fn event(time: i64) -> AlertEvent {
        AlertEvent {
            task: "t".into(),
            node: "alert2".into(),
            id: "cpu:nil".into(),
            message: "m".into(),
            details: String::new(),
            time,
            duration: 0,
            level: Level::Critical,
            previous_level: Level::Ok,
            recoverable: true,
            data: Series {
                name: "cpu".into(),
                tags: Default::default(),
                columns: Vec::new(),
                rows: Vec::new(),
            },
        }
    }

    #[test]
    fn replayed_events_are_queued_once_and_delivered_once() -> Result<(), Error> {
        let dir = tempfile::tempdir()?;
        let mut db = Db::open(dir.path())?;
        assert_eq!(db.commit_step("t", "s", 5, "{}", &[(event(1), 2)])?, 2);
        // The same step again (a replay after a crash before the next commit).
        assert_eq!(
            db.commit_step("t", "s", 5, "{}", &[(event(1), 2), (event(2), 2)])?,
            2
        );
        let rows = db.pending("t", "alert2", 0, 10)?;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].attempts, 0);
        db.begin(&[rows[0].rowid])?;
        db.finish(&[(rows[0].rowid, true)], 5)?;
        assert_eq!(
            db.commit_step("t", "s", 6, "{}", &[(event(1), 2)])?,
            0,
            "delivered key kept"
        );
        assert_eq!(db.pending("t", "alert2", 0, 10)?.len(), 1);
        for _ in 0..5 {
            db.begin(&[rows[1].rowid])?;
            db.finish(&[(rows[1].rowid, false)], 5)?;
        }
        assert!(
            db.pending("t", "alert2", 0, 10)?.is_empty(),
            "given up after 5 attempts"
        );
        assert_eq!(db.load_state("t", "s")?, Some((6, "{}".to_string())));
        assert_eq!(db.load_state("t", "other script")?, None);
        Ok(())
    }
}
