//! Running a checked [`TaskGraph`]: node implementations and the task that drives them.
//!
//! Evaluation is synchronous and deterministic: a task is fed points (stream) or query
//! results (batch) and returns the alert events they caused. Delivering the events to
//! handlers is someone else's job ([`crate::alert::handlers`]), so that a slow webhook
//! never holds up evaluation and so that replays and tests see exactly the events.
//!
//! - `model`: points, batches, groups.
//! - `nodes`: filtering, grouping and per-point transforms.
//! - `out`: log, influxDBOut and httpOut.
//! - `track`: nodes with per-group memory (sample, changeDetect, derivative, state*).
//! - `window`: stream to batch.
//! - `influxql`: aggregates, selectors and InfluxQL transforms.
//! - `clocked`: the nodes driven by the clock ([`Task::tick`]): stats and barrier.
//! - `join`: union and join.
//! - `http_post`: the httpPost node (posts are delivered by the caller).
//!
//! Besides data, two control signals travel the edges, as in Kapacitor: a barrier
//! (`group`'s data before `time` is complete, so windows and joins may emit) and a
//! group deletion (every node forgets the group's state: memory stays bounded).

pub mod clocked;
pub mod http_post;
pub mod influxql;
pub mod join;
pub mod model;
pub mod nodes;
pub mod out;
pub mod track;
pub mod window;

use std::collections::BTreeMap;
use std::time::Instant;

use crate::alert::{AlertEvent, AlertNode};
use crate::error::Error;
use crate::options::Options;
use crate::tick::{NodeKind, TaskGraph, TaskType};
use model::{Batch, Msg, Point, Tags};

/// What a node can report while processing one message.
pub struct Cx<'a> {
    pub task: &'a str,
    pub node: &'a str,
    pub events: &'a mut Vec<AlertEvent>,
    /// Points `influxDBOut` wants written.
    pub writes: &'a mut Vec<Write>,
    /// Requests `httpPost` nodes want sent.
    pub posts: &'a mut Vec<http_post::Post>,
    /// Which parent the message came from (its index in the node's parents).
    pub src: usize,
    errors: u64,
}

/// What travels along an edge: data, or one of the control signals.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Msg(Msg),
    /// No more data of `group` before `time` will come (Kapacitor's BarrierMessage).
    Barrier {
        group: String,
        time: i64,
    },
    /// Forget `group`'s state (Kapacitor's DeleteGroupMessage).
    Delete {
        group: String,
    },
}

/// A point an `influxDBOut` node writes to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub database: String,
    pub retention_policy: String,
    /// Create the database first (`.create()`).
    pub create: bool,
    pub point: common::Point,
}

impl Cx<'_> {
    /// Counts a data error on the node (the point or batch is dropped by the caller).
    pub fn error(&mut self, msg: impl std::fmt::Display) {
        self.errors += 1;
        tracing::debug!(task = self.task, node = %self.node, "{msg}");
    }
}

/// A node implementation. Nodes never fail a task once it runs: bad data is counted
/// through [`Cx::error`] and dropped.
pub(crate) trait Node: Send {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>);
    /// A barrier for `group` at `time`: emit what it completes. The barrier itself is
    /// forwarded by the task after `out`.
    fn barrier(&mut self, _group: &str, _time: i64, _cx: &mut Cx<'_>, _out: &mut Vec<Msg>) {}
    /// Drops every state kept for `group` (the deletion is forwarded by the task).
    fn forget(&mut self, _group: &str) {}
    /// The clock reached `now` (ns): nodes driven by time emit what is due. With
    /// `skip_missed`, instants long past collapse into the latest one (a live engine
    /// that was paused, like Go's ticker dropping ticks); offline runs emit them all.
    fn tick(&mut self, _now: i64, _skip_missed: bool, _cx: &mut Cx<'_>, _out: &mut Vec<Signal>) {}
    /// Whether the node needs [`Task::tick`].
    fn clocked(&self) -> bool {
        false
    }
    /// A message the watched node sent on its first edge (stats nodes only; a group
    /// deletion it sends arrives as [`Node::forget`]).
    fn observe(&mut self, _msg: &Msg) {}
    /// Extra stats, Kapacitor-named (`alerts_triggered`, ...).
    fn stats(&self) -> Vec<(&'static str, i64)> {
        Vec::new()
    }
    /// The number of groups with state.
    fn cardinality(&self) -> usize {
        0
    }
    /// `httpOut` nodes: their name and latest result as JSON.
    fn http_out(&self) -> Option<(&str, String)> {
        None
    }
    /// Alert handlers (alert nodes only).
    fn handlers(&self) -> &[crate::alert::handlers::HandlerSpec] {
        &[]
    }
    /// State worth keeping across a restart.
    fn snapshot(&self) -> Option<String> {
        None
    }
    fn restore(&mut self, _state: serde_json::Value) -> Result<(), Error> {
        Ok(())
    }
}

/// Counters of one node.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NodeStats {
    pub collected: u64,
    pub emitted: u64,
    pub errors: u64,
    pub exec_ns: u64,
}

