//! The real influx CLI 1.6.7 against `tigk serve` with authentication on: it creates a
//! database and imports points (`influx -import`), and the points read back.
//!
//! Needs `influx` on PATH (Debian package `influxdb-client`, installed by `.ci/run`).

mod support;

use std::process::Command;

use support::Server;
use tsdb::{Store, StoreOptions};

fn influx_cli() -> &'static str {
    let found = Command::new("influx")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "the influx CLI 1.6.7 is needed (apt-get install influxdb-client; .ci/run installs it)"
    );
    "influx"
}

#[test]
fn influx_cli_creates_a_database_and_imports_points() {
    let cli = influx_cli();
    let dir = tempfile::tempdir().expect("tempdir");
    let status = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args([
            "user",
            "create",
            "--name",
            "admin",
            "--password",
            "import-pass",
            "--admin",
            "--data-dir",
        ])
        .arg(dir.path())
        .status()
        .expect("tigk user create");
    assert!(status.success());
    let server = Server::start(dir.path(), &[]);
    let (host, port) = server.addr.rsplit_once(':').expect("host:port");

    let import = dir.path().join("import.txt");
    let mut lines = String::from(
        "# DDL\nCREATE DATABASE imported\n\n# DML\n# CONTEXT-DATABASE: imported\n# CONTEXT-RETENTION-POLICY: autogen\n",
    );
    for i in 0..100 {
        lines.push_str(&format!(
            "cpu,host=h{},cpu=cpu-total usage_idle={}.5,usage_user={}i {}\n",
            i % 4,
            90 - i % 10,
            i,
            1_700_000_000 + i
        ));
    }
    lines
        .push_str("weather,city=Z\\ rich temp=-3.5,ok=true,note=\"ice \\\"cold\\\"\" 1700000000\n");
    std::fs::write(&import, lines).expect("write import file");

    let base = |args: &[&str]| {
        let out = Command::new(cli)
            .args([
                "-host",
                host,
                "-port",
                port,
                "-username",
                "admin",
                "-password",
                "import-pass",
            ])
            .args(args)
            .output()
            .expect("run influx");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = base(&[
        "-import",
        "-path",
        import.to_str().expect("utf8 path"),
        "-precision",
        "s",
    ]);
    assert!(ok, "import failed: {out}");
    assert!(out.contains("Processed 1 commands"), "{out}");
    assert!(out.contains("Processed 101 inserts"), "{out}");
    assert!(out.contains("Failed 0 inserts"), "{out}");

    let (ok, out) = base(&["-database", "imported", "-execute", "SHOW SERIES"]);
    assert!(ok, "{out}");
    for h in 0..4 {
        assert!(
            out.contains(&format!("cpu,cpu=cpu-total,host=h{h}")),
            "{out}"
        );
    }
    assert!(out.contains("weather,city=Z\\ rich"), "{out}");
    let (ok, out) = base(&[
        "-database",
        "imported",
        "-execute",
        "SHOW FIELD KEYS FROM weather",
    ]);
    assert!(
        ok && out.contains("note") && out.contains("string") && out.contains("boolean"),
        "{out}"
    );
    // The CLI reads the points back and prints them as it does for InfluxDB.
    let (ok, out) = base(&[
        "-database",
        "imported",
        "-precision",
        "s",
        "-execute",
        "SELECT usage_idle, usage_user FROM cpu WHERE host = 'h1' ORDER BY time DESC LIMIT 2",
    ]);
    assert!(ok, "{out}");
    let expected = "name: cpu\ntime       usage_idle usage_user\n----       ---------- ----------\n1700000097 83.5       97\n1700000093 87.5       93\n";
    assert!(out.contains(expected), "{out}");
    let (ok, out) = base(&[
        "-database",
        "imported",
        "-execute",
        "SELECT count(usage_idle) FROM cpu",
    ]);
    assert!(ok && out.contains("0    100"), "{out}");
    // Wrong credentials are refused by the same CLI.
    let out = Command::new(cli)
        .args([
            "-host",
            host,
            "-port",
            port,
            "-username",
            "admin",
            "-password",
            "nope-nope",
        ])
        .args(["-execute", "SHOW DATABASES"])
        .output()
        .expect("run influx");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("authorization failed"), "{text}");
    server.stop();

    // Every value arrived intact.
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
    let cat = store.catalog();
    let (_, rp) = cat
        .retention_policy("imported", None)
        .expect("db created by the CLI");
    let mid = cat.measurement_id(rp.id, "cpu").expect("cpu");
    let m = &cat.measurements[&mid];
    let idle = m.fields["usage_idle"].id;
    let mut total = 0;
    for sid in &m.series {
        let (t, v) = store
            .read_column(*sid, idle, i64::MIN, i64::MAX)
            .expect("read")
            .expect("data");
        let tsdb::codec::Column::Float(v) = v else {
            panic!("usage_idle is a float")
        };
        for (t, v) in t.iter().zip(v) {
            let i = (t / 1_000_000_000) - 1_700_000_000;
            assert_eq!(v, (90 - i % 10) as f64 + 0.5);
        }
        total += t.len();
    }
    assert_eq!(total, 100);
    drop(cat);
    store.shutdown();
}
