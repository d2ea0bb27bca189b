//! `influxDBOut` on a remote engine: a task's output goes where the UI and the batch tasks
//! read, through the client's failover and credentials.

use common::Point;
use common::line_protocol::write_point;

use crate::Client;

/// The remote engine as the alerter's [`alerter::output::PointOutput`].
#[derive(Clone)]
pub struct RemoteOutput {
    client: Client,
}

impl RemoteOutput {
    pub fn new(client: Client) -> RemoteOutput {
        RemoteOutput { client }
    }
}

impl std::fmt::Debug for RemoteOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteOutput")
            .field("urls", &self.client.urls())
            .finish()
    }
}

/// The points as line protocol; points line protocol cannot carry are left out, as the
/// store leaves them out.
fn lines(points: &[Point]) -> String {
    let mut out = String::new();
    for p in points {
        write_point(&mut out, p);
    }
    out
}

impl alerter::output::PointOutput for RemoteOutput {
    fn write<'a>(
        &'a self,
        db: &'a str,
        rp: &'a str,
        create: bool,
        points: Vec<Point>,
    ) -> alerter::batch::BoxFuture<'a, Result<(), alerter::Error>> {
        Box::pin(async move {
            let body = lines(&points);
            if body.is_empty() {
                return Ok(());
            }
            let (c, d, r) = (self.client.clone(), db.to_string(), rp.to_string());
            tokio::task::spawn_blocking(move || {
                if create {
                    // 1.x's CREATE DATABASE is a no-op for an existing database.
                    let q = format!("CREATE DATABASE {}", influxql::quote_ident(&d));
                    c.query("", "", &q)?;
                }
                c.write(&d, &r, &body)
            })
            .await
            .map_err(|e| alerter::Error::Output(format!("the write was cancelled: {e}")))?
            .map_err(|e| {
                alerter::Error::Output(format!("writing to {db} on the remote engine: {e}"))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::FieldValue;

    #[test]
    fn unwritable_points_are_left_out() {
        let point = |m: &str, v: f64| Point {
            measurement: m.into(),
            tags: vec![("host".into(), "a b".into())],
            fields: vec![("v".into(), FieldValue::Float(v))],
            timestamp: Some(5),
        };
        assert_eq!(
            lines(&[point("cpu", 1.5), point("", 2.0), point("cpu", f64::NAN)]),
            "cpu,host=a\\ b v=1.5 5\n"
        );
    }
}
