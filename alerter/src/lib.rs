//! tigk alerter: TICKscript stream and batch tasks with Kapacitor semantics.
//!
//! Module map:
//! - [`tick`]: the TICKscript front end.
//!   - `tick::lexer`, `tick::parser`, `tick::ast`: text to syntax tree, with
//!     Kapacitor's error messages and positions.
//!   - `tick::catalog`: the node catalogue (chaining and property methods, signatures).
//!   - `tick::check` (private) and `tick::check_nodes` (private): var resolution, graph
//!     building and validation, giving a [`tick::TaskGraph`] (with `to_dot`).
//!   - `tick::lambda`, `tick::functions`: lambda compilation, typing and evaluation,
//!     and the function library (stateful `sigma`/`count`/`spread` included).
//! - [`runtime`]: running a task graph: [`runtime::Task`], the data model
//!   (`runtime::model`) and the nodes (`nodes`, `window`, `influxql`).
//! - [`alert`]: the alert node, events and their JSON, templates, handlers and delivery.
//! - [`api`]: Kapacitor's `/kapacitor/v1/tasks` HTTP API ([`api::router`]).
//! - [`batch`]: batch tasks: query building, schedules, the [`batch::BatchSource`] trait.
//! - [`engine`]: task management ([`engine::Engine`]), `alerter.db` (definitions, state
//!   snapshots with the write-log position, outbox), stream/batch loops, restart replay.
//! - [`testrun`]: offline test runs ([`testrun::test_run`]).
//! - [`options`]: configuration ([`Options`]).
//! - [`gofmt`]: Go's time, float and JSON formatting.
//! - [`error`]: the crate-wide [`Error`].

pub mod alert;
pub mod api;
pub mod batch;
pub mod engine;
pub mod error;
pub mod gofmt;
pub mod options;
pub mod output;
pub mod runtime;
pub mod testrun;
pub mod tick;

pub use error::Error;
pub use options::Options;
