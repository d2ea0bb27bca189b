//! Kapacitor's task API (`/kapacitor/v1/tasks...` and `/kapacitor/v1/templates...`)
//! over an [`Engine`], as an axum router for the server to mount.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::alert::Level;
use crate::engine::{
    Engine, Status, TaskInfo, TaskRequest, TemplateInfo, TemplateRequest, Topic, TopicEvent,
    var_json,
};
use crate::error::Error;
use crate::gofmt::rfc3339;

/// The task API routes, under `/kapacitor/v1`.
pub fn router(engine: Engine) -> Router {
    Router::new()
        .route("/kapacitor/v1/tasks", get(list).post(create))
        .route(
            "/kapacitor/v1/tasks/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/kapacitor/v1/tasks/{id}/{name}", get(http_out))
        .route(
            "/kapacitor/v1/templates",
            get(list_templates).post(create_template),
        )
        .route(
            "/kapacitor/v1/templates/{id}",
            get(show_template)
                .patch(update_template)
                .delete(remove_template),
        )
        .route("/kapacitor/v1/alerts/topics", get(list_topics))
        .route("/kapacitor/v1/alerts/topics/{id}", get(show_topic))
        .route("/kapacitor/v1/alerts/topics/{id}/events", get(topic_events))
        .route(
            "/kapacitor/v1/alerts/topics/{id}/events/{event}",
            get(topic_event),
        )
        .with_state(engine)
}

fn error(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    (status, axum::Json(json!({ "error": msg.to_string() }))).into_response()
}

fn from_error(e: Error) -> Response {
    match e {
        Error::NotFound(what) if what.starts_with("template ") => {
            error(StatusCode::NOT_FOUND, "no template exists")
        }
        Error::NotFound(what) if what.starts_with("topic ") => {
            error(StatusCode::NOT_FOUND, format!("failed to get {what}"))
        }
        Error::NotFound(_) => error(StatusCode::NOT_FOUND, "no task exists"),
        Error::Tick(t) => error(StatusCode::BAD_REQUEST, format!("invalid TICKscript: {t}")),
        Error::Unsupported(_) | Error::Invalid(_) => error(StatusCode::BAD_REQUEST, e),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, other),
    }
}

fn task_json(t: &TaskInfo) -> Value {
    let d = &t.def;
    let dbrps: Vec<Value> = d
        .dbrps
        .iter()
        .map(|x| json!({"db": x.db, "rp": x.rp}))
        .collect();
    let node_stats: BTreeMap<&String, &BTreeMap<String, i64>> = t.node_stats.iter().collect();
    let mut v = json!({
        "link": {"rel": "self", "href": format!("/kapacitor/v1/tasks/{}", d.id)},
        "id": d.id,
        "template-id": d.template_id,
        "type": d.task_type.as_str(),
        "dbrps": dbrps,
        "script": d.script,
        "vars": d.vars,
        "dot": t.dot,
        "status": match d.status { Status::Enabled => "enabled", Status::Disabled => "disabled" },
        "executing": t.executing,
        "error": t.error,
        "stats": {
            "task-stats": {"throughput": 0.0},
            "node-stats": node_stats,
        },
        "created": rfc3339(d.created),
        "modified": rfc3339(d.modified),
        "last-enabled": if d.last_enabled == 0 { "0001-01-01T00:00:00Z".to_string() } else { rfc3339(d.last_enabled) },
    });
    // Only when several instances share the tasks: Kapacitor has no such field.
    if let (Some(owner), Some(obj)) = (&t.runs_on, v.as_object_mut()) {
        obj.insert("runs-on".into(), json!(owner));
    }
    v
}

fn parse(body: &[u8]) -> Result<TaskRequest, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

// Engine calls take std locks and touch SQLite briefly; they run on a blocking thread
// so that a slow disk never stalls the server's async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(from_error),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

