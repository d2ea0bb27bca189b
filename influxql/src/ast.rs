//! The InfluxQL syntax tree. `Display` (in `display.rs`) prints nodes back as InfluxQL
//! in 1.x's canonical `String()` form; parsing that text yields the same tree.
//!
//! Durations are signed nanoseconds (`i64`). Optional numeric clauses follow 1.x:
//! `LIMIT`/`OFFSET`/`SLIMIT`/`SOFFSET` are `u64` where 0 means "not given" (1.x also
//! treats an explicit `LIMIT 0` as no limit).

/// A parsed request: one or more statements separated by `;`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// Statements in request order (`statement_id` = index).
    pub statements: Vec<Statement>,
}

/// A single InfluxQL statement.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // SELECT dominates; boxing it would only add noise for users.
pub enum Statement {
    /// `SELECT ...`
    Select(SelectStatement),
    /// `DELETE [FROM sources] [WHERE cond]` (at least one of the two).
    Delete {
        /// Measurements to delete from (no database prefix allowed).
        sources: Vec<Source>,
        /// Optional condition (tags and time).
        condition: Option<Expr>,
    },
    /// `DROP SERIES [FROM sources] [WHERE cond]` (at least one of the two).
    DropSeries {
        /// Measurements (no database or retention policy prefix allowed).
        sources: Vec<Source>,
        /// Optional tag condition.
        condition: Option<Expr>,
    },
    /// `SHOW DATABASES`
    ShowDatabases,
    /// `SHOW MEASUREMENTS [ON db] [WITH MEASUREMENT =~ /re/ | = name] [WHERE] [ORDER BY] [LIMIT] [OFFSET]`
    ShowMeasurements {
        /// `ON db`
        database: Option<String>,
        /// `WITH MEASUREMENT = m` / `=~ /re/` (a regex measurement means `=~`).
        with_measurement: Option<Measurement>,
        /// `WHERE` on tags.
        condition: Option<Expr>,
        /// `ORDER BY`
        order_by: Option<SortField>,
        /// 0 = none.
        limit: u64,
        /// 0 = none.
        offset: u64,
    },
    /// `SHOW TAG KEYS [ON db] [FROM ...] [WHERE] [ORDER BY] [LIMIT] [OFFSET] [SLIMIT] [SOFFSET]`
    ShowTagKeys {
        /// `ON db`
        database: Option<String>,
        /// `FROM` measurements.
        sources: Vec<Source>,
        /// `WHERE`
        condition: Option<Expr>,
        /// `ORDER BY`
        order_by: Option<SortField>,
        /// 0 = none.
        limit: u64,
        /// 0 = none.
        offset: u64,
        /// 0 = none.
        slimit: u64,
        /// 0 = none.
        soffset: u64,
    },
    /// `SHOW TAG VALUES [ON db] [FROM ...] WITH KEY ... [WHERE] [ORDER BY] [LIMIT] [OFFSET]`
    ShowTagValues {
        /// `ON db`
        database: Option<String>,
        /// `FROM` measurements.
        sources: Vec<Source>,
        /// The required `WITH KEY` filter.
        key: TagKeyFilter,
        /// `WHERE`
        condition: Option<Expr>,
        /// `ORDER BY`
        order_by: Option<SortField>,
        /// 0 = none.
        limit: u64,
        /// 0 = none.
        offset: u64,
    },
    /// `SHOW FIELD KEYS [ON db] [FROM ...] [ORDER BY] [LIMIT] [OFFSET]`
    ShowFieldKeys {
        /// `ON db`
        database: Option<String>,
        /// `FROM` measurements.
        sources: Vec<Source>,
        /// `ORDER BY`
        order_by: Option<SortField>,
        /// 0 = none.
        limit: u64,
        /// 0 = none.
        offset: u64,
    },
    /// `SHOW SERIES [ON db] [FROM ...] [WHERE] [ORDER BY] [LIMIT] [OFFSET]`
    ShowSeries {
        /// `ON db`
        database: Option<String>,
        /// `FROM` measurements.
        sources: Vec<Source>,
        /// `WHERE`
        condition: Option<Expr>,
        /// `ORDER BY`
        order_by: Option<SortField>,
        /// 0 = none.
        limit: u64,
        /// 0 = none.
        offset: u64,
    },
    /// `SHOW {MEASUREMENT|SERIES|TAG KEY|TAG VALUES|FIELD KEY} [EXACT] CARDINALITY ...`
    ShowCardinality(CardinalityStatement),
    /// `SHOW RETENTION POLICIES [ON db]`
    ShowRetentionPolicies {
        /// `ON db`
        database: Option<String>,
    },
    /// `CREATE DATABASE name [WITH [DURATION d] [REPLICATION n] [SHARD DURATION d] [NAME rp]]`
    CreateDatabase {
        /// Database name.
        name: String,
        /// Present when a `WITH` clause was given.
        retention_policy: Option<DatabaseRetentionPolicy>,
    },
    /// `DROP DATABASE name`
    DropDatabase {
        /// Database name.
        name: String,
    },
    /// `CREATE RETENTION POLICY name ON db DURATION d REPLICATION n [SHARD DURATION d] [DEFAULT]`
    CreateRetentionPolicy {
        /// Policy name.
        name: String,
        /// Database name.
        database: String,
        /// Nanoseconds; 0 = infinite (`INF`).
        duration: i64,
        /// Replication factor (1..=i32::MAX).
        replication: u32,
        /// Nanoseconds; 0 = not given (server default).
        shard_duration: i64,
        /// `DEFAULT`
        default: bool,
    },
    /// `ALTER RETENTION POLICY name ON db [DURATION d] [REPLICATION n] [SHARD DURATION d] [DEFAULT]`
    AlterRetentionPolicy {
        /// Policy name.
        name: String,
        /// Database name.
        database: String,
        /// New duration (ns, 0 = INF).
        duration: Option<i64>,
        /// New replication factor.
        replication: Option<u32>,
        /// New shard group duration (ns).
        shard_duration: Option<i64>,
        /// Make it the default policy.
        default: bool,
    },
    /// `DROP RETENTION POLICY name ON db`
    DropRetentionPolicy {
        /// Policy name.
        name: String,
        /// Database name.
        database: String,
    },
    /// `DROP MEASUREMENT name`
    DropMeasurement {
        /// Measurement name.
        name: String,
    },
    /// `DROP SHARD id`
    DropShard {
        /// Shard id.
        id: u64,
    },
    /// `SHOW USERS`
    ShowUsers,
    /// `CREATE USER name WITH PASSWORD 'pw' [WITH ALL PRIVILEGES]`
    CreateUser {
        /// User name.
        name: String,
        /// Clear-text password as written.
        password: String,
        /// `WITH ALL PRIVILEGES`
        admin: bool,
    },
    /// `DROP USER name`
    DropUser {
        /// User name.
        name: String,
    },
    /// `SET PASSWORD FOR name = 'pw'`
    SetPassword {
        /// User name.
        name: String,
        /// New clear-text password.
        password: String,
    },
    /// `GRANT priv ON db TO user`
    Grant {
        /// Privilege.
        privilege: Privilege,
        /// Database.
        database: String,
        /// User.
        user: String,
    },
    /// `GRANT ALL [PRIVILEGES] TO user`
    GrantAdmin {
        /// User.
        user: String,
    },
    /// `REVOKE priv ON db FROM user`
    Revoke {
        /// Privilege.
        privilege: Privilege,
        /// Database.
        database: String,
        /// User.
        user: String,
    },
    /// `REVOKE ALL [PRIVILEGES] FROM user`
    RevokeAdmin {
        /// User.
        user: String,
    },
    /// `SHOW GRANTS FOR user`
    ShowGrants {
        /// User.
        user: String,
    },
    /// `SHOW CONTINUOUS QUERIES`
    ShowContinuousQueries,
    /// `CREATE CONTINUOUS QUERY name ON db [RESAMPLE [EVERY d] [FOR d]] BEGIN select END`
    CreateContinuousQuery {
        /// CQ name.
        name: String,
        /// Database.
        database: String,
        /// `RESAMPLE EVERY` (ns, 0 = not given).
        resample_every: i64,
        /// `RESAMPLE FOR` (ns, 0 = not given).
        resample_for: i64,
        /// The `SELECT ... INTO ...` body.
        source: Box<SelectStatement>,
    },
    /// `DROP CONTINUOUS QUERY name ON db`
    DropContinuousQuery {
        /// CQ name.
        name: String,
        /// Database.
        database: String,
    },
    /// `SHOW QUERIES`
    ShowQueries,
    /// `KILL QUERY id [ON host]`
    KillQuery {
        /// Query id.
        query_id: u64,
        /// `ON host`
        host: Option<String>,
    },
    /// `SHOW SHARDS`
    ShowShards,
    /// `SHOW SHARD GROUPS`
    ShowShardGroups,
    /// `SHOW STATS [FOR 'module']`
    ShowStats {
        /// Module filter.
        module: Option<String>,
    },
    /// `SHOW DIAGNOSTICS [FOR 'module']`
    ShowDiagnostics {
        /// Module filter.
        module: Option<String>,
    },
    /// `SHOW SUBSCRIPTIONS`
    ShowSubscriptions,
    /// `CREATE SUBSCRIPTION name ON db.rp DESTINATIONS {ALL|ANY} 'url'[, ...]`
    CreateSubscription {
        /// Subscription name.
        name: String,
        /// Database.
        database: String,
        /// Retention policy.
        retention_policy: String,
        /// `ALL` or `ANY`.
        mode: String,
        /// Destination URLs.
        destinations: Vec<String>,
    },
    /// `DROP SUBSCRIPTION name ON db.rp`
    DropSubscription {
        /// Subscription name.
        name: String,
        /// Database.
        database: String,
        /// Retention policy.
        retention_policy: String,
    },
    /// `EXPLAIN [ANALYZE] select`
    Explain {
        /// `ANALYZE`
        analyze: bool,
        /// The explained statement.
        statement: Box<SelectStatement>,
    },
}

