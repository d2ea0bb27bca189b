//! A remote InfluxDB 1.x-API engine (InfluxDB 1.x OSS or Enterprise, or any engine speaking
//! `/query` and `/write`) as tigk's storage backend.
//!
//! - [`Client`]: `/query` (JSON, `epoch=ns`, not chunked) and `/write` with Basic or Token
//!   auth over several URLs: a connection error or a 5xx moves on to the next URL, and after a
//!   full round a short back-off precedes the next one. The URL that answered is kept.
//! - [`RemoteSource`]: the client as the UI's [`ui::DataSource`] (read-only statements only)
//!   and the alerter's [`alerter::batch::BatchSource`].
//! - [`QueryProxy`]: tigk's `/query` answered by the engine, for what tigk's caller may read.
//! - [`RemoteOutput`]: where tasks' `influxDBOut` points go (the alerter's
//!   [`alerter::output::PointOutput`]): the engine, not the local spool.
//! - [`gap`]: the points missed while tigk was down, asked for by time after a restart.
//! - [`subscription`]: registers the InfluxDB subscriptions through which the engine pushes
//!   every write to tigk's `/write`, where stream tasks read them from the local write log.
//!
//! The client is blocking (ureq); the trait implementations run it on tokio's blocking pool.

mod client;
pub mod gap;
mod output;
mod proxy;
mod source;
pub mod subscription;

pub use client::{Auth, Client, ClientConfig, load_ca};
pub use output::RemoteOutput;
pub use proxy::{QueryProxy, reads_only};
pub use source::RemoteSource;

/// What can go wrong talking to the remote engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No URL answered (connection errors or 5xx on every one, after the retries).
    #[error("the remote engine is unavailable: {0}")]
    Unavailable(String),
    /// The engine refused the credentials (401/403).
    #[error("the remote engine refused the credentials: {0}")]
    Auth(String),
    /// The engine answered the request with an error (a 4xx, or a statement's error).
    #[error("{0}")]
    Query(String),
    /// The answer was not what 1.x sends.
    #[error("unexpected answer from the remote engine: {0}")]
    Protocol(String),
    /// A configuration value is unusable.
    #[error("{0}")]
    Config(String),
}
