//! The part of planning that walks SELECT's fields: which calls, references and
//! transformations there are, and whether they may be combined (1.x's rules and errors).

use super::*;

#[derive(Default)]
pub(super) struct Builder {
    pub(super) calls: Vec<AggCall>,
    /// Bare field/tag references outside calls.
    pub(super) refs: usize,
    pub(super) transforms: usize,
}

impl Builder {
    pub(super) fn output(&mut self, e: &Expr, grouped_by_time: bool) -> Result<Output, QueryError> {
        if let Expr::Call(c) = e.unparen() {
            let transform = match c.name.as_str() {
                "derivative" | "non_negative_derivative" => {
                    if c.args.is_empty() || c.args.len() > 2 {
                        return Err(call_args_error(&c.name, "1 or 2", c.args.len()));
                    }
                    let unit = match c.args.get(1) {
                        Some(Expr::Duration(d)) => Some(*d),
                        Some(_) => {
                            return Err(QueryError::new(format!(
                                "second argument to {} must be a duration",
                                c.name
                            )));
                        }
                        None => None,
                    };
                    Some(Transform::Derivative {
                        unit,
                        non_negative: c.name.starts_with("non_"),
                    })
                }
                "difference" | "non_negative_difference" | "cumulative_sum" => {
                    if c.args.len() != 1 {
                        return Err(call_args_error(&c.name, "1", c.args.len()));
                    }
                    Some(match c.name.as_str() {
                        "cumulative_sum" => Transform::CumulativeSum,
                        n => Transform::Difference {
                            non_negative: n.starts_with("non_"),
                        },
                    })
                }
                "moving_average" => {
                    if c.args.len() != 2 {
                        return Err(call_args_error(&c.name, "2", c.args.len()));
                    }
                    let n = match c.args.get(1) {
                        Some(Expr::Integer(n)) => *n,
                        _ => {
                            return Err(QueryError::new(
                                "second argument for moving_average must be an integer",
                            ));
                        }
                    };
                    if n <= 1 {
                        return Err(QueryError::new(format!(
                            "moving_average window must be greater than 1, got {n}"
                        )));
                    }
                    Some(Transform::MovingAverage(n as usize))
                }
                "elapsed" => {
                    if c.args.is_empty() || c.args.len() > 2 {
                        return Err(call_args_error(&c.name, "1 or 2", c.args.len()));
                    }
                    Some(Transform::Elapsed(duration_arg(c, 1, 1)?.max(1)))
                }
                _ => None,
            };
            if let Some(t) = transform {
                self.transforms += 1;
                let input = match c.args.first().map(Expr::unparen) {
                    Some(Expr::Call(inner)) => {
                        if !grouped_by_time {
                            return Err(QueryError::new(format!(
                                "{} aggregate requires a GROUP BY interval",
                                c.name
                            )));
                        }
                        match self.expr(&Expr::Call(inner.clone()))? {
                            PExpr::Call(i) => TransformInput::Call(i),
                            _ => {
                                return Err(QueryError::new(format!(
                                    "expected aggregate argument in {}()",
                                    c.name
                                )));
                            }
                        }
                    }
                    Some(Expr::VarRef(v)) => {
                        if grouped_by_time {
                            return Err(QueryError::new(format!(
                                "aggregate function required inside the call to {}",
                                c.name
                            )));
                        }
                        TransformInput::Raw(v.name.clone())
                    }
                    _ => {
                        return Err(QueryError::new(format!(
                            "expected field argument in {}()",
                            c.name
                        )));
                    }
                };
                return Ok(Output::Transform(t, input));
            }
        }
        Ok(Output::Expr(self.expr(e)?))
    }

    fn expr(&mut self, e: &Expr) -> Result<PExpr, QueryError> {
        Ok(match e {
            Expr::Paren(p) => self.expr(p)?,
            Expr::VarRef(v) => {
                self.refs += 1;
                PExpr::Ref(v.name.clone(), v.data_type)
            }
            Expr::Integer(i) => PExpr::Literal(Value::Integer(*i)),
            Expr::Number(f) => PExpr::Literal(Value::Float(*f)),
            Expr::String(s) => PExpr::Literal(Value::String(s.clone())),
            Expr::Boolean(b) => PExpr::Literal(Value::Boolean(*b)),
            Expr::Duration(d) => PExpr::Literal(Value::Integer(*d)),
            Expr::Binary(b) => {
                if b.op.is_boolean() {
                    return Err(QueryError::new(format!(
                        "invalid operator {} in SELECT field, only math operators are allowed",
                        b.op.as_str()
                    )));
                }
                PExpr::Binary(
                    b.op,
                    Box::new(self.expr(&b.lhs)?),
                    Box::new(self.expr(&b.rhs)?),
                )
            }
            Expr::Distinct(f) => {
                self.calls.push(AggCall {
                    func: Func::Distinct,
                    field: f.clone(),
                    tags: vec![],
                    cast: None,
                });
                PExpr::Call(self.calls.len() - 1)
            }
            Expr::Call(c) if is_math_function(&c.name) => {
                let want = math_arity(&c.name);
                if c.args.len() != want {
                    return Err(call_args_error(&c.name, &want.to_string(), c.args.len()));
                }
                let args = c
                    .args
                    .iter()
                    .map(|a| self.expr(a))
                    .collect::<Result<Vec<_>, _>>()?;
                PExpr::Math(c.name.clone(), args)
            }
            Expr::Call(c) => {
                let mut call = self.agg_call(c)?;
                if let Some(Expr::VarRef(v)) = c.args.first().map(Expr::unparen) {
                    call.cast = v
                        .data_type
                        .filter(|t| !matches!(t, DataType::Field | DataType::Tag));
                }
                self.calls.push(call);
                PExpr::Call(self.calls.len() - 1)
            }
            Expr::Wildcard(_) | Expr::Regex(_) => {
                return Err(QueryError::new("unsupported expression in SELECT field"));
            }
        })
    }

