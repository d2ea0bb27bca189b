//! InfluxDB subscriptions: the engine copies every write to a database/retention policy to
//! the subscription's destinations, as it does for Kapacitor. tigk registers one per
//! database/retention policy its stream tasks read, pointing at its own `/write`.
//!
//! [`sync`] is idempotent: it creates what is missing, replaces a subscription of tigk's name
//! whose destination changed, drops tigk's subscriptions no task needs any more, and leaves
//! every other subscription alone. Registering needs an admin user on the engine.

use std::collections::BTreeSet;

use influxql::{quote_ident, quote_string};
use tsdb::query::Cell;

use crate::{Client, Error};

/// One row of `SHOW SUBSCRIPTIONS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub db: String,
    pub rp: String,
    pub name: String,
    pub mode: String,
    pub destinations: Vec<String>,
}

/// What [`sync`] did for one database/retention policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Unchanged,
    /// tigk's subscription pointed elsewhere: dropped and created again.
    Replaced,
    /// No stream task reads it any more.
    Dropped,
}

/// What [`sync`] did (or failed to do) per (database, retention policy).
pub type SyncReport = Vec<((String, String), Result<Change, Error>)>;

/// Every subscription on the engine.
pub fn list(client: &Client) -> Result<Vec<Subscription>, Error> {
    let mut out = Vec::new();
    for s in client.query_one("", "", "SHOW SUBSCRIPTIONS")? {
        let db = s.name.clone().unwrap_or_default();
        let col = |name: &str| s.columns.iter().position(|c| c == name);
        let (Some(rp), Some(name), Some(mode), Some(dest)) = (
            col("retention_policy"),
            col("name"),
            col("mode"),
            col("destinations"),
        ) else {
            return Err(Error::Protocol(format!(
                "SHOW SUBSCRIPTIONS columns {:?}",
                s.columns
            )));
        };
        for row in &s.values {
            let text = |i: usize| match row.get(i) {
                Some(Cell::String(t)) => t.clone(),
                _ => String::new(),
            };
            // The client keeps a JSON array it does not expect as its text.
            let destinations = serde_json::from_str::<Vec<String>>(&text(dest))
                .map_err(|e| Error::Protocol(format!("subscription destinations: {e}")))?;
            out.push(Subscription {
                db: db.clone(),
                rp: text(rp),
                name: text(name),
                mode: text(mode),
                destinations,
            });
        }
    }
    Ok(out)
}

/// Makes the subscriptions named `name` exactly one per entry of `wanted` (database,
/// retention policy), each sending to `destination` alone. Errors are per entry (a database
/// that does not exist yet fails until it does), so one bad entry does not stop the others.
pub fn sync(
    client: &Client,
    name: &str,
    destination: &str,
    wanted: &BTreeSet<(String, String)>,
) -> Result<SyncReport, Error> {
    let existing = list(client)?;
    let mut out = Vec::new();
    for (db, rp) in wanted {
        let ours = existing
            .iter()
            .find(|s| &s.db == db && &s.rp == rp && s.name == name);
        let result = match ours {
            Some(s) if s.destinations == [destination] => Ok(Change::Unchanged),
            Some(_) => drop_one(client, name, db, rp)
                .and_then(|()| create(client, name, db, rp, destination))
                .map(|()| Change::Replaced),
            None => create(client, name, db, rp, destination).map(|()| Change::Created),
        };
        out.push(((db.clone(), rp.clone()), result));
    }
    for s in existing.iter().filter(|s| s.name == name) {
        let key = (s.db.clone(), s.rp.clone());
        if !wanted.contains(&key) {
            let result = drop_one(client, name, &s.db, &s.rp).map(|()| Change::Dropped);
            out.push((key, result));
        }
    }
    Ok(out)
}

fn create(client: &Client, name: &str, db: &str, rp: &str, dest: &str) -> Result<(), Error> {
    let q = format!(
        "CREATE SUBSCRIPTION {} ON {}.{} DESTINATIONS ANY {}",
        quote_ident(name),
        quote_ident(db),
        quote_ident(rp),
        quote_string(dest)
    );
    client.query_one("", "", &q).map(drop)
}

fn drop_one(client: &Client, name: &str, db: &str, rp: &str) -> Result<(), Error> {
    let q = format!(
        "DROP SUBSCRIPTION {} ON {}.{}",
        quote_ident(name),
        quote_ident(db),
        quote_ident(rp)
    );
    client.query_one("", "", &q).map(drop)
}
