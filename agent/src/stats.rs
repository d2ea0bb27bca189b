//! Self-metrics: counters the pipeline bumps and `[[inputs.internal]]` reports, named as
//! Telegraf's `internal_gather` and `internal_write` fields.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct InputStats {
    pub name: &'static str,
    pub alias: Option<String>,
    pub metrics_gathered: AtomicU64,
    /// Duration of the last gather.
    pub gather_time_ns: AtomicU64,
    pub errors: AtomicU64,
}

#[derive(Debug, Default)]
pub struct OutputStats {
    pub name: &'static str,
    pub alias: Option<String>,
    pub buffer_limit: u64,
    pub buffer_size: AtomicU64,
    pub metrics_added: AtomicU64,
    pub metrics_written: AtomicU64,
    /// Overflowed out of the buffer, or refused by the server (4xx).
    pub metrics_dropped: AtomicU64,
    pub metrics_filtered: AtomicU64,
    /// Duration of the last write.
    pub write_time_ns: AtomicU64,
    pub errors: AtomicU64,
}

/// Registry of every plugin's counters, shared by the pipeline and the internal input.
#[derive(Debug, Default)]
pub struct Stats {
    inputs: Mutex<Vec<Arc<InputStats>>>,
    outputs: Mutex<Vec<Arc<OutputStats>>>,
}

impl Stats {
    pub fn register_input(&self, name: &'static str, alias: Option<String>) -> Arc<InputStats> {
        let s = Arc::new(InputStats {
            name,
            alias,
            ..Default::default()
        });
        lock(&self.inputs).push(s.clone());
        s
    }

    pub fn register_output(
        &self,
        name: &'static str,
        alias: Option<String>,
        buffer_limit: usize,
    ) -> Arc<OutputStats> {
        let s = Arc::new(OutputStats {
            name,
            alias,
            buffer_limit: buffer_limit as u64,
            ..Default::default()
        });
        lock(&self.outputs).push(s.clone());
        s
    }

    pub fn inputs(&self) -> Vec<Arc<InputStats>> {
        lock(&self.inputs).clone()
    }

    pub fn outputs(&self) -> Vec<Arc<OutputStats>> {
        lock(&self.outputs).clone()
    }
}

/// A poisoned lock only means another thread panicked while holding it; the counters inside
/// are still meaningful, so carry on rather than spread the panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

pub(crate) fn set(c: &AtomicU64, n: u64) {
    c.store(n, Ordering::Relaxed);
}
