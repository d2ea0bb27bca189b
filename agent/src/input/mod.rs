//! Inputs: the [`Input`] trait, the [`Accumulator`] they fill, and the registry of built-in
//! inputs ([`InputKind`], one variant per `[[inputs.NAME]]`).
//!
//! Measurement, tag and field names and types follow Telegraf (spec influx.md §5.1) so that
//! dashboards and alerts written for Telegraf work unchanged. Counters Telegraf stores as
//! uint64 are emitted as integers, saturating at `i64::MAX` as Telegraf's serializer does.

use std::sync::Arc;

use common::{FieldValue, Point};

use crate::stats::Stats;
use crate::{Error, Result};

pub mod cpu;
pub mod disk;
pub mod diskio;
pub mod internal;
pub mod kernel;
pub mod mem;
pub mod net;
pub mod processes;
pub mod procstat;
pub mod swap;
pub mod system;

/// A source of points, gathered on the agent's schedule from one thread.
pub trait Input: Send {
    /// True when the first gather only primes a delta (cpu): `--test` and `--once` then
    /// gather twice, half a second apart, as Telegraf does.
    fn needs_warmup(&self) -> bool {
        false
    }

    fn gather(&mut self, acc: &mut Accumulator) -> Result<()>;
}

/// Collects the points of one gather; they all share the gather's (rounded) timestamp so that
/// a retried write is idempotent at the store.
pub struct Accumulator {
    pub timestamp: i64,
    pub points: Vec<Point>,
}

impl Accumulator {
    pub fn new(timestamp: i64) -> Accumulator {
        Accumulator {
            timestamp,
            points: Vec::new(),
        }
    }

    pub fn add(&mut self, measurement: &str, tags: Vec<(String, String)>, fields: Fields) {
        if fields.0.is_empty() {
            return;
        }
        self.points.push(Point {
            measurement: measurement.to_string(),
            tags,
            fields: fields.0,
            timestamp: Some(self.timestamp),
        });
    }
}

/// Field list builder with the conversions Telegraf applies.
#[derive(Debug, Default)]
pub struct Fields(pub Vec<(String, FieldValue)>);

impl Fields {
    pub fn int(&mut self, key: &str, v: u64) -> &mut Self {
        self.0.push((
            key.to_string(),
            FieldValue::Integer(i64::try_from(v).unwrap_or(i64::MAX)),
        ));
        self
    }

    pub fn signed(&mut self, key: &str, v: i64) -> &mut Self {
        self.0.push((key.to_string(), FieldValue::Integer(v)));
        self
    }

    /// NaN and infinities are left out: line protocol cannot carry them (Telegraf drops them too).
    pub fn float(&mut self, key: &str, v: f64) -> &mut Self {
        if v.is_finite() {
            self.0.push((key.to_string(), FieldValue::Float(v)));
        }
        self
    }

    pub fn string(&mut self, key: &str, v: String) -> &mut Self {
        self.0.push((key.to_string(), FieldValue::String(v)));
        self
    }
}

pub(crate) fn tag(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// One `[[inputs.NAME]]` after validation, with its plugin-specific options.
#[derive(Debug, Clone)]
pub enum InputKind {
    Cpu(cpu::CpuOptions),
    Mem,
    Swap,
    System,
    Disk(disk::DiskOptions),
    Diskio(diskio::DiskioOptions),
    Net(net::NetOptions),
    Processes,
    Kernel,
    Internal(internal::InternalOptions),
}

impl InputKind {
    /// The plugin name as written in `[[inputs.NAME]]`.
    pub fn name(&self) -> &'static str {
        match self {
            InputKind::Cpu(_) => "cpu",
            InputKind::Mem => "mem",
            InputKind::Swap => "swap",
            InputKind::System => "system",
            InputKind::Disk(_) => "disk",
            InputKind::Diskio(_) => "diskio",
            InputKind::Net(_) => "net",
            InputKind::Processes => "processes",
            InputKind::Kernel => "kernel",
            InputKind::Internal(_) => "internal",
        }
    }

    pub fn build(&self, stats: &Arc<Stats>) -> Result<Box<dyn Input>> {
        if !cfg!(target_os = "linux") && !matches!(self, InputKind::Internal(_)) {
            return Err(Error::Config(format!(
                "[inputs.{}] is only implemented on Linux so far",
                self.name()
            )));
        }
        Ok(match self {
            InputKind::Cpu(o) => Box::new(cpu::Cpu::new(o.clone())),
            InputKind::Mem => Box::new(mem::Mem),
            InputKind::Swap => Box::new(swap::Swap),
            InputKind::System => Box::new(system::System),
            InputKind::Disk(o) => Box::new(disk::Disk::new(o.clone())),
            InputKind::Diskio(o) => Box::new(diskio::Diskio::new(o.clone())),
            InputKind::Net(o) => Box::new(net::Net::new(o.clone())),
            InputKind::Processes => Box::new(processes::Processes),
            InputKind::Kernel => Box::new(kernel::Kernel),
            InputKind::Internal(o) => Box::new(internal::Internal::new(o.clone(), stats.clone())),
        })
    }
}

/// Maps a procfs error to a gather error of `input`.
pub(crate) fn proc_err(input: &'static str) -> impl Fn(procfs::ProcError) -> Error {
    move |e| Error::gather(input, e)
}
