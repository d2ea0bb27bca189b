//! The one error type of the `tsdb` crate.

use common::FieldType;

/// Everything the store, the query engine and the auth layer can fail with. The HTTP
/// layer maps each variant to a status code in one place (`http::error`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database is required")]
    DatabaseRequired,
    #[error("database not found: \"{0}\"")]
    DatabaseNotFound(String),
    #[error("retention policy not found: {0}")]
    RetentionPolicyNotFound(String),
    #[error("retention policy already exists")]
    RetentionPolicyExists,
    #[error(
        "field type conflict: input field \"{field}\" on measurement \"{measurement}\" is type {got}, already exists as type {existing}"
    )]
    FieldTypeConflict {
        measurement: String,
        field: String,
        got: &'static str,
        existing: &'static str,
    },
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// The write queue is full; the client should retry after a short pause.
    #[error("write queue is full, retry later")]
    Overloaded,
    #[error("the store is shutting down")]
    ShuttingDown,
    #[error(
        "data directory holds format version {found}, this build supports up to {supported}; upgrade tigk"
    )]
    NewerFormat { found: i64, supported: i64 },
    #[error("storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A write the storage could not commit (disk full, I/O error, locked database):
    /// nothing of it is stored; the client may retry.
    #[error("write not stored: {0}")]
    WriteFailed(String),
    #[error("data directory {dir} is in use by another tigk process (pid {pid})")]
    DataDirInUse { dir: String, pid: String },
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("codec error: {0}")]
    Codec(#[from] crate::codec::CodecError),
    #[error("the write log was trimmed past sequence {requested}; the oldest kept is {oldest}")]
    LogTrimmed { requested: u64, oldest: u64 },
    #[error("{0}")]
    Auth(#[from] crate::auth::AuthError),
}

impl Error {
    pub(crate) fn corrupt(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            what,
            detail: detail.into(),
        }
    }

    pub(crate) fn type_conflict(
        measurement: &str,
        field: &str,
        got: FieldType,
        existing: FieldType,
    ) -> Self {
        Error::FieldTypeConflict {
            measurement: measurement.to_string(),
            field: field.to_string(),
            got: got.as_str(),
            existing: existing.as_str(),
        }
    }
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
