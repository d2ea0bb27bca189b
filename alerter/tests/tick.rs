//! Golden tests for the TICKscript front end.
//!
//! Each `tests/tick/NAME.tick` is compiled; `NAME.expected` holds the DOT graph of an
//! accepted script or the exact error of a rejected one. Leading `// @` lines set
//! options: `// @no-dbrp` (dbrp not required), `// @type stream|batch`,
//! `// @dbrp db.rp` (out of band), `// @var name type value`.
//! Run with `UPDATE_GOLDEN=1` to rewrite the expected files.

use std::fs;
use std::path::Path;

use alerter::tick::{self, CheckOptions, Dbrp, TaskType, VarValue};

fn options(script: &str) -> CheckOptions {
    let mut opts = CheckOptions::strict();
    for line in script.lines() {
        let Some(d) = line.strip_prefix("// @") else {
            break;
        };
        let parts: Vec<&str> = d.splitn(4, ' ').collect();
        match parts.as_slice() {
            ["no-dbrp"] => opts.require_dbrp = false,
            ["type", "stream"] => opts.task_type = Some(TaskType::Stream),
            ["type", "batch"] => opts.task_type = Some(TaskType::Batch),
            ["dbrp", dbrp] => {
                let (db, rp) = dbrp.split_once('.').expect("db.rp");
                opts.dbrps.push(Dbrp {
                    db: db.into(),
                    rp: rp.into(),
                });
            }
            ["var", name, ty, value] => {
                let v = match *ty {
                    "int" => VarValue::Int(value.parse().expect("int")),
                    "float" => VarValue::Float(value.parse().expect("float")),
                    "string" => VarValue::String(value.to_string()),
                    "bool" => VarValue::Bool(value.parse().expect("bool")),
                    "duration" => VarValue::Duration(value.parse().expect("ns")),
                    "lambda" => VarValue::Lambda(value.to_string()),
                    "regex" => VarValue::Regex(value.to_string()),
                    other => panic!("unknown var type {other}"),
                };
                opts.vars.insert(name.to_string(), v);
            }
            other => panic!("unknown directive {other:?}"),
        }
    }
    opts
}

fn render(name: &str, script: &str) -> String {
    match tick::compile(script, &options(script)) {
        Ok(g) => format!("{}\n", g.to_dot(name)),
        Err(e) => format!("error: {e}\n"),
    }
}

#[test]
fn golden() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tick");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<_> = fs::read_dir(&dir)
        .expect("tests/tick")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tick"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "only {} golden cases", cases.len());
    let mut failures = Vec::new();
    for path in &cases {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .replace('-', "_");
        let script = fs::read_to_string(path).expect("read");
        let got = render(&name, &script);
        let exp_path = path.with_extension("expected");
        if update {
            fs::write(&exp_path, &got).expect("write");
            continue;
        }
        let want = fs::read_to_string(&exp_path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- want\n{want}--- got\n{got}",
                path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn point_crit(script: &str, fields: Vec<(String, common::FieldValue)>) -> bool {
    let g = tick::compile(script, &CheckOptions::strict()).expect("compiles");
    let alert = g
        .nodes
        .iter()
        .find(|n| n.kind == tick::NodeKind::Alert)
        .expect("alert");
    let Some(tick::Arg::Lambda(l)) = alert.prop("crit").and_then(|p| p.args.first()) else {
        panic!("no crit lambda")
    };
    let scope = tick::lambda::PointScope {
        time: 0,
        fields: &fields,
        tags: &[],
    };
    let mut st = l.compiled.new_state();
    l.compiled.eval_bool(&scope, &mut st).expect("evaluates")
}

#[test]
fn seed_stream_lambda() {
    let script = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tick/seed-stream.tick"),
    )
    .expect("seed");
    let f = |v: f64| vec![("usage_idle".to_string(), common::FieldValue::Float(v))];
    assert!(point_crit(&script, f(69.9)));
    assert!(!point_crit(&script, f(70.0)));
    // int() truncates toward zero: 70.5 -> 70, not < 70.
    assert!(!point_crit(&script, f(70.5)));
}

#[test]
fn seed_batch_lambda() {
    let script = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tick/seed-batch.tick"),
    )
    .expect("seed");
    let f = |v: common::FieldValue| vec![("mean".to_string(), v)];
    assert!(point_crit(&script, f(common::FieldValue::Float(12.5))));
    assert!(point_crit(&script, f(common::FieldValue::Integer(69))));
    assert!(!point_crit(&script, f(common::FieldValue::Float(70.0))));
}
