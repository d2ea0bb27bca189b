//! Storage faults: a full disk and a database locked by another process while the server
//! runs, and a read-only data directory at start. While a fault lasts, writes fail with an error
//! (never a 204); once it is gone they succeed again without a restart; every point
//! acknowledged before, during and after is there, also after a restart.
//!
//! The disk is a small tmpfs, so the test needs `mount` (root); without it the test says so
//! and passes without checking anything.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Server, encode, post};

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes one batch of `n` points with timestamps unique to `batch`; returns the status.
fn write_batch(server: &Server, batch: u32, n: u32) -> (u16, String) {
    let body: String = (0..n)
        .map(|i| {
            let t = 1_700_000_000_000_000_000i64 + i64::from(batch) * 1_000_000 + i64::from(i);
            format!(
                "fault,host=h{} v={i}i,pad=\"{}\" {t}\n",
                i % 7,
                "p".repeat(64)
            )
        })
        .collect();
    post(
        &server.url("/write?db=faults"),
        "text/plain",
        body.as_bytes(),
    )
    .unwrap_or_else(|e| (0, e.to_string()))
}

fn count(server: &Server) -> u64 {
    let v = support::query(server, "faults", "SELECT count(v) FROM fault");
    v["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

struct Ledger {
    next: u32,
    acked_points: u64,
}

impl Ledger {
    /// Writes a batch; counts its points if acknowledged. Returns the status.
    fn write(&mut self, server: &Server, n: u32) -> (u16, String) {
        let (st, body) = write_batch(server, self.next, n);
        self.next += 1;
        if st == 204 {
            self.acked_points += u64::from(n);
        }
        (st, body)
    }

    /// Writes until a batch is acknowledged, for at most `within`.
    fn write_until_ok(&mut self, server: &Server, within: Duration) {
        let started = Instant::now();
        loop {
            let (st, body) = self.write(server, 50);
            if st == 204 {
                return;
            }
            assert!(started.elapsed() < within, "no recovery: {st} {body}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Writes until one fails; every failure must be an error, never silent.
    fn write_until_refused(&mut self, server: &Server, n: u32, tries: u32) -> (u16, String) {
        for _ in 0..tries {
            let (st, body) = self.write(server, n);
            if st != 204 {
                return (st, body);
            }
        }
        panic!("{tries} writes of {n} points all acknowledged during the fault");
    }
}

fn assert_error_answer(what: &str, st: u16, body: &str) {
    assert!(
        st >= 500,
        "{what}: expected a server-side error, got {st}: {body}"
    );
    assert!(
        body.contains("\"error\""),
        "{what}: no error message: {body}"
    );
    assert!(!body.contains("panicked"), "{what}: {body}");
}

#[test]
fn writes_fail_cleanly_during_storage_faults_and_recover_without_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "size=48m") else {
        eprintln!("faults: skipped, cannot mount a tmpfs here (needs root)");
        return;
    };
    let data = disk.0.join("data");
    let server = Server::start(&data, &["--no-auth"]);
    let (st, body) = post(
        &server.url("/query"),
        "application/x-www-form-urlencoded",
        format!("q={}", encode("CREATE DATABASE faults")).as_bytes(),
    )
    .expect("create");
    assert_eq!(st, 200, "{body}");
    let mut ledger = Ledger {
        next: 0,
        acked_points: 0,
    };
    for _ in 0..20 {
        let (st, body) = ledger.write(&server, 200);
        assert_eq!(st, 204, "{body}");
    }

    // Disk full: fill every free byte, then write until refused.
    let filler = disk.0.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 1 << 20];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    let (st, body) = ledger.write_until_refused(&server, 2000, 200);
    assert_error_answer("disk full", st, &body);
    assert!(
        body.contains("disk is full"),
        "disk full: unclear error {body}"
    );
    std::fs::remove_file(&filler).expect("free the disk");
    ledger.write_until_ok(&server, Duration::from_secs(30));
    for _ in 0..5 {
        let (st, body) = ledger.write(&server, 200);
        assert_eq!(st, 204, "after the disk was freed: {body}");
    }
    assert_eq!(count(&server), ledger.acked_points, "after disk full");

    // Another process holds the write-log database's write lock.
    let locker = rusqlite::Connection::open(data.join("tigk-log.db")).expect("open log db");
    locker.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let started = Instant::now();
    let (st, body) = ledger.write(&server, 50);
    assert_ne!(st, 204, "acknowledged while another process held the lock");
    assert!(st >= 500, "locked: {st} {body}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "a locked database held the request for {:?}",
        started.elapsed()
    );
    locker.execute_batch("ROLLBACK").expect("unlock");
    drop(locker);
    ledger.write_until_ok(&server, Duration::from_secs(30));

    let expected = ledger.acked_points;
    assert_eq!(count(&server), expected, "after the lock");
    server.stop();
    let server = Server::start(&data, &["--no-auth"]);
    assert_eq!(count(&server), expected, "after a restart");
    server.stop();
}

#[test]
fn a_read_only_data_directory_is_refused_at_start_with_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(disk) = Tmpfs::mount(&tmp.path().join("ro"), "size=1m,ro") else {
        eprintln!("faults: skipped, cannot mount a tmpfs here (needs root)");
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(["serve", "--no-auth", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(disk.0.join("data"))
        .output()
        .expect("run tigk");
    assert!(!out.status.success(), "started on a read-only directory");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Read-only file system") || err.contains("read-only"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