/// `SELECT` statement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectStatement {
    /// Projections, in order.
    pub fields: Vec<Field>,
    /// `INTO` target (parsed only).
    pub into: Option<Target>,
    /// `FROM` sources.
    pub sources: Vec<Source>,
    /// `WHERE` condition.
    pub condition: Option<Expr>,
    /// `GROUP BY` dimensions: `time(i[, o])` calls, tag [`Expr::VarRef`]s,
    /// [`Expr::Wildcard`], [`Expr::Regex`] (anything else is a semantic error for the executor).
    pub dimensions: Vec<Expr>,
    /// `fill(...)`; [`Fill::Null`] when absent.
    pub fill: Fill,
    /// `ORDER BY` (1.x only supports `time`).
    pub order_by: Option<SortField>,
    /// Rows per series; 0 = no limit.
    pub limit: u64,
    /// Rows skipped per series.
    pub offset: u64,
    /// Series limit; 0 = no limit.
    pub slimit: u64,
    /// Series skipped.
    pub soffset: u64,
    /// `tz('Region/City')` as written.
    pub timezone: Option<String>,
}

impl SelectStatement {
    /// `ORDER BY time DESC`?
    pub fn is_descending(&self) -> bool {
        self.order_by.as_ref().is_some_and(|s| !s.ascending)
    }

