//! Lexer: a faithful re-implementation of 1.x's rune reader, scanner and token buffer.
//!
//! Error positions in 1.x come out of a 3-rune ring buffer with unread support and a few
//! quirks (EOF after an identifier is reported one char further than after a number;
//! strings report the position of the char *before* the opening quote). Clients and
//! tests compare error texts, so the reader is reproduced as-is instead of using a
//! byte-offset lexer.

use crate::error::Pos;
use crate::token::Tok;
use std::str::Chars;

/// 1.x uses rune 0 as its EOF marker, so a NUL in the input also ends it.
pub(crate) const EOF: char = '\0';

fn is_whitespace(ch: char) -> bool {
    ch == ' ' || ch == '\t' || ch == '\n'
}

pub(crate) fn is_letter(ch: char) -> bool {
    ch.is_ascii_alphabetic()
}

pub(crate) fn is_digit(ch: char) -> bool {
    ch.is_ascii_digit()
}

pub(crate) fn is_ident_char(ch: char) -> bool {
    is_letter(ch) || is_digit(ch) || ch == '_'
}

pub(crate) fn is_ident_first_char(ch: char) -> bool {
    is_letter(ch) || ch == '_'
}

/// Rune reader with a 3-slot unread ring buffer (1.x's `reader`).
struct Reader<'a> {
    src: Chars<'a>,
    /// A rune pushed back by `\r` handling (`\r` followed by something other than `\n`).
    pending: Option<char>,
    buf: [(char, Pos); 3],
    i: usize,
    n: usize,
    pos: Pos,
    eof: bool,
}

impl<'a> Reader<'a> {
    fn new(s: &'a str) -> Self {
        Reader {
            src: s.chars(),
            pending: None,
            buf: [(EOF, Pos::default()); 3],
            i: 0,
            n: 0,
            pos: Pos::default(),
            eof: false,
        }
    }

    fn next_raw(&mut self) -> Option<char> {
        self.pending.take().or_else(|| self.src.next())
    }

    fn read(&mut self) -> (char, Pos) {
        if self.n > 0 {
            self.n -= 1;
            return self.curr();
        }
        let mut ch = self.next_raw().unwrap_or(EOF);
        if ch == '\r' {
            // CRLF and lone CR both count as a single newline.
            match self.next_raw() {
                Some('\n') | None => {}
                Some(other) => self.pending = Some(other),
            }
            ch = '\n';
        }
        self.i = (self.i + 1) % 3;
        self.buf[self.i] = (ch, self.pos);
        if ch == '\n' {
            self.pos.line += 1;
            self.pos.char = 0;
        } else if !self.eof {
            self.pos.char += 1;
        }
        if ch == EOF {
            self.eof = true;
        }
        self.curr()
    }

    fn unread(&mut self) {
        self.n += 1;
    }

    fn curr(&self) -> (char, Pos) {
        // `n % 3` keeps a pathological unread count from underflowing; 1.x never unreads
        // more than the buffer holds.
        self.buf[(self.i + 3 - self.n % 3) % 3]
    }
}

/// A scanned token: kind, start position and literal text (empty for most keywords).
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
    pub lit: String,
}

impl Token {
    fn new(tok: Tok, pos: Pos, lit: impl Into<String>) -> Self {
        Token {
            tok,
            pos,
            lit: lit.into(),
        }
    }
}

enum StrErr {
    Bad,
    Escape,
}

