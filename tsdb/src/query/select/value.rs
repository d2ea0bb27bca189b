//! Values flowing through evaluation, with 1.x's arithmetic and comparison rules.

use std::cmp::Ordering;

use influxql::BinaryOp;

use crate::codec::Column;
use crate::query::Cell;
use crate::storage;

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    String(String),
    Boolean(bool),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            Value::Unsigned(u) => Some(*u as f64),
            _ => None,
        }
    }

    pub fn into_cell(self) -> Cell {
        match self {
            Value::Null => Cell::Null,
            Value::Float(f) => Cell::Float(f),
            Value::Integer(i) => Cell::Integer(i),
            Value::Unsigned(u) => Cell::Unsigned(u),
            Value::String(s) => Cell::String(s),
            Value::Boolean(b) => Cell::Boolean(b),
        }
    }

    pub fn from_storage(v: storage::Value) -> Value {
        match v {
            storage::Value::Float(f) => Value::Float(f),
            storage::Value::Integer(i) => Value::Integer(i),
            storage::Value::Unsigned(u) => Value::Unsigned(u),
            storage::Value::String(s) => Value::String(s),
            storage::Value::Boolean(b) => Value::Boolean(b),
        }
    }

    /// Orders values of one type; mixed numeric types compare as floats.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Integer(a), Value::Integer(b)) => Some(a.cmp(b)),
            (Value::Unsigned(a), Value::Unsigned(b)) => Some(a.cmp(b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::Boolean(a), Value::Boolean(b)) => Some(a.cmp(b)),
            (a, b) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        }
    }
}

/// The value at `i` of a column.
pub fn column_value(c: &Column, i: usize) -> Value {
    match c {
        Column::Float(v) => v.get(i).map_or(Value::Null, |x| Value::Float(*x)),
        Column::Integer(v) => v.get(i).map_or(Value::Null, |x| Value::Integer(*x)),
        Column::Unsigned(v) => v.get(i).map_or(Value::Null, |x| Value::Unsigned(*x)),
        Column::String(v) => v.get(i).map_or(Value::Null, |x| Value::String(x.clone())),
        Column::Boolean(v) => v.get(i).map_or(Value::Null, |x| Value::Boolean(*x)),
    }
}

/// `lhs op rhs` for arithmetic operators, as 1.x's valuer: integer `/` gives a float,
/// division by zero gives 0, anything with a null or a non-number gives null.
pub fn arithmetic(op: BinaryOp, lhs: &Value, rhs: &Value) -> Value {
    use BinaryOp::*;
    match (lhs, rhs) {
        (Value::Integer(a), Value::Integer(b)) => {
            let (a, b) = (*a, *b);
            match op {
                Add => Value::Integer(a.wrapping_add(b)),
                Sub => Value::Integer(a.wrapping_sub(b)),
                Mul => Value::Integer(a.wrapping_mul(b)),
                Div if b == 0 => Value::Float(0.0),
                Div => Value::Float(a as f64 / b as f64),
                Mod if b == 0 => Value::Integer(0),
                Mod => Value::Integer(a.wrapping_rem(b)),
                BitAnd => Value::Integer(a & b),
                BitOr => Value::Integer(a | b),
                BitXor => Value::Integer(a ^ b),
                _ => Value::Null,
            }
        }
        (Value::Unsigned(a), Value::Unsigned(b)) => {
            let (a, b) = (*a, *b);
            match op {
                Add => Value::Unsigned(a.wrapping_add(b)),
                Sub => Value::Unsigned(a.wrapping_sub(b)),
                Mul => Value::Unsigned(a.wrapping_mul(b)),
                Div if b == 0 => Value::Float(0.0),
                Div => Value::Float(a as f64 / b as f64),
                Mod if b == 0 => Value::Unsigned(0),
                Mod => Value::Unsigned(a % b),
                BitAnd => Value::Unsigned(a & b),
                BitOr => Value::Unsigned(a | b),
                BitXor => Value::Unsigned(a ^ b),
                _ => Value::Null,
            }
        }
        (Value::Boolean(a), Value::Boolean(b)) => match op {
            BitAnd => Value::Boolean(a & b),
            BitOr => Value::Boolean(a | b),
            BitXor => Value::Boolean(a ^ b),
            _ => Value::Null,
        },
        (a, b) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
                return Value::Null;
            };
            match op {
                Add => Value::Float(a + b),
                Sub => Value::Float(a - b),
                Mul => Value::Float(a * b),
                Div if b == 0.0 => Value::Float(0.0),
                Div => Value::Float(a / b),
                Mod => Value::Float(a % b),
                _ => Value::Null,
            }
        }
    }
}

/// A comparison in a WHERE clause; nulls and mismatched types are false.
pub fn compare(op: BinaryOp, lhs: &Value, rhs: &Value) -> bool {
    use BinaryOp::*;
    if lhs.is_null() || rhs.is_null() {
        return false;
    }
    let Some(ord) = lhs.compare(rhs) else {
        return false;
    };
    match op {
        Eq => ord == Ordering::Equal,
        Neq => ord != Ordering::Equal,
        Lt => ord == Ordering::Less,
        Lte => ord != Ordering::Greater,
        Gt => ord == Ordering::Greater,
        Gte => ord != Ordering::Less,
        _ => false,
    }
}

/// The math functions 1.x evaluates per row (all return floats, as in 1.6's valuer).
pub fn math(name: &str, args: &[Value]) -> Value {
    let x = match args.first().and_then(Value::as_f64) {
        Some(x) => x,
        None => return Value::Null,
    };
    let y = args.get(1).and_then(Value::as_f64);
    let r = match (name, y) {
        ("abs", _) => match args.first() {
            Some(Value::Integer(i)) => return Value::Integer(i.wrapping_abs()),
            Some(Value::Unsigned(u)) => return Value::Unsigned(*u),
            _ => x.abs(),
        },
        ("ceil", _) => x.ceil(),
        ("floor", _) => x.floor(),
        ("round", _) => x.round(),
        ("sqrt", _) => x.sqrt(),
        ("ln", _) => x.ln(),
        ("log2", _) => x.log2(),
        ("log10", _) => x.log10(),
        ("exp", _) => x.exp(),
        ("sin", _) => x.sin(),
        ("cos", _) => x.cos(),
        ("tan", _) => x.tan(),
        ("asin", _) => x.asin(),
        ("acos", _) => x.acos(),
        ("atan", _) => x.atan(),
        ("pow", Some(y)) => x.powf(y),
        ("log", Some(y)) => x.ln() / y.ln(),
        ("atan2", Some(y)) => x.atan2(y),
        _ => return Value::Null,
    };
    Value::Float(r)
}

pub fn is_math_function(name: &str) -> bool {
    matches!(
        name,
        "abs"
            | "ceil"
            | "floor"
            | "round"
            | "sqrt"
            | "ln"
            | "log2"
            | "log10"
            | "exp"
            | "sin"
            | "cos"
            | "tan"
            | "asin"
            | "acos"
            | "atan"
            | "pow"
            | "log"
            | "atan2"
    )
}

/// Expected argument count of a math function.
pub fn math_arity(name: &str) -> usize {
    if matches!(name, "pow" | "log" | "atan2") {
        2
    } else {
        1
    }
}
