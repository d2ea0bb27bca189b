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
//! - [`error`]: the crate-wide [`Error`].

pub mod error;
pub mod tick;

pub use error::Error;
