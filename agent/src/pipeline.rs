//! Wires inputs to outputs and runs them: [`Agent::run`] until a signal, [`Agent::once`]
//! (`--once`) and [`Agent::test`] (`--test`).
//!
//! Threads: the caller's thread gathers every input on its own schedule (inputs are quick
//! reads of /proc, so one thread is plenty and costs no extra stacks); each output has a
//! writer thread ([`crate::batch`]). Gathering never waits on the network: it only appends
//! to the outputs' bounded buffers.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Point;

use crate::batch::{Rng, Shared, Timing, Writer};
use crate::buffer::{Buffer, DiskBuffer, MemoryBuffer};
use crate::input::{Accumulator, Input};
use crate::output::line::write_point;
use crate::stats::{InputStats, Stats, add, lock, set};
use crate::validate::{AgentConfig, BufferStrategy, InputSpec, OutputSpec};
use crate::{Error, Result, debug, error, info, warn};

/// A stop request that wakes sleeping threads at once (signals, tests).
#[derive(Default)]
pub struct Shutdown {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Shutdown {
    pub fn new() -> Arc<Shutdown> {
        Arc::new(Shutdown::default())
    }

    pub fn trigger(&self) {
        *lock(&self.stopped) = true;
        self.cv.notify_all();
    }

    pub fn is_triggered(&self) -> bool {
        *lock(&self.stopped)
    }

    /// Sleeps until `deadline`; returns true if shutdown was requested.
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut stopped = lock(&self.stopped);
        loop {
            if *stopped {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = self
                .cv
                .wait_timeout(stopped, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// SIGTERM and SIGINT trigger `shutdown` (then the outputs get one last flush).
pub fn handle_signals(shutdown: Arc<Shutdown>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| Error::io("signal handler", e))?;
    std::thread::Builder::new()
        .name("signals".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                info!("received signal {sig}, shutting down");
                shutdown.trigger();
            }
        })
        .map_err(|e| Error::io("signal thread", e))?;
    Ok(())
}

struct RunningInput {
    spec: InputSpec,
    input: Box<dyn Input>,
    stats: Arc<InputStats>,
    precision: Duration,
    /// The aligned schedule, and the moment (schedule + jitter) of the next gather.
    base: Instant,
    due: Instant,
}

struct RunningOutput {
    spec: OutputSpec,
    shared: Arc<Shared>,
}

pub struct Agent {
    cfg: AgentConfig,
    pub stats: Arc<Stats>,
    inputs: Vec<RunningInput>,
    outputs: Vec<RunningOutput>,
    pending: Vec<(Box<dyn crate::output::Output>, Timing)>,
    rng: Rng,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Telegraf's precision when none is set: the interval's order of magnitude, capped at 1 s.
fn derived_precision(interval: Duration) -> Duration {
    if interval >= Duration::from_secs(1) {
        Duration::from_secs(1)
    } else if interval >= Duration::from_millis(1) {
        Duration::from_millis(1)
    } else if interval >= Duration::from_micros(1) {
        Duration::from_micros(1)
    } else {
        Duration::from_nanos(1)
    }
}

fn round_to(ts: i64, precision: Duration) -> i64 {
    let p = precision.as_nanos().max(1) as i64;
    (ts + p / 2).div_euclid(p) * p
}

impl Agent {
    /// Builds inputs, outputs and buffers (opening disk buffers); starts nothing yet.
    pub fn new(cfg: AgentConfig) -> Result<Agent> {
        if cfg.agent.debug {
            crate::log::set_debug(true);
        }
        if cfg.agent.quiet {
            crate::log::set_quiet(true);
        }
        let stats = Arc::new(Stats::default());
        let now = Instant::now();
        let mut inputs = Vec::new();
        for spec in &cfg.inputs {
            let input = spec.kind.build(&stats)?;
            let precision = cfg
                .agent
                .precision
                .unwrap_or_else(|| derived_precision(spec.interval));
            let stats = stats.register_input(spec.kind.name(), spec.alias.clone());
            inputs.push(RunningInput {
                spec: spec.clone(),
                input,
                stats,
                precision,
                base: now,
                due: now,
            });
        }
        let mut outputs = Vec::new();
        let mut pending = Vec::new();
        for spec in &cfg.outputs {
            let name = spec.kind.name();
            let label = match &spec.alias {
                Some(a) => format!("outputs.{name}::{a}"),
                None => format!("outputs.{name}"),
            };
            let stats = stats.register_output(name, spec.alias.clone(), spec.buffer_limit);
            let buffer: Box<dyn Buffer> = match &spec.buffer {
                BufferStrategy::Memory => {
                    Box::new(MemoryBuffer::new(spec.buffer_limit, spec.batch_size))
                }
                BufferStrategy::Disk(dir) => {
                    let (b, dropped) = DiskBuffer::open(dir, spec.buffer_limit)?;
                    if !b.is_empty() {
                        info!(
                            "[{label}] replaying {} buffered metrics from {}",
                            b.len(),
                            dir.display()
                        );
                    }
                    if dropped > 0 {
                        warn!(
                            "[{label}] dropped {dropped} buffered metrics over metric_buffer_limit"
                        );
                        add(&stats.metrics_dropped, dropped as u64);
                    }
                    Box::new(b)
                }
            };
            let shared = Shared::new(label, buffer, spec.batch_size, stats);
            let timing = Timing {
                flush_interval: spec.flush_interval,
                flush_jitter: spec.flush_jitter,
                retry: spec.retry,
            };
            pending.push((spec.kind.build()?, timing));
            outputs.push(RunningOutput {
                spec: spec.clone(),
                shared,
            });
        }
        Ok(Agent {
            cfg,
            stats,
            inputs,
            outputs,
            pending,
            rng: Rng::seeded(),
        })
    }

