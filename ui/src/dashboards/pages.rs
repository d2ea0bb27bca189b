//! Dashboard routes. Viewers read; editors create, change, import and delete.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::panel::{self, PanelForm, PanelView};
use super::{Dashboard, FORMAT_VERSION, MAX_PANELS, Panel};
use crate::error::{Result, UiError};
use crate::render;
use crate::session::{CurrentUser, Role};
use crate::state::{UiState, now_ns};
use crate::timerange::{RangeParams, TimeRange};
use crate::units::format_time;
use crate::web::url_encode;

fn checked_uid(uid: &str) -> Result<String> {
    if super::valid_uid(uid) {
        Ok(uid.to_string())
    } else {
        Err(UiError::NotFound)
    }
}

async fn load(state: &UiState, uid: &str) -> Result<Dashboard> {
    let uid = checked_uid(uid)?;
    if let Some(d) = state.provisioned(&uid) {
        return Ok(d.clone());
    }
    state.ui_db().call(move |c| super::load(c, &uid)).await
}

/// Refuses changes to a dashboard provisioned from a file.
fn writable(state: &UiState, uid: &str) -> Result<()> {
    if state.provisioned(uid).is_some() {
        return Err(UiError::Forbidden(
            "this dashboard is provisioned from a file and read-only: duplicate it to change a copy"
                .into(),
        ));
    }
    Ok(())
}

/// Reads, changes and writes a dashboard under the database lock, so two editors'
/// changes are applied one after the other rather than one lost.
async fn update<T: Send + 'static>(
    state: &UiState,
    uid: &str,
    f: impl FnOnce(&mut Dashboard) -> Result<T> + Send + 'static,
) -> Result<T> {
    let uid = checked_uid(uid)?;
    writable(state, &uid)?;
    state
        .ui_db()
        .call(move |c| {
            let tx = c.transaction()?;
            let mut d = super::load(&tx, &uid)?;
            let out = f(&mut d)?;
            super::save(&tx, &d)?;
            tx.commit()?;
            Ok(out)
        })
        .await
}

fn see(path: &str) -> Response {
    Redirect::to(path).into_response()
}

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
}

pub async fn list(
    State(state): State<UiState>,
    user: CurrentUser,
    Query(s): Query<Search>,
) -> Result<Html<String>> {
    let mut all = state.ui_db().call(|c| super::list(c)).await?;
    // A file's dashboard shadows a stored one with its uid, as `load` does.
    all.retain(|d| state.provisioned(&d.uid).is_none());
    all.extend(state.all_provisioned().iter().map(|d| super::Summary {
        uid: d.uid.clone(),
        title: d.title.clone(),
        panels: d.panels.len(),
        updated: 0,
        provisioned: true,
    }));
    all.sort_by_key(|d| d.title.to_lowercase());
    let total = all.len();
    let needle = s.q.trim().to_lowercase();
    all.retain(|d| needle.is_empty() || d.title.to_lowercase().contains(&needle));
    #[derive(serde::Serialize)]
    struct Row {
        uid: String,
        title: String,
        panels: usize,
        updated: String,
        provisioned: bool,
    }
    let rows: Vec<Row> = all
        .into_iter()
        .map(|d| Row {
            updated: if d.provisioned {
                String::new()
            } else {
                format_time(d.updated.saturating_mul(1_000_000_000))
            },
            provisioned: d.provisioned,
            uid: d.uid,
            title: d.title,
            panels: d.panels,
        })
        .collect();
    let mut ctx = render::context(Some(&user), "Dashboards");
    ctx.insert("dashboards", &rows);
    ctx.insert("total", &total);
    ctx.insert("q", &s.q);
    render::render("dashboards.html", &ctx)
}

#[derive(Deserialize)]
pub struct TitleForm {
    title: String,
}

pub async fn create(
    State(state): State<UiState>,
    user: CurrentUser,
    Form(f): Form<TitleForm>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    let d = Dashboard {
        tigk_dashboard: FORMAT_VERSION,
        uid: super::new_uid(),
        title: f.title.trim().to_string(),
        panels: Vec::new(),
    };
    d.validate()?;
    let uid = d.uid.clone();
    state.ui_db().call(move |c| super::save(c, &d)).await?;
    tracing::info!(by = %user.name, %uid, "dashboard created");
    Ok(see(&format!("/d/{uid}")))
}

#[derive(Deserialize, Default)]
pub struct VarParams {
    #[serde(rename = "var-host")]
    host: Option<String>,
}

