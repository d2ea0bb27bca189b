//! The data explorer: ad-hoc InfluxQL drawn as a chart and a table, with the database's
//! measurements, and a measurement's fields and tags, to pick from. Read-only like every
//! page query (one SELECT or SHOW, run as a principal that cannot write).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::dashboards::panel::{self, PanelView};
use crate::dashboards::{Panel, PanelKind, PanelQuery};
use crate::error::{Result, UiError};
use crate::query::{Transform, cell_string};
use crate::render;
use crate::session::CurrentUser;
use crate::state::{UiState, now_ns};
use crate::timerange::{RangeParams, TimeRange};
use crate::web::url_encode;

#[derive(Deserialize, Default)]
pub struct ExploreParams {
    #[serde(default)]
    db: String,
    /// The measurement whose fields and tags are listed.
    #[serde(default)]
    m: String,
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
struct Pick {
    name: String,
    href: String,
    on: bool,
}

#[derive(Serialize)]
struct Field {
    name: String,
    kind: String,
    /// A ready query charting the field.
    href: String,
}

/// The first column of every row of `q`'s answer, or nothing if it fails.
async fn names(state: &UiState, db: &str, q: &str) -> Vec<Vec<String>> {
    state
        .source()
        .query(db, q)
        .await
        .map(|series| {
            series
                .iter()
                .flat_map(|s| s.values.iter())
                .map(|row| row.iter().map(cell_string).collect())
                .collect()
        })
        .unwrap_or_default()
}

pub async fn page(
    State(state): State<UiState>,
    user: CurrentUser,
    Query(rp): Query<RangeParams>,
    Query(x): Query<ExploreParams>,
) -> Result<Response> {
    let range = TimeRange::parse(&rp, now_ns())?;
    let db = if x.db.trim().is_empty() {
        state.config().database.clone()
    } else {
        x.db.trim().to_string()
    };
    // The other parameters every link and the range picker keep.
    let keep = |m: &str, q: &str| {
        let mut p = vec![format!("db={}", url_encode(&db))];
        if !m.is_empty() {
            p.push(format!("m={}", url_encode(m)));
        }
        if !q.is_empty() {
            p.push(format!("q={}", url_encode(q)));
        }
        p.join("&")
    };
    let link = |m: &str, q: &str| format!("/explore?{}&{}", keep(m, q), range.query());
    let measurements: Vec<Pick> = names(&state, &db, "SHOW MEASUREMENTS")
        .await
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .map(|name| Pick {
            href: link(&name, &x.q),
            on: name == x.m,
            name,
        })
        .collect();
    // Only a measurement the database has is looked into.
    let m = measurements.iter().find(|p| p.on).map(|p| p.name.clone());
    let (mut fields, mut tags) = (Vec::new(), Vec::new());
    if let Some(m) = &m {
        let from = influxql::quote_ident(m);
        for row in names(&state, &db, &format!("SHOW FIELD KEYS FROM {from}")).await {
            let (Some(name), kind) = (row.first(), row.get(1).cloned().unwrap_or_default()) else {
                continue;
            };
            let numeric = kind == "float" || kind == "integer" || kind == "unsigned";
            let q = if numeric {
                format!(
                    "SELECT mean({}) FROM {from} WHERE $timeFilter GROUP BY time($__interval) fill(null)",
                    influxql::quote_ident(name)
                )
            } else {
                format!(
                    "SELECT {} FROM {from} WHERE $timeFilter LIMIT 100",
                    influxql::quote_ident(name)
                )
            };
            fields.push(Field {
                href: link(m, &q),
                name: name.clone(),
                kind,
            });
        }
        tags = names(&state, &db, &format!("SHOW TAG KEYS FROM {from}"))
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .collect();
    }

    let mut ctx = render::context(Some(&user), "Explore");
    let mut status = StatusCode::OK;
    let q = x.q.trim();
    if !q.is_empty() {
        let p = Panel {
            title: "Result".into(),
            kind: PanelKind::Timeseries,
            query: PanelQuery::Raw {
                influxql: q.to_string(),
            },
            unit: Default::default(),
            decimals: None,
            transform: Transform::default(),
            warn: None,
            crit: None,
            y_max: None,
            y_min: None,
            database: Some(db.clone()),
        };
        match p.validate() {
            Ok(()) => {
                let view: PanelView =
                    panel::run_with(&state, &p, 0, &range, user.theme, None, &[], true).await;
                if view.error.is_some() {
                    status = StatusCode::BAD_REQUEST;
                }
                ctx.insert("result", &view);
            }
            Err(e @ (UiError::BadRequest(_) | UiError::Query(_))) => {
                status = StatusCode::BAD_REQUEST;
                ctx.insert("error", &e.public_message());
            }
            Err(e) => return Err(e),
        }
    }
    ctx.insert("db", &db);
    ctx.insert("m", &m);
    ctx.insert("q", &x.q);
    ctx.insert("measurements", &measurements);
    ctx.insert("fields", &fields);
    ctx.insert("tags", &tags);
    ctx.insert("range", &range.view("/explore", &keep(&x.m, &x.q)));
    ctx.insert("range_query", &range.query());
    Ok((status, render::render("explore.html", &ctx)?).into_response())
}
