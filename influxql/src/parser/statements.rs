//! Statement dispatch (1.x's parse tree, with its "expected" keyword lists in the same
//! order) and every statement other than SELECT.

use super::{PResult, Parser, TargetReq};
use crate::ast::*;
use crate::error::{ParseError, Pos};
use crate::token::Tok;

const STATEMENT_KEYWORDS: &[&str] = &[
    "SELECT", "DELETE", "SHOW", "CREATE", "DROP", "EXPLAIN", "GRANT", "REVOKE", "ALTER", "SET",
    "KILL",
];
const SHOW_KEYWORDS: &[&str] = &[
    "CONTINUOUS",
    "DATABASES",
    "DIAGNOSTICS",
    "FIELD",
    "GRANTS",
    "MEASUREMENT",
    "MEASUREMENTS",
    "QUERIES",
    "RETENTION",
    "SERIES",
    "SHARD",
    "SHARDS",
    "STATS",
    "SUBSCRIPTIONS",
    "TAG",
    "USERS",
];
const CREATE_KEYWORDS: &[&str] = &[
    "CONTINUOUS",
    "DATABASE",
    "USER",
    "RETENTION",
    "SUBSCRIPTION",
];
const DROP_KEYWORDS: &[&str] = &[
    "CONTINUOUS",
    "DATABASE",
    "MEASUREMENT",
    "RETENTION",
    "SERIES",
    "SHARD",
    "SUBSCRIPTION",
    "USER",
];

impl Parser<'_, '_> {
    /// `stmt (; stmt)*` with empty statements allowed (1.x's `ParseQuery`).
    pub(crate) fn parse_query(&mut self) -> PResult<Query> {
        let mut statements = Vec::new();
        let mut semi = true;
        loop {
            let t = self.scan_ignore_ws();
            match t.tok {
                Tok::Eof => return Ok(Query { statements }),
                Tok::Semicolon => semi = true,
                _ => {
                    if !semi {
                        return Err(Self::unexpected(&t, &[";"]));
                    }
                    self.unscan();
                    statements.push(self.parse_statement()?);
                    semi = false;
                }
            }
        }
    }

    pub(crate) fn parse_statement(&mut self) -> PResult<Statement> {
        let t = self.scan_ignore_ws();
        match t.tok {
            Tok::Select => self
                .parse_select_statement(TargetReq::NotRequired)
                .map(Statement::Select),
            Tok::Delete => self.parse_delete_like(true),
            Tok::Show => self.parse_show(),
            Tok::Create => self.parse_create(),
            Tok::Drop => self.parse_drop(),
            Tok::Explain => self.parse_explain(),
            Tok::Grant => self.parse_grant_revoke(true),
            Tok::Revoke => self.parse_grant_revoke(false),
            Tok::Alter => {
                self.expect_keyword(Tok::Retention)?;
                self.expect_keyword(Tok::Policy)?;
                self.parse_alter_retention_policy()
            }
            Tok::Set => {
                self.expect_keyword(Tok::Password)?;
                self.expect_keyword(Tok::For)?;
                let name = self.parse_ident()?;
                let t = self.scan_ignore_ws();
                if t.tok != Tok::Eq {
                    return Err(Self::unexpected(&t, &["="]));
                }
                let password = self.parse_string()?;
                Ok(Statement::SetPassword { name, password })
            }
            Tok::Kill => {
                self.expect_keyword(Tok::Query)?;
                let query_id = self.parse_uint64()?;
                let host = if self.scan_ignore_ws().tok == Tok::On {
                    Some(self.parse_ident()?)
                } else {
                    self.unscan();
                    None
                };
                Ok(Statement::KillQuery { query_id, host })
            }
            _ => Err(Self::unexpected(&t, STATEMENT_KEYWORDS)),
        }
    }

    pub(super) fn expect_keyword(&mut self, kw: Tok) -> PResult<()> {
        self.expect_tokens(&[kw])
    }

