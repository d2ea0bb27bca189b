//! One panel: its query, its drawing (time series, stat or table), and the editor form.

use serde::{Deserialize, Serialize};
use tsdb::query::{Cell, SeriesResult};

use super::{Panel, PanelKind, PanelQuery};
use crate::chart::{self, ChartSpec, Level, Theme, Threshold};
use crate::error::{Result, UiError};
use crate::hosts::{PANEL_WIDTH, panel_height};
use crate::query::{
    AGGREGATES, Builder, TagFilter, TagOp, Transform, cell_f64, cell_string, drop_partial_buckets,
    expand_macros, interval_for, to_chart_series,
};
use crate::state::{UiState, now_ns};
use crate::timerange::TimeRange;
use crate::units::{Unit, format_value};

const MAX_TABLE_ROWS: usize = 500;

#[derive(Debug, Serialize, Default)]
pub struct TableView {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<CellView>>,
    pub truncated: bool,
}

#[derive(Debug, Serialize)]
pub struct CellView {
    pub text: String,
    pub level: &'static str,
    pub num: bool,
}

/// A drawn panel, ready for the template.
#[derive(Debug, Serialize, Default)]
pub struct PanelView {
    pub index: usize,
    pub title: String,
    pub kind: &'static str,
    /// Our own SVG (chart or sparkline); plotters escaped every text in it.
    pub svg: String,
    pub stat: String,
    pub stat_level: &'static str,
    pub table: Option<TableView>,
    pub error: Option<String>,
    pub query: String,
}

fn level_of(p: &Panel, v: f64) -> &'static str {
    match (p.warn, p.crit) {
        (_, Some(c)) if v >= c => "crit",
        (Some(w), _) if v >= w => "warn",
        _ => "",
    }
}

/// The dashboard variable panels may use, Grafana style: a builder filter whose value is
/// `$host`, or `'$host'` inside a raw query.
pub const HOST_VAR: &str = "$host";

/// The InfluxQL a panel runs for `range`, with `$host` bound to `host`. Without a host,
/// builder filters on `$host` are dropped (all hosts).
/// A builder query with `$host` bound (its filters dropped without a host).
fn bound_builder(b: &Builder, host: Option<&str>) -> Builder {
    let mut b = b.clone();
    b.filters.retain(|f| f.value != HOST_VAR || host.is_some());
    for f in b.filters.iter_mut().filter(|f| f.value == HOST_VAR) {
        f.value = host.unwrap_or_default().to_string();
    }
    b
}

/// The panel's builder when it runs bucketed by time: only then can its range be split
/// for the cache (a raw query may hold anything a split changes).
fn bucketed_builder(p: &Panel, host: Option<&str>) -> Option<Builder> {
    match &p.query {
        PanelQuery::Builder(b) if p.kind != PanelKind::Table && !b.aggregate.is_empty() => {
            Some(bound_builder(b, host))
        }
        _ => None,
    }
}

pub fn query_text(p: &Panel, range: &TimeRange, host: Option<&str>) -> Result<String> {
    let interval = interval_for(range.span(), 300);
    match &p.query {
        PanelQuery::Builder(b) => {
            let b = bound_builder(b, host);
            let bucket = (p.kind != PanelKind::Table).then_some(interval);
            b.to_influxql(range.from_ns, range.to_ns, bucket)
        }
        PanelQuery::Raw { influxql } => {
            let mut q = expand_macros(influxql, range.from_ns, range.to_ns, interval);
            if let Some(h) = host {
                // Escaped as the inside of a string literal, where `'$host'` puts it. The
                // value is also one of the known hosts (checked by the caller) and the
                // result must still parse as one read-only statement.
                let quoted = influxql::quote_string(h);
                let inner = &quoted[1..quoted.len() - 1];
                q = q.replace(HOST_VAR, inner);
            }
            crate::query::check_single_select(&q)?;
            Ok(q)
        }
    }
}

pub async fn run(
    state: &UiState,
    p: &Panel,
    index: usize,
    range: &TimeRange,
    theme: Theme,
    host: Option<&str>,
    annotations: &[chart::Annotation],
) -> PanelView {
    run_with(state, p, index, range, theme, host, annotations, false).await
}

