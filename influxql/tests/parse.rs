//! Golden tests: every `tests/data/*.influxql` file holds cases separated by blank lines
//! (`#` lines are comments). The matching `.expected` file records, per case, the
//! canonical `Display` of the parsed query (`-> ...`) or the error (`!! ...`).
//! `UPDATE_GOLDEN=1 cargo test -p influxql --test parse` rewrites the expected files.
//! Every accepted case must also round-trip: parse(display(parse(q))) == parse(q).

use std::fs;
use std::path::{Path, PathBuf};

fn cases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(cur.join("\n"));
                cur.clear();
            }
        } else if !line.starts_with('#') {
            cur.push(line);
        }
    }
    if !cur.is_empty() {
        out.push(cur.join("\n"));
    }
    out
}

fn render(case: &str) -> String {
    let mut s = String::new();
    for line in case.lines() {
        s.push_str("== ");
        s.push_str(line);
        s.push('\n');
    }
    match influxql::parse_query(case) {
        Ok(q) => {
            for line in q.to_string().lines() {
                s.push_str("-> ");
                s.push_str(line);
                s.push('\n');
            }
        }
        Err(e) => {
            s.push_str("!! ");
            s.push_str(&e.to_string());
            s.push('\n');
        }
    }
    s
}

fn data_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/data exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "influxql"))
        .collect();
    files.sort();
    files
}

#[test]
fn golden() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let mut total = 0;
    for file in data_files() {
        let text = fs::read_to_string(&file).expect("readable");
        let cs = cases(&text);
        total += cs.len();
        let actual: Vec<String> = cs.iter().map(|c| render(c)).collect();
        let actual = actual.join("\n");
        let exp_path = file.with_extension("expected");
        if update {
            fs::write(&exp_path, &actual).expect("writable");
            continue;
        }
        let expected = fs::read_to_string(&exp_path).unwrap_or_default();
        if expected != actual {
            let exp_blocks: Vec<&str> = expected.split("\n\n").collect();
            let act_blocks: Vec<&str> = actual.split("\n\n").collect();
            for (i, a) in act_blocks.iter().enumerate() {
                let e = exp_blocks.get(i).copied().unwrap_or("<missing>");
                if e.trim_end() != a.trim_end() {
                    failures.push(format!(
                        "{}: case {}\n--- expected\n{}\n--- actual\n{}",
                        file.display(),
                        i + 1,
                        e,
                        a
                    ));
                }
            }
            if exp_blocks.len() != act_blocks.len() {
                failures.push(format!("{}: case count differs", file.display()));
            }
        }
    }
    assert!(total >= 150, "only {total} golden cases");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn round_trip() {
    let mut failures = Vec::new();
    for file in data_files() {
        let text = fs::read_to_string(&file).expect("readable");
        for case in cases(&text) {
            let Ok(q1) = influxql::parse_query(&case) else {
                continue;
            };
            let printed = q1.to_string();
            match influxql::parse_query(&printed) {
                Ok(q2) if q2 == q1 => {}
                Ok(q2) => failures.push(format!(
                    "{case}\n printed: {printed}\n reparsed: {q2}\n differs: {q1:?}\n vs {q2:?}"
                )),
                Err(e) => failures.push(format!("{case}\n printed: {printed}\n error: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