    /// True when no field contains a function call (1.x's `IsRawQuery`).
    pub fn is_raw_query(&self) -> bool {
        !self.fields.iter().any(|f| f.expr.contains_call())
    }
}

/// A projection: expression plus optional `AS alias`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The expression.
    pub expr: Expr,
    /// `AS alias`
    pub alias: Option<String>,
}

/// `INTO` target; `measurement == None` is the `:MEASUREMENT` back-reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Database (only with three segments).
    pub database: Option<String>,
    /// Retention policy.
    pub retention_policy: Option<String>,
    /// Measurement name, or `None` for `:MEASUREMENT`.
    pub measurement: Option<String>,
}

/// A `FROM` source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Measurement, optionally qualified, or a regex.
    Measurement(Measurement),
    /// `(SELECT ...)`
    SubQuery(Box<SelectStatement>),
}

/// A measurement reference: `m`, `rp.m`, `db.rp.m`, `db..m`, `/re/`, `db.rp./re/`.
/// Empty segments are `None` (1.x treats `""` and a missing segment alike).
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Database.
    pub database: Option<String>,
    /// Retention policy.
    pub retention_policy: Option<String>,
    /// Name or regex.
    pub name: MeasurementName,
}

/// A measurement's name part.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasurementName {
    /// Exact name.
    Name(String),
    /// `/regex/`
    Regex(Regex),
}

/// A regex literal's source text (after `\/` unescaping). Compilation is the executor's
/// job; the parser only rejects what 1.x rejects at parse time (see `regex_check`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Regex(pub String);