/// Hosts for the `$host` variable, from the agents' cpu measurement.
async fn known_hosts(state: &UiState) -> Vec<String> {
    let Ok(series) = state
        .query("SHOW TAG VALUES FROM cpu WITH KEY = host")
        .await
    else {
        return Vec::new();
    };
    series
        .iter()
        .flat_map(|s| s.values.iter())
        .filter_map(|row| match row.get(1) {
            Some(tsdb::query::Cell::String(h)) => Some(h.clone()),
            _ => None,
        })
        .collect()
}

/// Whether the panels use `$host`, the hosts to pick from, and the one bound.
async fn bind_host(
    state: &UiState,
    panels: &[Panel],
    vars: VarParams,
) -> (bool, Vec<String>, Option<String>) {
    let uses_host = serde_json::to_string(panels)
        .map(|j| j.contains(panel::HOST_VAR))
        .unwrap_or(false);
    let hosts = if uses_host {
        known_hosts(state).await
    } else {
        Vec::new()
    };
    // Only a host the store knows can be bound: whatever else the URL says is ignored.
    let host = vars
        .host
        .filter(|h| hosts.contains(h))
        .or_else(|| hosts.first().cloned());
    (uses_host, hosts, host)
}

/// One panel's body alone, for the script's per-panel refresh.
pub async fn panel_fragment(
    State(state): State<UiState>,
    user: CurrentUser,
    Path((uid, idx)): Path<(String, usize)>,
    Query(rp): Query<RangeParams>,
    Query(vars): Query<VarParams>,
) -> Result<Html<String>> {
    let d = load(&state, &uid).await?;
    let p = d.panels.get(idx).ok_or(UiError::NotFound)?;
    let range = TimeRange::parse(&rp, now_ns())?;
    let (_, _, host) = bind_host(&state, std::slice::from_ref(p), vars).await;
    let notes =
        crate::alerts::annotations(&state, range.from_ns, range.to_ns, host.as_deref()).await;
    let view = panel::run(&state, p, idx, &range, user.theme, host.as_deref(), &notes).await;
    let mut ctx = render::context(Some(&user), &p.title);
    ctx.insert("p", &view);
    render::render("panel_body.html", &ctx)
}

