//! SELECT statement clauses.

use super::{PResult, Parser, TargetReq};
use crate::ast::*;
use crate::error::ParseError;
use crate::token::Tok;

impl Parser<'_, '_> {
    /// Parses a SELECT after the `SELECT` keyword.
    pub(crate) fn parse_select_statement(&mut self, tr: TargetReq) -> PResult<SelectStatement> {
        let fields = self.parse_fields()?;
        let into = self.parse_target(tr)?;
        let t = self.scan_ignore_ws();
        if t.tok != Tok::From {
            return Err(Self::unexpected(&t, &["FROM"]));
        }
        let sources = self.parse_sources(true)?;
        let condition = self.parse_condition()?;
        let dimensions = self.parse_dimensions()?;
        let fill = self.parse_fill()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_optional_token_and_int(Tok::Limit)?;
        let offset = self.parse_optional_token_and_int(Tok::Offset)?;
        let slimit = self.parse_optional_token_and_int(Tok::Slimit)?;
        let soffset = self.parse_optional_token_and_int(Tok::Soffset)?;
        let timezone = self.parse_location()?;
        Ok(SelectStatement {
            fields,
            into,
            sources,
            condition,
            dimensions,
            fill,
            order_by,
            limit,
            offset,
            slimit,
            soffset,
            timezone,
        })
    }

    fn parse_fields(&mut self) -> PResult<Vec<Field>> {
        let mut fields = Vec::new();
        loop {
            fields.push(self.parse_field()?);
            // 1.x uses a whitespace-sensitive scan here; parse_field ate trailing blanks.
            if self.scan().tok != Tok::Comma {
                self.unscan();
                return Ok(fields);
            }
        }
    }

    fn parse_field(&mut self) -> PResult<Field> {
        let expr = if let Some(r) = self.parse_regex()? {
            Expr::Regex(r)
        } else {
            let pos = self.scan_ignore_ws().pos;
            self.unscan();
            let expr = self.parse_expr()?;
            if let Some(op) = invalid_field_op(&expr) {
                // 1.x returns this as a plain error with the position baked into the text.
                return Err(ParseError::plain(format!(
                    "invalid operator {} in SELECT clause at line {}, char {}; operator is intended for WHERE clause",
                    op.as_str(),
                    pos.line + 1,
                    pos.char + 1
                )));
            }
            expr
        };
        let alias = self.parse_alias()?;
        self.consume_whitespace();
        Ok(Field { expr, alias })
    }

    fn parse_alias(&mut self) -> PResult<Option<String>> {
        if self.scan_ignore_ws().tok != Tok::As {
            self.unscan();
            return Ok(None);
        }
        self.parse_ident().map(Some)
    }

    fn parse_target(&mut self, tr: TargetReq) -> PResult<Option<Target>> {
        let t = self.scan_ignore_ws();
        if t.tok != Tok::Into {
            if tr == TargetReq::Required {
                return Err(Self::unexpected(&t, &["INTO"]));
            }
            self.unscan();
            return Ok(None);
        }
        let mut idents = self.parse_segmented_idents()?;
        if idents.len() < 3 && self.peek_rune() == ':' {
            self.expect_tokens(&[Tok::Colon, Tok::Measurement])?;
            idents.push(String::new());
        }
        let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
        let (database, retention_policy, name) = match idents.as_slice() {
            [n] => (None, None, n.clone()),
            [rp, n] => (None, non_empty(rp), n.clone()),
            [db, rp, n, ..] => (non_empty(db), non_empty(rp), n.clone()),
            [] => (None, None, String::new()),
        };
        Ok(Some(Target {
            database,
            retention_policy,
            measurement: (!name.is_empty()).then_some(name),
        }))
    }

    pub(crate) fn parse_sources(&mut self, subqueries: bool) -> PResult<Vec<Source>> {
        let mut out = Vec::new();
        loop {
            out.push(self.parse_source(subqueries)?);
            if self.scan_ignore_ws().tok != Tok::Comma {
                self.unscan();
                return Ok(out);
            }
        }
    }

    pub(crate) fn parse_source(&mut self, subqueries: bool) -> PResult<Source> {
        if let Some(r) = self.parse_regex()? {
            return Ok(Source::Measurement(Measurement {
                database: None,
                retention_policy: None,
                name: MeasurementName::Regex(r),
            }));
        }
        if subqueries {
            let t = self.scan_ignore_ws();
            if t.tok == Tok::LParen {
                self.expect_tokens(&[Tok::Select])?;
                self.enter(t.pos)?;
                let stmt = self.parse_select_statement(TargetReq::Subquery)?;
                self.leave();
                self.expect_tokens(&[Tok::RParen])?;
                return Ok(Source::SubQuery(Box::new(stmt)));
            }
            self.unscan();
        }
        let idents = self.parse_segmented_idents()?;
        let opt = |s: &String| (!s.is_empty()).then(|| s.clone());
        if let [db, rp, name] = idents.as_slice() {
            return Ok(Source::Measurement(Measurement {
                database: opt(db),
                retention_policy: opt(rp),
                name: MeasurementName::Name(name.clone()),
            }));
        }
        let re = self.parse_regex()?;
        let m = match (idents.as_slice(), re) {
            ([rp], Some(r)) => Measurement {
                database: None,
                retention_policy: opt(rp),
                name: MeasurementName::Regex(r),
            },
            ([name], None) => Measurement {
                database: None,
                retention_policy: None,
                name: MeasurementName::Name(name.clone()),
            },
            ([db, rp], Some(r)) => Measurement {
                database: opt(db),
                retention_policy: opt(rp),
                name: MeasurementName::Regex(r),
            },
            ([rp, name], None) => Measurement {
                database: None,
                retention_policy: opt(rp),
                name: MeasurementName::Name(name.clone()),
            },
            // parse_segmented_idents returns 1..=3 segments; 3 was handled above.
            (_, re) => Measurement {
                database: None,
                retention_policy: None,
                name: match re {
                    Some(r) => MeasurementName::Regex(r),
                    None => MeasurementName::Name(String::new()),
                },
            },
        };
        Ok(Source::Measurement(m))
    }

