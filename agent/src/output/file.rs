//! `file`: line protocol to stdout and/or files (appended).

use std::io::Write;
use std::sync::Arc;

use super::{Output, body};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct FileOptions {
    /// Paths; `stdout` means standard output.
    pub files: Vec<String>,
}

enum Sink {
    Stdout,
    File(String, std::fs::File),
}

pub struct File {
    sinks: Vec<Sink>,
}

impl File {
    pub fn open(opts: &FileOptions) -> Result<File> {
        let mut sinks = Vec::new();
        for f in &opts.files {
            if f == "stdout" {
                sinks.push(Sink::Stdout);
            } else {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(f)
                    .map_err(|e| Error::io(f, e))?;
                sinks.push(Sink::File(f.clone(), file));
            }
        }
        Ok(File { sinks })
    }
}

impl Output for File {
    fn write(&mut self, lines: &[Arc<str>]) -> Result<()> {
        let data = body(lines);
        for s in &mut self.sinks {
            let (name, res) = match s {
                Sink::Stdout => (
                    "stdout",
                    std::io::stdout()
                        .lock()
                        .write_all(&data)
                        .and_then(|_| std::io::stdout().flush()),
                ),
                Sink::File(name, f) => (name.as_str(), f.write_all(&data)),
            };
            // A full disk or closed pipe may clear up; keep the batch.
            res.map_err(|e| Error::Transient(format!("writing {name}: {e}")))?;
        }
        Ok(())
    }
}