/// A running task.
pub struct Task {
    name: String,
    graph: TaskGraph,
    nodes: Vec<Option<Box<dyn Node>>>,
    stats: Vec<NodeStats>,
    edges: BTreeMap<(usize, usize), u64>,
    writes: Vec<Write>,
    posts: Vec<http_post::Post>,
    /// For each node, the stats nodes watching it.
    watchers: Vec<Vec<usize>>,
    clocked: bool,
    /// Node names (`alert3`), built once: they were formatted per message.
    names: Vec<String>,
    /// The measurement every stream path needs, when all of the stream's `from` nodes
    /// name one; other points are skipped before being copied into the graph.
    measurements: Option<Vec<String>>,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("name", &self.name).finish()
    }
}

/// Kapacitor's description of a node for "not supported yet" errors.
fn unsupported(n: &crate::tick::GraphNode) -> Error {
    Error::Unsupported(format!(
        "{}: the {} node is not supported yet",
        n.name(),
        n.kind.desc()
    ))
}

/// The measurements a stream task's `from` nodes accept, if every child of the stream
/// node is a `from` naming one (else `None`: any point may matter).
fn stream_measurements(graph: &TaskGraph) -> Option<Vec<String>> {
    let &root = graph.sources.first()?;
    let mut out = Vec::new();
    for &c in &graph.nodes.get(root)?.children {
        let n = graph.nodes.get(c)?;
        if n.kind != NodeKind::From {
            return None;
        }
        let m = nodes::str_prop(n, "measurement").filter(|m| !m.is_empty())?;
        out.push(m);
    }
    (!out.is_empty()).then_some(out)
}

