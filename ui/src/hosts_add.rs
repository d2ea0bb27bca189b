//! "Add a host" (admin only): the one line that installs tigk-agent on a new host, with a
//! fresh write-only token for the agents' database and this server's URL:
//! `curl -fsSL http://SERVER:8086/install-agent.sh | sudo sh -s -- --token T`.
//!
//! The token is made by a POST (a GET must not create credentials; CSRF-checked like every
//! form) and shown only in that answer. The URL is the configured external origin, else the
//! one the browser used; the admin can change it, since the address a browser reaches (an SSH
//! tunnel to localhost, say) is not always one other hosts can. The script and the binary are
//! served by the tigk binary (`/install-agent.sh`, `/downloads/tigk-agent`), not by this crate.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::{Result, UiError};
use crate::render;
use crate::session::{CurrentUser, Role};
use crate::state::UiState;
use crate::tokens::{create_write_token, no_store};

/// The database install.sh writes to when given no `--database`.
const SCRIPT_DEFAULT_DATABASE: &str = "telegraf";

/// A URL that is safe to paste into a shell line unquoted: scheme, then host and port
/// characters only (an optional path is not needed and not allowed).
fn checked_server_url(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let ok = !rest.is_empty()
        && rest.len() <= 255
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    ok.then(|| url.to_string())
}

/// The origin this server is reached at, as far as this request tells.
fn this_server(state: &UiState, headers: &HeaderMap) -> Option<String> {
    if let Some(ext) = &state.config().external_origin {
        return checked_server_url(ext);
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let scheme = if state.config().secure_cookies || forwarded_https {
        "https"
    } else {
        "http"
    };
    checked_server_url(&format!("{scheme}://{host}"))
}

/// True when other hosts cannot reach this name (the browser is on the server itself).
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => rest.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The line to run on the new host.
pub fn install_command(server: &str, token: &str, database: &str) -> String {
    let mut cmd = format!("curl -fsSL {server}/install-agent.sh | sudo sh -s -- --token {token}");
    if database != SCRIPT_DEFAULT_DATABASE {
        cmd.push_str(" --database ");
        cmd.push_str(database);
    }
    cmd
}

#[derive(Serialize)]
struct Shown {
    command: String,
    token: String,
}

fn page(
    state: &UiState,
    user: &CurrentUser,
    server: &str,
    shown: Option<Shown>,
) -> Result<Response> {
    let mut ctx = render::context(Some(user), "Add a host");
    ctx.insert("server", server);
    ctx.insert("loopback", &is_loopback_url(server));
    ctx.insert("database", &state.config().database);
    ctx.insert("shown", &shown);
    Ok(no_store(
        render::render("hosts_add.html", &ctx)?.into_response(),
    ))
}

/// `GET /admin/hosts/add`
pub async fn form(
    State(state): State<UiState>,
    user: CurrentUser,
    headers: HeaderMap,
) -> Result<Response> {
    user.require(Role::Admin)?;
    let server = this_server(&state, &headers).unwrap_or_default();
    page(&state, &user, &server, None)
}

#[derive(Deserialize)]
pub struct AddForm {
    server: String,
}

/// `POST /admin/hosts/add`: a new token, and the command that uses it.
pub async fn submit(
    State(state): State<UiState>,
    user: CurrentUser,
    Form(f): Form<AddForm>,
) -> Result<Response> {
    user.require(Role::Admin)?;
    let server = checked_server_url(&f.server).ok_or_else(|| {
        UiError::BadRequest(
            "the server URL must be http:// or https:// and a host name or address with an \
             optional port, as other hosts reach this server"
                .into(),
        )
    })?;
    let database = state.config().database.clone();
    // Agents' database names are plain in practice; anything else would need quoting in
    // the shell line, so refuse it here rather than print a line that breaks.
    if !database
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(UiError::BadRequest(format!(
            "the agents' database {database:?} cannot be passed to install.sh"
        )));
    }
    let description = format!(
        "agent install, created by {} on the add-a-host page",
        user.name
    );
    let token = create_write_token(&state, &database, &description).await?;
    tracing::info!(by = %user.name, database = %database, "agent install token created");
    let shown = Shown {
        command: install_command(&server, &token, &database),
        token,
    };
    page(&state, &user, &server, Some(shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked_before_they_reach_a_shell_line() {
        assert_eq!(
            checked_server_url("http://metrics.example:8086/").as_deref(),
            Some("http://metrics.example:8086")
        );
        assert!(checked_server_url("https://[fd00::1]:8086").is_some());
        for bad in [
            "ftp://x",
            "http://",
            "http://x;rm -rf /",
            "http://x/$(id)",
            "http://x`id`",
            "http://x y",
        ] {
            assert_eq!(checked_server_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn loopback_names_are_spotted() {
        assert!(is_loopback_url("http://localhost:8086"));
        assert!(is_loopback_url("http://127.0.0.1:8086"));
        assert!(is_loopback_url("http://[::1]:8086"));
        assert!(!is_loopback_url("http://10.0.0.2:8086"));
    }

    #[test]
    fn the_command_names_a_database_only_when_it_is_not_the_default() {
        assert_eq!(
            install_command("http://h:8086", "tigk_x", "telegraf"),
            "curl -fsSL http://h:8086/install-agent.sh | sudo sh -s -- --token tigk_x"
        );
        assert!(
            install_command("http://h:8086", "tigk_x", "metrics").ends_with(" --database metrics")
        );
    }
}