    pub(crate) fn parse_condition(&mut self) -> PResult<Option<Expr>> {
        if self.scan_ignore_ws().tok != Tok::Where {
            self.unscan();
            return Ok(None);
        }
        self.parse_expr().map(Some)
    }

    pub(crate) fn parse_dimensions(&mut self) -> PResult<Vec<Expr>> {
        if self.scan_ignore_ws().tok != Tok::Group {
            self.unscan();
            return Ok(Vec::new());
        }
        let t = self.scan_ignore_ws();
        if t.tok != Tok::By {
            return Err(Self::unexpected(&t, &["BY"]));
        }
        let mut dims = Vec::new();
        loop {
            let d = match self.parse_regex()? {
                Some(r) => Expr::Regex(r),
                None => {
                    let e = self.parse_expr()?;
                    self.consume_whitespace();
                    e
                }
            };
            dims.push(d);
            if self.scan().tok != Tok::Comma {
                self.unscan();
                return Ok(dims);
            }
        }
    }

    fn parse_fill(&mut self) -> PResult<Fill> {
        let t = self.scan_ignore_ws();
        self.unscan();
        if t.tok != Tok::Ident || !t.lit.eq_ignore_ascii_case("fill") {
            return Ok(Fill::Null);
        }
        let Expr::Call(call) = self.parse_expr()? else {
            return Err(ParseError::plain("fill must be a function call"));
        };
        let [arg] = call.args.as_slice() else {
            return Err(ParseError::plain(
                "fill requires an argument, e.g.: 0, null, none, previous, linear",
            ));
        };
        // 1.x compares the argument's printed form, so `fill(NULL)` is an error.
        Ok(match arg.to_string().as_str() {
            "null" => Fill::Null,
            "none" => Fill::None,
            "previous" => Fill::Previous,
            "linear" => Fill::Linear,
            _ => match arg {
                Expr::Integer(i) => Fill::Integer(*i),
                Expr::Number(v) => Fill::Float(*v),
                _ => return Err(ParseError::plain("expected number argument in fill()")),
            },
        })
    }

    fn parse_location(&mut self) -> PResult<Option<String>> {
        let t = self.scan_ignore_ws();
        self.unscan();
        if t.tok != Tok::Ident || !t.lit.eq_ignore_ascii_case("tz") {
            return Ok(None);
        }
        let Expr::Call(call) = self.parse_expr()? else {
            return Err(ParseError::plain("tz must be a function call"));
        };
        let [arg] = call.args.as_slice() else {
            return Err(ParseError::plain("tz requires exactly one argument"));
        };
        let Expr::String(name) = arg else {
            return Err(ParseError::plain("expected string argument in tz()"));
        };
        if let Some(valid) = self.opts.tz_validator
            && !valid(name)
        {
            return Err(ParseError::plain(format!(
                "unable to find time zone {name}"
            )));
        }
        Ok(Some(name.clone()))
    }

    pub(crate) fn parse_order_by(&mut self) -> PResult<Option<SortField>> {
        if self.scan_ignore_ws().tok != Tok::Order {
            self.unscan();
            return Ok(None);
        }
        let t = self.scan_ignore_ws();
        if t.tok != Tok::By {
            return Err(Self::unexpected(&t, &["BY"]));
        }
        let only_time = || ParseError::plain("only ORDER BY time supported at this time");
        let t = self.scan_ignore_ws();
        let first = match t.tok {
            Tok::Asc | Tok::Desc => SortField {
                name: None,
                ascending: t.tok == Tok::Asc,
            },
            Tok::Ident => {
                self.unscan();
                let f = self.parse_sort_field()?;
                if t.lit != "time" {
                    return Err(only_time());
                }
                f
            }
            _ => return Err(Self::unexpected(&t, &["identifier", "ASC", "DESC"])),
        };
        let mut extra = false;
        loop {
            if self.scan_ignore_ws().tok != Tok::Comma {
                self.unscan();
                break;
            }
            self.parse_sort_field()?;
            extra = true;
        }
        if extra {
            return Err(only_time());
        }
        Ok(Some(first))
    }

    fn parse_sort_field(&mut self) -> PResult<SortField> {
        let name = self.parse_ident()?;
        let t = self.scan_ignore_ws();
        let ascending = match t.tok {
            Tok::Asc => true,
            Tok::Desc => false,
            _ => {
                self.unscan();
                true
            }
        };
        Ok(SortField {
            name: Some(name),
            ascending,
        })
    }
}

/// 1.x walks the field expression in pre-order and reports the *last* maximal
/// comparison/logical operator it meets (it does not descend below one).
fn invalid_field_op(e: &Expr) -> Option<BinaryOp> {
    let mut found = None;
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Binary(b) if b.op.is_boolean() => found = Some(b.op),
            Expr::Binary(b) => {
                // Push RHS first so LHS is visited first (pre-order).
                stack.push(&b.rhs);
                stack.push(&b.lhs);
            }
            Expr::Paren(inner) => stack.push(inner),
            Expr::Call(c) => stack.extend(c.args.iter().rev()),
            _ => {}
        }
    }
    found
}