    /// `ON db` if present.
    fn parse_on(&mut self) -> PResult<Option<String>> {
        if self.scan_ignore_ws().tok == Tok::On {
            return self.parse_ident().map(Some);
        }
        self.unscan();
        Ok(None)
    }

    /// `FROM sources` if present.
    fn parse_optional_from(&mut self) -> PResult<Vec<Source>> {
        if self.scan_ignore_ws().tok == Tok::From {
            return self.parse_sources(false);
        }
        self.unscan();
        Ok(Vec::new())
    }

    fn parse_show(&mut self) -> PResult<Statement> {
        let t = self.scan_ignore_ws();
        match t.tok {
            Tok::Continuous => {
                self.expect_keyword(Tok::Queries)?;
                Ok(Statement::ShowContinuousQueries)
            }
            Tok::Databases => Ok(Statement::ShowDatabases),
            Tok::Diagnostics => Ok(Statement::ShowDiagnostics {
                module: self.parse_optional_for_module()?,
            }),
            Tok::Field => {
                let t = self.scan_ignore_ws();
                match t.tok {
                    Tok::Key => self.parse_cardinality(CardinalityKind::FieldKey),
                    Tok::Keys => {
                        let database = self.parse_on()?;
                        let sources = self.parse_optional_from()?;
                        let order_by = self.parse_order_by()?;
                        let limit = self.parse_optional_token_and_int(Tok::Limit)?;
                        let offset = self.parse_optional_token_and_int(Tok::Offset)?;
                        Ok(Statement::ShowFieldKeys {
                            database,
                            sources,
                            order_by,
                            limit,
                            offset,
                        })
                    }
                    _ => Err(Self::unexpected(&t, &["KEY", "KEYS"])),
                }
            }
            Tok::Grants => {
                self.expect_keyword(Tok::For)?;
                Ok(Statement::ShowGrants {
                    user: self.parse_ident()?,
                })
            }
            Tok::Measurement => {
                let t = self.scan_ignore_ws();
                match t.tok {
                    Tok::Exact => {
                        self.expect_keyword(Tok::Cardinality)?;
                        self.parse_cardinality_body(CardinalityKind::Measurement, true)
                    }
                    Tok::Cardinality => {
                        self.parse_cardinality_body(CardinalityKind::Measurement, false)
                    }
                    _ => Err(Self::unexpected(&t, &["EXACT", "CARDINALITY"])),
                }
            }
            Tok::Measurements => self.parse_show_measurements(),
            Tok::Queries => Ok(Statement::ShowQueries),
            Tok::Retention => {
                self.expect_keyword(Tok::Policies)?;
                Ok(Statement::ShowRetentionPolicies {
                    database: self.parse_on()?,
                })
            }
            Tok::Series => {
                let mut exact = false;
                if self.scan_ignore_ws().tok == Tok::Exact {
                    exact = true;
                } else {
                    self.unscan();
                }
                if self.scan_ignore_ws().tok == Tok::Cardinality {
                    return self.parse_cardinality_body(CardinalityKind::Series, exact);
                }
                self.unscan();
                let database = self.parse_on()?;
                let sources = self.parse_optional_from()?;
                let condition = self.parse_condition()?;
                let order_by = self.parse_order_by()?;
                let limit = self.parse_optional_token_and_int(Tok::Limit)?;
                let offset = self.parse_optional_token_and_int(Tok::Offset)?;
                Ok(Statement::ShowSeries {
                    database,
                    sources,
                    condition,
                    order_by,
                    limit,
                    offset,
                })
            }
            Tok::Shard => {
                self.expect_keyword(Tok::Groups)?;
                Ok(Statement::ShowShardGroups)
            }
            Tok::Shards => Ok(Statement::ShowShards),
            Tok::Stats => Ok(Statement::ShowStats {
                module: self.parse_optional_for_module()?,
            }),
            Tok::Subscriptions => Ok(Statement::ShowSubscriptions),
            Tok::Tag => {
                let t = self.scan_ignore_ws();
                match t.tok {
                    Tok::Key => self.parse_cardinality(CardinalityKind::TagKey),
                    Tok::Keys => self.parse_show_tag_keys(),
                    Tok::Values => self.parse_show_tag_values(),
                    _ => Err(Self::unexpected(&t, &["KEY", "KEYS", "VALUES"])),
                }
            }
            Tok::Users => Ok(Statement::ShowUsers),
            _ => Err(Self::unexpected(&t, SHOW_KEYWORDS)),
        }
    }

