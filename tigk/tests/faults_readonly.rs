//! The data directory turns read-only while the server runs (a file system remounted
//! read-only after a disk error, an operator's mistake): writes fail with
//! `503 write not stored` (never a 204), reads go on, and once the files are writable
//! again writes succeed without a restart; every point acknowledged before, during and
//! after is there, also after a restart.
//!
//! The fault is injected: `support/erofs.c`, preloaded into the server, fails every
//! write to a regular file with EROFS while a flag file exists. A real read-only
//! remount cannot be had here (the kernel refuses it while files are open for
//! writing, and root ignores a `chmod`). Needs a C compiler (`cc`) and a dynamically
//! linked `tigk`; without them the test says so and passes without checking anything.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Server, encode, post};

/// Builds the preload library into `dir`.
fn build_shim(dir: &Path) -> Option<std::path::PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/erofs.c");
    let out = dir.join("erofs.so");
    let ok = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-ldl")
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(out)
}

fn write(server: &Server, batch: u32, n: u32) -> (u16, String) {
    let body: String = (0..n)
        .map(|i| {
            let t = 1_700_000_000_000_000_000i64 + i64::from(batch) * 1_000_000 + i64::from(i);
            format!("ro,host=h{} v={i}i {t}\n", i % 5)
        })
        .collect();
    post(&server.url("/write?db=ro"), "text/plain", body.as_bytes())
        .unwrap_or_else(|e| (0, e.to_string()))
}

fn count(server: &Server) -> u64 {
    let v = support::query(server, "ro", "SELECT count(v) FROM ro");
    v["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_data_directory_turning_read_only_refuses_writes_and_recovers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(shim) = build_shim(tmp.path()) else {
        eprintln!("faults_readonly: skipped, no C compiler to build the fault shim");
        return;
    };
    let flag = tmp.path().join("read-only");
    let data = tmp.path().join("data");
    let env = [
        ("LD_PRELOAD", shim.to_str().expect("utf-8 path")),
        ("TIGK_TEST_EROFS_FLAG", flag.to_str().expect("utf-8 path")),
    ];
    let server = Server::start_with_env(&data, &["--no-auth"], &env);
    let (st, body) = post(
        &server.url("/query"),
        "application/x-www-form-urlencoded",
        format!("q={}", encode("CREATE DATABASE ro")).as_bytes(),
    )
    .expect("create");
    assert_eq!(st, 200, "{body}");
    let mut batch = 0;
    let mut acked = 0u64;
    for _ in 0..10 {
        let (st, body) = write(&server, batch, 100);
        batch += 1;
        assert_eq!(st, 204, "{body}");
        acked += 100;
    }

    std::fs::write(&flag, b"").expect("flag");
    // The shim is really in the server: a write must fail now.
    let (st, body) = write(&server, batch, 100);
    batch += 1;
    if st == 204 {
        eprintln!("faults_readonly: skipped, the shim did not take (a static tigk?)");
        acked += 100;
        std::fs::remove_file(&flag).expect("unflag");
        assert_eq!(count(&server), acked);
        server.stop();
        return;
    }
    let mut refusals = vec![(st, body)];
    for _ in 0..4 {
        let (st, body) = write(&server, batch, 100);
        batch += 1;
        if st == 204 {
            acked += 100;
        }
        refusals.push((st, body));
    }
    for (st, body) in &refusals {
        assert_eq!(*st, 503, "read-only: {body}");
        assert!(
            body.contains("write not stored: read-only file system"),
            "unclear: {body}"
        );
        assert!(!body.contains("panicked"), "{body}");
    }
    // Reads still work, and see everything acknowledged.
    assert_eq!(count(&server), acked, "reading while read-only");
    // Long enough for the store's background work (flushes) to meet the fault too.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(count(&server), acked, "reading while read-only, later");

    std::fs::remove_file(&flag).expect("unflag");
    let started = Instant::now();
    loop {
        let (st, body) = write(&server, batch, 100);
        batch += 1;
        if st == 204 {
            acked += 100;
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no recovery without a restart: {st} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for _ in 0..5 {
        let (st, body) = write(&server, batch, 100);
        batch += 1;
        assert_eq!(st, 204, "after the directory is writable again: {body}");
        acked += 100;
    }
    assert_eq!(count(&server), acked, "after recovery");
    server.stop();
    let server = Server::start(&data, &["--no-auth"]);
    assert_eq!(count(&server), acked, "after a restart");
    server.stop();
}
