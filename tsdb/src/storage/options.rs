//! Store settings. Every limit is finite by default.

use std::time::Duration;

/// How the store trades durability, memory and chunk size. `Default` is what `tigk serve`
/// uses unless configured otherwise.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `synchronous=FULL` (true): a 204 survives power loss. NORMAL survives a process crash.
    pub synchronous_full: bool,
    /// Write requests waiting for the writer; beyond this the API answers 503.
    pub queue_capacity: usize,
    /// Requests committed together in one transaction (group commit).
    pub max_group: usize,
    /// Points per compressed chunk. A head column is flushed when it reaches this size.
    pub chunk_points: usize,
    /// Consecutive chunks of a column are merged up to this many points once flushed:
    /// fewer, larger chunks compress better and cost less SQLite page overhead, while the
    /// head (memory) only ever holds `chunk_points` per column.
    pub compact_points: usize,
    /// Total values held in the head before the oldest columns are flushed early.
    pub max_head_values: usize,
    /// A head column older than this is flushed even if small, bounding replay time.
    pub max_head_age: Duration,
    /// With no write for this long, the head is flushed so data becomes compact.
    pub idle_flush: Duration,
    pub max_series_per_database: usize,
    /// Write-log rows are kept for subscribers at most this long after being flushed.
    pub log_retention: Duration,
    /// Read-only SQLite connections for queries.
    pub readers: usize,
    /// Duration of the `autogen` policy of databases created from now on; `None` keeps
    /// their data forever (1.x's default). `CREATE DATABASE ... WITH DURATION` overrides it.
    pub default_retention: Option<Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            synchronous_full: true,
            queue_capacity: 64,
            max_group: 32,
            chunk_points: 4096,
            compact_points: 16_384,
            max_head_values: 8_000_000,
            max_head_age: Duration::from_secs(30 * 60),
            idle_flush: Duration::from_secs(3),
            max_series_per_database: 1_000_000,
            log_retention: Duration::from_secs(24 * 3600),
            // A dashboard runs its panels' statements at once (8 panels, up to 3 statements
            // each with the UI's cache); connections beyond the pool are opened and parsed
            // anew per statement. Each idle one keeps at most SQLite's default page caches
            // (2 MiB per attached file), so 16 bound that at 64 MiB.
            readers: 16,
            default_retention: None,
        }
    }
}
