//! `tigk config`, `tigk validate` and `tigk serve --config`: the shipped default parses and
//! equals what the binary prints, mistakes are refused with their position, unsupported
//! features are refused rather than ignored, and flags override the file.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::Server;

fn tigk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(args)
        .env_remove("TIGK_CONFIG")
        .env_remove("TIGK_DATA_DIR")
        .output()
        .expect("run tigk")
}

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config/tigk.toml")
}

fn validate(dir: &Path, text: &str) -> (bool, String) {
    let path = dir.join("tigk.toml");
    std::fs::write(&path, text).expect("write config");
    let data = dir.join("data");
    let out = tigk(&[
        "validate",
        "--config",
        path.to_str().expect("utf-8"),
        "--data-dir",
        data.to_str().expect("utf-8"),
    ]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn printed_default_is_the_shipped_file_and_validates() {
    let out = tigk(&["config"]);
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(
        printed,
        std::fs::read_to_string(shipped()).expect("shipped config")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, text) = validate(dir.path(), &printed);
    assert!(ok, "{text}");
    assert!(text.contains("OK"), "{text}");
}

#[test]
fn mistakes_are_refused_with_their_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[(&str, &str)] = &[
        (
            "bind = \"127.0.0.1:8086\"\n[limits]\nwrite_qeue = 3\n",
            "tigk.toml:3:1",
        ),
        (
            "[limits]\nwrite_queue = 0\n",
            "tigk.toml:2:15: must be a positive integer",
        ),
        (
            "[retention]\nwrite_log = \"1 day\"\n",
            "tigk.toml:2:13: invalid duration",
        ),
        ("durability = \"sometimes\"\n", "unknown durability"),
        (
            "bind = \"0.0.0.0:8086\"\n[auth]\nenabled = false\n",
            "tigk.toml:3:11: auth can only be disabled on a loopback",
        ),
        (
            "[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
            "tigk.toml:2:8: reading the TLS certificate /nonexistent/cert.pem",
        ),
        (
            "[tls]\nkey = \"/etc/tigk/key.pem\"\n",
            "tigk.toml:2:7: TLS needs both cert and key",
        ),
        (
            "[retention]\ndefault_duration = \"30m\"\n",
            "tigk.toml:2:20: a retention duration is at least 1h",
        ),
        (
            "[monitor]\nstore_interval = \"0s\"\n",
            "store_interval must be positive",
        ),
        (
            "[smtp]\nenabled = true\nhost = \"mail\"\n",
            "tigk.toml: [smtp]: smtp is enabled but has no from address",
        ),
        (
            "[alerter.exec]\nenabled = true\nprograms = [\"page.sh\"]\n",
            "tigk.toml: [alerter.exec]: exec program \"page.sh\" must be an absolute path",
        ),
        (
            "[alerter.slack]\nenabled = true\nchannel = \"#a\"\nurl = \"hooks\"\n",
            "tigk.toml: [alerter.slack]: slack url \"hooks\" must be an http(s) URL",
        ),
        (
            "[limits]\nmax_select_series = -1\n",
            "tigk.toml:2:21: must be a positive integer",
        ),
        ("bind = 8086\n", "tigk.toml:1:8"),
    ];
    for (text, want) in cases {
        let (ok, out) = validate(dir.path(), text);
        assert!(!ok, "accepted {text:?}");
        assert!(out.contains(want), "{text:?}: expected {want:?} in {out:?}");
    }
    // Loopback may run without auth.
    let (ok, out) = validate(
        dir.path(),
        "bind = \"127.0.0.1:8086\"\n[auth]\nenabled = false\n",
    );
    assert!(ok, "{out}");
}

#[test]
fn validate_compiles_stored_tasks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let conn = rusqlite::Connection::open(data.join("alerter.db")).expect("alerter.db");
    conn.execute_batch("CREATE TABLE tasks (id TEXT PRIMARY KEY, def TEXT NOT NULL)")
        .expect("schema");
    let def = |id: &str, script: &str| {
        serde_json::json!({
            "id": id, "type": "stream", "dbrps": [], "script": script, "status": "enabled",
            "created": 0, "modified": 0, "last_enabled": 0
        })
        .to_string()
    };
    let good = "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|alert().crit(lambda: \"usage_idle\" < 10)";
    conn.execute("INSERT INTO tasks VALUES ('good', ?1)", [def("good", good)])
        .expect("insert");
    drop(conn);
    let (ok, out) = validate(dir.path(), "");
    assert!(ok, "{out}");
    assert!(out.contains("1 stored tasks compile"), "{out}");

    let conn = rusqlite::Connection::open(data.join("alerter.db")).expect("alerter.db");
    let bad = "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|nosuchnode()";
    conn.execute(
        "INSERT INTO tasks VALUES ('broken', ?1)",
        [def("broken", bad)],
    )
    .expect("insert");
    // A post handler to a loopback address needs the allow-list.
    let post = "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|alert().crit(lambda: TRUE).post('http://127.0.0.1:9/hook')";
    conn.execute("INSERT INTO tasks VALUES ('hook', ?1)", [def("hook", post)])
        .expect("insert");
    drop(conn);
    let (ok, out) = validate(dir.path(), "");
    assert!(!ok);
    assert!(out.contains("2 of 3 stored tasks do not compile"), "{out}");
    assert!(
        out.contains("task broken:") && out.contains("task hook:"),
        "{out}"
    );
    let (ok, out) = validate(
        dir.path(),
        "[alerter]\nallowed_addresses = [\"127.0.0.1\"]\n",
    );
    assert!(!ok);
    assert!(
        out.contains("1 of 3") && !out.contains("task hook:"),
        "{out}"
    );
}

#[test]
fn serve_applies_the_file_and_flags_override_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ignored = dir.path().join("from-file");
    let data = dir.path().join("from-flag");
    let cfg = dir.path().join("tigk.toml");
    std::fs::write(
        &cfg,
        format!(
            "bind = \"127.0.0.1:1\"\ndata_dir = {:?}\n[auth]\nenabled = false\n[limits]\nmax_body_bytes = 1000\n[metrics]\npublic = true\n",
            ignored.display().to_string()
        ),
    )
    .expect("write config");
    // Server::start passes --bind 127.0.0.1:0 and --data-dir: both override the file.
    let server = Server::start(&data, &["--config", cfg.to_str().expect("utf-8")]);
    assert!(data.join("tigk.db").exists());
    assert!(!ignored.exists());
    // auth off comes from the file: a write without credentials is accepted.
    let (status, body) =
        support::post(&server.url("/write?db=x"), "text/plain", b"m v=1 1").expect("write");
    assert!(status == 204 || status == 404, "{status} {body}");
    let big = vec![b'x'; 5000];
    let (status, _) = support::post(&server.url("/write?db=x"), "text/plain", &big).expect("write");
    assert_eq!(status, 413, "max_body_bytes from the file applies");
    server.stop();
}
