//! The Debian packages (cargo-deb metadata in tigk/Cargo.toml and agent/Cargo.toml), built
//! from this test's own debug binaries (`cargo deb --no-build --profile dev`: seconds, where a
//! release build takes minutes), checked with `dpkg-deb`, then installed, upgraded, removed
//! and purged by the real dpkg into a staging root (`dpkg --root` with
//! `--force-script-chrootless`: the maintainer scripts run with `DPKG_ROOT` set and keep to
//! it). Units pass `systemd-analyze verify` where it exists. Needs cargo-deb 3 (.ci/run
//! installs it) and root (dpkg sets owners).

#![cfg(target_os = "linux")]

#[path = "../../deploy/testing/staging.rs"]
mod staging;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use staging::{assert_ok, deploy_dir, mode, read, verify_unit};

const TIGK: &str = env!("CARGO_BIN_EXE_tigk");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace")
}

/// `cargo deb -p PACKAGE` from the binaries already built for these tests.
fn build_deb(package: &str, out: &Path) -> PathBuf {
    let profile = if Path::new(TIGK)
        .parent()
        .is_some_and(|d| d.ends_with("release"))
    {
        "release"
    } else {
        "dev"
    };
    let o = Command::new(env!("CARGO"))
        .args(["deb", "-p", package, "--no-build", "--fast", "-q"])
        .args(["--profile", profile, "-o"])
        .arg(out)
        .current_dir(workspace())
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "cargo deb -p {package} failed (cargo-deb 3 is needed: `cargo install cargo-deb \
         --version 3.8.0 --locked`, as .ci/run does): {stderr}"
    );
    let path = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let deb = PathBuf::from(path.lines().last().unwrap_or_default());
    assert!(deb.is_file(), "no .deb at {}: {stderr}", deb.display());
    deb
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let o = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("dpkg-deb");
    assert_ok(&o, "dpkg-deb");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `dpkg-deb -c`: path -> permission string (`-rwxr-xr-x`).
fn contents(deb: &Path) -> BTreeMap<String, String> {
    dpkg_deb(&["-c"], deb)
        .lines()
        .filter_map(|l| {
            let perms = l.split_whitespace().next()?;
            let path = l.split_whitespace().last()?;
            Some((path.trim_start_matches('.').to_string(), perms.to_string()))
        })
        .collect()
}

/// The real dpkg on a staging root; nothing outside it is touched.
fn dpkg(root: &Path, args: &[&str]) -> Output {
    let o = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args([
            "--force-script-chrootless",
            // libc6 and adduser|systemd are not "installed" in an empty root.
            "--force-depends",
            "--force-confold",
            "--log=/dev/null",
        ])
        .args(args)
        .env_remove("DPKG_ROOT")
        .stdin(Stdio::null())
        .output()
        .expect("dpkg");
    assert_ok(&o, &format!("dpkg {args:?}"));
    o
}

/// The root's own user database: (uid, gid) of a user.
fn ids(root: &Path, user: &str) -> (u32, u32) {
    read(&root.join("etc/passwd"))
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&user))
                .then(|| (f[2].parse().expect("uid"), f[3].parse().expect("gid")))
        })
        .unwrap_or_else(|| panic!("no user {user} in the staged /etc/passwd"))
}

fn owner(p: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).expect("stat");
    (m.uid(), m.gid())
}

