//! One process per data directory. The store holds an exclusive advisory lock on
//! `DIR/tigk.lock` for as long as it is open, so a second `tigk serve` (or a `tigk restore`)
//! on the same directory is refused with the holder's pid instead of writing beside it: two
//! writers would each keep their own head, catalog and sequence numbers over one set of files.
//! Offline commands that only touch users and tokens (`tigk user`, `tigk token`) and online
//! backups do not take it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::{Error, Result};

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "tigk.lock";

/// Held while the data directory is in use; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Takes the data directory's lock, or says who holds it.
pub fn lock_data_dir(dir: &Path) -> Result<DirLock> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            file.rewind()?;
            write!(file, "{}", std::process::id())?;
            Ok(DirLock { _file: file })
        }
        Err(TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            Err(Error::DataDirInUse {
                dir: dir.display().to_string(),
                pid: pid.trim().to_string(),
            })
        }
        Err(TryLockError::Error(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lock_data_dir(dir.path()).expect("first");
        let err = lock_data_dir(dir.path()).expect_err("second");
        let msg = err.to_string();
        assert!(msg.contains("in use by another tigk process"), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        drop(first);
        lock_data_dir(dir.path()).expect("free again");
    }
}
