//! `tigk backup DIR` and `tigk restore DIR`: online, consistent copies of the SQLite files.
//!
//! Consistency: each file is copied with SQLite's online backup API inside one read
//! transaction, so each copy is a committed state of that file, taken while the server keeps
//! writing. `tigk.db` (chunks, users, tokens) and `tigk-log.db` (the write log and catalog)
//! must also agree with each other — chunks name series of the catalog and recovery replays
//! the log from what chunks hold — so their read transactions are opened while this command
//! briefly holds the write lock of both files (milliseconds; the writer waits, nothing
//! fails). The log is the source of truth for recent writes: a restored store replays it, so
//! every write acknowledged before the backup started is in the copy.
//!
//! `alerter.db` and `ui.db` are copied first, each consistent on its own. Taking the alerter
//! before the store means its task positions are never ahead of the restored write log:
//! after a restore, tasks replay the writes after their position and may deliver alerts of
//! that interval again (at least once), but never skip any.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use rusqlite::{Connection, OpenFlags};

/// The files a backup holds, in the order they are copied (see the module docs).
const SIDE_FILES: &[&str] = &["ui.db", "alerter.db"];
const STORE_FILE: &str = "tigk.db";
const LOG_FILE: &str = "tigk-log.db";
const MANIFEST: &str = "tigk-backup.json";

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Directory to write the backup into (created; must be empty if it exists).
    pub dir: PathBuf,
    /// The server's data directory.
    #[arg(long, default_value = "./tigk-data", env = "TIGK_DATA_DIR")]
    pub data_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// A directory written by `tigk backup`.
    pub dir: PathBuf,
    /// The data directory to restore into. The server must not be running on it.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Replace the databases of a non-empty data directory.
    #[arg(long)]
    pub force: bool,
}

fn is_empty_dir(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        // The lock file restore itself holds does not count.
        Ok(entries) => Ok(entries
            .filter_map(Result::ok)
            .all(|e| e.file_name() == tsdb::storage::LOCK_FILE)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

fn private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Copies schema `name` of `src` (inside `src`'s current read transaction, if any) to `dest`.
fn copy_db(src: &Connection, name: &str, dest: &Path) -> anyhow::Result<()> {
    let mut out = Connection::open(dest).with_context(|| format!("creating {}", dest.display()))?;
    let backup = rusqlite::backup::Backup::new_with_names(src, name, &mut out, "main")?;
    // All pages in one step: the copy is the source's snapshot, never a mix of two.
    backup
        .step(-1)
        .with_context(|| format!("copying {name} to {}", dest.display()))?;
    drop(backup);
    drop(out);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let data = &args.data_dir;
    if !data.join(STORE_FILE).exists() {
        bail!(
            "{} holds no tigk store ({STORE_FILE} is missing)",
            data.display()
        );
    }
    if !is_empty_dir(&args.dir)? {
        bail!(
            "{} is not empty; back up into a new directory",
            args.dir.display()
        );
    }
    private_dir(&args.dir)?;
    let mut files = Vec::new();
    for name in SIDE_FILES {
        let path = data.join(name);
        if !path.exists() {
            continue;
        }
        let src = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        src.busy_timeout(Duration::from_secs(30))?;
        copy_db(&src, "main", &args.dir.join(name))?;
        files.push(name.to_string());
    }

    // The store: one reader with both files, its snapshots opened under the write lock.
    let reader = Connection::open_with_flags(
        data.join(STORE_FILE),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )?;
    reader.busy_timeout(Duration::from_secs(30))?;
    attach(&reader, data, true)?;
    let locker = Connection::open(data.join(STORE_FILE))?;
    locker.busy_timeout(Duration::from_secs(30))?;
    attach(&locker, data, false)?;
    locker
        .execute_batch("BEGIN IMMEDIATE")
        .context("waiting for the store's write lock")?;
    let seq = (|| -> rusqlite::Result<i64> {
        reader.execute_batch("BEGIN")?;
        reader.query_row("SELECT count(*) FROM main.sqlite_master", [], |_| Ok(()))?;
        reader.query_row(
            "SELECT coalesce((SELECT value FROM log.store_state WHERE key = 'last_seq'), 0)",
            [],
            |r| r.get(0),
        )
    })()
    .context("opening the snapshot");
    let _ = locker.execute_batch("ROLLBACK");
    let seq = seq?;
    drop(locker);
    copy_db(&reader, "main", &args.dir.join(STORE_FILE))?;
    copy_db(&reader, "log", &args.dir.join(LOG_FILE))?;
    reader.execute_batch("COMMIT")?;
    files.push(STORE_FILE.into());
    files.push(LOG_FILE.into());

    let manifest = serde_json::json!({
        "format": 1,
        "created_ns": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0),
        "last_seq": seq,
        "files": files,
        "tigk_version": env!("CARGO_PKG_VERSION"),
    });
    std::fs::write(
        args.dir.join(MANIFEST),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    println!(
        "backup of {} written to {} (write log up to sequence {seq}; files: {})",
        data.display(),
        args.dir.display(),
        files.join(", ")
    );
    Ok(())
}

fn attach(conn: &Connection, data: &Path, read_only: bool) -> anyhow::Result<()> {
    let path = data.join(LOG_FILE);
    let uri = format!(
        "file:{}{}",
        path.display()
            .to_string()
            .replace('%', "%25")
            .replace('?', "%3f")
            .replace('#', "%23"),
        if read_only { "?mode=ro" } else { "" }
    );
    // URI filenames let the attached file be read-only like the main one.
    conn.execute("ATTACH DATABASE ?1 AS log", [uri])
        .with_context(|| format!("attaching {}", path.display()))?;
    Ok(())
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let manifest_path = args.dir.join(MANIFEST);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&manifest_path)
            .with_context(|| format!("{} is not a tigk backup", args.dir.display()))?,
    )
    .with_context(|| format!("reading {}", manifest_path.display()))?;
    let files: Vec<String> = manifest["files"]
        .as_array()
        .context("the manifest lists no files")?
        .iter()
        .filter_map(|f| f.as_str().map(String::from))
        .collect();
    for f in &files {
        // Names come from the manifest: only the known database files, never a path.
        if ![STORE_FILE, LOG_FILE, "alerter.db", "ui.db"].contains(&f.as_str()) {
            bail!("the manifest names an unexpected file {f:?}");
        }
        let conn = Connection::open_with_flags(args.dir.join(f), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            bail!("{f} in the backup is damaged: {check}");
        }
    }
    // Refused while a server runs on the directory: its files would be replaced under it.
    let _dir_lock = tsdb::storage::lock_data_dir(&args.data_dir)?;
    if !is_empty_dir(&args.data_dir)? && !args.force {
        bail!(
            "{} is not empty; pass --force to replace its databases (stop the server first)",
            args.data_dir.display()
        );
    }
    private_dir(&args.data_dir)?;
    for f in [STORE_FILE, LOG_FILE, "alerter.db", "ui.db"] {
        // A stale -wal of the replaced file would be applied to the restored one.
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let p = args.data_dir.join(format!("{f}{suffix}"));
            if p.exists() {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    }
    for f in &files {
        let tmp = args.data_dir.join(format!("{f}.restoring"));
        std::fs::copy(args.dir.join(f), &tmp).with_context(|| format!("copying {f}"))?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, args.data_dir.join(f))?;
    }
    std::fs::File::open(&args.data_dir)?.sync_all()?;
    println!(
        "restored {} into {} (write log up to sequence {})",
        files.join(", "),
        args.data_dir.display(),
        manifest["last_seq"]
    );
    Ok(())
}
