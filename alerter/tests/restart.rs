//! Snapshot/restore: a task stopped at any point and restored from its snapshot (through
//! JSON, as stored) produces exactly the events of an uninterrupted run.

use std::collections::BTreeMap;

use alerter::Options;
use alerter::runtime::Task;
use alerter::testrun::parse_points;
use alerter::tick::{self, CheckOptions};

const SCRIPT: &str = r#"dbrp "telegraf"."autogen"
var data = stream
    |from()
        .measurement('m')
        .groupBy('host')
        .where(lambda: count() > 0)
data
    |derivative('v')
        .as('rate')
    |stateCount(lambda: "rate" > 0.0)
    |changeDetect('state_count')
    |alert()
        .id('sc:{{ .Group }}')
        .warn(lambda: "state_count" >= 2)
        .crit(lambda: sigma("rate") > 1.5)
        .stateChangesOnly()
        .details('')
data
    |window()
        .period(30s)
        .every(20s)
    |mean('v')
    |alert()
        .id('mean:{{ .Group }}')
        .crit(lambda: "mean" > 5.0)
        .flapping(0.2, 0.6)
        .details('')
data
    |movingAverage('v', 3)
    |sample(2)
    |alert()
        .id('ma:{{ .Group }}')
        .info(lambda: "movingAverage" > 3.0)
        .details('')
"#;

fn input() -> String {
    let mut s = String::new();
    let vals = [
        1, 3, 2, 8, 9, 9, 4, 12, 15, 1, 0, 7, 7, 8, 20, 3, 2, 2, 30, 31,
    ];
    for (i, v) in vals.iter().enumerate() {
        for (h, off) in [("a", 0), ("b", 5)] {
            s.push_str(&format!(
                "m,host={h} v={}i {}\n",
                v + off,
                1_704_067_200_000_000_000i64 + i as i64 * 7_000_000_000
            ));
        }
    }
    s
}

fn task() -> Task {
    let g = tick::compile(SCRIPT, &CheckOptions::strict()).expect("compile");
    Task::new("t", g, &Options::default()).expect("task")
}

#[test]
fn restore_at_every_point_matches_an_uninterrupted_run() {
    let points = parse_points(&input(), Default::default()).expect("points");
    let mut whole = task();
    let want: Vec<String> = points
        .iter()
        .flat_map(|p| whole.push_point("telegraf", "autogen", p))
        .map(|e| e.to_json())
        .collect();
    assert!(want.len() > 10, "the script should alert: {}", want.len());
    for cut in 0..=points.len() {
        let mut first = task();
        let mut got: Vec<String> = points[..cut]
            .iter()
            .flat_map(|p| first.push_point("telegraf", "autogen", p))
            .map(|e| e.to_json())
            .collect();
        let saved = first.snapshot();
        let mut second = task();
        let state: BTreeMap<usize, serde_json::Value> = serde_json::from_str(&saved).expect("json");
        second.restore(state).expect("restore");
        got.extend(
            points[cut..]
                .iter()
                .flat_map(|p| second.push_point("telegraf", "autogen", p))
                .map(|e| e.to_json()),
        );
        assert_eq!(got, want, "cut at {cut}");
    }
}

#[test]
fn tumbling_window_keeps_only_its_open_window() {
    // Emitted points no later window reaches leave the buffer (and the snapshot) at
    // once: a tumbling window holds one window of points, not two.
    let script = r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('m')
    |window()
        .period(1m)
        .every(1m)
        .align()
    |mean('v')
    |alert()
        .crit(lambda: "mean" > 100.0)
"#;
    let g = tick::compile(script, &CheckOptions::strict()).expect("compile");
    let mut t = Task::new("w", g, &Options::default()).expect("task");
    // Six points a minute for three minutes and one into the fourth.
    let lp: String = (0..19)
        .map(|i| {
            format!(
                "m v={i} {}\n",
                1_704_067_200_000_000_000i64 + i * 10_000_000_000
            )
        })
        .collect();
    for p in parse_points(&lp, Default::default()).expect("points") {
        t.push_point("telegraf", "autogen", &p);
    }
    let state: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&t.snapshot()).expect("json");
    let buffered: Vec<i64> = state
        .values()
        .filter_map(|n| n.as_object())
        .flat_map(|groups| groups.values())
        .filter_map(|g| g.get("buf")?.as_array().cloned())
        .flatten()
        .filter_map(|p| p.get("time")?.as_i64())
        .collect();
    // The fourth minute's first point only (the third minute was emitted by it).
    assert_eq!(
        buffered,
        vec![1_704_067_200_000_000_000i64 + 18 * 10_000_000_000]
    );
}
