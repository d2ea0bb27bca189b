//! Golden behaviour tests: a task over line protocol gives exact alert JSON lines.
//!
//! Each `tests/alerts/NAME.tick` runs over `NAME.lp` through `alerter::testrun`; the
//! events' JSON (what a log handler writes), one per line, must equal `NAME.expected`
//! (or `error: ...` for a task that fails). Leading `// @` lines of the script set
//! options: `// @name ID` (task id, default `cpu_alert`), `// @at RFC3339` (batch run
//! instants, repeatable), `// @range FROM TO`.
//! Expected files were worked out from the spec (kapacitor.md §5-§7), not recorded
//! blindly; `UPDATE_GOLDEN=1` rewrites them for review.

use std::fs;
use std::path::Path;

use alerter::gofmt::parse_rfc3339;
use alerter::testrun::{TestRunOptions, test_run};

fn options(script: &str) -> TestRunOptions {
    let mut opts = TestRunOptions {
        name: "cpu_alert".into(),
        ..Default::default()
    };
    let t = |s: &str| parse_rfc3339(s).unwrap_or_else(|| panic!("bad time {s}"));
    for line in script.lines() {
        let Some(d) = line.strip_prefix("// @") else {
            break;
        };
        let parts: Vec<&str> = d.split_whitespace().collect();
        match parts.as_slice() {
            ["name", n] => opts.name = n.to_string(),
            ["at", at] => opts.at.push(t(at)),
            ["range", from, to] => opts.range = Some((t(from), t(to))),
            other => panic!("unknown directive {other:?}"),
        }
    }
    opts
}

fn render(script: &str, input: &str) -> String {
    match test_run(script, input, &options(script)) {
        Ok(events) => events.iter().map(|e| e.to_json() + "\n").collect(),
        Err(e) => format!("error: {e}\n"),
    }
}

#[test]
fn golden() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alerts");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut names: Vec<_> = fs::read_dir(&dir)
        .expect("tests/alerts")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tick"))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    let mut failures = Vec::new();
    for path in names {
        let script = fs::read_to_string(&path).expect("script");
        let input = fs::read_to_string(path.with_extension("lp")).unwrap_or_default();
        let got = render(&script, &input);
        let exp_path = path.with_extension("expected");
        if update {
            fs::write(&exp_path, &got).expect("write expected");
            continue;
        }
        let want = fs::read_to_string(&exp_path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- want\n{want}--- got\n{got}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
