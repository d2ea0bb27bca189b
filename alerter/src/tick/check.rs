//! The checker: evaluates a program the way Kapacitor's `tick.Evaluate` does (vars,
//! chains, property calls) but against the node catalogue instead of Go reflection,
//! building a [`TaskGraph`]. Messages copy Kapacitor's reflection-flavoured wording.

use std::collections::HashMap;

use super::ast::{ChainOp, Link, Node, NodeKind as AK, Pos, Program};
use super::catalog::{self, Builds, EdgeType, NodeKind, Prop, Ret, Sig, Ty};
use super::check_values::{Obj, TVal, double_quote_hint, lambda_arg, prop, provides, to_arg};
use super::graph::{Arg, Dbrp, GraphNode, TaskGraph, TaskType};
use super::lambda::{EmptyScope, Lambda, LambdaState, Value};
use super::{CheckOptions, TickError, VarValue};

type CResult<T> = Result<T, TickError>;

struct Checker<'o> {
    opts: &'o CheckOptions,
    scope: HashMap<String, TVal>,
    nodes: Vec<GraphNode>,
    sources: Vec<usize>,
    dbrps: Vec<Dbrp>,
    task_type: TaskType,
}

/// Finds the first use of `stream` and of `batch` as identifiers.
fn find_roots(n: &Node, found: &mut [Option<Pos>; 2]) {
    match &n.kind {
        AK::Ident(name) if name == "stream" && found[0].is_none() => found[0] = Some(n.pos),
        AK::Ident(name) if name == "batch" && found[1].is_none() => found[1] = Some(n.pos),
        AK::Decl { value, .. } => find_roots(value, found),
        AK::List(items) | AK::Call { args: items, .. } => {
            items.iter().for_each(|i| find_roots(i, found))
        }
        AK::Lambda(e) | AK::Unary { operand: e, .. } => find_roots(e, found),
        AK::Binary { left, right, .. } => {
            find_roots(left, found);
            find_roots(right, found);
        }
        AK::Chain { head, links } => {
            find_roots(head, found);
            links
                .iter()
                .flat_map(|l| l.args.iter().flatten())
                .for_each(|a| find_roots(a, found));
        }
        _ => {}
    }
}

pub(crate) fn check(program: &Program, opts: &CheckOptions) -> CResult<TaskGraph> {
    let mut found = [None, None];
    for s in &program.statements {
        find_roots(s, &mut found);
    }
    let task_type = match (opts.task_type, found) {
        (Some(t), _) => t,
        (None, [Some(_), None]) => TaskType::Stream,
        (None, [None, Some(_)]) => TaskType::Batch,
        (None, [Some(s), Some(b)]) => {
            let later = if s.offset > b.offset { s } else { b };
            return Err(TickError::at(
                later,
                "a task cannot use both stream and batch; pick one source",
            ));
        }
        (None, [None, None]) => {
            return Err(TickError::plain(
                "the script uses neither stream nor batch, so it defines no task",
            ));
        }
    };
    let root_kind = match task_type {
        TaskType::Stream => NodeKind::Stream,
        TaskType::Batch => NodeKind::Batch,
    };
    let mut ck = Checker {
        opts,
        scope: HashMap::new(),
        nodes: Vec::new(),
        sources: Vec::new(),
        dbrps: Vec::new(),
        task_type,
    };
    let root = ck.add_node(root_kind, &[], Vec::new(), Pos::default(), true);
    ck.scope.insert(
        task_type.as_str().to_string(),
        TVal::Obj {
            node: root,
            obj: Obj::Node(root_kind),
            handler: None,
        },
    );
    // With an explicit type, the other source name exists only to give a clear error.
    let other = match task_type {
        TaskType::Stream => ("batch", found[1]),
        TaskType::Batch => ("stream", found[0]),
    };
    if let (name, Some(pos)) = other {
        return Err(TickError::at(
            pos,
            format!("{name} cannot be used in a {} task", task_type.as_str()),
        ));
    }
    for s in &program.statements {
        ck.statement(s)?;
    }
    ck.finish()
}

