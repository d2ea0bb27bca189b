//! `[cluster]`: two tigk instances in remote mode over one real InfluxDB 1.6.7, with the same
//! member list and the same tasks. Each task runs on exactly one of them (its alerts are
//! logged once across the two); killing one moves its tasks to the other within
//! `down_after + health_interval`, which evaluates the writes of the hand-over window, and
//! their alerts keep coming from there; when it comes back its tasks move back.
//!
//! Not skipped when `influxd` is missing: `.ci/run` installs the package.

#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::influx::{Influxd, free_port, influx_query, influx_write, now_ns, start_influxd};
use support::seed::{BATCH_TASK, STREAM_TASK};
use support::{Server, post};

/// The stated hand-over time is `down_after + health_interval`.
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);
const DOWN_AFTER: Duration = Duration::from_secs(3);

/// The seed stream task under 12 names, and the seed batch task.
fn tasks() -> Vec<(String, &'static str)> {
    let mut t: Vec<(String, &str)> = (0..12)
        .map(|i| (format!("cpu_alert_{i}"), STREAM_TASK))
        .collect();
    t.push(("batch_cpu_alert".into(), BATCH_TASK));
    t
}

struct Member {
    dir: tempfile::TempDir,
    config: PathBuf,
    bind: String,
}

impl Member {
    fn url(&self) -> String {
        format!("http://{}", self.bind)
    }

    fn start(&self) -> Server {
        Server::start(
            &self.dir.path().join("data"),
            &[
                "--config",
                self.config.to_str().expect("utf-8 path"),
                "--bind",
                &self.bind,
            ],
        )
    }

    fn log(&self, task: &str) -> PathBuf {
        self.dir
            .path()
            .join("data")
            .join("alerts")
            .join(format!("{task}.log"))
    }

    /// The usage_idle of each alert in a task's log here.
    fn idle_values(&self, task: &str) -> Vec<f64> {
        std::fs::read_to_string(self.log(task))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("alert json");
                v["data"]["series"][0]["values"][0][1].as_f64()
            })
            .collect()
    }

    /// The alert times in a task's log here.
    fn alerts(&self, task: &str) -> Vec<String> {
        std::fs::read_to_string(self.log(task))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("alert json");
                v["time"].as_str().unwrap_or_default().to_string()
            })
            .collect()
    }
}

/// Two members of one cluster, each with its own data directory and port.
fn members(influx: &Influxd) -> [Member; 2] {
    let binds = [
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    ];
    let list = binds
        .iter()
        .map(|b| format!("\"http://{b}\""))
        .collect::<Vec<_>>()
        .join(", ");
    binds.map(|bind| {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("tigk.toml");
        std::fs::write(
            &config,
            format!(
                "[auth]\nenabled = false\n[monitor]\nstore_enabled = false\n\
                 [storage]\nbackend = \"remote\"\nurls = [\"{}\"]\nsubscription_sync = \"1s\"\n\
                 [cluster]\nmembers = [{list}]\nself = \"http://{bind}\"\n\
                 health_interval = \"{}s\"\ndown_after = \"{}s\"\n",
                influx.url,
                HEALTH_INTERVAL.as_secs(),
                DOWN_AFTER.as_secs()
            ),
        )
        .expect("config");
        Member { dir, config, bind }
    })
}

fn define(server: &Server, member: &Member, id: &str, script: &str) {
    let body = serde_json::json!({
        "id": id,
        "script": script.replace("LOG", &member.log(id).to_string_lossy()),
        "status": "enabled",
    });
    let (status, text) = post(
        &server.url("/kapacitor/v1/tasks"),
        "application/json",
        body.to_string().as_bytes(),
    )
    .expect("define");
    assert_eq!(status, 200, "{text}");
}

