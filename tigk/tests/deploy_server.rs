//! deploy/server/install.sh into a staging root (nothing on the machine is touched): files and
//! modes, the staged config validates and starts a server; systemd accepts the unit where
//! systemd-analyze exists. And the agent's one-liner as a new host runs it: the script served
//! by a real server installs, into a staging root, an agent that writes to that server with
//! the token given. The .deb packages are tested in deb.rs.

#![cfg(target_os = "linux")]

#[path = "../../deploy/testing/staging.rs"]
mod staging;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use staging::{assert_ok, deploy_dir, mode, read, run_script, verify_unit};

const TIGK: &str = env!("CARGO_BIN_EXE_tigk");

fn install(root: &Path, extra: &[&str]) -> std::process::Output {
    let root = root.display().to_string();
    let mut args = vec!["--destdir", &root, "--binary", TIGK];
    args.extend_from_slice(extra);
    run_script(&deploy_dir("server/install.sh"), &args)
}

fn tigk(data: &Path, args: &[&str]) -> String {
    let out = Command::new(TIGK)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run tigk");
    assert_ok(&out, &format!("tigk {args:?}"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn install_into_staging_root_then_uninstall() {
    let agent = staging::agent_binary(Path::new(TIGK));
    let stage = tempfile::tempdir().expect("tempdir");
    let root = stage.path();
    let out = install(root, &["--bind", "0.0.0.0:8086"]);
    assert_ok(&out, "install.sh");

    let bin = root.join("usr/bin/tigk");
    let served_agent = root.join("usr/lib/tigk/tigk-agent");
    let conf = root.join("etc/tigk/tigk.toml");
    let unit = root.join("etc/systemd/system/tigk-server.service");
    let data = root.join("var/lib/tigk");
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(mode(&conf), 0o640);
    assert_eq!(mode(&unit), 0o644);
    assert_eq!(mode(&root.join("etc/tigk")), 0o755);
    assert_eq!(mode(&data), 0o750);
    assert_eq!(
        std::fs::read(&served_agent).expect("agent to serve"),
        std::fs::read(&agent).expect("agent"),
        "the agent binary next to tigk is installed for /downloads/tigk-agent"
    );
    let text = read(&conf);
    assert!(text.contains("\nbind = \"0.0.0.0:8086\"\n"), "{text}");
    assert!(text.contains("\ndata_dir = \"/var/lib/tigk\"\n"));

    // The unit's hardening is in place.
    let unit_text = read(&unit);
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
    assert_ok(&v, "tigk validate");
    let server = support::Server::start(&data, &["--config", &conf.display().to_string()]);
    let (status, _) =
        support::post(&server.url("/write?db=x"), "text/plain", b"m v=1").expect("write");
    assert!(
        status == 401 || status == 403,
        "auth is on with the shipped config: {status}"
    );
    server.stop();

    verify_unit(&unit, root, &["/usr/bin/", "/etc/tigk/"]);

    // Re-running keeps the edited config and writes the new one beside it.
    std::fs::write(&conf, text.replace("0.0.0.0:8086", "127.0.0.1:9999")).expect("edit");
    assert_ok(&install(root, &[]), "second install.sh");
    assert!(read(&conf).contains("127.0.0.1:9999"));
    assert!(root.join("etc/tigk/tigk.toml.new").exists());

    let un = run_script(
        &deploy_dir("server/uninstall.sh"),
        &["--purge", "--destdir", &root.display().to_string()],
    );
    assert_ok(&un, "uninstall.sh");
    for gone in [&bin, &unit, &conf, &data, &served_agent] {
        assert!(!gone.exists(), "{} is left", gone.display());
    }
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

/// The UI's "add a host" command, run as a new host would (into a staging root): the script
/// and the binary come from a real server on 127.0.0.1, and the installed agent writes there.
#[test]
fn agent_one_liner_from_the_server_installs_a_configured_agent() {
    // `tigk serve` finds the agent binary next to its own executable.
    let agent = staging::agent_binary(Path::new(TIGK));
    let data = tempfile::tempdir().expect("data");
    tigk(
        data.path(),
        &[
            "user",
            "create",
            "--name",
            "admin",
            "--password",
            "one-liner-admin",
            "--admin",
        ],
    );
    let token = tigk(
        data.path(),
        &["token", "create", "--db", "telegraf", "--write"],
    );
    let server = support::Server::start(data.path(), &[]);
    let base = format!("http://{}", server.addr);

    let stage = tempfile::tempdir().expect("stage");
    let root = stage.path();
    // Exactly the documented pipe, plus --destdir so nothing on this machine is touched.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "curl -fsSL {base}/install-agent.sh | sh -s -- --token {token} --destdir {}",
            root.display()
        ))
        .stdin(Stdio::null())
        .output()
        .expect("sh");
    assert_ok(&out, "the one-liner");

    let bin = root.join("usr/bin/tigk-agent");
    let conf = root.join("etc/tigk/agent.toml");
    let env = root.join("etc/tigk/agent.env");
    let unit = root.join("etc/systemd/system/tigk-agent.service");
    assert_eq!(
        std::fs::read(&bin).expect("installed binary"),
        std::fs::read(&agent).expect("agent"),
        "the binary is the server's"
    );
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(read(&env), format!("TIGK_TOKEN={token}\n"));
    assert_eq!(mode(&env), 0o640);
    assert_eq!(read(&unit), read(&deploy_dir("agent/tigk-agent.service")));
    let text = read(&conf);
    assert!(!text.contains(&token), "no secret in agent.toml");
    let cfg = agent::validate::parse("agent.toml", &text, |k| {
        (k == "TIGK_TOKEN").then(|| token.clone())
    })
    .expect("parse the installed config");
    let agent::output::OutputKind::Influxdb(o) = &cfg.outputs[0].kind else {
        panic!("influxdb output")
    };
    assert_eq!(o.urls, vec![base.clone()], "the server's own URL");
    assert_eq!(o.token.as_deref(), Some(token.as_str()));
    assert_eq!(o.database, "telegraf");

    // And it works: one gather with the installed binary and config (the disk buffer moved
    // into the stage) lands in the server under the token.
    let run_conf = root.join("agent-run.toml");
    std::fs::write(
        &run_conf,
        text.replace(
            "/var/lib/tigk-agent/buffer",
            &root.join("buffer").display().to_string(),
        ),
    )
    .expect("write");
    let admin_q = |q: &str| {
        let url = server.url("/query?db=telegraf&u=admin&p=one-liner-admin");
        let body = format!("q={}", support::encode(q));
        let (status, text) =
            support::post(&url, "application/x-www-form-urlencoded", body.as_bytes())
                .expect("query");
        assert_eq!(status, 200, "{text}");
        text
    };
    admin_q("CREATE DATABASE telegraf");
    let once = Command::new(&bin)
        .args(["--config", &run_conf.display().to_string(), "--once"])
        .env("TIGK_TOKEN", &token)
        .output()
        .expect("agent --once");
    assert_ok(&once, "tigk-agent --once");
    let got = admin_q("SELECT count(usage_idle) FROM cpu");
    assert!(got.contains("\"count\""), "no cpu points arrived: {got}");
}
