//! The catalog: databases, retention policies, measurements, field types and series.
//!
//! SQLite holds the truth; this is an in-memory mirror so that the write path resolves a
//! series key to an id with one hash lookup and queries find series by tag without I/O.
//! Only the writer thread mutates it (under the store's `RwLock`), always together with
//! the SQLite transaction that persists the same change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use common::FieldType;
use rusqlite::Connection;

use crate::{Error, Result};

pub type DbId = i64;
pub type RpId = i64;
pub type MeasurementId = i64;
pub type FieldId = i64;
pub type SeriesId = i64;

/// A series' tags. Keys and values are shared with its measurement's tag index, so a
/// million series of a few tags each hold one copy of every distinct key and value.
pub type SeriesTags = Arc<[(Arc<str>, Arc<str>)]>;

/// Retention policy settings, as `SHOW RETENTION POLICIES` reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionPolicy {
    pub id: RpId,
    pub name: String,
    /// 0 keeps data forever.
    pub duration_ns: i64,
    pub shard_duration_ns: i64,
    pub replication: i64,
}

#[derive(Debug, Clone)]
pub struct Database {
    pub id: DbId,
    pub name: String,
    pub default_rp: String,
    pub rps: BTreeMap<String, RetentionPolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub id: FieldId,
    pub field_type: FieldType,
}

#[derive(Debug, Default)]
pub struct Measurement {
    pub id: MeasurementId,
    pub rp_id: RpId,
    pub name: String,
    pub fields: BTreeMap<String, FieldDef>,
    /// tag key -> tag value -> series ids, for SHOW TAG VALUES and WHERE on tags.
    pub tags: BTreeMap<Arc<str>, BTreeMap<Arc<str>, BTreeSet<SeriesId>>>,
    pub series: BTreeSet<SeriesId>,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub id: SeriesId,
    pub measurement_id: MeasurementId,
    /// The canonical series key, `measurement,k=v,...` with line-protocol escaping.
    pub key: Arc<str>,
    pub tags: SeriesTags,
}

/// The in-memory catalog. See the module docs for who may mutate it.
#[derive(Debug, Default)]
pub struct Catalog {
    pub databases: BTreeMap<String, Database>,
    pub measurements: HashMap<MeasurementId, Measurement>,
    measurement_ids: HashMap<(RpId, String), MeasurementId>,
    pub series: HashMap<SeriesId, Series>,
    series_ids: HashMap<(MeasurementId, Arc<str>), SeriesId>,
    /// field id -> (measurement id, field name), to describe chunks and log entries.
    pub field_owner: HashMap<FieldId, (MeasurementId, String)>,
    series_per_db: HashMap<DbId, usize>,
}

/// The default retention policy every new database gets, as in 1.x.
pub const AUTOGEN: &str = "autogen";
const HOUR_NS: i64 = 3_600_000_000_000;

/// 1.x's shard group duration for a policy of `duration_ns` (0: forever).
pub fn shard_duration_for(duration_ns: i64) -> i64 {
    match duration_ns {
        0 => 168 * HOUR_NS,
        d if d < 2 * 24 * HOUR_NS => HOUR_NS,
        d if d <= 180 * 24 * HOUR_NS => 24 * HOUR_NS,
        _ => 168 * HOUR_NS,
    }
}

