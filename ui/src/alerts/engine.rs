//! [`AlertBackend`] for the alerter's engine.

use alerter::alert::{AlertEvent, Cell, Level, Series};
use alerter::engine::{Delivery, Engine, HistoryEvent, HistoryQuery, Status, TaskRequest};
use alerter::tick::{self, CheckOptions, TaskType};

use super::{AlertBackend, ScriptError, TaskDetail, TaskSummary};
use crate::error::{Result, UiError};
use crate::state::BoxFuture;

/// Script problems are the user's to fix and shown with their position; the rest are ours.
fn map_err(e: alerter::Error) -> UiError {
    use alerter::Error as E;
    match e {
        E::Tick(t) => UiError::Script(ScriptError {
            message: t.message,
            line: t.pos.map(|p| p.line),
            column: t.pos.map(|p| p.char),
        }),
        E::Unsupported(m) | E::Invalid(m) | E::Template(m) | E::Input(m) => {
            UiError::Script(ScriptError {
                message: m,
                line: None,
                column: None,
            })
        }
        E::NotFound(_) => UiError::NotFound,
        other => UiError::Internal(format!("alerter: {other}")),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, alerter::Error> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await?.map_err(map_err)
}

fn summary(i: &alerter::engine::TaskInfo) -> TaskSummary {
    TaskSummary {
        id: i.def.id.clone(),
        enabled: i.def.status == Status::Enabled,
        executing: i.executing,
        error: i.error.clone(),
        script: i.def.script.clone(),
        modified: i.def.modified,
    }
}

/// An event as the history shows it (test runs are never delivered).
fn to_history(e: AlertEvent) -> HistoryEvent {
    let value = e.data.rows.last().and_then(|(_, cells)| {
        let num = |c: &Cell| match c {
            Cell::Float(f) => Some(*f),
            Cell::Int(i) => Some(*i as f64),
            _ => None,
        };
        e.data
            .columns
            .iter()
            .position(|c| c == "value")
            .and_then(|i| cells.get(i))
            .and_then(num)
            .or_else(|| cells.iter().find_map(num))
    });
    HistoryEvent {
        task: e.task,
        node: e.node,
        id: e.id,
        level: e.level,
        previous_level: e.previous_level,
        time: e.time,
        duration: e.duration,
        message: e.message,
        tags: e.data.tags,
        value,
        delivery: Delivery::Pending,
    }
}

fn compile_task(
    name: &str,
    script: &str,
    opts: &alerter::Options,
) -> std::result::Result<alerter::runtime::Task, alerter::Error> {
    let graph = tick::compile(script, &CheckOptions::strict())?;
    alerter::runtime::Task::new(name, graph, opts)
}

impl AlertBackend for Engine {
    fn list(&self) -> BoxFuture<'_, Result<Vec<TaskSummary>>> {
        let e = self.clone();
        Box::pin(blocking(move || Ok(e.list().iter().map(summary).collect())))
    }

    fn show<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<TaskDetail>> {
        let (e, id) = (self.clone(), id.to_string());
        Box::pin(blocking(move || {
            let i = e.show(&id)?;
            Ok(TaskDetail {
                summary: summary(&i),
                task_type: i.def.task_type.as_str().to_string(),
                dot: i.dot,
                node_stats: i.node_stats,
            })
        }))
    }

    fn save<'a>(&'a self, id: &'a str, script: &'a str, create: bool) -> BoxFuture<'a, Result<()>> {
        let (e, id, script) = (self.clone(), id.to_string(), script.to_string());
        Box::pin(blocking(move || {
            if create {
                e.define(TaskRequest {
                    id: Some(id),
                    script: Some(script),
                    status: Some(Status::Enabled),
                    ..TaskRequest::default()
                })?;
                return Ok(());
            }
            let info = e.update(
                &id,
                TaskRequest {
                    script: Some(script),
                    ..TaskRequest::default()
                },
            )?;
            // Kapacitor applies a new script at the next enable; the UI's "save" means now.
            if info.def.status == Status::Enabled {
                e.disable(&id)?;
                e.enable(&id)?;
            }
            Ok(())
        }))
    }

    fn set_enabled<'a>(&'a self, id: &'a str, enabled: bool) -> BoxFuture<'a, Result<()>> {
        let (e, id) = (self.clone(), id.to_string());
        Box::pin(blocking(move || {
            if enabled {
                e.enable(&id)
            } else {
                e.disable(&id)
            }
        }))
    }

    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
        let (e, id) = (self.clone(), id.to_string());
        Box::pin(blocking(move || e.delete(&id)))
    }

    fn check(&self, script: &str) -> Result<()> {
        compile_task("check", script, self.options())
            .map(|_| ())
            .map_err(map_err)
    }

    fn test_run(
        &self,
        name: String,
        script: String,
        mut points: Vec<common::Point>,
        until_ns: i64,
    ) -> BoxFuture<'_, Result<Vec<HistoryEvent>>> {
        Box::pin(blocking(move || {
            let opts = alerter::Options {
                skip_handler_checks: true,
                ..alerter::Options::default()
            };
            let mut task = compile_task(&name, &script, &opts)?;
            if task.graph().task_type != TaskType::Stream {
                return Err(alerter::Error::Unsupported(
                    "the preview runs stream tasks only".into(),
                ));
            }
            let Some(dbrp) = task.graph().dbrps.first().cloned() else {
                return Err(alerter::Error::Invalid("must specify dbrp".into()));
            };
            points.sort_by_key(|p| p.timestamp);
            let mut events = Vec::new();
            for p in &points {
                // Clocked nodes (deadman, stats) run on data time, as in `tigk task test`.
                if let Some(t) = p.timestamp {
                    events.extend(task.tick(t, false));
                }
                events.extend(task.push_point(&dbrp.db, &dbrp.rp, p));
                // A preview writes and posts nothing.
                task.take_writes();
                task.take_posts();
            }
            // The silence after the last point counts too (deadman).
            events.extend(task.tick(until_ns, false));
            Ok(events.into_iter().map(to_history).collect())
        }))
    }

    fn send_test(&self, script: String) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move {
            let opts = self.options().clone();
            let task = compile_task("test", &script, &opts).map_err(map_err)?;
            let now = crate::state::now_ns();
            let mut out = Vec::new();
            for (node, specs) in task.handlers() {
                let ev = AlertEvent {
                    task: "test".into(),
                    node: node.clone(),
                    id: "tigk-test".into(),
                    message: "Test alert sent from the tigk web UI".into(),
                    details: String::new(),
                    time: now,
                    duration: 0,
                    level: Level::Critical,
                    previous_level: Level::Ok,
                    recoverable: true,
                    data: Series {
                        name: "test".into(),
                        tags: Default::default(),
                        columns: Vec::new(),
                        rows: Vec::new(),
                    },
                };
                let json = ev.to_json();
                for spec in specs {
                    let what = handler_name(&spec);
                    match alerter::alert::handlers::deliver_once(&spec, &json, &opts).await {
                        Ok(()) => out.push(format!("{what}: sent")),
                        Err(e) => out.push(format!("{what}: failed: {e}")),
                    }
                }
            }
            Ok(out)
        })
    }

    fn history(&self, q: HistoryQuery) -> BoxFuture<'_, Result<Vec<HistoryEvent>>> {
        let e = self.clone();
        Box::pin(blocking(move || e.history(&q)))
    }

    fn log_dir(&self) -> Option<String> {
        self.options()
            .alert_dir
            .as_ref()
            .map(|d| d.to_string_lossy().into_owned())
    }
}

fn handler_name(spec: &alerter::alert::handlers::HandlerSpec) -> String {
    use alerter::alert::handlers::HandlerSpec as H;
    match spec {
        H::Log { path, .. } => format!("log {}", path.display()),
        H::Post { url, .. } => format!("post {url}"),
        H::Tcp { host, port } => format!("tcp {host}:{port}"),
        H::Exec { program, .. } => format!("exec {}", program.display()),
        H::Email { to } => format!("email {}", to.join(", ")),
        H::Slack { channel, .. } => format!("slack {channel}"),
        #[allow(unreachable_patterns)]
        _ => "handler".into(),
    }
}
