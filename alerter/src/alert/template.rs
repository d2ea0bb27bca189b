//! The subset of Go's text/template (and html/template escaping) that alert ids,
//! messages and details use: `{{ .Field.Path }}`, `{{ index .Tags "host" }}`, pipelines
//! with `|`, `printf`, `eq`/`ne`/`lt`/`le`/`gt`/`ge`, `and`/`or`/`not`, `len`, `json`,
//! `print`, `if`/`else if`/`else`/`end`, and `{{-`/`-}}` trimming.

use std::collections::BTreeMap;

use crate::gofmt;

/// A value templates see.
#[derive(Debug, Clone, PartialEq)]
pub enum TVal {
    Nil,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// ns since the epoch: prints as Go's `Time.String()`.
    Time(i64),
    /// ns: prints as Go's `Duration.String()`.
    Duration(i64),
    /// A map; `strings` says whether its element type is string (so that a missing key
    /// reads as "" through `index`, as Go's zero value).
    Map(BTreeMap<String, TVal>, bool),
    /// A struct: fields in declaration order.
    Struct(Vec<(String, TVal)>),
}

impl TVal {
    fn truthy(&self) -> bool {
        match self {
            TVal::Nil => false,
            TVal::Str(s) => !s.is_empty(),
            TVal::Int(i) | TVal::Time(i) | TVal::Duration(i) => *i != 0,
            TVal::Float(f) => *f != 0.0,
            TVal::Bool(b) => *b,
            TVal::Map(m, _) => !m.is_empty(),
            TVal::Struct(_) => true,
        }
    }

    /// `fmt.Print` / `%v` rendering.
    pub fn print(&self) -> String {
        match self {
            TVal::Nil => "<no value>".into(),
            TVal::Str(s) => s.clone(),
            TVal::Int(i) => i.to_string(),
            TVal::Float(f) => gofmt::float_v(*f),
            TVal::Bool(b) => b.to_string(),
            TVal::Time(t) => gofmt::time_string(*t),
            TVal::Duration(d) => gofmt::duration_string(*d),
            TVal::Map(m, _) => {
                let items: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.print_inner()))
                    .collect();
                format!("map[{}]", items.join(" "))
            }
            TVal::Struct(f) => {
                let items: Vec<String> = f.iter().map(|(_, v)| v.print_inner()).collect();
                format!("{{{}}}", items.join(" "))
            }
        }
    }

    fn print_inner(&self) -> String {
        match self {
            TVal::Nil => "<nil>".into(),
            v => v.print(),
        }
    }

    /// `encoding/json` rendering.
    pub fn json(&self, out: &mut String) {
        match self {
            TVal::Nil => out.push_str("null"),
            TVal::Str(s) => gofmt::json_string(out, s),
            TVal::Int(i) | TVal::Duration(i) => out.push_str(&i.to_string()),
            TVal::Float(f) => out.push_str(&gofmt::float_json(*f)),
            TVal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            TVal::Time(t) => gofmt::json_string(out, &gofmt::rfc3339(*t)),
            TVal::Map(m, _) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    gofmt::json_string(out, k);
                    out.push(':');
                    v.json(out);
                }
                out.push('}');
            }
            TVal::Struct(f) => {
                out.push('{');
                for (i, (k, v)) in f.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    gofmt::json_string(out, k);
                    out.push(':');
                    v.json(out);
                }
                out.push('}');
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Arg {
    Dot,
    Field(Option<Box<Arg>>, Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Pipe(Box<Pipeline>),
    Ident(String),
}

#[derive(Debug, Clone)]
struct Command(Vec<Arg>);

#[derive(Debug, Clone)]
struct Pipeline(Vec<Command>);

#[derive(Debug, Clone)]
enum Item {
    Text(String),
    Action(Pipeline),
    If(Vec<(Pipeline, Vec<Item>)>, Vec<Item>),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    items: Vec<Item>,
    html: bool,
}

/// A template parse or execution error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {0}")]
pub struct TemplateError(pub String);

/// The longest output a template may render (1 MiB).
pub const MAX_OUTPUT: usize = 1 << 20;

fn terr<T>(m: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(m.into()))
}

