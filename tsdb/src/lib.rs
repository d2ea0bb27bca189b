//! tigk's time-series store: InfluxDB 1.x's data model on SQLite.
//!
//! ```text
//!   http  ──▶  storage::Store::write      (line protocol parsed in `common`)
//!   http  ──▶  query (InfluxQL)  ──▶  storage reads
//! ```
//!
//! - [`storage`]: the store (write log, head, compressed chunks, catalog) and the
//!   [`storage::WriteLog`] subscription other crates use to follow writes.
//! - [`codec`]: chunk compression.
//! - [`auth`]: users and tokens.
//! - [`http`]: InfluxDB 1.x's HTTP API (`/ping`, `/write`, `/api/v2/write`, `/query`).

pub mod auth;
pub mod codec;
mod error;
pub mod http;
pub mod query;
pub mod storage;

pub use error::{Error, Result};
pub use storage::{Store, StoreOptions};
