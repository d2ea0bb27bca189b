//! tigk's `/query` on a remote engine: statements tigk's caller may run are sent, one at a
//! time, to the engine; the answers come back as the engine gave them.
//!
//! The engine sees tigk's own credentials (which may be an admin's, for subscriptions), so
//! what the caller may do is decided here, from tigk's principal: only statements that read,
//! each database a statement reads authorized as the embedded engine would, and the
//! server-wide SHOW statements for admins only. Statements that change the engine are refused:
//! run them on the engine itself.

use influxql::{Source, Statement};
use tsdb::auth::Principal;
use tsdb::query::{QueryContext, StatementResult};

use crate::Client;

/// [`tsdb::http::QueryRunner`] over the remote engine.
#[derive(Clone)]
pub struct QueryProxy {
    client: Client,
}

impl QueryProxy {
    pub fn new(client: Client) -> QueryProxy {
        QueryProxy { client }
    }
}

impl tsdb::http::QueryRunner for QueryProxy {
    fn run<'a>(
        &'a self,
        query: &'a influxql::Query,
        ctx: &'a QueryContext,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<StatementResult>> + Send + 'a>>
    {
        Box::pin(async move {
            let db = ctx.database.clone().unwrap_or_default();
            let rp = ctx.retention_policy.clone().unwrap_or_default();
            let mut out = Vec::with_capacity(query.statements.len());
            for (i, stmt) in query.statements.iter().enumerate() {
                let refused = permit(stmt, &ctx.principal, &db).err();
                let mut result = match refused {
                    Some(error) => StatementResult {
                        error: Some(error),
                        ..StatementResult::default()
                    },
                    None => {
                        let (c, d, r, q) = (
                            self.client.clone(),
                            db.clone(),
                            rp.clone(),
                            stmt.to_string(),
                        );
                        let answer = tokio::task::spawn_blocking(move || c.query(&d, &r, &q))
                            .await
                            .map_err(|e| crate::Error::Unavailable(e.to_string()))
                            .and_then(|r| r);
                        match answer {
                            Ok(mut results) if !results.is_empty() => results.swap_remove(0),
                            Ok(_) => StatementResult::default(),
                            Err(e) => StatementResult {
                                error: Some(e.to_string()),
                                ..StatementResult::default()
                            },
                        }
                    }
                };
                result.statement_id = i;
                out.push(result);
            }
            out
        })
    }
}

/// Whether every statement of `query` reads database `name` only (`db`: the request's
/// database, for sources that name none): such a query may be answered elsewhere.
pub fn reads_only(query: &influxql::Query, db: &str, name: &str) -> bool {
    let here = |d: &Option<String>| d.as_deref().unwrap_or(db) == name;
    let from = |list: &[Source]| {
        fn all(list: &[Source], here: &dyn Fn(&Option<String>) -> bool) -> bool {
            list.iter().all(|s| match s {
                Source::Measurement(m) => here(&m.database),
                Source::SubQuery(sel) => all(&sel.sources, here),
            })
        }
        all(list, &here)
    };
    !query.statements.is_empty()
        && query.statements.iter().all(|stmt| match stmt {
            Statement::Select(sel) => sel.into.is_none() && from(&sel.sources),
            Statement::Explain { statement, .. } => from(&statement.sources),
            Statement::ShowMeasurements { database, .. }
            | Statement::ShowTagKeys { database, .. }
            | Statement::ShowTagValues { database, .. }
            | Statement::ShowFieldKeys { database, .. }
            | Statement::ShowSeries { database, .. }
            | Statement::ShowRetentionPolicies { database, .. } => here(database),
            _ => false,
        })
}

/// Whether `p` may have `stmt` run on the engine; `db` is the request's database.
fn permit(stmt: &Statement, p: &Principal, db: &str) -> Result<(), String> {
    if stmt.requires_write() {
        return Err(
            "tigk sends only SELECT and SHOW statements to the remote engine: run this one on the engine"
                .into(),
        );
    }
    if p.admin {
        return Ok(());
    }
    let read = |d: &str| p.authorize_read(d).map_err(|e| e.to_string());
    let on = |d: &Option<String>| read(d.as_deref().unwrap_or(db));
    let every_db = || {
        if p.can_read && p.database.is_none() {
            Ok(())
        } else {
            Err(format!(
                "\"{}\" user may not run this statement on the remote engine: it needs read access to every database",
                p.name
            ))
        }
    };
    match stmt {
        Statement::Select(sel) => sources(&sel.sources, db, &read),
        Statement::Explain { statement, .. } => sources(&statement.sources, db, &read),
        Statement::ShowMeasurements { database, .. }
        | Statement::ShowTagKeys { database, .. }
        | Statement::ShowTagValues { database, .. }
        | Statement::ShowFieldKeys { database, .. }
        | Statement::ShowSeries { database, .. }
        | Statement::ShowRetentionPolicies { database, .. } => on(database),
        Statement::ShowDatabases | Statement::ShowCardinality(_) => every_db(),
        _ => Err(format!(
            "\"{}\" user is not authorized to run this statement: requires admin",
            p.name
        )),
    }
}