    fn parse_optional_for_module(&mut self) -> PResult<Option<String>> {
        if self.scan_ignore_ws().tok == Tok::For {
            return self.parse_string().map(Some);
        }
        self.unscan();
        Ok(None)
    }

    /// `SHOW {TAG|FIELD} KEY [EXACT] CARDINALITY ...` (after `KEY`).
    fn parse_cardinality(&mut self, kind: CardinalityKind) -> PResult<Statement> {
        let mut exact = false;
        let mut required: &[&str] = &["EXACT", "CARDINALITY"];
        if self.scan_ignore_ws().tok == Tok::Exact {
            exact = true;
            required = &["CARDINALITY"];
        } else {
            self.unscan();
        }
        let t = self.scan_ignore_ws();
        if t.tok != Tok::Cardinality {
            return Err(Self::unexpected(&t, required));
        }
        self.parse_cardinality_body(kind, exact)
    }

    /// Everything after `CARDINALITY`.
    fn parse_cardinality_body(&mut self, kind: CardinalityKind, exact: bool) -> PResult<Statement> {
        let database = self.parse_on()?;
        let sources = self.parse_optional_from()?;
        let key = if kind == CardinalityKind::TagValues {
            Some(self.parse_tag_key_expr()?)
        } else {
            None
        };
        let condition = self.parse_condition()?;
        let dimensions = self.parse_dimensions()?;
        let limit = self.parse_optional_token_and_int(Tok::Limit)?;
        let offset = self.parse_optional_token_and_int(Tok::Offset)?;
        Ok(Statement::ShowCardinality(CardinalityStatement {
            kind,
            exact,
            database,
            sources,
            key,
            condition,
            dimensions,
            limit,
            offset,
        }))
    }

    fn parse_show_measurements(&mut self) -> PResult<Statement> {
        let database = self.parse_on()?;
        let mut with_measurement = None;
        if self.scan_ignore_ws().tok == Tok::With {
            self.expect_keyword(Tok::Measurement)?;
            let t = self.scan_ignore_ws();
            match t.tok {
                Tok::Eq | Tok::EqRegex => match self.parse_source(false)? {
                    Source::Measurement(m) => with_measurement = Some(m),
                    Source::SubQuery(_) => {}
                },
                _ => return Err(Self::unexpected(&t, &["=", "=~"])),
            }
        } else {
            self.unscan();
        }
        let condition = self.parse_condition()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_optional_token_and_int(Tok::Limit)?;
        let offset = self.parse_optional_token_and_int(Tok::Offset)?;
        Ok(Statement::ShowMeasurements {
            database,
            with_measurement,
            condition,
            order_by,
            limit,
            offset,
        })
    }

    fn parse_show_tag_keys(&mut self) -> PResult<Statement> {
        let database = self.parse_on()?;
        let sources = self.parse_optional_from()?;
        let condition = self.parse_condition()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_optional_token_and_int(Tok::Limit)?;
        let offset = self.parse_optional_token_and_int(Tok::Offset)?;
        let slimit = self.parse_optional_token_and_int(Tok::Slimit)?;
        let soffset = self.parse_optional_token_and_int(Tok::Soffset)?;
        Ok(Statement::ShowTagKeys {
            database,
            sources,
            condition,
            order_by,
            limit,
            offset,
            slimit,
            soffset,
        })
    }