impl Catalog {
    /// Reads the whole catalog from SQLite.
    pub fn load(conn: &Connection) -> Result<Catalog> {
        let mut cat = Catalog::default();
        let mut stmt = conn.prepare("SELECT id, name, default_rp FROM databases")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        let mut db_names = HashMap::new();
        for row in rows {
            let (id, name, default_rp): (DbId, String, String) = row?;
            db_names.insert(id, name.clone());
            cat.databases.insert(
                name.clone(),
                Database {
                    id,
                    name,
                    default_rp,
                    rps: BTreeMap::new(),
                },
            );
        }
        let mut stmt = conn.prepare(
            "SELECT id, db_id, name, duration_ns, shard_duration_ns, replication FROM retention_policies",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, DbId>(1)?,
                RetentionPolicy {
                    id: r.get(0)?,
                    name: r.get(2)?,
                    duration_ns: r.get(3)?,
                    shard_duration_ns: r.get(4)?,
                    replication: r.get(5)?,
                },
            ))
        })?;
        for row in rows {
            let (db_id, rp) = row?;
            let db = db_names
                .get(&db_id)
                .and_then(|n| cat.databases.get_mut(n))
                .ok_or_else(|| {
                    Error::corrupt("catalog", format!("rp {} without database", rp.id))
                })?;
            db.rps.insert(rp.name.clone(), rp);
        }
        let mut stmt = conn.prepare("SELECT id, rp_id, name FROM measurements")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        for row in rows {
            let (id, rp_id, name): (MeasurementId, RpId, String) = row?;
            cat.insert_measurement(id, rp_id, name);
        }
        let mut stmt = conn.prepare("SELECT id, measurement_id, name, type FROM fields")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        for row in rows {
            let (id, mid, name, code): (FieldId, MeasurementId, String, u8) = row?;
            let field_type = FieldType::from_code(code).ok_or_else(|| {
                Error::corrupt("catalog", format!("field {id} has type code {code}"))
            })?;
            cat.insert_field(mid, id, name, field_type);
        }
        let mut stmt = conn.prepare("SELECT id, measurement_id, key FROM series")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        for row in rows {
            let (id, mid, key): (SeriesId, MeasurementId, String) = row?;
            let tags = parse_series_tags(&key)?;
            cat.insert_series(id, mid, key.into(), tags);
        }
        Ok(cat)
    }

    pub fn database(&self, name: &str) -> Result<&Database> {
        self.databases
            .get(name)
            .ok_or_else(|| Error::DatabaseNotFound(name.to_string()))
    }

    /// Resolves `db` and an optional `rp` (default: the database's default) to a policy.
    pub fn retention_policy(
        &self,
        db: &str,
        rp: Option<&str>,
    ) -> Result<(&Database, &RetentionPolicy)> {
        let database = self.database(db)?;
        let name = match rp {
            Some(rp) if !rp.is_empty() => rp,
            _ => database.default_rp.as_str(),
        };
        let policy = database
            .rps
            .get(name)
            .ok_or_else(|| Error::RetentionPolicyNotFound(name.to_string()))?;
        Ok((database, policy))
    }

    pub fn measurement_id(&self, rp_id: RpId, name: &str) -> Option<MeasurementId> {
        self.measurement_ids
            .get(&(rp_id, name.to_string()))
            .copied()
    }

    pub fn series_id(&self, measurement_id: MeasurementId, key: &str) -> Option<SeriesId> {
        self.series_ids
            .get(&(measurement_id, Arc::from(key)))
            .copied()
    }

    /// Measurements of one retention policy, by name.
    pub fn measurements_of(&self, rp_id: RpId) -> impl Iterator<Item = &Measurement> {
        self.measurements.values().filter(move |m| m.rp_id == rp_id)
    }

    pub fn series_count(&self, db_id: DbId) -> usize {
        self.series_per_db.get(&db_id).copied().unwrap_or(0)
    }

    pub fn db_of_rp(&self, rp_id: RpId) -> Option<&Database> {
        self.databases
            .values()
            .find(|d| d.rps.values().any(|rp| rp.id == rp_id))
    }

    // --- Mutations: only together with the SQLite statements that persist them. ---

    /// Creates `name` with an `autogen` policy keeping data `duration_ns` (0: forever).
    pub fn create_database(
        &mut self,
        conn: &Connection,
        name: &str,
        duration_ns: i64,
    ) -> Result<()> {
        validate_name(name)?;
        if self.databases.contains_key(name) {
            return Ok(()); // 1.x: CREATE DATABASE is idempotent.
        }
        conn.execute(
            "INSERT INTO databases (name, default_rp) VALUES (?1, ?2)",
            (name, AUTOGEN),
        )?;
        let id = conn.last_insert_rowid();
        self.databases.insert(
            name.to_string(),
            Database {
                id,
                name: name.to_string(),
                default_rp: AUTOGEN.to_string(),
                rps: BTreeMap::new(),
            },
        );
        let shard = shard_duration_for(duration_ns);
        self.create_retention_policy(conn, name, AUTOGEN, duration_ns, shard, 1, true)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_retention_policy(
        &mut self,
        conn: &Connection,
        db: &str,
        name: &str,
        duration_ns: i64,
        shard_duration_ns: i64,
        replication: i64,
        make_default: bool,
    ) -> Result<()> {
        validate_name(name)?;
        let database = self.database(db)?;
        if let Some(existing) = database.rps.get(name) {
            // 1.x accepts re-creating an identical policy and refuses a different one.
            if existing.duration_ns == duration_ns && existing.replication == replication {
                return Ok(());
            }
            return Err(Error::RetentionPolicyExists);
        }
        let db_id = database.id;
        conn.execute(
            "INSERT INTO retention_policies (db_id, name, duration_ns, shard_duration_ns, replication)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            (db_id, name, duration_ns, shard_duration_ns, replication),
        )?;
        let id = conn.last_insert_rowid();
        if make_default {
            conn.execute(
                "UPDATE databases SET default_rp = ?1 WHERE id = ?2",
                (name, db_id),
            )?;
        }
        let database = self
            .databases
            .get_mut(db)
            .ok_or_else(|| Error::DatabaseNotFound(db.into()))?;
        database.rps.insert(
            name.to_string(),
            RetentionPolicy {
                id,
                name: name.to_string(),
                duration_ns,
                shard_duration_ns,
                replication,
            },
        );
        if make_default {
            database.default_rp = name.to_string();
        }
        Ok(())
    }

    /// Returns the ids of the measurements that were removed with the database, so the
    /// caller can drop their data.
    pub fn drop_database(&mut self, conn: &Connection, name: &str) -> Result<Vec<SeriesId>> {
        let Some(db) = self.databases.remove(name) else {
            return Ok(Vec::new()); // 1.x: dropping a missing database is not an error.
        };
        conn.execute("DELETE FROM databases WHERE id = ?1", [db.id])?;
        let rp_ids: Vec<RpId> = db.rps.values().map(|rp| rp.id).collect();
        let mids: Vec<MeasurementId> = self
            .measurements
            .values()
            .filter(|m| rp_ids.contains(&m.rp_id))
            .map(|m| m.id)
            .collect();
        let mut dropped = Vec::new();
        for mid in mids {
            dropped.extend(self.forget_measurement(mid));
        }
        self.series_per_db.remove(&db.id);
        Ok(dropped)
    }

    pub fn drop_retention_policy(
        &mut self,
        conn: &Connection,
        db: &str,
        rp: &str,
    ) -> Result<Vec<SeriesId>> {
        let database = self
            .databases
            .get_mut(db)
            .ok_or_else(|| Error::DatabaseNotFound(db.into()))?;
        let Some(policy) = database.rps.remove(rp) else {
            return Ok(Vec::new());
        };
        conn.execute("DELETE FROM retention_policies WHERE id = ?1", [policy.id])?;
        let db_id = database.id;
        let mids: Vec<MeasurementId> = self.measurements_of(policy.id).map(|m| m.id).collect();
        let mut dropped = Vec::new();
        for mid in mids {
            dropped.extend(self.forget_measurement(mid));
        }
        if let Some(n) = self.series_per_db.get_mut(&db_id) {
            *n = n.saturating_sub(dropped.len());
        }
        Ok(dropped)
    }

    /// Removes a measurement with its series and fields; returns the dropped series.
    pub fn drop_measurement(
        &mut self,
        conn: &Connection,
        mid: MeasurementId,
    ) -> Result<Vec<SeriesId>> {
        conn.execute("DELETE FROM measurements WHERE id = ?1", [mid])?;
        let db_id = self
            .measurements
            .get(&mid)
            .and_then(|m| self.db_of_rp(m.rp_id))
            .map(|d| d.id);
        let dropped = self.forget_measurement(mid);
        if let Some(n) = db_id.and_then(|id| self.series_per_db.get_mut(&id)) {
            *n = n.saturating_sub(dropped.len());
        }
        Ok(dropped)
    }

    /// Removes single series (DROP SERIES). Measurements left without series go too, as in 1.x.
    pub fn drop_series(&mut self, conn: &Connection, ids: &[SeriesId]) -> Result<()> {
        let mut stmt = conn.prepare_cached("DELETE FROM series WHERE id = ?1")?;
        for &id in ids {
            stmt.execute([id])?;
            let Some(series) = self.series.remove(&id) else {
                continue;
            };
            self.series_ids
                .remove(&(series.measurement_id, series.key.clone()));
            let db_id = self
                .measurements
                .get(&series.measurement_id)
                .and_then(|m| self.db_of_rp(m.rp_id))
                .map(|d| d.id);
            if let Some(n) = db_id.and_then(|id| self.series_per_db.get_mut(&id)) {
                *n = n.saturating_sub(1);
            }
            if let Some(m) = self.measurements.get_mut(&series.measurement_id) {
                m.series.remove(&id);
                for (k, v) in series.tags.iter() {
                    if let Some(values) = m.tags.get_mut(k) {
                        if let Some(set) = values.get_mut(v) {
                            set.remove(&id);
                            if set.is_empty() {
                                values.remove(v);
                            }
                        }
                        if values.is_empty() {
                            m.tags.remove(k);
                        }
                    }
                }
            }
        }
        let empty: Vec<MeasurementId> = self
            .measurements
            .values()
            .filter(|m| m.series.is_empty())
            .map(|m| m.id)
            .collect();
        for mid in empty {
            conn.execute("DELETE FROM measurements WHERE id = ?1", [mid])?;
            self.forget_measurement(mid);
        }
        Ok(())
    }

    pub fn ensure_measurement(
        &mut self,
        conn: &Connection,
        rp_id: RpId,
        name: &str,
    ) -> Result<MeasurementId> {
        if let Some(id) = self.measurement_id(rp_id, name) {
            return Ok(id);
        }
        conn.prepare_cached("INSERT INTO measurements (rp_id, name) VALUES (?1, ?2)")?
            .execute((rp_id, name))?;
        let id = conn.last_insert_rowid();
        self.insert_measurement(id, rp_id, name.to_string());
        Ok(id)
    }

    pub fn ensure_field(
        &mut self,
        conn: &Connection,
        mid: MeasurementId,
        name: &str,
        field_type: FieldType,
    ) -> Result<FieldId> {
        let m = self
            .measurements
            .get(&mid)
            .ok_or_else(|| Error::corrupt("catalog", format!("measurement {mid} missing")))?;
        if let Some(def) = m.fields.get(name) {
            if def.field_type != field_type {
                return Err(Error::type_conflict(
                    &m.name,
                    name,
                    field_type,
                    def.field_type,
                ));
            }
            return Ok(def.id);
        }
        conn.prepare_cached("INSERT INTO fields (measurement_id, name, type) VALUES (?1, ?2, ?3)")?
            .execute((mid, name, field_type.code()))?;
        let id = conn.last_insert_rowid();
        self.insert_field(mid, id, name.to_string(), field_type);
        Ok(id)
    }

    pub fn ensure_series(
        &mut self,
        conn: &Connection,
        mid: MeasurementId,
        key: &str,
        tags: impl FnOnce() -> Vec<(String, String)>,
    ) -> Result<SeriesId> {
        if let Some(id) = self.series_id(mid, key) {
            return Ok(id);
        }
        conn.prepare_cached("INSERT INTO series (measurement_id, key) VALUES (?1, ?2)")?
            .execute((mid, key))?;
        let id = conn.last_insert_rowid();
        self.insert_series(id, mid, key.into(), tags());
        Ok(id)
    }

    fn insert_measurement(&mut self, id: MeasurementId, rp_id: RpId, name: String) {
        self.measurement_ids.insert((rp_id, name.clone()), id);
        self.measurements.insert(
            id,
            Measurement {
                id,
                rp_id,
                name,
                ..Measurement::default()
            },
        );
    }

    fn insert_field(
        &mut self,
        mid: MeasurementId,
        id: FieldId,
        name: String,
        field_type: FieldType,
    ) {
        self.field_owner.insert(id, (mid, name.clone()));
        if let Some(m) = self.measurements.get_mut(&mid) {
            m.fields.insert(name, FieldDef { id, field_type });
        }
    }

    fn insert_series(
        &mut self,
        id: SeriesId,
        mid: MeasurementId,
        key: Arc<str>,
        tags: Vec<(String, String)>,
    ) {
        let mut shared: Vec<(Arc<str>, Arc<str>)> = Vec::with_capacity(tags.len());
        let rp_id = match self.measurements.get_mut(&mid) {
            Some(m) => {
                m.series.insert(id);
                for (k, v) in &tags {
                    let key = match m.tags.get_key_value(k.as_str()) {
                        Some((key, _)) => key.clone(),
                        None => Arc::from(k.as_str()),
                    };
                    let values = m.tags.entry(key.clone()).or_default();
                    let value = match values.get_key_value(v.as_str()) {
                        Some((value, _)) => value.clone(),
                        None => Arc::from(v.as_str()),
                    };
                    values.entry(value.clone()).or_default().insert(id);
                    shared.push((key, value));
                }
                Some(m.rp_id)
            }
            None => {
                shared.extend(
                    tags.iter()
                        .map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str()))),
                );
                None
            }
        };
        if let Some(db_id) = rp_id.and_then(|rp| self.db_of_rp(rp)).map(|d| d.id) {
            *self.series_per_db.entry(db_id).or_default() += 1;
        }
        self.series_ids.insert((mid, key.clone()), id);
        self.series.insert(
            id,
            Series {
                id,
                measurement_id: mid,
                key,
                tags: shared.into(),
            },
        );
    }

    fn forget_measurement(&mut self, mid: MeasurementId) -> Vec<SeriesId> {
        let Some(m) = self.measurements.remove(&mid) else {
            return Vec::new();
        };
        self.measurement_ids.remove(&(m.rp_id, m.name.clone()));
        for def in m.fields.values() {
            self.field_owner.remove(&def.id);
        }
        let mut dropped = Vec::with_capacity(m.series.len());
        for id in m.series {
            if let Some(s) = self.series.remove(&id) {
                self.series_ids.remove(&(mid, s.key));
            }
            dropped.push(id);
        }
        dropped
    }
}

