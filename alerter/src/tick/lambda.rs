//! Lambda expressions: compilation (with Kapacitor's constant type checks) and
//! evaluation over a point.
//!
//! Typing follows `tick/stateful`: comparisons accept mixed int/float, arithmetic needs
//! equal types, `%` is int only, durations combine with ints and floats. Anything that
//! involves a reference is typed per point at run time; sub-expressions made only of
//! constants are checked once, in [`Lambda::compile`].

use std::fmt;

use super::ast::{Node, NodeKind, Op};
use super::functions::{self, Func};

/// A run-time value inside a lambda.
#[derive(Debug, Clone)]
pub enum Value {
    Float(f64),
    Int(i64),
    String(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    /// Nanoseconds since the Unix epoch, UTC.
    Time(i64),
    Regex(regex::Regex),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Duration(a), Value::Duration(b)) => a == b,
            (Value::Time(a), Value::Time(b)) => a == b,
            (Value::Regex(a), Value::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// Value types, named as Kapacitor names them in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Float,
    Int,
    String,
    Bool,
    Duration,
    Time,
    Regex,
    Missing,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Float => "float",
            Type::Int => "int",
            Type::String => "string",
            Type::Bool => "boolean",
            Type::Duration => "duration",
            Type::Time => "time",
            Type::Regex => "regex",
            Type::Missing => "missing",
        })
    }
}

impl Value {
    /// The value's type.
    pub fn typ(&self) -> Type {
        match self {
            Value::Float(_) => Type::Float,
            Value::Int(_) => Type::Int,
            Value::String(_) => Type::String,
            Value::Bool(_) => Type::Bool,
            Value::Duration(_) => Type::Duration,
            Value::Time(_) => Type::Time,
            Value::Regex(_) => Type::Regex,
        }
    }

    /// The Go type name Kapacitor prints for this value (`%T`), used in function errors.
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Float(_) => "float64",
            Value::Int(_) => "int64",
            Value::String(_) => "string",
            Value::Bool(_) => "bool",
            Value::Duration(_) => "time.Duration",
            Value::Time(_) => "time.Time",
            Value::Regex(_) => "*regexp.Regexp",
        }
    }
}

impl From<&common::FieldValue> for Value {
    fn from(v: &common::FieldValue) -> Self {
        match v {
            common::FieldValue::Float(f) => Value::Float(*f),
            common::FieldValue::Integer(i) => Value::Int(*i),
            // Kapacitor has no unsigned type; values beyond i64 saturate.
            common::FieldValue::Unsigned(u) => Value::Int(i64::try_from(*u).unwrap_or(i64::MAX)),
            common::FieldValue::String(s) => Value::String(s.clone()),
            common::FieldValue::Boolean(b) => Value::Bool(*b),
        }
    }
}

/// An evaluation error (a point-level error: the node counts it and goes on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(msg.into()))
}

/// What a lambda can read: references (`"name"`) resolve through this.
pub trait Scope {
    /// The value of a field or tag, or `None` when the point has no such name.
    /// `"time"` should resolve to [`Value::Time`].
    fn get(&self, name: &str) -> Result<Option<Value>, EvalError>;
}

/// A [`Scope`] over one point: its time, fields and tags.
#[derive(Debug, Clone, Copy)]
pub struct PointScope<'a> {
    /// Point time, ns since the epoch.
    pub time: i64,
    /// Field values.
    pub fields: &'a [(String, common::FieldValue)],
    /// Tags (always strings).
    pub tags: &'a [(String, String)],
}

impl Scope for PointScope<'_> {
    fn get(&self, name: &str) -> Result<Option<Value>, EvalError> {
        let field = self.fields.iter().find(|(k, _)| k == name);
        let tag = self.tags.iter().find(|(k, _)| k == name);
        match (field, tag) {
            (Some(_), Some(_)) => err(format!(
                "cannot have field and tags with same name {name:?}"
            )),
            (Some((_, v)), None) => Ok(Some(v.into())),
            (None, Some((_, v))) => Ok(Some(Value::String(v.clone()))),
            (None, None) if name == "time" => Ok(Some(Value::Time(self.time))),
            (None, None) => Ok(None),
        }
    }
}

