//! Statements other than SELECT: SHOW, CREATE, DROP, DELETE, users.

use std::collections::{BTreeMap, BTreeSet};

use influxql::{MeasurementName, Source, Statement, TagKeyFilter};

use super::{Cell, QueryContext, QueryError, SeriesResult, cond};
use crate::Store;
use crate::storage::catalog::shard_duration_for;
use crate::storage::{Catalog, MeasurementId, RpId};

/// Runs one non-SELECT statement.
pub async fn execute(
    store: &Store,
    stmt: &Statement,
    ctx: &QueryContext,
) -> Result<Vec<SeriesResult>, QueryError> {
    let p = &ctx.principal;
    match stmt {
        Statement::ShowDatabases => {
            let cat = store.catalog();
            let mut dbs: Vec<_> = cat
                .databases
                .values()
                .filter(|d| p.authorize_read(&d.name).is_ok())
                .collect();
            dbs.sort_by_key(|d| d.id); // creation order, as 1.x lists them
            Ok(vec![single(
                "databases",
                &["name"],
                dbs.iter().map(|d| vec![s(&d.name)]).collect(),
            )])
        }
        Statement::CreateDatabase {
            name,
            retention_policy,
        } => {
            p.authorize_admin().map_err(auth)?;
            store.create_database(name).await?;
            if let Some(rp) = retention_policy {
                let rp_name = rp
                    .name
                    .clone()
                    .unwrap_or_else(|| crate::storage::catalog::AUTOGEN.to_string());
                let duration = rp.duration.unwrap_or(0);
                let shard = rp
                    .shard_duration
                    .filter(|d| *d > 0)
                    .unwrap_or_else(|| shard_duration_for(duration));
                if rp_name == crate::storage::catalog::AUTOGEN {
                    store
                        .alter_retention_policy(name, &rp_name, Some(duration), true)
                        .await?;
                } else {
                    store
                        .create_retention_policy(
                            name,
                            &rp_name,
                            duration,
                            shard,
                            i64::from(rp.replication.unwrap_or(1)),
                            true,
                        )
                        .await?;
                }
            }
            Ok(vec![])
        }
        Statement::DropDatabase { name } => {
            p.authorize_admin().map_err(auth)?;
            store.drop_database(name).await?;
            Ok(vec![])
        }
        Statement::ShowRetentionPolicies { database } => {
            let db = database_of(database.as_deref(), ctx)?;
            p.authorize_read(&db).map_err(auth)?;
            let cat = store.catalog();
            let database = cat.database(&db)?;
            let mut rps: Vec<_> = database.rps.values().collect();
            rps.sort_by_key(|rp| rp.id);
            let rows = rps
                .iter()
                .map(|rp| {
                    vec![
                        s(&rp.name),
                        s(&influxql::format_go_duration(rp.duration_ns)),
                        s(&influxql::format_go_duration(rp.shard_duration_ns)),
                        Cell::Integer(rp.replication),
                        Cell::Boolean(rp.name == database.default_rp),
                    ]
                })
                .collect();
            Ok(vec![SeriesResult {
                name: None,
                tags: None,
                columns: cols(&[
                    "name",
                    "duration",
                    "shardGroupDuration",
                    "replicaN",
                    "default",
                ]),
                values: rows,
            }])
        }
        Statement::CreateRetentionPolicy {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        } => {
            p.authorize_admin().map_err(auth)?;
            if *duration != 0 && *duration < 3_600_000_000_000 {
                return Err(QueryError::new(
                    "retention policy duration must be at least 1h0m0s",
                ));
            }
            let shard = if *shard_duration > 0 {
                *shard_duration
            } else {
                shard_duration_for(*duration)
            };
            store
                .create_retention_policy(
                    database,
                    name,
                    *duration,
                    shard,
                    i64::from(*replication),
                    *default,
                )
                .await?;
            Ok(vec![])
        }
        Statement::AlterRetentionPolicy {
            name,
            database,
            duration,
            default,
            ..
        } => {
            p.authorize_admin().map_err(auth)?;
            store
                .alter_retention_policy(database, name, *duration, *default)
                .await?;
            Ok(vec![])
        }
        Statement::DropRetentionPolicy { name, database } => {
            p.authorize_admin().map_err(auth)?;
            store.drop_retention_policy(database, name).await?;
            Ok(vec![])
        }
        Statement::ShowMeasurements {
            database,
            with_measurement,
            condition,
            limit,
            offset,
            ..
        } => {
            let filter = tag_filter(condition, ctx)?;
            let (cat, rps) = index_scope(store, database.as_deref(), ctx)?;
            let matcher = with_measurement
                .as_ref()
                .map(|m| NameMatcher::new(&m.name))
                .transpose()?;
            let mut names: BTreeSet<&str> = BTreeSet::new();
            for m in rps.iter().flat_map(|&rp| cat.measurements_of(rp)) {
                if matcher.as_ref().is_some_and(|mm| !mm.matches(&m.name)) {
                    continue;
                }
                if !cond::matching_series(&cat, m, filter.as_ref())?.is_empty() {
                    names.insert(m.name.as_str());
                }
            }
            let rows: Vec<Vec<Cell>> = page(names.into_iter(), *limit, *offset)
                .map(|n| vec![s(n)])
                .collect();
            Ok(if rows.is_empty() {
                vec![]
            } else {
                vec![single("measurements", &["name"], rows)]
            })
        }
        Statement::ShowTagKeys {
            database,
            sources,
            condition,
            limit,
            offset,
            ..
        } => {
            let filter = tag_filter(condition, ctx)?;
            let (cat, rps) = index_scope(store, database.as_deref(), ctx)?;
            let mut out = Vec::new();
            for (name, ms) in measurements_by_name(&cat, &rps, sources)? {
                let mut keys: BTreeSet<&str> = BTreeSet::new();
                for m in ms {
                    if filter.is_some() {
                        keys.extend(
                            cond::matching_series(&cat, m, filter.as_ref())?
                                .iter()
                                .filter_map(|id| cat.series.get(id))
                                .flat_map(|series| series.tags.iter().map(|(k, _)| &**k)),
                        );
                    } else {
                        keys.extend(m.tags.keys().map(|k| &**k));
                    }
                }
                let rows: Vec<Vec<Cell>> = page(keys.into_iter(), *limit, *offset)
                    .map(|k| vec![s(k)])
                    .collect();
                if !rows.is_empty() {
                    out.push(single(name, &["tagKey"], rows));
                }
            }
            Ok(out)
        }
        Statement::ShowTagValues {
            database,
            sources,
            key,
            condition,
            limit,
            offset,
            ..
        } => {
            let filter = tag_filter(condition, ctx)?;
            let (cat, rps) = index_scope(store, database.as_deref(), ctx)?;
            let key_matcher = KeyMatcher::new(key)?;
            let mut out = Vec::new();
            for (name, ms) in measurements_by_name(&cat, &rps, sources)? {
                let mut pairs: BTreeSet<(&str, &str)> = BTreeSet::new();
                for m in ms {
                    if filter.is_some() {
                        pairs.extend(
                            cond::matching_series(&cat, m, filter.as_ref())?
                                .iter()
                                .filter_map(|id| cat.series.get(id))
                                .flat_map(|series| series.tags.iter())
                                .filter(|(k, _)| key_matcher.matches(k))
                                .map(|(k, v)| (&**k, &**v)),
                        );
                    } else {
                        pairs.extend(
                            m.tags
                                .iter()
                                .filter(|(k, _)| key_matcher.matches(k))
                                .flat_map(|(k, values)| values.keys().map(move |v| (&**k, &**v))),
                        );
                    }
                }
                let rows: Vec<Vec<Cell>> = page(pairs.into_iter(), *limit, *offset)
                    .map(|(k, v)| vec![s(k), s(v)])
                    .collect();
                if !rows.is_empty() {
                    out.push(single(name, &["key", "value"], rows));
                }
            }
            Ok(out)
        }
        Statement::ShowFieldKeys {
            database,
            sources,
            limit,
            offset,
            ..
        } => {
            let (cat, rp_id) = read_scope(store, database.as_deref(), ctx)?;
            // Field keys belong to one policy: the FROM's (`short.disk`) or the default.
            let mut mids: BTreeSet<MeasurementId> = BTreeSet::new();
            if sources.is_empty() {
                mids.extend(measurements(&cat, rp_id, sources)?);
            }
            for src in sources {
                let rp = match src {
                    Source::Measurement(m) => match m.retention_policy.as_deref() {
                        Some(name) if !name.is_empty() => {
                            let db = database_of(database.as_deref(), ctx)?;
                            match cat.database(&db)?.rps.get(name) {
                                Some(rp) => rp.id,
                                None => continue,
                            }
                        }
                        _ => rp_id,
                    },
                    Source::SubQuery(_) => rp_id,
                };
                mids.extend(measurements(&cat, rp, std::slice::from_ref(src))?);
            }
            let mut by_name: Vec<&crate::storage::Measurement> = mids
                .iter()
                .filter_map(|id| cat.measurements.get(id))
                .collect();
            by_name.sort_by(|a, b| a.name.cmp(&b.name));
            let mut out = Vec::new();
            for m in by_name {
                let rows: Vec<Vec<Cell>> = page(m.fields.iter(), *limit, *offset)
                    .map(|(k, f)| vec![s(k), s(f.field_type.as_str())])
                    .collect();
                if !rows.is_empty() {
                    out.push(single(&m.name, &["fieldKey", "fieldType"], rows));
                }
            }
            Ok(out)
        }
        Statement::ShowSeries {
            database,
            sources,
            condition,
            limit,
            offset,
            ..
        } => {
            let filter = tag_filter(condition, ctx)?;
            let (cat, rps) = index_scope(store, database.as_deref(), ctx)?;
            let mut keys: Vec<&str> = Vec::new();
            for m in measurements_by_name(&cat, &rps, sources)?
                .into_values()
                .flatten()
            {
                let ids = cond::matching_series(&cat, m, filter.as_ref())?;
                keys.extend(
                    ids.iter()
                        .filter_map(|id| cat.series.get(id))
                        .map(|s| &*s.key),
                );
            }
            keys.sort_unstable();
            // A series key written to two policies is one series of the database's index.
            keys.dedup();
            let rows: Vec<Vec<Cell>> = page(keys.into_iter(), *limit, *offset)
                .map(|k| vec![s(k)])
                .collect();
            Ok(if rows.is_empty() {
                vec![]
            } else {
                vec![SeriesResult {
                    name: None,
                    tags: None,
                    columns: cols(&["key"]),
                    values: rows,
                }]
            })
        }
        Statement::DropMeasurement { name } => {
            let db = database_of(None, ctx)?;
            p.authorize_write(&db).map_err(auth)?;
            let ids: Vec<MeasurementId> = {
                let cat = store.catalog();
                let database = cat.database(&db)?;
                database
                    .rps
                    .values()
                    .filter_map(|rp| cat.measurement_id(rp.id, name))
                    .collect()
            };
            if ids.is_empty() {
                return Err(QueryError::new("measurement not found"));
            }
            for id in ids {
                store.drop_measurement(id).await?;
            }
            Ok(vec![])
        }
        Statement::DropSeries { sources, condition } => {
            let c = cond::split(condition.as_ref(), ctx.now)?;
            if c.has_lower_bound() || c.has_upper_bound() {
                return Err(QueryError::new(
                    "DROP SERIES doesn't support time in WHERE clause",
                ));
            }
            let db = database_of(None, ctx)?;
            p.authorize_write(&db).map_err(auth)?;
            let ids = series_in(store, &db, sources, c.filter.as_ref())?;
            store.drop_series(ids).await?;
            Ok(vec![])
        }
        Statement::Delete { sources, condition } => {
            let c = cond::split(condition.as_ref(), ctx.now)?;
            let db = database_of(None, ctx)?;
            p.authorize_write(&db).map_err(auth)?;
            let ids = series_in(store, &db, sources, c.filter.as_ref())?;
            // As in 1.x: without a time range DELETE removes the series outright.
            if c.has_lower_bound() || c.has_upper_bound() {
                store.delete_range(ids, c.min_time, c.max_time).await?;
            } else {
                store.drop_series(ids).await?;
            }
            Ok(vec![])
        }
        Statement::ShowUsers => {
            p.authorize_admin().map_err(auth)?;
            let dir = store.dir().to_path_buf();
            let users = tokio::task::spawn_blocking(
                move || -> Result<Vec<(String, bool)>, crate::Error> {
                    let conn = crate::storage::admin_connection(&dir)?;
                    Ok(crate::auth::list_users(&conn)?)
                },
            )
            .await
            .map_err(|_| QueryError::new("query failed"))??;
            Ok(vec![SeriesResult {
                name: None,
                tags: None,
                columns: cols(&["user", "admin"]),
                values: users
                    .into_iter()
                    .map(|(u, a)| vec![s(&u), Cell::Boolean(a)])
                    .collect(),
            }])
        }
        Statement::CreateUser {
            name,
            password,
            admin,
        } => {
            let (name, password, admin) = (name.clone(), password.clone(), *admin);
            // The first admin may be created without credentials, as in 1.x.
            let dir = store.dir().to_path_buf();
            let principal = p.clone();
            tokio::task::spawn_blocking(move || -> Result<(), QueryError> {
                let conn = crate::storage::admin_connection(&dir)?;
                let first = !crate::auth::has_admin(&conn).map_err(auth)?;
                if !(first && admin) {
                    principal.authorize_admin().map_err(auth)?;
                }
                crate::auth::create_user(&conn, &name, &password, admin).map_err(auth)
            })
            .await
            .map_err(|_| QueryError::new("query failed"))??;
            Ok(vec![])
        }
        Statement::SetPassword { name, password } => {
            p.authorize_admin().map_err(auth)?;
            let (name, password, dir) = (name.clone(), password.clone(), store.dir().to_path_buf());
            tokio::task::spawn_blocking(move || -> Result<(), QueryError> {
                let conn = crate::storage::admin_connection(&dir)?;
                crate::auth::set_password(&conn, &name, &password).map_err(auth)
            })
            .await
            .map_err(|_| QueryError::new("query failed"))??;
            Ok(vec![])
        }
        Statement::DropUser { name } => {
            p.authorize_admin().map_err(auth)?;
            let (name, dir) = (name.clone(), store.dir().to_path_buf());
            tokio::task::spawn_blocking(move || -> Result<(), QueryError> {
                let conn = crate::storage::admin_connection(&dir)?;
                crate::auth::drop_user(&conn, &name).map_err(auth)
            })
            .await
            .map_err(|_| QueryError::new("query failed"))??;
            Ok(vec![])
        }
        // Nothing to report: no continuous queries, subscriptions or shards of the 1.x kind.
        Statement::ShowContinuousQueries
        | Statement::ShowSubscriptions
        | Statement::ShowQueries => Ok(vec![]),
        other => Err(QueryError::new(format!(
            "statement is not supported by tigk: {other}"
        ))),
    }
}

