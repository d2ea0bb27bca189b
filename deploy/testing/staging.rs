//! Helpers for the tests that install into a staging root: agent/tests/install.rs,
//! tigk/tests/deploy_server.rs and tigk/tests/deb.rs include this file with
//! `#[path = "../../deploy/testing/staging.rs"] mod staging;` (one copy, two crates).

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `deploy/<part>` of this checkout.
pub fn deploy_dir(part: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(part)
}

/// Permission bits of a path.
pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Runs a deploy script with `sh` (they are POSIX sh: the agent's is piped into `sh`).
pub fn run_script(script: &Path, args: &[&str]) -> Output {
    Command::new("sh")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()))
}

/// Asserts a command succeeded, showing its stderr otherwise.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `systemd-analyze verify` on a copy of `unit` whose absolute paths under `prefixes` point
/// into the staging `root` (verify checks that executables exist). Returns false, having
/// said why, when systemd-analyze is not installed.
pub fn verify_unit(unit: &Path, root: &Path, prefixes: &[&str]) -> bool {
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!(
            "systemd-analyze not available; {} not verified",
            unit.display()
        );
        return false;
    }
    let mut text = read(unit);
    for p in prefixes {
        text = text.replace(p, &format!("{}{p}", root.display()));
    }
    let name = unit
        .file_name()
        .expect("unit name")
        .to_string_lossy()
        .to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let check = dir.path().join(&name);
    std::fs::write(&check, text).expect("write unit copy");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&check)
        .output()
        .expect("systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains(&format!("{name}:")),
        "systemd-analyze verify {name}: {stderr}"
    );
    true
}

/// The `tigk-agent` binary of the profile these tests were built with. Cargo builds a
/// package's own binaries for its tests only, so tigk's tests ask cargo for the agent's (a
/// no-op when it is fresh).
pub fn agent_binary(beside: &Path) -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = beside.parent().expect("target dir");
            let mut cmd = Command::new(env!("CARGO"));
            cmd.args(["build", "-p", "agent", "--bin", "tigk-agent"]);
            if dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let out = cmd
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .expect("cargo build");
            assert_ok(&out, "cargo build -p agent");
            let bin = dir.join("tigk-agent");
            assert!(bin.is_file(), "{} was not built", bin.display());
            bin
        })
        .clone()
}