/// A scope that has nothing in it; for constant expressions.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn get(&self, _name: &str) -> Result<Option<Value>, EvalError> {
        Ok(None)
    }
}

#[derive(Debug, Clone)]
enum Expr {
    Const(Value),
    Ref(String),
    Unary(Op, Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Call {
        func: Func,
        name: String,
        args: Vec<Expr>,
        slot: Option<usize>,
    },
}

/// A compiled lambda expression. Cheap to share; per-group state for the stateful
/// functions (`sigma`, `count`, `spread`) lives in a [`LambdaState`].
#[derive(Debug, Clone)]
pub struct Lambda {
    expr: Expr,
    slots: usize,
}

/// The state of a lambda's stateful function calls, for one group.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LambdaState {
    slots: Vec<functions::FuncState>,
}

/// A lambda bundled with its own state: use one per group.
#[derive(Debug, Clone)]
pub struct StatefulLambda {
    lambda: std::sync::Arc<Lambda>,
    state: LambdaState,
}

impl StatefulLambda {
    /// Wraps a lambda with fresh state.
    pub fn new(lambda: std::sync::Arc<Lambda>) -> Self {
        let state = lambda.new_state();
        StatefulLambda { lambda, state }
    }

    /// Evaluates against a point, updating the state.
    pub fn eval(&mut self, scope: &dyn Scope) -> Result<Value, EvalError> {
        self.lambda.eval(scope, &mut self.state)
    }

    /// Evaluates a predicate.
    pub fn eval_bool(&mut self, scope: &dyn Scope) -> Result<bool, EvalError> {
        self.lambda.eval_bool(scope, &mut self.state)
    }
}

/// The result type of `left op right`, or `None` when Kapacitor has no such operation.
pub fn binary_result_type(op: Op, l: Type, r: Type) -> Option<Type> {
    use Type::*;
    let num = |t| matches!(t, Int | Float);
    match op {
        Op::Equal | Op::NotEqual => {
            let ok = (num(l) && num(r)) || (l == r && matches!(l, String | Duration | Bool));
            ok.then_some(Bool)
        }
        Op::Less | Op::LessEqual | Op::Greater | Op::GreaterEqual => {
            let ok = (num(l) && num(r)) || (l == r && matches!(l, String | Duration));
            ok.then_some(Bool)
        }
        Op::RegexEqual | Op::RegexNotEqual => (l == String && r == Regex).then_some(Bool),
        Op::And | Op::Or => (l == Bool && r == Bool).then_some(Bool),
        Op::Plus => (l == r && matches!(l, Int | Float | String | Duration)).then_some(l),
        Op::Minus => (l == r && matches!(l, Int | Float | Duration)).then_some(l),
        Op::Mult => match (l, r) {
            (Int, Int) | (Float, Float) => Some(l),
            (Duration, Int) | (Int, Duration) | (Duration, Float) => Some(Duration),
            _ => None,
        },
        Op::Div => match (l, r) {
            (Int, Int) | (Float, Float) => Some(l),
            (Duration, Int) | (Duration, Float) => Some(Duration),
            (Duration, Duration) => Some(Int),
            _ => None,
        },
        Op::Mod => (l == Int && r == Int).then_some(Int),
        Op::Not => None,
    }
}

fn type_supports(op: Op, t: Type) -> bool {
    use Type::*;
    let all = [Float, Int, String, Bool, Duration, Time, Regex];
    all.iter()
        .any(|&o| binary_result_type(op, t, o).is_some() || binary_result_type(op, o, t).is_some())
}

/// Kapacitor's message for an operation with no evaluation function.
fn binary_type_error(op: Op, l: Type, r: Type) -> EvalError {
    if !type_supports(op, l) {
        let kind = if op.is_math() {
            "math"
        } else if op.is_comparison() {
            "comparison"
        } else {
            "logical"
        };
        return EvalError(format!("invalid {kind} operator {op} for type {l}"));
    }
    EvalError(format!(
        "mismatched type to binary operator. got {l} {op} {r}. see bool(), int(), float(), string(), duration()"
    ))
}

