//! Named crash points for fault tests. With `TIGK_CRASH_AT=<name>` in its environment the
//! process aborts (no flush, no destructors: what `kill -9` leaves behind) the first time it
//! passes that point, so a test can crash the store exactly between two steps of a flush or
//! a compaction and check that a restart loses and duplicates nothing.
//!
//! The points: `flush.chunks_committed` (chunks written, head and log not yet trimmed),
//! `flush.log_trimmed` (log rows deleted, pages not yet released), `compact.merged` (a
//! merge committed, more to come), `flush.before_checkpoint` (everything committed, WAL
//! not yet checkpointed), `retention.deleted` (expired chunks deleted, the last-value cache
//! not yet cleared).

use std::sync::OnceLock;

static CRASH_AT: OnceLock<Option<String>> = OnceLock::new();

/// Aborts the process if `TIGK_CRASH_AT` names this point.
pub(crate) fn point(name: &str) {
    let armed = CRASH_AT.get_or_init(|| std::env::var("TIGK_CRASH_AT").ok());
    if armed.as_deref() == Some(name) {
        eprintln!("tigk: crash point {name} reached (TIGK_CRASH_AT), aborting");
        std::process::abort();
    }
}
