//! deploy/agent/install.sh into a staging root (nothing on the machine is touched), the
//! staged config validates, and systemd accepts the unit where systemd-analyze exists. The
//! same script served by a tigk server is tested in tigk/tests/deploy_server.rs.

#![cfg(target_os = "linux")]

#[path = "../../deploy/testing/staging.rs"]
mod staging;

use std::process::Command;

use staging::{assert_ok, deploy_dir, mode, read, run_script, verify_unit};

const AGENT: &str = env!("CARGO_BIN_EXE_tigk-agent");

fn install(root: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let root = root.display().to_string();
    let mut args = vec!["--destdir", &root, "--binary", AGENT];
    args.extend_from_slice(extra);
    run_script(&deploy_dir("agent/install.sh"), &args)
}

#[test]
fn install_into_staging_root_then_uninstall() {
    let stage = tempfile::tempdir().expect("tempdir");
    let root = stage.path();
    let out = install(
        root,
        &[
            "--server",
            "http://127.0.0.1:8086/",
            "--token",
            "write-token",
        ],
    );
    assert_ok(&out, "install.sh");

    let bin = root.join("usr/bin/tigk-agent");
    let conf = root.join("etc/tigk/agent.toml");
    let env = root.join("etc/tigk/agent.env");
    let unit = root.join("etc/systemd/system/tigk-agent.service");
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(mode(&conf), 0o640);
    assert_eq!(mode(&env), 0o640, "the token file is not world-readable");
    // Listable by all: the server's package and script share /etc/tigk.
    assert_eq!(mode(&root.join("etc/tigk")), 0o755);
    assert_eq!(read(&env), "TIGK_TOKEN=write-token\n");
    let text = read(&conf);
    assert!(
        text.contains("urls = [\"http://127.0.0.1:8086\"]"),
        "trailing slash dropped: {text}"
    );
    assert!(
        text.contains("\n  token = \"${TIGK_TOKEN}\""),
        "token comes from the environment file"
    );
    assert!(!text.contains("write-token"), "no secret in agent.toml");
    assert!(text.contains("\n  buffer_strategy = \"disk\""));
    assert_eq!(
        read(&unit),
        read(&deploy_dir("agent/tigk-agent.service")),
        "the unit is installed as shipped"
    );

    // The staged config is valid once the unit's EnvironmentFile supplies the token.
    let v = Command::new(&bin)
        .args(["--config", &conf.display().to_string(), "validate"])
        .env("TIGK_TOKEN", "write-token")
        .output()
        .expect("validate");
    assert_ok(&v, "tigk-agent validate");
    let cfg = agent::validate::parse("agent.toml", &text, |k| {
        (k == "TIGK_TOKEN").then(|| "write-token".into())
    })
    .expect("parse");
    let agent::output::OutputKind::Influxdb(o) = &cfg.outputs[0].kind else {
        panic!("influxdb output")
    };
    assert_eq!(o.token.as_deref(), Some("write-token"));

    verify_unit(&unit, root, &["/usr/bin/", "/etc/tigk/"]);

    // Re-running keeps the edited config and writes the new one beside it; the token file
    // follows the new token.
    let again = install(
        root,
        &["--server", "http://127.0.0.1:9999", "--token", "tigk_new"],
    );
    assert_ok(&again, "second install.sh");
    assert_eq!(read(&conf), text);
    assert!(read(&root.join("etc/tigk/agent.toml.new")).contains("http://127.0.0.1:9999"));
    assert_eq!(read(&env), "TIGK_TOKEN=tigk_new\n");

    let un = run_script(
        &deploy_dir("agent/uninstall.sh"),
        &["--purge", "--destdir", &root.display().to_string()],
    );
    assert_ok(&un, "uninstall.sh");
    assert!(!bin.exists() && !unit.exists() && !conf.exists() && !env.exists());
}

#[test]
fn install_refuses_bad_arguments() {
    let stage = tempfile::tempdir().expect("tempdir");
    for (args, want) in [
        (&[][..], "--server URL is required"),
        (&["--server", "ftp://x"][..], "must start with http://"),
        (
            &["--server", "http://x\"; rm -rf /"][..],
            "characters a URL here cannot have",
        ),
        (
            &["--server", "http://x", "--database", "a\"b"][..],
            "--database may hold only",
        ),
        (
            &["--server", "http://x", "--token", "a b"][..],
            "characters a token cannot have",
        ),
    ] {
        let out = install(stage.path(), args);
        assert!(!out.status.success(), "{args:?} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
    assert!(
        std::fs::read_dir(stage.path())
            .expect("stage")
            .next()
            .is_none(),
        "a refused install writes nothing"
    );
}

/// The Debian package ships deploy/agent/agent.toml as its conffile: it must stay what
/// install.sh writes for a local server without a token (so both installs agree).
#[test]
fn the_packaged_config_is_what_install_sh_writes() {
    let stage = tempfile::tempdir().expect("tempdir");
    let out = install(stage.path(), &["--server", "http://127.0.0.1:8086"]);
    assert_ok(&out, "install.sh");
    assert_eq!(
        read(&stage.path().join("etc/tigk/agent.toml")),
        read(&deploy_dir("agent/agent.toml")),
        "regenerate deploy/agent/agent.toml with install.sh --destdir D --server http://127.0.0.1:8086"
    );
}