fn auth(e: crate::auth::AuthError) -> QueryError {
    QueryError::new(e.to_string())
}

fn s(v: &str) -> Cell {
    Cell::String(v.to_string())
}

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|c| c.to_string()).collect()
}

fn single(name: &str, columns: &[&str], values: Vec<Vec<Cell>>) -> SeriesResult {
    SeriesResult {
        name: Some(name.to_string()),
        tags: None,
        columns: cols(columns),
        values,
    }
}

fn page<T>(it: impl Iterator<Item = T>, limit: u64, offset: u64) -> impl Iterator<Item = T> {
    let take = if limit == 0 {
        usize::MAX
    } else {
        limit as usize
    };
    it.skip(offset as usize).take(take)
}

/// 1.x: shard group duration follows the retention duration.
fn database_of(explicit: Option<&str>, ctx: &QueryContext) -> Result<String, QueryError> {
    explicit
        .map(str::to_string)
        .or_else(|| ctx.database.clone())
        .ok_or_else(|| QueryError::new("database name required"))
}

/// What every SHOW over one database needs: the database (`ON db` or the `db` parameter)
/// checked for read access, the catalog, and the retention policy (`rp` or the default).
fn read_scope<'a>(
    store: &'a Store,
    database: Option<&str>,
    ctx: &QueryContext,
) -> Result<(std::sync::RwLockReadGuard<'a, Catalog>, RpId), QueryError> {
    let db = database_of(database, ctx)?;
    ctx.principal.authorize_read(&db).map_err(auth)?;
    let cat = store.catalog();
    let rp_id = cat
        .retention_policy(&db, ctx.retention_policy.as_deref())?
        .1
        .id;
    Ok((cat, rp_id))
}