impl Lambda {
    /// Compiles a lambda expression. Identifiers must already be resolved to literals
    /// (the checker inlines vars); a remaining identifier is an error. Sub-expressions
    /// made only of constants are type checked here.
    pub fn compile(node: &Node) -> Result<Lambda, EvalError> {
        let mut slots = 0;
        let expr = build(node, &mut slots)?;
        static_type(&expr)?;
        Ok(Lambda { expr, slots })
    }

    /// Fresh state for one group.
    pub fn new_state(&self) -> LambdaState {
        LambdaState {
            slots: vec![functions::FuncState::default(); self.slots],
        }
    }

    /// Whether the lambda uses stateful functions (and so needs per-group state).
    pub fn is_stateful(&self) -> bool {
        self.slots > 0
    }

    /// The static result type, when it does not depend on the point.
    pub fn static_type(&self) -> Option<Type> {
        static_type(&self.expr).ok().flatten()
    }

    /// Evaluates the lambda.
    pub fn eval(&self, scope: &dyn Scope, state: &mut LambdaState) -> Result<Value, EvalError> {
        if state.slots.len() < self.slots {
            state
                .slots
                .resize(self.slots, functions::FuncState::default());
        }
        eval(&self.expr, scope, state)
    }

    /// Evaluates a predicate: a non-boolean result is an error.
    pub fn eval_bool(&self, scope: &dyn Scope, state: &mut LambdaState) -> Result<bool, EvalError> {
        match self.eval(scope, state)? {
            Value::Bool(b) => Ok(b),
            v => err(format!(
                "expression returned unexpected type {}",
                v.go_type()
            )),
        }
    }
}

fn build(node: &Node, slots: &mut usize) -> Result<Expr, EvalError> {
    Ok(match &node.kind {
        NodeKind::Int(i) => Expr::Const(Value::Int(*i)),
        NodeKind::Float(f) => Expr::Const(Value::Float(*f)),
        NodeKind::Str { value, .. } => Expr::Const(Value::String(value.clone())),
        NodeKind::Bool(b) => Expr::Const(Value::Bool(*b)),
        NodeKind::Duration { nanos, .. } => Expr::Const(Value::Duration(*nanos)),
        NodeKind::Regex(p) => match regex::Regex::new(p) {
            Ok(r) => Expr::Const(Value::Regex(r)),
            Err(e) => return err(format!("error parsing regexp: {e}")),
        },
        NodeKind::Reference(r) => Expr::Ref(r.clone()),
        NodeKind::Lambda(inner) => build(inner, slots)?,
        NodeKind::Unary { op, operand } => Expr::Unary(*op, Box::new(build(operand, slots)?)),
        NodeKind::Binary { op, left, right } => Expr::Binary(
            *op,
            Box::new(build(left, slots)?),
            Box::new(build(right, slots)?),
        ),
        NodeKind::Call { name, args } => {
            let func = functions::lookup(name).map_err(EvalError)?;
            let slot = if func.is_stateful() {
                *slots += 1;
                Some(*slots - 1)
            } else {
                None
            };
            let args = args
                .iter()
                .map(|a| build(a, slots))
                .collect::<Result<_, _>>()?;
            Expr::Call {
                func,
                name: name.clone(),
                args,
                slot,
            }
        }
        NodeKind::Ident(name) => return err(format!("undefined identifier {name:?} in lambda")),
        NodeKind::Star => return err("unexpected * in lambda expression"),
        NodeKind::List(_) => return err("unexpected list in lambda expression"),
        _ => return err("invalid node in lambda expression"),
    })
}