impl Task {
    /// Builds the node implementations; fails on nodes or options tigk does not run yet.
    pub fn new(name: &str, graph: TaskGraph, opts: &Options) -> Result<Task, Error> {
        let mut nodes: Vec<Option<Box<dyn Node>>> = Vec::with_capacity(graph.nodes.len());
        for _ in 0..graph.nodes.len() {
            nodes.push(None);
        }
        for id in graph.topo_order() {
            let n = &graph.nodes[id];
            use NodeKind as K;
            let node: Box<dyn Node> = match n.kind {
                K::Stream | K::Batch | K::NoOp => Box::new(nodes::Pass),
                K::Stats => Box::new(clocked::Stats::new(n)?),
                K::Barrier => Box::new(clocked::Barrier::new(n)?),
                K::Union => Box::new(join::Union::new(n)?),
                K::Join => Box::new(join::Join::new(n, opts)?),
                K::HttpPost => Box::new(http_post::HttpPost::new(n, opts)?),
                K::Query => {
                    // Checked now so that a bad query fails the definition, not a run.
                    crate::batch::QuerySpec::new(n, &graph.dbrps)?;
                    Box::new(nodes::Pass)
                }
                K::From => Box::new(nodes::From::new(n)?),
                K::Where => Box::new(nodes::Where::new(n)?),
                K::GroupBy => Box::new(nodes::GroupBy::new(n)?),
                K::Eval => Box::new(nodes::Eval::new(n)?),
                K::Default => Box::new(nodes::Default::new(n)?),
                K::Delete => Box::new(nodes::Delete::new(n)?),
                K::Shift => Box::new(nodes::Shift::new(n)?),
                K::Sample => Box::new(track::Sample::new(n)?),
                K::ChangeDetect => Box::new(track::ChangeDetect::new(n)?),
                K::Log => Box::new(out::Log::new(n)?),
                K::HttpOut => Box::new(out::HttpOut::new(n)?),
                K::InfluxDBOut => Box::new(out::InfluxDbOut::new(n)?),
                K::Derivative => Box::new(track::Derivative::new(n)?),
                K::StateDuration | K::StateCount => Box::new(track::StateTrack::new(n)?),
                K::Window => Box::new(window::Window::new(n, opts)?),
                K::Alert => Box::new(AlertNode::new(name, n, opts)?),
                k if k.is_influxql() => influxql::build(n, opts)?,
                _ => return Err(unsupported(n)),
            };
            nodes[id] = Some(node);
        }
        let stats = vec![NodeStats::default(); graph.nodes.len()];
        let names = graph.nodes.iter().map(|n| n.name()).collect();
        let measurements = stream_measurements(&graph);
        let mut watchers = vec![Vec::new(); graph.nodes.len()];
        for n in &graph.nodes {
            if n.kind == NodeKind::Stats
                && let Some(crate::tick::Arg::Node(w)) = n.args.get(1)
                && let Some(list) = watchers.get_mut(*w)
            {
                list.push(n.id);
            }
        }
        let clocked = nodes.iter().flatten().any(|n| n.clocked());
        Ok(Task {
            posts: Vec::new(),
            watchers,
            clocked,
            name: name.to_string(),
            names,
            measurements,
            graph,
            nodes,
            stats,
            edges: BTreeMap::new(),
            writes: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn graph(&self) -> &TaskGraph {
        &self.graph
    }

    /// Feeds one written point to a stream task (no-op for batch tasks or points of
    /// other dbrps).
    pub fn push_point(&mut self, db: &str, rp: &str, p: &common::Point) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        if self.graph.task_type != TaskType::Stream
            || !self.graph.dbrps.iter().any(|d| d.db == db && d.rp == rp)
        {
            return events;
        }
        let Some(&root) = self.graph.sources.first() else {
            return events;
        };
        if let Some(ms) = &self.measurements
            && !ms.contains(&p.measurement)
        {
            return events;
        }
        let tags: Tags = p.tags.iter().cloned().collect();
        let point = Point {
            name: p.measurement.clone(),
            db: db.to_string(),
            rp: rp.to_string(),
            time: p.timestamp.unwrap_or(0),
            tags,
            fields: p.fields.iter().cloned().collect(),
            dims: Default::default(),
            group: String::new(),
        };
        self.run(root, Msg::Point(point), &mut events);
        events
    }

    /// Feeds the batches of one query run into a query node's children.
    pub fn push_batches(&mut self, query_node: usize, batches: Vec<Batch>) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        for b in batches {
            self.run(query_node, Msg::Batch(b), &mut events);
        }
        events
    }

    fn run(&mut self, start: usize, msg: Msg, events: &mut Vec<AlertEvent>) {
        self.drive(vec![(start, usize::MAX, Signal::Msg(msg))], events);
    }

    /// Runs signals to completion. Depth first, children in creation order: the order
    /// Kapacitor's single goroutine per node would produce for one input message.
    fn drive(&mut self, mut stack: Vec<(usize, usize, Signal)>, events: &mut Vec<AlertEvent>) {
        let mut out = Vec::new();
        while let Some((id, from, sig)) = stack.pop() {
            let Some(Some(node)) = self.nodes.get_mut(id) else {
                continue;
            };
            let src = self.graph.nodes[id]
                .parents
                .iter()
                .position(|&p| p == from)
                .unwrap_or(0);
            let mut cx = Cx {
                task: &self.name,
                node: &self.names[id],
                events,
                writes: &mut self.writes,
                posts: &mut self.posts,
                src,
                errors: 0,
            };
            let started = Instant::now();
            let control = match sig {
                Signal::Msg(msg) => {
                    node.process(msg, &mut cx, &mut out);
                    None
                }
                Signal::Barrier { group, time } => {
                    node.barrier(&group, time, &mut cx, &mut out);
                    Some(Signal::Barrier { group, time })
                }
                Signal::Delete { group } => {
                    node.forget(&group);
                    Some(Signal::Delete { group })
                }
            };
            let st = &mut self.stats[id];
            if control.is_none() {
                st.collected += 1;
            }
            st.errors += cx.errors;
            st.exec_ns += started.elapsed().as_nanos() as u64;
            st.emitted += out.len() as u64;
            let mut sigs: Vec<Signal> = out.drain(..).map(Signal::Msg).collect();
            sigs.extend(control);
            self.send(id, sigs, &mut stack);
        }
    }

    /// Pushes a node's output onto the stack for its children (in reverse, so that the
    /// first child gets the first signal first) and lets stats nodes watch it.
    fn send(&mut self, id: usize, sigs: Vec<Signal>, stack: &mut Vec<(usize, usize, Signal)>) {
        let children = &self.graph.nodes[id].children;
        if let Some(ws) = self.watchers.get(id)
            && !ws.is_empty()
        {
            for sig in &sigs {
                for &w in ws {
                    let Some(Some(n)) = self.nodes.get_mut(w) else {
                        continue;
                    };
                    match sig {
                        Signal::Msg(m) => n.observe(m),
                        // A deletion crossing the watched edge drops the group's counts
                        // too, as Kapacitor's edge statistics do.
                        Signal::Delete { group } => n.forget(group),
                        Signal::Barrier { .. } => {}
                    }
                }
            }
        }
        for sig in sigs.into_iter().rev() {
            let data = matches!(sig, Signal::Msg(_));
            for (i, &c) in children.iter().enumerate().rev() {
                if data {
                    *self.edges.entry((id, c)).or_default() += 1;
                }
                if i == 0 {
                    stack.push((c, id, sig));
                    break;
                }
                stack.push((c, id, sig.clone()));
            }
        }
    }

    /// Whether the task has nodes driven by the clock (stats, deadman, barrier).
    pub fn clocked(&self) -> bool {
        self.clocked
    }

    /// Advances the task's clock to `now` (ns): stats and barrier nodes emit what is
    /// due. The engine passes the wall clock (`skip_missed`); offline runs pass data
    /// time, so that a test run is deterministic.
    pub fn tick(&mut self, now: i64, skip_missed: bool) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        if !self.clocked {
            return events;
        }
        for id in self.graph.topo_order() {
            let mut sigs = Vec::new();
            let Some(Some(node)) = self.nodes.get_mut(id) else {
                continue;
            };
            if !node.clocked() {
                continue;
            }
            let mut cx = Cx {
                task: &self.name,
                node: &self.names[id],
                events: &mut events,
                writes: &mut self.writes,
                posts: &mut self.posts,
                src: 0,
                errors: 0,
            };
            node.tick(now, skip_missed, &mut cx, &mut sigs);
            let errors = cx.errors;
            if sigs.is_empty() && errors == 0 {
                continue;
            }
            let st = &mut self.stats[id];
            st.errors += errors;
            st.emitted += sigs.iter().filter(|s| matches!(s, Signal::Msg(_))).count() as u64;
            let mut stack = Vec::new();
            self.send(id, sigs, &mut stack);
            self.drive(stack, &mut events);
        }
        events
    }

