//! The writer thread of one output: takes batches from its buffer, writes them when a batch
//! is full or the flush interval has passed, and retries failures with exponential backoff.
//!
//! Differences from Telegraf, on purpose: a failed write is retried after a growing, jittered
//! delay instead of every flush interval (a down server is not hammered by a fleet in step),
//! and a 413 splits the batch instead of dropping it.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::buffer::Buffer;
use crate::output::Output;
use crate::stats::{OutputStats, add, lock, set};
use crate::validate::RetryPolicy;
use crate::{Error, debug, error, info, warn};

/// The side of an output that the gather thread sees.
pub struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    pub stats: Arc<OutputStats>,
    /// `outputs.influxdb` (or `outputs.influxdb::alias`) for log lines.
    pub label: String,
    batch_size: usize,
}

struct State {
    buffer: Box<dyn Buffer>,
    /// The last write failed: suppresses the early "batch is full" trigger, as in Telegraf,
    /// so that retries follow the backoff.
    failing: bool,
    stop: bool,
    /// Overflow drops not yet reported in the log.
    unlogged_drops: u64,
}

impl Shared {
    pub fn new(
        label: String,
        buffer: Box<dyn Buffer>,
        batch_size: usize,
        stats: Arc<OutputStats>,
    ) -> Arc<Shared> {
        set(&stats.buffer_size, buffer.len() as u64);
        Arc::new(Shared {
            state: Mutex::new(State {
                buffer,
                failing: false,
                stop: false,
                unlogged_drops: 0,
            }),
            wake: Condvar::new(),
            stats,
            label,
            batch_size: batch_size.max(1),
        })
    }

    /// Queues lines for writing; never blocks on the network.
    pub fn add(&self, lines: Vec<Arc<str>>) {
        if lines.is_empty() {
            return;
        }
        let n = lines.len() as u64;
        let mut st = lock(&self.state);
        let dropped = match st.buffer.push(lines) {
            Ok(d) => d as u64,
            Err(e) => {
                error!("[{}] buffering {n} metrics: {e}", self.label);
                n
            }
        };
        add(&self.stats.metrics_added, n);
        if dropped > 0 {
            add(&self.stats.metrics_dropped, dropped);
            st.unlogged_drops += dropped;
        }
        set(&self.stats.buffer_size, st.buffer.len() as u64);
        if !st.failing && st.buffer.len() >= self.batch_size {
            self.wake.notify_all();
        }
    }

    /// Asks the writer to do one last flush and exit.
    pub fn stop(&self) {
        lock(&self.state).stop = true;
        self.wake.notify_all();
    }

    pub fn buffered(&self) -> usize {
        lock(&self.state).buffer.len()
    }
}

/// Timing of one output.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub flush_interval: Duration,
    pub flush_jitter: Duration,
    pub retry: RetryPolicy,
}

pub struct Writer {
    shared: Arc<Shared>,
    output: Box<dyn Output>,
    timing: Timing,
    rng: Rng,
}

impl Writer {
    pub fn spawn(
        shared: Arc<Shared>,
        output: Box<dyn Output>,
        timing: Timing,
    ) -> std::io::Result<JoinHandle<()>> {
        let w = Writer {
            shared: shared.clone(),
            output,
            timing,
            rng: Rng::seeded(),
        };
        std::thread::Builder::new()
            .name(shared.label.clone())
            .stack_size(256 * 1024)
            .spawn(move || w.run())
    }

