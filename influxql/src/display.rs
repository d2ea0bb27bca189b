//! `Display` for the AST: canonical InfluxQL in the style of 1.x's `String()` methods
//! (upper-case keywords, identifiers quoted only when needed, `'` strings).
//!
//! Deviations from 1.x, all for lossless round-trips: floats print with full precision
//! (1.x prints 3 decimals), passwords are printed (1.x prints `[REDACTED]`), and a
//! hand-built binary tree gets parentheses where precedence would otherwise change it.

use crate::ast::*;
use crate::duration::format_duration;
use crate::lexer::{is_ident_char, is_ident_first_char};
use crate::token::is_keyword;
use std::fmt::{self, Display, Formatter, Write};

/// Quotes a string literal: `'it\'s'` (escapes `\`, `'` and newline like 1.x).
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Whether an identifier must be double-quoted (keyword, empty, or non-`[A-Za-z_][A-Za-z0-9_]*`).
pub fn ident_needs_quotes(s: &str) -> bool {
    if s.is_empty() || is_keyword(s) {
        return true;
    }
    s.chars().enumerate().any(|(i, c)| {
        if i == 0 {
            !is_ident_first_char(c)
        } else {
            !is_ident_char(c)
        }
    })
}

/// Quotes an identifier only when needed: `cpu`, `"my field"`, `"select"`, `"a\"b"`.
pub fn quote_ident(s: &str) -> String {
    if !ident_needs_quotes(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Formats a float so that it re-parses as the same float (always has a `.`).
pub(crate) fn format_float(v: f64) -> String {
    let mut s = format!("{v}");
    if !s.contains('.') && v.is_finite() {
        s.push_str(".0");
    }
    s
}

fn join<T: Display>(f: &mut Formatter<'_>, items: &[T], sep: &str) -> fmt::Result {
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{it}")?;
    }
    Ok(())
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        join(f, &self.statements, ";\n")
    }
}

impl Display for Regex {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // The lexer turned `\/` into `/`; put the escape back.
        write!(f, "/{}/", self.0.replace('/', "\\/"))
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::VarRef(v) => write!(f, "{v}"),
            Expr::Call(c) => write!(f, "{c}"),
            Expr::Binary(b) => write!(f, "{b}"),
            Expr::Paren(e) => write!(f, "({e})"),
            Expr::Integer(i) => write!(f, "{i}"),
            Expr::Number(n) => f.write_str(&format_float(*n)),
            Expr::String(s) => f.write_str(&quote_string(s)),
            Expr::Boolean(b) => f.write_str(if *b { "true" } else { "false" }),
            Expr::Duration(d) => f.write_str(&format_duration(*d)),
            Expr::Regex(r) => write!(f, "{r}"),
            Expr::Wildcard(WildcardType::All) => f.write_str("*"),
            Expr::Wildcard(WildcardType::Field) => f.write_str("*::field"),
            Expr::Wildcard(WildcardType::Tag) => f.write_str("*::tag"),
            Expr::Distinct(v) => write!(f, "DISTINCT {}", quote_ident(v)),
        }
    }
}

impl Display for VarRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&quote_ident(&self.name))?;
        if let Some(t) = self.data_type {
            write!(f, "::{}", t.as_str())?;
        }
        Ok(())
    }
}

impl Display for Call {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // `distinct(` re-parses through the DISTINCT keyword path, so it stays bare.
        if self.name == "distinct" || !ident_needs_quotes(&self.name) {
            f.write_str(&self.name)?;
        } else {
            f.write_str(&quote_ident(&self.name))?;
        }
        f.write_char('(')?;
        join(f, &self.args, ", ")?;
        f.write_char(')')
    }
}

