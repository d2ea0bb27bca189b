//! InfluxQL the UI writes: the panel query builder, macros in raw queries, and turning
//! results into chart series.
//!
//! Every name and value from a user goes through influxql's own quoting (`quote_ident`,
//! `quote_string`), and every built query is parsed back before it runs, so nothing typed
//! into a form can end a string or add a statement.

use serde::{Deserialize, Serialize};
use tsdb::query::{Cell, SeriesResult};

use crate::chart::Series;
use crate::error::{Result, UiError};

/// Refuses anything but reading: SELECT without INTO, SHOW and EXPLAIN.
pub fn ensure_read_only(q: &influxql::Query) -> Result<()> {
    use influxql::Statement;
    for s in &q.statements {
        let ok = match s {
            Statement::Select(sel) => sel.into.is_none(),
            other => !other.requires_write(),
        };
        if !ok {
            return Err(UiError::BadRequest(
                "only SELECT and SHOW queries can be used here".into(),
            ));
        }
    }
    Ok(())
}

pub const AGGREGATES: &[&str] = &[
    "mean", "median", "max", "min", "sum", "count", "first", "last", "spread", "stddev",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TagOp {
    #[default]
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagFilter {
    pub key: String,
    #[serde(default)]
    pub op: TagOp,
    pub value: String,
}

/// What the panel editor's form describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Builder {
    pub measurement: String,
    pub field: String,
    /// One of [`AGGREGATES`]; empty for raw points.
    #[serde(default)]
    pub aggregate: String,
    #[serde(default)]
    pub filters: Vec<TagFilter>,
    #[serde(default)]
    pub group_by: Vec<String>,
}

/// A name from a form: non-empty, bounded, printable. Quoting makes any such name safe;
/// this just keeps nonsense out of saved dashboards.
pub fn check_name(what: &str, s: &str) -> Result<()> {
    if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
        return Err(UiError::BadRequest(format!(
            "{what} must be 1 to 256 printable characters"
        )));
    }
    Ok(())
}

impl Builder {
    pub fn validate(&self) -> Result<()> {
        check_name("the measurement", &self.measurement)?;
        check_name("the field", &self.field)?;
        if !self.aggregate.is_empty() && !AGGREGATES.contains(&self.aggregate.as_str()) {
            return Err(UiError::BadRequest(format!(
                "unknown aggregate {:?}",
                self.aggregate
            )));
        }
        for f in &self.filters {
            check_name("a tag key", &f.key)?;
            if f.value.len() > 1024 || f.value.chars().any(char::is_control) {
                return Err(UiError::BadRequest("a tag value is too long".into()));
            }
        }
        for g in &self.group_by {
            check_name("a group-by tag", g)?;
        }
        Ok(())
    }

    /// The SELECT for `from..to`. An aggregate is bucketed by `interval_ns`, or taken over
    /// the whole range when it is `None` (one row per group, for tables).
    pub fn to_influxql(
        &self,
        from_ns: i64,
        to_ns: i64,
        interval_ns: Option<i64>,
    ) -> Result<String> {
        self.validate()?;
        use influxql::{quote_ident, quote_string};
        let field = quote_ident(&self.field);
        let column = if self.aggregate.is_empty() {
            field
        } else {
            format!(
                "{}({field}) AS {}",
                self.aggregate,
                quote_ident(&self.field)
            )
        };
        let mut q = format!(
            "SELECT {column} FROM {} WHERE {}",
            quote_ident(&self.measurement),
            time_filter(from_ns, to_ns)
        );
        for f in &self.filters {
            let op = match f.op {
                TagOp::Eq => "=",
                TagOp::Ne => "!=",
            };
            q.push_str(&format!(
                " AND {} {op} {}",
                quote_ident(&f.key),
                quote_string(&f.value)
            ));
        }
        let mut groups: Vec<String> = Vec::new();
        let bucketed = !self.aggregate.is_empty() && interval_ns.is_some();
        if let Some(i) = interval_ns.filter(|_| bucketed) {
            groups.push(format!("time({})", influxql::format_duration(i)));
        }
        groups.extend(self.group_by.iter().map(|g| quote_ident(g)));
        if !groups.is_empty() {
            q.push_str(" GROUP BY ");
            q.push_str(&groups.join(", "));
        }
        if bucketed {
            q.push_str(" fill(null)");
        }
        check_single_select(&q)?;
        Ok(q)
    }
}

/// `time >= …ns AND time < …ns` with absolute nanosecond literals.
pub fn time_filter(from_ns: i64, to_ns: i64) -> String {
    format!("time >= {from_ns} AND time < {to_ns}")
}