    fn run(mut self) {
        let mut failures: u32 = 0;
        let mut next = Instant::now() + self.flush_delay();
        loop {
            let stopping = {
                let mut st = lock(&self.shared.state);
                loop {
                    if st.stop {
                        break;
                    }
                    let now = Instant::now();
                    if now >= next || (!st.failing && st.buffer.len() >= self.shared.batch_size) {
                        break;
                    }
                    st = self
                        .shared
                        .wake
                        .wait_timeout(st, next - now)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
                st.stop
            };
            let ok = self.flush();
            if stopping {
                let left = self.shared.buffered();
                if left > 0 {
                    warn!(
                        "[{}] exiting with {left} metrics not written",
                        self.shared.label
                    );
                }
                return;
            }
            if ok {
                failures = 0;
                next = Instant::now() + self.flush_delay();
            } else {
                failures = failures.saturating_add(1);
                let delay = self.backoff(failures);
                debug!("[{}] retrying in {delay:?}", self.shared.label);
                next = Instant::now() + delay;
            }
        }
    }

    fn flush_delay(&mut self) -> Duration {
        self.timing.flush_interval + self.rng.below(self.timing.flush_jitter)
    }

    /// `initial · 2^(n-1)`, capped, then jittered into [d/2, d] so a fleet spreads out.
    fn backoff(&mut self, failures: u32) -> Duration {
        let RetryPolicy { initial, max } = self.timing.retry;
        let d = initial
            .saturating_mul(1u32 << (failures - 1).min(20))
            .min(max);
        d / 2 + self.rng.below(d / 2)
    }

    /// Writes `len/batch + 1` batches, like Telegraf, stopping at the first failure.
    /// Returns false when a write failed and the rest stays buffered.
    fn flush(&mut self) -> bool {
        let label = self.shared.label.clone();
        let batches = {
            let mut st = lock(&self.shared.state);
            if st.unlogged_drops > 0 {
                warn!(
                    "[{label}] Metric buffer overflow; {} metrics have been dropped",
                    st.unlogged_drops
                );
                st.unlogged_drops = 0;
            }
            st.buffer.len() / self.shared.batch_size + 1
        };
        for _ in 0..batches {
            let peeked = lock(&self.shared.state).buffer.peek(self.shared.batch_size);
            let (seq, lines) = match peeked {
                Ok(p) => p,
                Err(e) => {
                    error!("[{label}] reading buffer: {e}");
                    return false;
                }
            };
            if lines.is_empty() {
                return true;
            }
            let start = Instant::now();
            let (done, err) = self.send(&lines);
            set(
                &self.shared.stats.write_time_ns,
                start.elapsed().as_nanos() as u64,
            );
            let mut st = lock(&self.shared.state);
            if let Err(e) = st.buffer.consume(seq + done as u64) {
                error!("[{label}] {e}");
            }
            set(&self.shared.stats.buffer_size, st.buffer.len() as u64);
            st.failing = err.is_some();
            if let Some(e) = err {
                add(&self.shared.stats.errors, 1);
                error!(
                    "[{label}] when writing to the output: {e}; {} metrics kept for retry",
                    st.buffer.len()
                );
                return false;
            }
            debug!(
                "[{label}] wrote batch of {} metrics in {:?}",
                lines.len(),
                start.elapsed()
            );
        }
        true
    }

    /// Sends a batch, splitting it on 413. Returns how many lines from the front are finished
    /// (written or deliberately dropped) and the error that stopped the rest, if any.
    fn send(&mut self, lines: &[Arc<str>]) -> (usize, Option<Error>) {
        let stats = &self.shared.stats;
        match self.output.write(lines) {
            Ok(()) => {
                add(&stats.metrics_written, lines.len() as u64);
                (lines.len(), None)
            }
            Err(Error::TooLarge) if lines.len() > 1 => {
                let mid = lines.len() / 2;
                info!(
                    "[{}] request too large, splitting a batch of {}",
                    self.shared.label,
                    lines.len()
                );
                let (a, err) = self.send(&lines[..mid]);
                if err.is_some() {
                    return (a, err);
                }
                let (b, err) = self.send(&lines[mid..]);
                (mid + b, err)
            }
            Err(Error::TooLarge) => {
                add(&stats.metrics_dropped, 1);
                error!(
                    "[{}] a single metric is too large for the server; dropped: {:.200}",
                    self.shared.label, lines[0]
                );
                (1, None)
            }
            Err(Error::Rejected(msg)) => {
                add(&stats.metrics_dropped, lines.len() as u64);
                add(&stats.errors, 1);
                error!(
                    "[{}] {msg}; the batch of {} metrics will be dropped",
                    self.shared.label,
                    lines.len()
                );
                (lines.len(), None)
            }
            Err(e) => (0, Some(e)),
        }
    }
}

/// xorshift64*: jitter only needs to spread hosts apart, not be unpredictable.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Rng {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let addr = &t as *const u64 as u64;
        Rng((t ^ addr.rotate_left(32) ^ u64::from(std::process::id())) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, d).
    pub fn below(&mut self, d: Duration) -> Duration {
        let nanos = d.as_nanos() as u64;
        if nanos == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.next_u64() % nanos)
        }
    }
}