/// [`read_scope`] for the SHOW statements that read 1.x's per-database index (MEASUREMENTS,
/// TAG KEYS, TAG VALUES, SERIES): every retention policy of the database, whatever `rp` or a
/// FROM's policy says. SHOW FIELD KEYS reads one policy.
fn index_scope<'a>(
    store: &'a Store,
    database: Option<&str>,
    ctx: &QueryContext,
) -> Result<(std::sync::RwLockReadGuard<'a, Catalog>, Vec<RpId>), QueryError> {
    let db = database_of(database, ctx)?;
    ctx.principal.authorize_read(&db).map_err(auth)?;
    let cat = store.catalog();
    let rps = cat.database(&db)?.rps.values().map(|rp| rp.id).collect();
    Ok((cat, rps))
}

/// The FROM measurements of every policy in `rps`, grouped by name.
fn measurements_by_name<'c>(
    cat: &'c Catalog,
    rps: &[RpId],
    sources: &[Source],
) -> Result<BTreeMap<&'c str, Vec<&'c crate::storage::Measurement>>, QueryError> {
    let mut out: BTreeMap<&str, Vec<&crate::storage::Measurement>> = BTreeMap::new();
    for &rp in rps {
        for mid in measurements(cat, rp, sources)? {
            if let Some(m) = cat.measurements.get(&mid) {
                out.entry(m.name.as_str()).or_default().push(m);
            }
        }
    }
    Ok(out)
}