/// As [`run`]; with `also_table` a time-series panel gets its rows as a table too (the data
/// explorer shows both from one query).
#[allow(clippy::too_many_arguments)]
pub async fn run_with(
    state: &UiState,
    p: &Panel,
    index: usize,
    range: &TimeRange,
    theme: Theme,
    host: Option<&str>,
    annotations: &[chart::Annotation],
    also_table: bool,
) -> PanelView {
    let mut view = PanelView {
        index,
        title: p.title.clone(),
        kind: p.kind.as_str(),
        ..PanelView::default()
    };
    let results = match query_text(p, range, host) {
        Ok(q) => {
            view.query = q.clone();
            let db = p.database.as_deref().unwrap_or(&state.config().database);
            match bucketed_builder(p, host) {
                // The same statement, its settled buckets from the cache.
                Some(b) => {
                    let interval = interval_for(range.span(), 300);
                    let statement = |a: i64, z: i64| b.to_influxql(a, z, Some(interval));
                    state
                        .cache()
                        .bucketed(
                            state.source(),
                            db,
                            statement,
                            (range.from_ns, range.to_ns),
                            interval,
                            crate::cache::empty_bucket(&b.aggregate),
                            now_ns(),
                        )
                        .await
                }
                None => state.source().query(db, &q).await,
            }
        }
        Err(e) => Err(e),
    };
    let mut spec = ChartSpec::new(PANEL_WIDTH, panel_height(1), range.from_ns, range.to_ns);
    spec.unit = p.unit;
    spec.decimals = p.decimals;
    spec.y_max = p.y_max;
    spec.y_min = p.y_min;
    spec.theme = theme;
    spec.annotations = annotations.to_vec();
    if let Some(w) = p.warn {
        spec.thresholds.push(Threshold {
            from: w,
            to: p.crit.unwrap_or(f64::INFINITY),
            level: Level::Warn,
        });
    }
    if let Some(c) = p.crit {
        spec.thresholds.push(Threshold {
            from: c,
            to: f64::INFINITY,
            level: Level::Crit,
        });
    }
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            let msg = e.public_message();
            if p.kind == PanelKind::Timeseries {
                view.svg = chart::render_error(&spec, &msg);
            }
            view.error = Some(msg);
            return view;
        }
    };
    match p.kind {
        PanelKind::Timeseries => {
            let mut series = to_chart_series(&results, p.transform);
            if p.transform == Transform::Rate {
                // The bucket `query_text` used.
                let interval = interval_for(range.span(), 300);
                drop_partial_buckets(&mut series, interval, range.to_ns);
            }
            spec.height = panel_height(series.len());
            view.svg = chart::render(&spec, &series);
            if also_table {
                view.table = Some(table(p, &results));
            }
        }
        PanelKind::Stat => {
            let series = to_chart_series(&results, p.transform);
            match series
                .iter()
                .find_map(|s| chart::stats(&s.points).last.map(|v| (v, s)))
            {
                Some((v, s)) => {
                    view.stat = format_value(v, p.unit, p.decimals);
                    view.stat_level = level_of(p, v);
                    view.svg = chart::sparkline(&s.points, 240, 40, theme);
                }
                None => view.stat = "No data".into(),
            }
        }
        PanelKind::Table => view.table = Some(table(p, &results)),
    }
    view
}

fn table(p: &Panel, results: &[SeriesResult]) -> TableView {
    let mut t = TableView::default();
    let tag_keys: Vec<String> = results
        .iter()
        .find_map(|s| s.tags.as_ref())
        .map(|tags| tags.keys().cloned().collect())
        .unwrap_or_default();
    t.columns.extend(tag_keys.iter().cloned());
    if let Some(first) = results.first() {
        t.columns.extend(first.columns.iter().cloned());
    }
    'outer: for s in results {
        for row in &s.values {
            if t.rows.len() >= MAX_TABLE_ROWS {
                t.truncated = true;
                break 'outer;
            }
            let mut cells: Vec<CellView> = tag_keys
                .iter()
                .map(|k| CellView {
                    text: s
                        .tags
                        .as_ref()
                        .and_then(|tags| tags.get(k))
                        .cloned()
                        .unwrap_or_default(),
                    level: "",
                    num: false,
                })
                .collect();
            for c in row {
                cells.push(match (c, cell_f64(c)) {
                    (Cell::Boolean(_), _) | (_, None) => CellView {
                        text: cell_string(c),
                        level: "",
                        num: false,
                    },
                    (_, Some(v)) => CellView {
                        text: format_value(v, p.unit, p.decimals),
                        level: level_of(p, v),
                        num: true,
                    },
                });
            }
            t.rows.push(cells);
        }
    }
    t
}

/// The editor's fields, all as typed, so a refused form comes back as the user left it.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct PanelForm {
    pub title: String,
    pub kind: String,
    /// Empty: the agents' database.
    pub database: String,
    pub mode: String,
    pub measurement: String,
    pub field: String,
    pub aggregate: String,
    pub f1_key: String,
    pub f1_op: String,
    pub f1_value: String,
    pub f2_key: String,
    pub f2_op: String,
    pub f2_value: String,
    pub f3_key: String,
    pub f3_op: String,
    pub f3_value: String,
    pub group_by: String,
    pub raw: String,
    pub unit: String,
    pub decimals: String,
    pub transform: String,
    pub warn: String,
    pub crit: String,
    pub y_max: String,
    pub y_min: String,
    /// `preview` or `save`.
    pub action: String,
    /// The dashboard's time range when the editor was opened (for previews).
    pub from: String,
    pub to: String,
}

fn opt_num<T: std::str::FromStr>(what: &str, s: &str) -> Result<Option<T>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| UiError::BadRequest(format!("{what} must be a number")))
}