impl Display for BinaryExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let p = self.op.precedence();
        let lhs_paren = matches!(&self.lhs, Expr::Binary(b) if b.op.precedence() < p);
        let rhs_paren = matches!(&self.rhs, Expr::Binary(b) if b.op.precedence() <= p);
        if lhs_paren {
            write!(f, "({})", self.lhs)?;
        } else {
            write!(f, "{}", self.lhs)?;
        }
        write!(f, " {} ", self.op.as_str())?;
        if let Some((sign, operand)) = unary_sign(&self.rhs)
            && rhs_paren
        {
            // The parser turns `-x` into `-1 * x`; as a right operand that tree only
            // re-parses identically when printed back in its signed form.
            return write!(f, "{sign}{operand}");
        }
        if rhs_paren {
            write!(f, "({})", self.rhs)
        } else {
            write!(f, "{}", self.rhs)
        }
    }
}

/// `-1 * x` / `1 * x` as produced by the parser for `-x` / `+x`.
fn unary_sign(e: &Expr) -> Option<(char, &Expr)> {
    let Expr::Binary(b) = e else { return None };
    let sign = match (&b.op, &b.lhs) {
        (BinaryOp::Mul, Expr::Integer(-1)) => '-',
        (BinaryOp::Mul, Expr::Integer(1)) => '+',
        _ => return None,
    };
    matches!(b.rhs, Expr::VarRef(_) | Expr::Call(_) | Expr::Paren(_)).then_some((sign, &b.rhs))
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if let Some(a) = &self.alias {
            write!(f, " AS {}", quote_ident(a))?;
        }
        Ok(())
    }
}

fn write_qualifiers(
    f: &mut Formatter<'_>,
    db: &Option<String>,
    rp: &Option<String>,
) -> fmt::Result {
    if let Some(db) = db {
        write!(f, "{}.", quote_ident(db))?;
    }
    if let Some(rp) = rp {
        f.write_str(&quote_ident(rp))?;
    }
    if db.is_some() || rp.is_some() {
        f.write_char('.')?;
    }
    Ok(())
}

impl Display for Measurement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_qualifiers(f, &self.database, &self.retention_policy)?;
        match &self.name {
            MeasurementName::Name(n) => f.write_str(&quote_ident(n)),
            MeasurementName::Regex(r) => write!(f, "{r}"),
        }
    }
}

impl Display for Target {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("INTO ")?;
        write_qualifiers(f, &self.database, &self.retention_policy)?;
        match &self.measurement {
            Some(m) => f.write_str(&quote_ident(m)),
            None => f.write_str(":MEASUREMENT"),
        }
    }
}

impl Display for Source {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Source::Measurement(m) => write!(f, "{m}"),
            Source::SubQuery(s) => write!(f, "({s})"),
        }
    }
}

impl Display for SortField {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.name {
            write!(f, "{} ", quote_ident(n))?;
        }
        f.write_str(if self.ascending { "ASC" } else { "DESC" })
    }
}

impl Display for Fill {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Fill::Null => f.write_str("fill(null)"),
            Fill::None => f.write_str("fill(none)"),
            Fill::Previous => f.write_str("fill(previous)"),
            Fill::Linear => f.write_str("fill(linear)"),
            Fill::Integer(i) => write!(f, "fill({i})"),
            Fill::Float(v) => write!(f, "fill({})", format_float(*v)),
        }
    }
}

impl Display for TagKeyFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TagKeyFilter::Eq(k) => write!(f, "= {}", quote_ident(k)),
            TagKeyFilter::NotEq(k) => write!(f, "!= {}", quote_ident(k)),
            TagKeyFilter::EqRegex(r) => write!(f, "=~ {r}"),
            TagKeyFilter::NotEqRegex(r) => write!(f, "!~ {r}"),
            TagKeyFilter::In(keys) => {
                f.write_str("IN (")?;
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&quote_ident(k))?;
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for Privilege {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Privilege::Read => "READ",
            Privilege::Write => "WRITE",
            Privilege::All => "ALL PRIVILEGES",
        })
    }
}

impl Display for SelectStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        join(f, &self.fields, ", ")?;
        if let Some(t) = &self.into {
            write!(f, " {t}")?;
        }
        if !self.sources.is_empty() {
            f.write_str(" FROM ")?;
            join(f, &self.sources, ", ")?;
        }
        write_where(f, &self.condition)?;
        write_group_by(f, &self.dimensions)?;
        if self.fill != Fill::Null {
            write!(f, " {}", self.fill)?;
        }
        write_order_by(f, &self.order_by)?;
        write_limits(f, &[("LIMIT", self.limit), ("OFFSET", self.offset)])?;
        write_limits(f, &[("SLIMIT", self.slimit), ("SOFFSET", self.soffset)])?;
        if let Some(tz) = &self.timezone {
            write!(f, " TZ({})", quote_string(tz))?;
        }
        Ok(())
    }
}