/// Scanner plus 1.x's 3-token unscan buffer (`bufScanner`).
pub(crate) struct Lexer<'a> {
    r: Reader<'a>,
    tbuf: [Option<Token>; 3],
    ti: usize,
    tn: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Lexer {
            r: Reader::new(s),
            tbuf: [None, None, None],
            ti: 0,
            tn: 0,
        }
    }

    /// Next token (from the unscan buffer first).
    pub(crate) fn scan(&mut self) -> Token {
        self.buffered(Self::scan_raw)
    }

    /// Next token scanned as a `/regex/` (from the unscan buffer first, like 1.x).
    pub(crate) fn scan_regex(&mut self) -> Token {
        self.buffered(Self::scan_regex_raw)
    }

    pub(crate) fn unscan(&mut self) {
        self.tn += 1;
    }

    /// Peek at the next raw rune, bypassing the token buffer (1.x's `peekRune`).
    pub(crate) fn peek_rune(&mut self) -> char {
        let (ch, _) = self.r.read();
        if ch != EOF {
            self.r.unread();
        }
        ch
    }

    fn buffered(&mut self, f: fn(&mut Self) -> Token) -> Token {
        if self.tn > 0 {
            self.tn -= 1;
            return self.tcurr();
        }
        self.ti = (self.ti + 1) % 3;
        let t = f(self);
        self.tbuf[self.ti] = Some(t);
        self.tcurr()
    }

    fn tcurr(&self) -> Token {
        let idx = (self.ti + 3 - self.tn % 3) % 3;
        self.tbuf[idx]
            .clone()
            .unwrap_or_else(|| Token::new(Tok::Illegal, Pos::default(), ""))
    }

    fn scan_raw(&mut self) -> Token {
        let (ch0, pos) = self.r.read();
        if is_whitespace(ch0) {
            return self.scan_whitespace();
        } else if is_letter(ch0) || ch0 == '_' {
            self.r.unread();
            return self.scan_ident(true);
        } else if is_digit(ch0) {
            return self.scan_number();
        }
        let simple = |tok| Token::new(tok, pos, "");
        match ch0 {
            EOF => simple(Tok::Eof),
            '"' => {
                self.r.unread();
                self.scan_ident(true)
            }
            '\'' => self.scan_string(),
            '.' => {
                let (ch1, _) = self.r.read();
                self.r.unread();
                if is_digit(ch1) {
                    self.scan_number()
                } else {
                    simple(Tok::Dot)
                }
            }
            '$' => {
                let t = self.scan_ident(false);
                let lit = format!("${}", t.lit);
                if t.tok != Tok::Ident {
                    Token::new(t.tok, pos, lit)
                } else {
                    Token::new(Tok::BoundParam, pos, lit)
                }
            }
            '+' => simple(Tok::Add),
            '-' => {
                let (ch1, _) = self.r.read();
                if ch1 == '-' {
                    self.skip_until_newline();
                    return simple(Tok::Comment);
                }
                self.r.unread();
                simple(Tok::Sub)
            }
            '*' => simple(Tok::Mul),
            '/' => {
                let (ch1, _) = self.r.read();
                if ch1 == '*' {
                    if self.skip_until_end_comment() {
                        return simple(Tok::Comment);
                    }
                    return simple(Tok::Illegal);
                }
                self.r.unread();
                simple(Tok::Div)
            }
            '%' => simple(Tok::Mod),
            '&' => simple(Tok::BitAnd),
            '|' => simple(Tok::BitOr),
            '^' => simple(Tok::BitXor),
            '=' => {
                let (ch1, _) = self.r.read();
                if ch1 == '~' {
                    return simple(Tok::EqRegex);
                }
                self.r.unread();
                simple(Tok::Eq)
            }
            '!' => {
                let (ch1, _) = self.r.read();
                if ch1 == '=' {
                    return simple(Tok::Neq);
                } else if ch1 == '~' {
                    return simple(Tok::NeqRegex);
                }
                self.r.unread();
                Token::new(Tok::Illegal, pos, "!")
            }
            '>' => {
                let (ch1, _) = self.r.read();
                if ch1 == '=' {
                    return simple(Tok::Gte);
                }
                self.r.unread();
                simple(Tok::Gt)
            }
            '<' => {
                let (ch1, _) = self.r.read();
                if ch1 == '=' {
                    return simple(Tok::Lte);
                } else if ch1 == '>' {
                    return simple(Tok::Neq);
                }
                self.r.unread();
                simple(Tok::Lt)
            }
            '(' => simple(Tok::LParen),
            ')' => simple(Tok::RParen),
            ',' => simple(Tok::Comma),
            ';' => simple(Tok::Semicolon),
            ':' => {
                let (ch1, _) = self.r.read();
                if ch1 == ':' {
                    return simple(Tok::DoubleColon);
                }
                self.r.unread();
                simple(Tok::Colon)
            }
            other => Token::new(Tok::Illegal, pos, other.to_string()),
        }
    }

    fn scan_whitespace(&mut self) -> Token {
        let (ch, pos) = self.r.curr();
        let mut buf = String::new();
        buf.push(ch);
        loop {
            let (ch, _) = self.r.read();
            if ch == EOF {
                // 1.x does not unread EOF here, which shifts the next EOF position by one.
                break;
            } else if !is_whitespace(ch) {
                self.r.unread();
                break;
            }
            buf.push(ch);
        }
        Token::new(Tok::Ws, pos, buf)
    }

    fn skip_until_newline(&mut self) {
        loop {
            let (ch, _) = self.r.read();
            if ch == '\n' || ch == EOF {
                return;
            }
        }
    }

    /// Returns false when the comment is unterminated.
    fn skip_until_end_comment(&mut self) -> bool {
        loop {
            let (ch1, _) = self.r.read();
            if ch1 == '*' {
                loop {
                    let (ch2, _) = self.r.read();
                    if ch2 == '/' {
                        return true;
                    } else if ch2 == '*' {
                        continue;
                    } else if ch2 == EOF {
                        return false;
                    }
                    break;
                }
            } else if ch1 == EOF {
                return false;
            }
        }
    }

    fn scan_ident(&mut self, lookup: bool) -> Token {
        let (_, pos) = self.r.read();
        self.r.unread();
        let mut buf = String::new();
        loop {
            let (ch, _) = self.r.read();
            if ch == EOF {
                break;
            } else if ch == '"' {
                // A quoted part ends the identifier; 1.x keeps only the quoted text
                // (`abc"def"` scans as `def`).
                let t = self.scan_string();
                if t.tok == Tok::BadString || t.tok == Tok::BadEscape {
                    return t;
                }
                return Token::new(Tok::Ident, pos, t.lit);
            } else if is_ident_char(ch) {
                self.r.unread();
                self.scan_bare_ident(&mut buf);
            } else {
                self.r.unread();
                break;
            }
        }
        if lookup {
            let tok = Tok::lookup(&buf);
            if tok != Tok::Ident {
                return Token::new(tok, pos, "");
            }
        }
        Token::new(Tok::Ident, pos, buf)
    }

    fn scan_bare_ident(&mut self, buf: &mut String) {
        loop {
            let (ch, _) = self.r.read();
            if ch == EOF {
                break;
            } else if !is_ident_char(ch) {
                self.r.unread();
                break;
            }
            buf.push(ch);
        }
    }

    fn scan_string(&mut self) -> Token {
        self.r.unread();
        // Quirk kept from 1.x: with one rune unread, `curr` is the rune *before* the quote.
        let (_, pos) = self.r.curr();
        match self.scan_string_body() {
            Ok(s) => Token::new(Tok::Str, pos, s),
            Err((StrErr::Bad, s)) => Token::new(Tok::BadString, pos, s),
            Err((StrErr::Escape, s)) => {
                let (_, pos) = self.r.curr();
                Token::new(Tok::BadEscape, pos, s)
            }
        }
    }

    fn scan_string_body(&mut self) -> Result<String, (StrErr, String)> {
        let (ending, _) = self.r.read();
        if ending == EOF {
            return Err((StrErr::Bad, String::new()));
        }
        let mut buf = String::new();
        loop {
            let (ch0, _) = self.r.read();
            if ch0 == ending {
                return Ok(buf);
            } else if ch0 == EOF || ch0 == '\n' {
                return Err((StrErr::Bad, buf));
            } else if ch0 == '\\' {
                let (ch1, _) = self.r.read();
                match ch1 {
                    'n' => buf.push('\n'),
                    '\\' => buf.push('\\'),
                    '"' => buf.push('"'),
                    '\'' => buf.push('\''),
                    _ => {
                        let mut lit = String::from('\\');
                        if ch1 != EOF {
                            lit.push(ch1);
                        }
                        return Err((StrErr::Escape, lit));
                    }
                }
            } else {
                buf.push(ch0);
            }
        }
    }

    fn scan_regex_raw(&mut self) -> Token {
        let (_, pos) = self.r.curr();
        let (ch, _) = self.r.read();
        if ch != '/' {
            return Token::new(Tok::BadRegex, pos, "");
        }
        let mut buf = String::new();
        loop {
            let (ch0, _) = self.r.read();
            if ch0 == '/' {
                return Token::new(Tok::Regex, pos, buf);
            } else if ch0 == EOF || ch0 == '\n' {
                // 1.x reports BADREGEX with an empty literal ("bad regex: ").
                return Token::new(Tok::BadRegex, pos, "");
            } else if ch0 == '\\' {
                let (ch1, _) = self.r.read();
                if ch1 == EOF {
                    return Token::new(Tok::BadRegex, pos, "");
                }
                if ch1 == '/' {
                    buf.push('/');
                } else {
                    // Other escapes pass through to the regex engine untouched.
                    self.r.unread();
                    buf.push('\\');
                }
            } else {
                buf.push(ch0);
            }
        }
    }

    fn scan_number(&mut self) -> Token {
        let mut buf = String::new();
        let (ch, pos) = self.r.curr();
        if ch == '.' {
            let (ch1, _) = self.r.read();
            self.r.unread();
            if !is_digit(ch1) {
                return Token::new(Tok::Illegal, pos, ".");
            }
            self.r.unread();
        } else {
            self.r.unread();
        }
        self.scan_digits(&mut buf);
        let mut is_decimal = false;
        let (ch0, _) = self.r.read();
        if ch0 == '.' {
            is_decimal = true;
            let (ch1, _) = self.r.read();
            if is_digit(ch1) {
                buf.push(ch0);
                buf.push(ch1);
                self.scan_digits(&mut buf);
            } else {
                self.r.unread();
            }
        } else {
            self.r.unread();
        }
        if is_decimal {
            return Token::new(Tok::Number, pos, buf);
        }
        let (ch0, _) = self.r.read();
        if is_letter(ch0) || ch0 == 'µ' {
            buf.push(ch0);
            loop {
                let (ch1, _) = self.r.read();
                if !is_letter(ch1) && ch1 != 'µ' {
                    self.r.unread();
                    break;
                }
                buf.push(ch1);
            }
            loop {
                let (ch1, _) = self.r.read();
                if is_letter(ch1) || ch1 == 'µ' || is_digit(ch1) {
                    buf.push(ch1);
                } else {
                    self.r.unread();
                    break;
                }
            }
            Token::new(Tok::DurationVal, pos, buf)
        } else {
            self.r.unread();
            Token::new(Tok::Integer, pos, buf)
        }
    }

    fn scan_digits(&mut self, buf: &mut String) {
        loop {
            let (ch, _) = self.r.read();
            if !is_digit(ch) {
                self.r.unread();
                break;
            }
            buf.push(ch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<(Tok, String)> {
        let mut lx = Lexer::new(s);
        let mut out = Vec::new();
        loop {
            let t = lx.scan();
            if t.tok == Tok::Eof {
                return out;
            }
            if t.tok != Tok::Ws {
                out.push((t.tok, t.lit));
            }
        }
    }

    #[test]
    fn scans_basic_tokens() {
        let t = toks("SELECT \"a b\", 'c\\'d', 1.5, 10, 5m, $p FROM x <> y");
        let kinds: Vec<Tok> = t.iter().map(|x| x.0).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Select,
                Tok::Ident,
                Tok::Comma,
                Tok::Str,
                Tok::Comma,
                Tok::Number,
                Tok::Comma,
                Tok::Integer,
                Tok::Comma,
                Tok::DurationVal,
                Tok::Comma,
                Tok::BoundParam,
                Tok::From,
                Tok::Ident,
                Tok::Neq,
                Tok::Ident
            ]
        );
        assert_eq!(t[1].1, "a b");
        assert_eq!(t[3].1, "c'd");
        assert_eq!(t[11].1, "$p");
    }

    #[test]
    fn eof_position_quirk() {
        // After an identifier 1.x consumes EOF twice: position is len + 1 (0-based).
        let mut lx = Lexer::new("abc");
        lx.scan();
        assert_eq!(lx.scan().pos.char, 4);
        // After a number it is len.
        let mut lx = Lexer::new("123");
        lx.scan();
        assert_eq!(lx.scan().pos.char, 3);
    }
}
