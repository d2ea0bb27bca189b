//! Time series to SVG, drawn with plotters.
//!
//! Every series is first reduced to at most two points (the minimum and the maximum) per
//! pixel column, so the SVG size depends on the chart's width, not on the number of points,
//! and a one-sample spike still shows (an averaging or LTTB reduction can drop it).
//! plotters bakes colours into the SVG, so each theme is a separate rendering.
//! Rendering never fails: a drawing error becomes the error-state chart.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

use crate::units::{Unit, format_tick, format_value};

/// One line: points in time order, `None` where there is no value (the line breaks).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<(i64, Option<f64>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Crit,
}

/// A horizontal band, e.g. "80 to 90 is warn".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub from: f64,
    pub to: f64,
    pub level: Level,
}

/// A vertical marker, e.g. an alert state change.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub at_ns: i64,
    pub text: String,
    pub level: Level,
}

/// What to draw and how. Times are nanoseconds since the epoch.
#[derive(Debug, Clone)]
pub struct ChartSpec {
    pub width: u32,
    pub height: u32,
    pub from_ns: i64,
    pub to_ns: i64,
    pub unit: Unit,
    pub decimals: Option<usize>,
    pub y_min: Option<f64>,
    pub y_max: Option<f64>,
    pub thresholds: Vec<Threshold>,
    pub annotations: Vec<Annotation>,
    pub theme: Theme,
    pub legend: bool,
}

impl ChartSpec {
    pub fn new(width: u32, height: u32, from_ns: i64, to_ns: i64) -> ChartSpec {
        ChartSpec {
            width,
            height,
            from_ns,
            to_ns,
            unit: Unit::Short,
            decimals: None,
            y_min: None,
            y_max: None,
            thresholds: Vec::new(),
            annotations: Vec::new(),
            theme: Theme::Light,
            legend: true,
        }
    }
}

/// Per-series summary for legends, over every non-null value in range.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub avg: Option<f64>,
    pub last: Option<f64>,
    pub count: usize,
}

pub fn stats(points: &[(i64, Option<f64>)]) -> Stats {
    let mut s = Stats::default();
    let mut sum = 0.0;
    for v in points.iter().filter_map(|p| p.1).filter(|v| v.is_finite()) {
        s.min = Some(s.min.map_or(v, |m| m.min(v)));
        s.max = Some(s.max.map_or(v, |m| m.max(v)));
        s.last = Some(v);
        sum += v;
        s.count += 1;
    }
    if s.count > 0 {
        s.avg = Some(sum / s.count as f64);
    }
    s
}

/// Reduces `points` to at most a minimum and a maximum per column of `columns` over
/// `from..=to`, as line segments (a `None` or non-finite value ends a segment).
pub fn downsample(
    points: &[(i64, Option<f64>)],
    from: i64,
    to: i64,
    columns: u32,
) -> Vec<Vec<(i64, f64)>> {
    let span = (to as i128 - from as i128).max(1);
    let cols = columns.max(1) as i128;
    let column = |t: i64| ((t as i128 - from as i128) * cols / span) as i64;
    let mut segments = Vec::new();
    let mut seg: Vec<(i64, f64)> = Vec::new();
    // (column, (t, min), (t, max)) of the bucket being filled.
    type Bucket = (i64, (i64, f64), (i64, f64));
    let mut bucket: Option<Bucket> = None;
    let flush = |bucket: &mut Option<Bucket>, seg: &mut Vec<(i64, f64)>| {
        if let Some((_, lo, hi)) = bucket.take() {
            if lo.0 == hi.0 {
                seg.push(lo);
            } else if lo.0 < hi.0 {
                seg.extend([lo, hi]);
            } else {
                seg.extend([hi, lo]);
            }
        }
    };
    for &(t, v) in points {
        if t < from || t > to {
            continue;
        }
        let Some(v) = v.filter(|v| v.is_finite()) else {
            flush(&mut bucket, &mut seg);
            if !seg.is_empty() {
                segments.push(std::mem::take(&mut seg));
            }
            continue;
        };
        let c = column(t);
        match &mut bucket {
            Some((bc, lo, hi)) if *bc == c => {
                if v < lo.1 {
                    *lo = (t, v);
                }
                if v > hi.1 {
                    *hi = (t, v);
                }
            }
            _ => {
                flush(&mut bucket, &mut seg);
                bucket = Some((c, (t, v), (t, v)));
            }
        }
    }
    flush(&mut bucket, &mut seg);
    if !seg.is_empty() {
        segments.push(seg);
    }
    segments
}