/// `SHOW TAG VALUES ... WITH KEY` filter.
#[derive(Debug, Clone, PartialEq)]
pub enum TagKeyFilter {
    /// `= key`
    Eq(String),
    /// `!= key`
    NotEq(String),
    /// `=~ /re/`
    EqRegex(Regex),
    /// `!~ /re/`
    NotEqRegex(Regex),
    /// `IN (k1, k2)`
    In(Vec<String>),
}

/// `ORDER BY` item. `name == None` for the bare `ORDER BY ASC|DESC` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortField {
    /// `time` (the only name 1.x accepts) or none.
    pub name: Option<String>,
    /// `ASC` (default) or `DESC`.
    pub ascending: bool,
}

/// `fill(...)` option.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fill {
    /// `fill(null)` or absent.
    #[default]
    Null,
    /// `fill(none)`
    None,
    /// `fill(previous)`
    Previous,
    /// `fill(linear)`
    Linear,
    /// `fill(<integer>)`
    Integer(i64),
    /// `fill(<float>)`
    Float(f64),
}

/// `CREATE DATABASE ... WITH ...` retention policy options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatabaseRetentionPolicy {
    /// `DURATION d` (ns, 0 = INF).
    pub duration: Option<i64>,
    /// `REPLICATION n`
    pub replication: Option<u32>,
    /// `SHARD DURATION d` (ns).
    pub shard_duration: Option<i64>,
    /// `NAME rp`
    pub name: Option<String>,
}

/// Database privilege for `GRANT`/`REVOKE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// `READ`
    Read,
    /// `WRITE`
    Write,
    /// `ALL [PRIVILEGES]`
    All,
}

/// What a `SHOW ... CARDINALITY` statement counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardinalityKind {
    /// `SHOW MEASUREMENT [EXACT] CARDINALITY`
    Measurement,
    /// `SHOW SERIES [EXACT] CARDINALITY`
    Series,
    /// `SHOW TAG KEY [EXACT] CARDINALITY`
    TagKey,
    /// `SHOW TAG VALUES [EXACT] CARDINALITY ... WITH KEY ...`
    TagValues,
    /// `SHOW FIELD KEY [EXACT] CARDINALITY`
    FieldKey,
}

/// `SHOW ... [EXACT] CARDINALITY [ON db] [FROM] [WHERE] [GROUP BY] [LIMIT] [OFFSET]`
#[derive(Debug, Clone, PartialEq)]
pub struct CardinalityStatement {
    /// Counted thing.
    pub kind: CardinalityKind,
    /// `EXACT`
    pub exact: bool,
    /// `ON db`
    pub database: Option<String>,
    /// `FROM`
    pub sources: Vec<Source>,
    /// `WITH KEY` (only for [`CardinalityKind::TagValues`]).
    pub key: Option<TagKeyFilter>,
    /// `WHERE`
    pub condition: Option<Expr>,
    /// `GROUP BY`
    pub dimensions: Vec<Expr>,
    /// 0 = none.
    pub limit: u64,
    /// 0 = none.
    pub offset: u64,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Field/tag reference. Dotted segments are joined with `.` (1.x's `VarRef.Val`).
    VarRef(VarRef),
    /// Function call; the name is lower-cased (`now()`, `time(5m)`, `mean(x)`).
    Call(Call),
    /// Binary operation.
    Binary(Box<BinaryExpr>),
    /// Parenthesised expression (kept so printing preserves grouping).
    Paren(Box<Expr>),
    /// Integer literal.
    Integer(i64),
    /// Float literal.
    Number(f64),
    /// Single-quoted string literal (time strings included; the executor interprets them).
    String(String),
    /// `true` / `false`
    Boolean(bool),
    /// Duration literal in nanoseconds (`5m`, `-1h`).
    Duration(i64),
    /// `/regex/`
    Regex(Regex),
    /// `*`, `*::field`, `*::tag`
    Wildcard(WildcardType),
    /// `DISTINCT x` (the keyword form; `distinct(x)` is a [`Call`]).
    Distinct(String),
}

/// A field or tag reference with an optional `::type` hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    /// Name (segments joined by `.`).
    pub name: String,
    /// `::float`, `::integer`, `::unsigned`, `::string`, `::boolean`, `::field`, `::tag`.
    pub data_type: Option<DataType>,
}

