//! The time-range picker. The range lives in the URL (`from=now-6h&to=now`, or absolute
//! `from=2026-11-24T07:00&to=…`, UTC) so every view is a shareable link and the back
//! button works.

use serde::{Deserialize, Serialize};

use crate::error::{Result, UiError};
use crate::units::{format_datetime_local, parse_datetime};
use crate::web::url_encode;

const NS: i64 = 1_000_000_000;
const MAX_SPAN: i64 = 400 * 86_400 * NS;
const MIN_SPAN: i64 = 10 * NS;

/// Quick ranges offered as links.
pub const QUICK: &[&str] = &["15m", "1h", "6h", "24h", "7d"];

/// Auto-refresh choices. Nothing faster than 10 s: a wall of panels refreshing every
/// second is the load Grafana's `min_refresh_interval` exists to stop.
pub const REFRESH: &[(&str, u32)] = &[
    ("10s", 10),
    ("30s", 30),
    ("1m", 60),
    ("5m", 300),
    ("15m", 900),
];

#[derive(Debug, Clone, Deserialize, Default)]
pub struct RangeParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub refresh: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimeRange {
    pub from: String,
    pub to: String,
    pub from_ns: i64,
    pub to_ns: i64,
    /// Reload period, one of [`REFRESH`]; unknown values mean off.
    pub refresh: Option<(&'static str, u32)>,
}

fn parse_end(s: &str, now: i64) -> Result<i64> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if let Some(d) = s.strip_prefix("now-") {
        let d = influxql::parse_duration(d)
            .map_err(|_| UiError::BadRequest(format!("bad relative time {s:?}")))?;
        return Ok(now.saturating_sub(d));
    }
    parse_datetime(s).ok_or_else(|| {
        UiError::BadRequest(format!(
            "bad time {s:?}: use now, now-6h or 2026-11-24T07:00 (UTC)"
        ))
    })
}

impl TimeRange {
    pub fn parse(p: &RangeParams, now_ns: i64) -> Result<TimeRange> {
        let from = p
            .from
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("now-1h");
        let to = p.to.as_deref().filter(|s| !s.is_empty()).unwrap_or("now");
        let (from_ns, to_ns) = (parse_end(from, now_ns)?, parse_end(to, now_ns)?);
        let span = to_ns.saturating_sub(from_ns);
        if span < MIN_SPAN {
            return Err(UiError::BadRequest(
                "the range must end at least 10 seconds after it starts".into(),
            ));
        }
        if span > MAX_SPAN {
            return Err(UiError::BadRequest(
                "the range is limited to 400 days".into(),
            ));
        }
        let refresh = p
            .refresh
            .as_deref()
            .and_then(|r| REFRESH.iter().copied().find(|(name, _)| *name == r));
        Ok(TimeRange {
            from: from.to_string(),
            to: to.to_string(),
            from_ns,
            to_ns,
            refresh,
        })
    }

    pub fn span(&self) -> i64 {
        self.to_ns - self.from_ns
    }

    fn refresh_param(&self) -> String {
        self.refresh
            .map(|(r, _)| format!("&refresh={r}"))
            .unwrap_or_default()
    }

    /// `from=…&to=…[&refresh=…]`, encoded for a URL.
    pub fn query(&self) -> String {
        format!(
            "from={}&to={}{}",
            url_encode(&self.from),
            url_encode(&self.to),
            self.refresh_param()
        )
    }

    /// Shifting or zooming pins the range, so refreshing it would show the same data.
    fn absolute(from_ns: i64, to_ns: i64) -> String {
        format!(
            "from={}&to={}",
            url_encode(&format_datetime_local(from_ns)),
            url_encode(&format_datetime_local(to_ns))
        )
    }

