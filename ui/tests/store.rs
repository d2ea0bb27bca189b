//! Pages over a real store: line protocol written through tsdb's /write, read back through
//! the InfluxQL engine.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use common::*;
use tsdb::{Store, StoreOptions};
use ui::{DataSource, EngineSource, UiConfig, UiState};

const S: i64 = 1_000_000_000;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// 30 minutes of agent data for `web1` every 10 s, and cpu only for a hostile host name.
fn agent_lines(now: i64) -> String {
    let mut lp = String::new();
    for i in 0..180i64 {
        let t = now - (180 - i) * 10 * S;
        let f = i as f64;
        lp.push_str(&format!(
            "cpu,host=web1,cpu=cpu-total usage_user={},usage_system=5,usage_idle={},usage_iowait=1 {t}\n",
            20.0 + (f / 10.0).sin() * 5.0,
            70.0 - (f / 10.0).sin() * 5.0
        ));
        for core in 0..2 {
            lp.push_str(&format!(
                "cpu,host=web1,cpu=cpu{core} usage_idle={} {t}\n",
                60.0 + core as f64 * 10.0
            ));
        }
        lp.push_str(&format!(
            "system,host=web1 load1=1.5,load5=1.2,load15=1,n_cpus=2i,uptime={}i {t}\n",
            1000 + i * 10
        ));
        lp.push_str(&format!(
            "mem,host=web1 used_percent=42.5,used=4000i,available=6000i,total=10000i {t}\n"
        ));
        lp.push_str(&format!("disk,host=web1,path=/ used_percent=91 {t}\n"));
        lp.push_str(&format!(
            "diskio,host=web1,name=sda read_bytes={}i,write_bytes={}i {t}\n",
            i * 10_240,
            i * 20_480
        ));
        lp.push_str(&format!(
            "net,host=web1,interface=eth0 bytes_recv={}i,bytes_sent={}i {t}\n",
            i * 1000,
            i * 500
        ));
        lp.push_str(&format!(
            "cpu,host=<script>alert(1)</script>,cpu=cpu-total usage_idle=99,usage_user=0.5 {t}\n"
        ));
    }
    lp
}

struct Real {
    env: Env,
    store: Store,
}

async fn real() -> Real {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("store");
    store.create_database("telegraf").await.expect("db");
    let api = tsdb::http::router(tsdb::http::ApiState::new(store.clone(), false));
    let r = send(
        &api,
        Request::post("/write?db=telegraf")
            .body(Body::from(agent_lines(now())))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let conn = tsdb::storage::admin_connection(dir.path()).expect("conn");
    tsdb::auth::create_user(&conn, ADMIN.0, ADMIN.1, true).expect("admin");
    tsdb::auth::create_user(&conn, VIEWER.0, VIEWER.1, false).expect("viewer");
    let state = UiState::new(
        Arc::new(EngineSource::new(store.clone())),
        dir.path(),
        UiConfig::default(),
    )
    .expect("state");
    let peer: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let app = ui::router(state.clone()).layer(MockConnectInfo(peer));
    Real {
        env: Env { dir, app, state },
        store,
    }
}

#[tokio::test]
async fn host_list_from_the_store() {
    let r = real().await;
    let c = r.env.login(VIEWER).await;
    let page = c.get(&r.env, "/hosts").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(">web1</a>"), "{}", page.body);
    assert!(!page.body.contains("<script>alert"));
    assert!(page.body.contains("&lt;script&gt;"));
    assert!(page.body.contains("1.50"), "load1");
    assert!(page.body.contains("42.5%"), "mem");
    assert!(page.body.contains("91.0%"), "disk");
    assert!(
        page.body.contains("1.0%"),
        "cpu of the hostile host: 100 - 99"
    );
    assert_eq!(page.body.matches("dot up").count(), 2, "{}", page.body);
    r.store.shutdown();
}

#[tokio::test]
async fn host_dashboard_from_the_store() {
    let r = real().await;
    let c = r.env.login(VIEWER).await;
    let page = c.get(&r.env, "/hosts/web1?from=now-1h&to=now").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Query error"), "{}", page.body);
    assert!(
        !page.body.contains("No data"),
        "every panel has data: {}",
        page.body
    );
    assert_eq!(page.body.matches("<section class=\"panel\">").count(), 7);
    // CSP (default-src 'self') forbids inline scripts and style attributes: use neither.
    assert!(!page.body.contains("style="));
    assert_eq!(
        page.body.matches("<script").count(),
        page.body
            .matches("<script src=\"/static/tigk.js\" defer></script>")
            .count(),
        "only the embedded script file"
    );
    // Per-core busy = 100 - idle: 40% and 30%.
    assert!(page.body.contains("cpu0") && page.body.contains("cpu1"));
    assert!(
        page.body.contains("40.0%") && page.body.contains("30.0%"),
        "busy per core"
    );
    // Disk I/O as a rate: 10 KiB per 10 s = 1 KiB/s read.
    assert!(page.body.contains("KiB/s"), "rates in bytes per second");
    r.store.shutdown();
}

