//! The client behind the UI's and the batch tasks' query boundaries.

use tsdb::query::SeriesResult;

use crate::{Client, Error};

/// The remote engine as [`ui::DataSource`] and [`alerter::batch::BatchSource`].
#[derive(Clone)]
pub struct RemoteSource {
    client: Client,
}

impl RemoteSource {
    pub fn new(client: Client) -> RemoteSource {
        RemoteSource { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One statement on the blocking pool.
    async fn run(&self, db: &str, rp: &str, q: &str) -> Result<Vec<SeriesResult>, Error> {
        let (client, db, rp, q) = (
            self.client.clone(),
            db.to_string(),
            rp.to_string(),
            q.to_string(),
        );
        tokio::task::spawn_blocking(move || client.query_one(&db, &rp, &q))
            .await
            .map_err(|e| Error::Unavailable(format!("the query was cancelled: {e}")))?
    }
}

/// Pages only read: the embedded source refuses anything else, and so does this one, whatever
/// the remote user may do (give tigk a read-only user all the same).
fn ensure_read_only(q: &str) -> Result<(), String> {
    let parsed = influxql::parse_query(q).map_err(|e| e.to_string())?;
    for s in &parsed.statements {
        let ok = match s {
            influxql::Statement::Select(sel) => sel.into.is_none(),
            other => !other.requires_write(),
        };
        if !ok {
            return Err("only SELECT and SHOW queries can be used here".into());
        }
    }
    Ok(())
}

impl ui::DataSource for RemoteSource {
    fn query<'a>(
        &'a self,
        db: &'a str,
        q: &'a str,
    ) -> ui::BoxFuture<'a, Result<Vec<SeriesResult>, ui::UiError>> {
        Box::pin(async move {
            ensure_read_only(q).map_err(ui::UiError::Query)?;
            self.run(db, "", q)
                .await
                .map_err(|e| ui::UiError::Query(e.to_string()))
        })
    }
}

impl alerter::batch::BatchSource for RemoteSource {
    /// `now` is not sent: 1.x has no parameter for `now()`, and the queries batch nodes
    /// build carry absolute time bounds.
    fn query<'a>(
        &'a self,
        db: &'a str,
        rp: &'a str,
        query: &'a str,
        _now: i64,
    ) -> alerter::batch::BoxFuture<'a, Result<Vec<SeriesResult>, alerter::Error>> {
        Box::pin(async move {
            self.run(db, rp, query)
                .await
                .map_err(|e| alerter::Error::Query(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_may_only_read() {
        assert!(ensure_read_only("SELECT mean(usage_idle) FROM cpu; SHOW DATABASES").is_ok());
        for q in [
            "DROP DATABASE telegraf",
            "SELECT * INTO other FROM cpu",
            "SHOW DATABASES; DELETE FROM cpu",
            "CREATE USER x WITH PASSWORD 'y'",
        ] {
            assert!(ensure_read_only(q).is_err(), "{q} was let through");
        }
        assert!(ensure_read_only("SELEC").is_err());
    }
}