    fn agg_call(&mut self, c: &Call) -> Result<AggCall, QueryError> {
        let n = c.args.len();
        let one = |func: Func| -> Result<AggCall, QueryError> {
            if n != 1 {
                return Err(call_args_error(&c.name, "1", n));
            }
            Ok(AggCall {
                func,
                field: field_arg(c, &c.name)?.to_string(),
                tags: vec![],
                cast: None,
            })
        };
        match c.name.as_str() {
            "count" => {
                if n != 1 {
                    return Err(call_args_error("count", "1", n));
                }
                match c.args.first().map(Expr::unparen) {
                    Some(Expr::Distinct(f)) => Ok(AggCall {
                        func: Func::CountDistinct,
                        field: f.clone(),
                        tags: vec![],
                        cast: None,
                    }),
                    Some(Expr::Call(inner)) if inner.name == "distinct" => Ok(AggCall {
                        func: Func::CountDistinct,
                        field: field_arg(inner, "distinct")?.to_string(),
                        tags: vec![],
                        cast: None,
                    }),
                    _ => one(Func::Count),
                }
            }
            "mean" => one(Func::Mean),
            "sum" => one(Func::Sum),
            "min" => one(Func::Min),
            "max" => one(Func::Max),
            "first" => one(Func::First),
            "last" => one(Func::Last),
            "median" => one(Func::Median),
            "mode" => one(Func::Mode),
            "spread" => one(Func::Spread),
            "stddev" => one(Func::Stddev),
            "distinct" => one(Func::Distinct),
            "percentile" => {
                if n != 2 {
                    return Err(call_args_error("percentile", "2", n));
                }
                let p = match c.args.get(1) {
                    Some(Expr::Integer(i)) => *i as f64,
                    Some(Expr::Number(f)) => *f,
                    _ => return Err(QueryError::new("expected float argument in percentile()")),
                };
                Ok(AggCall {
                    func: Func::Percentile(p),
                    field: field_arg(c, "percentile")?.to_string(),
                    tags: vec![],
                    cast: None,
                })
            }
            "integral" => {
                if n == 0 || n > 2 {
                    return Err(call_args_error("integral", "1 or 2", n));
                }
                let unit = duration_arg(c, 1, 1_000_000_000)?;
                Ok(AggCall {
                    func: Func::Integral(unit.max(1)),
                    field: field_arg(c, "integral")?.to_string(),
                    tags: vec![],
                    cast: None,
                })
            }
            "sample" => {
                if n != 2 {
                    return Err(call_args_error("sample", "2", n));
                }
                let k = match c.args.get(1) {
                    Some(Expr::Integer(k)) if *k > 0 => *k as usize,
                    _ => {
                        return Err(QueryError::new(
                            "sample window must be greater than 1, got 0",
                        ));
                    }
                };
                Ok(AggCall {
                    func: Func::Sample(k),
                    field: field_arg(c, "sample")?.to_string(),
                    tags: vec![],
                    cast: None,
                })
            }
            "top" | "bottom" => {
                if n < 2 {
                    return Err(QueryError::new(format!(
                        "invalid number of arguments for {}, expected at least 2, got {n}",
                        c.name
                    )));
                }
                let k = match c.args.last() {
                    Some(Expr::Integer(k)) if *k > 0 => *k as usize,
                    Some(Expr::Integer(k)) => {
                        return Err(QueryError::new(format!(
                            "limit ({k}) in {} function must be at least 1",
                            c.name
                        )));
                    }
                    _ => {
                        return Err(QueryError::new(format!(
                            "expected integer as last argument in {}(), found {}",
                            c.name,
                            c.args.last().map(|a| a.to_string()).unwrap_or_default()
                        )));
                    }
                };
                let mut tags = Vec::new();
                for a in c.args.iter().take(n - 1).skip(1) {
                    match a {
                        Expr::VarRef(v) => tags.push(v.name.clone()),
                        other => {
                            return Err(QueryError::new(format!(
                                "only fields or tags are allowed in {}(), found {other}",
                                c.name
                            )));
                        }
                    }
                }
                let func = if c.name == "top" {
                    Func::Top(k)
                } else {
                    Func::Bottom(k)
                };
                Ok(AggCall {
                    func,
                    field: field_arg(c, &c.name)?.to_string(),
                    tags,
                    cast: None,
                })
            }
            "derivative"
            | "non_negative_derivative"
            | "difference"
            | "non_negative_difference"
            | "moving_average"
            | "cumulative_sum"
            | "elapsed" => Err(QueryError::new(format!(
                "{} cannot be used inside another expression",
                c.name
            ))),
            other => Err(QueryError::new(format!("undefined function {other}()"))),
        }
    }
}
