//! Recursive-descent parser mirroring 1.x's `parser.go`, including where it scans with or
//! without skipping whitespace (that decides several error positions and texts).
//!
//! Split: this file holds the token plumbing and expressions; `select.rs` the SELECT
//! clauses; `statements.rs` statement dispatch, SHOW and DDL; `admin.rs` continuous
//! queries, users and privileges.

mod admin;
mod select;
mod statements;

use crate::ast::*;
use crate::duration::parse_duration;
use crate::error::{ParseError, Pos};
use crate::lexer::{Lexer, Token};
use crate::token::{Tok, tokstr};
use crate::{ParamValue, ParseOptions};
use std::collections::HashMap;

type PResult<T> = Result<T, ParseError>;

/// Whether a SELECT needs, allows or is inside something that decides its `INTO`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetReq {
    Required,
    NotRequired,
    Subquery,
}

pub(crate) struct Parser<'a, 'p> {
    lx: Lexer<'a>,
    params: Option<&'p HashMap<String, ParamValue>>,
    opts: &'p ParseOptions,
    depth: usize,
}

impl<'a, 'p> Parser<'a, 'p> {
    pub(crate) fn new(
        s: &'a str,
        params: Option<&'p HashMap<String, ParamValue>>,
        opts: &'p ParseOptions,
    ) -> Self {
        Parser {
            lx: Lexer::new(s),
            params,
            opts,
            depth: 0,
        }
    }

    // ---- token plumbing -------------------------------------------------------------

    /// Replaces a bound parameter token by its value's token, as 1.x does at scan time.
    fn substitute(&self, mut t: Token) -> Token {
        if t.tok == Tok::BoundParam {
            let key = t.lit.strip_prefix('$').unwrap_or(&t.lit);
            if !key.is_empty()
                && let Some(v) = self.params.and_then(|p| p.get(key))
            {
                let (tok, lit) = v.token();
                t.tok = tok;
                t.lit = lit;
            }
        }
        t
    }

    fn scan(&mut self) -> Token {
        let t = self.lx.scan();
        self.substitute(t)
    }

    fn scan_regex_tok(&mut self) -> Token {
        let t = self.lx.scan_regex();
        self.substitute(t)
    }

    fn scan_ignore_ws(&mut self) -> Token {
        loop {
            let t = self.scan();
            if t.tok != Tok::Ws && t.tok != Tok::Comment {
                return t;
            }
        }
    }

    fn unscan(&mut self) {
        self.lx.unscan();
    }

    fn peek_rune(&mut self) -> char {
        self.lx.peek_rune()
    }

    fn consume_whitespace(&mut self) {
        if self.scan().tok != Tok::Ws {
            self.unscan();
        }
    }

    fn unexpected(t: &Token, expected: &[&str]) -> ParseError {
        ParseError::unexpected(&tokstr(t.tok, &t.lit), expected, t.pos)
    }

    /// Consumes exactly this sequence of tokens.
    fn expect_tokens(&mut self, toks: &[Tok]) -> PResult<()> {
        for want in toks {
            let t = self.scan_ignore_ws();
            if t.tok != *want {
                return Err(Self::unexpected(&t, &[want.as_str()]));
            }
        }
        Ok(())
    }