    fn parse_show_tag_values(&mut self) -> PResult<Statement> {
        let t = self.scan_ignore_ws();
        match t.tok {
            Tok::Exact => {
                self.expect_keyword(Tok::Cardinality)?;
                return self.parse_cardinality_body(CardinalityKind::TagValues, true);
            }
            Tok::Cardinality => {
                return self.parse_cardinality_body(CardinalityKind::TagValues, false);
            }
            _ => self.unscan(),
        }
        let database = self.parse_on()?;
        let sources = self.parse_optional_from()?;
        let key = self.parse_tag_key_expr()?;
        let condition = self.parse_condition()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_optional_token_and_int(Tok::Limit)?;
        let offset = self.parse_optional_token_and_int(Tok::Offset)?;
        Ok(Statement::ShowTagValues {
            database,
            sources,
            key,
            condition,
            order_by,
            limit,
            offset,
        })
    }

    /// `WITH KEY (= k | != k | =~ /re/ | !~ /re/ | IN (k, ...))`
    fn parse_tag_key_expr(&mut self) -> PResult<TagKeyFilter> {
        self.expect_tokens(&[Tok::With, Tok::Key])?;
        let t = self.scan_ignore_ws();
        match t.tok {
            Tok::In => {
                let t = self.scan_ignore_ws();
                if t.tok != Tok::LParen {
                    return Err(Self::unexpected(&t, &["("]));
                }
                let keys = self.parse_ident_list()?;
                let t = self.scan_ignore_ws();
                if t.tok != Tok::RParen {
                    return Err(Self::unexpected(&t, &[")"]));
                }
                Ok(TagKeyFilter::In(keys))
            }
            Tok::Eq => Ok(TagKeyFilter::Eq(self.parse_ident()?)),
            Tok::Neq => Ok(TagKeyFilter::NotEq(self.parse_ident()?)),
            Tok::EqRegex | Tok::NeqRegex => match self.parse_regex()? {
                Some(r) if t.tok == Tok::EqRegex => Ok(TagKeyFilter::EqRegex(r)),
                Some(r) => Ok(TagKeyFilter::NotEqRegex(r)),
                None => {
                    let t = self.scan_ignore_ws();
                    Err(Self::unexpected(&t, &["regex"]))
                }
            },
            _ => Err(Self::unexpected(&t, &["IN", "=", "=~"])),
        }
    }

    /// DELETE (`is_delete`) and DROP SERIES share grammar and checks in 1.6.7.
    fn parse_delete_like(&mut self, is_delete: bool) -> PResult<Statement> {
        let t = self.scan_ignore_ws();
        let mut sources = Vec::new();
        if t.tok == Tok::From {
            sources = self.parse_sources(false)?;
            let mut err = None;
            for s in &sources {
                if let Source::Measurement(m) = s {
                    if m.database.is_some() {
                        err = Some("database not supported");
                    }
                    if m.retention_policy.is_some() {
                        err = Some("retention policy not supported");
                    }
                }
            }
            if let Some(msg) = err {
                return Err(ParseError::at(msg, Pos::default()));
            }
        } else {
            self.unscan();
        }
        let condition = self.parse_condition()?;
        if condition.is_none() && sources.is_empty() {
            return Err(Self::unexpected(&t, &["FROM", "WHERE"]));
        }
        Ok(if is_delete {
            Statement::Delete { sources, condition }
        } else {
            Statement::DropSeries { sources, condition }
        })
    }