    /// Takes the requests `httpPost` nodes produced since the last call (callers
    /// feeding a task with such nodes must drain them, as with [`Task::take_writes`]).
    pub fn take_posts(&mut self) -> Vec<http_post::Post> {
        std::mem::take(&mut self.posts)
    }

    /// The latest result of the `httpOut` node called `name`, as Kapacitor serves it.
    pub fn http_out(&self, name: &str) -> Option<String> {
        self.nodes
            .iter()
            .flatten()
            .filter_map(|n| n.http_out())
            .find(|(n, _)| *n == name)
            .map(|(_, json)| json)
    }

    /// Takes the points `influxDBOut` nodes produced since the last call. Callers
    /// feeding a task with such nodes must drain them (they accumulate otherwise).
    pub fn take_writes(&mut self) -> Vec<Write> {
        std::mem::take(&mut self.writes)
    }

    /// The ids of the batch task's query nodes.
    pub fn query_nodes(&self) -> Vec<usize> {
        self.graph
            .topo_order()
            .into_iter()
            .filter(|&i| self.graph.nodes[i].kind == NodeKind::Query)
            .collect()
    }

    /// Per-node stats, Kapacitor-named, by node name.
    pub fn node_stats(&self) -> BTreeMap<String, BTreeMap<String, i64>> {
        let mut all = BTreeMap::new();
        for id in self.graph.topo_order() {
            let n = &self.graph.nodes[id];
            let st = &self.stats[id];
            let mut m = BTreeMap::new();
            m.insert("collected".to_string(), st.collected as i64);
            m.insert("emitted".to_string(), st.emitted as i64);
            m.insert("errors".to_string(), st.errors as i64);
            let avg = st.exec_ns.checked_div(st.collected).unwrap_or(0);
            m.insert("avg_exec_time_ns".to_string(), avg as i64);
            if let Some(Some(node)) = self.nodes.get(id) {
                m.insert("working_cardinality".to_string(), node.cardinality() as i64);
                for (k, v) in node.stats() {
                    m.insert(k.to_string(), v);
                }
            }
            all.insert(n.name(), m);
        }
        all
    }

