//! The TICKscript front end: lexer, parser, checker and lambda evaluator.
//!
//! - [`parse`] turns a script into an [`ast::Program`].
//! - [`compile`] also resolves vars and checks every call against the node catalogue,
//!   producing a [`TaskGraph`] (`to_dot` renders it like `kapacitor show`).
//! - [`lambda`] compiles and evaluates lambda expressions over a point.
//!
//! Errors are [`TickError`]s whose text follows Kapacitor's wording, e.g.
//! `parser: unexpected EOF line 4 char 9 in "var b = ". expected: ...` or
//! `line 5 char 10: no method or property "alrt" on *pipeline.FromNode`.

use std::collections::BTreeMap;

pub mod ast;
pub mod catalog;
mod check;
mod check_nodes;
mod check_values;
pub mod functions;
pub mod graph;
pub mod lambda;
pub mod lexer;
pub mod parser;

pub use catalog::{EdgeType, NodeKind};
pub use graph::{Arg, Dbrp, GraphNode, LambdaArg, Property, TaskGraph, TaskType};

/// Which stage rejected the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Lexing or parsing.
    Parse,
    /// Var resolution, node catalogue, types, dbrps.
    Check,
}

/// A TICKscript error with its position, when it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TickError {
    /// Parse or check.
    pub kind: ErrorKind,
    /// Where, when known.
    pub pos: Option<ast::Pos>,
    /// The full message, in Kapacitor's wording.
    pub message: String,
}

impl TickError {
    pub(crate) fn new(kind: ErrorKind, pos: Option<ast::Pos>, message: String) -> Self {
        TickError { kind, pos, message }
    }

    /// A check error prefixed with `line L char C: ` as Kapacitor's evaluator does.
    pub(crate) fn at(pos: ast::Pos, message: impl std::fmt::Display) -> Self {
        TickError::new(ErrorKind::Check, Some(pos), format!("{pos}: {message}"))
    }

    /// A check error with no position.
    pub(crate) fn plain(message: impl Into<String>) -> Self {
        TickError::new(ErrorKind::Check, None, message.into())
    }
}

/// A value supplied for a template var (the `vars` of a define request).
#[derive(Debug, Clone, PartialEq)]
pub enum VarValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    /// Nanoseconds.
    Duration(i64),
    /// Regex source.
    Regex(String),
    /// Lambda expression text (without `lambda:`).
    Lambda(String),
    Star,
    List(Vec<VarValue>),
}

impl VarValue {
    /// Kapacitor's type name (`int`, `float`, `boolean`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            VarValue::Bool(_) => "boolean",
            VarValue::Int(_) => "int",
            VarValue::Float(_) => "float",
            VarValue::String(_) => "string",
            VarValue::Duration(_) => "duration",
            VarValue::Regex(_) => "regex",
            VarValue::Lambda(_) => "lambda",
            VarValue::Star => "star",
            VarValue::List(_) => "list",
        }
    }
}

/// A var a template declares: `var x float` (no value: tasks must supply one) or
/// `var x = 10` (a default tasks may override).
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredVar {
    pub name: String,
    /// Kapacitor's type name (`float`, `duration`, ...).
    pub type_name: String,
    /// The default, for literal declarations.
    pub value: Option<VarValue>,
}

fn literal(n: &ast::Node) -> Option<VarValue> {
    use ast::NodeKind as K;
    Some(match &n.kind {
        K::Int(i) => VarValue::Int(*i),
        K::Float(f) => VarValue::Float(*f),
        K::Str { value, .. } => VarValue::String(value.clone()),
        K::Bool(b) => VarValue::Bool(*b),
        K::Duration { nanos, .. } => VarValue::Duration(*nanos),
        K::Regex(r) => VarValue::Regex(r.clone()),
        K::Star => VarValue::Star,
        K::List(items) => VarValue::List(items.iter().map(literal).collect::<Option<_>>()?),
        _ => return None,
    })
}

/// The vars a script declares that a task from it may set, in script order: typed
/// declarations, and declarations of a literal value or a lambda.
pub fn declared_vars(script: &str) -> Result<Vec<DeclaredVar>, TickError> {
    let program = parse(script)?;
    let mut out = Vec::new();
    for s in &program.statements {
        match &s.kind {
            ast::NodeKind::TypeDecl {
                name, type_name, ..
            } => out.push(DeclaredVar {
                name: name.clone(),
                type_name: if type_name == "bool" {
                    "boolean".into()
                } else {
                    type_name.clone()
                },
                value: None,
            }),
            ast::NodeKind::Decl { name, value, .. } => {
                if let ast::NodeKind::Lambda(_) = value.kind {
                    out.push(DeclaredVar {
                        name: name.clone(),
                        type_name: "lambda".into(),
                        value: None,
                    });
                } else if let Some(v) = literal(value) {
                    out.push(DeclaredVar {
                        name: name.clone(),
                        type_name: v.type_name().into(),
                        value: Some(v),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A stand-in value of a type, to check a template whose typed vars have no value yet.
pub fn placeholder(type_name: &str) -> Option<VarValue> {
    Some(match type_name {
        "int" => VarValue::Int(1),
        "float" => VarValue::Float(1.0),
        "boolean" | "bool" => VarValue::Bool(true),
        "string" => VarValue::String("x".into()),
        "duration" => VarValue::Duration(1_000_000_000),
        "regex" => VarValue::Regex(".*".into()),
        "lambda" => VarValue::Lambda("TRUE".into()),
        "star" => VarValue::Star,
        "list" => VarValue::List(vec![VarValue::String("x".into())]),
        _ => return None,
    })
}

/// Options for [`compile`].
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// dbrps given out of band (the define request). Giving them both here and in the
    /// script is an error, as in Kapacitor.
    pub dbrps: Vec<Dbrp>,
    /// Require at least one dbrp (Kapacitor does; tests may not).
    pub require_dbrp: bool,
    /// The declared task type; `None` infers it from `stream`/`batch` in the script.
    pub task_type: Option<TaskType>,
    /// Template var values, overriding declarations.
    pub vars: BTreeMap<String, VarValue>,
}

impl CheckOptions {
    /// Options as Kapacitor's define applies them: a dbrp is required.
    pub fn strict() -> Self {
        CheckOptions {
            require_dbrp: true,
            ..Default::default()
        }
    }
}

/// Parses a script.
pub fn parse(script: &str) -> Result<ast::Program, TickError> {
    parser::parse_program(script)
}

/// Parses and checks a script into a task graph.
pub fn compile(script: &str, opts: &CheckOptions) -> Result<TaskGraph, TickError> {
    let program = parse(script)?;
    check::check(&program, opts)
}

#[cfg(test)]
mod lambda_tests;