#[test]
fn debs_build_install_upgrade_and_purge_in_a_staging_root() {
    // dpkg --root sets owners, which only root may do.
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root_user {
        eprintln!("not root: dpkg cannot set owners in a staging root; .deb test skipped");
        return;
    }
    let agent = staging::agent_binary(Path::new(TIGK));
    let out = tempfile::tempdir().expect("out");
    let server_deb = build_deb("tigk", out.path());
    let agent_deb = build_deb("agent", out.path());

    // Metadata.
    let info = dpkg_deb(&["-I"], &server_deb);
    for want in [
        "Package: tigk\n",
        "Section: net",
        "adduser | systemd",
        "postinst",
        "postrm",
        "prerm",
        "conffiles",
    ] {
        assert!(info.contains(want), "tigk control lacks {want:?}:\n{info}");
    }
    let info = dpkg_deb(&["-I"], &agent_deb);
    assert!(info.contains("Package: tigk-agent\n"), "{info}");
    let control = |deb: &Path| {
        let dir = tempfile::tempdir().expect("control");
        let o = Command::new("dpkg-deb")
            .arg("-e")
            .arg(deb)
            .arg(dir.path())
            .output()
            .expect("dpkg-deb -e");
        assert_ok(&o, "dpkg-deb -e");
        dir
    };
    let agent_ctl = control(&agent_deb);
    assert_eq!(
        read(&agent_ctl.path().join("conffiles")),
        "/etc/tigk/agent.toml\n"
    );
    assert!(read(&agent_ctl.path().join("postinst")).contains("tigk-agent.conf"));
    let ctl = control(&server_deb);
    assert_eq!(read(&ctl.path().join("conffiles")), "/etc/tigk/tigk.toml\n");
    let postinst = read(&ctl.path().join("postinst"));
    assert!(postinst.contains("systemd-sysusers"), "{postinst}");
    assert!(
        postinst.contains("deb-systemd-helper enable tigk-server.service"),
        "cargo-deb's snippet is at the marker: {postinst}"
    );
    assert!(!postinst.contains("#DEBHELPER#"));
    assert!(
        !postinst.contains("deb-systemd-invoke start"),
        "the server is not started before an admin exists"
    );

    // Contents and modes.
    let files = contents(&server_deb);
    for (path, perms) in [
        ("/usr/bin/tigk", "-rwxr-xr-x"),
        ("/usr/lib/tigk/tigk-agent", "-rwxr-xr-x"),
        ("/etc/tigk/tigk.toml", "-rw-r-----"),
        ("/usr/lib/systemd/system/tigk-server.service", "-rw-r--r--"),
        ("/usr/lib/sysusers.d/tigk.conf", "-rw-r--r--"),
    ] {
        assert_eq!(files.get(path).map(String::as_str), Some(perms), "{path}");
    }
    let files = contents(&agent_deb);
    for (path, perms) in [
        ("/usr/bin/tigk-agent", "-rwxr-xr-x"),
        ("/etc/tigk/agent.toml", "-rw-r-----"),
        ("/usr/lib/systemd/system/tigk-agent.service", "-rw-r--r--"),
        ("/usr/lib/sysusers.d/tigk-agent.conf", "-rw-r--r--"),
    ] {
        assert_eq!(files.get(path).map(String::as_str), Some(perms), "{path}");
    }

    // Install both into an empty root with a dpkg database.
    let stage = tempfile::tempdir().expect("stage");
    let root = stage.path();
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").expect("status");
    let debs = [
        server_deb.display().to_string(),
        agent_deb.display().to_string(),
    ];
    dpkg(root, &["-i", &debs[0], &debs[1]]);

    let (uid, gid) = ids(root, "tigk");
    let (_, agent_gid) = ids(root, "tigk-agent");
    assert_ne!(gid, agent_gid);
    assert_eq!(owner(&root.join("var/lib/tigk")), (uid, gid));
    assert_eq!(mode(&root.join("var/lib/tigk")), 0o750);
    assert_eq!(owner(&root.join("etc/tigk/tigk.toml")), (0, gid));
    assert_eq!(owner(&root.join("etc/tigk/agent.toml")), (0, agent_gid));
    assert_eq!(mode(&root.join("etc/tigk/tigk.toml")), 0o640);
    assert_eq!(mode(&root.join("etc/tigk/agent.toml")), 0o640);
    assert_eq!(
        mode(&root.join("etc/tigk")),
        0o755,
        "both services read in it"
    );
    for unit in ["tigk-server", "tigk-agent"] {
        let link = root.join(format!(
            "etc/systemd/system/multi-user.target.wants/{unit}.service"
        ));
        assert!(link.is_symlink(), "{unit} is enabled");
    }
    assert_eq!(
        read(&root.join("etc/tigk/tigk.toml")),
        read(&deploy_dir("config/tigk.toml"))
    );
    assert_eq!(
        read(&root.join("etc/tigk/agent.toml")),
        read(&deploy_dir("agent/agent.toml"))
    );

    // The staged binaries run with the staged configs.
    let bin = root.join("usr/bin/tigk");
    let v = Command::new(&bin)
        .args(["validate", "--config"])
        .arg(root.join("etc/tigk/tigk.toml"))
        .arg("--data-dir")
        .arg(root.join("var/lib/tigk"))
        .output()
        .expect("validate");
    assert_ok(&v, "staged tigk validate");
    let v = Command::new(root.join("usr/bin/tigk-agent"))
        .arg("--config")
        .arg(root.join("etc/tigk/agent.toml"))
        .arg("validate")
        .output()
        .expect("validate");
    assert_ok(&v, "staged tigk-agent validate");
    for (unit, name) in [
        ("tigk-server.service", "tigk"),
        ("tigk-agent.service", "tigk-agent"),
    ] {
        let path = root.join("usr/lib/systemd/system").join(unit);
        assert_eq!(
            read(&path),
            read(&deploy_dir(if name == "tigk" { "server" } else { "agent" }).join(unit))
        );
        verify_unit(&path, root, &["/usr/bin/", "/etc/tigk/"]);
    }

    // The packaged server offers the packaged agent: /usr/bin/tigk finds
    // /usr/lib/tigk/tigk-agent by itself.
    let data = tempfile::tempdir().expect("data");
    let mut child = Command::new(&bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--no-auth", "--data-dir"])
        .arg(data.path())
        .env_remove("TIGK_AGENT_BINARY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn staged tigk");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("staged tigk did not start");
    let got = Command::new("curl")
        .args(["-fsS", &format!("http://{addr}/downloads/tigk-agent")])
        .output()
        .expect("curl");
    let _ = child.kill();
    let _ = child.wait();
    assert_ok(&got, "download the agent");
    assert_eq!(
        got.stdout,
        std::fs::read(root.join("usr/lib/tigk/tigk-agent")).expect("packaged agent")
    );
    assert!(
        got.stdout.len() < std::fs::metadata(&agent).expect("agent").len() as usize,
        "cargo-deb strips the agent it packs"
    );

    // Reinstalling keeps an edited conffile (dpkg's conffile handling, not ours).
    let conf = root.join("etc/tigk/tigk.toml");
    let edited = read(&conf).replace("127.0.0.1:8086", "0.0.0.0:8086");
    std::fs::write(&conf, &edited).expect("edit");
    dpkg(root, &["-i", &debs[0]]);
    assert_eq!(read(&conf), edited);

    // remove keeps configuration and data; purge takes them.
    dpkg(root, &["-r", "tigk", "tigk-agent"]);
    assert!(!bin.exists() && !root.join("usr/bin/tigk-agent").exists());
    assert!(conf.exists() && root.join("var/lib/tigk").is_dir());
    dpkg(root, &["-P", "tigk", "tigk-agent"]);
    for gone in [
        "etc/tigk/tigk.toml",
        "etc/tigk/agent.toml",
        "var/lib/tigk",
        "etc/systemd/system/multi-user.target.wants/tigk-server.service",
        "usr/lib/tigk",
    ] {
        assert!(!root.join(gone).exists(), "{gone} is left after purge");
    }
}
