//! Task management: the [`Engine`] owns task definitions and running tasks, persists
//! them with their state in `alerter.db` (module `db`), and runs them (module `run`):
//! stream tasks follow the store's write log, batch tasks their schedule. Alert events
//! go through an outbox so that a crash neither loses nor repeats a delivery.
//!
//! Restart safety: each processing step commits the task's node state, the write-log
//! sequence it reached and the step's events in one transaction. On start a task
//! restores that state and replays the log after that sequence; replayed events have
//! the same deterministic keys and are not queued twice.

mod db;
mod eval;
mod history;
mod log;
mod placement;
mod run;
mod templates;
mod topics;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::Error;
use crate::options::Options;
use crate::runtime::Task;
use crate::tick::{self, CheckOptions, Dbrp, TaskType};
use db::Db;
pub use history::{Delivery, HistoryEvent, HistoryQuery};
pub use placement::{Everything, Placement, Rebalanced};
pub use templates::{TemplateDef, TemplateInfo, TemplateRequest, Var, var_json, var_values};
pub use topics::{Topic, TopicEvent};

/// Enabled or disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Enabled,
    Disabled,
}

/// A stored task definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskDef {
    pub id: String,
    #[serde(rename = "type")]
    pub task_type: TaskType,
    pub dbrps: Vec<Dbrp>,
    pub script: String,
    pub status: Status,
    /// ns since the epoch.
    pub created: i64,
    pub modified: i64,
    pub last_enabled: i64,
    /// Whether the dbrps came with the request rather than the script.
    #[serde(default)]
    pub dbrps_out_of_band: bool,
    /// The template the script comes from (empty: none).
    #[serde(default)]
    pub template_id: String,
    /// Template var values.
    #[serde(default)]
    pub vars: BTreeMap<String, Var>,
}

/// A define or update request (the fields of Kapacitor's POST/PATCH body).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TaskRequest {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub task_type: Option<TaskType>,
    #[serde(default)]
    pub dbrps: Option<Vec<Dbrp>>,
    pub script: Option<String>,
    pub status: Option<Status>,
    /// Create the task from this template (its script and type).
    #[serde(rename = "template-id")]
    pub template_id: Option<String>,
    /// Var values (for templates and typed declarations).
    pub vars: Option<BTreeMap<String, Var>>,
}

/// What `show`/`list` report about a task.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInfo {
    pub def: TaskDef,
    pub executing: bool,
    pub error: String,
    /// DOT with stats when executing, else the plain graph.
    pub dot: String,
    pub node_stats: BTreeMap<String, BTreeMap<String, i64>>,
    /// The instance that runs the task when several share the tasks (see [`Placement`]).
    pub runs_on: Option<String>,
}

struct Running {
    task: Arc<Mutex<Task>>,
    stop: watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

struct Entry {
    def: TaskDef,
    running: Option<Running>,
    error: Arc<Mutex<String>>,
}

pub(crate) struct Inner {
    db: Mutex<Db>,
    /// Where `alerter.db` is (history reads open their own connection).
    dir: PathBuf,
    store: tsdb::Store,
    /// Where batch tasks query: the store, or a remote engine.
    batch: Arc<dyn crate::batch::BatchSource>,
    opts: Options,
    rt: tokio::runtime::Handle,
    tasks: Mutex<BTreeMap<String, Entry>>,
    /// Write-log position reached per running stream task (the store keeps the log
    /// from the smallest one).
    positions: Mutex<BTreeMap<String, u64>>,
    /// Decoded write-log entries shared by the stream tasks.
    log: log::LogCache,
    /// Where stream steps evaluate: below ingest's priority, on one core fewer than
    /// the machine has (see `eval`).
    eval: eval::Evaluators,
    /// Handler deliveries from the outbox since start: (sent, failed attempts).
    deliveries: (AtomicU64, AtomicU64),
    /// The write-log position last acknowledged to the store (`u64::MAX`: none yet).
    acked: AtomicU64,
    /// Which enabled tasks run here (the others are parked).
    placement: placement::Shared,
}

/// Name under which the alerter acknowledges the store's write log.
pub const SUBSCRIBER: &str = "alerter";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the alerter down with it: the data is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_'))
}