    /// Runs until `shutdown`, then flushes each output once more and returns.
    pub fn run(mut self, shutdown: Arc<Shutdown>) -> Result<()> {
        let writers = self.start_writers()?;
        info!(
            "started: {} inputs, {} outputs, interval {:?}, flush_interval {:?}",
            self.inputs.len(),
            self.outputs.len(),
            self.cfg.agent.interval,
            self.cfg.agent.flush_interval
        );
        self.schedule_first();
        while !self.inputs.is_empty() {
            let Some(due) = self.inputs.iter().map(|i| i.due).min() else {
                break;
            };
            if shutdown.wait_until(due) {
                break;
            }
            let now = Instant::now();
            for idx in 0..self.inputs.len() {
                if self.inputs[idx].due <= now {
                    self.gather(idx);
                    self.schedule_next(idx, now);
                }
            }
        }
        if self.inputs.is_empty() {
            shutdown.wait_until(Instant::now() + Duration::from_secs(u64::MAX / 4));
        }
        self.stop_writers(writers);
        Ok(())
    }

    /// `--once`: one gather (two for inputs that need a previous sample), one flush, exit.
    pub fn once(mut self) -> Result<()> {
        let writers = self.start_writers()?;
        self.warm_up();
        for idx in 0..self.inputs.len() {
            self.gather(idx);
        }
        self.stop_writers(writers);
        let failed: u64 = self
            .outputs
            .iter()
            .map(|o| o.shared.buffered() as u64)
            .sum();
        if failed > 0 {
            return Err(Error::Transient(format!(
                "{failed} metrics could not be written"
            )));
        }
        Ok(())
    }

    /// `--test`: one gather printed as line protocol; outputs are not contacted.
    pub fn test(mut self, out: &mut impl std::io::Write) -> Result<()> {
        self.warm_up();
        for idx in 0..self.inputs.len() {
            let points = self.collect(idx);
            let mut text = String::new();
            for p in &points {
                if write_point(&mut text, p) {
                    text.push('\n');
                }
            }
            out.write_all(text.as_bytes())
                .map_err(|e| Error::io("stdout", e))?;
        }
        Ok(())
    }

