//! Dashboards: list, roles, editing, the panel editor, export/import, escaping.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use ui::FixedSource;

fn uid_from(location: &str) -> String {
    location.trim_start_matches("/d/").to_string()
}

#[tokio::test]
async fn default_dashboard_is_provisioned_once() {
    let env = env(FixedSource::default()).await;
    let v = env.login(VIEWER).await;
    let list = v.get(&env, "/dashboards").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body
            .contains("href=\"/d/agent-overview\">Agent overview</a>")
    );
    assert!(
        !list.body.contains("method=\"post\" action=\"/dashboards\""),
        "viewers get no create form"
    );
    let d = v.get(&env, "/d/agent-overview?from=now-6h&to=now").await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert_eq!(
        d.body
            .matches("<section class=\"panel\" id=\"panel-")
            .count(),
        8
    );
    assert!(
        !d.body.contains("/panels/0/edit"),
        "viewers get no edit links"
    );
    // Per-panel refresh: a reload link for everyone, and the panel's body alone for the
    // script, with the same range.
    assert!(
        d.body
            .contains("data-body=\"/d/agent-overview/panels/0/body?from=now-6h&amp;to=now\"")
    );
    assert!(
        d.body
            .contains("href=\"/d/agent-overview?from=now-6h&amp;to=now#panel-0\"")
    );
    let body = v
        .get(&env, "/d/agent-overview/panels/0/body?from=now-6h&to=now")
        .await;
    assert_eq!(body.status, StatusCode::OK, "{}", body.body);
    assert!(body.body.starts_with("<h2>") && !body.body.contains("<html"));
    assert_eq!(
        v.get(&env, "/d/agent-overview/panels/99/body").await.status,
        StatusCode::NOT_FOUND
    );
    let js = v.get(&env, "/static/tigk.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.headers["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/javascript")
    );
    assert!(
        js.body.contains("data-plot") && d.body.contains("<script src=\"/static/tigk.js\" defer>")
    );
    // Deleted, it stays deleted across restarts.
    let ed = env.login(EDITOR).await;
    assert_eq!(
        ed.post(&env, "/d/agent-overview/delete", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    drop(
        ui::UiState::new(
            Arc::new(FixedSource::default()),
            env.dir.path(),
            ui::UiConfig::default(),
        )
        .expect("reopen"),
    );
    assert_eq!(
        ed.get(&env, "/d/agent-overview").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn viewers_cannot_change_dashboards() {
    let env = env(FixedSource::default()).await;
    let v = env.login(VIEWER).await;
    for (path, fields) in [
        ("/dashboards", vec![("title", "x")]),
        ("/d/agent-overview/rename", vec![("title", "x")]),
        ("/d/agent-overview/duplicate", vec![]),
        ("/d/agent-overview/delete", vec![]),
        ("/d/agent-overview/panels/0/delete", vec![]),
        ("/dashboards/import", vec![("json", "{}")]),
    ] {
        let r = v.post(&env, path, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        // The refusal keeps the viewer's navigation, so there is a way back.
        assert!(
            r.body.contains("href=\"/hosts\"") && r.body.contains("Sign out"),
            "{path}: {}",
            r.body
        );
        assert!(r.body.contains("Your role (viewer)"), "{path}");
    }
    for path in [
        "/d/agent-overview/panels/0/edit",
        "/d/agent-overview/delete",
    ] {
        assert_eq!(
            v.get(&env, path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let export = v.get(&env, "/d/agent-overview/export").await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(
        export.headers["content-disposition"]
            .to_str()
            .unwrap_or("")
            .contains("dashboard-agent-overview.json")
    );
}

#[tokio::test]
async fn editors_create_rename_duplicate_delete_and_search() {
    let env = env(FixedSource::default()).await;
    let ed = env.login(EDITOR).await;
    let r = ed
        .post(
            &env,
            "/dashboards",
            &[("title", "<script>alert(1)</script>")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let uid = uid_from(r.location());
    assert_eq!(uid.len(), 12);
    let list = ed.get(&env, "/dashboards").await;
    assert!(!list.body.contains("<script>alert"));
    assert!(list.body.contains("&lt;script&gt;"));
    let page = ed.get(&env, &format!("/d/{uid}")).await;
    assert!(page.body.contains("no panels yet") && !page.body.contains("<script>alert"));
    // Delete asks first: the page links to a confirmation whose form does it.
    assert!(page.body.contains(&format!("href=\"/d/{uid}/delete\"")));
    assert!(!page.body.contains(&format!("action=\"/d/{uid}/delete\"")));
    let ask = ed.get(&env, &format!("/d/{uid}/delete")).await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("Delete the dashboard “&lt;script&gt;"));
    assert!(ask.body.contains(&format!("action=\"/d/{uid}/delete\"")));
    assert_eq!(
        ed.get(&env, &format!("/d/{uid}")).await.status,
        StatusCode::OK,
        "asking deletes nothing"
    );
    assert_eq!(
        ed.post(&env, &format!("/d/{uid}/rename"), &[("title", "Web tier")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ed.post(&env, &format!("/d/{uid}/rename"), &[("title", "  ")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let dup = ed.post(&env, &format!("/d/{uid}/duplicate"), &[]).await;
    let dup_uid = uid_from(dup.location());
    assert_ne!(dup_uid, uid);
    let list = ed.get(&env, "/dashboards?q=web").await;
    assert!(list.body.contains(">Web tier</a>") && list.body.contains(">Copy of Web tier</a>"));
    assert!(!list.body.contains("Agent overview"));
    assert_eq!(
        ed.post(&env, &format!("/d/{dup_uid}/delete"), &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ed.get(&env, &format!("/d/{dup_uid}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ed.get(&env, "/d/..%2Fetc").await.status,
        StatusCode::NOT_FOUND
    );
    // Forms without the token are refused before any change.
    let r = ed
        .post_raw(&env, "/dashboards", "title=x", Some("http://localhost"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

fn builder_fields<'a>(title: &'a str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("title", title),
        ("kind", "timeseries"),
        ("mode", "builder"),
        ("measurement", "cpu"),
        ("field", "usage_user"),
        ("aggregate", "mean"),
        ("f1_key", "host"),
        ("f1_op", "eq"),
        ("f1_value", value),
        ("group_by", "host, cpu"),
        ("unit", "percent"),
        ("transform", "none"),
        ("warn", "80"),
        ("crit", "90"),
        ("y_min", "-5"),
        ("from", "now-1h"),
        ("to", "now"),
        ("action", "save"),
    ]
}

#[tokio::test]
async fn panel_editor_saves_previews_and_refuses_bad_queries() {
    let env = env(FixedSource::default()).await;
    let ed = env.login(EDITOR).await;
    let uid = uid_from(
        ed.post(&env, "/dashboards", &[("title", "T")])
            .await
            .location(),
    );
    let form = ed
        .get(
            &env,
            &format!("/d/{uid}/panels/new/edit?from=now-1h&to=now"),
        )
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("name=\"measurement\""));
    let hostile = "x' OR 1=1 <script>";
    let saved = ed
        .post(
            &env,
            &format!("/d/{uid}/panels/new/edit"),
            &builder_fields("CPU <b>", hostile),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = ed.get(&env, &format!("/d/{uid}")).await;
    assert!(page.body.contains("CPU &lt;b&gt;"));
    assert!(page.body.contains(&format!("/d/{uid}/panels/0/edit")));
    // The editor shows the saved values back, escaped.
    let edit = ed.get(&env, &format!("/d/{uid}/panels/0/edit")).await;
    assert!(
        edit.body
            .contains("value=\"x&#x27; OR 1=1 &lt;script&gt;\"")
            || edit.body.contains("value=\"x&#39; OR 1=1 &lt;script&gt;\""),
        "{}",
        edit.body
    );
    assert!(edit.body.contains("<option value=\"mean\" selected>"));
    assert!(edit.body.contains("name=\"y_min\" value=\"-5\""));
    let export = ed.get(&env, &format!("/d/{uid}/export")).await;
    assert!(export.body.contains("\"y_min\": -5.0"), "{}", export.body);
    // The preview shows the query that ran, with the value quoted.
    let mut preview = builder_fields("P", hostile);
    preview.retain(|(k, _)| *k != "action");
    preview.push(("action", "preview"));
    let p = ed
        .post(&env, &format!("/d/{uid}/panels/0/edit"), &preview)
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.body
            .contains(r"host = &#x27;x\&#x27; OR 1=1 &lt;script&gt;&#x27;")
            || p.body
                .contains(r"host = &#39;x\&#39; OR 1=1 &lt;script&gt;&#39;"),
        "{}",
        p.body
    );
    // Bad input comes back as a 400 with the form as typed.
    let mut bad = builder_fields("B", "v");
    bad.retain(|(k, _)| *k != "aggregate");
    bad.push(("aggregate", "sum); DROP DATABASE telegraf"));
    let r = ed
        .post(&env, &format!("/d/{uid}/panels/0/edit"), &bad)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("unknown aggregate"));
    let raw = vec![
        ("title", "R"),
        ("kind", "table"),
        ("mode", "raw"),
        ("raw", "SELECT * FROM cpu; DROP DATABASE telegraf"),
        ("from", "now-1h"),
        ("to", "now"),
    ];
    let r = ed
        .post(&env, &format!("/d/{uid}/panels/new/edit"), &raw)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("DROP DATABASE telegraf</textarea>"),
        "the raw text is kept"
    );
    let r = ed
        .post(
            &env,
            &format!("/d/{uid}/panels/0/edit"),
            &[("title", "x"), ("kind", "pie")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A second panel, then move and delete.
    let raw_ok = vec![
        ("title", "Raw"),
        ("kind", "stat"),
        ("mode", "raw"),
        ("raw", "SELECT last(load1) FROM system WHERE $timeFilter"),
        ("unit", "short"),
        ("from", "now-1h"),
        ("to", "now"),
        ("action", "save"),
    ];
    assert_eq!(
        ed.post(&env, &format!("/d/{uid}/panels/new/edit"), &raw_ok)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ed.post(&env, &format!("/d/{uid}/panels/1/move"), &[("dir", "up")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let page = ed.get(&env, &format!("/d/{uid}")).await;
    assert!(page.body.find("<h2>Raw</h2>") < page.body.find("<h2>CPU &lt;b&gt;</h2>"));
    assert_eq!(
        ed.post(&env, &format!("/d/{uid}/panels/0/delete"), &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ed.post(&env, &format!("/d/{uid}/panels/5/delete"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let page = ed.get(&env, &format!("/d/{uid}")).await;
    assert!(!page.body.contains("<h2>Raw</h2>") && page.body.contains("<h2>CPU &lt;b&gt;</h2>"));
}

#[tokio::test]
async fn export_import_round_trip() {
    let env = env(FixedSource::default()).await;
    let ed = env.login(EDITOR).await;
    let json = ed.get(&env, "/d/agent-overview/export").await.body;
    assert!(json.contains("\"tigk_dashboard\": 1"));
    let r = ed
        .post(&env, "/dashboards/import", &[("json", &json)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let uid = uid_from(r.location());
    assert_ne!(uid, "agent-overview", "a taken uid gets a new one");
    let again = ed.get(&env, &format!("/d/{uid}/export")).await.body;
    assert_eq!(again.replace(&uid, "agent-overview"), json);
    // Import into an install without it keeps the uid.
    assert_eq!(
        ed.post(&env, "/d/agent-overview/delete", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let r = ed
        .post(&env, "/dashboards/import", &[("json", &json)])
        .await;
    assert_eq!(r.location(), "/d/agent-overview");
    for bad in [
        "not json",
        "{\"title\": \"x\"}",
        &json.replace("SHOW", "x").replace("\"mean\"", "\"evil()\""),
    ] {
        let r = ed.post(&env, "/dashboards/import", &[("json", bad)]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

mod host_var {
    use super::*;
    use std::sync::Mutex;
    use tsdb::query::{Cell, SeriesResult};
    use ui::{BoxFuture, DataSource, UiError};

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

    const ODD: &str = "o'brien<b>";

    fn dashboard_json() -> String {
        serde_json::json!({
            "tigk_dashboard": 1,
            "uid": "per-host",
            "title": "Per host",
            "panels": [
                {"title": "cpu", "query": {"mode": "builder", "measurement": "cpu", "field": "usage_user",
                  "aggregate": "mean", "filters": [{"key": "host", "value": "$host"}]}},
                {"title": "load", "query": {"mode": "raw",
                  "influxql": "SELECT mean(load1) FROM system WHERE host = '$host' AND $timeFilter GROUP BY time($__interval)"}}
            ]
        })
        .to_string()
    }

    #[tokio::test]
    async fn host_variable_binds_known_hosts_only() {
        let hosts = SeriesResult {
            name: Some("cpu".into()),
            tags: None,
            columns: vec!["key".into(), "value".into()],
            values: ["web1", ODD]
                .iter()
                .map(|h| vec![Cell::String("host".into()), Cell::String(h.to_string())])
                .collect(),
        };
        let source = Arc::new(Recording {
            inner: FixedSource::default().with("SHOW TAG VALUES", Ok(vec![hosts])),
            seen: Mutex::new(Vec::new()),
        });
        let env = env_with(source.clone(), true, "127.0.0.1:1").await;
        let ed = env.login(EDITOR).await;
        let r = ed
            .post(&env, "/dashboards/import", &[("json", &dashboard_json())])
            .await;
        assert_eq!(r.location(), "/d/per-host", "{}", r.body);
        let take = || {
            let mut s = source.seen.lock().expect("lock");
            std::mem::take(&mut *s)
        };
        take();
        let page = ed.get(&env, "/d/per-host").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("<option selected>web1</option>"),
            "the first host by default"
        );
        assert!(
            page.body.contains("o&#x27;brien&lt;b&gt;")
                || page.body.contains("o&#39;brien&lt;b&gt;")
        );
        let seen = take();
        assert!(
            seen.iter()
                .any(|q| q.contains("FROM cpu WHERE") && q.contains("host = 'web1'")),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .any(|q| q.contains("FROM system WHERE host = 'web1'")),
            "{seen:?}"
        );
        let page = ed
            .get(
                &env,
                "/d/per-host?var-host=o%27brien%3Cb%3E&from=now-6h&to=now",
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let seen = take();
        for q in seen.iter().filter(|q| q.starts_with("SELECT")) {
            assert!(q.contains(r"host = 'o\'brien<b>'"), "{q}");
            assert_eq!(
                influxql::parse_query(q).expect("parses").statements.len(),
                1
            );
        }
        assert!(
            page.body
                .contains("var-host=o%27brien%3Cb%3E&amp;from=now-15m"),
            "range links keep the host"
        );
        // A host the store does not know is not bound.
        ed.get(&env, "/d/per-host?var-host=x%27%20OR%20%271%27%3D%271")
            .await;
        let seen = take();
        assert!(
            seen.iter()
                .filter(|q| q.starts_with("SELECT"))
                .all(|q| q.contains("host = 'web1'")),
            "{seen:?}"
        );
    }
}

/// Dashboards from `<data dir>/dashboards/*.json` are listed and shown, read-only to all.
#[tokio::test]
async fn file_dashboards_are_read_only() {
    let first = env(FixedSource::default()).await;
    let ed = first.login(EDITOR).await;
    let export = ed.get(&first, "/d/agent-overview/export").await;
    let json = export
        .body
        .replace("\"agent-overview\"", "\"ops-files\"")
        .replace("Agent overview", "Ops <from file>");
    let files = first.dir.path().join("dashboards");
    std::fs::create_dir_all(&files).expect("dir");
    std::fs::write(files.join("ops.json"), &json).expect("write");
    std::fs::write(files.join("broken.json"), "{").expect("write");
    // Read at start: a restart picks them up.
    let Env { dir, .. } = first;
    let state = ui::UiState::new(
        Arc::new(FixedSource::default()),
        dir.path(),
        ui::UiConfig::default(),
    )
    .expect("restart");
    let peer: std::net::SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let app = ui::router(state.clone()).layer(axum::extract::connect_info::MockConnectInfo(peer));
    let env = Env { dir, app, state };
    let ed = env.login(EDITOR).await;
    let list = ed.get(&env, "/dashboards").await;
    assert!(
        list.body.contains(
            "href=\"/d/ops-files\">Ops &lt;from file&gt;</a> <span class=\"muted\">(from a file, read-only)"
        ),
        "{}",
        list.body
    );
    let page = ed.get(&env, "/d/ops-files?from=now-1h&to=now").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Provisioned from a file: read-only."));
    assert!(!page.body.contains("/panels/0/edit") && !page.body.contains("/rename"));
    for (path, fields) in [
        ("/d/ops-files/rename", vec![("title", "x")]),
        ("/d/ops-files/delete", vec![]),
        ("/d/ops-files/panels/0/delete", vec![]),
        ("/d/ops-files/panels/0/move", vec![("dir", "down")]),
    ] {
        let r = ed.post(&env, path, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.body.contains("duplicate it"), "{path}");
    }
    assert_eq!(
        ed.get(&env, "/d/ops-files/panels/0/edit").await.status,
        StatusCode::FORBIDDEN
    );
    // A copy is an ordinary dashboard; an import with the file's uid gets a new one.
    let copy = ed.post(&env, "/d/ops-files/duplicate", &[]).await;
    assert_eq!(copy.status, StatusCode::SEE_OTHER);
    let copy_uid = uid_from(copy.location());
    assert_ne!(copy_uid, "ops-files");
    let renamed = ed
        .post(&env, &format!("/d/{copy_uid}/rename"), &[("title", "Mine")])
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER);
    let imported = ed
        .post(&env, "/dashboards/import", &[("json", json.as_str())])
        .await;
    assert_eq!(imported.status, StatusCode::SEE_OTHER, "{}", imported.body);
    assert_ne!(uid_from(imported.location()), "ops-files");
    let export = ed.get(&env, "/d/ops-files/export").await;
    assert_eq!(export.status, StatusCode::OK);
}