/// Task id -> (executing, runs-on) as a member reports it.
fn placement(server: &Server) -> BTreeMap<String, (bool, String)> {
    let mut resp = ureq::get(server.url("/kapacitor/v1/tasks"))
        .call()
        .expect("tasks");
    let v: serde_json::Value =
        serde_json::from_str(&resp.body_mut().read_to_string().expect("body")).expect("json");
    v["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_string(),
                (
                    t["executing"].as_bool().unwrap_or(false),
                    t["runs-on"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stream_ids() -> Vec<String> {
    tasks()
        .into_iter()
        .filter(|(_, s)| *s == STREAM_TASK)
        .map(|(id, _)| id)
        .collect()
}

/// Writes one CRITICAL point and waits until each stream task logged one more alert; then
/// checks that it was logged once, by the task's owner.
fn one_alert_each(influx: &Influxd, logs: &[&Member], t: i64, owners: &BTreeMap<String, String>) {
    let counts = |id: &str| -> Vec<usize> { logs.iter().map(|m| m.alerts(id).len()).collect() };
    let before: BTreeMap<String, Vec<usize>> = stream_ids()
        .into_iter()
        .map(|id| (id.clone(), counts(&id)))
        .collect();
    influx_write(influx, &format!("cpu,cpu=cpu0,host=h usage_idle=10 {t}"));
    let total = |c: &[usize]| c.iter().sum::<usize>();
    wait_for("every stream task's alert", 30, || {
        before.iter().all(|(id, b)| total(&counts(id)) > total(b))
    });
    // Time for a second instance's copy to show up, if there were one.
    std::thread::sleep(HEALTH_INTERVAL * 2);
    for (id, b) in &before {
        let now = counts(id);
        let grew: Vec<String> = logs
            .iter()
            .zip(now.iter().zip(b))
            .filter(|(_, (n, b))| n > b)
            .map(|(m, _)| m.url())
            .collect();
        assert_eq!(
            total(&now),
            total(b) + 1,
            "{id}: logged once across the members"
        );
        assert_eq!(grew, [owners[id].clone()], "{id} alerts from its owner");
    }
}

fn subscribed(influx: &Influxd, member: &Member) -> bool {
    influx_query(influx, "SHOW SUBSCRIPTIONS")
        .to_string()
        .contains(&member.url())
}

#[test]
fn each_task_runs_on_one_member_and_moves_when_it_stops() {
    let influx = start_influxd();
    let [a, b] = members(&influx);
    let (sa, sb) = (a.start(), b.start());
    for (id, script) in tasks() {
        define(&sa, &a, &id, script);
        define(&sb, &b, &id, script);
    }
    // Both members agree where each task runs, and exactly that one executes it.
    let (pa, pb) = (placement(&sa), placement(&sb));
    assert_eq!(pa.len(), tasks().len());
    let mut owners = BTreeMap::new();
    for (id, (exec_a, owner)) in &pa {
        let (exec_b, owner_b) = &pb[id];
        assert_eq!(owner, owner_b, "{id}: the members agree");
        assert!(*owner == a.url() || *owner == b.url(), "{id} on {owner}");
        assert_eq!(
            *exec_a,
            *owner == a.url(),
            "{id} executes on its owner only"
        );
        assert_eq!(
            *exec_b,
            *owner == b.url(),
            "{id} executes on its owner only"
        );
        owners.insert(id.clone(), owner.clone());
    }
    // `tigk task list` says where each task runs.
    let listed = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(["task", "list", "--url", &b.url()])
        .output()
        .expect("tigk task list");
    assert!(listed.status.success(), "{listed:?}");
    let listed = String::from_utf8_lossy(&listed.stdout);
    for (id, owner) in &owners {
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(id.as_str()) && l.ends_with(&format!("runs on {owner}"))),
            "{id}: {listed}"
        );
    }
    let on_a = owners.values().filter(|o| **o == a.url()).count();
    assert!(
        on_a > 0 && on_a < owners.len(),
        "both members run tasks: {owners:?}"
    );
    // Each member has its own subscription (each is sent every write).
    wait_for("both subscriptions", 30, || {
        subscribed(&influx, &a) && subscribed(&influx, &b)
    });

    let t1 = now_ns() - 60_000_000_000;
    one_alert_each(&influx, &[&a, &b], t1, &owners);
    // The batch task queries the engine on its owner only.
    let batch_owner = if owners["batch_cpu_alert"] == a.url() {
        &a
    } else {
        &b
    };
    let other = if std::ptr::eq(batch_owner, &a) {
        &b
    } else {
        &a
    };
    wait_for("the batch task's alerts", 30, || {
        !batch_owner.alerts("batch_cpu_alert").is_empty()
    });
    assert!(
        other.alerts("batch_cpu_alert").is_empty(),
        "batch runs once"
    );

    // Kill the member that runs the batch task: every task moves to the other one.
    let (victim, survivor, survivor_server) = if std::ptr::eq(batch_owner, &a) {
        sa.kill9();
        (&a, &b, sb)
    } else {
        sb.kill9();
        (&b, &a, sa)
    };
    let killed = Instant::now();
    // Written while the killed member's tasks are nowhere: the new owner replays it.
    influx_write(
        &influx,
        &format!(
            "cpu,cpu=cpu0,host=h usage_idle=7 {}",
            now_ns() - 45_000_000_000
        ),
    );
    let moved: Vec<String> = owners
        .iter()
        .filter(|(_, o)| **o == victim.url())
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!moved.is_empty());
    wait_for("the hand-over", 30, || {
        placement(&survivor_server)
            .values()
            .all(|(exec, owner)| *exec && *owner == survivor.url())
    });
    let handover = killed.elapsed();
    eprintln!(
        "hand-over of {} task(s) took {handover:?} (stated: down_after {DOWN_AFTER:?} + health_interval {HEALTH_INTERVAL:?})",
        moved.len()
    );
    // The stated time, with a second for the last ping's round trip and the rebalance.
    assert!(
        handover <= DOWN_AFTER + HEALTH_INTERVAL + Duration::from_secs(1),
        "hand-over took {handover:?}"
    );

    wait_for("the hand-over window's alerts", 30, || {
        moved
            .iter()
            .filter(|id| *id != "batch_cpu_alert")
            .all(|id| survivor.idle_values(id).contains(&7.0))
    });
    for id in &moved {
        assert!(!victim.idle_values(id).contains(&7.0), "{id}");
    }

    // Alerts keep coming, now all from the survivor.
    let all_here: BTreeMap<String, String> = owners
        .keys()
        .map(|id| (id.clone(), survivor.url()))
        .collect();
    let t2 = now_ns() - 30_000_000_000;
    one_alert_each(&influx, &[victim, survivor], t2, &all_here);
    // The moved batch task queries the same buckets again: its events carry the same
    // id, time and level as the ones the killed member sent, which is what a receiver
    // de-duplicates a hand-over by.
    let keys = |m: &Member, task: &str| -> Vec<(String, String, String)> {
        std::fs::read_to_string(m.log(task))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("alert json");
                let f = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                (f("id"), f("time"), f("level"))
            })
            .collect()
    };
    let sent_before = keys(victim, "batch_cpu_alert");
    assert!(!sent_before.is_empty());
    wait_for("the moved batch task's alerts", 30, || {
        let again = keys(survivor, "batch_cpu_alert");
        sent_before.iter().all(|k| again.contains(k))
    });

    // The killed member comes back: its tasks move back to it. It resumes them from its
    // own snapshots and replays what it missed (the engine fills its spool's gap, as after
    // any restart), so it sends the write its tasks missed again: with the same id, time
    // and level as the other member's events for it.
    let back = victim.start();
    wait_for("the tasks to move back", 30, || {
        let (here, there) = (placement(&back), placement(&survivor_server));
        owners
            .iter()
            .all(|(id, o)| here[id] == (*o == victim.url(), o.clone()) && there[id].1 == *o)
            && owners
                .iter()
                .all(|(id, o)| there[id].0 == (*o == survivor.url()))
    });
    wait_for("the missed write's alerts", 30, || {
        moved
            .iter()
            .filter(|id| *id != "batch_cpu_alert")
            .all(|id| {
                let (replayed, sent) = (keys(victim, id), keys(survivor, id));
                sent.last().is_some_and(|k| replayed.contains(k))
            })
    });
    let t3 = now_ns() - 10_000_000_000;
    one_alert_each(&influx, &[victim, survivor], t3, &owners);
    back.stop();
    survivor_server.stop();
}

#[test]
fn embedded_mode_refuses_a_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tigk.toml");
    std::fs::write(
        &config,
        "[cluster]\nmembers = [\"http://a:8086\"]\nself = \"http://a:8086\"\n",
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .expect("tigk validate");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[cluster]: needs [storage] backend = \"remote\""),
        "{err}"
    );
}