/// `Ok(Some(t))` for constant sub-expressions, `Ok(None)` for dynamic ones.
fn static_type(e: &Expr) -> Result<Option<Type>, EvalError> {
    match e {
        Expr::Const(v) => Ok(Some(v.typ())),
        Expr::Ref(_) => Ok(None),
        Expr::Call { args, .. } => {
            for a in args {
                static_type(a)?;
            }
            Ok(None)
        }
        Expr::Unary(op, inner) => match static_type(inner)? {
            None => Ok(None),
            Some(t) => unary_type(*op, t).map(Some),
        },
        Expr::Binary(op, l, r) => {
            let (lt, rt) = (static_type(l)?, static_type(r)?);
            match (lt, rt) {
                (Some(lt), Some(rt)) => binary_result_type(*op, lt, rt)
                    .map(Some)
                    .ok_or_else(|| binary_type_error(*op, lt, rt)),
                // A known left type that never works with this operator fails early too.
                (Some(lt), None) if !type_supports(*op, lt) => Err(binary_type_error(*op, lt, lt)),
                _ => Ok(None),
            }
        }
    }
}

fn unary_type(op: Op, t: Type) -> Result<Type, EvalError> {
    match (op, t) {
        (Op::Minus, Type::Int | Type::Float | Type::Duration) => Ok(t),
        (Op::Not, Type::Bool) => Ok(t),
        _ => err(format!("invalid type {t} for unary operator {op}")),
    }
}

fn eval(e: &Expr, scope: &dyn Scope, state: &mut LambdaState) -> Result<Value, EvalError> {
    match e {
        Expr::Const(v) => Ok(v.clone()),
        Expr::Ref(name) => match scope.get(name)? {
            Some(v) => Ok(v),
            None => err(format!("reference \"{name}\" is missing value")),
        },
        Expr::Unary(op, inner) => {
            let v = eval(inner, scope, state)?;
            match (op, v) {
                (Op::Minus, Value::Int(i)) => Ok(Value::Int(i.wrapping_neg())),
                (Op::Minus, Value::Float(f)) => Ok(Value::Float(-f)),
                (Op::Minus, Value::Duration(d)) => Ok(Value::Duration(d.wrapping_neg())),
                (Op::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                (op, v) => err(format!("invalid type {} for unary operator {op}", v.typ())),
            }
        }
        Expr::Binary(op, l, r) => eval_binary(*op, l, r, scope, state),
        Expr::Call {
            func,
            name,
            args,
            slot,
        } => {
            if matches!(func, Func::IsPresent) {
                return functions::is_present(
                    name,
                    args.iter().map(|a| match a {
                        Expr::Ref(r) => Some(r.as_str()),
                        _ => None,
                    }),
                    scope,
                );
            }
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, scope, state)?);
            }
            let st = match slot {
                Some(i) => state.slots.get_mut(*i),
                None => None,
            };
            functions::call(*func, &vals, st)
        }
    }
}

fn operand(
    e: &Expr,
    scope: &dyn Scope,
    state: &mut LambdaState,
    side: &str,
) -> Result<Value, EvalError> {
    if let Expr::Ref(name) = e
        && scope.get(name)?.is_none()
    {
        return err(format!(
            "{side} reference value \"{name}\" is missing value"
        ));
    }
    eval(e, scope, state)
}

fn eval_binary(
    op: Op,
    l: &Expr,
    r: &Expr,
    scope: &dyn Scope,
    state: &mut LambdaState,
) -> Result<Value, EvalError> {
    let lv = operand(l, scope, state, "left")?;
    // AND/OR short-circuit, as in Kapacitor.
    if let (Op::And | Op::Or, Value::Bool(b)) = (op, &lv) {
        if (op == Op::And && !b) || (op == Op::Or && *b) {
            return Ok(Value::Bool(*b));
        }
        let rv = operand(r, scope, state, "right")?;
        return match rv {
            Value::Bool(rb) => Ok(Value::Bool(rb)),
            rv => Err(binary_type_error(op, lv.typ(), rv.typ())),
        };
    }
    let rv = operand(r, scope, state, "right")?;
    apply_binary(op, &lv, &rv)
}

