//! Templates, embedded in the binary so a deployed server needs no files besides its data.

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{Html, Response};
use serde::Serialize;

use crate::error::{Result, UiError};
use crate::session::CurrentUser;

/// Name and source of every template. Names end in `.html` so Tera auto-escapes them.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("setup.html", include_str!("../templates/setup.html")),
    ("hosts.html", include_str!("../templates/hosts.html")),
    ("host.html", include_str!("../templates/host.html")),
    ("range.html", include_str!("../templates/range.html")),
    ("users.html", include_str!("../templates/users.html")),
    ("tokens.html", include_str!("../templates/tokens.html")),
    (
        "hosts_add.html",
        include_str!("../templates/hosts_add.html"),
    ),
    (
        "dashboards.html",
        include_str!("../templates/dashboards.html"),
    ),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    (
        "panel_edit.html",
        include_str!("../templates/panel_edit.html"),
    ),
    (
        "alert_events.html",
        include_str!("../templates/alert_events.html"),
    ),
    (
        "alerts_off.html",
        include_str!("../templates/alerts_off.html"),
    ),
    (
        "alert_rules.html",
        include_str!("../templates/alert_rules.html"),
    ),
    (
        "alert_rule.html",
        include_str!("../templates/alert_rule.html"),
    ),
    (
        "alert_task.html",
        include_str!("../templates/alert_task.html"),
    ),
    (
        "alert_script.html",
        include_str!("../templates/alert_script.html"),
    ),
    (
        "alerts_active.html",
        include_str!("../templates/alerts_active.html"),
    ),
    ("explore.html", include_str!("../templates/explore.html")),
    (
        "dashboard_delete.html",
        include_str!("../templates/dashboard_delete.html"),
    ),
    (
        "alert_delete.html",
        include_str!("../templates/alert_delete.html"),
    ),
    (
        "alert_history.html",
        include_str!("../templates/alert_history.html"),
    ),
    (
        "panel_body.html",
        include_str!("../templates/panel_body.html"),
    ),
];

pub const STYLE_CSS: &str = include_str!("../static/style.css");
pub const SCRIPT_JS: &str = include_str!("../static/tigk.js");

/// Built once. A broken template is a bug in this crate, caught by the tests, so it is kept as
/// an error to report on every render rather than a panic at start-up.
static TERA: LazyLock<std::result::Result<tera::Tera, String>> = LazyLock::new(|| {
    let mut t = tera::Tera::new();
    t.add_raw_templates(TEMPLATES.iter().copied())
        .map_err(|e| format!("{e:?}"))?;
    Ok(t)
});

fn tera() -> Result<&'static tera::Tera> {
    TERA.as_ref().map_err(|e| UiError::Template(e.clone()))
}

/// Renders `name` with `ctx`.
pub fn render(name: &str, ctx: &tera::Context) -> Result<Html<String>> {
    Ok(Html(tera()?.render(name, ctx)?))
}

/// A context with what `base.html` needs: the user (or none), the CSRF token and the theme.
pub fn context(user: Option<&CurrentUser>, title: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("title", title);
    #[derive(Serialize)]
    struct UserView<'a> {
        name: &'a str,
        role: &'a str,
        is_admin: bool,
        can_edit: bool,
    }
    match user {
        Some(u) => {
            ctx.insert(
                "user",
                &UserView {
                    name: &u.name,
                    role: u.role.as_str(),
                    is_admin: u.role >= crate::session::Role::Admin,
                    can_edit: u.role >= crate::session::Role::Editor,
                },
            );
            ctx.insert("csrf", &u.csrf);
            ctx.insert("theme", u.theme.as_str());
        }
        None => {
            ctx.insert("user", &Option::<()>::None);
            ctx.insert("csrf", "");
            ctx.insert("theme", "light");
        }
    }
    ctx
}

/// Marks a response as an error page, so the session gate can draw it again for the
/// signed-in user.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub message: String,
}

/// `resp` again with `user`'s navigation when it is an error page.
pub fn with_user(mut resp: Response, user: &CurrentUser) -> Response {
    let Some(page) = resp.extensions_mut().remove::<ErrorPage>() else {
        return resp;
    };
    let Html(body) = error_page(Some(user), page.status, &page.message);
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    *resp.body_mut() = Body::from(body);
    resp
}

/// The error page. Falls back to plain text if even templates fail, so an error can always
/// be shown.
pub fn error_page(user: Option<&CurrentUser>, status: StatusCode, message: &str) -> Html<String> {
    let mut ctx = context(user, "Error");
    ctx.insert("status", &status.as_u16());
    ctx.insert("reason", status.canonical_reason().unwrap_or("Error"));
    ctx.insert("message", message);
    match render("error.html", &ctx) {
        Ok(h) => h,
        Err(_) => Html(format!(
            "<!doctype html><title>Error</title><p>{} {}</p>",
            status.as_u16(),
            crate::web::html_escape(message)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        if let Err(e) = tera() {
            panic!("templates do not compile: {e:?}");
        }
    }

    #[test]
    fn error_page_escapes_the_message() {
        let Html(body) = error_page(None, StatusCode::BAD_REQUEST, "<script>x</script>");
        assert!(body.contains("&lt;script&gt;"));
        assert!(!body.contains("<script>x"));
    }
}