fn random_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = now_ns() as u64;
    let n = N.fetch_add(1, Ordering::Relaxed);
    let a = t.rotate_left(17) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (t >> 32) as u32,
        (t >> 16) as u16,
        (a >> 52) & 0xfff,
        (a >> 40) & 0xfff,
        a & 0xffff_ffff_ffff
    )
}

/// The alerter: task definitions, running tasks, state and the outbox.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Opens `dir/alerter.db` and starts every enabled task, each from its saved state
    /// and write-log position. Must be called inside a tokio runtime.
    pub fn open(dir: &Path, store: tsdb::Store, opts: Options) -> Result<Engine, Error> {
        let batch = Arc::new(crate::batch::StoreSource::new(store.clone()));
        Engine::open_with_source(dir, store, batch, opts)
    }

    /// [`Engine::open`] with batch tasks querying `batch` instead of the store (a remote
    /// engine); stream tasks still follow the store's write log.
    pub fn open_with_source(
        dir: &Path,
        store: tsdb::Store,
        batch: Arc<dyn crate::batch::BatchSource>,
        opts: Options,
    ) -> Result<Engine, Error> {
        Engine::open_placed(dir, store, batch, opts, Arc::new(Everything))
    }

    /// [`Engine::open_with_source`] running only the enabled tasks `placement` gives this
    /// instance; call [`Engine::rebalance`] when its answer changes.
    pub fn open_placed(
        dir: &Path,
        store: tsdb::Store,
        batch: Arc<dyn crate::batch::BatchSource>,
        opts: Options,
        placement: Arc<dyn Placement>,
    ) -> Result<Engine, Error> {
        let db = Db::open(dir)?;
        let defs = db.load_tasks()?;
        let engine = Engine {
            inner: Arc::new(Inner {
                db: Mutex::new(db),
                dir: dir.to_path_buf(),
                store,
                batch,
                opts,
                rt: tokio::runtime::Handle::try_current().map_err(|e| {
                    Error::Invalid(format!("the alerter needs a tokio runtime: {e}"))
                })?,
                tasks: Mutex::new(BTreeMap::new()),
                positions: Mutex::new(BTreeMap::new()),
                log: log::LogCache::default(),
                eval: eval::Evaluators::for_machine(),
                deliveries: (AtomicU64::new(0), AtomicU64::new(0)),
                acked: AtomicU64::new(u64::MAX),
                placement,
            }),
        };
        for def in defs {
            let enabled = def.status == Status::Enabled;
            let id = def.id.clone();
            lock(&engine.inner.tasks).insert(
                id.clone(),
                Entry {
                    def,
                    running: None,
                    error: Arc::new(Mutex::new(String::new())),
                },
            );
            if enabled {
                // A task that no longer starts keeps its definition and shows the error.
                if let Err(e) = engine.start(&id, true) {
                    tracing::warn!(task = %id, "task failed to start: {e}");
                }
            }
        }
        Ok(engine)
    }

    fn compile(&self, def: &TaskDef) -> Result<Task, Error> {
        let opts = CheckOptions {
            dbrps: if def.dbrps_out_of_band {
                def.dbrps.clone()
            } else {
                Vec::new()
            },
            require_dbrp: true,
            task_type: Some(def.task_type),
            vars: templates::var_values(&def.vars)?,
        };
        let graph = tick::compile(&def.script, &opts)?;
        Task::new(&def.id, graph, &self.inner.opts)
    }

    /// Creates a task (disabled unless the request says enabled). Kapacitor's POST.
    pub fn define(&self, req: TaskRequest) -> Result<TaskInfo, Error> {
        let id = req.id.clone().unwrap_or_else(random_id);
        if !valid_id(&id) {
            return Err(Error::Invalid(format!(
                "task ID must contain only letters, numbers, '-', '.' and '_'. {id:?}"
            )));
        }
        if lock(&self.inner.tasks).contains_key(&id) {
            return Err(Error::Invalid(format!("task {id} already exists")));
        }
        let (script, template_id, task_type) = match (&req.template_id, &req.script) {
            (Some(_), Some(_)) => {
                return Err(Error::Invalid(
                    "cannot specify both a template-id and a script".into(),
                ));
            }
            (Some(t), None) => {
                let tpl = self.template_def(t)?;
                (tpl.script, t.clone(), Some(tpl.task_type))
            }
            (None, Some(s)) => (s.clone(), String::new(), req.task_type),
            (None, None) => return Err(Error::Invalid("must provide TICKscript".into())),
        };
        let out_of_band = req.dbrps.as_ref().is_some_and(|d| !d.is_empty());
        let now = now_ns();
        let mut def = TaskDef {
            id: id.clone(),
            task_type: task_type.unwrap_or(TaskType::Stream),
            dbrps: req.dbrps.clone().unwrap_or_default(),
            script,
            status: Status::Disabled,
            created: now,
            modified: now,
            last_enabled: 0,
            dbrps_out_of_band: out_of_band,
            template_id,
            vars: req.vars.clone().unwrap_or_default(),
        };
        def = self.checked(def, task_type.is_none())?;
        lock(&self.inner.db).save_task(&def)?;
        lock(&self.inner.tasks).insert(
            id.clone(),
            Entry {
                def,
                running: None,
                error: Arc::new(Mutex::new(String::new())),
            },
        );
        if req.status == Some(Status::Enabled) {
            self.enable(&id)?;
        }
        self.show(&id)
    }

    /// Compiles a definition (so that a bad script is refused) and fills in the type
    /// and dbrps from the script.
    fn checked(&self, mut def: TaskDef, infer_type: bool) -> Result<TaskDef, Error> {
        let opts = CheckOptions {
            dbrps: if def.dbrps_out_of_band {
                def.dbrps.clone()
            } else {
                Vec::new()
            },
            require_dbrp: true,
            task_type: if infer_type {
                None
            } else {
                Some(def.task_type)
            },
            vars: templates::var_values(&def.vars)?,
        };
        let graph = tick::compile(&def.script, &opts)?;
        def.task_type = graph.task_type;
        def.dbrps = graph.dbrps.clone();
        Task::new(&def.id, graph, &self.inner.opts)?;
        Ok(def)
    }

    /// Updates a task (Kapacitor's PATCH). A new script or dbrps take effect at the next
    /// enable, as in Kapacitor; a status change starts or stops the task.
    pub fn update(&self, id: &str, req: TaskRequest) -> Result<TaskInfo, Error> {
        let mut def = self.def(id)?;
        if let Some(new_id) = &req.id
            && new_id != id
        {
            return Err(Error::Unsupported(
                "renaming a task is not supported yet".into(),
            ));
        }
        let changed = req.script.is_some()
            || req.dbrps.is_some()
            || req.task_type.is_some()
            || req.vars.is_some()
            || req.template_id.is_some();
        if let Some(t) = &req.template_id {
            let tpl = self.template_def(t)?;
            def.script = tpl.script;
            def.task_type = tpl.task_type;
            def.template_id = t.clone();
        }
        if let Some(s) = req.script {
            def.script = s;
            def.template_id = String::new();
        }
        if let Some(v) = req.vars {
            def.vars = v;
        }
        if let Some(d) = req.dbrps {
            def.dbrps_out_of_band = !d.is_empty();
            def.dbrps = d;
        }
        if let Some(t) = req.task_type {
            def.task_type = t;
        }
        if changed {
            def = self.checked(def, req.task_type.is_none())?;
            def.modified = now_ns();
            lock(&self.inner.db).save_task(&def)?;
            if let Some(e) = lock(&self.inner.tasks).get_mut(id) {
                e.def = def;
            }
        }
        match req.status {
            Some(Status::Enabled) => self.enable(id)?,
            Some(Status::Disabled) => self.disable(id)?,
            None => {}
        }
        self.show(id)
    }

    fn def(&self, id: &str) -> Result<TaskDef, Error> {
        lock(&self.inner.tasks)
            .get(id)
            .map(|e| e.def.clone())
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// Starts a task; a no-op when it runs already.
    pub fn enable(&self, id: &str) -> Result<(), Error> {
        let mut def = self.def(id)?;
        if lock(&self.inner.tasks)
            .get(id)
            .is_some_and(|e| e.running.is_some())
        {
            return Ok(());
        }
        def.status = Status::Enabled;
        def.last_enabled = now_ns();
        lock(&self.inner.db).save_task(&def)?;
        if let Some(e) = lock(&self.inner.tasks).get_mut(id) {
            e.def = def;
        }
        self.start(id, false)
    }

    /// Stops a task, keeping its state for the next enable.
    pub fn disable(&self, id: &str) -> Result<(), Error> {
        let mut def = self.def(id)?;
        def.status = Status::Disabled;
        lock(&self.inner.db).save_task(&def)?;
        let running = lock(&self.inner.tasks).get_mut(id).and_then(|e| {
            e.def = def;
            e.running.take()
        });
        self.stop(id, running);
        Ok(())
    }

    /// Deletes a task, its state and its queued events.
    pub fn delete(&self, id: &str) -> Result<(), Error> {
        let entry = lock(&self.inner.tasks).remove(id);
        let Some(entry) = entry else {
            return Err(Error::NotFound(id.to_string()));
        };
        self.stop(id, entry.running);
        lock(&self.inner.db).delete_task(id)
    }

    fn stop(&self, id: &str, running: Option<Running>) {
        if let Some(r) = running {
            let _ = r.stop.send(true);
            for h in r.handles {
                h.abort();
            }
        }
        lock(&self.inner.positions).remove(id);
    }

    /// Starts the loops of a task. `resume` (process start) replays the log from the
    /// saved position; a fresh enable starts at the newest write, restoring state only.
    /// A task owned by another instance is left parked.
    fn start(&self, id: &str, resume: bool) -> Result<(), Error> {
        self.start_from(id, resume, None)
    }

    /// [`Engine::start`]; without `resume`, a stream task given `from` reads the write log
    /// after that sequence (a take-over replaying what the previous owner may have missed).
    fn start_from(&self, id: &str, resume: bool, from: Option<u64>) -> Result<(), Error> {
        if !self.owns(id) {
            return Ok(());
        }
        let def = self.def(id)?;
        let error = lock(&self.inner.tasks)
            .get(id)
            .map(|e| e.error.clone())
            .unwrap_or_default();
        let mut task = match self.compile(&def) {
            Ok(t) => t,
            Err(e) => {
                *lock(&error) = e.to_string();
                return Err(e);
            }
        };
        let saved = lock(&self.inner.db).load_state(id, &def.script)?;
        let mut start_seq = tsdb::storage::WriteLog::committed_seq(&self.inner.store);
        let mut resumed = false;
        if let Some((s, state)) = saved {
            let st: BTreeMap<usize, serde_json::Value> =
                serde_json::from_str(&state).map_err(|e| Error::State(e.to_string()))?;
            task.restore(st)?;
            if resume {
                start_seq = s;
                resumed = true;
            }
        }
        if let (false, Some(from)) = (resumed, from) {
            start_seq = start_seq.min(from);
        }
        if !resumed {
            // Record where the task starts before it processes anything: otherwise a
            // crash before its first periodic save would restart it at the newest write,
            // skipping what it had already seen (window contents lost, events missed).
            let state = task.snapshot();
            lock(&self.inner.db).commit_step(id, &def.script, start_seq, &state, &[])?;
        }
        *lock(&error) = String::new();
        let task = Arc::new(Mutex::new(task));
        let (stop_tx, stop_rx) = watch::channel(false);
        let handles = run::spawn(
            self.inner.clone(),
            def,
            task.clone(),
            start_seq,
            stop_rx,
            error,
        )?;
        let running = Running {
            task,
            stop: stop_tx,
            handles,
        };
        let mut tasks = lock(&self.inner.tasks);
        match tasks.get_mut(id) {
            Some(e) if e.running.is_none() => e.running = Some(running),
            // Started meanwhile (an enable beside a rebalance): the first one runs on.
            Some(_) => {
                drop(tasks);
                let _ = running.stop.send(true);
                running.handles.iter().for_each(|h| h.abort());
            }
            // Deleted meanwhile.
            None => {
                drop(tasks);
                self.stop(id, Some(running));
            }
        }
        Ok(())
    }

    /// One task's definition, status and stats.
    pub fn show(&self, id: &str) -> Result<TaskInfo, Error> {
        let tasks = lock(&self.inner.tasks);
        let e = tasks
            .get(id)
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        Ok(info(e, &*self.inner.placement))
    }

    /// The latest result of a running task's `httpOut(name)` node.
    pub fn http_out(&self, id: &str, name: &str) -> Result<String, Error> {
        let tasks = lock(&self.inner.tasks);
        let e = tasks
            .get(id)
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let running = e
            .running
            .as_ref()
            .ok_or_else(|| Error::NotFound(format!("{id}/{name}")))?;
        let out = lock(&running.task).http_out(name);
        out.ok_or_else(|| Error::NotFound(format!("{id}/{name}")))
    }

    /// All tasks, sorted by id.
    pub fn list(&self) -> Vec<TaskInfo> {
        let placement = &*self.inner.placement;
        lock(&self.inner.tasks)
            .values()
            .map(|e| info(e, placement))
            .collect()
    }

    /// How far behind the alerter is: write-log entries committed but not yet saved as
    /// processed by the slowest running stream task, and deliveries waiting in the
    /// outbox. (0, 0) means every write so far has been evaluated and its events sent.
    pub fn backlog(&self) -> Result<(u64, u64), Error> {
        let committed = tsdb::storage::WriteLog::committed_seq(&self.inner.store);
        let behind = lock(&self.inner.positions)
            .iter()
            .filter(|(id, _)| id.as_str() != placement::HOLD)
            .map(|(_, p)| committed.saturating_sub(*p))
            .max()
            .unwrap_or(0);
        let pending = lock(&self.inner.db).pending_count()?;
        Ok((behind, pending))
    }

    /// Handler deliveries since start: (sent, failed attempts), for self-monitoring.
    pub fn deliveries(&self) -> (u64, u64) {
        let (sent, failed) = &self.inner.deliveries;
        (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
    }

    /// Stops every task (their state is already saved).
    pub fn shutdown(&self) {
        let ids: Vec<String> = lock(&self.inner.tasks).keys().cloned().collect();
        for id in ids {
            let running = lock(&self.inner.tasks)
                .get_mut(&id)
                .and_then(|e| e.running.take());
            self.stop(&id, running);
        }
    }
}

fn info(e: &Entry, placement: &dyn Placement) -> TaskInfo {
    let (executing, dot, node_stats) = match &e.running {
        Some(r) => {
            let t = lock(&r.task);
            (true, t.dot(), t.node_stats())
        }
        None => {
            let dot = tick::compile(
                &e.def.script,
                &CheckOptions {
                    dbrps: if e.def.dbrps_out_of_band {
                        e.def.dbrps.clone()
                    } else {
                        Vec::new()
                    },
                    vars: templates::var_values(&e.def.vars).unwrap_or_default(),
                    ..CheckOptions::default()
                },
            )
            .map(|g| g.to_dot(&e.def.id))
            .unwrap_or_default();
            (false, dot, BTreeMap::new())
        }
    };
    TaskInfo {
        def: e.def.clone(),
        executing,
        error: lock(&e.error).clone(),
        dot,
        node_stats,
        runs_on: placement.owner(&e.def.id),
    }
}
