//! The TICKscript lexer: a port of Kapacitor's state machine.
//!
//! Lexing is context sensitive in the same way as Kapacitor's: after an operand
//! (identifier, number, string, reference, `)`) the lexer first tries a binary
//! operator, so `/` is division there and a regex elsewhere, and `-` is unary minus
//! unless it follows an operand. Errors become a final [`TokenType::Error`] token that
//! the parser reports where it meets it, so messages match Kapacitor's.

use std::fmt;

/// Token types, with Kapacitor's display names (used in "expected:" lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    Error,
    Eof,
    Var,
    Dbrp,
    Asgn,
    Dot,
    Pipe,
    At,
    Ident,
    Reference,
    Lambda,
    Number,
    String,
    Duration,
    LParen,
    RParen,
    LSBracket,
    RSBracket,
    Comma,
    Not,
    True,
    False,
    Regex,
    Comment,
    Star,
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
}

impl TokenType {
    /// The binary operator this token stands for, if any.
    pub fn binary_op(self) -> Option<super::ast::Op> {
        use super::ast::Op;
        Some(match self {
            TokenType::Plus => Op::Plus,
            TokenType::Minus => Op::Minus,
            TokenType::Mult => Op::Mult,
            TokenType::Div => Op::Div,
            TokenType::Mod => Op::Mod,
            TokenType::And => Op::And,
            TokenType::Or => Op::Or,
            TokenType::Equal => Op::Equal,
            TokenType::NotEqual => Op::NotEqual,
            TokenType::Less => Op::Less,
            TokenType::Greater => Op::Greater,
            TokenType::LessEqual => Op::LessEqual,
            TokenType::GreaterEqual => Op::GreaterEqual,
            TokenType::RegexEqual => Op::RegexEqual,
            TokenType::RegexNotEqual => Op::RegexNotEqual,
            _ => return None,
        })
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            TokenType::Error => "ERR",
            TokenType::Eof => "EOF",
            TokenType::Var => "var",
            TokenType::Dbrp => "dbrp",
            TokenType::Ident => "identifier",
            TokenType::Reference => "reference",
            TokenType::Duration => "duration",
            TokenType::Lambda => "lambda",
            TokenType::Number => "number",
            TokenType::String => "string",
            TokenType::Regex => "regex",
            TokenType::Comment => "//",
            TokenType::Star => "*",
            TokenType::Dot => ".",
            TokenType::Pipe => "|",
            TokenType::At => "@",
            TokenType::Asgn => "=",
            TokenType::LParen => "(",
            TokenType::RParen => ")",
            TokenType::LSBracket => "[",
            TokenType::RSBracket => "]",
            TokenType::Comma => ",",
            TokenType::Not => "!",
            TokenType::True => "TRUE",
            TokenType::False => "FALSE",
            TokenType::Plus => "+",
            TokenType::Minus => "-",
            TokenType::Mult => "*",
            TokenType::Div => "/",
            TokenType::Mod => "%",
            TokenType::And => "AND",
            TokenType::Or => "OR",
            TokenType::Equal => "==",
            TokenType::NotEqual => "!=",
            TokenType::Less => "<",
            TokenType::Greater => ">",
            TokenType::LessEqual => "<=",
            TokenType::GreaterEqual => ">=",
            TokenType::RegexEqual => "=~",
            TokenType::RegexNotEqual => "!~",
        };
        f.write_str(s)
    }
}

/// A token: its type, byte offset, and source text (or the message for errors).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub typ: TokenType,
    pub pos: usize,
    pub val: String,
}

#[derive(Clone, Copy)]
enum State {
    Token,
    BinaryOp,
    Regex,
    Done,
}

struct Lexer<'a> {
    input: &'a str,
    start: usize,
    pos: usize,
    width: usize,
    tokens: Vec<Token>,
}

