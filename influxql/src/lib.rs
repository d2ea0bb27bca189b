//! InfluxQL: lexer, parser and AST with InfluxDB 1.x's (1.6.7) syntax and error messages.
//! Pure: no I/O, no execution.
//!
//! Module map:
//! - [`error`]: [`ParseError`], rendered exactly like 1.x (`found X, expected Y at line L, char C`).
//! - `token`: token kinds, keyword table, operator precedence.
//! - `lexer`: 1.x's rune reader / scanner / unscan buffer, reproduced for identical positions.
//! - [`ast`]: statements and expressions ([`Query`], [`Statement`], [`SelectStatement`], [`Expr`]).
//! - `display`: `Display` for the AST, printing canonical InfluxQL that parses back to the same tree.
//! - `parser`: recursive descent (`mod.rs` expressions, `select.rs`, `statements.rs`).
//! - [`duration`]: duration literals (`1h30m`) to/from nanoseconds.
//! - `regex_check`: parse-time regex checks with Go's error texts.
//!
//! Entry points: [`parse_query`], [`parse_query_with_params`], [`parse_query_opts`]
//! (limits, tz validation), [`parse_statement`], [`parse_expr`].

pub mod ast;
mod display;
pub mod duration;
pub mod error;
mod lexer;
mod parser;
mod regex_check;
mod token;

pub use ast::*;
pub use display::{ident_needs_quotes, quote_ident, quote_string};
pub use duration::{format_duration, format_go_duration, parse_duration};
pub use error::ParseError;

use std::collections::HashMap;
use token::Tok;

/// A bound parameter value for `$name` placeholders (the `params` JSON of `/query`).
///
/// Substitution happens at the token level, exactly as in 1.x: the placeholder is
/// replaced by a token of the value's kind, so a string value becomes a string literal
/// (not an identifier) and so on.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A JSON number with a fraction: float literal.
    Float(f64),
    /// A JSON integer: integer literal.
    Integer(i64),
    /// A JSON string: string literal (`'...'`).
    String(String),
    /// A JSON bool: `true` / `false`.
    Boolean(bool),
    /// `{"identifier": "x"}`: an identifier (field, tag, measurement name).
    Identifier(String),
    /// `{"regex": "..."}`: a regex literal (only where 1.x accepts a regex token).
    Regex(String),
    /// `{"duration": "5m"}` (already parsed, in ns): a duration literal.
    Duration(i64),
}

impl ParamValue {
    fn token(&self) -> (Tok, String) {
        match self {
            ParamValue::Float(v) => (Tok::Number, format!("{v}")),
            ParamValue::Integer(v) => (Tok::Integer, v.to_string()),
            ParamValue::String(s) => (Tok::Str, s.clone()),
            ParamValue::Boolean(true) => (Tok::True, String::new()),
            ParamValue::Boolean(false) => (Tok::False, String::new()),
            ParamValue::Identifier(s) => (Tok::Ident, s.clone()),
            ParamValue::Regex(s) => (Tok::Regex, s.clone()),
            ParamValue::Duration(d) => (Tok::DurationVal, format_duration(*d)),
        }
    }
}

/// Parser limits and hooks.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Maximum nesting of parentheses, function calls, unary signs and subqueries
    /// (default 64). Deeper input fails with a positioned error instead of exhausting
    /// the stack.
    pub max_depth: usize,
    /// Maximum depth of an expression tree, operator chains included (default 1000).
    /// Bounds the recursion of `Display`, `Drop` and executors walking the tree.
    pub max_expr_depth: usize,
    /// Validates `tz('...')` names. 1.x fails with `unable to find time zone X` for
    /// unknown zones; this crate has no tz database, so the caller supplies the check.
    /// `None` accepts every name.
    pub tz_validator: Option<fn(&str) -> bool>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_depth: 64,
            max_expr_depth: 1000,
            tz_validator: None,
        }
    }
}

/// Parses one or more `;`-separated statements (empty statements are skipped).
pub fn parse_query(q: &str) -> Result<Query, ParseError> {
    parse_query_opts(q, None, &ParseOptions::default())
}

/// [`parse_query`] with bound parameters: `$name` tokens are replaced by `params[name]`.
/// A placeholder without a value fails with `missing parameter: name`.
pub fn parse_query_with_params(
    q: &str,
    params: &HashMap<String, ParamValue>,
) -> Result<Query, ParseError> {
    parse_query_opts(q, Some(params), &ParseOptions::default())
}

/// [`parse_query`] with explicit parameters and options.
pub fn parse_query_opts(
    q: &str,
    params: Option<&HashMap<String, ParamValue>>,
    opts: &ParseOptions,
) -> Result<Query, ParseError> {
    parser::Parser::new(q, params, opts).parse_query()
}

/// Parses exactly one statement; trailing input after it is ignored, as in 1.x's
/// `ParseStatement` (use [`parse_query`] for strict whole-input parsing).
pub fn parse_statement(s: &str) -> Result<Statement, ParseError> {
    let opts = ParseOptions::default();
    parser::Parser::new(s, None, &opts).parse_statement()
}

/// Parses a single expression (trailing input is ignored, as in 1.x's `ParseExpr`).
pub fn parse_expr(s: &str) -> Result<Expr, ParseError> {
    let opts = ParseOptions::default();
    parser::Parser::new(s, None, &opts).parse_expr()
}