fn sources(
    list: &[Source],
    db: &str,
    read: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(), String> {
    for s in list {
        match s {
            Source::Measurement(m) => read(m.database.as_deref().unwrap_or(db))?,
            Source::SubQuery(sel) => sources(&sel.sources, db, read)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(db: Option<&str>) -> Principal {
        Principal {
            name: "grafana".into(),
            admin: false,
            database: db.map(str::to_string),
            can_read: true,
            can_write: false,
        }
    }

    fn check(p: &Principal, q: &str) -> Result<(), String> {
        let parsed = influxql::parse_query(q).expect("parses");
        permit(&parsed.statements[0], p, "telegraf")
    }

    #[test]
    fn queries_reading_one_database_only_are_told_apart() {
        let only = |q: &str, db: &str| {
            reads_only(&influxql::parse_query(q).expect("parses"), db, "_internal")
        };
        assert!(only("SELECT mean(rssBytes) FROM runtime", "_internal"));
        assert!(only(
            "SELECT * FROM \"_internal\".\"monitor\".\"httpd\"; SHOW MEASUREMENTS ON _internal",
            "telegraf"
        ));
        assert!(only(
            "SELECT max(x) FROM (SELECT * FROM runtime)",
            "_internal"
        ));
        assert!(!only("SELECT * FROM runtime", "telegraf"));
        assert!(!only(
            "SELECT * FROM runtime, telegraf.autogen.cpu",
            "_internal"
        ));
        assert!(!only(
            "SELECT * FROM (SELECT * FROM telegraf..cpu)",
            "_internal"
        ));
        assert!(!only("SHOW DATABASES", "_internal"));
        assert!(!only("SELECT * INTO copy FROM runtime", "_internal"));
    }

    #[test]
    fn only_reads_go_to_the_engine_within_the_callers_databases() {
        let scoped = reader(Some("telegraf"));
        for ok in [
            "SELECT mean(usage_idle) FROM cpu",
            "SELECT * FROM telegraf.autogen.cpu",
            "SELECT max(m) FROM (SELECT mean(usage_idle) AS m FROM cpu GROUP BY host)",
            "SHOW TAG VALUES WITH KEY = host",
            "SHOW MEASUREMENTS ON telegraf",
            "EXPLAIN SELECT * FROM cpu",
        ] {
            assert!(check(&scoped, ok).is_ok(), "{ok}");
        }
        for refused in [
            "SELECT * FROM other.autogen.cpu",
            "SELECT * FROM (SELECT * FROM other..cpu)",
            "SHOW MEASUREMENTS ON other",
            "SHOW DATABASES",
            "SHOW USERS",
            "SHOW SUBSCRIPTIONS",
            "SHOW DIAGNOSTICS",
            "DROP DATABASE telegraf",
            "SELECT * INTO copy FROM cpu",
        ] {
            assert!(check(&scoped, refused).is_err(), "{refused}");
        }
        let everywhere = reader(None);
        assert!(check(&everywhere, "SELECT * FROM other.autogen.cpu").is_ok());
        assert!(check(&everywhere, "SHOW DATABASES").is_ok());
        assert!(check(&everywhere, "SHOW USERS").is_err());
        let writer = Principal {
            can_read: false,
            can_write: true,
            ..reader(Some("telegraf"))
        };
        assert!(check(&writer, "SELECT * FROM cpu").is_err());
        let admin = Principal {
            admin: true,
            ..reader(None)
        };
        assert!(check(&admin, "SHOW SUBSCRIPTIONS").is_ok());
        assert!(
            check(&admin, "CREATE DATABASE x").is_err(),
            "changes go to the engine directly"
        );
    }
}
