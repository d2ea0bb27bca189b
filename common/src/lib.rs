//! Types shared by the agent and the server: the [`Point`] model and InfluxDB line protocol.
//!
//! This crate does no I/O so that the agent can depend on it without linking the store.
//!
//! - [`point`]: `Point`, `PointRef`, `FieldValue`, `FieldType`.
//! - [`line_protocol`]: the 1.x parser (borrowing, line/column errors) and writer.

#![warn(missing_docs)]

pub mod line_protocol;
pub mod point;
pub mod time;

pub use point::{FieldType, FieldValue, FieldValueRef, Point, PointRef};
