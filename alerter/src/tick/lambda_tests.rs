//! Unit tests for lambda typing, evaluation and every library function.
#![allow(clippy::unwrap_used)]

use super::ast::Op;
use super::lambda::{EmptyScope, Lambda, PointScope, Value, apply_binary};
use super::parser::parse_lambda_expr;
use common::FieldValue;

fn compile(src: &str) -> Result<Lambda, String> {
    let node = parse_lambda_expr(src).map_err(|e| e.to_string())?;
    Lambda::compile(&node).map_err(|e| e.to_string())
}

/// Evaluates against a fixed point: fields f=1.5, i=7, s='hello world', b=true,
/// tag host='web01', time 2024-03-05T13:45:30Z (a Tuesday).
fn ev(src: &str) -> Result<Value, String> {
    let fields = vec![
        ("f".to_string(), FieldValue::Float(1.5)),
        ("i".to_string(), FieldValue::Integer(7)),
        ("s".to_string(), FieldValue::String("hello world".into())),
        ("b".to_string(), FieldValue::Boolean(true)),
    ];
    let tags = vec![("host".to_string(), "web01".to_string())];
    let scope = PointScope {
        time: 1_709_646_330_000_000_000,
        fields: &fields,
        tags: &tags,
    };
    let l = compile(src)?;
    let mut st = l.new_state();
    l.eval(&scope, &mut st).map_err(|e| e.to_string())
}

