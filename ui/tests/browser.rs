//! End-to-end tests in a real headless Chromium, driven through chromedriver.
//!
//! The test serves the 1.x API and the UI on 127.0.0.1:0 over a temporary store seeded with
//! an hour of Telegraf-shaped data for three hosts, starts chromedriver on a free loopback
//! port and walks through the UI as a person would: sign in, hosts, a host's dashboard,
//! a new dashboard with a panel made in the query builder, an alert rule made in the rule
//! builder that fires on points written afterwards (seen in the history and as a chart
//! annotation), and a viewer who may not edit.
//! Screenshots of every page land in `target/ui-e2e/` (the path is printed).
//!
//! Needs Debian's `chromium` and `chromium-driver` packages. Without them the test fails
//! (it does not skip): CI installs them, and a silently skipped browser test proves nothing.
//! `CHROMIUM` and `CHROMEDRIVER` override the binaries' paths.

#[path = "common/telegraf.rs"]
mod telegraf;

// The alert pages' steps of the walk-through.
#[path = "browser/alerts.rs"]
mod alerts;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;
use tsdb::{Store, StoreOptions};
use ui::{EngineSource, UiConfig, UiState};

const ADMIN: (&str, &str) = ("admin", "admin-password-123");
const VIEWER: (&str, &str) = ("viv", "viewer-password-123");
const HOSTS: usize = 3;
const S: i64 = 1_000_000_000;

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A binary from `env` or the first of `candidates` that exists, or a failure that says
/// which package to install.
fn find_binary(env: &str, candidates: &[&str], package: &str) -> PathBuf {
    let install =
        "Install Debian's packages: apt-get update && apt-get install -y chromium chromium-driver";
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{env}={} does not exist. {install}",
            p.display()
        );
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push("/usr/bin".into());
    for dir in dirs {
        for c in candidates {
            let p = dir.join(c);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "browser tests need {package} (looked for {candidates:?} in PATH and /usr/bin; \
         or set {env}). {install}"
    );
}