#[tokio::test]
async fn the_engine_source_only_reads() {
    let r = real().await;
    let src = EngineSource::new(r.store.clone());
    for q in [
        "DROP DATABASE telegraf",
        "SELECT * INTO x FROM cpu",
        "CREATE DATABASE y",
    ] {
        assert!(src.query("telegraf", q).await.is_err(), "{q}");
    }
    let rows = src
        .query("telegraf", "SHOW MEASUREMENTS")
        .await
        .expect("show");
    assert_eq!(rows.first().map(|s| s.values.len()), Some(6));
    r.store.shutdown();
}

#[tokio::test]
async fn default_dashboard_from_the_store() {
    let r = real().await;
    let c = r.env.login(VIEWER).await;
    let page = c.get(&r.env, "/d/agent-overview?from=now-1h&to=now").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Query error"), "{}", page.body);
    assert_eq!(
        page.body
            .matches("<section class=\"panel\" id=\"panel-")
            .count(),
        8
    );
    // Stat: the fullest disk, coloured critical (>= 90).
    assert!(
        page.body.contains("<div class=\"stat crit\">91.0%</div>"),
        "{}",
        page.body
    );
    // Table: one row per host and path.
    assert!(
        page.body
            .contains("<td class=\"lvl-\">web1</td><td class=\"lvl-\">/</td>"),
        "{}",
        page.body
    );
    // Time series by host, including the hostile host name, escaped inside the SVG.
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.body.contains("<script>alert"));
    r.store.shutdown();
}

#[tokio::test]
async fn mounts_next_to_the_influx_api() {
    let r = real().await;
    // How the binary serves both: tsdb's router has no fallback, so they merge.
    let app = tsdb::http::router(tsdb::http::ApiState::new(r.store.clone(), false))
        .merge(ui::router(r.env.state.clone()));
    let ping = send(
        &app,
        Request::get("/ping").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(ping.status, StatusCode::NO_CONTENT);
    let login = send(
        &app,
        Request::get("/login")
            .header("host", "localhost")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.headers.contains_key("content-security-policy"));
    let missing = send(
        &app,
        Request::get("/nope").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    r.store.shutdown();
}

/// The data explorer: the schema to pick from, a field's ready query as chart and table,
/// positioned errors and refused writes.
#[tokio::test]
async fn data_explorer_over_the_store() {
    let r = real().await;
    let c = r.env.login(VIEWER).await;
    let page = c.get(&r.env, "/explore?from=now-1h&to=now").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for m in ["cpu", "mem", "system", "net"] {
        assert!(
            page.body.contains(&format!(">{m}</a>")),
            "measurement {m}: {}",
            page.body
        );
    }
    let page = c.get(&r.env, "/explore?m=mem&from=now-1h&to=now").await;
    assert!(page.body.contains("Fields of mem") && page.body.contains("used_percent"));
    assert!(page.body.contains("<li>host</li>"), "tags: {}", page.body);
    // The field's link carries a query charting it.
    let href_start = page
        .body
        .find("href=\"/explore?db=telegraf&amp;m=mem&amp;q=SELECT")
        .expect("field link")
        + 6;
    let href = &page.body[href_start..href_start + page.body[href_start..].find('"').expect("end")];
    let run = c.get(&r.env, &href.replace("&amp;", "&")).await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    assert!(run.body.contains("<svg class=\"chart\""), "{}", run.body);
    assert!(
        run.body.contains("<th>time</th>"),
        "and a table: {}",
        run.body
    );
    // A typo is answered with where it is; a write is refused.
    let bad = c
        .get(
            &r.env,
            "/explore?q=SELEC%20*%20FROM%20cpu&from=now-1h&to=now",
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("line 1"), "{}", bad.body);
    let drop = c
        .get(
            &r.env,
            "/explore?q=DROP%20DATABASE%20telegraf&from=now-1h&to=now",
        )
        .await;
    assert_eq!(drop.status, StatusCode::BAD_REQUEST, "{}", drop.body);
    let still = c.get(&r.env, "/explore?from=now-1h&to=now").await;
    assert!(
        still.body.contains(">cpu</a>"),
        "the database is still there"
    );
    r.store.shutdown();
}
