//! A shared cache of the store's recent write-log entries.
//!
//! Every stream task follows the write log on its own (its own position, saved with its
//! state), but they mostly read the same entries at about the same time. Decoding an
//! entry (payload, catalog lookups, owned tags and fields) per task made 100 tasks cost
//! 100 decodings and 100 copies of every write in memory; the cache decodes each entry
//! once and hands out shared references.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tsdb::storage::{WriteEntry, WriteLog};

use super::lock;

/// Points kept decoded; older entries are dropped first (a task that lags further
/// behind reads from the store again).
const CACHE_POINTS: usize = 500_000;

#[derive(Default)]
pub(crate) struct LogCache {
    /// Consecutive entries (by seq), oldest first.
    entries: Mutex<Cached>,
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