/// chromedriver in its own process group, so that the browsers it starts can be ended
/// with it even when the test fails half-way.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(bin: &Path, log: &Path) -> Driver {
        use std::os::unix::process::CommandExt;
        // Ask the kernel for a free port, then hand it to chromedriver. Another process
        // could take it in between; then chromedriver exits and `connect` says so.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log_file = std::fs::File::create(log).expect("chromedriver log");
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any Chromium it left behind.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(driver: &mut Driver, chromium: &Path, profile: &Path) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium.to_string_lossy(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1280,1000",
            ],
        },
    });
    let caps = match caps {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    };
    let url = format!("http://127.0.0.1:{}", driver.port);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attempt = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await;
        match attempt {
            Ok(c) => return c,
            Err(e) => {
                if let Ok(Some(status)) = driver.child.try_wait() {
                    panic!("chromedriver exited ({status}) before a session started: {e}");
                }
                if Instant::now() > deadline {
                    panic!("no chromedriver session at {url} after 20 s: {e}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The store and the server's address; the server task ends with the test's runtime.
struct Server {
    addr: SocketAddr,
    store: Store,
    alerter: alerter::engine::Engine,
    _dir: tempfile::TempDir,
}

async fn serve() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("store");
    store.create_database("telegraf").await.expect("db");
    let api = tsdb::http::router(tsdb::http::ApiState::new(store.clone(), false));
    // One hour every 10 s, written through the 1.x /write endpoint like an agent would.
    let hosts = telegraf::host_names(HOSTS);
    let now = now_ns();
    let ticks = 360;
    let mut lp = String::new();
    for i in 0..ticks {
        let t = now - (ticks - i) * 10 * S;
        telegraf::tick(&hosts, t, i, 10, &mut lp);
    }
    let resp = api
        .clone()
        .oneshot(
            Request::post("/write?db=telegraf")
                .body(Body::from(lp))
                .expect("request"),
        )
        .await
        .expect("infallible");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(status, StatusCode::NO_CONTENT, "{body:?}");

    let conn = tsdb::storage::admin_connection(dir.path()).expect("admin conn");
    tsdb::auth::create_user(&conn, ADMIN.0, ADMIN.1, true).expect("admin");
    tsdb::auth::create_user(&conn, VIEWER.0, VIEWER.1, false).expect("viewer");
    // The alerter as `tigk serve` opens it: log handlers write under `<data>/alerts`.
    let alert_dir = std::path::absolute(dir.path().join("alerts")).expect("alert dir");
    std::fs::create_dir_all(&alert_dir).expect("alert dir");
    let alerter = alerter::engine::Engine::open(
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
    .expect("ui state")
    .with_alerts(Arc::new(alerter.clone()));
    // As `tigk serve` mounts them: one listener, peer addresses on.
    let app = api.merge(ui::router(state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Server {
        addr,
        store,
        alerter,
        _dir: dir,
    }
}

fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("ui-e2e")
}

/// A DevTools command sent through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp(&'static str, serde_json::Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or("")
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({"cmd": self.0, "params": self.1});
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// What the walk-through needs: the browser, the base URL and where screenshots go.
struct Ui {
    c: Client,
    base: String,
    shots: PathBuf,
    store: Store,
}

impl Ui {
    /// Writes line protocol through the 1.x /write endpoint, as an agent would.
    async fn write(&self, lp: String) {
        let api = tsdb::http::router(tsdb::http::ApiState::new(self.store.clone(), false));
        let resp = api
            .oneshot(
                Request::post("/write?db=telegraf")
                    .body(Body::from(lp))
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }

    /// Reloads `path` (at most 20 s) until its text contains `needle`.
    async fn wait_text(&self, path: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.goto(path).await;
            self.wait_for("main").await;
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            if Instant::now() > deadline {
                self.shot("failure").await;
                panic!("{needle:?} never appeared on {path}:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn goto(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("goto {path}: {e}"));
    }

    async fn path(&self) -> String {
        let u = self.c.current_url().await.expect("url");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    /// Waits (at most 10 s) for `css` on the current page.
    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                let page = self.c.source().await.unwrap_or_default();
                self.shot("failure").await;
                panic!(
                    "no `{css}` on {} within 10 s: {e}\n{page}",
                    self.path().await
                )
            }
        }
    }

    /// Waits (at most 10 s) until the browser is on a page whose path (and query) `ok`
    /// accepts: after a click that submits a form, the old page's elements would
    /// otherwise still answer `wait_for`.
    async fn wait_path(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let p = self.path().await;
            if ok(&p) {
                return p;
            }
            if Instant::now() > deadline {
                self.shot("failure").await;
                panic!("still on {p} after 10 s, expected {what}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn count(&self, css: &str) -> usize {
        self.c
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    async fn text(&self) -> String {
        self.c
            .find(Locator::Css("body"))
            .await
            .expect("body")
            .text()
            .await
            .expect("text")
    }

    /// Saves a full-page screenshot. A headless window cannot grow past its screen, so
    /// the page is laid out at the document's height through Chrome's DevTools protocol.
    async fn shot(&self, name: &str) {
        let h = self
            .c
            .execute("return document.documentElement.scrollHeight;", Vec::new())
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(1000)
            .clamp(600, 8000);
        let metrics = json!({"width": 1280, "height": h, "deviceScaleFactor": 1, "mobile": false});
        let _ = self
            .c
            .issue_cmd(Cdp("Emulation.setDeviceMetricsOverride", metrics))
            .await;
        match self.c.screenshot().await {
            Ok(png) => {
                let p = self.shots.join(format!("{name}.png"));
                std::fs::write(&p, png).expect("write screenshot");
                println!("screenshot: {}", p.display());
            }
            Err(e) => println!("screenshot {name} failed: {e}"),
        }
        let _ = self
            .c
            .issue_cmd(Cdp("Emulation.clearDeviceMetricsOverride", json!({})))
            .await;
    }

    async fn fill(&self, css: &str, value: &str) {
        let el = self.wait_for(css).await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        el.send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    async fn sign_in(&self, (user, password): (&str, &str)) {
        self.goto("/login").await;
        self.fill("input[name=user]", user).await;
        self.fill("input[name=password]", password).await;
        self.click("form[action='/login'] button[type=submit]")
            .await;
        self.wait_for("header .who").await;
        let who = self.text().await;
        assert!(who.contains(user), "signed in as {user}: {who}");
    }

    async fn sign_out(&self) {
        self.click("form[action='/logout'] button").await;
        self.wait_for("input[name=password]").await;
    }

    /// Charts with data inside `scope`: SVGs holding at least one line with points. plotters
    /// draws lines as `<polyline>`; the no-data state has none.
    /// Charts in `scope` and how many of them draw a line, read once every chart has one or
    /// after 5 s: a click that navigates can leave the previous page's charts to count.
    async fn charts_with_lines(&self, scope: &str) -> (usize, usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (svgs, with_lines) = self.charts_with_lines_now(scope).await;
            if (svgs > 0 && svgs == with_lines) || Instant::now() > deadline {
                return (svgs, with_lines);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn charts_with_lines_now(&self, scope: &str) -> (usize, usize) {
        let svgs = self.count(&format!("{scope} svg")).await;
        let with_lines = self
            .c
            .execute(
                "return Array.from(document.querySelectorAll(arguments[0] + ' svg'))
                   .filter(s => Array.from(s.querySelectorAll('polyline, path'))
                     .some(l => (l.getAttribute('points') || l.getAttribute('d') || '')
                       .trim().split(/\\s+/).length > 10)).length;",
                vec![json!(scope)],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as usize;
        (svgs, with_lines)
    }

    /// The status of a same-origin POST made by the page itself (so with its cookies and
    /// Origin), with the page's own CSRF token.
    async fn post_status(&self, path: &str, fields: &[(&str, &str)]) -> u64 {
        let body: Vec<serde_json::Value> = fields.iter().map(|(k, v)| json!([k, v])).collect();
        let r = self
            .c
            .execute_async(
                "const [path, fields, done] = arguments;
                 const csrf = document.querySelector('input[name=csrf]');
                 const form = new URLSearchParams(fields);
                 if (csrf) form.append('csrf', csrf.value);
                 fetch(path, {method: 'POST', body: form, redirect: 'manual'})
                   .then(r => done(r.status), e => done(String(e)));",
                vec![json!(path), json!(body)],
            )
            .await
            .unwrap_or_else(|e| panic!("POST {path} from the page: {e}"));
        r.as_u64()
            .unwrap_or_else(|| panic!("POST {path} did not answer: {r}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_walkthrough() {
    let chromium = find_binary("CHROMIUM", &["chromium", "chromium-browser"], "chromium");
    let driver_bin = find_binary("CHROMEDRIVER", &["chromedriver"], "chromedriver");
    let shots = shots_dir();
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    println!("screenshots and chromedriver log in {}", shots.display());

    let server = serve().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let mut driver = Driver::start(&driver_bin, &shots.join("chromedriver.log"));
    let c = connect(&mut driver, &chromium, profile.path()).await;
    let ui = Ui {
        c: c.clone(),
        base: format!("http://{}", server.addr),
        shots,
        store: server.store.clone(),
    };
    // The walk-through runs in its own task so that a failed assertion still closes the
    // browser session before the driver is stopped.
    let outcome = tokio::spawn(async move { walkthrough(&ui).await }).await;
    let _ = c.close().await;
    drop(driver);
    server.alerter.shutdown();
    server.store.shutdown();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The chart script (static/tigk.js) with a real pointer: hovering a chart shows the value
/// under the cursor, dragging across it zooms the URL's range in, the panel's ↻ refreshes
/// it in place.
async fn script_on_charts(ui: &Ui) {
    let chart = ui.wait_for("section.panel svg.chart").await;
    let at = |x: f64| PointerAction::MoveToElement {
        element: chart.clone(),
        duration: Some(Duration::from_millis(100)),
        x,
        y: -30.0,
    };
    let hover = MouseActions::new("mouse".into()).then(at(40.0));
    ui.c.perform_actions(hover).await.expect("hover");
    ui.wait_for(".tip:not([hidden])").await;
    let tip =
        ui.c.execute(
            "return document.querySelector('.tip:not([hidden])').textContent;",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    assert!(tip.contains(" at 20"), "tooltip: {tip:?}");
    assert!(
        tip.contains("host-"),
        "the tooltip names the series: {tip:?}"
    );
    ui.shot("04b-tooltip").await;
    ui.c.release_actions().await.expect("release");

    // Per-panel refresh: the body is fetched again, the page stays.
    let marker = "document.querySelector('#panel-0 .body h2').dataset.old = '1'; return 1;";
    ui.c.execute(marker, vec![]).await.expect("mark");
    ui.click("#panel-0 a.refresh").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = ui
            .c
            .execute(
                "var b = document.querySelector('#panel-0 .body');                  return !!b && !b.dataset.old && !b.parentNode.classList.contains('loading')                  && !!b.querySelector('svg.chart');",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if fresh {
            break;
        }
        assert!(Instant::now() < deadline, "panel 0 was not refreshed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Still the same page: the panel was replaced in place.
    assert!(ui.path().await.starts_with("/d/agent-overview?from=now-1h"));

    let chart = ui.wait_for("#panel-0 svg.chart").await;
    let at = |x: f64| PointerAction::MoveToElement {
        element: chart.clone(),
        duration: Some(Duration::from_millis(100)),
        x,
        y: -30.0,
    };
    let drag = MouseActions::new("mouse".into())
        .then(at(-150.0))
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(at(50.0))
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    ui.c.perform_actions(drag).await.expect("drag");
    let zoomed = ui
        .wait_path("a zoomed absolute range", |p| p.contains("from=20"))
        .await;
    assert!(zoomed.contains("&to=20"), "{zoomed}");
    ui.c.release_actions().await.expect("release");
    ui.wait_for("section.panel svg.chart").await;
    let (_, with_lines) = ui.charts_with_lines("section.panel").await;
    assert!(with_lines >= 4, "the zoomed range has data: {with_lines}");
    ui.shot("04c-zoomed").await;
}

async fn walkthrough(ui: &Ui) {
    // Signed out, every page sends the browser to the sign-in form.
    ui.goto("/hosts").await;
    ui.wait_for("input[name=password]").await;
    assert!(ui.path().await.starts_with("/login"), "{}", ui.path().await);
    ui.shot("01-login").await;

    ui.sign_in(ADMIN).await;
    assert_eq!(ui.path().await, "/hosts");
    ui.wait_for("table.grid tbody tr").await;
    assert_eq!(ui.count("table.grid tbody tr").await, HOSTS);
    assert_eq!(ui.count("span.dot.up").await, HOSTS, "every host reports");
    ui.shot("02-hosts").await;

    // A host's dashboard, reached by its link in the list.
    ui.click("table.grid tbody tr:first-child td a").await;
    ui.wait_for("section.panel svg").await;
    assert!(ui.path().await.starts_with("/hosts/host-000"));
    let (svgs, with_lines) = ui.charts_with_lines("section.panel").await;
    let text = ui.text().await;
    assert!(svgs >= 7, "{svgs} charts on the host dashboard");
    assert_eq!(with_lines, svgs, "every host chart has data:\n{text}");
    assert!(!text.contains("No data") && !text.contains("Query error"));
    ui.shot("03-host-dashboard").await;

    // The provisioned agent overview shows all hosts.
    ui.goto("/d/agent-overview?from=now-1h&to=now").await;
    ui.wait_for("section.panel svg").await;
    let (_, with_lines) = ui.charts_with_lines("section.panel").await;
    assert!(
        with_lines >= 4,
        "agent overview line charts with data: {with_lines}"
    );
    ui.shot("04-agent-overview").await;
    script_on_charts(ui).await;

    // The data explorer: pick a measurement, then a field; its query runs as chart and table.
    ui.goto("/explore?from=now-1h&to=now").await;
    ui.click("ul.picks a[href*='m=cpu&']").await;
    ui.wait_path("the cpu measurement", |p| p.contains("m=cpu"))
        .await;
    ui.click("ul.picks a[href*='q=SELECT']").await;
    ui.wait_for("section .panel svg.chart").await;
    assert_eq!(ui.charts_with_lines("section .panel").await.1, 1);
    assert!(ui.count("table.grid tbody tr").await > 0);
    ui.shot("04d-explore").await;

    // A new dashboard and a panel made in the query builder.
    ui.goto("/dashboards").await;
    ui.fill(
        "form[method=post][action='/dashboards'] input[name=title]",
        "E2E board",
    )
    .await;
    ui.click("form[method=post][action='/dashboards'] button[type=submit]")
        .await;
    let board = ui
        .wait_path("a new dashboard", |p| p.starts_with("/d/"))
        .await;
    let uid = board
        .trim_start_matches("/d/")
        .split(['?', '/'])
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(ui.text().await.contains("no panels yet"));
    ui.click("a[href*='/panels/new/edit']").await;
    ui.fill("input[name=title]", "CPU user (builder)").await;
    ui.fill("input[name=measurement]", "cpu").await;
    ui.fill("input[name=field]", "usage_user").await;
    ui.c.find(Locator::Css("select[name=aggregate]"))
        .await
        .expect("aggregate select")
        .select_by_value("mean")
        .await
        .expect("pick mean");
    ui.fill("input[name=f1_key]", "cpu").await;
    ui.fill("input[name=f1_value]", "cpu-total").await;
    ui.fill("input[name=group_by]", "host").await;
    ui.c.find(Locator::Css("select[name=unit]"))
        .await
        .expect("unit select")
        .select_by_label("percent")
        .await
        .expect("pick percent");
    ui.click("button[value=preview]").await;
    ui.wait_for("section.panel svg").await;
    let (svgs, with_lines) = ui.charts_with_lines("section.panel").await;
    assert_eq!((svgs, with_lines), (1, 1), "the preview chart has data");
    ui.shot("05-panel-builder-preview").await;
    ui.click("button[value=save]").await;
    let saved = format!("/d/{uid}");
    ui.wait_path(&saved, |p| p.split('?').next() == Some(saved.as_str()))
        .await;
    ui.wait_for("section.panel svg").await;
    let (svgs, with_lines) = ui.charts_with_lines("section.panel").await;
    assert_eq!(
        (svgs, with_lines),
        (1, 1),
        "the saved panel's chart has data"
    );
    let text = ui.text().await;
    assert!(text.contains("CPU user (builder)"), "{text}");
    for h in telegraf::host_names(HOSTS) {
        assert!(text.contains(&h), "legend names {h}");
    }
    ui.shot("06-new-dashboard").await;
    alerts::alert_walkthrough(ui).await;
    ui.sign_out().await;

    // A viewer sees the same dashboard without any edit control, and the server refuses
    // edits sent anyway.
    ui.sign_in(VIEWER).await;
    ui.goto(&format!("/d/{uid}")).await;
    ui.wait_for("section.panel svg").await;
    assert_eq!(ui.charts_with_lines("section.panel").await.1, 1);
    for css in [
        "a[href*='/edit']",
        "form[action$='/rename']",
        "form[action$='/delete']",
        "a[href$='/delete']",
        "form[action$='/duplicate']",
        "form[action$='/move']",
    ] {
        assert_eq!(ui.count(css).await, 0, "a viewer sees no `{css}`");
    }
    ui.shot("07-viewer-dashboard").await;
    let status = ui
        .post_status(&format!("/d/{uid}/rename"), &[("title", "hijacked")])
        .await;
    assert_eq!(status, 403, "a viewer's rename is refused");
    let status = ui
        .post_status(&format!("/d/{uid}/panels/0/delete"), &[])
        .await;
    assert_eq!(status, 403, "a viewer's panel delete is refused");
    ui.goto(&format!("/d/{uid}/panels/new/edit")).await;
    ui.wait_for("main").await;
    assert!(
        ui.count("button[value=save]").await == 0,
        "no editor for a viewer"
    );
    ui.shot("08-viewer-edit-refused").await;
    ui.goto("/dashboards").await;
    ui.wait_for("main h1").await;
    assert_eq!(ui.count("form[method=post][action='/dashboards']").await, 0);
    assert_eq!(ui.count("form[action='/dashboards/import']").await, 0);
    ui.goto(&format!("/d/{uid}")).await;
    let text = ui.text().await;
    assert!(text.contains("E2E board") && !text.contains("hijacked"));
    alerts::viewer_alerts(ui).await;
}
