//! The "tigk health" dashboard: the server's own metrics, which it records into the
//! `_internal` database (see the tigk binary's self-monitoring). Counters there are
//! cumulative, so their panels use the rate transform.

use super::{Dashboard, FORMAT_VERSION, Panel, PanelKind, builder, panel};
use crate::query::Transform;
use crate::units::Unit;

/// The self-monitoring database, as InfluxDB names it.
pub const INTERNAL_DB: &str = "_internal";

fn internal(
    title: &str,
    kind: PanelKind,
    (measurement, field, aggregate): (&str, &str, &str),
    group_by: &[&str],
    unit: Unit,
) -> Panel {
    let mut p = panel(
        title,
        kind,
        builder(measurement, field, aggregate, group_by),
        unit,
    );
    p.database = Some(INTERNAL_DB.into());
    p
}

fn rate(mut p: Panel) -> Panel {
    p.transform = Transform::Rate;
    p
}

pub fn tigk_health() -> Dashboard {
    use PanelKind::{Stat, Table, Timeseries};
    let ts = Timeseries;
    let mut queue = internal(
        "Write queue depth",
        ts,
        ("write", "queueDepth", "max"),
        &[],
        Unit::Short,
    );
    // At the configured capacity (64 by default) writes are refused with 503.
    queue.warn = Some(32.0);
    let mut p99 = internal(
        "Query latency (p99)",
        ts,
        ("queryExecutor", "recentP99Seconds", "max"),
        &[],
        Unit::Seconds,
    );
    (p99.warn, p99.crit) = (Some(1.0), Some(10.0));
    let mut pending = internal(
        "Alert deliveries waiting",
        ts,
        ("alerter", "deliveriesPending", "max"),
        &[],
        Unit::Short,
    );
    pending.warn = Some(100.0);
    Dashboard {
        tigk_dashboard: FORMAT_VERSION,
        uid: "tigk-health".into(),
        title: "tigk health".into(),
        panels: vec![
            rate(internal(
                "Points written /s",
                ts,
                ("write", "pointsWritten", "max"),
                &[],
                Unit::Short,
            )),
            rate(internal(
                "Values written /s",
                ts,
                ("write", "valuesWritten", "max"),
                &[],
                Unit::Short,
            )),
            rate(internal(
                "Points rejected /s",
                ts,
                ("httpd", "pointsWrittenDropped", "max"),
                &[],
                Unit::Short,
            )),
            rate(internal(
                "Write requests /s",
                ts,
                ("httpd", "writeReq", "max"),
                &[],
                Unit::Short,
            )),
            queue,
            rate(internal(
                "Queries /s",
                ts,
                ("httpd", "queryReq", "max"),
                &[],
                Unit::Short,
            )),
            p99,
            internal(
                "Memory (resident)",
                ts,
                ("runtime", "rssBytes", "max"),
                &[],
                Unit::Bytes,
            ),
            internal(
                "Disk used",
                Stat,
                ("store", "diskBytes", "last"),
                &[],
                Unit::Bytes,
            ),
            internal(
                "Series by database",
                Table,
                ("database", "numSeries", "last"),
                &["database"],
                Unit::Short,
            ),
            internal(
                "Alerts triggered by task",
                Table,
                ("task", "alertsTriggered", "last"),
                &["task"],
                Unit::Short,
            ),
            pending,
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_dashboard_is_valid_and_reads_internal() {
        let d = tigk_health();
        d.validate().expect("valid");
        assert!(
            d.panels
                .iter()
                .all(|p| p.database.as_deref() == Some(INTERNAL_DB))
        );
        let json = serde_json::to_string(&d).expect("json");
        let back: Dashboard = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, d);
    }
}