fn ok(src: &str) -> Value {
    ev(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn f(src: &str) -> f64 {
    match ok(src) {
        Value::Float(x) => x,
        v => panic!("{src}: {v:?}"),
    }
}

fn i(src: &str) -> i64 {
    match ok(src) {
        Value::Int(x) => x,
        v => panic!("{src}: {v:?}"),
    }
}

fn s(src: &str) -> String {
    match ok(src) {
        Value::String(x) => x,
        v => panic!("{src}: {v:?}"),
    }
}

fn b(src: &str) -> bool {
    match ok(src) {
        Value::Bool(x) => x,
        v => panic!("{src}: {v:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn typing_rules() {
    // Mixed int/float comparisons are allowed.
    assert!(b(r#""i" > "f""#));
    assert!(b("1 < 1.5"));
    assert!(b(r#""i" == 7.0"#));
    // Arithmetic needs equal types.
    assert_eq!(
        ev(r#""i" + "f""#).unwrap_err(),
        "mismatched type to binary operator. got int + float. see bool(), int(), float(), string(), duration()"
    );
    assert_eq!(
        compile("1 + 2.0").unwrap_err(),
        "mismatched type to binary operator. got int + float. see bool(), int(), float(), string(), duration()"
    );
    assert_eq!(
        compile("'a' % 'b'").unwrap_err(),
        "invalid math operator % for type string"
    );
    assert_eq!(
        compile("TRUE + 1").unwrap_err(),
        "invalid math operator + for type boolean"
    );
    assert!(compile("'a' > 5").unwrap_err().contains("got string > int"));
    // Integer division truncates; % is int only.
    assert_eq!(i("7 / 2"), 3);
    assert_eq!(i("-7 / 2"), -3);
    assert_eq!(i("7 % 3"), 1);
    assert!(close(f("7.0 / 2.0"), 3.5));
    assert_eq!(ev("1 / 0").unwrap_err(), "integer divide by zero");
    assert_eq!(ev(r#""i" % 0"#).unwrap_err(), "integer divide by zero");
    assert!(f("1.0 / 0.0").is_infinite());
    // Strings.
    assert_eq!(s(r#""s" + '!'"#), "hello world!");
    assert!(b("'abc' < 'abd'"));
    // Durations.
    assert!(matches!(ok("1m + 30s"), Value::Duration(90_000_000_000)));
    assert!(matches!(ok("2 * 1m"), Value::Duration(120_000_000_000)));
    assert!(matches!(ok("1m * 1.5"), Value::Duration(90_000_000_000)));
    assert!(matches!(ok("1h / 2"), Value::Duration(1_800_000_000_000)));
    assert_eq!(i("1h / 1m"), 60);
    assert!(b("1m > 59s"));
    // Unary.
    assert_eq!(i("-\"i\""), -7);
    assert!(!b("!\"b\""));
    assert!(compile("-'x'").unwrap_err().contains("unary operator -"));
    // Regex.
    assert!(b(r#""host" =~ /^web\d+$/"#));
    assert!(b(r#""host" !~ /^db/"#));
    assert!(compile("1 =~ /x/").is_err());
    // Bool equality and logic with short-circuit.
    assert!(b("TRUE == TRUE"));
    assert!(!b(r#"FALSE AND "missing" > 1"#));
    assert!(b(r#"TRUE OR "missing" > 1"#));
    assert!(b("1 < 2 AND 2 < 3 OR FALSE"));
}

#[test]
fn runtime_errors() {
    assert_eq!(
        ev(r#""nope" > 1"#).unwrap_err(),
        r#"left reference value "nope" is missing value"#
    );
    assert_eq!(
        ev(r#"1 < "nope""#).unwrap_err(),
        r#"right reference value "nope" is missing value"#
    );
    assert_eq!(
        ev(r#"abs("nope")"#).unwrap_err(),
        r#"reference "nope" is missing value"#
    );
    assert!(ev(r#""s" > 1"#).unwrap_err().contains("got string > int"));
    let l = compile(r#""i""#).unwrap();
    let mut st = l.new_state();
    assert!(l.eval_bool(&EmptyScope, &mut st).is_err());
    // Field and tag with the same name is ambiguous.
    let fields = vec![("host".to_string(), FieldValue::Integer(1))];
    let tags = vec![("host".to_string(), "a".to_string())];
    let scope = PointScope {
        time: 0,
        fields: &fields,
        tags: &tags,
    };
    assert!(compile(r#""host""#).unwrap().eval(&scope, &mut st).is_err());
}

#[test]
fn casts() {
    assert_eq!(i("int(2.9)"), 2);
    assert_eq!(i("int(-2.9)"), -2);
    assert_eq!(i("int('42')"), 42);
    assert_eq!(i("int(TRUE)"), 1);
    assert_eq!(i("int(1s)"), 1_000_000_000);
    assert!(ev("int('x')").unwrap_err().contains("strconv.ParseInt"));
    assert!(close(f("float(3)"), 3.0));
    assert!(close(f("float('2.5')"), 2.5));
    assert!(close(f("float(FALSE)"), 0.0));
    assert_eq!(s("string(5)"), "5");
    assert_eq!(s("string(2.5)"), "2.5");
    assert_eq!(s("string(TRUE)"), "true");
    assert_eq!(s("string(90s)"), "90s");
    assert_eq!(s("string(2h)"), "2h");
    assert!(b("bool('true')"));
    assert!(!b("bool(0)"));
    assert!(b("bool(1.0)"));
    assert!(
        ev("bool(2)")
            .unwrap_err()
            .contains("cannot convert 2 to boolean")
    );
    assert!(matches!(
        ok("duration(5, 1s)"),
        Value::Duration(5_000_000_000)
    ));
    assert!(matches!(
        ok("duration(1.5, 1m)"),
        Value::Duration(90_000_000_000)
    ));
    assert!(matches!(
        ok("duration('1h30m')"),
        Value::Duration(5_400_000_000_000)
    ));
    assert!(
        ev("duration(5)")
            .unwrap_err()
            .contains("expects unit argument")
    );
}

#[test]
fn math_functions() {
    let cases: &[(&str, f64)] = &[
        ("abs(-2.0)", 2.0),
        ("acos(1.0)", 0.0),
        ("acosh(1.0)", 0.0),
        ("asin(0.0)", 0.0),
        ("asinh(0.0)", 0.0),
        ("atan(0.0)", 0.0),
        ("atan2(0.0, 1.0)", 0.0),
        ("atanh(0.0)", 0.0),
        ("cbrt(27.0)", 3.0),
        ("ceil(1.2)", 2.0),
        ("cos(0.0)", 1.0),
        ("cosh(0.0)", 1.0),
        ("erf(0.0)", 0.0),
        ("erfc(0.0)", 1.0),
        ("exp(0.0)", 1.0),
        ("exp2(3.0)", 8.0),
        ("expm1(0.0)", 0.0),
        ("floor(1.8)", 1.0),
        ("gamma(5.0)", 24.0),
        ("hypot(3.0, 4.0)", 5.0),
        ("j0(0.0)", 1.0),
        ("j1(0.0)", 0.0),
        ("jn(0, 0.0)", 1.0),
        ("log(1.0)", 0.0),
        ("log10(100.0)", 2.0),
        ("log1p(0.0)", 0.0),
        ("log2(8.0)", 3.0),
        ("logb(8.0)", 3.0),
        ("max(1.0, 2.0)", 2.0),
        ("min(1.0, 2.0)", 1.0),
        ("mod(7.0, 4.0)", 3.0),
        ("pow(2.0, 10.0)", 1024.0),
        ("pow10(3)", 1000.0),
        ("sin(0.0)", 0.0),
        ("sinh(0.0)", 0.0),
        ("sqrt(16.0)", 4.0),
        ("tan(0.0)", 0.0),
        ("tanh(0.0)", 0.0),
        ("trunc(-1.7)", -1.0),
        ("y0(1.0)", 0.088_256_964_215_676_96),
        ("y1(1.0)", -0.781_212_821_300_288_7),
        ("yn(0, 1.0)", 0.088_256_964_215_676_96),
    ];
    for (src, want) in cases {
        assert!(close(f(src), *want), "{src} = {} want {want}", f(src));
    }
    assert_eq!(
        ev("abs(1)").unwrap_err(),
        "cannot pass int64 to abs, must be float64"
    );
    assert_eq!(
        ev("pow(2.0)").unwrap_err(),
        "pow expects exactly two arguments"
    );
    assert_eq!(
        ev("sqrt()").unwrap_err(),
        "sqrt expects exactly one argument"
    );
    assert!(
        ev("jn(1.0, 1.0)")
            .unwrap_err()
            .contains("as first arg, must be int64")
    );
}

#[test]
fn string_functions() {
    assert!(b(r#"strContains("s", 'lo w')"#));
    assert!(b(r#"strContainsAny("s", 'xyzd')"#));
    assert_eq!(i(r#"strCount("s", 'o')"#), 2);
    assert!(b(r#"strHasPrefix("s", 'hell')"#));
    assert!(b(r#"strHasSuffix("s", 'world')"#));
    assert_eq!(i(r#"strIndex("s", 'o')"#), 4);
    assert_eq!(i(r#"strIndex("s", 'z')"#), -1);
    assert_eq!(i(r#"strIndexAny("s", 'wo')"#), 4);
    assert_eq!(i(r#"strLastIndex("s", 'o')"#), 7);
    assert_eq!(i(r#"strLastIndexAny("s", 'lo')"#), 9);
    assert_eq!(i(r#"strLength("s")"#), 11);
    assert_eq!(s(r#"strReplace("s", 'o', '0', 1)"#), "hell0 world");
    assert_eq!(s(r#"strReplace("s", 'o', '0', -1)"#), "hell0 w0rld");
    assert_eq!(s(r#"strSubstring("s", 0, 5)"#), "hello");
    assert!(
        ev(r#"strSubstring("s", 0, 50)"#)
            .unwrap_err()
            .contains("stop index too large")
    );
    assert!(
        ev(r#"strSubstring("s", -1, 2)"#)
            .unwrap_err()
            .contains("negative index")
    );
    assert_eq!(s("strToLower('ABC')"), "abc");
    assert_eq!(s("strToUpper('abc')"), "ABC");
    assert_eq!(s("strTrim('xxaxx', 'x')"), "a");
    assert_eq!(s("strTrimLeft('xxaxx', 'x')"), "axx");
    assert_eq!(s("strTrimRight('xxaxx', 'x')"), "xxa");
    assert_eq!(s("strTrimPrefix('prefix-a', 'prefix-')"), "a");
    assert_eq!(s("strTrimSuffix('a.log', '.log')"), "a");
    assert_eq!(s("strTrimSpace('  a  ')"), "a");
    assert_eq!(
        s(r#"regexReplace(/(\w+)\s(\w+)/, "s", '$2 $1')"#),
        "world hello"
    );
    assert_eq!(
        ev("strToLower(1)").unwrap_err(),
        "cannot pass int64 as first arg to strToLower, must be string"
    );
}

#[test]
fn time_and_misc_functions() {
    assert_eq!(i(r#"minute("time")"#), 45);
    assert_eq!(i(r#"hour("time")"#), 13);
    assert_eq!(i(r#"weekday("time")"#), 2);
    assert_eq!(i(r#"day("time")"#), 5);
    assert_eq!(i(r#"month("time")"#), 3);
    assert_eq!(i(r#"year("time")"#), 2024);
    assert_eq!(i(r#"unixNano("time")"#), 1_709_646_330_000_000_000);
    assert!(matches!(ok("now()"), Value::Time(t) if t > 1_700_000_000_000_000_000));
    assert_eq!(
        ev("hour(1)").unwrap_err(),
        "cannot convert int64 to time.Time"
    );
    assert!(b(r#"isPresent("f")"#));
    assert!(b(r#"isPresent("host")"#));
    assert!(!b(r#"isPresent("nope")"#));
    assert!(ev("isPresent('f')").is_err());
    assert_eq!(i(r#"if("b", 1, 2)"#), 1);
    assert_eq!(s(r#"if("i" > 10, 'big', 'small')"#), "small");
    assert!(
        ev("if(TRUE, 1, 'a')")
            .unwrap_err()
            .contains("Different return types")
    );
    assert!(
        ev("if(1, 1, 2)")
            .unwrap_err()
            .contains("must be a condition")
    );
    assert_eq!(s("humanBytes(5)"), "5 B");
    assert_eq!(s("humanBytes(1500)"), "1.5 kB");
    assert_eq!(s("humanBytes(82854982)"), "83 MB");
    assert_eq!(s("humanBytes(1024.0)"), "1.0 kB");
    assert_eq!(
        compile("rand()").unwrap_err(),
        "function \"rand\" is not supported by tigk"
    );
    assert_eq!(
        compile("nosuch(1)").unwrap_err(),
        "undefined function \"nosuch\""
    );
}

#[test]
fn stateful_functions() {
    let l = compile(r#"count()"#).unwrap();
    assert!(l.is_stateful());
    let (mut a, mut b) = (l.new_state(), l.new_state());
    let fields = vec![("v".to_string(), FieldValue::Float(1.0))];
    let scope = PointScope {
        time: 0,
        fields: &fields,
        tags: &[],
    };
    for n in 1..=3 {
        assert!(matches!(l.eval(&scope, &mut a).unwrap(), Value::Int(x) if x == n));
    }
    // Another group has its own state.
    assert!(matches!(l.eval(&scope, &mut b).unwrap(), Value::Int(1)));

    let spread = compile(r#"spread("v")"#).unwrap();
    let mut st = spread.new_state();
    let mut last = 0.0;
    for v in [5.0, 1.0, 3.0, 9.0] {
        let fields = vec![("v".to_string(), FieldValue::Float(v))];
        let scope = PointScope {
            time: 0,
            fields: &fields,
            tags: &[],
        };
        if let Value::Float(x) = spread.eval(&scope, &mut st).unwrap() {
            last = x;
        }
    }
    assert!(close(last, 8.0));

    let sigma = compile(r#"sigma("v")"#).unwrap();
    let mut st = sigma.new_state();
    let mut out = Vec::new();
    for v in [1.0, 2.0, 3.0, 10.0] {
        let fields = vec![("v".to_string(), FieldValue::Float(v))];
        let scope = PointScope {
            time: 0,
            fields: &fields,
            tags: &[],
        };
        if let Value::Float(x) = sigma.eval(&scope, &mut st).unwrap() {
            out.push(x);
        }
    }
    assert!(close(out[0], 0.0));
    // After 1,2,3,10: mean 4, sample sd ~4.082; |10-4|/sd ~1.4697.
    assert!((out[3] - 1.469_693_845_669_907).abs() < 1e-9, "{out:?}");
    let fields = vec![("v".to_string(), FieldValue::Integer(1))];
    let scope = PointScope {
        time: 0,
        fields: &fields,
        tags: &[],
    };
    assert_eq!(
        sigma.eval(&scope, &mut st).unwrap_err().to_string(),
        "value is not a float"
    );
}

#[test]
fn apply_binary_direct() {
    assert!(matches!(
        apply_binary(Op::Plus, &Value::Int(1), &Value::Int(2)),
        Ok(Value::Int(3))
    ));
    assert!(apply_binary(Op::Plus, &Value::Int(1), &Value::Float(2.0)).is_err());
}
