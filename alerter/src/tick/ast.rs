//! The TICKscript syntax tree, as the parser builds it.
//!
//! Unlike Kapacitor's Go tree, a pipeline chain is stored flat (a head plus a list of
//! links) so that a script with thousands of property calls cannot build a deep tree.

use std::fmt;

/// A position in the script: byte offset, 1-based line, and 1-based byte column
/// ("char" in Kapacitor's messages, which counts bytes, not characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Byte offset from the start of the script.
    pub offset: usize,
    /// 1-based line number.
    pub line: usize,
    /// 1-based byte offset within the line.
    pub char: usize,
}

impl Pos {
    /// Computes line and char for a byte offset the way Kapacitor's lexer does.
    pub fn at(text: &str, offset: usize) -> Pos {
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let char = match before.iter().rposition(|&b| b == b'\n') {
            Some(i) => offset - i,
            None => offset + 1,
        };
        Pos { offset, line, char }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} char {}", self.line, self.char)
    }
}

/// Operators of lambda (and constant) expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Plus,
    Minus,
    Mult,
    Div,
    Mod,
    And,
    Or,
    Equal,
    NotEqual,
    Less,
    Greater,
    LessEqual,
    GreaterEqual,
    RegexEqual,
    RegexNotEqual,
    Not,
}

impl Op {
    /// The operator as written in TICKscript.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Plus => "+",
            Op::Minus => "-",
            Op::Mult => "*",
            Op::Div => "/",
            Op::Mod => "%",
            Op::And => "AND",
            Op::Or => "OR",
            Op::Equal => "==",
            Op::NotEqual => "!=",
            Op::Less => "<",
            Op::Greater => ">",
            Op::LessEqual => "<=",
            Op::GreaterEqual => ">=",
            Op::RegexEqual => "=~",
            Op::RegexNotEqual => "!~",
            Op::Not => "!",
        }
    }

    /// Binding strength of a binary operator (higher binds tighter), as in Kapacitor.
    pub fn precedence(self) -> u8 {
        match self {
            Op::Or => 0,
            Op::And => 1,
            Op::Equal | Op::NotEqual | Op::RegexEqual | Op::RegexNotEqual => 2,
            Op::Greater | Op::GreaterEqual | Op::Less | Op::LessEqual => 3,
            Op::Plus | Op::Minus => 4,
            Op::Mult | Op::Div | Op::Mod => 5,
            Op::Not => 6,
        }
    }

    /// True for `+ - * / %`.
    pub fn is_math(self) -> bool {
        matches!(self, Op::Plus | Op::Minus | Op::Mult | Op::Div | Op::Mod)
    }

    /// True for comparison and regex-match operators.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            Op::Equal
                | Op::NotEqual
                | Op::Less
                | Op::Greater
                | Op::LessEqual
                | Op::GreaterEqual
                | Op::RegexEqual
                | Op::RegexNotEqual
        )
    }

    /// True for `AND` and `OR`.
    pub fn is_logical(self) -> bool {
        matches!(self, Op::And | Op::Or)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a function is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncKind {
    /// `name(args)` on its own, or inside a lambda.
    Global,
    /// `|name(args)`: creates a child node.
    Chain,
    /// `.name(args)`: sets a property on the node to the left.
    Property,
    /// `@name(args)`: a user-defined function node.
    Dynamic,
}

/// The operator linking a chain step to what is on its left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainOp {
    /// `|`
    Pipe,
    /// `.`
    Dot,
    /// `@`
    At,
}

/// One step of a chain: `|call(...)`, `.call(...)`, `.ident` or `@call(...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Position of the operator.
    pub pos: Pos,
    /// Which operator.
    pub op: ChainOp,
    /// Position of the method name.
    pub name_pos: Pos,
    /// Method or property name.
    pub name: String,
    /// `None` for a bare `.ident` with no parentheses.
    pub args: Option<Vec<Node>>,
}

/// A syntax tree node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts (for binary nodes: the operator, as in Kapacitor).
    pub pos: Pos,
    /// What it is.
    pub kind: NodeKind,
}

/// The kinds of syntax tree nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `dbrp "db"."rp"`
    Dbrp { db: String, rp: String },
    /// `var name = value`
    Decl {
        name: String,
        name_pos: Pos,
        value: Box<Node>,
    },
    /// `var name type` (template declaration).
    TypeDecl {
        name: String,
        name_pos: Pos,
        type_name: String,
        type_pos: Pos,
    },
    /// A bare identifier (a var, or `stream`/`batch`).
    Ident(String),
    /// A double-quoted field/tag reference.
    Reference(String),
    /// A single- or triple-quoted string literal.
    Str { value: String, triple: bool },
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A duration literal, in nanoseconds, with its source text.
    Duration { nanos: i64, literal: String },
    /// `TRUE` or `FALSE`.
    Bool(bool),
    /// A `/regex/` literal (slash escapes already removed).
    Regex(String),
    /// `*`
    Star,
    /// `[a, 'b', *]`
    List(Vec<Node>),
    /// `lambda: expr`
    Lambda(Box<Node>),
    /// `-x` or `!x`
    Unary { op: Op, operand: Box<Node> },
    /// `a op b`
    Binary {
        op: Op,
        left: Box<Node>,
        right: Box<Node>,
    },
    /// A global function call `name(args)`.
    Call { name: String, args: Vec<Node> },
    /// `head |a() .b() ...`
    Chain { head: Box<Node>, links: Vec<Link> },
}

/// A parsed script: its statements in order. Comments are dropped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    /// Statements in source order.
    pub statements: Vec<Node>,
}

impl Node {
    /// Whether the tree below this node is deeper than `limit` (bounded work: stops
    /// looking once the limit is reached on a path).
    pub(crate) fn deeper_than(&self, limit: usize) -> bool {
        if limit == 0 {
            return true;
        }
        match &self.kind {
            NodeKind::Unary { operand, .. } => operand.deeper_than(limit - 1),
            NodeKind::Binary { left, right, .. } => {
                left.deeper_than(limit - 1) || right.deeper_than(limit - 1)
            }
            NodeKind::Lambda(e) => e.deeper_than(limit - 1),
            NodeKind::Decl { value, .. } => value.deeper_than(limit - 1),
            NodeKind::Call { args, .. } | NodeKind::List(args) => {
                args.iter().any(|a| a.deeper_than(limit - 1))
            }
            NodeKind::Chain { head, links } => {
                head.deeper_than(limit - 1)
                    || links
                        .iter()
                        .flat_map(|l| l.args.iter().flatten())
                        .any(|a| a.deeper_than(limit - 1))
            }
            _ => false,
        }
    }
}