    fn warm_up(&mut self) {
        let mut waited = false;
        for ri in self.inputs.iter_mut().filter(|i| i.input.needs_warmup()) {
            let mut acc = Accumulator::new(now_ns());
            if let Err(e) = ri.input.gather(&mut acc) {
                debug!("warm-up: {e}");
            }
            waited = true;
        }
        if waited {
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn start_writers(&mut self) -> Result<Vec<JoinHandle<()>>> {
        let mut handles = Vec::new();
        for (out, (output, timing)) in self.outputs.iter().zip(self.pending.drain(..)) {
            handles.push(
                Writer::spawn(out.shared.clone(), output, timing)
                    .map_err(|e| Error::io("writer thread", e))?,
            );
        }
        Ok(handles)
    }

    fn stop_writers(&self, writers: Vec<JoinHandle<()>>) {
        for o in &self.outputs {
            o.shared.stop();
        }
        for w in writers {
            if w.join().is_err() {
                error!("an output thread panicked");
            }
        }
    }

    /// With round_interval, the first gather waits for the next multiple of the interval
    /// (wall clock), so hosts gather at :00, :10, ... and their points line up.
    fn schedule_first(&mut self) {
        let now = Instant::now();
        let wall = now_ns();
        for idx in 0..self.inputs.len() {
            let ri = &self.inputs[idx];
            let interval = ri.spec.interval.as_nanos().max(1) as i64;
            let wait = if self.cfg.agent.round_interval {
                Duration::from_nanos((interval - wall.rem_euclid(interval)) as u64)
            } else {
                Duration::ZERO
            };
            let base = now + wait + self.cfg.agent.collection_offset;
            let jitter = self.rng.below(self.cfg.agent.collection_jitter);
            let ri = &mut self.inputs[idx];
            ri.base = base;
            ri.due = base + jitter;
        }
    }

    /// The next slot after `now`; slots missed while a gather was slow are skipped, not queued.
    fn schedule_next(&mut self, idx: usize, now: Instant) {
        let jitter = self.rng.below(self.cfg.agent.collection_jitter);
        let ri = &mut self.inputs[idx];
        let interval = ri.spec.interval.max(Duration::from_millis(1));
        ri.base += interval;
        if ri.base <= now {
            let behind = now - ri.base;
            let skip = (behind.as_nanos() / interval.as_nanos()) as u32 + 1;
            ri.base += interval * skip;
        }
        ri.due = ri.base + jitter;
    }

    /// Gathers one input and applies tags and selectors; no outputs involved.
    fn collect(&mut self, idx: usize) -> Vec<Point> {
        let global = &self.cfg.global_tags;
        let ri = &mut self.inputs[idx];
        let start = Instant::now();
        let mut acc = Accumulator::new(round_to(now_ns(), ri.precision));
        if let Err(e) = ri.input.gather(&mut acc) {
            add(&ri.stats.errors, 1);
            error!("{e}");
        }
        set(&ri.stats.gather_time_ns, start.elapsed().as_nanos() as u64);
        let mut points = acc.points;
        points.retain_mut(|p| {
            if let Some(n) = &ri.spec.name_override {
                p.measurement = n.clone();
            }
            if let Some(pre) = &ri.spec.name_prefix {
                p.measurement.insert_str(0, pre);
            }
            if let Some(suf) = &ri.spec.name_suffix {
                p.measurement.push_str(suf);
            }
            if !ri.spec.filter.apply(p) {
                return false;
            }
            // Input tags override what the input set; global tags (and host) never do.
            for (k, v) in &ri.spec.tags {
                match p.tags.iter_mut().find(|(tk, _)| tk == k) {
                    Some(t) => t.1 = v.clone(),
                    None => p.tags.push((k.clone(), v.clone())),
                }
            }
            for (k, v) in global {
                if !p.tags.iter().any(|(tk, _)| tk == k) {
                    p.tags.push((k.clone(), v.clone()));
                }
            }
            p.tags.sort_by(|a, b| a.0.cmp(&b.0));
            true
        });
        add(&ri.stats.metrics_gathered, points.len() as u64);
        points
    }

    fn gather(&mut self, idx: usize) {
        let points = self.collect(idx);
        if points.is_empty() {
            return;
        }
        // Serialize once for every output without selectors of its own.
        let mut shared_lines: Option<Vec<Arc<str>>> = None;
        for out in &self.outputs {
            let lines = if out.spec.filter.is_empty() {
                shared_lines
                    .get_or_insert_with(|| serialize(points.iter()))
                    .clone()
            } else {
                let mut kept = Vec::with_capacity(points.len());
                for p in &points {
                    let mut p = p.clone();
                    if out.spec.filter.apply(&mut p) {
                        kept.push(p);
                    }
                }
                add(
                    &out.shared.stats.metrics_filtered,
                    (points.len() - kept.len()) as u64,
                );
                serialize(kept.iter())
            };
            out.shared.add(lines);
        }
    }
}

fn serialize<'a>(points: impl Iterator<Item = &'a Point>) -> Vec<Arc<str>> {
    let mut buf = String::new();
    points
        .filter_map(|p| {
            buf.clear();
            write_point(&mut buf, p).then(|| Arc::from(buf.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_and_rounding() {
        assert_eq!(
            derived_precision(Duration::from_secs(10)),
            Duration::from_secs(1)
        );
        assert_eq!(
            derived_precision(Duration::from_millis(100)),
            Duration::from_millis(1)
        );
        assert_eq!(
            round_to(1_700_000_000_499_999_999, Duration::from_secs(1)),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            round_to(1_700_000_000_500_000_000, Duration::from_secs(1)),
            1_700_000_001_000_000_000
        );
    }
}