struct Palette {
    bg: RGBColor,
    fg: RGBColor,
    grid: RGBColor,
    series: [RGBColor; 10],
}

fn palette(theme: Theme) -> Palette {
    let series = [
        RGBColor(0x37, 0x87, 0x2d),
        RGBColor(0x1f, 0x60, 0xc4),
        RGBColor(0xe0, 0x8a, 0x00),
        RGBColor(0xc4, 0x16, 0x2a),
        RGBColor(0x8f, 0x3b, 0xb8),
        RGBColor(0x0a, 0x93, 0x9b),
        RGBColor(0xb8, 0x77, 0x1f),
        RGBColor(0x70, 0x70, 0x70),
        RGBColor(0x5a, 0xa6, 0x4b),
        RGBColor(0xd6, 0x3b, 0x8a),
    ];
    match theme {
        Theme::Light => Palette {
            bg: RGBColor(0xff, 0xff, 0xff),
            fg: RGBColor(0x3a, 0x3f, 0x45),
            grid: RGBColor(0xe4, 0xe6, 0xea),
            series,
        },
        Theme::Dark => Palette {
            bg: RGBColor(0x18, 0x1b, 0x1f),
            fg: RGBColor(0xcc, 0xcc, 0xdc),
            grid: RGBColor(0x2c, 0x32, 0x35),
            series: [
                RGBColor(0x73, 0xbf, 0x69),
                RGBColor(0x5a, 0x9b, 0xf5),
                RGBColor(0xf2, 0xcc, 0x0c),
                RGBColor(0xf2, 0x49, 0x5c),
                RGBColor(0xb8, 0x77, 0xd9),
                RGBColor(0x45, 0xc5, 0xcc),
                RGBColor(0xff, 0x98, 0x30),
                RGBColor(0xa0, 0xa0, 0xa0),
                RGBColor(0x96, 0xd9, 0x8d),
                RGBColor(0xff, 0x7a, 0xb8),
            ],
        },
    }
}