/// Parses `q` and insists on exactly one read-only statement.
pub fn check_single_select(q: &str) -> Result<()> {
    let parsed = influxql::parse_query(q).map_err(|e| UiError::BadRequest(e.to_string()))?;
    if parsed.statements.len() != 1 {
        return Err(UiError::BadRequest(
            "a panel runs exactly one statement".into(),
        ));
    }
    ensure_read_only(&parsed)
}

/// Replaces Grafana-style macros in a raw query: `$timeFilter`, `$__interval`.
pub fn expand_macros(raw: &str, from_ns: i64, to_ns: i64, interval_ns: i64) -> String {
    raw.replace("$timeFilter", &time_filter(from_ns, to_ns))
        .replace("$__interval", &influxql::format_duration(interval_ns))
}

/// A GROUP BY interval giving about one bucket per `points` across the range, rounded up
/// to a familiar step and never under 10 s (the agents' default interval).
pub fn interval_for(span_ns: i64, points: u32) -> i64 {
    const S: i64 = 1_000_000_000;
    // Every step is a multiple of 10 s, the agents' default interval: a 15 s bucket holds
    // one sample, then two, and a rate over bucket maxima zig-zags between 1x and 2x.
    const STEPS: &[i64] = &[
        10 * S,
        30 * S,
        60 * S,
        2 * 60 * S,
        5 * 60 * S,
        10 * 60 * S,
        15 * 60 * S,
        30 * 60 * S,
        3600 * S,
        2 * 3600 * S,
        3 * 3600 * S,
        6 * 3600 * S,
        12 * 3600 * S,
        86_400 * S,
    ];
    let raw = span_ns / i64::from(points.max(1));
    STEPS
        .iter()
        .copied()
        .find(|s| *s >= raw)
        .unwrap_or_else(|| (raw + 86_400 * S - 1) / (86_400 * S) * 86_400 * S)
}

pub fn cell_f64(c: &Cell) -> Option<f64> {
    match c {
        Cell::Float(f) => Some(*f),
        Cell::Integer(i) => Some(*i as f64),
        Cell::Unsigned(u) => Some(*u as f64),
        Cell::Boolean(b) => Some(f64::from(u8::from(*b))),
        Cell::Null | Cell::String(_) | Cell::Time(_) => None,
    }
}

pub fn cell_string(c: &Cell) -> String {
    match c {
        Cell::Null => String::new(),
        Cell::Float(f) => f.to_string(),
        Cell::Integer(i) => i.to_string(),
        Cell::Unsigned(u) => u.to_string(),
        Cell::String(s) => s.clone(),
        Cell::Boolean(b) => b.to_string(),
        Cell::Time(t) => crate::units::format_time(*t),
    }
}

/// How to turn stored values into what a panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    #[default]
    None,
    /// `100 - v`: idle percent into busy percent.
    Complement100,
    /// Per-second increase of a counter, never negative (a reset is a gap, not a dip).
    Rate,
}

impl Transform {
    pub fn apply(self, points: &mut Vec<(i64, Option<f64>)>) {
        match self {
            Transform::None => {}
            Transform::Complement100 => {
                for p in points.iter_mut() {
                    p.1 = p.1.map(|v| 100.0 - v);
                }
            }
            Transform::Rate => {
                let mut prev: Option<(i64, f64)> = None;
                let mut out = Vec::with_capacity(points.len());
                for &(t, v) in points.iter() {
                    let rate = match (prev, v) {
                        (Some((pt, pv)), Some(v)) if t > pt && v >= pv => {
                            Some((v - pv) / ((t - pt) as f64 / 1e9))
                        }
                        _ => None,
                    };
                    if prev.is_some() {
                        out.push((t, rate));
                    }
                    if let Some(v) = v {
                        prev = Some((t, v));
                    }
                }
                *points = out;
            }
        }
    }
}

/// Drops rate points of buckets that end after `to_ns`. With `to = now` the last bucket
/// holds only part of an interval, so the counter's max in it is low and the rate dips at
/// the right edge of every chart (a false "traffic dropped").
pub fn drop_partial_buckets(series: &mut [Series], interval_ns: i64, to_ns: i64) {
    for s in series {
        s.points
            .retain(|(t, _)| t.saturating_add(interval_ns) <= to_ns);
    }
}

