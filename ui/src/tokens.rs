//! API tokens for agents (admin only): create a write-only token for one database, shown
//! once; list; revoke. Tokens live in the store's file through `tsdb::auth`, like
//! `tigk token`, so the CLI and this page see the same list; only a SHA-256 of the secret is
//! stored, which is why a token can be shown only in the answer that created it.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tsdb::auth::TokenScope;

use crate::error::{Result, UiError};
use crate::render;
use crate::session::{CurrentUser, Role};
use crate::state::UiState;

#[derive(Serialize)]
struct TokenRow {
    id: i64,
    description: String,
    database: String,
    access: String,
    created: String,
}

fn access(s: &TokenScope) -> String {
    if s.admin {
        return "admin".into();
    }
    match (s.can_read, s.can_write) {
        (true, true) => "read, write",
        (true, false) => "read",
        (false, true) => "write",
        (false, false) => "none",
    }
    .into()
}

async fn rows(state: &UiState) -> Result<Vec<TokenRow>> {
    let tokens = state
        .users()
        .call(|c| Ok(tsdb::auth::list_tokens(c)?))
        .await?;
    Ok(tokens
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            access: access(&t.scope),
            database: t.scope.database.unwrap_or_else(|| "(all)".into()),
            description: t.description,
            created: crate::units::format_time(t.created_ns),
        })
        .collect())
}

/// Checks a database name and a description typed into a form.
fn check_text(what: &str, s: &str, max: usize, required: bool) -> Result<()> {
    if required && s.trim().is_empty() {
        return Err(UiError::BadRequest(format!("{what} is required")));
    }
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(UiError::BadRequest(format!(
            "{what} must be at most {max} characters, without control characters"
        )));
    }
    Ok(())
}

/// Creates a write-only token for `database` and returns its secret. Shared with the
/// "add a host" page.
pub(crate) async fn create_write_token(
    state: &UiState,
    database: &str,
    description: &str,
) -> Result<String> {
    check_text("the database", database, 255, true)?;
    check_text("the description", description, 200, false)?;
    let scope = TokenScope {
        database: Some(database.trim().to_string()),
        can_read: false,
        can_write: true,
        admin: false,
    };
    let description = description.trim().to_string();
    state
        .users()
        .call(move |c| Ok(tsdb::auth::create_token(c, &description, &scope)?))
        .await
}

/// The answer that shows a secret must not be stored by the browser or a proxy.
pub(crate) fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn page(state: &UiState, user: &CurrentUser, created: Option<Created>) -> Result<Response> {
    let mut ctx = render::context(Some(user), "Tokens");
    ctx.insert("tokens", &rows(state).await?);
    ctx.insert("default_database", &state.config().database);
    ctx.insert("created", &created);
    Ok(no_store(
        render::render("tokens.html", &ctx)?.into_response(),
    ))
}

#[derive(Serialize)]
struct Created {
    token: String,
    database: String,
}

/// `GET /admin/tokens`
pub async fn list(State(state): State<UiState>, user: CurrentUser) -> Result<Response> {
    user.require(Role::Admin)?;
    page(&state, &user, None).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    database: String,
    #[serde(default)]
    description: String,
}

/// `POST /admin/tokens`: answers with the page itself (not a redirect), so the secret is
/// never in a URL or the history.
pub async fn create(
    State(state): State<UiState>,
    user: CurrentUser,
    Form(f): Form<CreateForm>,
) -> Result<Response> {
    user.require(Role::Admin)?;
    let description = if f.description.trim().is_empty() {
        format!("agent token, created by {}", user.name)
    } else {
        f.description
    };
    let token = create_write_token(&state, &f.database, &description).await?;
    tracing::info!(by = %user.name, database = %f.database, "write token created");
    let created = Created {
        token,
        database: f.database.trim().to_string(),
    };
    page(&state, &user, Some(created)).await
}

/// `POST /admin/tokens/{id}/revoke`: takes effect at once (tokens are not cached).
pub async fn revoke(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response> {
    user.require(Role::Admin)?;
    let removed = state
        .users()
        .call(move |c| Ok(tsdb::auth::revoke_token(c, id)?))
        .await?;
    if !removed {
        return Err(UiError::NotFound);
    }
    tracing::info!(by = %user.name, id, "token revoked");
    Ok(Redirect::to("/admin/tokens").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_names_the_scope() {
        let s = |r, w, a| TokenScope {
            database: None,
            can_read: r,
            can_write: w,
            admin: a,
        };
        assert_eq!(access(&s(false, true, false)), "write");
        assert_eq!(access(&s(true, true, false)), "read, write");
        assert_eq!(access(&s(false, false, true)), "admin");
    }

    #[test]
    fn form_text_is_bounded() {
        assert!(check_text("x", "telegraf", 255, true).is_ok());
        assert!(check_text("x", " ", 255, true).is_err());
        assert!(check_text("x", "", 255, false).is_ok());
        assert!(check_text("x", "a\nb", 255, false).is_err());
        assert!(check_text("x", &"é".repeat(201), 200, false).is_err());
    }
}