pub fn series_color(theme: Theme, i: usize) -> String {
    let c = palette(theme).series[i % 10];
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn level_color(level: Level) -> RGBColor {
    match level {
        Level::Ok => RGBColor(0x37, 0x87, 0x2d),
        Level::Warn => RGBColor(0xe0, 0x8a, 0x00),
        Level::Crit => RGBColor(0xd4, 0x1e, 0x32),
    }
}

/// Points drawn per chart, over all its series. A point costs about 8 bytes of SVG, so this
/// keeps a chart near 40 KB (under the 60 KB page-weight target) whatever the range and the
/// number of series: 100 hosts' lines share the budget instead of weighing 100 times more.
pub const MAX_CHART_POINTS: usize = 4_000;

/// Lines drawn per chart; the legend says how many more the query returned. Past this the
/// budget leaves too few points per line to read, and the SVG would outgrow the cap.
pub const MAX_DRAWN_SERIES: usize = 100;

/// Pixel columns each of `n` series is reduced to (two points per column at most): the full
/// width while the budget allows it, fewer for many series (20 for 100 hosts).
pub fn columns_per_series(width: u32, n: usize) -> u32 {
    let n = n.clamp(1, MAX_DRAWN_SERIES);
    let budget = (MAX_CHART_POINTS / 2 / n) as u32;
    budget.clamp(1, width.max(1))
}

const LEGEND_ROW: u32 = 15;
const LEGEND_MAX_ROWS: usize = 8;
const FONT: &str = "sans-serif";

type DrawResult<T> = Result<T, String>;

fn e<E: std::fmt::Debug>(err: E) -> String {
    format!("{err:?}")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Draws `series` (or the no-data state when empty).
pub fn render(spec: &ChartSpec, series: &[Series]) -> String {
    let spec = sanitize(spec);
    if series
        .iter()
        .all(|s| s.points.iter().all(|p| p.1.is_none()))
    {
        return render_message(&spec, "No data", None);
    }
    match draw(&spec, series) {
        Ok(svg) => svg,
        Err(err) => render_error(&spec, &err),
    }
}

/// The error state: the panel stays the same size and says what went wrong.
pub fn render_error(spec: &ChartSpec, message: &str) -> String {
    let spec = sanitize(spec);
    render_message(&spec, "Query error", Some(message))
}

fn sanitize(spec: &ChartSpec) -> ChartSpec {
    let mut s = spec.clone();
    s.width = s.width.clamp(120, 4000);
    s.height = s.height.clamp(80, 3000);
    if s.to_ns <= s.from_ns {
        s.to_ns = s.from_ns.saturating_add(1_000_000_000);
    }
    s
}

fn render_message(spec: &ChartSpec, headline: &str, detail: Option<&str>) -> String {
    let p = palette(spec.theme);
    let mut buf = String::new();
    let result = (|| -> DrawResult<()> {
        let root = SVGBackend::with_string(&mut buf, (spec.width, spec.height)).into_drawing_area();
        root.fill(&p.bg).map_err(e)?;
        let (w, h) = (spec.width as i32, spec.height as i32);
        root.draw(&Rectangle::new([(0, 0), (w - 1, h - 1)], p.grid))
            .map_err(e)?;
        let color = if detail.is_some() {
            level_color(Level::Crit)
        } else {
            p.fg
        };
        let center = Pos::new(HPos::Center, VPos::Center);
        let big = (FONT, 16).into_font().color(&color).pos(center);
        root.draw(&Text::new(headline.to_string(), (w / 2, h / 2 - 10), big))
            .map_err(e)?;
        if let Some(d) = detail {
            let small = (FONT, 12).into_font().color(&p.fg).pos(center);
            let max_chars = (spec.width / 7).max(10) as usize;
            root.draw(&Text::new(
                truncate(d, max_chars),
                (w / 2, h / 2 + 12),
                small,
            ))
            .map_err(e)?;
        }
        root.present().map_err(e)?;
        Ok(())
    })();
    match result {
        Ok(()) => buf,
        // Only reachable if plotters cannot write to a String; keep a valid, empty SVG.
        Err(_) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\"></svg>",
            spec.width, spec.height
        ),
    }
}

fn y_range(spec: &ChartSpec, segments: &[Vec<Vec<(i64, f64)>>]) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (_, v) in segments.iter().flatten().flatten() {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(if hi == lo { hi.abs() * 0.1 + 1.0 } else { 0.0 });
    // Metrics that cannot go negative read best from a zero baseline: a flat 40% line
    // should not fill the panel like a 0-100% swing.
    let mut lo = spec.y_min.unwrap_or(if lo >= 0.0 { 0.0 } else { lo - pad });
    let mut hi = spec.y_max.map_or(hi + pad, |m| m.max(hi.min(m)));
    if hi <= lo {
        hi = lo + 1.0;
    }
    if !(lo.is_finite() && hi.is_finite()) {
        (lo, hi) = (0.0, 1.0);
    }
    (lo, hi)
}

/// Tick times at a round step (1 min, 5 min, 1 h, 1 d, …) giving about `n` labels,
/// aligned to UTC so labels read 07:00, 07:15 rather than 07:03, 07:19.
pub fn time_ticks(from: i64, to: i64, n: usize) -> Vec<i64> {
    const S: i64 = 1_000_000_000;
    const STEPS: &[i64] = &[
        S,
        2 * S,
        5 * S,
        10 * S,
        15 * S,
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
        2 * 86_400 * S,
        7 * 86_400 * S,
        14 * 86_400 * S,
        30 * 86_400 * S,
    ];
    let span = (to - from).max(1);
    let n = n.max(2) as i64;
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s <= n)
        .unwrap_or_else(|| (span / n).max(S));
    let first = from.div_euclid(step) * step + if from.rem_euclid(step) == 0 { 0 } else { step };
    (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= to)
        .take(64)
        .collect()
}

