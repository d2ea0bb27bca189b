//! Recursive-descent parser mirroring Kapacitor's `tick/ast/parser.go`, so that the
//! "unexpected X line L char C in "...". expected: ..." messages come out the same.

use super::ast::{ChainOp, Link, Node, NodeKind, Op, Pos, Program};
use super::lexer::{Token, TokenType, lex};
use super::{ErrorKind, TickError};

/// Deepest nesting of parentheses, calls, lists and lambdas, and deepest expression
/// tree, that the parser accepts. Keeps evaluation recursion bounded.
pub const MAX_DEPTH: usize = 100;

const PRIMARY_EXPECTED: &[TokenType] = &[
    TokenType::Number,
    TokenType::String,
    TokenType::Duration,
    TokenType::Ident,
    TokenType::True,
    TokenType::False,
    TokenType::Equal,
    TokenType::LParen,
    TokenType::Minus,
    TokenType::Not,
];

pub(crate) struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    i: usize,
    depth: usize,
}

type PResult<T> = Result<T, TickError>;

/// Parses a whole script.
pub fn parse_program(text: &str) -> PResult<Program> {
    let mut p = Parser::new(text);
    let mut statements = Vec::new();
    while p.peek().typ != TokenType::Eof {
        statements.push(p.statement()?);
    }
    Ok(Program { statements })
}