fn write_on(f: &mut Formatter<'_>, db: &Option<String>) -> fmt::Result {
    match db {
        Some(db) => write!(f, " ON {}", quote_ident(db)),
        None => Ok(()),
    }
}

fn write_from(f: &mut Formatter<'_>, sources: &[Source]) -> fmt::Result {
    if sources.is_empty() {
        return Ok(());
    }
    f.write_str(" FROM ")?;
    join(f, sources, ", ")
}

fn write_where(f: &mut Formatter<'_>, cond: &Option<Expr>) -> fmt::Result {
    match cond {
        Some(c) => write!(f, " WHERE {c}"),
        None => Ok(()),
    }
}

fn write_group_by(f: &mut Formatter<'_>, dims: &[Expr]) -> fmt::Result {
    if dims.is_empty() {
        return Ok(());
    }
    f.write_str(" GROUP BY ")?;
    join(f, dims, ", ")
}

fn write_order_by(f: &mut Formatter<'_>, o: &Option<SortField>) -> fmt::Result {
    match o {
        Some(s) => write!(f, " ORDER BY {s}"),
        None => Ok(()),
    }
}

fn write_limits(f: &mut Formatter<'_>, items: &[(&str, u64)]) -> fmt::Result {
    for (kw, v) in items {
        if *v > 0 {
            write!(f, " {kw} {v}")?;
        }
    }
    Ok(())
}

impl Display for CardinalityStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            CardinalityKind::Measurement => "MEASUREMENT",
            CardinalityKind::Series => "SERIES",
            CardinalityKind::TagKey => "TAG KEY",
            CardinalityKind::TagValues => "TAG VALUES",
            CardinalityKind::FieldKey => "FIELD KEY",
        };
        write!(f, "SHOW {what} ")?;
        if self.exact {
            f.write_str("EXACT ")?;
        }
        f.write_str("CARDINALITY")?;
        write_on(f, &self.database)?;
        write_from(f, &self.sources)?;
        if let Some(k) = &self.key {
            write!(f, " WITH KEY {k}")?;
        }
        write_where(f, &self.condition)?;
        write_group_by(f, &self.dimensions)?;
        write_limits(f, &[("LIMIT", self.limit), ("OFFSET", self.offset)])
    }
}

