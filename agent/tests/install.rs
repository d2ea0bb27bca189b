//! deploy/agent/install.sh into a staging root (nothing on the machine is touched), the
//! staged config validates, and systemd accepts the unit where systemd-analyze exists.

#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/agent")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

#[test]
fn install_into_staging_root_then_uninstall() {
    let stage = tempfile::tempdir().expect("tempdir");
    let root = stage.path();
    let out = Command::new("bash")
        .arg(deploy_dir().join("install.sh"))
        .args(["--destdir", &root.display().to_string()])
        .args(["--binary", env!("CARGO_BIN_EXE_tigk-agent")])
        .args([
            "--server",
            "http://127.0.0.1:8086",
            "--token",
            "write-token",
        ])
        .output()
        .expect("run install.sh");
    assert!(
        out.status.success(),
        "install.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bin = root.join("usr/local/bin/tigk-agent");
    let conf = root.join("etc/tigk/agent.toml");
    let env = root.join("etc/tigk/agent.env");
    let unit = root.join("etc/systemd/system/tigk-agent.service");
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(mode(&conf), 0o640);
    assert_eq!(mode(&env), 0o640, "the token file is not world-readable");
    assert_eq!(mode(&root.join("etc/tigk")), 0o750);
    assert_eq!(
        std::fs::read_to_string(&env).expect("env"),
        "TIGK_TOKEN=write-token\n"
    );
    let text = std::fs::read_to_string(&conf).expect("config");
    assert!(text.contains("urls = [\"http://127.0.0.1:8086\"]"));
    assert!(
        text.contains("\n  token = \"${TIGK_TOKEN}\""),
        "token comes from the environment file"
    );
    assert!(!text.contains("write-token"), "no secret in agent.toml");
    assert!(text.contains("\n  buffer_strategy = \"disk\""));

    // The staged config is valid once the unit's EnvironmentFile supplies the token.
    let v = Command::new(&bin)
        .args(["--config", &conf.display().to_string(), "validate"])
        .env("TIGK_TOKEN", "write-token")
        .output()
        .expect("validate");
    assert!(
        v.status.success(),
        "validate: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    let cfg = agent::validate::parse("agent.toml", &text, |k| {
        (k == "TIGK_TOKEN").then(|| "write-token".into())
    })
    .expect("parse");
    let agent::output::OutputKind::Influxdb(o) = &cfg.outputs[0].kind else {
        panic!("influxdb output")
    };
    assert_eq!(o.token.as_deref(), Some("write-token"));

    // systemd-analyze checks the executables exist, so point a copy of the unit at the stage.
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_ok_and(|o| o.status.success()) {
        let staged_unit = std::fs::read_to_string(&unit)
            .expect("unit")
            .replace(
                "/usr/local/bin/",
                &format!("{}/usr/local/bin/", root.display()),
            )
            .replace("/etc/tigk/", &format!("{}/etc/tigk/", root.display()));
        let check = root.join("tigk-agent.service");
        std::fs::write(&check, staged_unit).expect("write unit copy");
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&check)
            .output()
            .expect("systemd-analyze");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("tigk-agent.service:"),
            "systemd-analyze verify: {stderr}"
        );
    } else {
        eprintln!("systemd-analyze not available; unit not verified");
    }

    // Re-running keeps the edited config and writes the new one beside it.
    let again = Command::new("bash")
        .arg(deploy_dir().join("install.sh"))
        .args([
            "--destdir",
            &root.display().to_string(),
            "--binary",
            env!("CARGO_BIN_EXE_tigk-agent"),
        ])
        .args(["--server", "http://127.0.0.1:9999"])
        .output()
        .expect("rerun");
    assert!(again.status.success());
    assert_eq!(std::fs::read_to_string(&conf).expect("config"), text);
    assert!(root.join("etc/tigk/agent.toml.new").exists());

    let un = Command::new("bash")
        .arg(deploy_dir().join("uninstall.sh"))
        .args(["--purge", "--destdir", &root.display().to_string()])
        .output()
        .expect("uninstall");
    assert!(
        un.status.success(),
        "{}",
        String::from_utf8_lossy(&un.stderr)
    );
    assert!(!bin.exists() && !unit.exists() && !conf.exists() && !env.exists());
}

#[test]
fn install_refuses_without_server() {
    let stage = tempfile::tempdir().expect("tempdir");
    let out = Command::new("bash")
        .arg(deploy_dir().join("install.sh"))
        .args([
            "--destdir",
            &stage.path().display().to_string(),
            "--binary",
            env!("CARGO_BIN_EXE_tigk-agent"),
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--server URL is required"));
}