enum Tok {
    Text(String),
    Action(String),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, TemplateError> {
    let mut toks = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_left =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_left {
            text = text.trim_end();
        }
        if !text.is_empty() {
            toks.push(Tok::Text(text.to_string()));
        }
        let body_start = if trim_left { 1 } else { 0 };
        let Some(end) = find_close(&after[body_start..]) else {
            return terr("unclosed action");
        };
        let mut body = &after[body_start..body_start + end];
        trim_next = false;
        if body.ends_with(" -") || body.ends_with("\t-") || body.ends_with("\n-") {
            body = &body[..body.len() - 1];
            trim_next = true;
        }
        toks.push(Tok::Action(body.trim().to_string()));
        rest = &after[body_start + end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        toks.push(Tok::Text(text.to_string()));
    }
    Ok(toks)
}

/// The end of an action, skipping `}}` inside string literals.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match quote {
            Some(q) => {
                if b[i] == b'\\' && q == b'"' {
                    i += 1;
                } else if b[i] == q {
                    quote = None;
                }
            }
            None => {
                if b[i] == b'"' || b[i] == b'`' {
                    quote = Some(b[i]);
                } else if b[i] == b'}' && b.get(i + 1) == Some(&b'}') {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

fn lex_action(s: &str) -> Result<Vec<String>, TemplateError> {
    let mut out = Vec::new();
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '`' {
            let mut j = i + 1;
            while j < cs.len() && cs[j] != c {
                if c == '"' && cs[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            if j >= cs.len() {
                return terr("unterminated quoted string");
            }
            out.push(cs[i..=j].iter().collect());
            i = j + 1;
        } else if c == '(' || c == ')' || c == '|' {
            out.push(c.to_string());
            i += 1;
        } else {
            let mut j = i;
            while j < cs.len() && !cs[j].is_whitespace() && !matches!(cs[j], '(' | ')' | '|') {
                j += 1;
            }
            out.push(cs[i..j].iter().collect());
            i = j;
        }
    }
    Ok(out)
}

fn unquote(t: &str) -> Result<String, TemplateError> {
    if let Some(raw) = t.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Ok(raw.to_string());
    }
    serde_json::from_str::<String>(t).map_err(|_| TemplateError(format!("bad string {t}")))
}

fn parse_pipeline(toks: &[String], pos: &mut usize) -> Result<Pipeline, TemplateError> {
    let mut cmds = Vec::new();
    let mut args = Vec::new();
    while *pos < toks.len() {
        let t = toks[*pos].as_str();
        *pos += 1;
        match t {
            ")" => {
                *pos -= 1;
                break;
            }
            "|" => {
                if args.is_empty() {
                    return terr("missing command before |");
                }
                cmds.push(Command(std::mem::take(&mut args)));
            }
            "(" => {
                let inner = parse_pipeline(toks, pos)?;
                if toks.get(*pos).map(String::as_str) != Some(")") {
                    return terr("unclosed left paren");
                }
                *pos += 1;
                let arg = Arg::Pipe(Box::new(inner));
                // `(pipeline).Field`
                args.push(field_suffix(arg, toks, pos));
            }
            _ => args.push(parse_operand(t)?),
        }
    }
    if args.is_empty() {
        return terr("missing value for command");
    }
    cmds.push(Command(args));
    Ok(Pipeline(cmds))
}

fn field_suffix(arg: Arg, toks: &[String], pos: &mut usize) -> Arg {
    match toks.get(*pos) {
        Some(t) if t.starts_with('.') && t.len() > 1 => {
            *pos += 1;
            let path = t[1..].split('.').map(str::to_string).collect();
            Arg::Field(Some(Box::new(arg)), path)
        }
        _ => arg,
    }
}

fn parse_operand(t: &str) -> Result<Arg, TemplateError> {
    Ok(match t {
        "." => Arg::Dot,
        "true" => Arg::Bool(true),
        "false" => Arg::Bool(false),
        "nil" => Arg::Nil,
        _ if t.starts_with('.') => {
            Arg::Field(None, t[1..].split('.').map(str::to_string).collect())
        }
        _ if t.starts_with('"') || t.starts_with('`') => Arg::Str(unquote(t)?),
        _ if t.starts_with('$') => return terr(format!("variables are not supported: {t}")),
        _ if t.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') => {
            if let Ok(i) = t.parse::<i64>() {
                Arg::Int(i)
            } else if let Ok(f) = t.parse::<f64>() {
                Arg::Float(f)
            } else {
                return terr(format!("bad number syntax: {t:?}"));
            }
        }
        _ if FUNCS.contains(&t) => Arg::Ident(t.to_string()),
        _ => return terr(format!("function {t:?} not defined")),
    })
}

const FUNCS: &[&str] = &[
    "index", "printf", "print", "println", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not",
    "len", "json", "html", "urlquery",
];

fn parse_items(
    toks: &[Tok],
    pos: &mut usize,
    nested: bool,
) -> Result<(Vec<Item>, Option<String>), TemplateError> {
    let mut items = Vec::new();
    while *pos < toks.len() {
        let tok = &toks[*pos];
        *pos += 1;
        match tok {
            Tok::Text(t) => items.push(Item::Text(t.clone())),
            Tok::Action(a) => {
                if a.starts_with("/*") {
                    continue;
                }
                let words = lex_action(a)?;
                match words.first().map(String::as_str) {
                    Some("end") | Some("else") if nested => return Ok((items, Some(a.clone()))),
                    Some("end") | Some("else") => return terr(format!("unexpected {{{{{a}}}}}")),
                    Some("if") => items.push(parse_if(&words[1..], toks, pos)?),
                    Some("range") | Some("with") | Some("define") | Some("template")
                    | Some("block") => {
                        return terr(format!("{{{{{a}}}}} is not supported"));
                    }
                    Some(_) => {
                        let mut p = 0;
                        let pipe = parse_pipeline(&words, &mut p)?;
                        if p != words.len() {
                            return terr("unexpected right paren");
                        }
                        items.push(Item::Action(pipe));
                    }
                    None => return terr("missing value for command"),
                }
            }
        }
    }
    Ok((items, None))
}

fn parse_if(cond: &[String], toks: &[Tok], pos: &mut usize) -> Result<Item, TemplateError> {
    let mut branches = Vec::new();
    let mut cond = cond.to_vec();
    loop {
        let mut p = 0;
        let pipe = parse_pipeline(&cond, &mut p)?;
        let (body, stop) = parse_items(toks, pos, true)?;
        branches.push((pipe, body));
        let Some(stop) = stop else {
            return terr("unexpected EOF: missing {{end}}");
        };
        let words = lex_action(&stop)?;
        match words.first().map(String::as_str) {
            Some("end") => return Ok(Item::If(branches, Vec::new())),
            Some("else") if words.get(1).map(String::as_str) == Some("if") => {
                cond = words[2..].to_vec();
            }
            _ => {
                let (els, stop) = parse_items(toks, pos, true)?;
                if stop.as_deref() != Some("end") {
                    return terr("expected {{end}}");
                }
                return Ok(Item::If(branches, els));
            }
        }
    }
}

impl Template {
    /// Parses a text/template.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let toks = tokenize(src)?;
        let mut pos = 0;
        let (items, _) = parse_items(&toks, &mut pos, false)?;
        Ok(Template { items, html: false })
    }

    /// Parses an html/template: action output is HTML-escaped.
    pub fn parse_html(src: &str) -> Result<Template, TemplateError> {
        Ok(Template {
            html: true,
            ..Template::parse(src)?
        })
    }

    /// Renders against `dot`. Output past [`MAX_OUTPUT`] bytes is an error: values are
    /// data and never re-parsed, but `printf "%09999999d"` or huge tag values repeated
    /// could otherwise make every event of a task tens of megabytes.
    pub fn render(&self, dot: &TVal) -> Result<String, TemplateError> {
        let mut out = String::new();
        self.exec(&self.items, dot, &mut out)?;
        Ok(out)
    }

    fn exec(&self, items: &[Item], dot: &TVal, out: &mut String) -> Result<(), TemplateError> {
        for it in items {
            match it {
                Item::Text(t) => out.push_str(t),
                Item::Action(p) => {
                    let v = eval_pipe(p, dot)?;
                    // text/template prints a missing value as "<no value>"; html/template as "".
                    let s = match (&v, self.html) {
                        (TVal::Nil, true) => String::new(),
                        _ => v.print(),
                    };
                    if self.html {
                        out.push_str(&gofmt::html_escape(&s));
                    } else {
                        out.push_str(&s);
                    }
                }
                Item::If(branches, els) => {
                    let mut done = false;
                    for (cond, body) in branches {
                        if eval_pipe(cond, dot)?.truthy() {
                            self.exec(body, dot, out)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.exec(els, dot, out)?;
                    }
                }
            }
            if out.len() > MAX_OUTPUT {
                return terr(format!("template output over {MAX_OUTPUT} bytes refused"));
            }
        }
        Ok(())
    }
}

fn field(v: &TVal, name: &str) -> Result<TVal, TemplateError> {
    match v {
        TVal::Struct(fs) => fs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| TemplateError(format!("can't evaluate field {name}"))),
        TVal::Map(m, _) => Ok(m.get(name).cloned().unwrap_or(TVal::Nil)),
        TVal::Nil => Ok(TVal::Nil),
        other => terr(format!(
            "can't evaluate field {name} in type {}",
            other.print()
        )),
    }
}

fn eval_arg(a: &Arg, dot: &TVal) -> Result<TVal, TemplateError> {
    Ok(match a {
        Arg::Dot => dot.clone(),
        Arg::Field(base, path) => {
            let mut v = match base {
                Some(b) => eval_arg(b, dot)?,
                None => dot.clone(),
            };
            for p in path {
                v = field(&v, p)?;
            }
            v
        }
        Arg::Str(s) => TVal::Str(s.clone()),
        Arg::Int(i) => TVal::Int(*i),
        Arg::Float(f) => TVal::Float(*f),
        Arg::Bool(b) => TVal::Bool(*b),
        Arg::Nil => TVal::Nil,
        Arg::Pipe(p) => eval_pipe(p, dot)?,
        Arg::Ident(f) => call(f, Vec::new())?,
    })
}

fn eval_pipe(p: &Pipeline, dot: &TVal) -> Result<TVal, TemplateError> {
    let mut prev: Option<TVal> = None;
    for Command(args) in &p.0 {
        let v = match args.first() {
            Some(Arg::Ident(f)) => {
                let mut vals = args[1..]
                    .iter()
                    .map(|a| eval_arg(a, dot))
                    .collect::<Result<Vec<_>, _>>()?;
                vals.extend(prev.take());
                call(f, vals)?
            }
            Some(a) if args.len() == 1 => {
                if prev.is_some() {
                    return terr("can't give argument to non-function");
                }
                eval_arg(a, dot)?
            }
            _ => return terr("can't give argument to non-function"),
        };
        prev = Some(v);
    }
    Ok(prev.unwrap_or(TVal::Nil))
}

fn compare(a: &TVal, b: &TVal) -> Result<std::cmp::Ordering, TemplateError> {
    use TVal::*;
    let o = match (a, b) {
        (Int(x), Int(y)) => x.cmp(y),
        (Float(x), Float(y)) => x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal),
        (Str(x), Str(y)) => x.cmp(y),
        (Bool(x), Bool(y)) if x == y => std::cmp::Ordering::Equal,
        (Bool(_), Bool(_)) => return terr("invalid type for comparison"),
        (Time(x), Time(y)) | (Duration(x), Duration(y)) => x.cmp(y),
        _ => return terr("incompatible types for comparison"),
    };
    Ok(o)
}