/// Kapacitor's `pattern` filter: a glob where `*` matches any run of characters.
fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || !s[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

async fn list(
    State(engine): State<Engine>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let pattern = params.get("pattern").cloned().unwrap_or_default();
    match blocking(move || Ok(engine.list())).await {
        Ok(tasks) => {
            let tasks: Vec<Value> = tasks
                .iter()
                .filter(|t| pattern.is_empty() || glob(&pattern, &t.def.id))
                .map(task_json)
                .collect();
            axum::Json(json!({ "tasks": tasks })).into_response()
        }
        Err(r) => r,
    }
}

async fn create(State(engine): State<Engine>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match blocking(move || engine.define(req)).await {
        Ok(t) => axum::Json(task_json(&t)).into_response(),
        Err(r) => r,
    }
}

async fn show(State(engine): State<Engine>, Path(id): Path<String>) -> Response {
    match blocking(move || engine.show(&id)).await {
        Ok(t) => axum::Json(task_json(&t)).into_response(),
        Err(r) => r,
    }
}

async fn update(State(engine): State<Engine>, Path(id): Path<String>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match blocking(move || engine.update(&id, req)).await {
        Ok(t) => axum::Json(task_json(&t)).into_response(),
        Err(r) => r,
    }
}

async fn http_out(
    State(engine): State<Engine>,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    match blocking(move || engine.http_out(&id, &name)).await {
        Ok(json) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Err(r) => r,
    }
}

async fn remove(State(engine): State<Engine>, Path(id): Path<String>) -> Response {
    match blocking(move || engine.delete(&id)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

fn template_json(t: &TemplateInfo) -> Value {
    let d = &t.def;
    let vars: serde_json::Map<String, Value> = t
        .vars
        .iter()
        .map(|v| {
            (
                v.name.clone(),
                json!({"type": v.type_name, "value": var_json(v.value.as_ref()), "description": ""}),
            )
        })
        .collect();
    let tasks: Vec<Value> = t
        .tasks
        .iter()
        .map(|id| json!({"link": {"rel": "self", "href": format!("/kapacitor/v1/tasks/{id}")}, "id": id}))
        .collect();
    json!({
        "link": {"rel": "self", "href": format!("/kapacitor/v1/templates/{}", d.id)},
        "id": d.id,
        "type": d.task_type.as_str(),
        "script": d.script,
        "vars": vars,
        "dot": t.dot,
        "error": "",
        "created": rfc3339(d.created),
        "modified": rfc3339(d.modified),
        "tasks": tasks,
    })
}

fn parse_template(body: &[u8]) -> Result<TemplateRequest, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

async fn list_templates(
    State(engine): State<Engine>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let pattern = params.get("pattern").cloned().unwrap_or_default();
    match blocking(move || engine.templates()).await {
        Ok(list) => {
            let templates: Vec<Value> = list
                .iter()
                .filter(|t| pattern.is_empty() || glob(&pattern, &t.def.id))
                .map(template_json)
                .collect();
            axum::Json(json!({ "templates": templates })).into_response()
        }
        Err(r) => r,
    }
}

async fn create_template(State(engine): State<Engine>, body: Bytes) -> Response {
    let req = match parse_template(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match blocking(move || engine.define_template(req)).await {
        Ok(t) => axum::Json(template_json(&t)).into_response(),
        Err(r) => r,
    }
}

async fn show_template(State(engine): State<Engine>, Path(id): Path<String>) -> Response {
    match blocking(move || engine.template(&id)).await {
        Ok(t) => axum::Json(template_json(&t)).into_response(),
        Err(r) => r,
    }
}

async fn update_template(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let req = match parse_template(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match blocking(move || engine.update_template(&id, req)).await {
        Ok(t) => axum::Json(template_json(&t)).into_response(),
        Err(r) => r,
    }
}

async fn remove_template(State(engine): State<Engine>, Path(id): Path<String>) -> Response {
    match blocking(move || engine.delete_template(&id)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

const TOPICS: &str = "/kapacitor/v1/alerts/topics";

fn topic_json(t: &Topic) -> Value {
    let href = format!("{TOPICS}/{}", t.id);
    json!({
        "link": {"rel": "self", "href": href},
        "id": t.id,
        "level": t.level.as_str(),
        "collected": t.collected,
        "events-link": {"rel": "events", "href": format!("{href}/events")},
        "handlers-link": {"rel": "handlers", "href": format!("{href}/handlers")},
    })
}

fn event_json(topic: &str, e: &TopicEvent) -> Value {
    json!({
        "link": {"rel": "self", "href": format!("{TOPICS}/{topic}/events/{}", e.id)},
        "id": e.id,
        "state": {
            "level": e.level.as_str(),
            "message": e.message,
            "details": e.details,
            "time": rfc3339(e.time),
            "duration": crate::tick::functions::format_duration(e.duration),
        },
    })
}

/// `?min-level=WARNING`: only what is at least that level.
fn min_level(params: &BTreeMap<String, String>) -> Result<Level, String> {
    match params.get("min-level") {
        None => Ok(Level::Ok),
        Some(s) => Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("invalid min-level {s:?}")),
    }
}

async fn list_topics(
    State(engine): State<Engine>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let min = match min_level(&params) {
        Ok(l) => l,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let pattern = params.get("pattern").cloned().unwrap_or_default();
    match blocking(move || engine.topics()).await {
        Ok(list) => {
            let topics: Vec<Value> = list
                .iter()
                .filter(|t| t.level >= min && (pattern.is_empty() || glob(&pattern, &t.id)))
                .map(topic_json)
                .collect();
            axum::Json(json!({"link": {"rel": "self", "href": TOPICS}, "topics": topics}))
                .into_response()
        }
        Err(r) => r,
    }
}

async fn show_topic(State(engine): State<Engine>, Path(id): Path<String>) -> Response {
    match blocking(move || engine.topic(&id)).await {
        Ok(t) => axum::Json(topic_json(&t)).into_response(),
        Err(r) => r,
    }
}

async fn topic_events(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let min = match min_level(&params) {
        Ok(l) => l,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match blocking(move || engine.topic(&id)).await {
        Ok(t) => {
            let events: Vec<Value> = t
                .events
                .iter()
                .filter(|e| e.level >= min)
                .map(|e| event_json(&t.id, e))
                .collect();
            axum::Json(json!({
                "link": {"rel": "self", "href": format!("{TOPICS}/{}/events", t.id)},
                "topic": t.id,
                "events": events,
            }))
            .into_response()
        }
        Err(r) => r,
    }
}

async fn topic_event(
    State(engine): State<Engine>,
    Path((id, event)): Path<(String, String)>,
) -> Response {
    match blocking(move || engine.topic(&id)).await {
        Ok(t) => match t.events.iter().find(|e| e.id == event) {
            Some(e) => axum::Json(event_json(&t.id, e)).into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                format!("failed to get event {event} in topic {}", t.id),
            ),
        },
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob() {
        use super::glob;
        assert!(glob("cpu*", "cpu_alert"));
        assert!(glob("*alert", "cpu_alert"));
        assert!(glob("c*_*t", "cpu_alert"));
        assert!(!glob("mem*", "cpu_alert"));
        assert!(glob("cpu_alert", "cpu_alert"));
        assert!(!glob("cpu*alert*x", "cpu_alert"));
        assert!(!glob("ab*ba", "aba"));
    }
}
