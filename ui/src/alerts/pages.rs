//! Alert pages besides the builder: rules list, task page, raw editor, active alerts and
//! history. Viewers read; editors and admins change.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::{HistoryEvent, HistoryQuery, ScriptError, graph, rule};
use crate::error::{Result, UiError};
use crate::render;
use crate::session::{CurrentUser, Role};
use crate::state::{UiState, now_ns};
use crate::timerange::{RangeParams, TimeRange};
use crate::units::{Unit, format_ago, format_time, format_value};

/// One event as the tables show it.
#[derive(Debug, Serialize)]
pub struct EventView {
    pub time: String,
    pub ago: String,
    pub task: String,
    pub id: String,
    pub level: &'static str,
    /// CSS class: ok, info, warn, crit.
    pub class: &'static str,
    pub host: String,
    pub host_href: String,
    pub value: String,
    pub message: String,
    pub delivery: String,
}

pub fn level_class(l: alerter::alert::Level) -> &'static str {
    use alerter::alert::Level as L;
    match l {
        L::Ok => "ok",
        L::Info => "info",
        L::Warning => "warn",
        L::Critical => "crit",
    }
}

pub fn event_view(e: &HistoryEvent, now: i64) -> EventView {
    EventView {
        time: format_time(e.time),
        ago: format_ago(e.time, now),
        task: e.task.clone(),
        id: e.id.clone(),
        level: e.level.as_str(),
        class: level_class(e.level),
        host: e.tags.get("host").cloned().unwrap_or_default(),
        host_href: e
            .tags
            .get("host")
            .map(|h| format!("/hosts/{}", crate::web::url_encode(h)))
            .unwrap_or_default(),
        value: e
            .value
            .map(|v| format_value(v, Unit::Short, None))
            .unwrap_or_default(),
        message: e.message.clone(),
        delivery: format!("{:?}", e.delivery).to_lowercase(),
    }
}

/// A task id from a path; anything the alerter could not have stored is not found.
pub(super) fn checked_id(id: &str) -> Result<String> {
    rule::check_task_id(id).map_err(|_| UiError::NotFound)?;
    Ok(id.to_string())
}

fn off_page(user: &CurrentUser, title: &str) -> Result<Response> {
    let mut ctx = render::context(Some(user), title);
    ctx.insert("off", &true);
    Ok((
        StatusCode::SERVICE_UNAVAILABLE,
        render::render("alerts_off.html", &ctx)?,
    )
        .into_response())
}

#[derive(Serialize)]
struct RuleRow {
    id: String,
    kind: &'static str,
    enabled: bool,
    status: &'static str,
    error: String,
    last_event: Option<EventView>,
    modified: String,
}

pub async fn rules_list(State(state): State<UiState>, user: CurrentUser) -> Result<Response> {
    let Ok(alerts) = state.alerts() else {
        return off_page(&user, "Alert rules");
    };
    let tasks = alerts.list().await?;
    let history = alerts
        .history(HistoryQuery {
            limit: 10_000,
            ..HistoryQuery::default()
        })
        .await?;
    let now = now_ns();
    let mut last: BTreeMap<&str, &HistoryEvent> = BTreeMap::new();
    for e in &history {
        last.entry(e.task.as_str()).or_insert(e);
    }
    let rows: Vec<RuleRow> = tasks
        .iter()
        .map(|t| RuleRow {
            id: t.id.clone(),
            kind: rule::kind_of(&t.script),
            enabled: t.enabled,
            status: if !t.error.is_empty() {
                "error"
            } else if t.executing {
                "running"
            } else {
                "disabled"
            },
            error: t.error.clone(),
            last_event: last.get(t.id.as_str()).map(|e| event_view(e, now)),
            modified: format_time(t.modified),
        })
        .collect();
    let mut ctx = render::context(Some(&user), "Alert rules");
    ctx.insert("rules", &rows);
    ctx.insert("active", &super::active(&history).len());
    Ok(render::render("alert_rules.html", &ctx)?.into_response())
}

#[derive(Deserialize)]
pub struct EnabledForm {
    enabled: String,
}

pub async fn set_enabled(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(f): Form<EnabledForm>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    let id = checked_id(&id)?;
    state
        .alerts()?
        .set_enabled(&id, f.enabled == "true")
        .await?;
    Ok(Redirect::to("/alerts/rules").into_response())
}