fn call(f: &str, args: Vec<TVal>) -> Result<TVal, TemplateError> {
    let want = |n: usize| -> Result<(), TemplateError> {
        if args.len() != n {
            return terr(format!(
                "wrong number of args for {f}: want {n} got {}",
                args.len()
            ));
        }
        Ok(())
    };
    Ok(match f {
        "index" => {
            let Some((base, keys)) = args.split_first() else {
                return terr("wrong number of args for index");
            };
            let mut v = base.clone();
            for k in keys {
                v = match (&v, k) {
                    (TVal::Map(m, strings), TVal::Str(key)) => match m.get(key) {
                        Some(x) => x.clone(),
                        None if *strings => TVal::Str(String::new()),
                        None => TVal::Nil,
                    },
                    (TVal::Nil, _) => return terr("index of untyped nil"),
                    _ => return terr("can't index item"),
                };
            }
            v
        }
        "printf" => {
            let Some((TVal::Str(fmt), rest)) = args.split_first() else {
                return terr("printf needs a format string");
            };
            TVal::Str(super::printf::sprintf(fmt, rest))
        }
        "print" | "println" => {
            // Go's Sprint adds spaces only between operands that are not both strings.
            let mut s = String::new();
            for (i, a) in args.iter().enumerate() {
                let both_str =
                    i > 0 && matches!(a, TVal::Str(_)) && matches!(args[i - 1], TVal::Str(_));
                if i > 0 && (f == "println" || !both_str) {
                    s.push(' ');
                }
                s.push_str(&a.print());
            }
            if f == "println" {
                s.push('\n');
            }
            TVal::Str(s)
        }
        "eq" => {
            let Some((first, rest)) = args.split_first() else {
                return terr("missing argument for comparison");
            };
            let mut any = false;
            for r in rest {
                if compare(first, r)?.is_eq() {
                    any = true;
                }
            }
            TVal::Bool(any)
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want(2)?;
            let o = compare(&args[0], &args[1])?;
            TVal::Bool(match f {
                "ne" => !o.is_eq(),
                "lt" => o.is_lt(),
                "le" => o.is_le(),
                "gt" => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        "and" => {
            let mut last = TVal::Nil;
            for a in args {
                if !a.truthy() {
                    return Ok(a);
                }
                last = a;
            }
            last
        }
        "or" => {
            let mut last = TVal::Nil;
            for a in args {
                if a.truthy() {
                    return Ok(a);
                }
                last = a;
            }
            last
        }
        "not" => {
            want(1)?;
            TVal::Bool(!args[0].truthy())
        }
        "len" => {
            want(1)?;
            match &args[0] {
                TVal::Str(s) => TVal::Int(s.len() as i64),
                TVal::Map(m, _) => TVal::Int(m.len() as i64),
                _ => return terr("len of type"),
            }
        }
        "json" => {
            want(1)?;
            let mut s = String::new();
            args[0].json(&mut s);
            TVal::Str(s)
        }
        "html" => TVal::Str(gofmt::html_escape(
            &args.iter().map(TVal::print).collect::<String>(),
        )),
        "urlquery" => TVal::Str(args.iter().map(TVal::print).collect()),
        _ => return terr(format!("function {f:?} not defined")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot() -> TVal {
        let mut tags = BTreeMap::new();
        tags.insert("host".to_string(), TVal::Str("h1".into()));
        let mut fields = BTreeMap::new();
        fields.insert("x".to_string(), TVal::Float(12.5));
        TVal::Struct(vec![
            ("Name".into(), TVal::Str("cpu".into())),
            ("Tags".into(), TVal::Map(tags, true)),
            ("Fields".into(), TVal::Map(fields, false)),
            ("Level".into(), TVal::Str("CRITICAL".into())),
        ])
    }

    fn r(src: &str) -> String {
        match Template::parse(src).and_then(|t| t.render(&dot())) {
            Ok(s) => s,
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn basics() {
        assert_eq!(r("{{ .Name }}:{{index .Tags \"host\"}}"), "cpu:h1");
        assert_eq!(r("{{ .Tags }}"), "map[host:h1]");
        assert_eq!(
            r("{{ .Tags.host }}|{{ .Tags.nope }}|{{ index .Tags \"nope\" }}"),
            "h1|<no value>|"
        );
        assert_eq!(r("{{ printf \"%.2f\" (index .Fields \"x\") }}"), "12.50");
        assert_eq!(r("{{ index .Fields \"x\" | printf \"%6.1f\" }}"), "  12.5");
        assert_eq!(
            r(
                "{{ if eq .Level \"OK\" }}fine{{ else if eq .Level \"CRITICAL\" }}bad{{ else }}meh{{ end }}"
            ),
            "bad"
        );
        assert_eq!(r("a  {{- .Name -}}  b"), "acpub");
        assert_eq!(r("{{ json .Tags }}"), "{\"host\":\"h1\"}");
        assert_eq!(
            r("{{ .Missing }}"),
            "ERR template: can't evaluate field Missing"
        );
        assert_eq!(r("{{ foo }}"), "ERR template: function \"foo\" not defined");
        assert_eq!(
            r("{{ if .Name }}x"),
            "ERR template: unexpected EOF: missing {{end}}"
        );
        let h = Template::parse_html("{{ json .Tags }}").and_then(|t| t.render(&dot()));
        assert_eq!(h, Ok("{&#34;host&#34;:&#34;h1&#34;}".to_string()));
        assert_eq!(
            super::super::printf::sprintf(
                "%d%%|%5s|%-4d|%v",
                &[
                    TVal::Int(3),
                    TVal::Str("ab".into()),
                    TVal::Int(7),
                    TVal::Float(1e6)
                ]
            ),
            "3%|   ab|7   |1e+06"
        );
    }
}
