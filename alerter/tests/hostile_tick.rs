//! TICKscripts that try to hurt the server (issue #8): huge windows and counts,
//! self-feeding loops, template injection. Each is refused at define time with a clear
//! error or bounded when it runs. (Log paths, exec and posts to private addresses are
//! in `engine.rs`, `handlers.rs` and `tigk/tests/hostile.rs`.)

mod support;

use std::time::Duration;

use alerter::Options;
use alerter::alert::template::{MAX_OUTPUT, TVal, Template};
use alerter::engine::{Engine, Status, TaskRequest};
use alerter::runtime::Task;
use alerter::testrun::{TestRunOptions, test_run};
use alerter::tick::{self, CheckOptions};
use tsdb::storage::WriteLog;

fn task(script: &str, opts: &Options) -> Result<Task, String> {
    let graph = tick::compile(script, &CheckOptions::strict()).map_err(|e| e.to_string())?;
    Task::new("hostile", graph, opts).map_err(|e| e.to_string())
}

fn point(line: &str) -> common::Point {
    let mut parser = common::line_protocol::Parser::new(line.as_bytes(), Default::default());
    parser
        .next()
        .expect("a line")
        .expect("a point")
        .to_owned_point()
}

const HEAD: &str =
    "dbrp \"telegraf\".\"autogen\"\nstream\n    |from()\n        .measurement('cpu')\n";

#[test]
fn huge_windows_and_counts_are_refused_at_define_time() {
    let opts = Options::default();
    for (body, want) in [
        // Not a TICKscript duration unit: a parse error, not a century.
        ("|window().period(100y).every(1m)", "y"),
        ("|window().period(9999999999999999w).every(1m)", "duration"),
        (
            "|window().periodCount(1000000000)",
            "more than 100000 points is refused (max_window_points)",
        ),
        (
            "|window().periodCount(10).everyCount(1000000000)",
            "max_window_points",
        ),
        (
            "|movingAverage('usage', 1000000000)",
            "movingAverage window over 100000 points is refused",
        ),
        ("|movingAverage('usage', 0)", "positive window"),
        ("|sample(0)", "sample"),
        ("|top(0, 'usage')", "must be positive"),
        ("|top(-5, 'usage')", "must be positive"),
        ("|percentile('usage', 1000000000.0)", "between 0 and 100"),
        ("|window()", "either a period or a periodCount"),
    ] {
        let script = format!("{HEAD}    {body}\n");
        let err = match task(&script, &opts) {
            Ok(_) => panic!("{body}: accepted"),
            Err(e) => e,
        };
        assert!(err.contains(want), "{body}: {err}");
    }
    // The cap is configuration: a deployment may allow longer count windows.
    let wide = Options {
        max_window_points: 2_000_000,
        ..Options::default()
    };
    task(
        &format!("{HEAD}    |window().periodCount(1000000)\n"),
        &wide,
    )
    .expect("within the configured cap");
}

