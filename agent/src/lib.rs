//! tigk-agent: a small Telegraf-compatible collector.
//!
//! Data flows one way: inputs gather [`common::Point`]s, the pipeline tags, filters and
//! serializes them once to line protocol, and every output drains its own bounded buffer
//! in batches. Everything runs on plain std threads: one for all inputs, one per output,
//! and one that waits for signals. That keeps the resident size small (no async runtime).
//!
//! - [`config`]: the raw TOML shape (Telegraf's), `${VAR}` substitution, positions in errors.
//! - [`validate`]: raw config → runtime [`validate::AgentConfig`] (durations, filters, defaults).
//! - [`input`]: the [`input::Input`] trait and the system inputs (cpu, mem, swap, system, ...).
//! - [`output`]: the [`output::Output`] trait, `influxdb` and `file` outputs, line protocol.
//! - [`buffer`]: per-output bounded buffers, in memory or on disk, drop-oldest.
//! - [`batch`]: the per-output writer thread: batching, flush timing, retry with backoff.
//! - [`pipeline`]: wires it together; `run`, `--once` and `--test`.
//! - [`stats`]: self-metrics counters surfaced by `[[inputs.internal]]`.
//! - [`log`]: Telegraf-style log lines on stderr.

pub mod batch;
pub mod buffer;
pub mod config;
pub mod error;
pub mod filter;
pub mod input;
pub mod log;
pub mod output;
pub mod pipeline;
pub mod stats;
pub mod validate;

pub use error::{Error, Result};

/// The sample configuration printed by `tigk-agent config`.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");