/// Lexes a whole script. The result always ends with an `Eof` or an `Error` token.
pub fn lex(input: &str) -> Vec<Token> {
    let mut l = Lexer {
        input,
        start: 0,
        pos: 0,
        width: 0,
        tokens: Vec::new(),
    };
    let mut state = State::Token;
    loop {
        state = match state {
            State::Token => l.lex_token(),
            State::BinaryOp => l.try_binary_operator(),
            State::Regex => l.lex_regex(),
            State::Done => break,
        };
    }
    l.tokens
}

fn is_digit(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_digit())
}

fn is_space(c: Option<char>) -> bool {
    c.is_some_and(char::is_whitespace)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_digit() || c.is_alphabetic() || c == '_'
}

/// Quotes a rune the way Go's `%q` does for the common cases.
pub(crate) fn go_quote_rune(c: char) -> String {
    match c {
        '\n' => "'\\n'".into(),
        '\t' => "'\\t'".into(),
        '\r' => "'\\r'".into(),
        '\'' => "'\\''".into(),
        '\\' => "'\\\\'".into(),
        c if c.is_control() => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<char> {
        match self.input[self.pos..].chars().next() {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
            None => {
                self.width = 0;
                None
            }
        }
    }

    fn backup(&mut self) {
        self.pos -= self.width;
    }

    fn peek(&mut self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn ignore(&mut self) {
        self.start = self.pos;
    }

    fn emit(&mut self, typ: TokenType) {
        let val = self.input[self.start..self.pos].to_string();
        self.tokens.push(Token {
            typ,
            pos: self.start,
            val,
        });
        self.start = self.pos;
    }

    fn error(&mut self, msg: String) -> State {
        self.tokens.push(Token {
            typ: TokenType::Error,
            pos: self.start,
            val: msg,
        });
        State::Done
    }

    fn ignore_space(&mut self) {
        while is_space(self.peek()) {
            self.next();
            self.ignore();
        }
    }

    fn lex_token(&mut self) -> State {
        loop {
            let r = self.next();
            match r {
                Some('-') | Some('!') => {
                    let t = if r == Some('-') {
                        TokenType::Minus
                    } else {
                        TokenType::Not
                    };
                    self.emit(t);
                    return State::Token;
                }
                Some(c) if c.is_ascii_digit() || c == '.' => {
                    self.backup();
                    return self.lex_number_duration_or_dot();
                }
                Some(c) if c.is_alphabetic() => return self.lex_ident_or_keyword(),
                Some('"') => return self.lex_reference(),
                Some('\'') => {
                    self.backup();
                    return self.lex_string();
                }
                Some(c) if c.is_whitespace() => self.ignore(),
                Some('(') => {
                    self.emit(TokenType::LParen);
                    return State::Token;
                }
                Some(')') => {
                    self.emit(TokenType::RParen);
                    return State::BinaryOp;
                }
                Some('[') => {
                    self.emit(TokenType::LSBracket);
                    return State::Token;
                }
                Some(']') => {
                    self.emit(TokenType::RSBracket);
                    return State::Token;
                }
                Some('|') => {
                    self.emit(TokenType::Pipe);
                    return State::Token;
                }
                Some('@') => {
                    self.emit(TokenType::At);
                    return State::Token;
                }
                Some(',') => {
                    self.emit(TokenType::Comma);
                    return State::Token;
                }
                Some('*') => {
                    self.emit(TokenType::Star);
                    return State::Token;
                }
                Some('/') => {
                    self.backup();
                    if self.input[self.pos..].starts_with("//") {
                        return self.lex_comment();
                    }
                    return State::Regex;
                }
                None => {
                    self.emit(TokenType::Eof);
                    return State::Done;
                }
                Some(c) => {
                    return self.error(format!("unknown state, last char: {}", go_quote_rune(c)));
                }
            }
        }
    }

    fn try_binary_operator(&mut self) -> State {
        self.ignore_space();
        let r = self.next();
        let simple = |c| match c {
            '+' => Some(TokenType::Plus),
            '-' => Some(TokenType::Minus),
            '*' => Some(TokenType::Mult),
            '%' => Some(TokenType::Mod),
            _ => None,
        };
        match r {
            Some(c) if simple(c).is_some() => {
                if let Some(t) = simple(c) {
                    self.emit(t);
                }
                State::Token
            }
            Some('/') => {
                if self.peek() == Some('/') {
                    self.backup();
                    return self.lex_comment();
                }
                self.emit(TokenType::Div);
                State::Token
            }
            Some('!') => {
                let t = match self.peek() {
                    Some('=') => {
                        self.next();
                        TokenType::NotEqual
                    }
                    Some('~') => {
                        self.next();
                        TokenType::RegexNotEqual
                    }
                    _ => TokenType::Not,
                };
                self.emit(t);
                if t == TokenType::RegexNotEqual {
                    self.ignore_space();
                    if self.peek() == Some('/') {
                        return State::Regex;
                    }
                }
                State::Token
            }
            Some(c @ ('>' | '<')) => {
                let eq = self.peek() == Some('=');
                if eq {
                    self.next();
                }
                let t = match (c, eq) {
                    ('>', false) => TokenType::Greater,
                    ('>', true) => TokenType::GreaterEqual,
                    ('<', false) => TokenType::Less,
                    _ => TokenType::LessEqual,
                };
                self.emit(t);
                State::Token
            }
            Some('=') => {
                match self.peek() {
                    Some('~') => {
                        self.next();
                        self.emit(TokenType::RegexEqual);
                        self.ignore_space();
                        if self.peek() == Some('/') {
                            return State::Regex;
                        }
                    }
                    Some('=') => {
                        self.next();
                        self.emit(TokenType::Equal);
                    }
                    _ => {
                        self.emit(TokenType::Asgn);
                        self.ignore_space();
                        if self.peek() == Some('/') {
                            return State::Regex;
                        }
                    }
                }
                State::Token
            }
            _ => {
                self.backup();
                State::Token
            }
        }
    }

    fn lex_ident_or_keyword(&mut self) -> State {
        while let Some(c) = self.next() {
            if !is_ident_char(c) {
                self.backup();
                break;
            }
        }
        let word = &self.input[self.start..self.pos];
        let t = match word {
            "AND" => TokenType::And,
            "OR" => TokenType::Or,
            "TRUE" => TokenType::True,
            "FALSE" => TokenType::False,
            "var" => TokenType::Var,
            "dbrp" => TokenType::Dbrp,
            "lambda" => {
                // `lambda` is an ordinary identifier unless directly followed by ':'.
                if self.peek() == Some(':') {
                    self.next();
                    TokenType::Lambda
                } else {
                    TokenType::Ident
                }
            }
            _ => TokenType::Ident,
        };
        self.emit(t);
        State::BinaryOp
    }

    fn lex_number_duration_or_dot(&mut self) -> State {
        let mut found_decimal = false;
        let mut first = true;
        loop {
            let r = self.next();
            match r {
                Some('.') => {
                    if first && !is_digit(self.peek()) {
                        self.emit(TokenType::Dot);
                        return State::Token;
                    }
                    if found_decimal {
                        return self.error("multiple decimals in number".into());
                    }
                    found_decimal = true;
                }
                Some(c) if c.is_ascii_digit() => {}
                Some(c)
                    if !found_decimal
                        && matches!(c, 'u' | 'µ' | 's' | 'm' | 'h' | 'd' | 'w' | 'n') =>
                {
                    // `ns` is a tigk extension; a lone `n` is not a unit.
                    if c == 'n' {
                        if self.peek() != Some('s') {
                            self.backup();
                            self.emit(TokenType::Number);
                            return State::BinaryOp;
                        }
                        self.next();
                    } else if c == 'm' && self.peek() == Some('s') {
                        self.next();
                    }
                    self.emit(TokenType::Duration);
                    return State::BinaryOp;
                }
                _ => {
                    self.backup();
                    self.emit(TokenType::Number);
                    return State::BinaryOp;
                }
            }
            first = false;
        }
    }

    fn lex_reference(&mut self) -> State {
        loop {
            match self.next() {
                Some('\\') => {
                    if self.peek() == Some('"') {
                        self.next();
                    }
                }
                Some('"') => {
                    self.emit(TokenType::Reference);
                    return State::BinaryOp;
                }
                None => return self.error("unterminated field reference".into()),
                Some(_) => {}
            }
        }
    }

    fn lex_string(&mut self) -> State {
        let mut count = 0;
        loop {
            match self.next() {
                Some('\'') => {
                    count += 1;
                    if count == 1 && self.peek() == Some('\'') {
                        count += 1;
                        self.next();
                        if self.peek() == Some('\'') {
                            count += 1;
                            self.next();
                        } else {
                            // The empty string ''.
                            self.emit(TokenType::String);
                            return State::BinaryOp;
                        }
                    }
                    if (count == 1 && self.peek() != Some('\'')) || count == 3 {
                        let total = count;
                        loop {
                            match self.next() {
                                Some('\\') if count == 1 => {
                                    if self.peek() == Some('\'') {
                                        self.next();
                                    }
                                }
                                Some('\'') => {
                                    count -= 1;
                                    if count == 0 {
                                        self.emit(TokenType::String);
                                        return State::BinaryOp;
                                    }
                                }
                                None => return self.error("unterminated string".into()),
                                Some(_) => count = total,
                            }
                        }
                    }
                }
                _ => return self.error("unterminated string".into()),
            }
        }
    }

    fn lex_regex(&mut self) -> State {
        match self.next() {
            Some('/') => {}
            other => {
                let shown = other.map(String::from).unwrap_or_default();
                return self.error(format!("unexpected \"{shown}\" expected \"/\""));
            }
        }
        loop {
            match self.next() {
                Some('\\') => {
                    if self.peek() == Some('/') {
                        self.next();
                    }
                }
                Some('/') => {
                    self.emit(TokenType::Regex);
                    return State::Token;
                }
                None => return self.error("unterminated regex".into()),
                Some(_) => {}
            }
        }
    }

    fn lex_comment(&mut self) -> State {
        // The caller has seen "//"; consume both slashes.
        self.next();
        self.next();
        loop {
            match self.next() {
                Some('\n') => {
                    // Consecutive comment lines merge into one token.
                    let mut n = self.next();
                    while n != Some('\n') && is_space(n) {
                        n = self.next();
                    }
                    if n == Some('/') {
                        continue;
                    }
                    self.backup();
                    self.emit(TokenType::Comment);
                    return State::Token;
                }
                None => {
                    self.emit(TokenType::Comment);
                    return State::Token;
                }
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn types(s: &str) -> Vec<TokenType> {
        lex(s).into_iter().map(|t| t.typ).collect()
    }

    #[test]
    fn context_sensitive_slash_and_minus() {
        use TokenType::*;
        assert_eq!(types("a / b"), vec![Ident, Div, Ident, Eof]);
        assert_eq!(types("x =~ /a\\/b/"), vec![Ident, RegexEqual, Regex, Eof]);
        assert_eq!(
            types("f(-1)"),
            vec![Ident, LParen, Minus, Number, RParen, Eof]
        );
        assert_eq!(types("1-2"), vec![Number, Minus, Number, Eof]);
    }

    #[test]
    fn durations_numbers_strings() {
        use TokenType::*;
        assert_eq!(
            types("5m 10ms 1µ 3ns .5 2.5"),
            vec![Duration, Duration, Duration, Duration, Number, Number, Eof]
        );
        assert_eq!(
            types("'a\\'b' '''x\ny''' ''"),
            vec![String, String, String, Eof]
        );
        let t = lex("1.2.3");
        assert_eq!(
            t.last().map(|t| t.val.as_str()),
            Some("multiple decimals in number")
        );
    }

    #[test]
    fn comments_merge() {
        let toks = lex("// a\n  // b\nstream");
        assert_eq!(toks[0].typ, TokenType::Comment);
        assert_eq!(toks[1].typ, TokenType::Ident);
    }

    #[test]
    fn lambda_keyword_needs_colon() {
        use TokenType::*;
        assert_eq!(types("lambda: lambda"), vec![Lambda, Ident, Eof]);
    }
}