fn draw(spec: &ChartSpec, series: &[Series]) -> DrawResult<String> {
    let p = palette(spec.theme);
    let shown = series.len().min(LEGEND_MAX_ROWS);
    let legend_rows = if spec.legend {
        shown + 1 + usize::from(series.len() > shown)
    } else {
        0
    };
    let legend_h = (legend_rows as u32 * LEGEND_ROW + 6).min(spec.height / 2);
    let legend_h = if spec.legend { legend_h } else { 0 };
    let columns = columns_per_series(spec.width, series.len());
    let segments: Vec<Vec<Vec<(i64, f64)>>> = series
        .iter()
        .take(MAX_DRAWN_SERIES)
        .map(|s| downsample(&s.points, spec.from_ns, spec.to_ns, columns))
        .collect();
    let (y_lo, y_hi) = y_range(spec, &segments);
    let span = spec.to_ns - spec.from_ns;
    let mut buf = String::new();
    // The plot area's corners in SVG pixels, for the script's tooltips and drag-zoom.
    let corners;
    let mut annotated = 0usize;
    {
        let root = SVGBackend::with_string(&mut buf, (spec.width, spec.height)).into_drawing_area();
        root.fill(&p.bg).map_err(e)?;
        let (plot_area, legend_area) = root.split_vertically(spec.height - legend_h);
        let x_fmt = |v: &i64| format_tick(*v, span);
        let y_fmt = |v: &f64| format_value(*v, spec.unit, spec.decimals);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(6)
            // Room for the last time label, which is centred on the right edge.
            .margin_right(22)
            .x_label_area_size(18)
            .y_label_area_size(58)
            .build_cartesian_2d(
                (spec.from_ns..spec.to_ns).with_key_points(time_ticks(
                    spec.from_ns,
                    spec.to_ns,
                    (spec.width / 110) as usize,
                )),
                y_lo..y_hi,
            )
            .map_err(e)?;
        let label = (FONT, 11).into_font().color(&p.fg);
        chart
            .configure_mesh()
            .y_labels((spec.height / 40).clamp(2, 8) as usize)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(label)
            .axis_style(p.grid)
            .bold_line_style(p.grid)
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(e)?;
        corners = (
            chart.backend_coord(&(spec.from_ns, y_hi)),
            chart.backend_coord(&(spec.to_ns, y_lo)),
        );
        for t in &spec.thresholds {
            let (a, b) = (t.from.max(y_lo), t.to.min(y_hi));
            if a < b {
                let band = level_color(t.level).mix(0.14).filled();
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(spec.from_ns, a), (spec.to_ns, b)],
                        band,
                    )))
                    .map_err(e)?;
            }
        }
        for (i, segs) in segments.iter().enumerate() {
            let color = p.series[i % 10];
            for seg in segs {
                chart
                    .draw_series(LineSeries::new(seg.iter().copied(), color.stroke_width(1)))
                    .map_err(e)?;
            }
        }
        for a in &spec.annotations {
            if a.at_ns < spec.from_ns || a.at_ns > spec.to_ns {
                continue;
            }
            let c = level_color(a.level);
            annotated += 1;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(a.at_ns, y_lo), (a.at_ns, y_hi)],
                    c.stroke_width(1),
                )))
                .map_err(e)?;
            // Labels near the right edge go left of their marker, or they are cut off.
            let right_half =
                (a.at_ns - spec.from_ns) as f64 > (spec.to_ns - spec.from_ns) as f64 * 0.6;
            let h = if right_half { HPos::Right } else { HPos::Left };
            let style = (FONT, 10).into_font().color(&c).pos(Pos::new(h, VPos::Top));
            chart
                .draw_series(std::iter::once(Text::new(
                    truncate(&a.text, 30),
                    (a.at_ns, y_hi),
                    style,
                )))
                .map_err(e)?;
        }
        if spec.legend {
            draw_legend(spec, series, &legend_area, &p)?;
        }
        root.present().map_err(e)?;
    }
    let segs: Vec<usize> = segments.iter().map(Vec::len).collect();
    let meta = ChartMeta {
        corners,
        range_ns: (spec.from_ns, spec.to_ns),
        values: (y_lo, y_hi),
        unit: spec.unit,
        names: series
            .iter()
            .take(segs.len())
            .map(|s| s.name.as_str())
            .collect(),
        // Every line is a <polyline>; the series' come after the axes and the mesh and
        // before one per annotation marker.
        first_line: buf
            .matches("<polyline")
            .count()
            .saturating_sub(annotated + segs.iter().sum::<usize>()),
        segs,
    };
    Ok(meta.annotate(buf))
}

/// What `static/tigk.js` needs to read values off a chart, as data attributes on its
/// `<svg>`: pixel corners of the plot, the time and value ranges they stand for, the unit,
/// and which `<polyline>`s belong to which series.
struct ChartMeta<'a> {
    corners: ((i32, i32), (i32, i32)),
    range_ns: (i64, i64),
    values: (f64, f64),
    unit: Unit,
    names: Vec<&'a str>,
    first_line: usize,
    segs: Vec<usize>,
}

