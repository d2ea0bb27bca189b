//! The crate's error type.

use crate::tick::TickError;

/// Everything the alerter can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A TICKscript that does not parse or check; the text is Kapacitor's wording.
    #[error("{0}")]
    Tick(#[from] TickError),
}
