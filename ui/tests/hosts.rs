//! The host list and the per-host dashboard, over fixed series.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use common::*;
use tsdb::query::{Cell, SeriesResult};
use ui::{BoxFuture, DataSource, FixedSource, UiError};

const S: i64 = 1_000_000_000;
const EVIL: &str = "<script>alert(1)</script>";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn tag_values(hosts: &[&str]) -> Vec<SeriesResult> {
    vec![SeriesResult {
        name: Some("cpu".into()),
        tags: None,
        columns: vec!["key".into(), "value".into()],
        values: hosts
            .iter()
            .map(|h| vec![Cell::String("host".into()), Cell::String(h.to_string())])
            .collect(),
    }]
}

fn per_host(name: &str, col: &str, rows: &[(&str, i64, f64)]) -> Vec<SeriesResult> {
    rows.iter()
        .map(|(h, t, v)| SeriesResult {
            name: Some(name.into()),
            tags: Some(BTreeMap::from([("host".to_string(), h.to_string())])),
            columns: vec!["time".into(), col.into()],
            values: vec![vec![Cell::Time(*t), Cell::Float(*v)]],
        })
        .collect()
}

fn fleet() -> FixedSource {
    let n = now();
    FixedSource::default()
        .with(
            "SHOW TAG VALUES",
            Ok(tag_values(&["web1", EVIL, "db1", "idle"])),
        )
        .with(
            "last(usage_idle)",
            Ok(per_host(
                "cpu",
                "last",
                &[
                    ("web1", n - 5 * S, 15.0),
                    (EVIL, n - 5 * S, 90.0),
                    ("db1", n - 3600 * S, 50.0),
                ],
            )),
        )
        .with(
            "last(load1)",
            Ok(per_host(
                "system",
                "last",
                &[("web1", n, 3.5), (EVIL, n, 0.25)],
            )),
        )
        .with(
            "last(used_percent)",
            Ok(per_host("mem", "last", &[("web1", n, 42.0)])),
        )
        .with(
            "max(used_percent) FROM disk WHERE time > now()",
            Ok(per_host("disk", "max", &[("web1", n, 91.0)])),
        )
}

fn rows_order(body: &str, names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .map(|n| body.find(&format!(">{n}</a>")).unwrap_or(usize::MAX))
        .collect()
}

#[tokio::test]
async fn host_list_shows_vitals_and_escapes_names() {
    let env = env(fleet()).await;
    let viewer = env.login(VIEWER).await;
    let r = viewer.get(&env, "/hosts").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        !r.body.contains(EVIL),
        "a hostile host name must be escaped"
    );
    assert!(
        r.body
            .contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
            || r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("/hosts/%3Cscript%3Ealert%281%29%3C%2Fscript%3E")
    );
    assert!(r.body.contains("85.0%"), "cpu = 100 - idle");
    assert!(r.body.contains("3.50"));
    assert!(r.body.contains("42.0%"));
    assert!(
        r.body.contains("lvl-crit\">91.0%"),
        "disk over 90 is critical"
    );
    assert!(r.body.contains("(4 of 4)"));
    // web1 and EVIL are up, db1 stopped an hour ago, idle never reported cpu.
    assert_eq!(r.body.matches("dot up").count(), 2);
    assert_eq!(r.body.matches("dot down").count(), 2);
    assert!(r.body.contains("1h ago") && r.body.contains("over 1d ago"));
}

#[tokio::test]
async fn host_list_filters_and_sorts() {
    let env = env(fleet()).await;
    let c = env.login(VIEWER).await;
    let r = c.get(&env, "/hosts?q=WEB").await;
    assert!(r.body.contains(">web1</a>") && !r.body.contains(">db1</a>"));
    assert!(r.body.contains("(1 of 4)"));
    let r = c.get(&env, "/hosts?status=down").await;
    assert!(
        r.body.contains(">db1</a>")
            && r.body.contains(">idle</a>")
            && !r.body.contains(">web1</a>")
    );
    let r = c.get(&env, "/hosts?sort=cpu&dir=desc").await;
    let o = rows_order(&r.body, &["web1", "db1", "idle"]);
    assert!(
        o[0] < o[1] && o[1] < o[2],
        "{o:?}: web1 85% > db1 50% > idle (none, last)"
    );
    let r = c.get(&env, "/hosts?sort=cpu&dir=asc").await;
    let o = rows_order(&r.body, &["db1", "web1", "idle"]);
    assert!(
        o[0] < o[1] && o[1] < o[2],
        "{o:?}: missing values stay last"
    );
    let r = c.get(&env, "/hosts?sort=name").await;
    let o = rows_order(&r.body, &["db1", "idle", "web1"]);
    assert!(o[0] < o[1] && o[1] < o[2]);
    // Unknown sort keys fall back to the name; nothing is echoed unescaped.
    let r = c.get(&env, "/hosts?sort=%3Cb%3E&q=%3Cb%3E").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("<b>"));
    assert!(r.body.contains("No host matches the filter"));
}

