//! A shared cache of the store's recent write-log entries.
//!
//! Every stream task follows the write log on its own (its own position, saved with its
//! state), but they mostly read the same entries at about the same time. Decoding an
//! entry (payload, catalog lookups, owned tags and fields) per task made 100 tasks cost
//! 100 decodings and 100 copies of every write in memory; the cache decodes each entry
//! once and hands out shared references.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tsdb::storage::{WriteEntry, WriteLog};

use super::lock;

/// Points kept decoded; older entries are dropped first (a task that lags further
/// behind reads from the store again).
const CACHE_POINTS: usize = 500_000;

/// Write-log entries whose lineage is remembered; the oldest are forgotten first.
const LINEAGE_ENTRIES: usize = 100_000;

/// The stream tasks whose `influxDBOut` produced a write-log entry, directly or from
/// points another task produced.
pub(crate) type Lineage = Arc<BTreeSet<String>>;

#[derive(Default)]
pub(crate) struct LogCache {
    /// Consecutive entries (by seq), oldest first.
    entries: Mutex<Cached>,
    /// Lineage of the entries the alerter wrote itself, and its writes in flight.
    lineage: Mutex<Lineages>,
    /// Signalled when a write in flight has its lineage recorded (or failed).
    settled: Condvar,
}

#[derive(Default)]
struct Lineages {
    by_seq: BTreeMap<u64, Lineage>,
    /// Writes sent but not yet marked: token -> the committed seq when sent (the
    /// write's own seq is above it).
    in_flight: BTreeMap<u64, u64>,
    next_token: u64,
}

/// How long a reader waits for a write in flight to be marked before it goes on
/// without (a slow write then loops once more, as after a restart).
const SETTLE_WAIT: Duration = Duration::from_secs(5);

/// A write of the alerter's in flight: entries after `floor` may be it. Dropping it
/// without [`InFlight::done`] (a failed or abandoned write) releases the readers.
pub(crate) struct InFlight<'a> {
    cache: &'a LogCache,
    token: u64,
}

impl InFlight<'_> {
    /// The write committed as entry `seq` (0: nothing written).
    pub(crate) fn done(self, seq: u64, tasks: Lineage) {
        if seq > 0 {
            let mut l = lock(&self.cache.lineage);
            l.by_seq.insert(seq, tasks);
            while l.by_seq.len() > LINEAGE_ENTRIES {
                l.by_seq.pop_first();
            }
        }
        // Drop removes it from in_flight and wakes the readers.
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.cache.lineage).in_flight.remove(&self.token);
        self.cache.settled.notify_all();
    }
}

#[derive(Default)]
struct Cached {
    entries: VecDeque<Arc<WriteEntry>>,
    points: usize,
}

impl Cached {
    fn push(&mut self, e: Arc<WriteEntry>) {
        match self.entries.back() {
            Some(b) if b.seq >= e.seq => return,
            Some(b) if b.seq + 1 != e.seq => self.clear(),
            _ => {}
        }
        self.points += e.points.len();
        self.entries.push_back(e);
        while self.points > CACHE_POINTS && self.entries.len() > 1 {
            if let Some(f) = self.entries.pop_front() {
                self.points -= f.points.len();
            }
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.points = 0;
    }

    /// Up to `max` cached entries after `after`, if the cache holds `after + 1`.
    fn after(&self, after: u64, max: usize) -> Option<Vec<Arc<WriteEntry>>> {
        let first = self.entries.front()?.seq;
        if first > after + 1 {
            return None;
        }
        let skip = (after + 1 - first) as usize;
        if skip >= self.entries.len() {
            return None;
        }
        Some(self.entries.iter().skip(skip).take(max).cloned().collect())
    }
}

impl LogCache {
    /// Up to `max` entries with `seq > after`, from the cache when it has them, else
    /// from the store (and then cached). The lock is held while reading the store, so
    /// that tasks arriving at the same entries wait for one decoding instead of each
    /// doing their own.
    pub(crate) fn read_after(
        &self,
        store: &tsdb::Store,
        after: u64,
        max: usize,
    ) -> Result<Vec<Arc<WriteEntry>>, tsdb::Error> {
        let mut c = lock(&self.entries);
        if let Some(hit) = c.after(after, max) {
            return Ok(hit);
        }
        let read: Vec<Arc<WriteEntry>> = store
            .read_after(after, max)?
            .into_iter()
            .map(Arc::new)
            .collect();
        for e in &read {
            c.push(e.clone());
        }
        Ok(read)
    }

    /// Who produced entry `seq` (`None`: a write from outside the alerter, or one
    /// written before this process started or long ago).
    ///
    /// Self-feeding loops (a task writing where it reads, or two tasks feeding each
    /// other) end here: a task is never fed an entry in whose lineage it is, so a
    /// point goes round a loop of tasks at most once. The lineage lives in memory:
    /// after a restart a replayed entry goes round once more, still a bounded amount.
    ///
    /// An entry may be visible before its writer has recorded its lineage (the store
    /// publishes a commit before answering the write): while a write sent when the log
    /// ended below `seq` is in flight, this waits for it.
    pub(crate) fn lineage(&self, seq: u64) -> Option<Lineage> {
        let l = lock(&self.lineage);
        let (l, _) = self
            .settled
            .wait_timeout_while(l, SETTLE_WAIT, |l| {
                l.in_flight.values().any(|&floor| floor < seq)
            })
            .unwrap_or_else(|p| p.into_inner());
        l.by_seq.get(&seq).cloned()
    }

    /// Announces a write of the alerter's, sent when the log's newest entry was
    /// `floor`; mark it with [`InFlight::done`] once it is committed.
    pub(crate) fn begin_write(&self, floor: u64) -> InFlight<'_> {
        let mut l = lock(&self.lineage);
        let token = l.next_token;
        l.next_token += 1;
        l.in_flight.insert(token, floor);
        InFlight { cache: self, token }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Arc<WriteEntry> {
        Arc::new(WriteEntry {
            seq,
            database: "db".into(),
            retention_policy: "autogen".into(),
            points: Vec::new(),
        })
    }

    #[test]
    fn serves_consecutive_entries_only() {
        let mut c = Cached::default();
        for s in 3..=6 {
            c.push(entry(s));
        }
        let seqs = |v: Option<Vec<Arc<WriteEntry>>>| {
            v.map(|v| v.iter().map(|e| e.seq).collect::<Vec<_>>())
        };
        assert_eq!(seqs(c.after(2, 10)), Some(vec![3, 4, 5, 6]));
        assert_eq!(seqs(c.after(4, 1)), Some(vec![5]));
        assert_eq!(seqs(c.after(1, 10)), None, "seq 2 is not cached");
        assert_eq!(seqs(c.after(6, 10)), None, "nothing newer cached");
        c.push(entry(9));
        assert_eq!(seqs(c.after(2, 10)), None, "a gap restarts the cache");
        assert_eq!(seqs(c.after(8, 10)), Some(vec![9]));
    }
}
