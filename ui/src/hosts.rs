//! `/hosts`: every host the agents report, with its latest vitals; `/hosts/{host}`: an
//! automatic dashboard for one host.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::Html;
use influxql::{quote_ident, quote_string};
use serde::{Deserialize, Serialize};
use tsdb::query::{Cell, SeriesResult};

use crate::chart::{self, ChartSpec, Level, Threshold};
use crate::error::Result;
use crate::query::{
    Transform, cell_f64, drop_partial_buckets, interval_for, time_filter, to_chart_series,
};
use crate::render;
use crate::session::CurrentUser;
use crate::state::{UiState, now_ns};
use crate::timerange::{RangeParams, TimeRange};
use crate::units::{Unit, format_ago, format_value};
use crate::web::url_encode;

/// A host whose newest point is older than this is shown as down. Three times the agent's
/// 10 s default interval would flap on a busy network; two minutes does not.
const DOWN_AFTER_NS: i64 = 120 * 1_000_000_000;

#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
}

#[derive(Debug, Serialize, Clone)]
struct HostRow {
    name: String,
    href: String,
    up: bool,
    cpu: Option<f64>,
    load: Option<f64>,
    mem: Option<f64>,
    disk: Option<f64>,
    seen_ns: Option<i64>,
    cpu_text: String,
    load_text: String,
    mem_text: String,
    disk_text: String,
    seen_text: String,
    cpu_level: &'static str,
    mem_level: &'static str,
    disk_level: &'static str,
}

/// `host → (time, value)` from a `SELECT selector(x) … GROUP BY "host"` result.
fn by_host(series: &[SeriesResult]) -> BTreeMap<String, (Option<i64>, Option<f64>)> {
    let mut out = BTreeMap::new();
    for s in series {
        let Some(host) = s.tags.as_ref().and_then(|t| t.get("host")) else {
            continue;
        };
        let Some(row) = s.values.last() else { continue };
        let t = match row.first() {
            Some(Cell::Time(t)) => Some(*t),
            _ => None,
        };
        out.insert(host.clone(), (t, row.get(1).and_then(cell_f64)));
    }
    out
}

fn level(v: Option<f64>, warn: f64, crit: f64) -> &'static str {
    match v {
        Some(v) if v >= crit => "crit",
        Some(v) if v >= warn => "warn",
        _ => "",
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format_value(v, Unit::Percent, Some(1)))
}

async fn host_rows(state: &UiState, now: i64) -> Result<Vec<HostRow>> {
    let names = state
        .query("SHOW TAG VALUES FROM cpu WITH KEY = host")
        .await?;
    let last = |q: &'static str| {
        let state = state.clone();
        async move { state.query(q).await.map(|s| by_host(&s)) }
    };
    // Independent statements: run them together. One failing only blanks its column.
    let (cpu, load, mem, disk) = tokio::join!(
        last(
            "SELECT last(usage_idle) FROM cpu WHERE cpu = 'cpu-total' AND time > now() - 1d GROUP BY host"
        ),
        last("SELECT last(load1) FROM system WHERE time > now() - 10m GROUP BY host"),
        last("SELECT last(used_percent) FROM mem WHERE time > now() - 10m GROUP BY host"),
        last("SELECT max(used_percent) FROM disk WHERE time > now() - 10m GROUP BY host"),
    );
    let (cpu, load, mem, disk) = (
        cpu.unwrap_or_default(),
        load.unwrap_or_default(),
        mem.unwrap_or_default(),
        disk.unwrap_or_default(),
    );
    let mut rows = Vec::new();
    for s in &names {
        let vi = s.columns.iter().position(|c| c == "value").unwrap_or(1);
        for row in &s.values {
            let Some(Cell::String(name)) = row.get(vi) else {
                continue;
            };
            let (seen, idle) = cpu.get(name).copied().unwrap_or((None, None));
            let cpu_v = idle.map(|i| (100.0 - i).clamp(0.0, 100.0));
            let load_v = load.get(name).and_then(|x| x.1);
            let mem_v = mem.get(name).and_then(|x| x.1);
            let disk_v = disk.get(name).and_then(|x| x.1);
            rows.push(HostRow {
                href: format!("/hosts/{}", url_encode(name)),
                name: name.clone(),
                up: seen.is_some_and(|t| now - t <= DOWN_AFTER_NS),
                cpu: cpu_v,
                load: load_v,
                mem: mem_v,
                disk: disk_v,
                seen_ns: seen,
                cpu_text: pct(cpu_v),
                load_text: load_v.map_or("–".into(), |v| format!("{v:.2}")),
                mem_text: pct(mem_v),
                disk_text: pct(disk_v),
                // The cpu query looks back one day: older hosts are only known to be older.
                seen_text: seen.map_or("over 1d ago".into(), |t| format_ago(t, now)),
                cpu_level: level(cpu_v, 80.0, 95.0),
                mem_level: level(mem_v, 80.0, 95.0),
                disk_level: level(disk_v, 80.0, 90.0),
            });
        }
    }
    Ok(rows)
}