#[tokio::test]
async fn host_list_states() {
    let env1 = env(FixedSource::default()).await;
    let c = env1.login(VIEWER).await;
    let r = c.get(&env1, "/hosts").await;
    assert!(r.body.contains("No host has reported yet"));
    let env2 = env(FixedSource::default().with(
        "SHOW TAG VALUES",
        Err("database not found: telegraf".into()),
    ))
    .await;
    let c = env2.login(VIEWER).await;
    let r = c.get(&env2, "/hosts").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Could not list hosts") && r.body.contains("database not found"));
    assert_eq!(
        env2.get("/hosts").await.status,
        StatusCode::SEE_OTHER,
        "sign-in required"
    );
}

/// Answers like [`FixedSource`] and remembers every query.
struct Recording {
    inner: FixedSource,
    seen: Mutex<Vec<String>>,
}

impl DataSource for Recording {
    fn query<'a>(
        &'a self,
        db: &'a str,
        q: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SeriesResult>, UiError>> {
        if let Ok(mut s) = self.seen.lock() {
            s.push(q.to_string());
        }
        self.inner.query(db, q)
    }
}

fn cpu_series(host: &str) -> Vec<SeriesResult> {
    let n = now();
    vec![SeriesResult {
        name: Some("cpu".into()),
        tags: None,
        columns: vec![
            "time".into(),
            "user".into(),
            "system".into(),
            "iowait".into(),
        ],
        values: (0..360)
            .map(|i| {
                let t = n - 3600 * S + i * 10 * S;
                let v = if i == 100 {
                    Cell::Null
                } else {
                    Cell::Float(10.0 + (i % 7) as f64)
                };
                vec![Cell::Time(t), v, Cell::Float(5.0), Cell::Integer(1)]
            })
            .collect(),
    }]
    .into_iter()
    .map(|mut s| {
        s.tags = if host.is_empty() { None } else { s.tags };
        s
    })
    .collect()
}

#[tokio::test]
async fn host_dashboard_panels() {
    let source = Arc::new(Recording {
        inner: FixedSource::default()
            .with("usage_user", Ok(cpu_series("")))
            .with("FROM net", Err("boom: <bad>".into())),
        seen: Mutex::new(Vec::new()),
    });
    let env = env_with(source.clone(), true, "127.0.0.1:1").await;
    let c = env.login(VIEWER).await;
    let r = c.get(&env, "/hosts/web1?from=now-6h&to=now").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body.matches("<section class=\"panel\">").count(), 7);
    assert!(r.body.contains("<polyline"), "the cpu panel has lines");
    assert!(r.body.contains("No data"), "panels without series say so");
    assert!(r.body.contains("Query error") && r.body.contains("boom: &lt;bad&gt;"));
    assert!(
        r.body.contains("class=\"on\">6h</a>"),
        "the active quick range is marked"
    );
    assert!(r.body.contains("One point per 2m."), "6h over ~300 points");
    let seen = source.seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(
        seen.iter()
            .any(|q| q.contains("FROM cpu WHERE host = 'web1' AND cpu = 'cpu-total' AND time >= "))
    );
    let panel_queries: Vec<&String> = seen
        .iter()
        .filter(|q| q.contains("WHERE host = "))
        .collect();
    assert_eq!(panel_queries.len(), 7);
    assert!(
        panel_queries
            .iter()
            .all(|q| q.contains("GROUP BY time(2m)")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn host_dashboard_quotes_hostile_hosts_and_rejects_bad_ranges() {
    let source = Arc::new(Recording {
        inner: FixedSource::default(),
        seen: Mutex::new(Vec::new()),
    });
    let env = env_with(source.clone(), true, "127.0.0.1:1").await;
    let c = env.login(VIEWER).await;
    let r = c.get(&env, "/hosts/x'%20OR%20'1'='1%3Cscript%3E").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("<script>"));
    let seen = source.seen.lock().map(|s| s.clone()).unwrap_or_default();
    for q in seen.iter().filter(|q| q.contains("WHERE host = ")) {
        assert!(q.contains(r"host = 'x\' OR \'1\'=\'1<script>'"), "{q}");
        let parsed = influxql::parse_query(q).expect("parses");
        assert_eq!(parsed.statements.len(), 1);
    }
    for bad in ["from=now&to=now-1h", "from=yesterday", "from=now-9999d"] {
        let r = c.get(&env, &format!("/hosts/web1?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = c
        .get(
            &env,
            "/hosts/web1?from=2026-11-24T07%3A00&to=2026-11-24T08%3A00",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("value=\"2026-11-24T07:00\""));
}
