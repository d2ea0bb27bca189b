//! Outputs: the [`Output`] trait and the registry of built-in outputs ([`OutputKind`]).
//!
//! An output only knows how to send one batch of line-protocol lines and how the server
//! answered; buffering, batching and retrying live in [`crate::batch`], the same for all.

use std::sync::Arc;

use crate::Result;

pub mod file;
pub mod influxdb;
pub mod line;

/// A destination for batches of line protocol, driven by one writer thread.
///
/// `write` must classify failures: [`crate::Error::Rejected`] (never retry: the batch is
/// dropped), [`crate::Error::TooLarge`] (split it) or [`crate::Error::Transient`] (retry later).
pub trait Output: Send {
    fn write(&mut self, lines: &[Arc<str>]) -> Result<()>;
}

/// One `[[outputs.NAME]]` after validation.
#[derive(Debug, Clone)]
pub enum OutputKind {
    Influxdb(Box<influxdb::InfluxdbOptions>),
    File(file::FileOptions),
}

impl OutputKind {
    pub fn name(&self) -> &'static str {
        match self {
            OutputKind::Influxdb(_) => "influxdb",
            OutputKind::File(_) => "file",
        }
    }

    pub fn build(&self) -> Result<Box<dyn Output>> {
        Ok(match self {
            OutputKind::Influxdb(o) => Box::new(influxdb::Influxdb::new((**o).clone())),
            OutputKind::File(o) => Box::new(file::File::open(o)?),
        })
    }
}

/// The request body for a batch: one line each, newline-terminated.
pub(crate) fn body(lines: &[Arc<str>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out
}