pub async fn view(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(uid): Path<String>,
    Query(rp): Query<RangeParams>,
    Query(vars): Query<VarParams>,
) -> Result<Html<String>> {
    let d = load(&state, &uid).await?;
    let range = TimeRange::parse(&rp, now_ns())?;
    let (uses_host, hosts, host) = bind_host(&state, &d.panels, vars).await;
    // Alert events of the range (of the bound host, if any) on every time-series panel.
    let notes = std::sync::Arc::new(
        crate::alerts::annotations(&state, range.from_ns, range.to_ns, host.as_deref()).await,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for (i, p) in d.panels.iter().enumerate() {
        let (state, p, range, theme) = (state.clone(), p.clone(), range.clone(), user.theme);
        let (host, notes) = (host.clone(), notes.clone());
        tasks.spawn(async move {
            panel::run(&state, &p, i, &range, theme, host.as_deref(), &notes).await
        });
    }
    let mut panels: Vec<PanelView> = Vec::with_capacity(d.panels.len());
    while let Some(done) = tasks.join_next().await {
        panels.push(done?);
    }
    panels.sort_by_key(|p| p.index);
    let base = format!("/d/{}", d.uid);
    let mut ctx = render::context(Some(&user), &d.title);
    ctx.insert("d", &d);
    ctx.insert("panels", &panels);
    let var_query = host
        .as_deref()
        .map(|h| format!("var-host={}", url_encode(h)))
        .unwrap_or_default();
    ctx.insert("range", &range.view(&base, &var_query));
    ctx.insert("range_query", &range.query());
    ctx.insert(
        "panel_query",
        &[range.query(), var_query.clone()]
            .into_iter()
            .filter(|q| !q.is_empty())
            .collect::<Vec<_>>()
            .join("&"),
    );
    ctx.insert("can_add", &(d.panels.len() < MAX_PANELS));
    ctx.insert("read_only", &state.provisioned(&d.uid).is_some());
    ctx.insert("uses_host", &uses_host);
    ctx.insert("hosts", &hosts);
    ctx.insert("host", &host);
    render::render("dashboard.html", &ctx)
}

pub async fn rename(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(uid): Path<String>,
    Form(f): Form<TitleForm>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    let title = f.title.trim().to_string();
    super::check_title(&title)?;
    update(&state, &uid, move |d| {
        d.title = title;
        Ok(())
    })
    .await?;
    Ok(see(&format!("/d/{uid}")))
}

pub async fn duplicate(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(uid): Path<String>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    let mut d = load(&state, &uid).await?;
    d.uid = super::new_uid();
    d.title = format!("Copy of {}", d.title).chars().take(200).collect();
    let new = d.uid.clone();
    state.ui_db().call(move |c| super::save(c, &d)).await?;
    Ok(see(&format!("/d/{new}")))
}

/// Asks before deleting: the dashboard's Delete is a link here, and only this page's form
/// posts.
pub async fn delete_form(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(uid): Path<String>,
) -> Result<Html<String>> {
    user.require(Role::Editor)?;
    let uid = checked_uid(&uid)?;
    writable(&state, &uid)?;
    let d = load(&state, &uid).await?;
    let mut ctx = render::context(Some(&user), "Delete dashboard");
    ctx.insert("d", &d);
    render::render("dashboard_delete.html", &ctx)
}

pub async fn delete(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(uid): Path<String>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    let uid = checked_uid(&uid)?;
    writable(&state, &uid)?;
    let gone = uid.clone();
    state.ui_db().call(move |c| super::delete(c, &gone)).await?;
    tracing::info!(by = %user.name, %uid, "dashboard deleted");
    Ok(see("/dashboards"))
}

pub async fn export(
    State(state): State<UiState>,
    _user: CurrentUser,
    Path(uid): Path<String>,
) -> Result<Response> {
    let mut d = load(&state, &uid).await?;
    d.tigk_dashboard = FORMAT_VERSION;
    let json = serde_json::to_string_pretty(&d).map_err(|e| UiError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                // The uid is [A-Za-z0-9_-] only, so it is safe inside the quotes.
                format!("attachment; filename=\"dashboard-{}.json\"", d.uid),
            ),
        ],
        json,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ImportForm {
    json: String,
}

pub async fn import(
    State(state): State<UiState>,
    user: CurrentUser,
    Form(f): Form<ImportForm>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    let mut d: Dashboard = serde_json::from_str(&f.json)
        .map_err(|e| UiError::BadRequest(format!("not a tigk dashboard: {e}")))?;
    if d.tigk_dashboard != FORMAT_VERSION {
        return Err(UiError::BadRequest(format!(
            "not a tigk dashboard export (expected \"tigk_dashboard\": {FORMAT_VERSION})"
        )));
    }
    d.validate()?;
    // A file's uid is taken too: a stored copy under it would be hidden by the file's.
    let file_uid = state.provisioned(&d.uid).is_some();
    let uid = state
        .ui_db()
        .call(move |c| {
            // Keep the exported uid so links survive a move between servers, unless it is
            // taken here; then the import is a new dashboard.
            if file_uid || !super::valid_uid(&d.uid) || super::uid_taken(c, &d.uid)? {
                d.uid = super::new_uid();
            }
            super::save(c, &d)?;
            Ok(d.uid)
        })
        .await?;
    tracing::info!(by = %user.name, %uid, "dashboard imported");
    Ok(see(&format!("/d/{uid}")))
}

/// `new` or a panel's position.
fn panel_index(idx: &str, d: &Dashboard) -> Result<Option<usize>> {
    if idx == "new" {
        if d.panels.len() >= MAX_PANELS {
            return Err(UiError::BadRequest(format!(
                "a dashboard holds at most {MAX_PANELS} panels"
            )));
        }
        return Ok(None);
    }
    match idx.parse::<usize>() {
        Ok(i) if i < d.panels.len() => Ok(Some(i)),
        _ => Err(UiError::NotFound),
    }
}

fn new_panel() -> Panel {
    let mut p = super::agent_overview().panels.remove(0);
    p.title = "New panel".into();
    p
}

/// What the editor page shows besides its preview or error.
struct Editing<'a> {
    d: &'a Dashboard,
    idx: &'a str,
    form: &'a PanelForm,
    range: &'a TimeRange,
}

