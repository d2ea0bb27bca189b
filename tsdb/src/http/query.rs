//! `GET|POST /query`: InfluxQL over HTTP, shaped as 1.x answers it.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::format::{Epoch, results_csv, results_json, series_json, statement_json};
use super::{ApiError, ApiState, credentials};
use crate::query::{QueryContext, QueryEngine, SeriesResult, StatementResult};

pub async fn query(
    State(state): State<ApiState>,
    method: Method,
    Query(mut params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Grafana's POST mode and the influx CLI put `q` (and sometimes more) in a form body.
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if method == Method::POST && is_form && !body.is_empty() {
        let form = credentials::url_pairs(&body)?;
        for (k, v) in form {
            params.insert(k, v);
        }
    }
    let creds = credentials::from_request(
        &headers,
        params.get("u").map(String::as_str),
        params.get("p").map(String::as_str),
    );
    let principal = state.principal(creds).await?;
    let q = params
        .get("q")
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest("missing required parameter \"q\"".into()))?;
    let bound = match params.get("params").filter(|p| !p.is_empty()) {
        Some(raw) => parse_bound_params(raw)?,
        None => HashMap::new(),
    };
    let parsed = influxql::parse_query_opts(q, Some(&bound), &crate::query::parse_options())
        .map_err(|e| ApiError::BadRequest(format!("error parsing query: {e}")))?;
    if parsed.statements.len() > state.limits.max_statements {
        return Err(ApiError::BadRequest(format!(
            "too many statements: {} > {}",
            parsed.statements.len(),
            state.limits.max_statements
        )));
    }
    let ctx = QueryContext {
        database: params.get("db").filter(|d| !d.is_empty()).cloned(),
        retention_policy: params.get("rp").filter(|r| !r.is_empty()).cloned(),
        principal,
        now: crate::storage::now_ns(),
        limits: state.limits.query.clone(),
        read_only_method: method == Method::GET,
    };
    let results = match &state.queries {
        Some(runner) => runner.run(&parsed, &ctx).await,
        None => {
            QueryEngine::new(state.store.clone())
                .execute(&parsed, &ctx)
                .await
        }
    };
    let epoch = Epoch::from_param(params.get("epoch").map(String::as_str));
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv") || v.contains("application/csv"));
    if wants_csv {
        return Ok(with_type(results_csv(&results, epoch), "text/csv"));
    }
    if params.get("chunked").is_some_and(|c| c == "true") {
        let size = params
            .get("chunk_size")
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(10_000);
        return Ok(with_type(
            chunked(&results, epoch, size),
            "application/json",
        ));
    }
    let mut body = results_json(&results, epoch);
    if params.get("pretty").is_some_and(|p| p == "true") {
        body = pretty(&body)?;
    }
    Ok(with_type(body, "application/json"))
}

fn with_type(body: String, content_type: &'static str) -> Response {
    let mut resp = (StatusCode::OK, Body::from(body)).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// 1.x's chunked form: one `{"results":[...]}` document per chunk of rows, newline
/// separated; every chunk but a series' last carries `"partial":true`.
fn chunked(results: &[StatementResult], epoch: Epoch, size: usize) -> String {
    let mut out = String::new();
    for r in results {
        if r.series.is_empty() {
            out.push_str("{\"results\":[");
            statement_json(&mut out, r, epoch, false);
            out.push_str("]}\n");
            continue;
        }
        let n_series = r.series.len();
        for (si, s) in r.series.iter().enumerate() {
            let rows: Vec<&[Vec<crate::query::Cell>]> = if s.values.is_empty() {
                vec![&[][..]]
            } else {
                s.values.chunks(size).collect()
            };
            let n_chunks = rows.len();
            for (ci, chunk) in rows.into_iter().enumerate() {
                let last_chunk = ci + 1 == n_chunks;
                let piece = SeriesResult {
                    values: chunk.to_vec(),
                    ..s.clone()
                };
                let mut inner = String::new();
                series_json(&mut inner, &piece, epoch, !last_chunk);
                let _ = std::fmt::Write::write_fmt(
                    &mut out,
                    format_args!(
                        "{{\"results\":[{{\"statement_id\":{},\"series\":[{inner}]",
                        r.statement_id
                    ),
                );
                if !(last_chunk && si + 1 == n_series) {
                    out.push_str(",\"partial\":true");
                }
                out.push_str("}]}\n");
            }
        }
    }
    out
}

fn pretty(compact: &str) -> Result<String, ApiError> {
    // Re-indenting through serde_json would reformat numbers; walk the text instead.
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let indent = |out: &mut String, d: usize| {
        out.push('\n');
        for _ in 0..d {
            out.push_str("    ");
        }
    };
    for c in compact.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                depth += 1;
                indent(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                indent(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                indent(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn parse_bound_params(raw: &str) -> Result<HashMap<String, influxql::ParamValue>, ApiError> {
    let value: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| ApiError::BadRequest(format!("error parsing query parameters: {e}")))?;
    let obj = value.as_object().ok_or_else(|| {
        ApiError::BadRequest("error parsing query parameters: not an object".into())
    })?;
    let mut out = HashMap::new();
    for (k, v) in obj {
        let p = match v {
            serde_json::Value::String(s) => influxql::ParamValue::String(s.clone()),
            serde_json::Value::Bool(b) => influxql::ParamValue::Boolean(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => influxql::ParamValue::Integer(i),
                None => influxql::ParamValue::Float(n.as_f64().unwrap_or(0.0)),
            },
            // 1.x's typed forms: {"identifier": "x"}, {"regex": "..."}, {"duration": "5m"}.
            serde_json::Value::Object(o) if o.len() == 1 => match o.iter().next() {
                Some((kind, serde_json::Value::String(v))) if kind == "identifier" => {
                    influxql::ParamValue::Identifier(v.clone())
                }
                Some((kind, serde_json::Value::String(v))) if kind == "regex" => {
                    influxql::ParamValue::Regex(v.clone())
                }
                Some((kind, serde_json::Value::String(v))) if kind == "duration" => {
                    influxql::ParamValue::Duration(influxql::parse_duration(v).map_err(|e| {
                        ApiError::BadRequest(format!("error parsing query parameters: {e}"))
                    })?)
                }
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "error parsing query parameters: bad value for {k}"
                    )));
                }
            },
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "error parsing query parameters: unsupported value for {k}"
                )));
            }
        };
        out.insert(k.clone(), p);
    }
    Ok(out)
}
