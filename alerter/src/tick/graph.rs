//! The checked task graph that [`super::compile`] returns, and its DOT rendering.

use std::sync::Arc;

use super::ast;
use super::catalog::{EdgeType, NodeKind};
use super::lambda::Lambda;

/// Stream or batch task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskType {
    Stream,
    Batch,
}

impl TaskType {
    /// `"stream"` or `"batch"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Stream => "stream",
            TaskType::Batch => "batch",
        }
    }
}

/// A database/retention-policy pair the task reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Dbrp {
    /// Database.
    pub db: String,
    /// Retention policy.
    pub rp: String,
}

/// A lambda argument: the expression with vars inlined, and its compiled form.
#[derive(Debug, Clone)]
pub struct LambdaArg {
    /// The expression after var substitution.
    pub expr: ast::Node,
    /// Ready to evaluate.
    pub compiled: Arc<Lambda>,
}

/// A typed argument of a chaining or property method.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Float(f64),
    String(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    /// Regex source (RE2 syntax, checked to compile).
    Regex(String),
    Lambda(LambdaArg),
    /// `*`
    Star,
    List(Vec<Arg>),
    /// Another node, by id (union/join arguments).
    Node(usize),
    /// `time(interval[, offset])` in a query's groupBy.
    TimeDimension {
        interval: i64,
        offset: i64,
    },
}

/// A property set on a node, in script order. Handler properties (`.post(url)`) carry
/// their own sub-properties (`.header(k, v)`).
#[derive(Debug, Clone)]
pub struct Property {
    /// Property method name as written (`crit`, `post`).
    pub name: String,
    /// Arguments, with a single list argument already spread.
    pub args: Vec<Arg>,
    /// Handler sub-properties (`.header()` after `.post()`).
    pub sub: Vec<Property>,
}

/// One node of the pipeline.
#[derive(Debug, Clone)]
pub struct GraphNode {
    /// Creation index; the name is `desc` + id (`from1`).
    pub id: usize,
    /// What the node does.
    pub kind: NodeKind,
    /// Arguments of the chaining method that created the node.
    pub args: Vec<Arg>,
    /// Property calls in script order.
    pub properties: Vec<Property>,
    /// Parent node ids, in Kapacitor's link order.
    pub parents: Vec<usize>,
    /// Child node ids, in creation order.
    pub children: Vec<usize>,
    /// Edge type received.
    pub wants: EdgeType,
    /// Edge type emitted.
    pub provides: EdgeType,
    /// Where the chaining method was called (line 0 for implicit nodes).
    pub pos: ast::Pos,
}

impl GraphNode {
    /// Kapacitor's node name, e.g. `alert2`.
    pub fn name(&self) -> String {
        format!("{}{}", self.kind.desc(), self.id)
    }

    /// The properties with a given name, in order.
    pub fn props<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.properties.iter().filter(move |p| p.name == name)
    }

    /// The last property with a given name.
    pub fn prop(&self, name: &str) -> Option<&Property> {
        self.properties.iter().rev().find(|p| p.name == name)
    }
}

/// A checked task: its type, dbrps and pipeline.
#[derive(Debug, Clone)]
pub struct TaskGraph {
    /// Stream or batch.
    pub task_type: TaskType,
    /// From the script, or the out-of-band ones.
    pub dbrps: Vec<Dbrp>,
    /// Indexed by node id. Ids Kapacitor skips (union/join take one id per parent
    /// link) hold unreachable `NoOp` placeholders; walk with [`TaskGraph::topo_order`].
    pub nodes: Vec<GraphNode>,
    /// Source nodes (the root, then any `stats` sources), in creation order.
    pub sources: Vec<usize>,
}

impl TaskGraph {
    /// Node ids in Kapacitor's walk order: a node comes after all its parents.
    pub fn topo_order(&self) -> Vec<usize> {
        let mut marked = vec![false; self.nodes.len()];
        let mut out = Vec::with_capacity(self.nodes.len());
        // Kapacitor visits sources in reverse and reverses a depth-first post-order.
        for &s in self.sources.iter().rev() {
            if marked.get(s).copied().unwrap_or(true) {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(s, 0)];
            marked[s] = true;
            while let Some((n, i)) = stack.pop() {
                let children = &self.nodes[n].children;
                if let Some(&c) = children.get(i) {
                    stack.push((n, i + 1));
                    if !marked[c] {
                        marked[c] = true;
                        stack.push((c, 0));
                    }
                } else {
                    out.push(n);
                }
            }
        }
        out.reverse();
        out
    }

    /// The graph in Kapacitor's DOT format (as `kapacitor show` prints it for a task
    /// that is not executing, i.e. without stats).
    pub fn to_dot(&self, name: &str) -> String {
        let mut s = format!("digraph {name} {{\n");
        for id in self.topo_order() {
            let n = &self.nodes[id];
            // Kapacitor leaves the batch source out: it is not a real edge.
            if n.kind == NodeKind::Batch {
                continue;
            }
            for &c in &n.children {
                s.push_str(&format!("{} -> {};\n", n.name(), self.nodes[c].name()));
            }
        }
        s.push('}');
        s
    }
}
