//! Alert pages over a real store and a real alerter: roles, CSRF, the builder, the raw
//! editor's positioned errors, events in the history and as chart annotations, escaping.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use common::*;
use tsdb::{Store, StoreOptions};
use ui::{EngineSource, FixedSource, UiConfig, UiState};

const S: i64 = 1_000_000_000;
const HOSTILE: &str = "<script>alert(1)</script>'\"";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

struct Real {
    env: Env,
    store: Store,
    engine: alerter::engine::Engine,
}

/// A store with 30 minutes of cpu data for web1 (usage_user 10..40) and the hostile host,
/// an alerter whose log handlers write under `<dir>/alerts`, and the UI over both.
async fn real() -> Real {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("store");
    store.create_database("telegraf").await.expect("db");
    let t0 = now();
    let mut lp = String::new();
    for i in 0..180i64 {
        let t = t0 - (180 - i) * 10 * S;
        lp.push_str(&format!(
            "cpu,host=web1,cpu=cpu-total usage_user={} {t}\n",
            10.0 + (i % 30) as f64
        ));
        lp.push_str(&format!(
            "cpu,host={},cpu=cpu-total usage_user=5 {t}\n",
            HOSTILE
                .replace(' ', "\\ ")
                .replace(',', "\\,")
                .replace('=', "\\=")
        ));
    }
    write(&store, &lp).await;
    let alert_dir = std::path::absolute(dir.path().join("alerts")).expect("abs");
    std::fs::create_dir_all(&alert_dir).expect("alerts dir");
    let engine = alerter::engine::Engine::open(
        dir.path(),
        store.clone(),
        alerter::Options {
            alert_dir: Some(alert_dir),
            ..alerter::Options::default()
        },
    )
    .expect("alerter");
    let state = UiState::new(
        Arc::new(EngineSource::new(store.clone())),
        dir.path(),
        UiConfig::default(),
    )
    .expect("state")
    .with_alerts(Arc::new(engine.clone()));
    let env = env_from(dir, state).await;
    Real { env, store, engine }
}

