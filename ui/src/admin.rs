//! User roles for the UI. Users themselves live in the store (`tsdb::auth`); the UI only
//! adds a role per user in `ui.db`.

use axum::Form;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use crate::error::{Result, UiError};
use crate::render;
use crate::session::{CurrentUser, Role};
use crate::state::UiState;

#[derive(Serialize)]
struct UserRow {
    name: String,
    store_admin: bool,
    role: &'static str,
}

pub async fn users(State(state): State<UiState>, user: CurrentUser) -> Result<Html<String>> {
    user.require(Role::Admin)?;
    let store_users = state
        .users()
        .call(|c| Ok(tsdb::auth::list_users(c)?))
        .await?;
    let roles: Vec<(String, String)> = state
        .ui_db()
        .call(|c| {
            let mut st = c.prepare("SELECT user, role FROM roles")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await?;
    let rows: Vec<UserRow> = store_users
        .into_iter()
        .map(|(name, admin)| {
            let role = if admin {
                Role::Admin
            } else {
                roles
                    .iter()
                    .find(|(u, _)| *u == name)
                    .and_then(|(_, r)| Role::parse(r))
                    .unwrap_or(Role::Viewer)
            };
            UserRow {
                name,
                store_admin: admin,
                role: role.as_str(),
            }
        })
        .collect();
    let mut ctx = render::context(Some(&user), "Users");
    ctx.insert("users", &rows);
    ctx.insert("roles", &["viewer", "editor", "admin"]);
    render::render("users.html", &ctx)
}

#[derive(Deserialize)]
pub struct RoleForm {
    user: String,
    role: String,
}

pub async fn set_role(
    State(state): State<UiState>,
    user: CurrentUser,
    Form(f): Form<RoleForm>,
) -> Result<Response> {
    user.require(Role::Admin)?;
    let role = Role::parse(&f.role).ok_or_else(|| UiError::BadRequest("unknown role".into()))?;
    let name = f.user.clone();
    let exists = state
        .users()
        .call(move |c| Ok(tsdb::auth::list_users(c)?.iter().any(|(n, _)| *n == name)))
        .await?;
    if !exists {
        return Err(UiError::NotFound);
    }
    let name = f.user.clone();
    let f_user = f.user;
    state
        .ui_db()
        .call(move |c| {
            c.execute(
                "INSERT INTO roles (user, role) VALUES (?1, ?2)
                 ON CONFLICT(user) DO UPDATE SET role = excluded.role",
                (&name, role.as_str()),
            )?;
            Ok(())
        })
        .await?;
    tracing::info!(by = %user.name, user = %f_user, role = role.as_str(), "ui role changed");
    Ok(Redirect::to("/admin/users").into_response())
}
