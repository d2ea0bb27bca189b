//! Go's `fmt.Sprintf` for the template function `printf`.

use super::template::TVal;
use crate::gofmt;

/// Go's `parsenum`: the digits at `i`, if any. A number past a million before its next
/// digit is "crazy long" and, as in Go, swallows the rest of the format (the caller
/// writes `%!(NOVERB)`): so `%0999999999d` cannot pad to a gigabyte.
fn parse_num(cs: &[char], i: &mut usize) -> Result<Option<usize>, ()> {
    let mut num: Option<usize> = None;
    while let Some(d) = cs.get(*i).and_then(|c| c.to_digit(10)) {
        let n = num.unwrap_or(0);
        if n > 1_000_000 {
            *i = cs.len();
            return Err(());
        }
        num = Some(n * 10 + d as usize);
        *i += 1;
    }
    Ok(num)
}

/// Go's `fmt.Sprintf` for the verbs templates use: v s d f g e q t x %, with flags
/// `-+ 0`, width and precision.
pub fn sprintf(fmt: &str, args: &[TVal]) -> String {
    let mut out = String::new();
    let cs: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut ai = 0;
    while i < cs.len() {
        if cs[i] != '%' {
            out.push(cs[i]);
            i += 1;
            continue;
        }
        i += 1;
        let (mut minus, mut plus, mut zero) = (false, false, false);
        while i < cs.len() && matches!(cs[i], '-' | '+' | '0' | ' ' | '#') {
            match cs[i] {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                _ => {}
            }
            i += 1;
        }
        let width = match parse_num(&cs, &mut i) {
            Ok(w) => w,
            Err(()) => {
                out.push_str("%!(NOVERB)");
                break;
            }
        };
        let mut prec = None;
        if i < cs.len() && cs[i] == '.' {
            i += 1;
            match parse_num(&cs, &mut i) {
                Ok(p) => prec = Some(p.unwrap_or(0)),
                Err(()) => {
                    out.push_str("%!(NOVERB)");
                    break;
                }
            }
        }
        let Some(&verb) = cs.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(ai) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        ai += 1;
        let s = format_one(verb, arg, prec, plus);
        let s = match width {
            Some(w) if s.chars().count() < w => {
                let pad = w - s.chars().count();
                if minus {
                    format!("{s}{}", " ".repeat(pad))
                } else if zero && !matches!(arg, TVal::Str(_)) {
                    let (sign, digits) = match s.strip_prefix('-') {
                        Some(d) => ("-", d),
                        None => ("", s.as_str()),
                    };
                    format!("{sign}{}{digits}", "0".repeat(pad))
                } else {
                    format!("{}{s}", " ".repeat(pad))
                }
            }
            _ => s,
        };
        out.push_str(&s);
    }
    if ai < args.len() {
        let extra: Vec<String> = args[ai..]
            .iter()
            .map(|a| format!("{}={}", go_type(a), a.print()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn go_type(v: &TVal) -> &'static str {
    match v {
        TVal::Nil => "<nil>",
        TVal::Str(_) => "string",
        TVal::Int(_) => "int64",
        TVal::Float(_) => "float64",
        TVal::Bool(_) => "bool",
        TVal::Time(_) => "time.Time",
        TVal::Duration(_) => "time.Duration",
        TVal::Map(..) => "map[string]interface {}",
        TVal::Struct(_) => "struct",
    }
}

fn format_one(verb: char, arg: &TVal, prec: Option<usize>, plus: bool) -> String {
    let sign = |s: String, neg: bool| if plus && !neg { format!("+{s}") } else { s };
    match (verb, arg) {
        ('v', _) | ('s', TVal::Str(_)) => match (arg, prec) {
            (TVal::Str(s), Some(p)) => s.chars().take(p).collect(),
            _ => arg.print(),
        },
        ('s', TVal::Time(_) | TVal::Duration(_)) => arg.print(),
        ('d', TVal::Int(i)) => sign(i.to_string(), *i < 0),
        ('d', TVal::Duration(i)) => sign(i.to_string(), *i < 0),
        ('x', TVal::Int(i)) => format!("{i:x}"),
        ('x', TVal::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('f' | 'F', TVal::Float(f)) => sign(format!("{:.*}", prec.unwrap_or(6), f), *f < 0.0),
        ('e', TVal::Float(f)) => {
            let s = format!("{:.*e}", prec.unwrap_or(6), f);
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let (es, ed) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            sign(format!("{m}e{es}{ed:0>2}"), *f < 0.0)
        }
        ('g', TVal::Float(f)) => match prec {
            None => sign(gofmt::float_v(*f), *f < 0.0),
            Some(p) => {
                let p = p.max(1);
                let s = format!("{:.*e}", p - 1, f);
                let exp: i32 = s
                    .split_once('e')
                    .and_then(|(_, e)| e.parse().ok())
                    .unwrap_or(0);
                if exp < -4 || exp >= p as i32 {
                    format_one('e', arg, Some(p - 1), plus)
                } else {
                    let d = (p as i32 - 1 - exp).max(0) as usize;
                    let s = format!("{f:.d$}");
                    let s = if s.contains('.') {
                        s.trim_end_matches('0').trim_end_matches('.').to_string()
                    } else {
                        s
                    };
                    sign(s, *f < 0.0)
                }
            }
        },
        ('q', TVal::Str(s)) => {
            let mut o = String::new();
            gofmt::json_string(&mut o, s);
            o
        }
        ('t', TVal::Bool(b)) => b.to_string(),
        (v, a) => format!("%!{v}({}={})", go_type(a), a.print()),
    }
}
