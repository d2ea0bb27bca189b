//! Values the checker computes with, and their conversion to graph arguments.

use std::sync::Arc;

use super::TickError;
use super::ast::{Node, Pos};
use super::catalog::{self, EdgeType, Handler, NodeKind, Prop, Ty};
use super::graph::{Arg, LambdaArg, Property};
use super::lambda::Lambda;

type CResult<T> = Result<T, TickError>;

/// What a method is called on: a node, the alert's data, or an alert handler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Obj {
    Node(NodeKind),
    AlertData,
    Handler(Handler),
}

impl Obj {
    pub(super) fn go_type(self) -> &'static str {
        match self {
            Obj::Node(k) => k.go_type(),
            Obj::AlertData => "*pipeline.AlertNodeData",
            Obj::Handler(h) => h.go_type(),
        }
    }

    pub(super) fn kind(self) -> Option<NodeKind> {
        match self {
            Obj::Node(k) => Some(k),
            _ => None,
        }
    }

    pub(super) fn find_prop(self, name: &str) -> Option<&'static Prop> {
        let own = match self {
            Obj::Node(k) => catalog::node_props(k),
            Obj::AlertData => catalog::ALERT,
            Obj::Handler(h) => h.props(),
        };
        own.iter()
            .chain(if matches!(self, Obj::Handler(_)) {
                catalog::ALERT
            } else {
                &[]
            })
            .find(|p| p.name == name)
    }

    pub(super) fn find_chain(self, name: &str) -> Option<&'static catalog::Chain> {
        let kind = match self {
            Obj::Node(k) => k,
            _ => NodeKind::Alert,
        };
        catalog::node_chains(kind).iter().find(|c| c.name == name)
    }
}

/// A value during evaluation.
#[derive(Debug, Clone)]
pub(super) enum TVal {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Dur(i64),
    Regex(String),
    Lambda(Box<Node>),
    List(Vec<TVal>),
    Star,
    Ref,
    Obj {
        node: usize,
        obj: Obj,
        handler: Option<usize>,
    },
    TimeDim {
        interval: i64,
        offset: i64,
    },
}

impl TVal {
    pub(super) fn go_type(&self) -> &'static str {
        match self {
            TVal::Int(_) => "int64",
            TVal::Float(_) => "float64",
            TVal::Str(_) => "string",
            TVal::Bool(_) => "bool",
            TVal::Dur(_) => "time.Duration",
            TVal::Regex(_) => "*regexp.Regexp",
            TVal::Lambda(_) => "*ast.LambdaNode",
            TVal::List(_) => "[]interface {}",
            TVal::Star => "*ast.StarNode",
            TVal::Ref => "*ast.ReferenceNode",
            TVal::Obj { obj, .. } => obj.go_type(),
            TVal::TimeDim { .. } => "*pipeline.TimeDimension",
        }
    }

    /// Kapacitor's value type name, for template var errors.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            TVal::Int(_) => "int",
            TVal::Float(_) => "float",
            TVal::Str(_) => "string",
            TVal::Bool(_) => "boolean",
            TVal::Dur(_) => "duration",
            TVal::Regex(_) => "regex",
            TVal::Lambda(_) => "lambda",
            TVal::List(_) => "list",
            TVal::Star => "star",
            _ => "invalid type",
        }
    }

    pub(super) fn assignable(&self, ty: Ty) -> bool {
        matches!(
            (ty, self),
            (Ty::Any, _)
                | (Ty::Str, TVal::Str(_))
                | (Ty::Int, TVal::Int(_))
                | (Ty::Float, TVal::Float(_))
                | (Ty::Bool, TVal::Bool(_))
                | (Ty::Dur, TVal::Dur(_))
                | (Ty::Lambda, TVal::Lambda(_))
                | (Ty::Node, TVal::Obj { .. })
        )
    }
}

pub(super) fn lambda_arg(name: &str, pos: Pos, expr: &Node) -> CResult<LambdaArg> {
    let compiled = Lambda::compile(expr).map_err(|e| {
        TickError::at(
            pos,
            format!("Failed to compile stateful expression for {name}: {e}"),
        )
    })?;
    Ok(LambdaArg {
        expr: expr.clone(),
        compiled: Arc::new(compiled),
    })
}

pub(super) fn to_arg(v: &TVal, name: &str, pos: Pos) -> CResult<Arg> {
    Ok(match v {
        TVal::Int(i) => Arg::Int(*i),
        TVal::Float(x) => Arg::Float(*x),
        TVal::Str(s) => Arg::String(s.clone()),
        TVal::Bool(b) => Arg::Bool(*b),
        TVal::Dur(d) => Arg::Duration(*d),
        TVal::Regex(r) => Arg::Regex(r.clone()),
        TVal::Lambda(e) => Arg::Lambda(lambda_arg(name, pos, e)?),
        TVal::List(items) => Arg::List(
            items
                .iter()
                .map(|i| to_arg(i, name, pos))
                .collect::<CResult<_>>()?,
        ),
        TVal::Star => Arg::Star,
        TVal::Obj { node, .. } => Arg::Node(*node),
        TVal::TimeDim { interval, offset } => Arg::TimeDimension {
            interval: *interval,
            offset: *offset,
        },
        TVal::Ref => return Err(double_quote_hint(pos)),
    })
}

pub(super) fn double_quote_hint(pos: Pos) -> TickError {
    TickError::at(
        pos,
        "cannot assign *ast.ReferenceNode to type string, did you use double quotes instead of single quotes?",
    )
}

pub(super) fn prop(name: &str, args: Vec<Arg>) -> Property {
    Property {
        name: name.to_string(),
        args,
        sub: Vec::new(),
    }
}

/// The edge type a node emits given what it receives.
pub(super) fn provides(kind: NodeKind, wants: EdgeType) -> EdgeType {
    use NodeKind as K;
    match kind {
        K::Stream | K::From | K::Stats => EdgeType::Stream,
        K::Batch | K::Query | K::Window => EdgeType::Batch,
        K::Mean
        | K::Sum
        | K::Count
        | K::Min
        | K::Max
        | K::First
        | K::Last
        | K::Median
        | K::Mode
        | K::Spread
        | K::Stddev
        | K::Percentile => EdgeType::Stream,
        _ => wants,
    }
}