    /// The DOT graph with stats, as `kapacitor show` prints an executing task.
    pub fn dot(&self) -> String {
        let mut s = format!(
            "digraph {} {{\ngraph [throughput=\"0.00 points/s\"];\n",
            self.name
        );
        for id in self.graph.topo_order() {
            let n = &self.graph.nodes[id];
            let name = n.name();
            let st = &self.stats[id];
            let mut attrs = String::new();
            if let Some(Some(node)) = self.nodes.get(id) {
                // Kapacitor prints the node's own stats first, in its order.
                for (k, v) in node.stats() {
                    attrs.push_str(&format!("{k}=\"{v}\" "));
                }
            }
            let avg = st.exec_ns.checked_div(st.collected).unwrap_or(0) as i64;
            let card = match self.nodes.get(id) {
                Some(Some(node)) => node.cardinality(),
                _ => 0,
            };
            attrs.push_str(&format!(
                "avg_exec_time_ns=\"{}\" errors=\"{}\" working_cardinality=\"{card}\" ",
                crate::gofmt::duration_string(avg),
                st.errors
            ));
            s.push_str(&format!("{name} [{attrs}];\n"));
            for &c in &n.children {
                let processed = self.edges.get(&(id, c)).copied().unwrap_or(0);
                s.push_str(&format!(
                    "{name} -> {} [processed=\"{processed}\"];\n",
                    self.graph.nodes[c].name()
                ));
            }
        }
        s.push('}');
        s
    }

    /// The handlers of each alert node, by node name.
    pub fn handlers(&self) -> BTreeMap<String, Vec<crate::alert::handlers::HandlerSpec>> {
        let mut m = BTreeMap::new();
        for (id, n) in self.nodes.iter().enumerate() {
            if let Some(n) = n
                && !n.handlers().is_empty()
            {
                m.insert(self.graph.nodes[id].name(), n.handlers().to_vec());
            }
        }
        m
    }

    /// Snapshots of every node that keeps state: a JSON object by node id, as
    /// [`Task::restore`] reads it. Written as text straight from the node states: going
    /// through `serde_json::Value` built and freed a tree per save, the main cost of
    /// saving 100 tasks.
    pub fn snapshot(&self) -> String {
        let mut out = String::from("{");
        for (id, n) in self.nodes.iter().enumerate() {
            if let Some(n) = n
                && let Some(s) = n.snapshot()
            {
                if out.len() > 1 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(&id.to_string());
                out.push_str("\":");
                out.push_str(&s);
            }
        }
        out.push('}');
        out
    }

    /// Restores node state saved by [`Task::snapshot`] (for the same script).
    pub fn restore(&mut self, state: BTreeMap<usize, serde_json::Value>) -> Result<(), Error> {
        for (id, s) in state {
            if let Some(Some(n)) = self.nodes.get_mut(id) {
                n.restore(s)?;
            }
        }
        Ok(())
    }
}