/// Type hint on a [`VarRef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `::float`
    Float,
    /// `::integer`
    Integer,
    /// `::unsigned`
    Unsigned,
    /// `::string`
    String,
    /// `::boolean`
    Boolean,
    /// `::field` (any field type)
    Field,
    /// `::tag`
    Tag,
}

impl DataType {
    /// The lower-case spelling used after `::`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Float => "float",
            DataType::Integer => "integer",
            DataType::Unsigned => "unsigned",
            DataType::String => "string",
            DataType::Boolean => "boolean",
            DataType::Field => "field",
            DataType::Tag => "tag",
        }
    }
}

/// Wildcard flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WildcardType {
    /// `*`
    All,
    /// `*::field`
    Field,
    /// `*::tag`
    Tag,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Lower-cased function name.
    pub name: String,
    /// Arguments.
    pub args: Vec<Expr>,
}

/// `lhs op rhs`
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// Operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Expr,
    /// Right operand.
    pub rhs: Expr,
}

/// Binary operators, with 1.x precedence (see [`BinaryOp::precedence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `=`
    Eq,
    /// `!=` (also written `<>`)
    Neq,
    /// `=~`
    EqRegex,
    /// `!~`
    NeqRegex,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

impl BinaryOp {
    /// OR 1 < AND 2 < comparisons 3 < `+ - | ^` 4 < `* / % &` 5.
    pub fn precedence(self) -> u8 {
        use BinaryOp::*;
        match self {
            Or => 1,
            And => 2,
            Eq | Neq | EqRegex | NeqRegex | Lt | Lte | Gt | Gte => 3,
            Add | Sub | BitOr | BitXor => 4,
            Mul | Div | Mod | BitAnd => 5,
        }
    }

    /// Operator text as printed.
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            And => "AND",
            Or => "OR",
            Eq => "=",
            Neq => "!=",
            EqRegex => "=~",
            NeqRegex => "!~",
            Lt => "<",
            Lte => "<=",
            Gt => ">",
            Gte => ">=",
        }
    }

    /// Comparison or logical operator (not allowed in SELECT fields).
    pub fn is_boolean(self) -> bool {
        self.precedence() <= 3
    }
}

impl Expr {
    /// Whether any function call occurs in this expression.
    pub fn contains_call(&self) -> bool {
        match self {
            Expr::Call(_) => true,
            Expr::Binary(b) => b.lhs.contains_call() || b.rhs.contains_call(),
            Expr::Paren(e) => e.contains_call(),
            _ => false,
        }
    }

    /// Strips any number of enclosing parentheses.
    pub fn unparen(&self) -> &Expr {
        let mut e = self;
        while let Expr::Paren(inner) = e {
            e = inner;
        }
        e
    }
}

impl Statement {
    /// Whether executing the statement modifies data or metadata (1.x demands POST for
    /// these): CREATE/DROP/ALTER/DELETE/GRANT/REVOKE/SET/KILL and `SELECT ... INTO`.
    pub fn requires_write(&self) -> bool {
        use Statement::*;
        match self {
            Select(s) => s.into.is_some(),
            Explain { .. } => false,
            Delete { .. }
            | DropSeries { .. }
            | CreateDatabase { .. }
            | DropDatabase { .. }
            | CreateRetentionPolicy { .. }
            | AlterRetentionPolicy { .. }
            | DropRetentionPolicy { .. }
            | DropMeasurement { .. }
            | DropShard { .. }
            | CreateUser { .. }
            | DropUser { .. }
            | SetPassword { .. }
            | Grant { .. }
            | GrantAdmin { .. }
            | Revoke { .. }
            | RevokeAdmin { .. }
            | CreateContinuousQuery { .. }
            | DropContinuousQuery { .. }
            | KillQuery { .. }
            | CreateSubscription { .. }
            | DropSubscription { .. } => true,
            ShowDatabases
            | ShowMeasurements { .. }
            | ShowTagKeys { .. }
            | ShowTagValues { .. }
            | ShowFieldKeys { .. }
            | ShowSeries { .. }
            | ShowCardinality(_)
            | ShowRetentionPolicies { .. }
            | ShowUsers
            | ShowGrants { .. }
            | ShowContinuousQueries
            | ShowQueries
            | ShowShards
            | ShowShardGroups
            | ShowStats { .. }
            | ShowDiagnostics { .. }
            | ShowSubscriptions => false,
        }
    }
}
