//! Tokens and "add a host" pages through the router: admin only, CSRF-checked, a new token
//! shown once and working as a write-only token, revocation effective at once.

mod common;

use axum::http::StatusCode;
use common::*;
use tsdb::auth::{Authenticator, Credentials};
use ui::FixedSource;

/// The first `tigk_…` token in a page.
fn token_in(body: &str) -> Option<String> {
    let i = body.find("tigk_")?;
    Some(
        body[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect(),
    )
}

fn authenticator(env: &Env) -> Authenticator {
    Authenticator::new(env.dir.path().join(tsdb::storage::DB_FILE))
}

fn stored_tokens(env: &Env) -> Vec<tsdb::auth::TokenInfo> {
    let conn = tsdb::storage::admin_connection(env.dir.path()).expect("conn");
    tsdb::auth::list_tokens(&conn).expect("list")
}

#[tokio::test]
async fn only_admins_reach_the_pages() {
    let env = env(FixedSource::default()).await;
    let anon = env.get("/admin/tokens").await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert!(anon.location().starts_with("/login"));
    for who in [VIEWER, EDITOR] {
        let c = env.login(who).await;
        for path in ["/admin/tokens", "/admin/hosts/add"] {
            assert_eq!(
                c.get(&env, path).await.status,
                StatusCode::FORBIDDEN,
                "{path}"
            );
        }
        let r = c
            .post(&env, "/admin/tokens", &[("database", "telegraf")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = c
            .post(&env, "/admin/hosts/add", &[("server", "http://h:8086")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            c.post(&env, "/admin/tokens/1/revoke", &[]).await.status,
            StatusCode::FORBIDDEN
        );
        // No admin link in their navigation either.
        assert!(!c.get(&env, "/hosts").await.body.contains("/admin/tokens"));
    }
    assert!(stored_tokens(&env).is_empty());
    let admin = env.login(ADMIN).await;
    let page = admin.get(&env, "/hosts").await;
    assert!(page.body.contains("href=\"/admin/tokens\""));
    assert!(page.body.contains("href=\"/admin/hosts/add\""));
}

#[tokio::test]
async fn state_changes_without_the_form_token_or_from_another_site_are_refused() {
    let env = env(FixedSource::default()).await;
    let admin = env.login(ADMIN).await;
    for (path, body) in [
        ("/admin/tokens", "database=telegraf".to_string()),
        ("/admin/tokens", "csrf=0000&database=telegraf".to_string()),
        ("/admin/hosts/add", "server=http%3A%2F%2Fh".to_string()),
    ] {
        let r = admin
            .post_raw(&env, path, &body, Some("http://localhost"))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} {body}");
    }
    let good = format!("csrf={}&database=telegraf", admin.csrf);
    for origin in [Some("http://evil.example"), None] {
        let r = admin.post_raw(&env, "/admin/tokens", &good, origin).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin:?}");
    }
    assert!(stored_tokens(&env).is_empty(), "nothing was created");
}

#[tokio::test]
async fn a_new_token_is_shown_once_writes_only_and_revoking_it_works() {
    let env = env(FixedSource::default()).await;
    let admin = env.login(ADMIN).await;
    let r = admin
        .post(
            &env,
            "/admin/tokens",
            &[
                ("database", "metrics"),
                ("description", "<b>web</b> servers"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let token = token_in(&r.body).expect("the new token is on the page");
    assert!(token.len() > 30);
    assert!(r.body.contains("&lt;b&gt;web"), "descriptions are escaped");
    assert!(!r.body.contains("<b>web</b>"));

    // The token is what an agent needs: write to that database, nothing else.
    let p = authenticator(&env)
        .authenticate(&Credentials::Token(token.clone()))
        .expect("the token authenticates");
    assert!(p.authorize_write("metrics").is_ok());
    assert!(p.authorize_write("other").is_err());
    assert!(p.authorize_read("metrics").is_err());
    assert!(p.authorize_admin().is_err());

    // Listed, but never shown again.
    let list = admin.get(&env, "/admin/tokens").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains(&token));
    assert!(token_in(&list.body).is_none());
    assert!(list.body.contains("metrics") && list.body.contains("write"));
    let stored = stored_tokens(&env);
    assert_eq!(stored.len(), 1);
    let id = stored[0].id;

    let r = admin
        .post(&env, &format!("/admin/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/admin/tokens");
    assert!(stored_tokens(&env).is_empty());
    assert!(
        authenticator(&env)
            .authenticate(&Credentials::Token(token))
            .is_err(),
        "a revoked token is refused at once"
    );
    let again = admin
        .post(&env, &format!("/admin/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_token_forms_are_refused() {
    let env = env(FixedSource::default()).await;
    let admin = env.login(ADMIN).await;
    for fields in [
        &[("database", " ")][..],
        &[("database", "a\u{7}b")][..],
        &[("database", "telegraf"), ("description", &"x".repeat(201))][..],
    ] {
        let r = admin.post(&env, "/admin/tokens", fields).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{fields:?}");
    }
    assert!(stored_tokens(&env).is_empty());
}

#[tokio::test]
async fn add_a_host_shows_the_one_line_install_with_a_fresh_token() {
    let env = env(FixedSource::default()).await;
    let admin = env.login(ADMIN).await;
    let page = admin.get(&env, "/admin/hosts/add").await;
    assert_eq!(page.status, StatusCode::OK);
    // The browser came through "localhost": prefilled, with the warning that other hosts
    // cannot use it. A GET creates nothing.
    assert!(
        page.body.contains("value=\"http://localhost\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("loopback"));
    assert!(stored_tokens(&env).is_empty());

    let r = admin
        .post(
            &env,
            "/admin/hosts/add",
            &[("server", "http://metrics.example:8086/")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = token_in(&r.body).expect("token");
    let line = format!(
        "curl -fsSL http://metrics.example:8086/install-agent.sh | sudo sh -s -- --token {token}"
    );
    assert!(r.body.contains(&line), "{}", r.body);
    assert!(!r.body.contains("is the server's own loopback name"));
    let p = authenticator(&env)
        .authenticate(&Credentials::Token(token.clone()))
        .expect("token");
    assert!(p.authorize_write("telegraf").is_ok());
    assert!(p.authorize_read("telegraf").is_err());

    // Each command gets its own token.
    let r2 = admin
        .post(
            &env,
            "/admin/hosts/add",
            &[("server", "http://metrics.example:8086")],
        )
        .await;
    assert_ne!(token_in(&r2.body).expect("token"), token);
    assert_eq!(stored_tokens(&env).len(), 2);

    // Nothing that could break out of the shell line is accepted.
    for bad in ["http://x;id", "http://x/$(id)", "ftp://x", "http://x y"] {
        let r = admin
            .post(&env, "/admin/hosts/add", &[("server", bad)])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(stored_tokens(&env).len(), 2);
}