/// The tag part of a SHOW statement's WHERE (1.x ignores time there).
fn tag_filter(
    condition: &Option<influxql::Expr>,
    ctx: &QueryContext,
) -> Result<Option<influxql::Expr>, QueryError> {
    Ok(cond::split(condition.as_ref(), ctx.now)?.filter)
}

/// Series of every retention policy of `db` in the FROM measurements that match `filter`.
fn series_in(
    store: &Store,
    db: &str,
    sources: &[Source],
    filter: Option<&influxql::Expr>,
) -> Result<Vec<crate::storage::SeriesId>, QueryError> {
    let cat = store.catalog();
    let mut ids = Vec::new();
    for rp in cat.database(db)?.rps.values() {
        for mid in measurements(&cat, rp.id, sources)? {
            ids.extend(cond::matching_series(
                &cat,
                &cat.measurements[&mid],
                filter,
            )?);
        }
    }
    Ok(ids)
}

/// Measurement ids named by FROM (all of the policy's when empty).
fn measurements(
    cat: &Catalog,
    rp_id: RpId,
    sources: &[Source],
) -> Result<Vec<MeasurementId>, QueryError> {
    let mut by_name: BTreeMap<&str, MeasurementId> = BTreeMap::new();
    let all: Vec<_> = cat.measurements_of(rp_id).collect();
    if sources.is_empty() {
        for m in &all {
            by_name.insert(&m.name, m.id);
        }
    }
    for src in sources {
        let Source::Measurement(m) = src else {
            return Err(QueryError::new("subqueries are not allowed here"));
        };
        let matcher = NameMatcher::new(&m.name)?;
        for candidate in &all {
            if matcher.matches(&candidate.name) {
                by_name.insert(&candidate.name, candidate.id);
            }
        }
    }
    Ok(by_name.into_values().collect())
}