/// Parses a bare lambda expression (the text after `lambda:`), as template vars give.
pub fn parse_lambda_expr(text: &str) -> PResult<Node> {
    let mut p = Parser::new(text);
    let n = p.primary_expr()?;
    p.expect(TokenType::Eof)?;
    Ok(n)
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        // Comments are transparent to the grammar.
        let tokens = lex(text)
            .into_iter()
            .filter(|t| t.typ != TokenType::Comment)
            .collect();
        Parser {
            text,
            tokens,
            i: 0,
            depth: 0,
        }
    }

    fn tok(&self, i: usize) -> Token {
        match self.tokens.get(i).or_else(|| self.tokens.last()) {
            Some(t) => t.clone(),
            None => Token {
                typ: TokenType::Eof,
                pos: self.text.len(),
                val: String::new(),
            },
        }
    }

    fn next(&mut self) -> Token {
        let t = self.tok(self.i);
        self.i += 1;
        t
    }

    fn backup(&mut self) {
        self.i = self.i.saturating_sub(1);
    }

    fn peek(&self) -> Token {
        self.tok(self.i)
    }

    fn pos(&self, offset: usize) -> Pos {
        Pos::at(self.text, offset)
    }

    fn error_at(&self, offset: usize, msg: String) -> TickError {
        let pos = self.pos(offset);
        TickError::new(ErrorKind::Parse, Some(pos), format!("parser: {msg}"))
    }

    fn expect(&mut self, typ: TokenType) -> PResult<Token> {
        let t = self.next();
        if t.typ != typ {
            return Err(self.unexpected(&t, &[typ]));
        }
        Ok(t)
    }

    fn unexpected(&self, tok: &Token, expected: &[TokenType]) -> TickError {
        const BUF: usize = 10;
        let text = self.text;
        let tpos = tok.pos.min(text.len());
        let mut start = tpos.saturating_sub(BUF);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        if let Some(i) = text[start..tpos].rfind('\n') {
            start += i + 1;
        }
        let mut stop = (tpos + BUF).min(text.len());
        while !text.is_char_boundary(stop) {
            stop -= 1;
        }
        if let Some(i) = text[tpos..stop].find('\n') {
            stop = tpos + i;
        }
        let pos = self.pos(tpos);
        let expected: Vec<String> = expected.iter().map(|t| format!("\"{t}\"")).collect();
        let tok_str = if tok.typ == TokenType::Error {
            tok.val.clone()
        } else {
            tok.typ.to_string()
        };
        TickError::new(
            ErrorKind::Parse,
            Some(pos),
            format!(
                "parser: unexpected {} line {} char {} in \"{}\". expected: {}",
                tok_str,
                pos.line,
                pos.char,
                &text[start..stop],
                expected.join(",")
            ),
        )
    }

    fn enter(&mut self, offset: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let pos = self.pos(offset);
            return Err(self.error_at(
                offset,
                format!("nesting deeper than {MAX_DEPTH} levels {pos}"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn statement(&mut self) -> PResult<Node> {
        match self.peek().typ {
            TokenType::Var => self.declaration(),
            TokenType::Dbrp => self.dbrp(),
            _ => self.expression(),
        }
    }

    fn dbrp(&mut self) -> PResult<Node> {
        let t = self.expect(TokenType::Dbrp)?;
        let db = self.expect(TokenType::Reference)?;
        self.expect(TokenType::Dot)?;
        let rp = self.expect(TokenType::Reference)?;
        Ok(Node {
            pos: self.pos(t.pos),
            kind: NodeKind::Dbrp {
                db: unquote_reference(&db.val),
                rp: unquote_reference(&rp.val),
            },
        })
    }

    fn declaration(&mut self) -> PResult<Node> {
        let var = self.expect(TokenType::Var)?;
        let name = self.expect(TokenType::Ident)?;
        let name_pos = self.pos(name.pos);
        if self.peek().typ == TokenType::Asgn {
            self.next();
            let value = self.expression()?;
            Ok(Node {
                pos: self.pos(var.pos),
                kind: NodeKind::Decl {
                    name: name.val,
                    name_pos,
                    value: Box::new(value),
                },
            })
        } else {
            let ty = self.expect(TokenType::Ident)?;
            Ok(Node {
                pos: self.pos(var.pos),
                kind: NodeKind::TypeDecl {
                    name: name.val,
                    name_pos,
                    type_name: ty.val,
                    type_pos: self.pos(ty.pos),
                },
            })
        }
    }

    fn expression(&mut self) -> PResult<Node> {
        let start = self.peek().pos;
        self.enter(start)?;
        let r = self.expression_inner();
        self.leave();
        r
    }

    fn expression_inner(&mut self) -> PResult<Node> {
        match self.peek().typ {
            TokenType::Ident => {
                self.next();
                match self.peek().typ {
                    TokenType::LParen => {
                        self.backup();
                        let term = self.global_call(false)?;
                        match self.peek().typ {
                            TokenType::Dot
                            | TokenType::Pipe
                            | TokenType::At
                            | TokenType::Var
                            | TokenType::Ident => self.chain(term),
                            _ => self.precedence(term, 0),
                        }
                    }
                    TokenType::Dot
                    | TokenType::At
                    | TokenType::Pipe
                    | TokenType::Var
                    | TokenType::Ident => {
                        self.backup();
                        let term = self.identifier()?;
                        self.chain(term)
                    }
                    _ => {
                        self.backup();
                        self.primary_expr()
                    }
                }
            }
            TokenType::Lambda => {
                let t = self.next();
                let e = self.primary_expr()?;
                Ok(Node {
                    pos: self.pos(t.pos),
                    kind: NodeKind::Lambda(Box::new(e)),
                })
            }
            TokenType::LSBracket => self.string_list(),
            _ => self.primary_expr(),
        }
    }

    fn chain(&mut self, head: Node) -> PResult<Node> {
        let mut links = Vec::new();
        while matches!(
            self.peek().typ,
            TokenType::Dot | TokenType::Pipe | TokenType::At
        ) {
            let op_tok = self.next();
            let op = match op_tok.typ {
                TokenType::Dot => ChainOp::Dot,
                TokenType::Pipe => ChainOp::Pipe,
                _ => ChainOp::At,
            };
            // Kapacitor: chaining methods always need parentheses; properties may omit them.
            self.next();
            let has_paren = self.peek().typ == TokenType::LParen;
            self.backup();
            let name = self.expect(TokenType::Ident)?;
            let args = if op == ChainOp::Pipe || has_paren {
                self.expect(TokenType::LParen)?;
                let args = self.parameters()?;
                self.expect(TokenType::RParen)?;
                Some(args)
            } else {
                None
            };
            links.push(Link {
                pos: self.pos(op_tok.pos),
                op,
                name_pos: self.pos(name.pos),
                name: name.val,
                args,
            });
        }
        if links.is_empty() {
            return Ok(head);
        }
        Ok(Node {
            pos: head.pos,
            kind: NodeKind::Chain {
                head: Box::new(head),
                links,
            },
        })
    }

    fn identifier(&mut self) -> PResult<Node> {
        let t = self.expect(TokenType::Ident)?;
        Ok(Node {
            pos: self.pos(t.pos),
            kind: NodeKind::Ident(t.val),
        })
    }

    /// `name(args)`; inside lambdas the arguments are lambda expressions.
    fn global_call(&mut self, in_lambda: bool) -> PResult<Node> {
        let ident = self.expect(TokenType::Ident)?;
        self.expect(TokenType::LParen)?;
        let args = if in_lambda {
            self.lparameters()?
        } else {
            self.parameters()?
        };
        self.expect(TokenType::RParen)?;
        Ok(Node {
            pos: self.pos(ident.pos),
            kind: NodeKind::Call {
                name: ident.val,
                args,
            },
        })
    }

    fn parameters(&mut self) -> PResult<Vec<Node>> {
        let mut args = Vec::new();
        loop {
            if self.peek().typ == TokenType::RParen {
                return Ok(args);
            }
            args.push(self.expression()?);
            if self.next().typ != TokenType::Comma {
                self.backup();
                return Ok(args);
            }
        }
    }

    fn lparameters(&mut self) -> PResult<Vec<Node>> {
        let mut args = Vec::new();
        loop {
            if self.peek().typ == TokenType::RParen {
                return Ok(args);
            }
            let mut n = self.primary()?;
            if self.peek().typ.binary_op().is_some() {
                n = self.precedence(n, 0)?;
            }
            args.push(n);
            if self.next().typ != TokenType::Comma {
                self.backup();
                return Ok(args);
            }
        }
    }

    fn string_list(&mut self) -> PResult<Node> {
        let t = self.expect(TokenType::LSBracket)?;
        let mut items = Vec::new();
        loop {
            if self.peek().typ == TokenType::RSBracket {
                break;
            }
            let item = self.peek();
            items.push(match item.typ {
                TokenType::Ident => self.identifier()?,
                TokenType::String => self.string()?,
                TokenType::Star => {
                    self.next();
                    Node {
                        pos: self.pos(item.pos),
                        kind: NodeKind::Star,
                    }
                }
                _ => {
                    return Err(self.unexpected(
                        &item,
                        &[TokenType::Ident, TokenType::String, TokenType::Star],
                    ));
                }
            });
            if self.next().typ != TokenType::Comma {
                self.backup();
                break;
            }
        }
        self.expect(TokenType::RSBracket)?;
        Ok(Node {
            pos: self.pos(t.pos),
            kind: NodeKind::List(items),
        })
    }

    fn primary_expr(&mut self) -> PResult<Node> {
        let p = self.primary()?;
        self.precedence(p, 0)
    }

    fn precedence(&mut self, mut lhs: Node, min_p: u8) -> PResult<Node> {
        let mut look = self.peek();
        while let Some(op) = look.typ.binary_op().filter(|o| o.precedence() >= min_p) {
            let op_tok = self.next();
            let mut rhs = self.primary()?;
            look = self.peek();
            while let Some(next) = look
                .typ
                .binary_op()
                .filter(|o| o.precedence() > op.precedence())
            {
                rhs = self.precedence(rhs, next.precedence())?;
                look = self.peek();
            }
            lhs = Node {
                pos: self.pos(op_tok.pos),
                kind: NodeKind::Binary {
                    op,
                    left: Box::new(lhs),
                    right: Box::new(rhs),
                },
            };
            if lhs.deeper_than(MAX_DEPTH) {
                let pos = self.pos(op_tok.pos);
                return Err(self.error_at(
                    op_tok.pos,
                    format!("expression deeper than {MAX_DEPTH} levels {pos}"),
                ));
            }
        }
        Ok(lhs)
    }

    fn primary(&mut self) -> PResult<Node> {
        let tok = self.peek();
        self.enter(tok.pos)?;
        let r = self.primary_inner(tok);
        self.leave();
        r
    }

    fn primary_inner(&mut self, tok: Token) -> PResult<Node> {
        let pos = self.pos(tok.pos);
        match tok.typ {
            TokenType::LParen => {
                self.next();
                let n = self.primary_expr()?;
                self.expect(TokenType::RParen)?;
                Ok(n)
            }
            TokenType::Number => {
                self.next();
                parse_number(&tok.val)
                    .map(|kind| Node { pos, kind })
                    .map_err(|m| self.error_at(tok.pos, m))
            }
            TokenType::String => self.string(),
            TokenType::True | TokenType::False => {
                self.next();
                Ok(Node {
                    pos,
                    kind: NodeKind::Bool(tok.typ == TokenType::True),
                })
            }
            TokenType::Duration => {
                self.next();
                let nanos = parse_duration(&tok.val).ok_or_else(|| {
                    self.error_at(tok.pos, format!("invalid duration {}", tok.val))
                })?;
                Ok(Node {
                    pos,
                    kind: NodeKind::Duration {
                        nanos,
                        literal: tok.val,
                    },
                })
            }
            TokenType::Regex => {
                self.next();
                let inner = &tok.val[1..tok.val.len() - 1];
                let pattern = inner.replace("\\/", "/");
                if let Err(e) = regex::Regex::new(&pattern) {
                    return Err(self.error_at(
                        tok.pos,
                        format!("error parsing regexp: {}", one_line(&e.to_string())),
                    ));
                }
                Ok(Node {
                    pos,
                    kind: NodeKind::Regex(pattern),
                })
            }
            TokenType::Star => {
                self.next();
                Ok(Node {
                    pos,
                    kind: NodeKind::Star,
                })
            }
            TokenType::Reference => {
                self.next();
                Ok(Node {
                    pos,
                    kind: NodeKind::Reference(unquote_reference(&tok.val)),
                })
            }
            TokenType::Ident => {
                self.next();
                let call = self.peek().typ == TokenType::LParen;
                self.backup();
                if call {
                    self.global_call(true)
                } else {
                    self.identifier()
                }
            }
            TokenType::Minus | TokenType::Not => {
                self.next();
                let operand = self.primary()?;
                let op = if tok.typ == TokenType::Minus {
                    Op::Minus
                } else {
                    Op::Not
                };
                Ok(Node {
                    pos,
                    kind: NodeKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                })
            }
            _ => Err(self.unexpected(&tok, PRIMARY_EXPECTED)),
        }
    }

    fn string(&mut self) -> PResult<Node> {
        let t = self.expect(TokenType::String)?;
        let (value, triple) = unquote_string(&t.val);
        Ok(Node {
            pos: self.pos(t.pos),
            kind: NodeKind::Str { value, triple },
        })
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Strips the quotes of a single- or triple-quoted string; `\'` is the only escape,
/// and only in single-quoted strings.
fn unquote_string(txt: &str) -> (String, bool) {
    if txt.len() >= 6 && txt.starts_with("'''") {
        return (txt[3..txt.len() - 3].to_string(), true);
    }
    let inner = &txt[1..txt.len() - 1];
    (inner.replace("\\'", "'"), false)
}

fn unquote_reference(txt: &str) -> String {
    txt[1..txt.len() - 1].replace("\\\"", "\"")
}

fn parse_number(text: &str) -> Result<NodeKind, String> {
    if text.contains('.') {
        return text
            .parse::<f64>()
            .map(NodeKind::Float)
            .map_err(|_| format!("strconv.ParseFloat: parsing {text:?}: invalid syntax"));
    }
    // Like Go's base-0 parsing, a leading 0 means octal (`.mode(0644)`).
    let (digits, radix) = if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    i64::from_str_radix(digits, radix)
        .map(NodeKind::Int)
        .map_err(|e| {
            let why = if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) {
                "value out of range"
            } else {
                "invalid syntax"
            };
            format!("strconv.ParseInt: parsing {text:?}: {why}")
        })
}

/// Parses a duration literal or an InfluxQL duration string such as `1h30m`.
/// Returns `None` on bad syntax or overflow.
pub fn parse_duration(text: &str) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1_000_000, 2)
        } else if rest.starts_with("ns") {
            (1, 2)
        } else if rest.starts_with('µ') {
            (1_000, 'µ'.len_utf8())
        } else {
            let unit = match rest.as_bytes().first()? {
                b'u' => 1_000,
                b's' => 1_000_000_000,
                b'm' => 60_000_000_000,
                b'h' => 3_600_000_000_000,
                b'd' => 86_400_000_000_000,
                b'w' => 604_800_000_000_000,
                _ => return None,
            };
            (unit, 1)
        };
        rest = &rest[len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kapacitor_parse_errors() {
        let e = parse_program("a\n\n\nvar b = ").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"parser: unexpected EOF line 4 char 9 in "var b = ". expected: "number","string","duration","identifier","TRUE","FALSE","==","(","-","!""#
        );
        let e =
            parse_program("a\n\n\nvar b = stream.window()var period)\n\nvar x = 1").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"parser: unexpected ) line 4 char 34 in "var period)". expected: "identifier""#
        );
        let e = parse_program("a\n\n\nvar b = stream.window(\nb.period(10s)").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"parser: unexpected EOF line 5 char 14 in "eriod(10s)". expected: ")""#
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(300_000_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("10µ"), Some(10_000));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("99999999999w"), None);
    }

    #[test]
    fn precedence_or_and() {
        let n = parse_lambda_expr("a OR b AND c").unwrap();
        match n.kind {
            NodeKind::Binary {
                op: Op::Or, right, ..
            } => {
                assert!(matches!(right.kind, NodeKind::Binary { op: Op::And, .. }))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn depth_limit() {
        let s = format!("var x = {}1{}", "(".repeat(200), ")".repeat(200));
        assert!(
            parse_program(&s)
                .unwrap_err()
                .to_string()
                .contains("nesting deeper")
        );
        let s = format!("var x = lambda: 1{}", " + 1".repeat(300));
        assert!(
            parse_program(&s)
                .unwrap_err()
                .to_string()
                .contains("deeper than")
        );
    }
}