impl ChartMeta<'_> {
    fn annotate(&self, svg: String) -> String {
        let ((x0, y0), (x1, y1)) = self.corners;
        let names = serde_json::to_string(&self.names).unwrap_or_else(|_| "[]".into());
        let segs: Vec<String> = self.segs.iter().map(usize::to_string).collect();
        let attrs = format!(
            "<svg class=\"chart\" data-plot=\"{x0} {y0} {x1} {y1}\" data-t=\"{} {}\" \
             data-v=\"{} {}\" data-unit=\"{}\" data-first=\"{}\" data-segs=\"{}\" \
             data-names=\"{}\"",
            self.range_ns.0 / 1_000_000,
            self.range_ns.1 / 1_000_000,
            self.values.0,
            self.values.1,
            self.unit.as_str(),
            self.first_line,
            segs.join(" "),
            crate::web::html_escape(&names),
        );
        match svg.strip_prefix("<svg") {
            Some(rest) => attrs + rest,
            None => svg,
        }
    }
}

fn draw_legend(
    spec: &ChartSpec,
    series: &[Series],
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    p: &Palette,
) -> DrawResult<()> {
    let w = spec.width as i32;
    let right = Pos::new(HPos::Right, VPos::Top);
    let cols = [w - 6, w - 76, w - 146, w - 216];
    let head = (FONT, 11).into_font().color(&p.fg);
    for (x, name) in cols.iter().zip(["last", "avg", "max", "min"]) {
        area.draw(&Text::new(name, (*x, 2), head.clone().pos(right)))
            .map_err(e)?;
    }
    let name_chars = ((w - 250).max(40) / 7) as usize;
    for (i, s) in series.iter().take(LEGEND_MAX_ROWS).enumerate() {
        let y = (i as i32 + 1) * LEGEND_ROW as i32 + 2;
        let color = p.series[i % 10];
        area.draw(&Rectangle::new([(8, y + 3), (18, y + 9)], color.filled()))
            .map_err(e)?;
        let text = (FONT, 11).into_font().color(&p.fg);
        area.draw(&Text::new(
            truncate(&s.name, name_chars),
            (24, y),
            text.clone().pos(Pos::new(HPos::Left, VPos::Top)),
        ))
        .map_err(e)?;
        let st = stats(&s.points);
        let fmt = |v: Option<f64>| {
            v.map_or("-".to_string(), |v| {
                format_value(v, spec.unit, spec.decimals)
            })
        };
        for (x, v) in cols.iter().zip([st.last, st.avg, st.max, st.min]) {
            area.draw(&Text::new(fmt(v), (*x, y), text.clone().pos(right)))
                .map_err(e)?;
        }
    }
    if series.len() > LEGEND_MAX_ROWS {
        let y = (LEGEND_MAX_ROWS as i32 + 1) * LEGEND_ROW as i32 + 2;
        let text = (FONT, 11).into_font().color(&p.fg);
        area.draw(&Text::new(
            if series.len() > MAX_DRAWN_SERIES {
                format!(
                    "and {} more series (only the first {MAX_DRAWN_SERIES} are drawn)",
                    series.len() - LEGEND_MAX_ROWS
                )
            } else {
                format!("and {} more series", series.len() - LEGEND_MAX_ROWS)
            },
            (24, y),
            text.pos(Pos::new(HPos::Left, VPos::Top)),
        ))
        .map_err(e)?;
    }
    Ok(())
}

/// A tiny line for stat panels: no axes, no text; hand-written because it is one path.
pub fn sparkline(points: &[(i64, Option<f64>)], width: u32, height: u32, theme: Theme) -> String {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return String::new();
    };
    let segs = downsample(points, first.0, last.0, width);
    let vals = segs.iter().flatten().map(|p| p.1);
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if !lo.is_finite() {
        return String::new();
    }
    let span_t = (last.0 - first.0).max(1) as f64;
    let span_v = if hi > lo { hi - lo } else { 1.0 };
    let (w, h) = (width as f64, height as f64);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"spark\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    for seg in &segs {
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"",
            series_color(theme, 1)
        ));
        for (t, v) in seg {
            let x = (*t - first.0) as f64 / span_t * (w - 2.0) + 1.0;
            let y = h - 1.0 - (v - lo) / span_v * (h - 2.0);
            out.push_str(&format!("{x:.1},{y:.1} "));
        }
        out.push_str("\"/>");
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests;