    fn parse_create(&mut self) -> PResult<Statement> {
        let t = self.scan_ignore_ws();
        match t.tok {
            Tok::Continuous => {
                self.expect_keyword(Tok::Query)?;
                self.parse_create_continuous_query()
            }
            Tok::Database => self.parse_create_database(),
            Tok::User => {
                let name = self.parse_ident()?;
                self.expect_tokens(&[Tok::With, Tok::Password])?;
                let password = self.parse_string()?;
                if self.scan_ignore_ws().tok != Tok::With {
                    self.unscan();
                    return Ok(Statement::CreateUser {
                        name,
                        password,
                        admin: false,
                    });
                }
                self.expect_tokens(&[Tok::All, Tok::Privileges])?;
                Ok(Statement::CreateUser {
                    name,
                    password,
                    admin: true,
                })
            }
            Tok::Retention => {
                self.expect_keyword(Tok::Policy)?;
                self.parse_create_retention_policy()
            }
            Tok::Subscription => {
                let name = self.parse_ident()?;
                self.expect_keyword(Tok::On)?;
                let database = self.parse_ident()?;
                let t = self.scan();
                if t.tok != Tok::Dot {
                    return Err(Self::unexpected(&t, &["."]));
                }
                let retention_policy = self.parse_ident()?;
                self.expect_keyword(Tok::Destinations)?;
                let t = self.scan_ignore_ws();
                let mode = match t.tok {
                    Tok::All => "ALL",
                    Tok::Any => "ANY",
                    _ => return Err(Self::unexpected(&t, &["ALL", "ANY"])),
                };
                let destinations = self.parse_string_list()?;
                Ok(Statement::CreateSubscription {
                    name,
                    database,
                    retention_policy,
                    mode: mode.to_string(),
                    destinations,
                })
            }
            _ => Err(Self::unexpected(&t, CREATE_KEYWORDS)),
        }
    }

    fn parse_create_database(&mut self) -> PResult<Statement> {
        let name = self.parse_ident()?;
        if self.scan_ignore_ws().tok != Tok::With {
            self.unscan();
            return Ok(Statement::CreateDatabase {
                name,
                retention_policy: None,
            });
        }
        let t = self.scan_ignore_ws();
        if !matches!(
            t.tok,
            Tok::Duration | Tok::Name | Tok::Replication | Tok::Shard
        ) {
            return Err(Self::unexpected(
                &t,
                &["DURATION", "NAME", "REPLICATION", "SHARD"],
            ));
        }
        self.unscan();
        let mut rp = DatabaseRetentionPolicy::default();
        if self.optional_keyword(Tok::Duration) {
            rp.duration = Some(self.parse_duration_value()?);
        }
        if self.optional_keyword(Tok::Replication) {
            rp.replication = Some(self.parse_int(1, i32::MAX as i64)? as u32);
        }
        if self.optional_keyword(Tok::Shard) {
            let t = self.scan_ignore_ws();
            if t.tok != Tok::Duration {
                return Err(Self::unexpected(&t, &["DURATION"]));
            }
            rp.shard_duration = Some(self.parse_duration_value()?);
        }
        if self.optional_keyword(Tok::Name) {
            rp.name = Some(self.parse_ident()?);
        }
        Ok(Statement::CreateDatabase {
            name,
            retention_policy: Some(rp),
        })
    }

    /// Consumes `kw` if it is next.
    pub(super) fn optional_keyword(&mut self, kw: Tok) -> bool {
        if self.scan_ignore_ws().tok == kw {
            return true;
        }
        self.unscan();
        false
    }

    fn parse_shard_duration(&mut self) -> PResult<i64> {
        let t = self.scan_ignore_ws();
        if t.tok == Tok::Inf {
            return Err(ParseError::at(
                "invalid duration INF for shard duration",
                t.pos,
            ));
        }
        self.unscan();
        self.parse_duration_value()
    }

    fn parse_create_retention_policy(&mut self) -> PResult<Statement> {
        let name = self.parse_ident()?;
        self.expect_keyword(Tok::On)?;
        let database = self.parse_ident()?;
        self.expect_keyword(Tok::Duration)?;
        let duration = self.parse_duration_value()?;
        self.expect_keyword(Tok::Replication)?;
        let replication = self.parse_int(1, i32::MAX as i64)? as u32;
        let mut shard_duration = 0;
        if self.optional_keyword(Tok::Shard) {
            self.expect_keyword(Tok::Duration)?;
            shard_duration = self.parse_shard_duration()?;
        }
        let default = self.optional_keyword(Tok::Default);
        Ok(Statement::CreateRetentionPolicy {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        })
    }