async fn editor_page(
    state: &UiState,
    user: &CurrentUser,
    e: Editing<'_>,
    preview: Option<PanelView>,
    error: Option<String>,
) -> Result<Response> {
    let Editing {
        d,
        idx,
        form,
        range,
    } = e;
    // Measurement names for the builder's datalist; a failure only loses the hints.
    let measurements: Vec<String> = state
        .query("SHOW MEASUREMENTS")
        .await
        .map(|s| {
            s.iter()
                .flat_map(|r| r.values.iter())
                .filter_map(|row| match row.first() {
                    Some(tsdb::query::Cell::String(m)) => Some(m.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ctx = render::context(Some(user), "Edit panel");
    ctx.insert("d", d);
    ctx.insert("idx", idx);
    ctx.insert("f", form);
    ctx.insert("choices", &panel::choices());
    ctx.insert("measurements", &measurements);
    ctx.insert("preview", &preview);
    ctx.insert("error", &error);
    ctx.insert("range_query", &range.query());
    ctx.insert("from", &range.from);
    ctx.insert("to", &range.to);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, render::render("panel_edit.html", &ctx)?).into_response())
}

pub async fn edit_form(
    State(state): State<UiState>,
    user: CurrentUser,
    Path((uid, idx)): Path<(String, String)>,
    Query(rp): Query<RangeParams>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    writable(&state, &uid)?;
    let d = load(&state, &uid).await?;
    let range = TimeRange::parse(&rp, now_ns())?;
    let p = match panel_index(&idx, &d)? {
        Some(i) => d.panels[i].clone(),
        None => new_panel(),
    };
    let preview = panel::run(&state, &p, 0, &range, user.theme, None, &[]).await;
    let form = PanelForm::from_panel(&p);
    editor_page(
        &state,
        &user,
        Editing {
            d: &d,
            idx: &idx,
            form: &form,
            range: &range,
        },
        Some(preview),
        None,
    )
    .await
}

pub async fn edit_submit(
    State(state): State<UiState>,
    user: CurrentUser,
    Path((uid, idx)): Path<(String, String)>,
    Form(f): Form<PanelForm>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    writable(&state, &uid)?;
    let d = load(&state, &uid).await?;
    let slot = panel_index(&idx, &d)?;
    // The form carries the range it was opened with, to come back to the same view.
    let range = TimeRange::parse(
        &RangeParams {
            from: Some(f.from.clone()),
            to: Some(f.to.clone()),
            refresh: None,
        },
        now_ns(),
    )?;
    let p = match f.to_panel() {
        Ok(p) => p,
        Err(UiError::BadRequest(msg)) => {
            return editor_page(
                &state,
                &user,
                Editing {
                    d: &d,
                    idx: &idx,
                    form: &f,
                    range: &range,
                },
                None,
                Some(msg),
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    if f.action == "preview" {
        let preview = panel::run(&state, &p, 0, &range, user.theme, None, &[]).await;
        return editor_page(
            &state,
            &user,
            Editing {
                d: &d,
                idx: &idx,
                form: &f,
                range: &range,
            },
            Some(preview),
            None,
        )
        .await;
    }
    update(&state, &uid, move |d| {
        match slot {
            Some(i) if i < d.panels.len() => d.panels[i] = p,
            Some(_) => return Err(UiError::NotFound),
            None if d.panels.len() < MAX_PANELS => d.panels.push(p),
            None => return Err(UiError::BadRequest("the dashboard is full".into())),
        }
        Ok(())
    })
    .await?;
    tracing::info!(by = %user.name, %uid, panel = %idx, "dashboard panel saved");
    Ok(see(&format!("/d/{uid}")))
}

pub async fn delete_panel(
    State(state): State<UiState>,
    user: CurrentUser,
    Path((uid, idx)): Path<(String, usize)>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    update(&state, &uid, move |d| {
        if idx >= d.panels.len() {
            return Err(UiError::NotFound);
        }
        d.panels.remove(idx);
        Ok(())
    })
    .await?;
    Ok(see(&format!("/d/{uid}")))
}

#[derive(Deserialize)]
pub struct MoveForm {
    dir: String,
}

pub async fn move_panel(
    State(state): State<UiState>,
    user: CurrentUser,
    Path((uid, idx)): Path<(String, usize)>,
    Form(f): Form<MoveForm>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    update(&state, &uid, move |d| {
        let other = match f.dir.as_str() {
            "up" => idx.checked_sub(1),
            _ => idx.checked_add(1),
        };
        match other {
            Some(o) if o < d.panels.len() && idx < d.panels.len() => d.panels.swap(idx, o),
            _ => {}
        }
        Ok(())
    })
    .await?;
    Ok(see(&format!("/d/{}", url_encode(&uid))))
}