impl PanelForm {
    pub fn from_panel(p: &Panel) -> PanelForm {
        let mut f = PanelForm {
            title: p.title.clone(),
            kind: p.kind.as_str().into(),
            unit: p.unit.as_str().into(),
            decimals: p.decimals.map(|d| d.to_string()).unwrap_or_default(),
            transform: match p.transform {
                Transform::None => "none",
                Transform::Rate => "rate",
                Transform::Complement100 => "complement100",
            }
            .into(),
            warn: p.warn.map(|v| v.to_string()).unwrap_or_default(),
            crit: p.crit.map(|v| v.to_string()).unwrap_or_default(),
            y_max: p.y_max.map(|v| v.to_string()).unwrap_or_default(),
            y_min: p.y_min.map(|v| v.to_string()).unwrap_or_default(),
            database: p.database.clone().unwrap_or_default(),
            ..PanelForm::default()
        };
        match &p.query {
            PanelQuery::Raw { influxql } => {
                f.mode = "raw".into();
                f.raw = influxql.clone();
            }
            PanelQuery::Builder(b) => {
                f.mode = "builder".into();
                f.measurement = b.measurement.clone();
                f.field = b.field.clone();
                f.aggregate = b.aggregate.clone();
                f.group_by = b.group_by.join(", ");
                let slots = [
                    (&mut f.f1_key, &mut f.f1_op, &mut f.f1_value),
                    (&mut f.f2_key, &mut f.f2_op, &mut f.f2_value),
                    (&mut f.f3_key, &mut f.f3_op, &mut f.f3_value),
                ];
                for (flt, (k, op, v)) in b.filters.iter().zip(slots) {
                    *k = flt.key.clone();
                    *op = if flt.op == TagOp::Ne { "ne" } else { "eq" }.into();
                    *v = flt.value.clone();
                }
            }
        }
        f
    }

    pub fn to_panel(&self) -> Result<Panel> {
        let kind = PanelKind::parse(&self.kind)
            .ok_or_else(|| UiError::BadRequest("unknown panel type".into()))?;
        let query = if self.mode == "raw" {
            PanelQuery::Raw {
                influxql: self.raw.trim().to_string(),
            }
        } else {
            let filters = [
                (&self.f1_key, &self.f1_op, &self.f1_value),
                (&self.f2_key, &self.f2_op, &self.f2_value),
                (&self.f3_key, &self.f3_op, &self.f3_value),
            ]
            .into_iter()
            .filter(|(k, _, _)| !k.trim().is_empty())
            .map(|(k, op, v)| TagFilter {
                key: k.trim().to_string(),
                op: if op == "ne" { TagOp::Ne } else { TagOp::Eq },
                value: v.clone(),
            })
            .collect();
            PanelQuery::Builder(Builder {
                measurement: self.measurement.trim().to_string(),
                field: self.field.trim().to_string(),
                aggregate: self.aggregate.trim().to_string(),
                filters,
                group_by: self
                    .group_by
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            })
        };
        let p = Panel {
            title: self.title.trim().to_string(),
            kind,
            query,
            unit: Unit::parse(&self.unit).unwrap_or_default(),
            decimals: opt_num("decimals", &self.decimals)?,
            transform: match self.transform.as_str() {
                "rate" => Transform::Rate,
                "complement100" => Transform::Complement100,
                _ => Transform::None,
            },
            warn: opt_num("the warning threshold", &self.warn)?,
            crit: opt_num("the critical threshold", &self.crit)?,
            y_max: opt_num("the y-axis maximum", &self.y_max)?,
            y_min: opt_num("the y-axis minimum", &self.y_min)?,
            database: Some(self.database.trim())
                .filter(|d| !d.is_empty())
                .map(String::from),
        };
        p.validate()?;
        Ok(p)
    }
}

/// Choices for the editor's selects.
#[derive(Serialize)]
pub struct EditorChoices {
    pub kinds: [&'static str; 3],
    pub aggregates: Vec<&'static str>,
    pub units: Vec<&'static str>,
    pub transforms: [&'static str; 3],
}

pub fn choices() -> EditorChoices {
    let mut aggregates = vec![""];
    aggregates.extend_from_slice(AGGREGATES);
    EditorChoices {
        kinds: ["timeseries", "stat", "table"],
        aggregates,
        units: Unit::ALL.iter().map(|u| u.as_str()).collect(),
        transforms: ["none", "rate", "complement100"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_round_trip() {
        let all = super::super::agent_overview().panels.into_iter();
        for p in all.chain(super::super::health::tigk_health().panels) {
            let f = PanelForm::from_panel(&p);
            assert_eq!(f.to_panel().expect("valid"), p);
        }
    }

    #[test]
    fn bad_numbers_are_refused() {
        let mut f = PanelForm::from_panel(&super::super::agent_overview().panels[0]);
        f.warn = "lots".into();
        assert!(f.to_panel().is_err());
        f.warn = "NaN".into();
        assert!(f.to_panel().is_err());
    }
}