/// Asks before deleting: the list's Delete is a link here, and only this page's form posts.
pub async fn delete_form(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<axum::response::Html<String>> {
    user.require(Role::Editor)?;
    let id = checked_id(&id)?;
    // Only an existing task gets a confirmation page.
    state.alerts()?.show(&id).await?;
    let mut ctx = render::context(Some(&user), "Delete rule");
    ctx.insert("id", &id);
    render::render("alert_delete.html", &ctx)
}

pub async fn delete(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    let id = checked_id(&id)?;
    state.alerts()?.delete(&id).await?;
    Ok(Redirect::to("/alerts/rules").into_response())
}

#[derive(Deserialize, Default)]
pub struct TaskParams {
    refresh: Option<String>,
}

#[derive(Serialize)]
struct NodeRow {
    name: String,
    stats: Vec<(String, i64)>,
}

pub async fn task_page(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(p): Query<TaskParams>,
) -> Result<Response> {
    let Ok(alerts) = state.alerts() else {
        return off_page(&user, "Alert task");
    };
    let id = checked_id(&id)?;
    let t = alerts.show(&id).await?;
    let dot = graph::parse_dot(&t.dot);
    let svg = graph::to_svg(&dot, &t.node_stats);
    let nodes: Vec<NodeRow> = dot
        .nodes
        .iter()
        .map(|n| NodeRow {
            name: n.clone(),
            stats: t
                .node_stats
                .get(n)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default(),
        })
        .collect();
    let history = alerts
        .history(HistoryQuery {
            task: Some(id.clone()),
            limit: 20,
            ..HistoryQuery::default()
        })
        .await?;
    let now = now_ns();
    let events: Vec<EventView> = history.iter().map(|e| event_view(e, now)).collect();
    let live = p.refresh.as_deref() != Some("off");
    let mut ctx = render::context(Some(&user), &id);
    ctx.insert("task", &t.summary);
    ctx.insert("kind", rule::kind_of(&t.summary.script));
    ctx.insert(
        "builder",
        &rule::rule_of(&t.summary.script, alerts.log_dir().as_deref()).is_some(),
    );
    ctx.insert("task_type", &t.task_type);
    ctx.insert("svg", &svg);
    ctx.insert("nodes", &nodes);
    ctx.insert("events", &events);
    ctx.insert("live", &live);
    Ok(render::render("alert_task.html", &ctx)?.into_response())
}

/// The raw editor's form.
#[derive(Deserialize, Default)]
pub struct ScriptForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    script: String,
    #[serde(default)]
    action: String,
}

const NEW_SCRIPT: &str = "dbrp \"telegraf\".\"autogen\"\n\nstream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n    |alert()\n        .crit(lambda: \"usage_user\" > 90.0)\n        .stateChangesOnly()\n";

/// The lines around an error, the offending column marked, for the editor.
#[derive(Serialize)]
struct ErrorView {
    message: String,
    line: Option<usize>,
    column: Option<usize>,
    /// Up to three lines ending at the error's, numbered (`  12 | text`).
    context: Vec<String>,
    /// A `^` under the column, aligned with the context lines.
    caret: String,
}

fn error_view(script: &str, e: &ScriptError) -> ErrorView {
    let mut context = Vec::new();
    let mut caret = String::new();
    if let Some(line) = e.line {
        let width = line.to_string().len();
        for (i, text) in script.lines().enumerate() {
            let n = i + 1;
            if n + 2 >= line && n <= line {
                context.push(format!("{n:>width$} | {text}"));
            }
        }
        if let (Some(col), Some(text)) = (e.column, script.lines().nth(line.saturating_sub(1))) {
            // Columns count bytes; pad with one space per character before it, tabs kept.
            let before: String = text
                .char_indices()
                .take_while(|(i, _)| *i + 1 < col)
                .map(|(_, c)| if c == '\t' { '\t' } else { ' ' })
                .collect();
            caret = format!("{:width$} | {before}^", "");
        }
    }
    ErrorView {
        message: e.message.clone(),
        line: e.line,
        column: e.column,
        context,
        caret,
    }
}

async fn editor(
    state: &UiState,
    user: &CurrentUser,
    id: &str,
    form: ScriptForm,
    status: StatusCode,
    error: Option<ScriptError>,
    ok: bool,
) -> Result<Response> {
    let mut ctx = render::context(Some(user), "TICKscript");
    ctx.insert("id", id);
    ctx.insert("new_id", &form.id);
    ctx.insert("script", &form.script);
    ctx.insert("error", &error.map(|e| error_view(&form.script, &e)));
    ctx.insert("ok", &ok);
    ctx.insert("log_dir", &state.alerts()?.log_dir());
    Ok((status, render::render("alert_script.html", &ctx)?).into_response())
}

