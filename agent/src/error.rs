//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong in the agent library.
///
/// The three write variants are how an output tells the writer thread what to do with a batch;
/// they are errors because they are, but the writer treats them as instructions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; the message already carries `file:line:col` when known.
    #[error("{0}")]
    Config(String),

    /// The I/O error is part of the message rather than a `source`, so that `{:#}` in the
    /// binary does not print it twice.
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },

    /// An input failed to gather; the other inputs carry on.
    #[error("[inputs.{input}] {message}")]
    Gather {
        input: &'static str,
        message: String,
    },

    /// The server refused the batch for good (4xx): retrying would fail the same way.
    #[error("{0}")]
    Rejected(String),

    /// The server answered 413: the batch must be split.
    #[error("request entity too large")]
    TooLarge,

    /// 5xx, 429, timeouts and connection errors: keep the batch and retry later.
    #[error("{0}")]
    Transient(String),

    /// The disk buffer found data it cannot use.
    #[error("disk buffer {path}: {message}")]
    Buffer { path: PathBuf, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            err: source,
        }
    }

    pub(crate) fn gather(input: &'static str, message: impl std::fmt::Display) -> Error {
        Error::Gather {
            input,
            message: message.to_string(),
        }
    }
}
