//! The rule builder page: the form, its pickers (from SHOW MEASUREMENTS, FIELD KEYS, TAG
//! KEYS and TAG VALUES), the generated TICKscript beside it, the preview (chart with the
//! thresholds and the events an offline run over stored data fires) and "send test".

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tsdb::query::{Cell, SeriesResult};

use super::pages::{checked_id, event_view};
use super::rule::{Kind, LEVELS, OPS, Op, Rule, RuleForm};
use super::{AlertBackend, HistoryEvent};
use crate::chart::{self, Annotation, ChartSpec, Threshold};
use crate::error::{Result, UiError};
use crate::hosts::{PANEL_WIDTH, panel_height};
use crate::query::{AGGREGATES, Transform, check_single_select, interval_for, to_chart_series};
use crate::render;
use crate::session::{CurrentUser, Role};
use crate::state::{UiState, now_ns};

const RP: &str = "autogen";
/// Points an offline preview run reads at most.
const MAX_PREVIEW_POINTS: usize = 200_000;

/// Values for the pickers' datalists; a failed SHOW only loses the hints.
#[derive(Serialize, Default)]
struct Pickers {
    measurements: Vec<String>,
    fields: Vec<String>,
    tags: Vec<String>,
    /// Per filter slot, the values of its tag key.
    values: Vec<Vec<String>>,
}

fn column(results: &[SeriesResult], col: usize) -> Vec<String> {
    let mut v: Vec<String> = results
        .iter()
        .flat_map(|r| r.values.iter())
        .filter_map(|row| match row.get(col) {
            Some(Cell::String(s)) => Some(s.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

async fn pickers(state: &UiState, f: &RuleForm) -> Pickers {
    use influxql::quote_ident;
    let show = |q: String, col: usize| async move {
        state
            .query(&q)
            .await
            .map(|r| column(&r, col))
            .unwrap_or_default()
    };
    let mut p = Pickers {
        measurements: show("SHOW MEASUREMENTS".into(), 0).await,
        ..Pickers::default()
    };
    let m = f.measurement.trim();
    if m.is_empty() {
        return p;
    }
    let from = quote_ident(m);
    p.fields = show(format!("SHOW FIELD KEYS FROM {from}"), 0).await;
    p.tags = show(format!("SHOW TAG KEYS FROM {from}"), 0).await;
    for key in [&f.f1_key, &f.f2_key, &f.f3_key] {
        let key = key.trim();
        p.values.push(if key.is_empty() {
            Vec::new()
        } else {
            show(
                format!(
                    "SHOW TAG VALUES FROM {from} WITH KEY = {}",
                    quote_ident(key)
                ),
                1,
            )
            .await
        });
    }
    p
}

#[derive(Serialize)]
struct Choices {
    aggregates: Vec<&'static str>,
    ops: &'static [(&'static str, &'static str)],
    shifts: &'static [&'static str],
    periods: &'static [&'static str],
    hours: &'static [&'static str],
}

fn choices() -> Choices {
    let mut aggregates = vec![""];
    aggregates.extend(AGGREGATES);
    Choices {
        aggregates,
        ops: OPS,
        shifts: &["1m", "5m", "10m", "30m", "1h", "2h", "24h"],
        periods: &["1m", "5m", "10m", "30m", "1h", "2h", "24h"],
        hours: &["1", "3", "6", "12", "24", "72", "168"],
    }
}

#[derive(Serialize, Default)]
struct Preview {
    svg: String,
    query: String,
    events: Vec<super::pages::EventView>,
    points: usize,
    /// Why there is no run (deadman, a query or run error).
    note: Option<String>,
}

/// What the page shows besides the form.
#[derive(Default)]
struct Outcome {
    script: Option<String>,
    error: Option<String>,
    preview: Option<Preview>,
    tests: Vec<String>,
}

async fn page(
    state: &UiState,
    user: &CurrentUser,
    target: &str,
    form: &RuleForm,
    out: Outcome,
) -> Result<Response> {
    let mut ctx = render::context(Some(user), "Alert rule builder");
    ctx.insert("target", target);
    ctx.insert("new", &(target == "new"));
    ctx.insert("f", form);
    ctx.insert("pickers", &pickers(state, form).await);
    ctx.insert("choices", &choices());
    ctx.insert("script", &out.script);
    ctx.insert("error", &out.error);
    ctx.insert("preview", &out.preview);
    ctx.insert("tests", &out.tests);
    ctx.insert("db", &state.config().database);
    ctx.insert("log_dir", &state.alerts()?.log_dir());
    let status = if out.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, render::render("alert_rule.html", &ctx)?).into_response())
}

#[derive(Deserialize, Default)]
pub struct BuilderParams {
    #[serde(default)]
    measurement: String,
}