    fn parse_alter_retention_policy(&mut self) -> PResult<Statement> {
        let t = self.scan_ignore_ws();
        let name = match t.tok {
            Tok::Default => "default".to_string(),
            Tok::Ident => t.lit,
            _ => return Err(Self::unexpected(&t, &["identifier"])),
        };
        self.expect_keyword(Tok::On)?;
        let database = self.parse_ident()?;
        let (mut duration, mut replication, mut shard_duration, mut default) =
            (None, None, None, false);
        let mut found: Vec<Tok> = Vec::new();
        loop {
            let t = self.scan_ignore_ws();
            if found.contains(&t.tok) {
                return Err(ParseError::at(
                    format!("found duplicate {} option", t.tok.as_str()),
                    t.pos,
                ));
            }
            match t.tok {
                Tok::Duration => duration = Some(self.parse_duration_value()?),
                Tok::Replication => replication = Some(self.parse_int(1, i32::MAX as i64)? as u32),
                Tok::Shard => {
                    let t2 = self.scan_ignore_ws();
                    if t2.tok != Tok::Duration {
                        return Err(Self::unexpected(&t2, &["DURATION"]));
                    }
                    shard_duration = Some(self.parse_shard_duration()?);
                }
                Tok::Default => default = true,
                _ => {
                    if found.is_empty() {
                        return Err(Self::unexpected(
                            &t,
                            &["DURATION", "REPLICATION", "SHARD", "DEFAULT"],
                        ));
                    }
                    self.unscan();
                    break;
                }
            }
            found.push(t.tok);
        }
        Ok(Statement::AlterRetentionPolicy {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        })
    }

    fn parse_drop(&mut self) -> PResult<Statement> {
        let t = self.scan_ignore_ws();
        match t.tok {
            Tok::Continuous => {
                self.expect_keyword(Tok::Query)?;
                let name = self.parse_ident()?;
                self.expect_keyword(Tok::On)?;
                let database = self.parse_ident()?;
                Ok(Statement::DropContinuousQuery { name, database })
            }
            Tok::Database => Ok(Statement::DropDatabase {
                name: self.parse_ident()?,
            }),
            Tok::Measurement => Ok(Statement::DropMeasurement {
                name: self.parse_ident()?,
            }),
            Tok::Retention => {
                self.expect_keyword(Tok::Policy)?;
                let name = self.parse_ident()?;
                self.expect_keyword(Tok::On)?;
                let database = self.parse_ident()?;
                Ok(Statement::DropRetentionPolicy { name, database })
            }
            Tok::Series => self.parse_delete_like(false),
            Tok::Shard => Ok(Statement::DropShard {
                id: self.parse_uint64()?,
            }),
            Tok::Subscription => {
                let name = self.parse_ident()?;
                self.expect_keyword(Tok::On)?;
                let database = self.parse_ident()?;
                let t = self.scan();
                if t.tok != Tok::Dot {
                    return Err(Self::unexpected(&t, &["."]));
                }
                let retention_policy = self.parse_ident()?;
                Ok(Statement::DropSubscription {
                    name,
                    database,
                    retention_policy,
                })
            }
            Tok::User => Ok(Statement::DropUser {
                name: self.parse_ident()?,
            }),
            _ => Err(Self::unexpected(&t, DROP_KEYWORDS)),
        }
    }

    fn parse_explain(&mut self) -> PResult<Statement> {
        let analyze = self.optional_keyword(Tok::Analyze);
        let t = self.scan_ignore_ws();
        if t.tok != Tok::Select {
            return Err(Self::unexpected(&t, &["SELECT"]));
        }
        let statement = Box::new(self.parse_select_statement(TargetReq::NotRequired)?);
        Ok(Statement::Explain { analyze, statement })
    }
}