pub async fn edit_form(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response> {
    let Ok(alerts) = state.alerts() else {
        return off_page(&user, "TICKscript");
    };
    let form = if id == "new" {
        user.require(Role::Editor)?;
        ScriptForm {
            script: NEW_SCRIPT.into(),
            ..ScriptForm::default()
        }
    } else {
        let id = checked_id(&id)?;
        ScriptForm {
            script: alerts.show(&id).await?.summary.script,
            ..ScriptForm::default()
        }
    };
    editor(&state, &user, &id, form, StatusCode::OK, None, false).await
}

pub async fn edit_submit(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<ScriptForm>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    let alerts = state.alerts()?;
    let create = id == "new";
    let task_id = if create {
        let t = form.id.trim().to_string();
        rule::check_task_id(&t)?;
        if t == "new" {
            return Err(UiError::BadRequest("\"new\" cannot name a task".into()));
        }
        t
    } else {
        checked_id(&id)?
    };
    if form.script.len() > 256 * 1024 {
        return Err(UiError::BadRequest("the script is over 256 KiB".into()));
    }
    let result = if form.action == "save" {
        alerts.save(&task_id, &form.script, create).await
    } else {
        alerts.check(&form.script)
    };
    match result {
        Ok(()) if form.action == "save" => {
            Ok(Redirect::to(&format!("/alerts/tasks/{task_id}")).into_response())
        }
        Ok(()) => editor(&state, &user, &id, form, StatusCode::OK, None, true).await,
        Err(UiError::Script(e)) => {
            editor(
                &state,
                &user,
                &id,
                form,
                StatusCode::BAD_REQUEST,
                Some(e),
                false,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn alerts_page(State(state): State<UiState>, user: CurrentUser) -> Result<Response> {
    let Ok(alerts) = state.alerts() else {
        return off_page(&user, "Alerts");
    };
    let history = alerts
        .history(HistoryQuery {
            limit: 10_000,
            ..HistoryQuery::default()
        })
        .await?;
    let now = now_ns();
    let active: Vec<EventView> = super::active(&history)
        .iter()
        .map(|e| event_view(e, now))
        .collect();
    let mut ctx = render::context(Some(&user), "Active alerts");
    ctx.insert("events", &active);
    Ok(render::render("alerts_active.html", &ctx)?.into_response())
}

#[derive(Deserialize, Default)]
pub struct HistoryParams {
    #[serde(default)]
    level: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    task: String,
    from: Option<String>,
    to: Option<String>,
}

pub fn parse_level(s: &str) -> Option<alerter::alert::Level> {
    use alerter::alert::Level as L;
    [L::Ok, L::Info, L::Warning, L::Critical]
        .into_iter()
        .find(|l| l.as_str().eq_ignore_ascii_case(s))
}

pub async fn history_page(
    State(state): State<UiState>,
    user: CurrentUser,
    Query(p): Query<HistoryParams>,
) -> Result<Response> {
    let Ok(alerts) = state.alerts() else {
        return off_page(&user, "Alert history");
    };
    let now = now_ns();
    let range = TimeRange::parse(
        &RangeParams {
            from: p.from.clone().or_else(|| Some("now-24h".into())),
            to: p.to.clone(),
            refresh: None,
        },
        now,
    )?;
    let level = match p.level.as_str() {
        "" => None,
        l => Some(parse_level(l).ok_or_else(|| UiError::BadRequest("unknown level".into()))?),
    };
    let host = p.host.trim();
    let task = p.task.trim();
    let events = alerts
        .history(HistoryQuery {
            task: (!task.is_empty()).then(|| task.to_string()),
            level,
            tag: (!host.is_empty()).then(|| ("host".to_string(), host.to_string())),
            from_ns: Some(range.from_ns),
            to_ns: Some(range.to_ns),
            limit: 500,
        })
        .await?;
    let views: Vec<EventView> = events.iter().map(|e| event_view(e, now)).collect();
    let mut ctx = render::context(Some(&user), "Alert history");
    ctx.insert("events", &views);
    ctx.insert("level", &p.level);
    ctx.insert("host", host);
    ctx.insert("task", task);
    ctx.insert("from", &range.from);
    ctx.insert("to", &range.to);
    ctx.insert("levels", &["OK", "INFO", "WARNING", "CRITICAL"]);
    Ok(render::render("alert_history.html", &ctx)?.into_response())
}

/// Alert events in `from..to` as chart annotations, for a host's charts or (host `None`)
/// every chart. Empty when alerting is off or the history cannot be read: annotations
/// are extra, never a reason for a chart to fail.
pub async fn annotations(
    state: &UiState,
    from_ns: i64,
    to_ns: i64,
    host: Option<&str>,
) -> Vec<crate::chart::Annotation> {
    let Ok(alerts) = state.alerts() else {
        return Vec::new();
    };
    let q = HistoryQuery {
        tag: host.map(|h| ("host".to_string(), h.to_string())),
        from_ns: Some(from_ns),
        to_ns: Some(to_ns),
        limit: 200,
        ..HistoryQuery::default()
    };
    let events = alerts.history(q).await.unwrap_or_default();
    events
        .iter()
        .map(|e| crate::chart::Annotation {
            at_ns: e.time,
            text: format!("{} {} {}", e.task, e.level, e.id),
            level: match e.level {
                alerter::alert::Level::Critical => crate::chart::Level::Crit,
                alerter::alert::Level::Warning | alerter::alert::Level::Info => {
                    crate::chart::Level::Warn
                }
                alerter::alert::Level::Ok => crate::chart::Level::Ok,
            },
        })
        .collect()
}