async fn write(store: &Store, lp: &str) {
    let api = tsdb::http::router(tsdb::http::ApiState::new(store.clone(), false));
    let r = send(
        &api,
        Request::post("/write?db=telegraf")
            .body(Body::from(lp.to_string()))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

/// `env_with`'s users and roles over an existing state.
async fn env_from(dir: tempfile::TempDir, state: UiState) -> Env {
    let conn = tsdb::storage::admin_connection(dir.path()).expect("admin conn");
    tsdb::auth::create_user(&conn, ADMIN.0, ADMIN.1, true).expect("admin");
    tsdb::auth::create_user(&conn, VIEWER.0, VIEWER.1, false).expect("viewer");
    tsdb::auth::create_user(&conn, EDITOR.0, EDITOR.1, false).expect("editor");
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let app = ui::router(state.clone()).layer(MockConnectInfo(peer));
    let env = Env { dir, app, state };
    let admin = env.login(ADMIN).await;
    let r = admin
        .post(
            &env,
            "/admin/users/role",
            &[("user", EDITOR.0), ("role", "editor")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    env
}

/// A threshold rule on web1's usage_user, every point, crit above `crit`.
fn rule_fields<'a>(id: &'a str, crit: &'a str, action: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("id", id),
        ("kind", "threshold"),
        ("measurement", "cpu"),
        ("field", "usage_user"),
        ("aggregate", ""),
        ("every", "1m"),
        ("f1_key", "host"),
        ("f1_op", "eq"),
        ("f1_value", "web1"),
        ("group_by", "host"),
        ("op", "gt"),
        ("crit", crit),
        ("message", "{{.ID}} is {{.Level}}"),
        ("id_template", "{{.TaskName}}:{{.Group}}"),
        ("h_log", "cpu.log"),
        ("state_changes_only", "on"),
        ("shift", "1m"),
        ("period", "10m"),
        ("change", "change"),
        ("hours", "1"),
        ("action", action),
    ]
}

async fn wait_for(env: &Env, c: &Client, path: &str, needle: &str) -> Resp {
    for _ in 0..100 {
        let r = c.get(env, path).await;
        if r.body.contains(needle) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = c.get(env, path).await;
    panic!("{needle:?} never appeared on {path}: {}", r.body);
}

#[tokio::test]
async fn without_an_alerter_the_pages_say_alerting_is_off() {
    let env = env(FixedSource::default()).await;
    let admin = env.login(ADMIN).await;
    for path in [
        "/alerts",
        "/alerts/rules",
        "/alerts/history",
        "/alerts/tasks/x",
    ] {
        let r = admin.get(&env, path).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(r.body.contains("Alerting is off"), "{path}: {}", r.body);
    }
    let r = admin
        .post(&env, "/alerts/rules/new", &rule_fields("a", "1", "save"))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    // Dashboards still render, without annotations.
    assert_eq!(admin.get(&env, "/hosts/web1").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_pages_need_a_session_and_changes_need_an_editor() {
    let r = real().await;
    let env = &r.env;
    for path in [
        "/alerts",
        "/alerts/rules",
        "/alerts/history",
        "/alerts/rules/new",
    ] {
        let resp = env.get(path).await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER, "{path}");
        assert!(resp.location().starts_with("/login?next="), "{path}");
    }
    let viewer = env.login(VIEWER).await;
    let editor = env.login(EDITOR).await;
    assert_eq!(
        viewer.get(env, "/alerts/rules").await.status,
        StatusCode::OK
    );
    assert_eq!(
        viewer.get(env, "/alerts/rules/new").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        viewer
            .post(env, "/alerts/rules/new", &rule_fields("v", "30", "save"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        viewer
            .post(
                env,
                "/alerts/tasks/new/script",
                &[("id", "v"), ("script", "x"), ("action", "save")]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // CSRF: no token, a wrong token, another site's Origin.
    let body = form_body(&rule_fields("c", "30", "save"));
    let no_token = editor
        .post_raw(env, "/alerts/rules/new", &body, Some("http://localhost"))
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let wrong = format!("csrf={}&{body}", "0".repeat(64));
    let r2 = editor
        .post_raw(env, "/alerts/rules/new", &wrong, Some("http://localhost"))
        .await;
    assert_eq!(r2.status, StatusCode::FORBIDDEN);
    let cross = format!("csrf={}&{body}", editor.csrf);
    let r3 = editor
        .post_raw(
            env,
            "/alerts/rules/new",
            &cross,
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(r3.status, StatusCode::FORBIDDEN);
    assert!(
        r.engine.list().is_empty(),
        "no refused request created a task"
    );

    // The editor saves; the viewer sees it but gets no buttons and cannot toggle or delete.
    let saved = editor
        .post(
            env,
            "/alerts/rules/new",
            &rule_fields("cpu-high", "35", "save"),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), "/alerts/tasks/cpu-high");
    let list = viewer.get(env, "/alerts/rules").await;
    assert!(
        list.body.contains("cpu-high") && list.body.contains("threshold"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("/alerts/tasks/cpu-high/delete"));
    for path in [
        "/alerts/tasks/cpu-high/enabled",
        "/alerts/tasks/cpu-high/delete",
    ] {
        let resp = viewer.post(env, path, &[("enabled", "false")]).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{path}");
    }
    let page = viewer.get(env, "/alerts/tasks/cpu-high").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<svg") && page.body.contains("alert"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("http-equiv=\"refresh\""),
        "live by default"
    );
    assert!(
        !viewer
            .get(env, "/alerts/tasks/cpu-high?refresh=off")
            .await
            .body
            .contains("http-equiv")
    );
    let script = viewer.get(env, "/alerts/tasks/cpu-high/script").await;
    assert!(script.body.contains("readonly") && !script.body.contains("value=\"save\""));

    // Toggle and delete as the editor.
    let off = editor
        .post(
            env,
            "/alerts/tasks/cpu-high/enabled",
            &[("enabled", "false")],
        )
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert!(r.engine.list().iter().all(|t| !t.executing));
    let on = editor
        .post(
            env,
            "/alerts/tasks/cpu-high/enabled",
            &[("enabled", "true")],
        )
        .await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    assert!(r.engine.list().iter().all(|t| t.executing));
    // Delete asks first: the list links to a page whose form does it.
    let list = editor.get(env, "/alerts/rules").await;
    assert!(list.body.contains("href=\"/alerts/tasks/cpu-high/delete\""));
    assert!(
        !list
            .body
            .contains("action=\"/alerts/tasks/cpu-high/delete\"")
    );
    let ask = editor.get(env, "/alerts/tasks/cpu-high/delete").await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("Delete the rule cpu-high?"));
    assert!(
        ask.body
            .contains("action=\"/alerts/tasks/cpu-high/delete\"")
    );
    assert_eq!(
        viewer
            .get(env, "/alerts/tasks/cpu-high/delete")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        editor.get(env, "/alerts/tasks/nope/delete").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(r.engine.list().len(), 1, "asking deletes nothing");
    let del = editor.post(env, "/alerts/tasks/cpu-high/delete", &[]).await;
    assert_eq!(del.status, StatusCode::SEE_OTHER);
    assert!(r.engine.list().is_empty());
    assert_eq!(
        editor.get(env, "/alerts/tasks/cpu-high").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        editor.get(env, "/alerts/tasks/..%2Fx").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builder_shows_the_script_validates_and_previews_over_stored_data() {
    let r = real().await;
    let env = &r.env;
    let editor = env.login(EDITOR).await;
    let page = editor.get(env, "/alerts/rules/new?measurement=cpu").await;
    assert_eq!(page.status, StatusCode::OK);
    // Pickers from SHOW FIELD KEYS / TAG KEYS.
    assert!(
        page.body.contains("<option value=\"usage_user\">"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<option value=\"host\">"));

    let bad = editor
        .post(env, "/alerts/rules/new", &{
            let mut f = rule_fields("x", "90 OR TRUE", "preview");
            f.retain(|(k, _)| *k != "crit");
            f.push(("crit", "90) |alert("));
            f
        })
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("must be a number"), "{}", bad.body);

    // Tag values in the pickers, hostile ones escaped.
    let refresh = editor
        .post(
            env,
            "/alerts/rules/new",
            &rule_fields("prev", "35", "refresh"),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::OK, "{}", refresh.body);
    assert!(
        refresh.body.contains("<option value=\"web1\">"),
        "{}",
        refresh.body
    );
    assert!(
        refresh.body.contains("&lt;script&gt;alert(1)"),
        "{}",
        refresh.body
    );
    assert!(!refresh.body.contains("<script>alert(1)"));
    let p = editor
        .post(
            env,
            "/alerts/rules/new",
            &rule_fields("prev", "35", "preview"),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("id=\"generated\""), "the script is shown");
    assert!(p.body.contains("|alert()"));
    assert!(p.body.contains("id=\"preview\"") && p.body.contains("<svg"));
    // usage_user cycles 10..39, so crossing 35 fires CRITICAL and recovers, several times.
    assert!(
        p.body.contains("CRITICAL") && p.body.contains("lvl-crit"),
        "{}",
        p.body
    );
    assert!(
        p.body.contains("180 stored points replayed"),
        "only web1's points"
    );
    assert!(r.engine.list().is_empty(), "a preview saves nothing");

    // Deadman: a host that stopped 20 minutes ago; the replay runs its clock to now.
    let t0 = now() - 30 * 60 * S;
    let gone: String = (0..60)
        .map(|i| format!("cpu,host=gone usage_user=1 {}\n", t0 + i * 10 * S))
        .collect();
    write(&r.store, &gone).await;
    let mut f = rule_fields("quiet", "", "preview");
    f.retain(|(k, _)| !matches!(*k, "kind" | "f1_value" | "period"));
    f.extend([("kind", "deadman"), ("f1_value", "gone"), ("period", "5m")]);
    let d = editor.post(env, "/alerts/rules/new", &f).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert!(d.body.contains("|deadman(threshold, period)"), "{}", d.body);
    assert!(d.body.contains("60 stored points replayed"), "{}", d.body);
    assert!(
        d.body.contains("quiet:host=gone"),
        "the deadman fires: {}",
        d.body
    );

    // Send test: one event through the log handler.
    let t = editor
        .post(env, "/alerts/rules/new", &rule_fields("prev", "35", "test"))
        .await;
    assert!(t.body.contains("cpu.log: sent"), "{}", t.body);
    let log = std::fs::read_to_string(env.dir.path().join("alerts/cpu.log")).expect("log");
    assert!(log.contains("tigk-test"));

    // Saved rules open again in the builder with their values.
    editor
        .post(
            env,
            "/alerts/rules/new",
            &rule_fields("again", "33", "save"),
        )
        .await;
    let again = editor.get(env, "/alerts/rules/again").await;
    assert!(again.body.contains("value=\"33\""), "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_editor_reports_errors_with_their_position() {
    let r = real().await;
    let env = &r.env;
    let editor = env.login(EDITOR).await;
    let script =
        "dbrp \"telegraf\".\"autogen\"\n\nstream\n    |from()\n        .measurment('cpu')\n";
    let resp = editor
        .post(
            env,
            "/alerts/tasks/new/script",
            &[("id", "raw1"), ("script", script), ("action", "check")],
        )
        .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{}", resp.body);
    assert!(resp.body.contains("Line 5, column 10"), "{}", resp.body);
    assert!(
        resp.body.contains("5 |         .measurment(&#39;cpu&#39;)")
            || resp
                .body
                .contains("5 |         .measurment(&#x27;cpu&#x27;)"),
        "{}",
        resp.body
    );
    let parse = editor
        .post(
            env,
            "/alerts/tasks/new/script",
            &[
                ("id", "raw1"),
                ("script", "stream|from(\n"),
                ("action", "check"),
            ],
        )
        .await;
    assert_eq!(parse.status, StatusCode::BAD_REQUEST);
    assert!(parse.body.contains("Line "), "{}", parse.body);
    let good = script.replace("measurment", "measurement")
        + "    |alert()\n        .crit(lambda: \"usage_user\" > 90.0)\n";
    let ok = editor
        .post(
            env,
            "/alerts/tasks/new/script",
            &[("id", "raw1"), ("script", &good), ("action", "check")],
        )
        .await;
    assert!(ok.body.contains("id=\"script-ok\""), "{}", ok.body);
    let saved = editor
        .post(
            env,
            "/alerts/tasks/new/script",
            &[("id", "raw1"), ("script", &good), ("action", "save")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let list = editor.get(env, "/alerts/rules").await;
    assert!(
        list.body.contains("raw1") && list.body.contains("<td>raw</td>"),
        "{}",
        list.body
    );
    // A raw task has no builder: its builder address leads to the script.
    let b = editor.get(env, "/alerts/rules/raw1").await;
    assert_eq!(b.location(), "/alerts/tasks/raw1/script");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_show_in_history_active_alerts_and_chart_annotations_escaped() {
    let r = real().await;
    let env = &r.env;
    let editor = env.login(EDITOR).await;
    // A rule on every host, so the hostile host fires too.
    let mut f = rule_fields("hot", "50", "save");
    f.retain(|(k, _)| !k.starts_with("f1_"));
    let saved = editor.post(env, "/alerts/rules/new", &f).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let t = now();
    let hostile = HOSTILE
        .replace(' ', "\\ ")
        .replace(',', "\\,")
        .replace('=', "\\=");
    write(
        &r.store,
        &format!(
            "cpu,host=web1,cpu=cpu-total usage_user=97 {t}\ncpu,host={hostile},cpu=cpu-total usage_user=99 {t}\n"
        ),
    )
    .await;
    let viewer = env.login(VIEWER).await;
    let h = wait_for(
        env,
        &viewer,
        "/alerts/history?level=CRITICAL&host=web1",
        "hot:host=web1",
    )
    .await;
    assert!(h.body.contains("lvl-crit"));
    assert!(!h.body.contains("<script>alert(1)"), "host filter");
    let all = wait_for(env, &viewer, "/alerts/history", "&lt;script&gt;").await;
    assert!(
        !all.body.contains("<script>alert(1)"),
        "escaped: {}",
        all.body
    );
    let none = viewer.get(env, "/alerts/history?level=INFO").await;
    assert!(none.body.contains("No alert events match"));
    let old = viewer
        .get(env, "/alerts/history?from=now-30d&to=now-29d")
        .await;
    assert!(old.body.contains("No alert events match"));
    assert_eq!(
        viewer.get(env, "/alerts/history?level=BAD").await.status,
        StatusCode::BAD_REQUEST
    );
    let active = viewer.get(env, "/alerts").await;
    assert!(active.body.contains("hot:host=web1") && !active.body.contains("<script>alert(1)"));
    let rules = viewer.get(env, "/alerts/rules").await;
    assert!(
        rules.body.contains("CRITICAL"),
        "last event: {}",
        rules.body
    );
    let task = viewer.get(env, "/alerts/tasks/hot").await;
    assert!(
        task.body.contains("alerts 2") || task.body.contains("alerts_triggered=2"),
        "{}",
        task.body
    );
    // The host's dashboard marks the event on its charts.
    let dash = viewer.get(env, "/hosts/web1").await;
    assert!(
        dash.body.contains("hot CRITICAL"),
        "annotation: {}",
        dash.body
    );
    // So do dashboards' time-series panels, with or without thresholds.
    let overview = viewer
        .get(env, "/d/agent-overview?from=now-1h&to=now")
        .await;
    let marked = overview.body.matches("hot CRITICAL").count();
    assert!(marked >= 2, "{marked} charts marked: {}", overview.body);
    let log = std::fs::read_to_string(env.dir.path().join("alerts/cpu.log")).expect("log");
    assert!(log.contains("\"level\":\"CRITICAL\""));
}
