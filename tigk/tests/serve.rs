//! `tigk serve` on a real socket: the 1.x API and the web UI share one listener, and
//! `--no-auth` is refused off loopback.

mod support;

use std::process::Command;
use std::time::Duration;

use support::Server;

fn get(url: &str) -> (u16, ureq::http::HeaderMap, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut resp = agent.get(url).call().expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    (status, headers, body)
}

#[test]
fn one_listener_serves_the_api_and_the_ui() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    assert_eq!(get(&server.url("/ping")).0, 204);
    let (status, headers, _) = get(&server.url("/hosts"));
    assert!(
        (300..400).contains(&status),
        "pages need a session: {status}"
    );
    assert!(
        headers["location"].to_str().unwrap_or("").contains("login"),
        "{headers:?}"
    );
    // No admin yet: a loopback visitor is sent to the first-run page.
    let (status, headers, _) = get(&server.url("/login"));
    assert!((300..400).contains(&status), "{status}");
    assert!(
        headers["location"].to_str().unwrap_or("").contains("setup"),
        "{headers:?}"
    );
    assert_eq!(get(&server.url("/setup")).0, 200);
    // Once an admin exists (created offline while the server runs), the login form shows.
    let created = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args([
            "user",
            "create",
            "--name",
            "admin",
            "--password",
            "ui-admin-pass",
            "--admin",
            "--data-dir",
        ])
        .arg(dir.path())
        .status()
        .expect("tigk user create");
    assert!(created.success());
    let (status, headers, body) = get(&server.url("/login"));
    assert_eq!(status, 200);
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap_or("")
            .contains("default-src 'self'")
    );
    assert!(body.contains("<form"), "{body}");
    // The API keeps 1.x's answers next to the UI.
    let (status, _, body) = get(&server.url("/query?q=SHOW+DATABASES"));
    assert_eq!(
        (status, body.as_str()),
        (
            401,
            r#"{"error":"unable to parse authentication credentials"}"#
        )
    );
    server.stop();
}

#[test]
fn no_auth_is_refused_off_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(["serve", "--no-auth", "--bind", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run tigk");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--no-auth is only allowed on a loopback address"),
        "{err}"
    );
}