/// `GET /alerts/rules/new` and `GET /alerts/rules/{id}`.
pub async fn builder_form(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(target): Path<String>,
    Query(p): Query<BuilderParams>,
) -> Result<Response> {
    let alerts = state.alerts()?;
    let mut out = Outcome::default();
    let form = if target == "new" {
        user.require(Role::Editor)?;
        let mut f = RuleForm::new_default();
        f.measurement = p.measurement;
        f
    } else {
        let id = checked_id(&target)?;
        let t = alerts.show(&id).await?;
        let log_dir = alerts.log_dir();
        match super::rule::rule_of(&t.summary.script, log_dir.as_deref()) {
            Some(r) => {
                out.script = Some(t.summary.script);
                r.to_form()
            }
            // Written or changed by hand: only the raw editor can open it.
            None => return Ok(Redirect::to(&format!("/alerts/tasks/{id}/script")).into_response()),
        }
    };
    page(&state, &user, &target, &form, out).await
}

/// `POST /alerts/rules/new` and `POST /alerts/rules/{id}`: refresh, preview, test or save.
pub async fn builder_submit(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(target): Path<String>,
    Form(form): Form<RuleForm>,
) -> Result<Response> {
    user.require(Role::Editor)?;
    let alerts = state.alerts()?;
    if target != "new" {
        checked_id(&target)?;
    }
    let action = form.action.clone();
    let mut out = Outcome::default();
    let mut form = form;
    if target != "new" {
        // The task id is the rule name; an existing rule keeps its name.
        form.id = target.clone();
    } else if form.id.trim() == "new" {
        out.error = Some("\"new\" cannot name a rule".into());
        return page(&state, &user, &target, &form, out).await;
    }
    let rule = match form.validate(&state.config().database, RP) {
        Ok(r) => r,
        Err(UiError::BadRequest(m)) => {
            out.error = Some(m);
            return page(&state, &user, &target, &form, out).await;
        }
        Err(e) => return Err(e),
    };
    let log_dir = alerts.log_dir();
    let script = rule.script(log_dir.as_deref());
    out.script = Some(script.clone());
    match action.as_str() {
        "save" => match alerts.save(&rule.id, &script, target == "new").await {
            Ok(()) => {
                return Ok(Redirect::to(&format!("/alerts/tasks/{}", rule.id)).into_response());
            }
            Err(UiError::Script(e)) => out.error = Some(e.message),
            Err(UiError::BadRequest(m)) => out.error = Some(m),
            Err(e) => return Err(e),
        },
        "test" => match alerts.send_test(script.clone()).await {
            Ok(lines) if lines.is_empty() => {
                out.tests = vec!["the rule has no handler to test".into()]
            }
            Ok(lines) => out.tests = lines,
            Err(UiError::Script(e)) => out.error = Some(e.message),
            Err(e) => return Err(e),
        },
        "preview" => {
            if let Err(UiError::Script(e)) = alerts.check(&script) {
                out.error = Some(e.message);
            }
            out.preview = Some(preview(&state, alerts, &rule, &form, &script).await);
        }
        _ => {
            if let Err(UiError::Script(e)) = alerts.check(&script) {
                out.error = Some(e.message);
            }
        }
    }
    page(&state, &user, &target, &form, out).await
}

fn hours(f: &RuleForm) -> i64 {
    f.hours.trim().parse::<i64>().unwrap_or(6).clamp(1, 168)
}

fn thresholds(rule: &Rule) -> Vec<Threshold> {
    if rule.kind != Kind::Threshold {
        return Vec::new();
    }
    let mut out = Vec::new();
    // Drawn info first so crit ends on top.
    for i in (0..LEVELS.len()).rev() {
        let Some(b) = rule.levels.get(i).copied().flatten() else {
            continue;
        };
        let level = if i == 0 {
            chart::Level::Crit
        } else {
            chart::Level::Warn
        };
        let band = |from: f64, to: f64| Threshold { from, to, level };
        match rule.op {
            Op::Gt | Op::Ge => out.push(band(b.value, f64::INFINITY)),
            Op::Lt | Op::Le => out.push(band(f64::NEG_INFINITY, b.value)),
            Op::Eq => out.push(band(b.value, b.value)),
            Op::Ne => {}
            Op::Inside => out.push(band(b.value, b.upper)),
            Op::Outside => {
                out.push(band(f64::NEG_INFINITY, b.value));
                out.push(band(b.upper, f64::INFINITY));
            }
        }
    }
    out
}