fn http_out_points(t: &Task, name: &str) -> usize {
    let json: serde_json::Value =
        serde_json::from_str(&t.http_out(name).expect("httpOut")).expect("json");
    json["series"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| s["values"].as_array().map_or(0, Vec::len))
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn a_year_long_window_holds_at_most_its_point_cap() {
    let opts = Options {
        max_window_points: 1_000,
        ..Options::default()
    };
    let script = format!("{HEAD}    |window().period(52w).every(1h)\n    |httpOut('w')\n");
    let mut t = task(&script, &opts).expect("a long window is allowed");
    let t0 = 1_704_067_200_000_000_000i64;
    let second = 1_000_000_000i64;
    for i in 0..5_000 {
        t.push_point(
            "telegraf",
            "autogen",
            &point(&format!("cpu,host=a usage={i} {}", t0 + i * second)),
        );
    }
    let dropped = |t: &Task| t.node_stats()["window2"]["points_dropped"];
    assert_eq!(dropped(&t), 4_000);
    // The state a restart would save is bounded too.
    let state = t.snapshot();
    assert!(
        state.len() < 200_000,
        "snapshot of a capped window: {} bytes",
        state.len()
    );
    // Past the first hour the window closes: it holds the newest 1,000 points.
    t.push_point(
        "telegraf",
        "autogen",
        &point(&format!("cpu,host=a usage=0 {}", t0 + 7_200 * second)),
    );
    assert_eq!(http_out_points(&t, "w"), 1_000);
    let json: serde_json::Value =
        serde_json::from_str(&t.http_out("w").expect("httpOut")).expect("json");
    assert_eq!(
        json["series"][0]["values"][0][1], 4_000.0,
        "the oldest points went first"
    );
    // The closing point went into the next window's buffer, full again: one more.
    let stats = t.node_stats();
    let w = &stats["window2"];
    assert_eq!(w["points_dropped"], 4_001, "{w:?}");
    assert_eq!(w["errors"], 4_001, "{w:?}");
}

#[test]
fn every_nanosecond_and_far_shifts_stay_bounded() {
    let opts = Options::default();
    // A window closing every nanosecond emits at most once per point.
    let script = format!("{HEAD}    |window().period(1h).every(1ns)\n    |httpOut('w')\n");
    let mut t = task(&script, &opts).expect("task");
    let t0 = 1_704_067_200_000_000_000i64;
    for i in 0..1_000 {
        t.push_point(
            "telegraf",
            "autogen",
            &point(&format!("cpu,host=a usage={i} {}", t0 + i * 1_000_000_000)),
        );
    }
    let stats = t.node_stats();
    assert!(
        stats["window2"]["emitted"] <= 1_000,
        "{:?}",
        stats["window2"]
    );
    // A billion-point top() over a window selects what the window has, allocating for
    // that, not for the count.
    let script = format!(
        "{HEAD}    |window().period(1h).every(1h)\n    |top(1000000000, 'usage')\n    |httpOut('top')\n"
    );
    let mut t = task(&script, &opts).expect("top");
    for i in 0..=3_600 {
        t.push_point(
            "telegraf",
            "autogen",
            &point(&format!("cpu,host=a usage={i} {}", t0 + i * 1_000_000_000)),
        );
    }
    assert_eq!(http_out_points(&t, "top"), 3_600);
    // A shift to the edge of time saturates instead of wrapping or panicking.
    for shift in ["-15250w", "15250w"] {
        let script = format!("{HEAD}    |shift({shift})\n    |httpOut('s')\n");
        let mut t = task(&script, &opts).expect("shift");
        t.push_point("telegraf", "autogen", &point(&format!("cpu usage=1 {t0}")));
        assert_eq!(http_out_points(&t, "s"), 1, "{shift}");
    }
    // stats(1ns) on a live clock: one emission per tick, not one per nanosecond.
    let script = "dbrp \"telegraf\".\"autogen\"\nvar s = stream|from().measurement('cpu')\ns|stats(1ns)|httpOut('st')\n";
    let mut t = task(script, &opts).expect("stats");
    t.push_point("telegraf", "autogen", &point(&format!("cpu usage=1 {t0}")));
    t.tick(t0, true);
    t.tick(t0 + 60_000_000_000, true);
    let stats = t.node_stats();
    assert!(stats["stats2"]["emitted"] <= 2, "{:?}", stats["stats2"]);
}

#[test]
fn a_join_waiting_for_a_silent_stream_holds_at_most_its_cap() {
    let opts = Options {
        max_window_points: 500,
        ..Options::default()
    };
    // `mem` never gets a point: Kapacitor's join keeps every cpu point for ever.
    for (how, join) in [
        ("by group", "cpu|join(mem).as('c', 'm')"),
        (
            "on a tag",
            "cpu|groupBy('host')|join(mem|groupBy('host', 'cpu')).as('c', 'm').on('host')",
        ),
        (
            "filled",
            "cpu|join(mem).as('c', 'm').fill(0.0).tolerance(100w)",
        ),
    ] {
        let script = format!(
            "dbrp \"telegraf\".\"autogen\"\nvar cpu = stream|from().measurement('cpu')\nvar mem = stream|from().measurement('mem')\n{join}\n    |httpOut('j')\n"
        );
        let mut t = task(&script, &opts).unwrap_or_else(|e| panic!("{how}: {e}"));
        let t0 = 1_704_067_200_000_000_000i64;
        for i in 0..3_000 {
            t.push_point(
                "telegraf",
                "autogen",
                &point(&format!(
                    "cpu,host=a,cpu=c0 usage={i} {}",
                    t0 + i * 1_000_000_000
                )),
            );
        }
        let state = t.snapshot();
        assert!(
            state.len() < 300_000,
            "{how}: join state {} bytes",
            state.len()
        );
        let stats = t.node_stats();
        let (name, j) = stats
            .iter()
            .find(|(k, _)| k.starts_with("join"))
            .expect("join node");
        assert_eq!(j["buffer_overflows"], 2_500, "{how}: {name} {j:?}");
        assert!(j["errors"] > 0, "{how}: {j:?}");
    }
}

#[tokio::test]
async fn posts_to_loopback_in_any_spelling_never_connect() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let opts = Options::default();
    let mut at_delivery = 0;
    // What inet_aton and getaddrinfo accept for 127.0.0.1, and a few more.
    for host in [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "017700000001",
        "127.1",
        "127.0.1",
        "localhost",
        "LOCALHOST",
        "localhost.",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:127.0.0.1]",
        "[::1]",
        "0",
        "0.0.0.0",
    ] {
        for handler in [
            format!(".post('http://{host}:{port}/')"),
            format!(".tcp('{host}:{port}')"),
        ] {
            let script = format!("{HEAD}    |alert().crit(lambda: TRUE){handler}\n");
            let t = match task(&script, &opts) {
                Err(e) => {
                    assert!(
                        e.contains("private, loopback or link-local"),
                        "{handler}: {e}"
                    );
                    continue;
                }
                Ok(t) => t,
            };
            for (_, specs) in t.handlers() {
                for spec in specs {
                    at_delivery += 1;
                    let r = alerter::alert::handlers::deliver_once(&spec, "{}", &opts).await;
                    let err = r.expect_err(&handler);
                    assert!(
                        err.contains("private, loopback or link-local")
                            || err.contains("resolving"),
                        "{handler}: {err}"
                    );
                }
            }
        }
    }
    // Spellings only the resolver understands pass the define-time check and meet the
    // guard on the resolved address.
    assert!(at_delivery >= 10, "{at_delivery} reached delivery");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a handler reached the loopback listener"
    );
}