/// Orders by value, `desc` reversing it, with hosts lacking a value always last.
fn cmp_opt<T: PartialOrd>(a: Option<T>, b: Option<T>, desc: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => {
            let o = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if desc { o.reverse() } else { o }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

pub async fn list(
    State(state): State<UiState>,
    user: CurrentUser,
    Query(p): Query<ListParams>,
) -> Result<Html<String>> {
    let now = now_ns();
    let mut ctx = render::context(Some(&user), "Hosts");
    let (mut rows, error) = match host_rows(&state, now).await {
        Ok(r) => (r, None),
        Err(e) => (Vec::new(), Some(e.public_message())),
    };
    let total = rows.len();
    let needle = p.q.trim().to_lowercase();
    rows.retain(|r| {
        (needle.is_empty() || r.name.to_lowercase().contains(&needle))
            && match p.status.as_str() {
                "up" => r.up,
                "down" => !r.up,
                _ => true,
            }
    });
    let desc = p.dir == "desc";
    let sort = match p.sort.as_str() {
        s @ ("cpu" | "load" | "mem" | "disk" | "seen" | "status") => s,
        _ => "name",
    };
    rows.sort_by(|a, b| {
        let o = match sort {
            "cpu" => cmp_opt(a.cpu, b.cpu, desc),
            "load" => cmp_opt(a.load, b.load, desc),
            "mem" => cmp_opt(a.mem, b.mem, desc),
            "disk" => cmp_opt(a.disk, b.disk, desc),
            "seen" => cmp_opt(a.seen_ns, b.seen_ns, desc),
            "status" => cmp_opt(Some(a.up), Some(b.up), desc),
            _ => cmp_opt(Some(&a.name), Some(&b.name), desc),
        };
        o.then_with(|| a.name.cmp(&b.name))
    });
    #[derive(Serialize)]
    struct SortLink {
        label: &'static str,
        href: String,
        mark: &'static str,
        num: bool,
    }
    let filter_q = format!("q={}&status={}", url_encode(&p.q), url_encode(&p.status));
    let headers: Vec<SortLink> = [
        ("name", "Host", false),
        ("status", "Status", false),
        ("cpu", "CPU", true),
        ("load", "Load", true),
        ("mem", "Memory", true),
        ("disk", "Disk", true),
        ("seen", "Last seen", false),
    ]
    .into_iter()
    .map(|(key, label, num)| {
        let next_desc = sort == key && !desc;
        SortLink {
            label,
            href: format!(
                "/hosts?{filter_q}&sort={key}&dir={}",
                if next_desc { "desc" } else { "asc" }
            ),
            mark: match (sort == key, desc) {
                (true, false) => "▲",
                (true, true) => "▼",
                _ => "",
            },
            num,
        }
    })
    .collect();
    ctx.insert("hosts", &rows);
    ctx.insert("total", &total);
    ctx.insert("headers", &headers);
    ctx.insert("q", &p.q);
    ctx.insert("status", &p.status);
    ctx.insert("sort", sort);
    ctx.insert("dir", if desc { "desc" } else { "asc" });
    ctx.insert("error", &error);
    render::render("hosts.html", &ctx)
}

/// One panel of the automatic host dashboard.
struct PanelDef {
    title: &'static str,
    measurement: &'static str,
    select: &'static str,
    filter: &'static str,
    /// A tag to split series by.
    group_by: Option<&'static str>,
    unit: Unit,
    transform: Transform,
    y_max: Option<f64>,
    thresholds: &'static [(f64, f64, Level)],
}

const USAGE_BANDS: &[(f64, f64, Level)] = &[(80.0, 90.0, Level::Warn), (90.0, 100.0, Level::Crit)];

const HOST_PANELS: &[PanelDef] = &[
    PanelDef {
        title: "CPU usage (all cores)",
        measurement: "cpu",
        select: "mean(usage_user) AS \"user\", mean(usage_system) AS \"system\", mean(usage_iowait) AS iowait",
        filter: " AND cpu = 'cpu-total'",
        group_by: None,
        unit: Unit::Percent,
        transform: Transform::None,
        y_max: Some(100.0),
        thresholds: &[],
    },
    PanelDef {
        title: "CPU busy per core",
        measurement: "cpu",
        select: "mean(usage_idle) AS busy",
        filter: " AND cpu != 'cpu-total'",
        group_by: Some("cpu"),
        unit: Unit::Percent,
        transform: Transform::Complement100,
        y_max: Some(100.0),
        thresholds: USAGE_BANDS,
    },
    PanelDef {
        title: "Load average",
        measurement: "system",
        select: "mean(load1) AS load1, mean(load5) AS load5, mean(load15) AS load15",
        filter: "",
        group_by: None,
        unit: Unit::Short,
        transform: Transform::None,
        y_max: None,
        thresholds: &[],
    },
    PanelDef {
        title: "Memory used",
        measurement: "mem",
        select: "mean(used_percent) AS used",
        filter: "",
        group_by: None,
        unit: Unit::Percent,
        transform: Transform::None,
        y_max: Some(100.0),
        thresholds: USAGE_BANDS,
    },
    PanelDef {
        title: "Disk used",
        measurement: "disk",
        select: "max(used_percent) AS used",
        filter: "",
        group_by: Some("path"),
        unit: Unit::Percent,
        transform: Transform::None,
        y_max: Some(100.0),
        thresholds: USAGE_BANDS,
    },
    PanelDef {
        title: "Disk I/O",
        measurement: "diskio",
        select: "max(read_bytes) AS \"read\", max(write_bytes) AS \"write\"",
        filter: "",
        group_by: Some("name"),
        unit: Unit::BytesPerSec,
        transform: Transform::Rate,
        y_max: None,
        thresholds: &[],
    },
    PanelDef {
        title: "Network",
        measurement: "net",
        select: "max(bytes_recv) AS recv, max(bytes_sent) AS sent",
        filter: "",
        group_by: Some("interface"),
        unit: Unit::BytesPerSec,
        transform: Transform::Rate,
        y_max: None,
        thresholds: &[],
    },
];

pub const PANEL_WIDTH: u32 = 560;

/// Height for a chart with `n` series: room for the plot plus the legend rows.
pub fn panel_height(n: usize) -> u32 {
    170 + (n.min(8) as u32 + 2) * 15
}

#[derive(Serialize)]
pub struct PanelView {
    pub title: String,
    /// Our own SVG: every text in it went through plotters' escaping.
    pub svg: String,
}

pub async fn dashboard(
    State(state): State<UiState>,
    user: CurrentUser,
    Path(host): Path<String>,
    Query(rp): Query<RangeParams>,
) -> Result<Html<String>> {
    let range = TimeRange::parse(&rp, now_ns())?;
    let interval = interval_for(range.span(), 300);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, p) in HOST_PANELS.iter().enumerate() {
        let q = format!(
            "SELECT {} FROM {} WHERE host = {}{} AND {} GROUP BY time({}){} fill(null)",
            p.select,
            quote_ident(p.measurement),
            quote_string(&host),
            p.filter,
            time_filter(range.from_ns, range.to_ns),
            influxql::format_duration(interval),
            p.group_by
                .map(|t| format!(", {}", quote_ident(t)))
                .unwrap_or_default(),
        );
        let state = state.clone();
        tasks.spawn(async move { (i, state.query(&q).await) });
    }
    let mut results: Vec<Option<Result<Vec<SeriesResult>>>> =
        (0..HOST_PANELS.len()).map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (i, r) = done?;
        if let Some(slot) = results.get_mut(i) {
            *slot = Some(r);
        }
    }
    let notes = crate::alerts::annotations(&state, range.from_ns, range.to_ns, Some(&host)).await;
    let panels: Vec<PanelView> = HOST_PANELS
        .iter()
        .zip(results)
        .map(|(p, r)| {
            let r = r.unwrap_or_else(|| Ok(Vec::new()));
            let mut spec = ChartSpec::new(PANEL_WIDTH, panel_height(1), range.from_ns, range.to_ns);
            spec.unit = p.unit;
            spec.y_max = p.y_max;
            spec.theme = user.theme;
            spec.annotations = notes.clone();
            spec.thresholds = p
                .thresholds
                .iter()
                .map(|&(from, to, level)| Threshold { from, to, level })
                .collect();
            let svg = match r {
                Ok(series) => {
                    let mut series = to_chart_series(&series, p.transform);
                    if p.transform == Transform::Rate {
                        drop_partial_buckets(&mut series, interval, range.to_ns);
                    }
                    spec.height = panel_height(series.len());
                    chart::render(&spec, &series)
                }
                Err(e) => chart::render_error(&spec, &e.public_message()),
            };
            PanelView {
                title: p.title.to_string(),
                svg,
            }
        })
        .collect();
    let base = format!("/hosts/{}", url_encode(&host));
    let mut ctx = render::context(Some(&user), &host);
    ctx.insert("host", &host);
    ctx.insert("range", &range.view(&base, ""));
    ctx.insert("panels", &panels);
    ctx.insert("interval", &influxql::format_duration(interval));
    render::render("host.html", &ctx)
}