enum NameMatcher {
    Exact(String),
    Regex(regex::Regex),
}

impl NameMatcher {
    fn new(name: &MeasurementName) -> Result<Self, QueryError> {
        Ok(match name {
            MeasurementName::Name(n) => NameMatcher::Exact(n.clone()),
            MeasurementName::Regex(r) => NameMatcher::Regex(compile(&r.0)?),
        })
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            NameMatcher::Exact(n) => n == name,
            NameMatcher::Regex(r) => r.is_match(name),
        }
    }
}

enum KeyMatcher {
    Eq(String),
    NotEq(String),
    Regex(regex::Regex, bool),
    In(Vec<String>),
}

impl KeyMatcher {
    fn new(f: &TagKeyFilter) -> Result<Self, QueryError> {
        Ok(match f {
            TagKeyFilter::Eq(k) => KeyMatcher::Eq(k.clone()),
            TagKeyFilter::NotEq(k) => KeyMatcher::NotEq(k.clone()),
            TagKeyFilter::EqRegex(r) => KeyMatcher::Regex(compile(&r.0)?, true),
            TagKeyFilter::NotEqRegex(r) => KeyMatcher::Regex(compile(&r.0)?, false),
            TagKeyFilter::In(ks) => KeyMatcher::In(ks.clone()),
        })
    }

    fn matches(&self, key: &str) -> bool {
        match self {
            KeyMatcher::Eq(k) => k == key,
            KeyMatcher::NotEq(k) => k != key,
            KeyMatcher::Regex(r, want) => r.is_match(key) == *want,
            KeyMatcher::In(ks) => ks.iter().any(|k| k == key),
        }
    }
}

/// Regexes from queries are bounded in size so a hostile pattern cannot eat memory.
pub fn compile(pattern: &str) -> Result<regex::Regex, QueryError> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| QueryError::new(format!("invalid regex: {e}")))
}