// --- self-feeding loops ---

#[test]
fn a_task_writing_where_it_reads_is_refused() {
    let opts = Options::default();
    for (body, refused) in [
        // Same measurement by default (the output keeps the input's name).
        ("|influxDBOut().database('telegraf')", true),
        (
            "|influxDBOut().database('telegraf').retentionPolicy('autogen').measurement('cpu')",
            true,
        ),
        // Downsampling into another policy or measurement is the normal use.
        (
            "|influxDBOut().database('telegraf').retentionPolicy('long').measurement('cpu')",
            false,
        ),
        (
            "|influxDBOut().database('telegraf').measurement('cpu_1m')",
            false,
        ),
        ("|influxDBOut().database('other')", false),
    ] {
        let script = format!("{HEAD}    {body}\n");
        match task(&script, &opts) {
            Ok(_) if refused => panic!("{body}: accepted"),
            Err(e) if !refused => panic!("{body}: refused: {e}"),
            Err(e) => assert!(e.contains("the task would feed itself"), "{body}: {e}"),
            Ok(_) => {}
        }
    }
    // A from() without a measurement reads everything it writes.
    let all = "dbrp \"telegraf\".\"autogen\"\nstream|from()|influxDBOut().database('telegraf').measurement('x')\n";
    let err = task(all, &opts).err().expect("refused");
    assert!(err.contains("feed itself"), "{err}");
}

