//! The lambda function library (Kapacitor's `tick/stateful/functions.go`).
//!
//! Error texts copy Kapacitor's, including its Go type names (`float64`, `int64`),
//! because users search for them.

use super::lambda::{EvalError, Scope, Value};

/// A library function. Stateful ones (`sigma`, `count`, `spread`) keep a
/// [`FuncState`] per call site and per group.
#[derive(Debug, Clone, Copy)]
pub enum Func {
    Bool,
    Int,
    Float,
    String,
    Duration,
    Math1(&'static str, fn(f64) -> f64),
    Math2(&'static str, fn(f64, f64) -> f64),
    MathI(&'static str, fn(i64) -> f64),
    MathIF(&'static str, fn(i64, f64) -> f64),
    Str1Str(&'static str, fn(&str) -> String),
    Str1Int(&'static str, fn(&str) -> i64),
    Str2Bool(&'static str, fn(&str, &str) -> bool),
    Str2Int(&'static str, fn(&str, &str) -> i64),
    Str2Str(&'static str, fn(&str, &str) -> String),
    StrReplace,
    StrSubstring,
    RegexReplace,
    TimePart(&'static str, fn(i64) -> i64),
    UnixNano,
    Now,
    HumanBytes,
    If,
    IsPresent,
    Sigma,
    Count,
    Spread,
}

/// Per-call-site state of a stateful function.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FuncState {
    n: f64,
    mean: f64,
    m2: f64,
    count: i64,
    min: Option<f64>,
    max: Option<f64>,
}

impl Func {
    /// Whether calls need per-group state.
    pub fn is_stateful(&self) -> bool {
        matches!(self, Func::Sigma | Func::Count | Func::Spread)
    }
}

fn go_logb(x: f64) -> f64 {
    if x == 0.0 {
        f64::NEG_INFINITY
    } else if x.is_infinite() {
        f64::INFINITY
    } else if x.is_nan() {
        x
    } else {
        libm::ilogb(x) as f64
    }
}

fn index_any(s: &str, chars: &str) -> i64 {
    s.char_indices()
        .find(|(_, c)| chars.contains(*c))
        .map_or(-1, |(i, _)| i as i64)
}

fn last_index_any(s: &str, chars: &str) -> i64 {
    s.char_indices()
        .rev()
        .find(|(_, c)| chars.contains(*c))
        .map_or(-1, |(i, _)| i as i64)
}

/// Days since the epoch to (year, month, day), proleptic Gregorian (Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const DAY: i64 = 86_400_000_000_000;

fn t_minute(t: i64) -> i64 {
    t.rem_euclid(3_600_000_000_000) / 60_000_000_000
}
fn t_hour(t: i64) -> i64 {
    t.rem_euclid(DAY) / 3_600_000_000_000
}
fn t_weekday(t: i64) -> i64 {
    (t.div_euclid(DAY) + 4).rem_euclid(7)
}
fn t_day(t: i64) -> i64 {
    civil(t.div_euclid(DAY)).2
}
fn t_month(t: i64) -> i64 {
    civil(t.div_euclid(DAY)).1
}
fn t_year(t: i64) -> i64 {
    civil(t.div_euclid(DAY)).0
}

/// Finds a function by name. Kapacitor functions tigk lacks are refused by name.
pub fn lookup(name: &str) -> Result<Func, String> {
    use Func::*;
    Ok(match name {
        "bool" => Bool,
        "int" => Int,
        "float" => Float,
        "string" => String,
        "duration" => Duration,
        "abs" => Math1("abs", f64::abs),
        "acos" => Math1("acos", f64::acos),
        "acosh" => Math1("acosh", f64::acosh),
        "asin" => Math1("asin", f64::asin),
        "asinh" => Math1("asinh", f64::asinh),
        "atan" => Math1("atan", f64::atan),
        "atanh" => Math1("atanh", f64::atanh),
        "cbrt" => Math1("cbrt", f64::cbrt),
        "ceil" => Math1("ceil", f64::ceil),
        "cos" => Math1("cos", f64::cos),
        "cosh" => Math1("cosh", f64::cosh),
        "erf" => Math1("erf", libm::erf),
        "erfc" => Math1("erfc", libm::erfc),
        "exp" => Math1("exp", f64::exp),
        "exp2" => Math1("exp2", f64::exp2),
        "expm1" => Math1("expm1", f64::exp_m1),
        "floor" => Math1("floor", f64::floor),
        "gamma" => Math1("gamma", libm::tgamma),
        "j0" => Math1("j0", libm::j0),
        "j1" => Math1("j1", libm::j1),
        "log" => Math1("log", f64::ln),
        "log10" => Math1("log10", f64::log10),
        "log1p" => Math1("log1p", f64::ln_1p),
        "log2" => Math1("log2", f64::log2),
        "logb" => Math1("logb", go_logb),
        "sin" => Math1("sin", f64::sin),
        "sinh" => Math1("sinh", f64::sinh),
        "sqrt" => Math1("sqrt", f64::sqrt),
        "tan" => Math1("tan", f64::tan),
        "tanh" => Math1("tanh", f64::tanh),
        "trunc" => Math1("trunc", f64::trunc),
        "y0" => Math1("y0", libm::y0),
        "y1" => Math1("y1", libm::y1),
        "atan2" => Math2("atan2", f64::atan2),
        "hypot" => Math2("hypot", f64::hypot),
        "max" => Math2("max", |a, b| {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            }
        }),
        "min" => Math2("min", |a, b| {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.min(b)
            }
        }),
        "mod" => Math2("mod", |a, b| a % b),
        "pow" => Math2("pow", f64::powf),
        "pow10" => MathI("pow10", |n| 10f64.powi(n.clamp(-400, 400) as i32)),
        "jn" => MathIF("jn", |n, x| {
            libm::jn(n.clamp(i32::MIN.into(), i32::MAX.into()) as i32, x)
        }),
        "yn" => MathIF("yn", |n, x| {
            libm::yn(n.clamp(i32::MIN.into(), i32::MAX.into()) as i32, x)
        }),
        "strContains" => Str2Bool("strContains", |a, b| a.contains(b)),
        "strContainsAny" => Str2Bool("strContainsAny", |a, b| b.chars().any(|c| a.contains(c))),
        "strHasPrefix" => Str2Bool("strHasPrefix", |a, b| a.starts_with(b)),
        "strHasSuffix" => Str2Bool("strHasSuffix", |a, b| a.ends_with(b)),
        "strCount" => Str2Int("strCount", |a, b| a.matches(b).count() as i64),
        "strIndex" => Str2Int("strIndex", |a, b| a.find(b).map_or(-1, |i| i as i64)),
        "strIndexAny" => Str2Int("strIndexAny", index_any),
        "strLastIndex" => Str2Int("strLastIndex", |a, b| a.rfind(b).map_or(-1, |i| i as i64)),
        "strLastIndexAny" => Str2Int("strLastIndexAny", last_index_any),
        "strLength" => Str1Int("strLength", |a| a.len() as i64),
        "strToLower" => Str1Str("strToLower", str::to_lowercase),
        "strToUpper" => Str1Str("strToUpper", str::to_uppercase),
        "strTrimSpace" => Str1Str("strTrimSpace", |a| a.trim().to_string()),
        "strTrim" => Str2Str("strTrim", |a, b| {
            a.trim_matches(|c| b.contains(c)).to_string()
        }),
        "strTrimLeft" => Str2Str("strTrimLeft", |a, b| {
            a.trim_start_matches(|c| b.contains(c)).to_string()
        }),
        "strTrimRight" => Str2Str("strTrimRight", |a, b| {
            a.trim_end_matches(|c| b.contains(c)).to_string()
        }),
        "strTrimPrefix" => Str2Str("strTrimPrefix", |a, b| {
            a.strip_prefix(b).unwrap_or(a).to_string()
        }),
        "strTrimSuffix" => Str2Str("strTrimSuffix", |a, b| {
            a.strip_suffix(b).unwrap_or(a).to_string()
        }),
        "strReplace" => StrReplace,
        "strSubstring" => StrSubstring,
        "regexReplace" => RegexReplace,
        "minute" => TimePart("minute", t_minute),
        "hour" => TimePart("hour", t_hour),
        "weekday" => TimePart("weekday", t_weekday),
        "day" => TimePart("day", t_day),
        "month" => TimePart("month", t_month),
        "year" => TimePart("year", t_year),
        "unixNano" => UnixNano,
        "now" => Now,
        "humanBytes" => HumanBytes,
        "if" => If,
        "isPresent" => IsPresent,
        "sigma" => Sigma,
        "count" => Count,
        "spread" => Spread,
        "rand" => return Err("function \"rand\" is not supported by tigk".into()),
        _ => return Err(format!("undefined function {name:?}")),
    })
}

fn e<T>(msg: String) -> Result<T, EvalError> {
    Err(EvalError(msg))
}

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), EvalError> {
    if args.len() == n {
        return Ok(());
    }
    let words = ["zero", "one", "two", "three", "four"];
    let w = words.get(n).copied().unwrap_or("more");
    let plural = if n == 1 { "argument" } else { "arguments" };
    e(format!("{name} expects exactly {w} {plural}"))
}

const ORD: [&str; 4] = ["first", "second", "third", "fourth"];

fn arg_str<'a>(name: &str, args: &'a [Value], i: usize) -> Result<&'a str, EvalError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => e(format!(
            "cannot pass {} as {} arg to {name}, must be string",
            v.go_type(),
            ORD[i]
        )),
        None => e(format!("{name} is missing its {} arg", ORD[i])),
    }
}

fn arg_int(name: &str, args: &[Value], i: usize) -> Result<i64, EvalError> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(v) => e(format!(
            "cannot pass {} as {} arg to {name}, must be int",
            v.go_type(),
            ORD[i]
        )),
        None => e(format!("{name} is missing its {} arg", ORD[i])),
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// InfluxQL's duration formatting: the largest unit that divides exactly.
pub fn format_duration(d: i64) -> String {
    const UNITS: [(i64, &str); 7] = [
        (604_800_000_000_000, "w"),
        (DAY, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
    ];
    if d == 0 {
        return "0s".into();
    }
    for (n, u) in UNITS {
        if d % n == 0 {
            return format!("{}{u}", d / n);
        }
    }
    format!("{d}ns")
}

/// go-humanize's `Bytes`: SI units, one decimal below 10.
pub fn human_bytes(s: u64) -> String {
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if s < 10 {
        return format!("{s} B");
    }
    let f = s as f64;
    let e = (f.ln() / 1000f64.ln()).floor().clamp(0.0, 6.0);
    let val = (f / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    let suffix = SIZES[e as usize];
    if val < 10.0 {
        format!("{val:.1} {suffix}")
    } else {
        format!("{val:.0} {suffix}")
    }
}

fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `isPresent("ref")`: true when the point has the field or tag.
pub fn is_present<'a>(
    _name: &str,
    mut refs: impl ExactSizeIterator<Item = Option<&'a str>>,
    scope: &dyn Scope,
) -> Result<Value, EvalError> {
    if refs.len() != 1 {
        return e("isPresent expects exactly one argument".into());
    }
    match refs.next().flatten() {
        Some(r) => Ok(Value::Bool(scope.get(r)?.is_some())),
        None => e("isPresent expects a field or tag reference".into()),
    }
}

/// Calls a function on evaluated arguments.
pub fn call(f: Func, args: &[Value], state: Option<&mut FuncState>) -> Result<Value, EvalError> {
    use Value as V;
    match f {
        Func::Bool => {
            arity("bool", args, 1)?;
            match &args[0] {
                V::Bool(b) => Ok(V::Bool(*b)),
                V::String(s) => parse_go_bool(s).map(V::Bool).ok_or_else(|| {
                    EvalError(format!("strconv.ParseBool: parsing {s:?}: invalid syntax"))
                }),
                V::Int(0) => Ok(V::Bool(false)),
                V::Int(1) => Ok(V::Bool(true)),
                V::Float(x) if *x == 0.0 => Ok(V::Bool(false)),
                V::Float(x) if *x == 1.0 => Ok(V::Bool(true)),
                V::Int(i) => e(format!("cannot convert {i} to boolean")),
                V::Float(x) => e(format!("cannot convert {} to boolean", format_float(*x))),
                v => e(format!("cannot convert {} to boolean", v.go_type())),
            }
        }
        Func::Int => {
            arity("int", args, 1)?;
            match &args[0] {
                V::Int(i) => Ok(V::Int(*i)),
                V::Float(x) => Ok(V::Int(*x as i64)),
                V::String(s) => s.parse::<i64>().map(V::Int).map_err(|_| {
                    EvalError(format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))
                }),
                V::Bool(b) => Ok(V::Int(i64::from(*b))),
                V::Duration(d) => Ok(V::Int(*d)),
                v => e(format!("cannot convert {} to integer", v.go_type())),
            }
        }
        Func::Float => {
            arity("float", args, 1)?;
            match &args[0] {
                V::Int(i) => Ok(V::Float(*i as f64)),
                V::Float(x) => Ok(V::Float(*x)),
                V::String(s) => s
                    .trim_start_matches('+')
                    .parse::<f64>()
                    .map(V::Float)
                    .map_err(|_| {
                        EvalError(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
                    }),
                V::Bool(b) => Ok(V::Float(if *b { 1.0 } else { 0.0 })),
                v => e(format!("cannot convert {} to float", v.go_type())),
            }
        }
        Func::String => {
            arity("string", args, 1)?;
            match &args[0] {
                V::Int(i) => Ok(V::String(i.to_string())),
                V::Float(x) => Ok(V::String(format_float(*x))),
                V::Bool(b) => Ok(V::String(b.to_string())),
                V::Duration(d) => Ok(V::String(format_duration(*d))),
                V::String(s) => Ok(V::String(s.clone())),
                v => e(format!("cannot convert {} to string", v.go_type())),
            }
        }
        Func::Duration => {
            if args.len() != 1 && args.len() != 2 {
                return e("duration expects one or two arguments duration(value, unit) where unit is optional depending on the type of value.".into());
            }
            let unit = || match args.get(1) {
                None => e("duration expects unit argument for int and float values".into()),
                Some(V::Duration(u)) => Ok(*u),
                Some(v) => e(format!("invalid duration unit type: {}", v.go_type())),
            };
            match &args[0] {
                V::Duration(d) => Ok(V::Duration(*d)),
                V::Int(i) => Ok(V::Duration(i.wrapping_mul(unit()?))),
                V::Float(x) => Ok(V::Duration((x * unit()? as f64) as i64)),
                V::String(s) => super::parser::parse_duration(s)
                    .map(V::Duration)
                    .ok_or_else(|| EvalError(format!("invalid duration string {s:?}"))),
                v => e(format!("cannot convert {} to duration", v.go_type())),
            }
        }
        Func::Math1(name, f) => {
            arity(name, args, 1)?;
            match &args[0] {
                V::Float(x) => Ok(V::Float(f(*x))),
                v => e(format!(
                    "cannot pass {} to {name}, must be float64",
                    v.go_type()
                )),
            }
        }
        Func::Math2(name, f) => {
            arity(name, args, 2)?;
            match (&args[0], &args[1]) {
                (V::Float(a), V::Float(b)) => Ok(V::Float(f(*a, *b))),
                (V::Float(_), v) | (v, _) => e(format!(
                    "cannot pass {} to {name}, must be float64",
                    v.go_type()
                )),
            }
        }
        Func::MathI(name, f) => {
            arity(name, args, 1)?;
            match &args[0] {
                V::Int(n) => Ok(V::Float(f(*n))),
                v => e(format!(
                    "cannot pass {} to {name}, must be int64",
                    v.go_type()
                )),
            }
        }
        Func::MathIF(name, f) => {
            arity(name, args, 2)?;
            match (&args[0], &args[1]) {
                (V::Int(n), V::Float(x)) => Ok(V::Float(f(*n, *x))),
                (V::Int(_), v) => e(format!(
                    "cannot pass {} to {name} as second arg, must be float64",
                    v.go_type()
                )),
                (v, _) => e(format!(
                    "cannot pass {} to {name} as first arg, must be int64",
                    v.go_type()
                )),
            }
        }
        Func::Str1Str(name, f) => {
            arity(name, args, 1)?;
            Ok(V::String(f(arg_str(name, args, 0)?)))
        }
        Func::Str1Int(name, f) => {
            arity(name, args, 1)?;
            Ok(V::Int(f(arg_str(name, args, 0)?)))
        }
        Func::Str2Bool(name, f) => {
            arity(name, args, 2)?;
            Ok(V::Bool(f(arg_str(name, args, 0)?, arg_str(name, args, 1)?)))
        }
        Func::Str2Int(name, f) => {
            arity(name, args, 2)?;
            Ok(V::Int(f(arg_str(name, args, 0)?, arg_str(name, args, 1)?)))
        }
        Func::Str2Str(name, f) => {
            arity(name, args, 2)?;
            Ok(V::String(f(
                arg_str(name, args, 0)?,
                arg_str(name, args, 1)?,
            )))
        }
        Func::StrReplace => {
            arity("strReplace", args, 4)?;
            let (s, old, new) = (
                arg_str("strReplace", args, 0)?,
                arg_str("strReplace", args, 1)?,
                arg_str("strReplace", args, 2)?,
            );
            let n = arg_int("strReplace", args, 3)?;
            Ok(V::String(if n < 0 {
                s.replace(old, new)
            } else {
                s.replacen(old, new, n as usize)
            }))
        }
        Func::StrSubstring => {
            arity("strSubstring", args, 3)?;
            let s = arg_str("strSubstring", args, 0)?;
            let (start, stop) = (
                arg_int("strSubstring", args, 1)?,
                arg_int("strSubstring", args, 2)?,
            );
            for i in [start, stop] {
                if i < 0 {
                    return e(format!("found negative index for strSubstring: {i}"));
                }
            }
            if stop as u64 > s.len() as u64 {
                return e(format!(
                    "stop index too large for string in strSubstring: {stop}"
                ));
            }
            let (a, b) = (start as usize, stop as usize);
            match s.get(a..b) {
                Some(sub) => Ok(V::String(sub.to_string())),
                None => e(format!("invalid indexes for strSubstring: {start} {stop}")),
            }
        }
        Func::RegexReplace => {
            arity("regexReplace", args, 3)?;
            let re = match &args[0] {
                V::Regex(r) => r,
                v => {
                    return e(format!(
                        "cannot pass {} as first arg to regexReplace, must be regex",
                        v.go_type()
                    ));
                }
            };
            let src = arg_str("regexReplace", args, 1)?;
            let repl = arg_str("regexReplace", args, 2)?;
            Ok(V::String(re.replace_all(src, repl).into_owned()))
        }
        Func::TimePart(name, f) => {
            arity(name, args, 1)?;
            match &args[0] {
                V::Time(t) => Ok(V::Int(f(*t))),
                v => e(format!("cannot convert {} to time.Time", v.go_type())),
            }
        }
        Func::UnixNano => {
            arity("unixNano", args, 1)?;
            match &args[0] {
                V::Time(t) => Ok(V::Int(*t)),
                v => e(format!("cannot convert {} to time.Time", v.go_type())),
            }
        }
        Func::Now => {
            arity("now", args, 0)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            Ok(V::Time(now))
        }
        Func::HumanBytes => {
            arity("humanBytes", args, 1)?;
            match &args[0] {
                V::Float(x) => Ok(V::String(human_bytes(if *x > 0.0 { *x as u64 } else { 0 }))),
                V::Int(i) => Ok(V::String(human_bytes((*i).max(0) as u64))),
                v => e(format!("cannot convert {} to humanBytes", v.go_type())),
            }
        }
        Func::If => {
            arity("if", args, 3)?;
            let cond = match &args[0] {
                V::Bool(b) => *b,
                v => {
                    return e(format!(
                        "first argument to if must be a condition with type of bool - got {}",
                        v.go_type()
                    ));
                }
            };
            if args[1].typ() != args[2].typ() {
                return e(format!(
                    "Different return types are not supported - second argument is {} and third argument is {}",
                    args[1].go_type(),
                    args[2].go_type()
                ));
            }
            Ok(if cond {
                args[1].clone()
            } else {
                args[2].clone()
            })
        }
        Func::IsPresent => e("isPresent expects a field or tag reference".into()),
        Func::Count => {
            let st = state.ok_or_else(|| EvalError("count has no state".into()))?;
            st.count += 1;
            Ok(V::Int(st.count))
        }
        Func::Sigma => {
            arity("sigma", args, 1)?;
            let V::Float(x) = args[0] else {
                return e("value is not a float".into());
            };
            let s = state.ok_or_else(|| EvalError("sigma has no state".into()))?;
            s.n += 1.0;
            let delta = x - s.mean;
            s.mean += delta / s.n;
            s.m2 += delta * (x - s.mean);
            let variance = s.m2 / (s.n - 1.0);
            if s.n < 2.0 || variance == 0.0 {
                return Ok(V::Float(0.0));
            }
            Ok(V::Float((x - s.mean).abs() / variance.sqrt()))
        }
        Func::Spread => {
            arity("spread", args, 1)?;
            let V::Float(x) = args[0] else {
                return e("value is not a float".into());
            };
            let s = state.ok_or_else(|| EvalError("spread has no state".into()))?;
            let min = s.min.map_or(x, |m| m.min(x));
            let max = s.max.map_or(x, |m| m.max(x));
            s.min = Some(min);
            s.max = Some(max);
            Ok(V::Float(max - min))
        }
    }
}
