//! Tasks shared between instances: a task another instance owns stays enabled but parked
//! (no processing, no deliveries) and starts when a rebalance gives it to this one, at the
//! newest write or replaying the write log from a held position.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use alerter::Options;
use alerter::engine::{Engine, Placement, Status, TaskRequest};

const SCRIPT: &str = r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: "usage_idle" < 70)
        .details('')
        .log('LOG')
"#;

/// Owns `cpu_alert` while the flag is set; every other task runs elsewhere.
struct Switch(AtomicBool);

impl Placement for Switch {
    fn owns(&self, task: &str) -> bool {
        task == "cpu_alert" && self.0.load(Ordering::SeqCst)
    }

    fn owner(&self, task: &str) -> Option<String> {
        Some(if self.owns(task) { "here" } else { "there" }.into())
    }
}

async fn write(store: &tsdb::Store, line: &str) {
    let mut batch = tsdb::storage::PointBatch::new();
    let mut parser = common::line_protocol::Parser::new(line.as_bytes(), Default::default());
    let p = parser.next().expect("line").expect("point");
    batch.push(&p, 0);
    store
        .write("telegraf", None, batch, 0)
        .await
        .expect("write");
}

fn times(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["time"].as_str().unwrap_or("").to_string()
        })
        .collect()
}

async fn wait_for(path: &Path, n: usize) -> Vec<String> {
    for _ in 0..500 {
        let t = times(path);
        if t.len() >= n {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {n} alerts in {}", path.display());
}

#[tokio::test]
async fn a_task_owned_elsewhere_is_parked_until_a_rebalance_gives_it_here() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = support::telegraf_store(dir.path()).await;
    let alerts = dir.path().join("alerts");
    std::fs::create_dir_all(&alerts).expect("dir");
    let log = alerts.join("cpu.log");
    let opts = Options {
        alert_dir: Some(alerts.clone()),
        ..Options::default()
    };
    let switch = Arc::new(Switch(AtomicBool::new(false)));
    let batch = Arc::new(alerter::batch::StoreSource::new(store.clone()));
    let engine = Engine::open_placed(
        &dir.path().join("alerter"),
        store.clone(),
        batch.clone(),
        opts.clone(),
        switch.clone(),
    )
    .expect("engine");
    let script = SCRIPT.replace("LOG", &log.to_string_lossy());
    let info = engine
        .define(TaskRequest {
            id: Some("cpu_alert".into()),
            script: Some(script),
            status: Some(Status::Enabled),
            ..Default::default()
        })
        .expect("define");
    assert_eq!(info.def.status, Status::Enabled);
    assert!(!info.executing, "owned elsewhere: parked");
    assert_eq!(info.runs_on.as_deref(), Some("there"));

    write(&store, "cpu,host=h1 usage_idle=50 1704067200000000000").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(times(&log).is_empty(), "a parked task sends nothing");
    assert_eq!(engine.rebalance(), Default::default(), "nothing changed");

    switch.0.store(true, Ordering::SeqCst);
    let moved = engine.rebalance();
    assert_eq!(moved.started, ["cpu_alert"]);
    assert!(moved.parked.is_empty());
    let shown = engine.show("cpu_alert").expect("show");
    assert!(shown.executing);
    assert_eq!(shown.runs_on.as_deref(), Some("here"));
    // A take-over starts at the newest write, as an enable does.
    write(&store, "cpu,host=h1 usage_idle=40 1704067210000000000").await;
    assert_eq!(wait_for(&log, 1).await, ["2024-01-01T00:00:10Z"]);

    switch.0.store(false, Ordering::SeqCst);
    let moved = engine.rebalance();
    assert_eq!(moved.parked, ["cpu_alert"]);
    assert!(!engine.show("cpu_alert").expect("show").executing);
    write(&store, "cpu,host=h1 usage_idle=30 1704067220000000000").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(times(&log).len(), 1, "parked again: nothing more");
    engine.shutdown();
    drop(engine);

    // A restart keeps a task that runs elsewhere parked.
    let engine = Engine::open_placed(
        &dir.path().join("alerter"),
        store.clone(),
        batch,
        opts,
        switch.clone(),
    )
    .expect("reopen");
    let list = engine.list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].def.status, Status::Enabled);
    assert!(!list[0].executing);

    // A take-over replaying the hand-over window: the log held from before the last write
    // (which the task missed while parked) is read again. The hold is no task's backlog.
    let held = tsdb::storage::WriteLog::committed_seq(&store) - 1;
    engine.hold_log(Some(held));
    assert_eq!(engine.backlog().expect("backlog").0, 0);
    switch.0.store(true, Ordering::SeqCst);
    assert_eq!(engine.rebalance_from(Some(held)).started, ["cpu_alert"]);
    assert_eq!(
        wait_for(&log, 2).await,
        ["2024-01-01T00:00:10Z", "2024-01-01T00:00:20Z"]
    );
    engine.hold_log(None);
    engine.shutdown();
    store.shutdown();
}
