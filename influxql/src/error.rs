//! Parse errors rendered exactly like InfluxDB 1.x (`influxql.ParseError`).

use std::fmt;

/// An error produced while lexing or parsing InfluxQL.
///
/// `Display` renders the same text InfluxDB 1.6.7 puts after `error parsing query: `:
/// `found X, expected Y at line L, char C` (or `<message> at line L, char C`).
///
/// 1.x also returns a few *unpositioned* errors from the parser (`invalid duration`,
/// `expected number argument in fill()`, `missing parameter: x`, ...). Those carry
/// `line == 0 && char == 0` and print only the message, exactly as 1.x does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The message without the position suffix, e.g. `found FROM, expected identifier`.
    pub message: String,
    /// 1-based line of the offending token; 0 when the error has no position.
    pub line: usize,
    /// 1-based character (Unicode scalar) within that line; 0 when there is no position.
    pub char: usize,
}

/// A zero-based position as tracked by the lexer (1.x's `Pos`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub char: usize,
}

impl ParseError {
    /// `found <found>, expected <e1>, <e2> at <pos>`: 1.x's `newParseError`.
    pub(crate) fn unexpected(found: &str, expected: &[&str], pos: Pos) -> Self {
        ParseError {
            message: format!("found {}, expected {}", found, expected.join(", ")),
            line: pos.line + 1,
            char: pos.char + 1,
        }
    }

    /// A free-text error with a position (1.x's `&ParseError{Message: ..., Pos: ...}`).
    pub(crate) fn at(message: impl Into<String>, pos: Pos) -> Self {
        ParseError {
            message: message.into(),
            line: pos.line + 1,
            char: pos.char + 1,
        }
    }

    /// An error without position (1.x returns plain `errors.New(...)` in these places).
    pub(crate) fn plain(message: impl Into<String>) -> Self {
        ParseError {
            message: message.into(),
            line: 0,
            char: 0,
        }
    }

    /// Whether the error carries a line/char position.
    pub fn has_position(&self) -> bool {
        self.line != 0
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_position() {
            write!(
                f,
                "{} at line {}, char {}",
                self.message, self.line, self.char
            )
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for ParseError {}