/// Stored points of the rule's series as alerter points, in time order.
fn to_points(measurement: &str, field: &str, results: &[SeriesResult]) -> Vec<common::Point> {
    let mut out = Vec::new();
    for r in results {
        let tags: Vec<(String, String)> = r
            .tags
            .as_ref()
            .map(|t| {
                t.iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for row in &r.values {
            // A deadman rule has no field: any field of the point shows it arrived.
            let col = if field.is_empty() {
                (1..row.len()).find(|&i| !matches!(row.get(i), Some(Cell::Null) | None))
            } else {
                Some(1)
            };
            let Some(col) = col else { continue };
            let (Some(Cell::Time(t)), Some(v)) = (row.first(), row.get(col)) else {
                continue;
            };
            let name = match r.columns.get(col) {
                Some(c) if field.is_empty() => c.as_str(),
                _ => field,
            };
            use common::FieldValue as F;
            let value = match v {
                Cell::Float(f) => F::Float(*f),
                Cell::Integer(i) => F::Integer(*i),
                Cell::Unsigned(u) => F::Unsigned(*u),
                Cell::Boolean(b) => F::Boolean(*b),
                Cell::String(s) => F::String(s.clone()),
                _ => continue,
            };
            out.push(common::Point {
                measurement: measurement.to_string(),
                tags: tags.clone(),
                fields: vec![(name.to_string(), value)],
                timestamp: Some(*t),
            });
            if out.len() >= MAX_PREVIEW_POINTS {
                return out;
            }
        }
    }
    out
}

/// A deadman rule's chart (points per bucket) and replay (every point) queries.
fn deadman_queries(
    rule: &Rule,
    from: i64,
    to: i64,
    interval: i64,
) -> (Result<String>, Result<String>) {
    use influxql::{quote_ident, quote_string};
    let mut cond = crate::query::time_filter(from, to);
    for f in &rule.query.filters {
        let op = if f.op == crate::query::TagOp::Ne {
            "!="
        } else {
            "="
        };
        cond.push_str(&format!(
            " AND {} {op} {}",
            quote_ident(&f.key),
            quote_string(&f.value)
        ));
    }
    let m = quote_ident(&rule.query.measurement);
    let mut groups = format!("time({})", influxql::format_duration(interval));
    for g in &rule.query.group_by {
        groups.push_str(&format!(", {}", quote_ident(g)));
    }
    let chart = format!("SELECT count(*) FROM {m} WHERE {cond} GROUP BY {groups} fill(0)");
    let raw = format!("SELECT * FROM {m} WHERE {cond} GROUP BY *");
    let checked = |q: String| check_single_select(&q).map(|()| q);
    (checked(chart), checked(raw))
}

async fn preview(
    state: &UiState,
    alerts: &dyn AlertBackend,
    rule: &Rule,
    form: &RuleForm,
    script: &str,
) -> Preview {
    let to = now_ns();
    let from = to - hours(form) * 3_600_000_000_000;
    let mut spec = ChartSpec::new(PANEL_WIDTH * 2, panel_height(1), from, to);
    spec.thresholds = thresholds(rule);
    let mut p = Preview::default();
    let every = super::rule::parse_duration("the window", &rule.every)
        .map(|d| d.1)
        .unwrap_or(60_000_000_000);
    // What the rule evaluates: its aggregate per window (never more than ~1000 buckets).
    let interval = every.max(interval_for(to - from, 1000));
    let (chart_q, raw_q) = if rule.kind == Kind::Deadman {
        deadman_queries(rule, from, to, interval)
    } else {
        let chart_q = rule.query.to_influxql(from, to, Some(interval));
        // Every stored point for the offline run, each series with its tags.
        let mut raw = rule.query.clone();
        raw.aggregate.clear();
        raw.group_by.clear();
        let raw_q = raw
            .to_influxql(from, to, None)
            .map(|q| format!("{q} GROUP BY *"))
            .and_then(|q| check_single_select(&q).map(|()| q));
        (chart_q, raw_q)
    };
    let (chart_q, raw_q) = match (chart_q, raw_q) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(e), _) | (_, Err(e)) => {
            p.note = Some(e.public_message());
            p.svg = chart::render_error(&spec, &e.public_message());
            return p;
        }
    };
    p.query = chart_q.clone();
    let (chart_r, raw_r) = tokio::join!(state.query(&chart_q), state.query(&raw_q));
    let events: Vec<HistoryEvent> = match raw_r {
        Ok(r) => {
            let points = to_points(&rule.query.measurement, &rule.query.field, &r);
            p.points = points.len();
            match alerts
                .test_run(rule.id.clone(), script.to_string(), points, to)
                .await
            {
                Ok(ev) => ev,
                Err(e) => {
                    p.note = Some(format!("offline run failed: {}", e.public_message()));
                    Vec::new()
                }
            }
        }
        Err(e) => {
            p.note = Some(e.public_message());
            Vec::new()
        }
    };
    spec.annotations = events
        .iter()
        .filter(|e| e.level != alerter::alert::Level::Ok)
        .map(|e| Annotation {
            at_ns: e.time,
            text: format!("{} {}", e.level, e.id),
            level: if e.level == alerter::alert::Level::Critical {
                chart::Level::Crit
            } else {
                chart::Level::Warn
            },
        })
        .collect();
    p.svg = match chart_r {
        Ok(r) => {
            let series = to_chart_series(&r, Transform::None);
            spec.height = panel_height(series.len());
            chart::render(&spec, &series)
        }
        Err(e) => chart::render_error(&spec, &e.public_message()),
    };
    let now = now_ns();
    p.events = events
        .iter()
        .rev()
        .take(200)
        .map(|e| event_view(e, now))
        .collect();
    p
}