fn opt_module(f: &mut Formatter<'_>, m: &Option<String>) -> fmt::Result {
    match m {
        Some(m) => write!(f, " FOR {}", quote_string(m)),
        None => Ok(()),
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use Statement::*;
        match self {
            Select(s) => write!(f, "{s}"),
            Delete { sources, condition } => {
                f.write_str("DELETE")?;
                write_from(f, sources)?;
                write_where(f, condition)
            }
            DropSeries { sources, condition } => {
                f.write_str("DROP SERIES")?;
                write_from(f, sources)?;
                write_where(f, condition)
            }
            ShowDatabases => f.write_str("SHOW DATABASES"),
            ShowMeasurements {
                database,
                with_measurement,
                condition,
                order_by,
                limit,
                offset,
            } => {
                f.write_str("SHOW MEASUREMENTS")?;
                write_on(f, database)?;
                if let Some(m) = with_measurement {
                    let op = if matches!(m.name, MeasurementName::Regex(_)) {
                        "=~"
                    } else {
                        "="
                    };
                    write!(f, " WITH MEASUREMENT {op} {m}")?;
                }
                write_where(f, condition)?;
                write_order_by(f, order_by)?;
                write_limits(f, &[("LIMIT", *limit), ("OFFSET", *offset)])
            }
            ShowTagKeys {
                database,
                sources,
                condition,
                order_by,
                limit,
                offset,
                slimit,
                soffset,
            } => {
                f.write_str("SHOW TAG KEYS")?;
                write_on(f, database)?;
                write_from(f, sources)?;
                write_where(f, condition)?;
                write_order_by(f, order_by)?;
                write_limits(f, &[("LIMIT", *limit), ("OFFSET", *offset)])?;
                write_limits(f, &[("SLIMIT", *slimit), ("SOFFSET", *soffset)])
            }
            ShowTagValues {
                database,
                sources,
                key,
                condition,
                order_by,
                limit,
                offset,
            } => {
                f.write_str("SHOW TAG VALUES")?;
                write_on(f, database)?;
                write_from(f, sources)?;
                write!(f, " WITH KEY {key}")?;
                write_where(f, condition)?;
                write_order_by(f, order_by)?;
                write_limits(f, &[("LIMIT", *limit), ("OFFSET", *offset)])
            }
            ShowFieldKeys {
                database,
                sources,
                order_by,
                limit,
                offset,
            } => {
                f.write_str("SHOW FIELD KEYS")?;
                write_on(f, database)?;
                write_from(f, sources)?;
                write_order_by(f, order_by)?;
                write_limits(f, &[("LIMIT", *limit), ("OFFSET", *offset)])
            }
            ShowSeries {
                database,
                sources,
                condition,
                order_by,
                limit,
                offset,
            } => {
                f.write_str("SHOW SERIES")?;
                write_on(f, database)?;
                write_from(f, sources)?;
                write_where(f, condition)?;
                write_order_by(f, order_by)?;
                write_limits(f, &[("LIMIT", *limit), ("OFFSET", *offset)])
            }
            ShowCardinality(c) => write!(f, "{c}"),
            ShowRetentionPolicies { database } => {
                f.write_str("SHOW RETENTION POLICIES")?;
                write_on(f, database)
            }
            CreateDatabase {
                name,
                retention_policy,
            } => {
                write!(f, "CREATE DATABASE {}", quote_ident(name))?;
                if let Some(rp) = retention_policy {
                    f.write_str(" WITH")?;
                    if let Some(d) = rp.duration {
                        write!(f, " DURATION {}", format_duration(d))?;
                    }
                    if let Some(r) = rp.replication {
                        write!(f, " REPLICATION {r}")?;
                    }
                    if let Some(d) = rp.shard_duration {
                        write!(f, " SHARD DURATION {}", format_duration(d))?;
                    }
                    if let Some(n) = &rp.name {
                        write!(f, " NAME {}", quote_ident(n))?;
                    }
                }
                Ok(())
            }
            DropDatabase { name } => write!(f, "DROP DATABASE {}", quote_ident(name)),
            CreateRetentionPolicy {
                name,
                database,
                duration,
                replication,
                shard_duration,
                default,
            } => {
                write!(
                    f,
                    "CREATE RETENTION POLICY {} ON {} DURATION {} REPLICATION {}",
                    quote_ident(name),
                    quote_ident(database),
                    format_duration(*duration),
                    replication
                )?;
                if *shard_duration > 0 {
                    write!(f, " SHARD DURATION {}", format_duration(*shard_duration))?;
                }
                if *default {
                    f.write_str(" DEFAULT")?;
                }
                Ok(())
            }
            AlterRetentionPolicy {
                name,
                database,
                duration,
                replication,
                shard_duration,
                default,
            } => {
                write!(
                    f,
                    "ALTER RETENTION POLICY {} ON {}",
                    quote_ident(name),
                    quote_ident(database)
                )?;
                if let Some(d) = duration {
                    write!(f, " DURATION {}", format_duration(*d))?;
                }
                if let Some(r) = replication {
                    write!(f, " REPLICATION {r}")?;
                }
                if let Some(d) = shard_duration {
                    write!(f, " SHARD DURATION {}", format_duration(*d))?;
                }
                if *default {
                    f.write_str(" DEFAULT")?;
                }
                Ok(())
            }
            DropRetentionPolicy { name, database } => write!(
                f,
                "DROP RETENTION POLICY {} ON {}",
                quote_ident(name),
                quote_ident(database)
            ),
            DropMeasurement { name } => write!(f, "DROP MEASUREMENT {}", quote_ident(name)),
            DropShard { id } => write!(f, "DROP SHARD {id}"),
            ShowUsers => f.write_str("SHOW USERS"),
            CreateUser {
                name,
                password,
                admin,
            } => {
                write!(
                    f,
                    "CREATE USER {} WITH PASSWORD {}",
                    quote_ident(name),
                    quote_string(password)
                )?;
                if *admin {
                    f.write_str(" WITH ALL PRIVILEGES")?;
                }
                Ok(())
            }
            DropUser { name } => write!(f, "DROP USER {}", quote_ident(name)),
            SetPassword { name, password } => write!(
                f,
                "SET PASSWORD FOR {} = {}",
                quote_ident(name),
                quote_string(password)
            ),
            Grant {
                privilege,
                database,
                user,
            } => write!(
                f,
                "GRANT {privilege} ON {} TO {}",
                quote_ident(database),
                quote_ident(user)
            ),
            GrantAdmin { user } => write!(f, "GRANT ALL PRIVILEGES TO {}", quote_ident(user)),
            Revoke {
                privilege,
                database,
                user,
            } => write!(
                f,
                "REVOKE {privilege} ON {} FROM {}",
                quote_ident(database),
                quote_ident(user)
            ),
            RevokeAdmin { user } => {
                write!(f, "REVOKE ALL PRIVILEGES FROM {}", quote_ident(user))
            }
            ShowGrants { user } => write!(f, "SHOW GRANTS FOR {}", quote_ident(user)),
            ShowContinuousQueries => f.write_str("SHOW CONTINUOUS QUERIES"),
            CreateContinuousQuery {
                name,
                database,
                resample_every,
                resample_for,
                source,
            } => {
                write!(
                    f,
                    "CREATE CONTINUOUS QUERY {} ON {}",
                    quote_ident(name),
                    quote_ident(database)
                )?;
                if *resample_every > 0 || *resample_for > 0 {
                    f.write_str(" RESAMPLE")?;
                    if *resample_every > 0 {
                        write!(f, " EVERY {}", format_duration(*resample_every))?;
                    }
                    if *resample_for > 0 {
                        write!(f, " FOR {}", format_duration(*resample_for))?;
                    }
                }
                write!(f, " BEGIN {source} END")
            }
            DropContinuousQuery { name, database } => write!(
                f,
                "DROP CONTINUOUS QUERY {} ON {}",
                quote_ident(name),
                quote_ident(database)
            ),
            ShowQueries => f.write_str("SHOW QUERIES"),
            KillQuery { query_id, host } => {
                write!(f, "KILL QUERY {query_id}")?;
                write_on(f, host)
            }
            ShowShards => f.write_str("SHOW SHARDS"),
            ShowShardGroups => f.write_str("SHOW SHARD GROUPS"),
            ShowStats { module } => {
                f.write_str("SHOW STATS")?;
                opt_module(f, module)
            }
            ShowDiagnostics { module } => {
                f.write_str("SHOW DIAGNOSTICS")?;
                opt_module(f, module)
            }
            ShowSubscriptions => f.write_str("SHOW SUBSCRIPTIONS"),
            CreateSubscription {
                name,
                database,
                retention_policy,
                mode,
                destinations,
            } => {
                write!(
                    f,
                    "CREATE SUBSCRIPTION {} ON {}.{} DESTINATIONS {mode} ",
                    quote_ident(name),
                    quote_ident(database),
                    quote_ident(retention_policy)
                )?;
                for (i, d) in destinations.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&quote_string(d))?;
                }
                Ok(())
            }
            DropSubscription {
                name,
                database,
                retention_policy,
            } => write!(
                f,
                "DROP SUBSCRIPTION {} ON {}.{}",
                quote_ident(name),
                quote_ident(database),
                quote_ident(retention_policy)
            ),
            Explain { analyze, statement } => {
                f.write_str("EXPLAIN ")?;
                if *analyze {
                    f.write_str("ANALYZE ")?;
                }
                write!(f, "{statement}")
            }
        }
    }
}