/// Applies a binary operator to two values with Kapacitor's typing rules.
pub fn apply_binary(op: Op, lv: &Value, rv: &Value) -> Result<Value, EvalError> {
    use Value::*;
    let cmp = |o: std::cmp::Ordering| -> bool {
        use std::cmp::Ordering::*;
        match op {
            Op::Equal => o == Equal,
            Op::NotEqual => o != Equal,
            Op::Less => o == Less,
            Op::LessEqual => o != Greater,
            Op::Greater => o == Greater,
            Op::GreaterEqual => o != Less,
            _ => false,
        }
    };
    let fcmp = |a: f64, b: f64| -> bool {
        match op {
            Op::Equal => a == b,
            Op::NotEqual => a != b,
            Op::Less => a < b,
            Op::LessEqual => a <= b,
            Op::Greater => a > b,
            Op::GreaterEqual => a >= b,
            _ => false,
        }
    };
    if binary_result_type(op, lv.typ(), rv.typ()).is_none() {
        return Err(binary_type_error(op, lv.typ(), rv.typ()));
    }
    let out = match (op, lv, rv) {
        (Op::RegexEqual, String(s), Regex(re)) => Bool(re.is_match(s)),
        (Op::RegexNotEqual, String(s), Regex(re)) => Bool(!re.is_match(s)),
        (Op::And, Bool(a), Bool(b)) => Bool(*a && *b),
        (Op::Or, Bool(a), Bool(b)) => Bool(*a || *b),
        (o, a, b) if o.is_comparison() => match (a, b) {
            (Int(a), Int(b)) => Bool(cmp(a.cmp(b))),
            (Float(a), Float(b)) => Bool(fcmp(*a, *b)),
            (Int(a), Float(b)) => Bool(fcmp(*a as f64, *b)),
            (Float(a), Int(b)) => Bool(fcmp(*a, *b as f64)),
            (String(a), String(b)) => Bool(cmp(a.as_str().cmp(b.as_str()))),
            (Duration(a), Duration(b)) => Bool(cmp(a.cmp(b))),
            (Bool(a), Bool(b)) => Bool(cmp(a.cmp(b))),
            _ => return Err(binary_type_error(op, lv.typ(), rv.typ())),
        },
        (Op::Plus, Int(a), Int(b)) => Int(a.wrapping_add(*b)),
        (Op::Plus, Float(a), Float(b)) => Float(a + b),
        (Op::Plus, String(a), String(b)) => String(format!("{a}{b}")),
        (Op::Plus, Duration(a), Duration(b)) => Duration(a.wrapping_add(*b)),
        (Op::Minus, Int(a), Int(b)) => Int(a.wrapping_sub(*b)),
        (Op::Minus, Float(a), Float(b)) => Float(a - b),
        (Op::Minus, Duration(a), Duration(b)) => Duration(a.wrapping_sub(*b)),
        (Op::Mult, Int(a), Int(b)) => Int(a.wrapping_mul(*b)),
        (Op::Mult, Float(a), Float(b)) => Float(a * b),
        (Op::Mult, Duration(a), Int(b)) | (Op::Mult, Int(b), Duration(a)) => {
            Duration(a.wrapping_mul(*b))
        }
        (Op::Mult, Duration(a), Float(b)) => Duration((*a as f64 * b) as i64),
        (Op::Div, Int(_), Int(0))
        | (Op::Mod, Int(_), Int(0))
        | (Op::Div, Duration(_), Int(0) | Duration(0)) => {
            return err("integer divide by zero");
        }
        (Op::Div, Int(a), Int(b)) => Int(a.wrapping_div(*b)),
        (Op::Div, Float(a), Float(b)) => Float(a / b),
        (Op::Div, Duration(a), Int(b)) => Duration(a.wrapping_div(*b)),
        (Op::Div, Duration(a), Float(b)) => Duration((*a as f64 / b) as i64),
        (Op::Div, Duration(a), Duration(b)) => Int(a.wrapping_div(*b)),
        (Op::Mod, Int(a), Int(b)) => Int(a.wrapping_rem(*b)),
        _ => return Err(binary_type_error(op, lv.typ(), rv.typ())),
    };
    Ok(out)
}
