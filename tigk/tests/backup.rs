//! `tigk backup` during ingest, `tigk restore` into a fresh directory: the restored server
//! answers with every point acknowledged before the backup started.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use support::{Server, post, query};

fn tigk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(args)
        .env_remove("TIGK_DATA_DIR")
        .output()
        .expect("run tigk")
}

fn count_before(server: &Server, t_ns: u64) -> i64 {
    let v = query(
        server,
        "db",
        &format!("SELECT count(v) FROM m WHERE time < {t_ns}"),
    );
    v["results"][0]["series"][0]["values"][0][1]
        .as_i64()
        .unwrap_or(0)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn backup_during_ingest_restores_acknowledged_points() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--no-auth"]);
    let (status, body) = post(
        &server.url("/query"),
        "application/x-www-form-urlencoded",
        b"q=CREATE+DATABASE+db",
    )
    .expect("create db");
    assert_eq!(status, 200, "{body}");

    // One writer: batch i holds points at seconds [100 i, 100 i + 100). `acked` is the end of
    // the last acknowledged batch, so every point before it was acknowledged.
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let url = server.url("/write?db=db&precision=s");
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body: String = (0..100)
                    .map(|k| format!("m,host=h{} v={k} {}\n", k % 7, 1_000_000 + i * 100 + k))
                    .collect();
                let (status, text) = post(&url, "text/plain", body.as_bytes()).expect("write");
                assert_eq!(status, 204, "{text}");
                i += 1;
                acked.store(i * 100, Ordering::SeqCst);
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 20_000 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before = acked.load(Ordering::SeqCst);
    let backup_dir = dir.path().join("backup");
    let out = tigk(&["backup", s(&backup_dir), "--data-dir", s(&data)]);
    assert!(
        out.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    let cutoff_ns = (1_000_000 + before) * 1_000_000_000;
    assert_eq!(count_before(&server, cutoff_ns), before as i64);
    let total_written = acked.load(Ordering::SeqCst);
    assert!(total_written > before, "ingest went on during the backup");
    for f in [
        "tigk.db",
        "tigk-log.db",
        "alerter.db",
        "ui.db",
        "tigk-backup.json",
    ] {
        assert!(backup_dir.join(f).exists(), "{f} in the backup");
    }
    // A second backup into the same directory is refused.
    let again = tigk(&["backup", s(&backup_dir), "--data-dir", s(&data)]);
    assert!(!again.status.success());
    // While the server runs, neither a restore (even forced) nor a second server may use its
    // directory: both are refused naming the running one.
    let forced = tigk(&["restore", s(&backup_dir), "--data-dir", s(&data), "--force"]);
    assert!(!forced.status.success());
    let err = String::from_utf8_lossy(&forced.stderr);
    assert!(err.contains("in use by another tigk process"), "{err}");
    let second = tigk(&[
        "serve",
        "--no-auth",
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        s(&data),
    ]);
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains(&format!("pid {}", server.child.id())), "{err}");
    assert_eq!(
        count_before(&server, u64::MAX / 2) % 100,
        0,
        "still serving"
    );
    server.stop();

    // Restore refuses a non-empty directory without --force.
    let refused = tigk(&["restore", s(&backup_dir), "--data-dir", s(&data)]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));

    let restored = dir.path().join("restored");
    let out = tigk(&["restore", s(&backup_dir), "--data-dir", s(&restored)]);
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(&restored, &["--no-auth"]);
    assert_eq!(count_before(&server, cutoff_ns), before as i64);
    // The copy is a consistent state: whatever it holds after the cutoff is whole batches.
    let all = count_before(&server, u64::MAX / 2);
    assert!(
        all >= before as i64 && all <= total_written as i64 && all % 100 == 0,
        "{all}"
    );
    server.stop();

    // --force replaces a used directory (the stale -wal files go too).
    let out = tigk(&["restore", s(&backup_dir), "--data-dir", s(&data), "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(&data, &["--no-auth"]);
    assert_eq!(count_before(&server, u64::MAX / 2), all);
}