impl Checker<'_> {
    fn add_node(
        &mut self,
        kind: NodeKind,
        parents: &[usize],
        args: Vec<Arg>,
        pos: Pos,
        source: bool,
    ) -> usize {
        let wants = parents
            .first()
            .map_or(EdgeType::None, |&p| self.nodes[p].provides);
        let provides = provides(kind, wants);
        let mut id = self.nodes.len();
        if source {
            self.sources.push(id);
        }
        // Kapacitor assigns a new id on every parent link (union/join): the node keeps
        // the last one, and the skipped ids are never used.
        if parents.len() > 1 {
            id += parents.len() - 1;
        }
        while self.nodes.len() < id {
            // Placeholders keep ids equal to indexes; they never appear in the graph.
            let n = self.nodes.len();
            self.nodes.push(GraphNode {
                id: n,
                kind: NodeKind::NoOp,
                args: Vec::new(),
                properties: Vec::new(),
                parents: Vec::new(),
                children: Vec::new(),
                wants: EdgeType::None,
                provides: EdgeType::None,
                pos: Pos::default(),
            });
        }
        self.nodes.push(GraphNode {
            id,
            kind,
            args,
            properties: Vec::new(),
            parents: parents.to_vec(),
            children: Vec::new(),
            wants,
            provides,
            pos,
        });
        for &p in parents {
            self.nodes[p].children.push(id);
        }
        id
    }

    fn names_in_scope(&self) -> String {
        let mut names: Vec<&str> = self.scope.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.join(",")
    }

    fn lookup(&self, name: &str, pos: Pos) -> CResult<TVal> {
        self.scope.get(name).cloned().ok_or_else(|| {
            TickError::at(
                pos,
                format!(
                    "name {name:?} is undefined. Names in scope: {}",
                    self.names_in_scope()
                ),
            )
        })
    }

    fn statement(&mut self, s: &Node) -> CResult<()> {
        match &s.kind {
            AK::Dbrp { db, rp } => {
                let d = Dbrp {
                    db: db.clone(),
                    rp: rp.clone(),
                };
                if !self.dbrps.contains(&d) {
                    self.dbrps.push(d);
                }
                Ok(())
            }
            AK::TypeDecl {
                name,
                name_pos,
                type_name,
                type_pos,
            } => {
                const TYPES: [&str; 9] = [
                    "int", "float", "boolean", "string", "regex", "duration", "lambda", "list",
                    "star",
                ];
                let ty = if type_name == "bool" {
                    "boolean"
                } else {
                    type_name.as_str()
                };
                if !TYPES.contains(&ty) {
                    return Err(TickError::at(
                        *type_pos,
                        format!("invalid var type {type_name:?}"),
                    ));
                }
                let Some(v) = self.opts.vars.get(name) else {
                    return Err(TickError::at(
                        *name_pos,
                        format!("missing value for var {name:?}."),
                    ));
                };
                if v.type_name() != ty {
                    return Err(TickError::at(
                        *name_pos,
                        format!(
                            "invalid type supplied for {name}, got {} exp {ty}",
                            v.type_name()
                        ),
                    ));
                }
                let val = self.var_value(v, *name_pos)?;
                self.define(name, *name_pos, val)
            }
            AK::Decl {
                name,
                name_pos,
                value,
            } => {
                let mut val = self.eval(value)?;
                if let Some(v) = self.opts.vars.get(name) {
                    if v.type_name() != val.type_name() {
                        return Err(TickError::at(
                            *name_pos,
                            format!(
                                "invalid type supplied for {name}, got {} exp {}",
                                v.type_name(),
                                val.type_name()
                            ),
                        ));
                    }
                    val = self.var_value(v, *name_pos)?;
                }
                self.define(name, *name_pos, val)
            }
            _ => self.eval(s).map(|_| ()),
        }
    }

    fn define(&mut self, name: &str, pos: Pos, val: TVal) -> CResult<()> {
        if self.scope.contains_key(name) {
            return Err(TickError::at(
                pos,
                format!("attempted to redefine {name}, vars are immutable"),
            ));
        }
        self.scope.insert(name.to_string(), val);
        Ok(())
    }

    fn var_value(&self, v: &VarValue, pos: Pos) -> CResult<TVal> {
        Ok(match v {
            VarValue::Bool(b) => TVal::Bool(*b),
            VarValue::Int(i) => TVal::Int(*i),
            VarValue::Float(x) => TVal::Float(*x),
            VarValue::String(s) => TVal::Str(s.clone()),
            VarValue::Duration(d) => TVal::Dur(*d),
            VarValue::Regex(r) => {
                regex::Regex::new(r)
                    .map_err(|e| TickError::at(pos, format!("invalid regex var: {e}")))?;
                TVal::Regex(r.clone())
            }
            VarValue::Lambda(src) => {
                let expr = super::parser::parse_lambda_expr(src)
                    .map_err(|e| TickError::at(pos, format!("invalid lambda var: {e}")))?;
                TVal::Lambda(Box::new(self.resolve_lambda(&expr)?))
            }
            VarValue::Star => TVal::Star,
            VarValue::List(items) => TVal::List(
                items
                    .iter()
                    .map(|i| self.var_value(i, pos))
                    .collect::<CResult<_>>()?,
            ),
        })
    }

    fn eval(&mut self, n: &Node) -> CResult<TVal> {
        Ok(match &n.kind {
            AK::Int(i) => TVal::Int(*i),
            AK::Float(x) => TVal::Float(*x),
            AK::Str { value, .. } => TVal::Str(value.clone()),
            AK::Bool(b) => TVal::Bool(*b),
            AK::Duration { nanos, .. } => TVal::Dur(*nanos),
            AK::Regex(r) => TVal::Regex(r.clone()),
            AK::Star => TVal::Star,
            AK::Reference(_) => TVal::Ref,
            AK::Ident(name) => self.lookup(name, n.pos)?,
            AK::Lambda(e) => TVal::Lambda(Box::new(self.resolve_lambda(e)?)),
            AK::List(items) => {
                TVal::List(items.iter().map(|i| self.eval(i)).collect::<CResult<_>>()?)
            }
            AK::Unary { .. } | AK::Binary { .. } => self.constant(n)?,
            AK::Call { name, args } => self.global_call(name, args, n.pos)?,
            AK::Chain { head, links } => {
                let mut cur = self.eval(head)?;
                for l in links {
                    cur = self.link(cur, l)?;
                }
                cur
            }
            AK::Dbrp { .. } | AK::Decl { .. } | AK::TypeDecl { .. } => {
                return Err(TickError::at(
                    n.pos,
                    "declarations cannot be used as values",
                ));
            }
        })
    }

    /// Evaluates a constant expression outside a lambda (`var x = 5m * 2`).
    fn constant(&mut self, n: &Node) -> CResult<TVal> {
        let resolved = self.resolve_lambda(n)?;
        let lambda = Lambda::compile(&resolved).map_err(|e| TickError::at(n.pos, e))?;
        let v = lambda
            .eval(&EmptyScope, &mut LambdaState::default())
            .map_err(|e| TickError::at(n.pos, e))?;
        Ok(match v {
            Value::Int(i) => TVal::Int(i),
            Value::Float(x) => TVal::Float(x),
            Value::String(s) => TVal::Str(s),
            Value::Bool(b) => TVal::Bool(b),
            Value::Duration(d) => TVal::Dur(d),
            Value::Regex(r) => TVal::Regex(r.as_str().to_string()),
            Value::Time(_) => {
                return Err(TickError::at(
                    n.pos,
                    "time values are only available inside lambdas",
                ));
            }
        })
    }

    fn global_call(&mut self, name: &str, args: &[Node], pos: Pos) -> CResult<TVal> {
        if name != "time" {
            return Err(TickError::at(
                pos,
                format!("no global function {name:?} defined"),
            ));
        }
        let vals = args
            .iter()
            .map(|a| self.eval(a))
            .collect::<CResult<Vec<_>>>()?;
        match vals.as_slice() {
            [TVal::Dur(d)] => Ok(TVal::TimeDim {
                interval: *d,
                offset: 0,
            }),
            [TVal::Dur(d), TVal::Dur(o)] => Ok(TVal::TimeDim {
                interval: *d,
                offset: *o,
            }),
            _ => Err(TickError::at(
                pos,
                "time() expects a duration and an optional offset duration: time(1m[, 10s])",
            )),
        }
    }

    /// Inlines vars into a lambda expression, as Kapacitor's `resolveIdents` does.
    fn resolve_lambda(&self, n: &Node) -> CResult<Node> {
        let kind = match &n.kind {
            AK::Ident(name) => {
                let v = self.lookup(name, n.pos)?;
                match v {
                    TVal::Int(i) => AK::Int(i),
                    TVal::Float(x) => AK::Float(x),
                    TVal::Str(s) => AK::Str {
                        value: s,
                        triple: false,
                    },
                    TVal::Bool(b) => AK::Bool(b),
                    TVal::Dur(d) => AK::Duration {
                        nanos: d,
                        literal: super::functions::format_duration(d),
                    },
                    TVal::Regex(r) => AK::Regex(r),
                    TVal::Lambda(e) => return Ok(*e),
                    other => {
                        return Err(TickError::at(
                            n.pos,
                            format!("unsupported literal type {}", other.go_type()),
                        ));
                    }
                }
            }
            AK::Unary { op, operand } => AK::Unary {
                op: *op,
                operand: Box::new(self.resolve_lambda(operand)?),
            },
            AK::Binary { op, left, right } => AK::Binary {
                op: *op,
                left: Box::new(self.resolve_lambda(left)?),
                right: Box::new(self.resolve_lambda(right)?),
            },
            AK::Call { name, args } => AK::Call {
                name: name.clone(),
                args: args
                    .iter()
                    .map(|a| self.resolve_lambda(a))
                    .collect::<CResult<_>>()?,
            },
            other => other.clone(),
        };
        Ok(Node { pos: n.pos, kind })
    }

    fn link(&mut self, cur: TVal, l: &Link) -> CResult<TVal> {
        let pos = l.name_pos;
        let name = l.name.as_str();
        let TVal::Obj { node, obj, handler } = cur else {
            return Err(TickError::at(
                pos,
                format!("no method or property {name:?} on {}", cur.go_type()),
            ));
        };
        let Some(arg_nodes) = &l.args else {
            return Err(TickError::at(
                pos,
                format!(
                    "object {} has no property {name}; property methods need parentheses: .{name}()",
                    obj.go_type()
                ),
            ));
        };
        let mut args = arg_nodes
            .iter()
            .map(|a| self.eval(a))
            .collect::<CResult<Vec<_>>>()?;
        // Kapacitor spreads a single list argument: .groupBy(tags) == .groupBy('a', 'b').
        if let [TVal::List(items)] = args.as_slice() {
            args = items.clone();
        }
        let ty = obj.go_type();
        match l.op {
            ChainOp::At => Err(TickError::at(
                pos,
                format!("user-defined functions are not supported by tigk: @{name}"),
            )),
            ChainOp::Pipe => {
                if let Some(chain) = obj.find_chain(name) {
                    return self.call_chain(node, obj, chain, args, pos);
                }
                if catalog::UNSUPPORTED_CHAINS.contains(&name) {
                    return Err(TickError::at(
                        pos,
                        format!("chaining method {name:?} is not supported by tigk"),
                    ));
                }
                if obj.find_prop(name).is_some() {
                    return Err(TickError::at(
                        pos,
                        format!(
                            "no chaining method {name:?} on {ty}, but property does exist. Use '.' operator instead: 'node.{name}(..)'."
                        ),
                    ));
                }
                Err(TickError::at(
                    pos,
                    format!("no method or property {name:?} on {ty}"),
                ))
            }
            ChainOp::Dot => {
                if let Some(prop) = obj.find_prop(name) {
                    return self.call_prop(node, obj, handler, prop, args, pos);
                }
                if catalog::unsupported_props(obj.kind()).contains(&name) {
                    return Err(TickError::at(
                        pos,
                        format!("property {name:?} on {ty} is not supported by tigk"),
                    ));
                }
                if obj.find_chain(name).is_some() || catalog::UNSUPPORTED_CHAINS.contains(&name) {
                    return Err(TickError::at(
                        pos,
                        format!(
                            "no property method {name:?} on {ty}, but chaining method does exist. Use '|' operator instead: 'node|{name}(..)'."
                        ),
                    ));
                }
                Err(TickError::at(
                    pos,
                    format!("no method or property {name:?} on {ty}"),
                ))
            }
        }
    }

    /// Checks arguments against a method signature with Go reflection's messages.
    fn check_method_args(
        &self,
        name: &str,
        ty: &str,
        fixed: &[Ty],
        var: Option<Ty>,
        args: &[TVal],
        pos: Pos,
    ) -> CResult<()> {
        let fail = |msg: String| {
            if msg.contains("*ast.ReferenceNode") && msg.contains("type string") {
                return double_quote_hint(pos);
            }
            TickError::at(
                pos,
                format!("error calling func {name:?} on obj {ty}: {msg}"),
            )
        };
        if args.len() < fixed.len() {
            return Err(fail("reflect: Call with too few input arguments".into()));
        }
        if var.is_none() && args.len() > fixed.len() {
            return Err(fail("reflect: Call with too many input arguments".into()));
        }
        for (a, t) in args.iter().zip(fixed) {
            if !a.assignable(*t) {
                return Err(fail(format!(
                    "reflect: Call using {} as type {}",
                    a.go_type(),
                    t.go_name()
                )));
            }
        }
        if let Some(t) = var {
            for a in &args[fixed.len()..] {
                if !a.assignable(t) {
                    return Err(fail(format!(
                        "reflect: cannot use {} as type {} in Call",
                        a.go_type(),
                        t.go_name()
                    )));
                }
            }
        }
        Ok(())
    }

    fn call_chain(
        &mut self,
        parent: usize,
        obj: Obj,
        chain: &catalog::Chain,
        args: Vec<TVal>,
        pos: Pos,
    ) -> CResult<TVal> {
        let name = chain.name;
        self.check_method_args(name, obj.go_type(), chain.fixed, chain.variadic, &args, pos)?;
        let kind = match chain.builds {
            Builds::Deadman => return self.deadman(parent, &args, pos),
            Builds::Node(k) => k,
        };
        if kind == NodeKind::Window && self.nodes[parent].provides != EdgeType::Stream {
            return Err(TickError::at(
                pos,
                format!(
                    "error calling func \"window\" on obj {}: cannot Window batch edge",
                    obj.go_type()
                ),
            ));
        }
        let mut parents = vec![parent];
        let mut node_args = Vec::new();
        for a in &args {
            match (kind, a) {
                (NodeKind::Union | NodeKind::Join, TVal::Obj { node, .. }) => parents.push(*node),
                _ => node_args.push(to_arg(a, name, pos)?),
            }
        }
        if kind == NodeKind::Union {
            // Kapacitor links the other parents first, then the left-hand node.
            parents.rotate_left(1);
        }
        if kind == NodeKind::Stats {
            // stats is a new source watching its parent; Kapacitor gives a childless
            // parent a noop child so it has somewhere to send data.
            let id = self.add_node(NodeKind::Stats, &[], node_args, pos, true);
            self.nodes[id].args.push(Arg::Node(parent));
            if self.nodes[parent].children.is_empty() {
                self.add_node(NodeKind::NoOp, &[parent], Vec::new(), pos, false);
            }
            return Ok(TVal::Obj {
                node: id,
                obj: Obj::Node(NodeKind::Stats),
                handler: None,
            });
        }
        let id = self.add_node(kind, &parents, node_args, pos, false);
        Ok(TVal::Obj {
            node: id,
            obj: Obj::Node(kind),
            handler: None,
        })
    }

    /// `deadman(threshold, interval[, lambdas])` expands as Kapacitor does:
    /// `stats(interval).align() |derivative('emitted').unit(interval).nonNegative()
    /// |alert().crit(lambda: "emitted" <= threshold [AND extra...])`.
    fn deadman(&mut self, parent: usize, args: &[TVal], pos: Pos) -> CResult<TVal> {
        let (TVal::Float(threshold), TVal::Dur(interval)) = (&args[0], &args[1]) else {
            return Err(TickError::at(
                pos,
                "deadman expects (float threshold, duration interval)",
            ));
        };
        let (threshold, interval) = (*threshold, *interval);
        let stats = self.add_node(
            NodeKind::Stats,
            &[],
            vec![Arg::Duration(interval), Arg::Node(parent)],
            pos,
            true,
        );
        if self.nodes[parent].children.is_empty() {
            self.add_node(NodeKind::NoOp, &[parent], Vec::new(), pos, false);
        }
        self.nodes[stats].properties.push(prop("align", vec![]));
        let deriv = self.add_node(
            NodeKind::Derivative,
            &[stats],
            vec![Arg::String("emitted".into())],
            pos,
            false,
        );
        self.nodes[deriv]
            .properties
            .push(prop("unit", vec![Arg::Duration(interval)]));
        self.nodes[deriv]
            .properties
            .push(prop("nonNegative", vec![]));
        let alert = self.add_node(NodeKind::Alert, &[deriv], Vec::new(), pos, false);
        let mut crit = Node {
            pos,
            kind: AK::Binary {
                op: super::ast::Op::LessEqual,
                left: Box::new(Node {
                    pos,
                    kind: AK::Reference("emitted".into()),
                }),
                right: Box::new(Node {
                    pos,
                    kind: AK::Float(threshold),
                }),
            },
        };
        for extra in &args[2..] {
            if let TVal::Lambda(e) = extra {
                crit = Node {
                    pos,
                    kind: AK::Binary {
                        op: super::ast::Op::And,
                        left: Box::new(crit),
                        right: e.clone(),
                    },
                };
            }
        }
        let parent_name = self.nodes[parent].name();
        // Go's `Duration.String()`, as Kapacitor fills in INTERVAL (`1m0s`, `10s`).
        let interval_s = crate::gofmt::duration_string(interval);
        let id = format!("node '{parent_name}' in task '{{{{ .TaskName }}}}'");
        let message = format!(
            "{{{{ .ID }}}} is {{{{ if eq .Level \"OK\" }}}}alive{{{{ else }}}}dead{{{{ end }}}}: {{{{ index .Fields \"emitted\" | printf \"%0.3f\" }}}} points/{interval_s}."
        );
        let crit = Arg::Lambda(lambda_arg("crit", pos, &crit)?);
        let a = &mut self.nodes[alert].properties;
        a.push(prop("id", vec![Arg::String(id)]));
        a.push(prop("message", vec![Arg::String(message)]));
        a.push(prop("crit", vec![crit]));
        Ok(TVal::Obj {
            node: alert,
            obj: Obj::Node(NodeKind::Alert),
            handler: None,
        })
    }

    fn call_prop(
        &mut self,
        node: usize,
        obj: Obj,
        handler: Option<usize>,
        p: &Prop,
        args: Vec<TVal>,
        pos: Pos,
    ) -> CResult<TVal> {
        let ty = obj.go_type();
        let name = p.name;
        match p.sig {
            Sig::Field(t) => {
                if args.len() != 1 {
                    let mut cap = name.to_string();
                    if let Some(first) = cap.get_mut(0..1) {
                        first.make_ascii_uppercase();
                    }
                    return Err(TickError::at(
                        pos,
                        format!("too many arguments to set property {cap} on {ty}"),
                    ));
                }
                if !args[0].assignable(t) {
                    let got = args[0].go_type();
                    if got == "*ast.ReferenceNode" && t == Ty::Str {
                        return Err(double_quote_hint(pos));
                    }
                    return Err(TickError::at(
                        pos,
                        format!(
                            "error calling func {name:?} on obj {ty}: reflect.Set: value of type {got} is not assignable to type {}",
                            t.go_name()
                        ),
                    ));
                }
            }
            Sig::Method(fixed, var) => self.check_method_args(name, ty, fixed, var, &args, pos)?,
        }
        let args = args
            .iter()
            .map(|a| to_arg(a, name, pos))
            .collect::<CResult<Vec<_>>>()?;
        let new = prop(name, args);
        // A handler's own properties attach to it; alert properties go to the node.
        let handler_own =
            matches!(obj, Obj::Handler(h) if h.props().iter().any(|hp| hp.name == name));
        let props = &mut self.nodes[node].properties;
        match (handler_own, handler) {
            (true, Some(h)) if h < props.len() => props[h].sub.push(new),
            _ => props.push(new),
        }
        let last = props.len() - 1;
        Ok(match p.ret {
            Ret::Same => TVal::Obj { node, obj, handler },
            Ret::AlertData => TVal::Obj {
                node,
                obj: Obj::AlertData,
                handler: None,
            },
            Ret::Handler(h) => TVal::Obj {
                node,
                obj: Obj::Handler(h),
                handler: Some(last),
            },
        })
    }

    fn finish(self) -> CResult<TaskGraph> {
        let mut dbrps = self.dbrps;
        match (dbrps.is_empty(), self.opts.dbrps.is_empty()) {
            (false, false) => {
                return Err(TickError::plain(
                    "cannot specify dbrp in both implicitly and explicitly",
                ));
            }
            (true, false) => dbrps = self.opts.dbrps.clone(),
            (true, true) if self.opts.require_dbrp => {
                return Err(TickError::plain("must specify dbrp"));
            }
            _ => {}
        }
        let nodes: Vec<GraphNode> = self.nodes;
        let graph = TaskGraph {
            task_type: self.task_type,
            dbrps,
            nodes,
            sources: self.sources,
        };
        super::check_nodes::validate(&graph)?;
        Ok(graph)
    }
}
