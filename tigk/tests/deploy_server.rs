//! deploy/server/install.sh into a staging root (nothing on the machine is touched): files and
//! modes, the staged config validates and starts a server; systemd accepts the unit where
//! systemd-analyze exists; the cargo-deb metadata names files that exist.

#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/server")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

fn install(root: &Path, extra: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(deploy_dir().join("install.sh"))
        .args(["--destdir", &root.display().to_string()])
        .args(["--binary", env!("CARGO_BIN_EXE_tigk")])
        .args(extra)
        .output()
        .expect("run install.sh")
}

#[test]
fn install_into_staging_root_then_uninstall() {
    let stage = tempfile::tempdir().expect("tempdir");
    let root = stage.path();
    let out = install(root, &["--bind", "0.0.0.0:8086"]);
    assert!(
        out.status.success(),
        "install.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bin = root.join("usr/bin/tigk");
    let conf = root.join("etc/tigk/tigk.toml");
    let unit = root.join("etc/systemd/system/tigk-server.service");
    let data = root.join("var/lib/tigk");
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(mode(&conf), 0o640);
    assert_eq!(mode(&unit), 0o644);
    assert_eq!(mode(&root.join("etc/tigk")), 0o750);
    assert_eq!(mode(&data), 0o750);
    let text = std::fs::read_to_string(&conf).expect("config");
    assert!(text.contains("\nbind = \"0.0.0.0:8086\"\n"), "{text}");
    assert!(text.contains("\ndata_dir = \"/var/lib/tigk\"\n"));

    // The unit's hardening is in place.
    let unit_text = std::fs::read_to_string(&unit).expect("unit");
    for line in [
        "User=tigk",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/tigk",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "ExecStartPre=/usr/bin/tigk validate --config /etc/tigk/tigk.toml",
        "ExecStart=/usr/bin/tigk serve --config /etc/tigk/tigk.toml",
    ] {
        assert!(unit_text.contains(line), "unit lacks {line:?}");
    }

    // The staged config works: validate, then serve with it (data and bind overridden).
    let v = Command::new(&bin)
        .args(["validate", "--config", &conf.display().to_string()])
        .args(["--data-dir", &data.display().to_string()])
        .output()
        .expect("validate");
    assert!(
        v.status.success(),
        "validate: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    let server = support::Server::start(&data, &["--config", &conf.display().to_string()]);
    let (status, _) =
        support::post(&server.url("/write?db=x"), "text/plain", b"m v=1").expect("write");
    assert!(
        status == 401 || status == 403,
        "auth is on with the shipped config: {status}"
    );
    server.stop();

    // systemd-analyze checks the executables exist, so point a copy of the unit at the stage.
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_ok_and(|o| o.status.success()) {
        let staged_unit = unit_text
            .replace("/usr/bin/", &format!("{}/usr/bin/", root.display()))
            .replace("/etc/tigk/", &format!("{}/etc/tigk/", root.display()));
        let check = root.join("tigk-server.service");
        std::fs::write(&check, staged_unit).expect("write unit copy");
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&check)
            .output()
            .expect("systemd-analyze");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("tigk-server.service:"),
            "systemd-analyze verify: {stderr}"
        );
    } else {
        eprintln!("systemd-analyze not available; unit not verified");
    }

    // Re-running keeps the edited config and writes the new one beside it.
    std::fs::write(&conf, text.replace("0.0.0.0:8086", "127.0.0.1:9999")).expect("edit");
    let again = install(root, &[]);
    assert!(again.status.success());
    assert!(
        std::fs::read_to_string(&conf)
            .expect("config")
            .contains("127.0.0.1:9999")
    );
    assert!(root.join("etc/tigk/tigk.toml.new").exists());

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
    assert!(!bin.exists() && !unit.exists() && !conf.exists() && !data.exists());
}

#[test]
fn install_refuses_a_bad_bind() {
    let stage = tempfile::tempdir().expect("tempdir");
    let out = install(stage.path(), &["--bind", "not-an-address"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid address"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cargo_deb_metadata_names_existing_files() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo: toml::Value =
        toml::from_str(&std::fs::read_to_string(manifest.join("Cargo.toml")).expect("Cargo.toml"))
            .expect("parse Cargo.toml");
    let deb = &cargo["package"]["metadata"]["deb"];
    for asset in deb["assets"].as_array().expect("assets") {
        let src = asset[0].as_str().expect("source");
        if !src.starts_with("target/") {
            assert!(manifest.join(src).exists(), "asset {src} is missing");
        }
    }
    assert_eq!(deb["conf-files"][0].as_str(), Some("/etc/tigk/tigk.toml"));
    let units = deb["systemd-units"]["unit-scripts"]
        .as_str()
        .expect("unit-scripts");
    let name = deb["systemd-units"]["unit-name"]
        .as_str()
        .expect("unit-name");
    assert!(
        manifest
            .join(units)
            .join(format!("{name}.service"))
            .exists()
    );
    let scripts = manifest.join(deb["maintainer-scripts"].as_str().expect("scripts"));
    let postinst = std::fs::read_to_string(scripts.join("postinst")).expect("postinst");
    assert!(postinst.contains("#DEBHELPER#") && postinst.contains("adduser --system"));
}