    /// Everything the picker template shows. `base` is the page's path, `extra` its other
    /// query parameters (already encoded, `&`-joined, may be empty).
    pub fn view(&self, base: &str, extra: &str) -> RangeView {
        let sep = if extra.is_empty() { "" } else { "&" };
        let href = |q: String| format!("{base}?{extra}{sep}{q}");
        let quick = QUICK
            .iter()
            .map(|q| QuickLink {
                label: q.to_string(),
                href: href(format!("from=now-{q}&to=now{}", self.refresh_param())),
                active: self.from == format!("now-{q}") && self.to == "now",
            })
            .collect();
        let half = self.span() / 2;
        RangeView {
            quick,
            from_input: format_datetime_local(self.from_ns),
            to_input: format_datetime_local(self.to_ns),
            earlier: href(Self::absolute(self.from_ns - half, self.to_ns - half)),
            later: href(Self::absolute(self.from_ns + half, self.to_ns + half)),
            zoom_out: href(Self::absolute(self.from_ns - half, self.to_ns + half)),
            base: base.to_string(),
            hidden: extra
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (decode(k), decode(v)))
                .collect(),
            current: href(self.query()),
            from: self.from.clone(),
            to: self.to.clone(),
            refresh_choice: self.refresh.map(|r| r.0.to_string()).unwrap_or_default(),
            refresh_secs: self.refresh.map(|r| r.1),
            refresh: std::iter::once(("off", None))
                .chain(REFRESH.iter().map(|(n, _)| (*n, Some(*n))))
                .map(|(label, r)| QuickLink {
                    label: label.to_string(),
                    href: href(format!(
                        "from={}&to={}{}",
                        url_encode(&self.from),
                        url_encode(&self.to),
                        r.map(|r| format!("&refresh={r}")).unwrap_or_default()
                    )),
                    active: self.refresh.map(|x| x.0) == r,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct QuickLink {
    pub label: String,
    pub href: String,
    pub active: bool,
}

#[derive(Debug, Serialize)]
pub struct RangeView {
    pub quick: Vec<QuickLink>,
    pub from_input: String,
    pub to_input: String,
    pub earlier: String,
    pub later: String,
    pub zoom_out: String,
    pub base: String,
    /// Other parameters the absolute-range form must carry along.
    pub hidden: Vec<(String, String)>,
    /// This page's URL, for forms that come back here.
    pub current: String,
    /// The range as given, for forms that keep it (`now-6h`, `now`).
    pub from: String,
    pub to: String,
    /// The refresh choice (`30s`), empty when off.
    pub refresh_choice: String,
    /// For `<meta http-equiv="refresh">`: reloading the page is the no-JS refresh.
    pub refresh_secs: Option<u32>,
    pub refresh: Vec<QuickLink>,
}

/// Percent-decoding for our own encoded parameters (`url_encode`'s inverse).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute() {
        let now = 1_000_000 * NS;
        let r = TimeRange::parse(&RangeParams::default(), now).expect("default");
        assert_eq!((r.from_ns, r.to_ns), (now - 3600 * NS, now));
        let p = RangeParams {
            from: Some("2026-11-24T07:00".into()),
            to: Some("2026-11-24T08:00".into()),
            refresh: Some("1s".into()),
        };
        let r = TimeRange::parse(&p, now).expect("absolute");
        assert_eq!(r.span(), 3600 * NS);
        assert_eq!(r.refresh, None, "below the minimum is off");
        for (from, to) in [
            ("now", "now-1h"),
            ("now-999d", "now"),
            ("junk", "now"),
            ("now-1h", "2026-99-01"),
        ] {
            let p = RangeParams {
                from: Some(from.into()),
                to: Some(to.into()),
                refresh: None,
            };
            assert!(TimeRange::parse(&p, now).is_err(), "{from}..{to}");
        }
    }

    #[test]
    fn view_links_keep_other_parameters() {
        let now = 1_000_000 * NS;
        let p = RangeParams {
            from: Some("now-6h".into()),
            to: Some("now".into()),
            refresh: Some("30s".into()),
        };
        let r = TimeRange::parse(&p, now).expect("range");
        let v = r.view("/hosts/web%201", "panel=cpu%20x");
        assert!(v.quick.iter().any(|q| q.active && q.label == "6h"));
        assert!(
            v.quick[0]
                .href
                .starts_with("/hosts/web%201?panel=cpu%20x&from=now-15m")
        );
        assert_eq!(v.hidden, vec![("panel".to_string(), "cpu x".to_string())]);
        assert!(v.zoom_out.contains("from=") && !v.zoom_out.contains("refresh"));
        assert_eq!(v.refresh_secs, Some(30));
        assert!(v.quick[0].href.ends_with("&refresh=30s"));
        assert!(v.refresh.iter().any(|r| r.active && r.label == "30s"));
        assert_eq!(decode("a%2"), "a%2");
    }
}