/// Names that 1.x accepts are almost anything; we refuse only what cannot be stored or
/// shown unambiguously.
fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 255 || name.chars().any(|c| c.is_control()) {
        return Err(Error::InvalidName(format!("{name:?}")));
    }
    Ok(())
}

/// Splits a canonical series key back into its tags (measurement dropped).
pub fn parse_series_tags(key: &str) -> Result<Vec<(String, String)>> {
    let mut parts = split_unescaped(key, b',');
    parts.next(); // measurement
    let mut tags = Vec::new();
    for part in parts {
        let mut kv = split_unescaped(part, b'=');
        let (Some(k), Some(v), None) = (kv.next(), kv.next(), kv.next()) else {
            return Err(Error::corrupt("series key", key.to_string()));
        };
        tags.push((unescape(k), unescape(v)));
    }
    Ok(tags)
}

fn split_unescaped(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        while i < bytes.len() {
            if bytes[i] == b'\\' && i + 1 < bytes.len() {
                i += 2;
                continue;
            }
            if bytes[i] == sep {
                let part = &s[start..i];
                i += 1;
                start = i;
                return Some(part);
            }
            i += 1;
        }
        done = true;
        Some(&s[start..])
    })
}

fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && matches!(next, ',' | '=' | ' ')
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_tags_round_trip_escapes() {
        let tags = parse_series_tags(r"cpu\,x,host=a\ b,k\=1=v\,2").expect("parse");
        assert_eq!(
            tags,
            vec![("host".into(), "a b".into()), ("k=1".into(), "v,2".into())]
        );
        assert!(parse_series_tags("cpu").expect("no tags").is_empty());
        assert!(parse_series_tags("cpu,broken").is_err());
    }
}