    /// Enters one nesting level (paren, call, unary sign, subquery).
    fn enter(&mut self, pos: Pos) -> PResult<()> {
        self.depth += 1;
        if self.depth > self.opts.max_depth {
            return Err(ParseError::at(
                format!(
                    "query is nested too deeply (more than {} levels of parentheses, calls or subqueries)",
                    self.opts.max_depth
                ),
                pos,
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ---- small grammar pieces -----------------------------------------------------

    pub(crate) fn parse_ident(&mut self) -> PResult<String> {
        let t = self.scan_ignore_ws();
        if t.tok != Tok::Ident {
            return Err(Self::unexpected(&t, &["identifier"]));
        }
        Ok(t.lit)
    }

    fn parse_ident_list(&mut self) -> PResult<Vec<String>> {
        let mut out = vec![self.parse_ident()?];
        loop {
            if self.scan_ignore_ws().tok != Tok::Comma {
                self.unscan();
                return Ok(out);
            }
            out.push(self.parse_ident()?);
        }
    }

    /// `a`, `a.b`, `a.b.c`, `a..c` (empty middle segment); stops before `/` or `:`.
    fn parse_segmented_idents(&mut self) -> PResult<Vec<String>> {
        let mut idents = vec![self.parse_ident()?];
        loop {
            if self.scan().tok != Tok::Dot {
                self.unscan();
                break;
            }
            match self.peek_rune() {
                '/' | ':' => break,
                '.' => {
                    idents.push(String::new());
                    continue;
                }
                _ => {}
            }
            idents.push(self.parse_ident()?);
        }
        if idents.len() > 3 {
            return Err(ParseError::at(
                format!("too many segments in {}", quote_segments(&idents)),
                Pos::default(),
            ));
        }
        Ok(idents)
    }

    fn parse_string(&mut self) -> PResult<String> {
        let t = self.scan_ignore_ws();
        if t.tok != Tok::Str {
            return Err(Self::unexpected(&t, &["string"]));
        }
        Ok(t.lit)
    }

    fn parse_string_list(&mut self) -> PResult<Vec<String>> {
        let mut out = vec![self.parse_string()?];
        loop {
            if self.scan_ignore_ws().tok != Tok::Comma {
                self.unscan();
                return Ok(out);
            }
            out.push(self.parse_string()?);
        }
    }

    /// An integer in `[min, max]` (1.x's `ParseInt`, used for REPLICATION).
    fn parse_int(&mut self, min: i64, max: i64) -> PResult<i64> {
        let t = self.scan_ignore_ws();
        if t.tok != Tok::Integer {
            return Err(Self::unexpected(&t, &["integer"]));
        }
        let n: i64 = t.lit.parse().map_err(|_| {
            ParseError::at(
                format!("strconv.Atoi: parsing {:?}: value out of range", t.lit),
                t.pos,
            )
        })?;
        if n < min || n > max {
            return Err(ParseError::at(
                format!("invalid value {n}: must be {min} <= n <= {max}"),
                t.pos,
            ));
        }
        Ok(n)
    }

    fn parse_uint64(&mut self) -> PResult<u64> {
        let t = self.scan_ignore_ws();
        if t.tok != Tok::Integer {
            return Err(Self::unexpected(&t, &["integer"]));
        }
        t.lit.parse().map_err(|_| {
            let why = if t.lit.starts_with('-') {
                "invalid syntax"
            } else {
                "value out of range"
            };
            ParseError::at(
                format!("strconv.ParseUint: parsing {:?}: {why}", t.lit),
                t.pos,
            )
        })
    }

    /// A duration value or `INF` (= 0) after DURATION-like keywords.
    fn parse_duration_value(&mut self) -> PResult<i64> {
        let t = self.scan_ignore_ws();
        match t.tok {
            Tok::Inf => Ok(0),
            Tok::DurationVal => {
                parse_duration(&t.lit).map_err(|e| ParseError::at(e.to_string(), t.pos))
            }
            _ => Err(Self::unexpected(&t, &["duration"])),
        }
    }

    /// `<KEYWORD> <integer>` if the keyword is next; 0 otherwise.
    fn parse_optional_token_and_int(&mut self, kw: Tok) -> PResult<u64> {
        if self.scan_ignore_ws().tok != kw {
            self.unscan();
            return Ok(0);
        }
        let t = self.scan_ignore_ws();
        if t.tok != Tok::Integer {
            return Err(Self::unexpected(&t, &["integer"]));
        }
        // 1.x ignores the conversion error, which saturates.
        let n: i64 = t.lit.parse().unwrap_or(if t.lit.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        });
        if n < 0 {
            return Err(ParseError::at(
                format!("{} must be >= 0", kw.as_str()),
                t.pos,
            ));
        }
        Ok(n as u64)
    }

    // ---- expressions ----------------------------------------------------------------

    /// Binary expression with 1.x's precedence climbing (left-associative).
    pub(crate) fn parse_expr(&mut self) -> PResult<Expr> {
        let start = self.scan_ignore_ws().pos;
        self.unscan();
        let mut root = self.parse_unary_expr()?;
        let mut ops = 0usize;
        loop {
            let t = self.scan_ignore_ws();
            let Some(op) = binary_op(t.tok) else {
                self.unscan();
                break;
            };
            ops += 1;
            if ops > self.opts.max_expr_depth {
                return Err(too_deep(self.opts.max_expr_depth, start));
            }
            let rhs = if matches!(op, BinaryOp::EqRegex | BinaryOp::NeqRegex) {
                match self.parse_regex()? {
                    Some(r) => Expr::Regex(r),
                    None => {
                        let t = self.scan_ignore_ws();
                        return Err(Self::unexpected(&t, &["regex"]));
                    }
                }
            } else {
                self.parse_unary_expr()?
            };
            insert_binary(&mut root, op, rhs);
        }
        if ops > 0 && expr_depth(&root) > self.opts.max_expr_depth {
            return Err(too_deep(self.opts.max_expr_depth, start));
        }
        Ok(root)
    }

    fn parse_unary_expr(&mut self) -> PResult<Expr> {
        let t = self.scan_ignore_ws();
        if t.tok == Tok::LParen {
            self.enter(t.pos)?;
            let e = self.parse_expr()?;
            let t = self.scan_ignore_ws();
            if t.tok != Tok::RParen {
                return Err(Self::unexpected(&t, &[")"]));
            }
            self.leave();
            return Ok(Expr::Paren(Box::new(e)));
        }
        self.unscan();

        let t = self.scan_ignore_ws();
        match t.tok {
            Tok::Ident => {
                if self.scan().tok == Tok::LParen {
                    return self.parse_call(&t.lit, t.pos).map(Expr::Call);
                }
                self.unscan();
                self.unscan();
                self.parse_var_ref().map(Expr::VarRef)
            }
            Tok::Distinct => {
                let t0 = self.scan();
                if t0.tok == Tok::LParen {
                    return self.parse_call("distinct", t.pos).map(Expr::Call);
                } else if t0.tok == Tok::Ws {
                    let t1 = self.scan_ignore_ws();
                    if t1.tok != Tok::Ident {
                        return Err(Self::unexpected(&t1, &["identifier"]));
                    }
                    return Ok(Expr::Distinct(t1.lit));
                }
                Err(Self::unexpected(&t0, &["(", "identifier"]))
            }
            Tok::Str => Ok(Expr::String(t.lit)),
            Tok::Number => match t.lit.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Expr::Number(v)),
                _ => Err(ParseError::at("unable to parse number", t.pos)),
            },
            Tok::Integer => t
                .lit
                .parse::<i64>()
                .map(Expr::Integer)
                .map_err(|_| ParseError::at("unable to parse integer", t.pos)),
            Tok::True => Ok(Expr::Boolean(true)),
            Tok::False => Ok(Expr::Boolean(false)),
            Tok::DurationVal => parse_duration(&t.lit)
                .map(Expr::Duration)
                .map_err(|e| ParseError::plain(e.to_string())),
            Tok::Mul => {
                if self.scan().tok == Tok::DoubleColon {
                    let t = self.scan();
                    return match t.tok {
                        Tok::Field => Ok(Expr::Wildcard(WildcardType::Field)),
                        Tok::Tag => Ok(Expr::Wildcard(WildcardType::Tag)),
                        _ => Err(Self::unexpected(&t, &["field", "tag"])),
                    };
                }
                self.unscan();
                Ok(Expr::Wildcard(WildcardType::All))
            }
            Tok::Regex => {
                let r = Regex(t.lit);
                crate::regex_check::check(&r.0).map_err(|m| ParseError::at(m, t.pos))?;
                Ok(Expr::Regex(r))
            }
            Tok::BoundParam => {
                let key = t.lit.strip_prefix('$').unwrap_or(&t.lit);
                if key.is_empty() {
                    return Err(ParseError::plain("empty bound parameter"));
                }
                Err(ParseError::plain(format!("missing parameter: {key}")))
            }
            Tok::Add | Tok::Sub => {
                let negative = t.tok == Tok::Sub;
                let t0 = self.scan_ignore_ws();
                match t0.tok {
                    Tok::Number | Tok::Integer | Tok::DurationVal | Tok::LParen | Tok::Ident => {
                        self.unscan();
                        self.enter(t.pos)?;
                        let e = self.parse_unary_expr()?;
                        self.leave();
                        let mul: i64 = if negative { -1 } else { 1 };
                        Ok(match e {
                            Expr::Number(v) => Expr::Number(v * mul as f64),
                            Expr::Integer(v) => Expr::Integer(v.wrapping_mul(mul)),
                            Expr::Duration(v) => Expr::Duration(v.wrapping_mul(mul)),
                            other => Expr::Binary(Box::new(BinaryExpr {
                                op: BinaryOp::Mul,
                                lhs: Expr::Integer(mul),
                                rhs: other,
                            })),
                        })
                    }
                    _ => Err(Self::unexpected(
                        &t0,
                        &["identifier", "number", "duration", "("],
                    )),
                }
            }
            _ => Err(Self::unexpected(
                &t,
                &["identifier", "string", "number", "bool"],
            )),
        }
    }

    /// Call arguments; assumes `name(` has been consumed.
    fn parse_call(&mut self, name: &str, pos: Pos) -> PResult<Call> {
        self.enter(pos)?;
        let name = name.to_lowercase();
        let mut args = Vec::new();
        if let Some(r) = self.parse_regex()? {
            args.push(Expr::Regex(r));
        } else {
            if self.scan().tok == Tok::RParen {
                self.leave();
                return Ok(Call { name, args });
            }
            self.unscan();
            args.push(self.parse_expr()?);
        }
        loop {
            if self.scan_ignore_ws().tok != Tok::Comma {
                self.unscan();
                break;
            }
            if let Some(r) = self.parse_regex()? {
                args.push(Expr::Regex(r));
                continue;
            }
            args.push(self.parse_expr()?);
        }
        let t = self.scan();
        if t.tok != Tok::RParen {
            return Err(Self::unexpected(&t, &[")"]));
        }
        self.leave();
        Ok(Call { name, args })
    }

    fn parse_var_ref(&mut self) -> PResult<VarRef> {
        let segments = self.parse_segmented_idents()?;
        let mut data_type = None;
        if self.scan().tok == Tok::DoubleColon {
            let t = self.scan();
            data_type = Some(match t.tok {
                Tok::Ident => match t.lit.to_lowercase().as_str() {
                    "float" => DataType::Float,
                    "integer" => DataType::Integer,
                    "unsigned" => DataType::Unsigned,
                    "string" => DataType::String,
                    "boolean" => DataType::Boolean,
                    _ => {
                        return Err(Self::unexpected(
                            &t,
                            &[
                                "float", "integer", "unsigned", "string", "boolean", "field", "tag",
                            ],
                        ));
                    }
                },
                Tok::Field => DataType::Field,
                Tok::Tag => DataType::Tag,
                _ => {
                    return Err(Self::unexpected(
                        &t,
                        &["float", "integer", "string", "boolean", "field", "tag"],
                    ));
                }
            });
        } else {
            self.unscan();
        }
        Ok(VarRef {
            name: segments.join("."),
            data_type,
        })
    }

    /// A `/regex/` if the next non-blank rune is `/`; `None` otherwise.
    fn parse_regex(&mut self) -> PResult<Option<Regex>> {
        if matches!(self.peek_rune(), ' ' | '\t' | '\n') {
            self.consume_whitespace();
        }
        if self.peek_rune() != '/' {
            return Ok(None);
        }
        let t = self.scan_regex_tok();
        match t.tok {
            Tok::BadEscape => Err(ParseError::at(format!("bad escape: {}", t.lit), t.pos)),
            Tok::BadRegex => Err(ParseError::at(format!("bad regex: {}", t.lit), t.pos)),
            Tok::Regex => {
                crate::regex_check::check(&t.lit).map_err(|m| ParseError::at(m, t.pos))?;
                Ok(Some(Regex(t.lit)))
            }
            _ => Err(Self::unexpected(&t, &["regex"])),
        }
    }
}

fn too_deep(limit: usize, pos: Pos) -> ParseError {
    ParseError::at(
        format!("expression is too deeply nested (more than {limit} levels)"),
        pos,
    )
}

fn binary_op(t: Tok) -> Option<BinaryOp> {
    if !t.is_operator() {
        return None;
    }
    Some(match t {
        Tok::Add => BinaryOp::Add,
        Tok::Sub => BinaryOp::Sub,
        Tok::Mul => BinaryOp::Mul,
        Tok::Div => BinaryOp::Div,
        Tok::Mod => BinaryOp::Mod,
        Tok::BitAnd => BinaryOp::BitAnd,
        Tok::BitOr => BinaryOp::BitOr,
        Tok::BitXor => BinaryOp::BitXor,
        Tok::And => BinaryOp::And,
        Tok::Or => BinaryOp::Or,
        Tok::Eq => BinaryOp::Eq,
        Tok::Neq => BinaryOp::Neq,
        Tok::EqRegex => BinaryOp::EqRegex,
        Tok::NeqRegex => BinaryOp::NeqRegex,
        Tok::Lt => BinaryOp::Lt,
        Tok::Lte => BinaryOp::Lte,
        Tok::Gt => BinaryOp::Gt,
        Tok::Gte => BinaryOp::Gte,
        _ => return None,
    })
}

/// Hangs `op rhs` into the tree: descend the right spine past lower-precedence operators,
/// then make the subtree found there the new node's left operand (1.x's algorithm).
/// Recursion depth is bounded by the 5 precedence levels.
fn insert_binary(slot: &mut Expr, op: BinaryOp, rhs: Expr) {
    if let Expr::Binary(b) = slot
        && b.op.precedence() < op.precedence()
    {
        insert_binary(&mut b.rhs, op, rhs);
        return;
    }
    let lhs = std::mem::replace(slot, Expr::Boolean(false));
    *slot = Expr::Binary(Box::new(BinaryExpr { op, lhs, rhs }));
}

/// Tree depth without recursion (the tree may be deep; that is what is being checked).
fn expr_depth(e: &Expr) -> usize {
    let mut max = 0;
    let mut stack = vec![(e, 1usize)];
    while let Some((e, d)) = stack.pop() {
        max = max.max(d);
        match e {
            Expr::Binary(b) => {
                stack.push((&b.lhs, d + 1));
                stack.push((&b.rhs, d + 1));
            }
            Expr::Paren(inner) => stack.push((inner, d + 1)),
            Expr::Call(c) => stack.extend(c.args.iter().map(|a| (a, d + 1))),
            _ => {}
        }
    }
    max
}

/// 1.x's multi-segment `QuoteIdent` (used in the "too many segments" message): inner
/// non-empty segments are always quoted, empty ones only at either end.
fn quote_segments(segs: &[String]) -> String {
    let last = segs.len().saturating_sub(1);
    let mut out = String::new();
    for (i, s) in segs.iter().enumerate() {
        let need = (!s.is_empty() && crate::display::ident_needs_quotes(s))
            || (i < last && !s.is_empty())
            || ((i == 0 || i == last) && s.is_empty());
        let body = s
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        if need {
            out.push('"');
            out.push_str(&body);
            out.push('"');
        } else {
            out.push_str(&body);
        }
        if i < last {
            out.push('.');
        }
    }
    out
}