/// One chart series per value column of each result series, named after the column and
/// the series' tags (`usage_user`, `usage_idle cpu=cpu0`).
pub fn to_chart_series(results: &[SeriesResult], transform: Transform) -> Vec<Series> {
    let mut out = Vec::new();
    for r in results {
        let Some(time_col) = r.columns.iter().position(|c| c == "time") else {
            continue;
        };
        let tags = r
            .tags
            .as_ref()
            .map(|t| {
                t.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let value_cols = r.columns.len() - 1;
        for (ci, col) in r.columns.iter().enumerate() {
            if ci == time_col {
                continue;
            }
            let mut points: Vec<(i64, Option<f64>)> = r
                .values
                .iter()
                .filter_map(|row| {
                    let t = match row.get(time_col)? {
                        Cell::Time(t) | Cell::Integer(t) => *t,
                        _ => return None,
                    };
                    Some((t, row.get(ci).and_then(cell_f64)))
                })
                .collect();
            transform.apply(&mut points);
            let name = match (tags.is_empty(), value_cols > 1) {
                (true, _) => col.clone(),
                (false, true) => format!("{col} {tags}"),
                (false, false) => tags.clone(),
            };
            out.push(Series { name, points });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_cannot_break_out() {
        let b = Builder {
            measurement: "cpu\" ; DROP DATABASE telegraf; --".into(),
            field: "usage' OR 1=1".into(),
            aggregate: "mean".into(),
            filters: vec![TagFilter {
                key: "host\"".into(),
                op: TagOp::Eq,
                value: "x' OR host = 'y'; DROP DATABASE telegraf".into(),
            }],
            group_by: vec!["cpu\"),(".into()],
        };
        let q = b
            .to_influxql(0, 1_000_000_000, Some(10_000_000_000))
            .expect("builds");
        let parsed = influxql::parse_query(&q).expect("parses");
        assert_eq!(parsed.statements.len(), 1);
        assert!(matches!(
            parsed.statements[0],
            influxql::Statement::Select(_)
        ));
        let printed = parsed.statements[0].to_string();
        assert!(
            printed.contains(&influxql::quote_string(&b.filters[0].value)),
            "{printed}"
        );
    }

    #[test]
    fn the_partial_last_bucket_is_not_a_rate() {
        let mut s = vec![Series {
            name: "recv".into(),
            points: vec![(0, Some(1.0)), (10, Some(2.0)), (20, Some(0.5))],
        }];
        // Buckets of 10 up to 25: the one at 20 covers only half its interval.
        drop_partial_buckets(&mut s, 10, 25);
        assert_eq!(s[0].points, vec![(0, Some(1.0)), (10, Some(2.0))]);
        drop_partial_buckets(&mut s, 10, 20);
        assert_eq!(s[0].points.len(), 2, "a bucket ending at `to` is whole");
    }

    #[test]
    fn builder_output() {
        let b = Builder {
            measurement: "cpu".into(),
            field: "usage_idle".into(),
            aggregate: "mean".into(),
            filters: vec![TagFilter {
                key: "host".into(),
                op: TagOp::Ne,
                value: "a".into(),
            }],
            group_by: vec!["cpu".into()],
        };
        assert_eq!(
            b.to_influxql(1, 2, Some(60_000_000_000)).expect("builds"),
            "SELECT mean(usage_idle) AS usage_idle FROM cpu WHERE time >= 1 AND time < 2 \
             AND host != 'a' GROUP BY time(1m), cpu fill(null)"
        );
        let bad = Builder {
            aggregate: "sum); DROP".into(),
            ..b
        };
        assert!(bad.to_influxql(1, 2, Some(3)).is_err());
    }

    #[test]
    fn writes_are_refused() {
        for q in [
            "DROP DATABASE telegraf",
            "SELECT * INTO other FROM cpu",
            "SELECT * FROM cpu; DROP MEASUREMENT cpu",
            "CREATE USER x WITH PASSWORD 'y'",
        ] {
            let parsed = influxql::parse_query(q).expect("parses");
            assert!(ensure_read_only(&parsed).is_err(), "{q}");
        }
        let ok =
            influxql::parse_query("SHOW TAG VALUES FROM cpu WITH KEY = host; SELECT * FROM cpu")
                .expect("parses");
        assert!(ensure_read_only(&ok).is_ok());
    }

    #[test]
    fn intervals_and_macros() {
        const S: i64 = 1_000_000_000;
        assert_eq!(interval_for(900 * S, 300), 10 * S);
        assert_eq!(interval_for(86_400 * S, 300), 5 * 60 * S);
        assert_eq!(
            expand_macros("WHERE $timeFilter GROUP BY time($__interval)", 5, 9, 60 * S),
            "WHERE time >= 5 AND time < 9 GROUP BY time(1m)"
        );
    }

    #[test]
    fn rate_skips_resets() {
        const S: i64 = 1_000_000_000;
        let mut p = vec![
            (0, Some(100.0)),
            (10 * S, Some(200.0)),
            (20 * S, Some(50.0)),
            (30 * S, None),
            (40 * S, Some(150.0)),
        ];
        Transform::Rate.apply(&mut p);
        assert_eq!(
            p,
            vec![
                (10 * S, Some(10.0)),
                (20 * S, None),
                (30 * S, None),
                (40 * S, Some(5.0))
            ]
        );
    }
}