async fn write(store: &tsdb::Store, db: &str, line: &str) {
    let mut batch = tsdb::storage::PointBatch::new();
    batch.push_point(&point(line), 0);
    store.write(db, None, batch, 0).await.expect("write");
}

/// Waits until the store's write log stops growing for a while; returns its length.
async fn settled(store: &tsdb::Store) -> u64 {
    let mut last = store.committed_seq();
    let mut quiet = 0;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = store.committed_seq();
        if now == last {
            quiet += 1;
            if quiet >= 25 {
                return now;
            }
        } else {
            quiet = 0;
            last = now;
        }
    }
    panic!("the write log kept growing: {last} entries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_feeding_each_other_stop_after_one_round() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::telegraf_store(dir.path()).await;
    // "short" is the default policy, so an unnamed output policy writes where the
    // task reads although the define-time check (which assumes autogen) lets it pass.
    store
        .create_retention_policy("telegraf", "short", 0, 0, 1, true)
        .await
        .expect("rp");
    let engine = Engine::open(
        &dir.path().join("alerter"),
        store.clone(),
        Options::default(),
    )
    .expect("engine");
    let define = |id: &str, script: String| {
        engine
            .define(TaskRequest {
                id: Some(id.into()),
                script: Some(script),
                status: Some(Status::Enabled),
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{id}: {e}"))
    };
    // a -> b -> a.
    define(
        "a",
        "dbrp \"telegraf\".\"short\"\nstream|from().measurement('cpu')|eval(lambda: \"v\" + 1.0).as('v')|influxDBOut().database('telegraf').retentionPolicy('short').measurement('mem')\n".into(),
    );
    define(
        "b",
        "dbrp \"telegraf\".\"short\"\nstream|from().measurement('mem')|influxDBOut().database('telegraf').retentionPolicy('short').measurement('cpu')\n".into(),
    );
    // c feeds itself through the unnamed default policy.
    define(
        "c",
        "dbrp \"telegraf\".\"short\"\nstream|from().measurement('disk')|eval(lambda: \"v\" + 1.0).as('v')|influxDBOut().database('telegraf')\n".into(),
    );
    let before = store.committed_seq();
    write(&store, "telegraf", "cpu,host=h v=1 1704067200000000000").await;
    write(&store, "telegraf", "disk,host=h v=1 1704067200000000000").await;
    let after = settled(&store).await;
    // The two outside writes, a's mem, b's cpu (not fed back to a), c's disk (not fed
    // back to c): five entries, where Kapacitor would loop for ever.
    assert_eq!(after - before, 5, "write-log entries");
    let written = |id: &str| {
        let info = engine.show(id).expect("show");
        assert!(info.error.is_empty(), "{id}: {}", info.error);
        info.node_stats
            .iter()
            .find(|(k, _)| k.starts_with("influxdb_out"))
            .map(|(_, v)| v["points_written"])
            .unwrap_or(-1)
    };
    assert_eq!((written("a"), written("b"), written("c")), (1, 1, 1));
    // The loop is cut, not the data: a later outside write goes round once more.
    write(&store, "telegraf", "cpu,host=h v=5 1704067210000000000").await;
    assert_eq!(settled(&store).await - after, 3);
    let source = alerter::batch::StoreSource::new(store.clone());
    use alerter::batch::BatchSource;
    let series = source
        .query("telegraf", "short", "SELECT v FROM telegraf.short.disk", 0)
        .await
        .expect("query");
    // c's own output overwrote its input point once (v = 2), and stopped there.
    assert_eq!(format!("{:?}", series[0].values[0][1]), "Float(2.0)");
    engine.shutdown();
    store.shutdown();
}

// --- template injection ---

#[test]
fn tag_values_are_data_in_templates() {
    let script = r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('cpu')
    |alert()
        .id('{{ index .Tags "host" }}')
        .message('{{ .ID }} is {{ .Level }}: {{ index .Fields "note" }}')
        .details('<p>{{ index .Tags "host" }} {{ index .Fields "note" }}</p>')
        .crit(lambda: TRUE)
"#;
    let hostile = [
        r"{{\ .Tags\ }}",
        r#"{{\ printf\ "%0999999d"\ 1\ }}"#,
        r"<script>alert(1)</script>",
        r#"{{template\ "x"}}"#,
    ];
    let lp: String = hostile
        .iter()
        .enumerate()
        .map(|(i, h)| {
            format!(
                "cpu,host={h} note=\"line one\nline two {{{{ .ID }}}} <b>\" {}\n",
                1_704_067_200_000_000_000i64 + i as i64
            )
        })
        .collect();
    let events = test_run(script, &lp, &TestRunOptions::default()).expect("run");
    assert_eq!(events.len(), hostile.len());
    for (e, h) in events.iter().zip(hostile) {
        let raw = h.replace("\\ ", " ");
        assert_eq!(e.id, raw, "the id is the tag value, never evaluated");
        assert_eq!(
            e.message,
            format!("{raw} is CRITICAL: line one\nline two {{{{ .ID }}}} <b>")
        );
        // Details are html/template: tag and field values escaped.
        assert!(!e.details.contains('<') || e.details.starts_with("<p>"));
        assert!(!e.details[3..].contains("<script>"), "{}", e.details);
        assert!(!e.details.contains("<b>"), "{}", e.details);
        // What a log handler writes: one JSON line per event, the newline escaped.
        let line = e.to_json();
        assert!(!line.contains('\n'), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["id"], raw.as_str());
        assert_eq!(v["message"], e.message.as_str());
        assert!(e.message.len() < 1_000, "nothing expanded: {}", e.message);
    }
}

#[test]
fn templates_that_expand_hugely_are_bounded() {
    let dot = TVal::Struct(vec![("Big".into(), TVal::Str("x".repeat(60_000)))]);
    // Go's fmt gives up on a width past ten million: "%!(NOVERB)", not a gigabyte.
    let t = Template::parse(r#"{{ printf "%0999999999999999999999d" 1 }}"#).expect("parse");
    assert_eq!(
        t.render(&dot).expect("render"),
        "%!(NOVERB)%!(EXTRA int64=1)"
    );
    let t = Template::parse(r#"{{ printf "%.99999999999f" 1.5 }}"#).expect("parse");
    assert_eq!(
        t.render(&dot).expect("render"),
        "%!(NOVERB)%!(EXTRA float64=1.5)"
    );
    // A width Go accepts still pads, up to the output cap.
    let t = Template::parse(r#"{{ printf "%0999999d" 7 }}"#).expect("parse");
    assert_eq!(t.render(&dot).expect("render").len(), 999_999);
    let t = Template::parse(r#"{{ printf "%09999999d" 7 }}"#).expect("parse");
    let err = t.render(&dot).expect_err("ten megabytes");
    assert!(err.to_string().contains("over"), "{err}");
    // A big value repeated: refused once past the cap, not rendered to the end.
    let t = Template::parse(&"{{ .Big }}{{ .Big }}{{ .Big }}{{ .Big }}".repeat(10)).expect("parse");
    let err = t.render(&dot).expect_err("2.4 MB");
    assert!(
        err.to_string()
            .contains(&format!("template output over {MAX_OUTPUT} bytes")),
        "{err}"
    );
    let html = Template::parse_html(&"{{ .Big }}".repeat(5)).expect("parse");
    assert_eq!(html.render(&dot).expect("render").len(), 300_000);
}
