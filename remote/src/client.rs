//! The HTTP client: `/query` and `/write` over several URLs with failover.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tsdb::query::{Cell, SeriesResult, StatementResult};

use crate::Error;

/// How the client authenticates.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    #[default]
    None,
    /// HTTP Basic (InfluxDB 1.x users).
    Basic { username: String, password: String },
    /// `Authorization: Token ...` (InfluxDB 1.8+ `user:password`, Enterprise and 3.x tokens).
    Token(String),
}

impl std::fmt::Debug for Auth {
    // Secrets stay out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic({username:?}, ***)"),
            Auth::Token(_) => f.write_str("Token(***)"),
        }
    }
}

/// What the client needs, validated by the caller's configuration.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URLs (`http://host:8086`), tried in order from the last one that answered.
    pub urls: Vec<String>,
    pub auth: Auth,
    /// One request's whole time (connect, send, answer).
    pub timeout: Duration,
    /// Rounds over every URL before giving up; a back-off of `backoff × round` separates them.
    pub rounds: usize,
    pub backoff: Duration,
    /// DER certificates to trust for https URLs instead of the bundled web roots (a private
    /// CA); empty: the web roots.
    pub tls_ca: Vec<Vec<u8>>,
}

impl ClientConfig {
    pub fn new(urls: Vec<String>) -> ClientConfig {
        ClientConfig {
            urls,
            auth: Auth::None,
            timeout: Duration::from_secs(30),
            rounds: 2,
            backoff: Duration::from_millis(250),
            tls_ca: Vec::new(),
        }
    }
}

/// A query answer can be large (a dashboard over a long range); beyond this it is refused
/// rather than held in memory.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

/// A connection attempt to a dead node should not hold up the failover for long.
const MAX_CONNECT: Duration = Duration::from_secs(3);

/// A client of one remote engine. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    urls: Vec<String>,
    auth: Option<String>,
    rounds: usize,
    backoff: Duration,
    /// The URL that answered last: requests start there, so one dead node costs one
    /// connection error, not one per request.
    current: AtomicUsize,
}

/// One HTTP answer: status and body.
struct Answer {
    status: u16,
    body: String,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, Error> {
        if cfg.urls.is_empty() {
            return Err(Error::Config(
                "the remote engine needs at least one URL".into(),
            ));
        }
        let mut urls = Vec::with_capacity(cfg.urls.len());
        for u in &cfg.urls {
            let u = u.trim_end_matches('/');
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(Error::Config(format!(
                    "remote URL {u:?} must start with http:// or https://"
                )));
            }
            urls.push(u.to_string());
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if !cfg.tls_ca.is_empty() {
            let certs: Vec<ureq::tls::Certificate<'static>> = cfg
                .tls_ca
                .iter()
                .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
                .collect();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_global(Some(cfg.timeout))
            .timeout_connect(Some(cfg.timeout.min(MAX_CONNECT)))
            .user_agent(concat!("tigk/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let auth = match &cfg.auth {
            Auth::None => None,
            Auth::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Auth::Token(t) => Some(format!("Token {t}")),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                agent,
                urls,
                auth,
                rounds: cfg.rounds.max(1),
                backoff: cfg.backoff,
                current: AtomicUsize::new(0),
            }),
        })
    }

    /// The URLs, in configured order.
    pub fn urls(&self) -> &[String] {
        &self.inner.urls
    }

    /// Runs `q` (one or more statements) with `db`/`rp` as defaults; one result per
    /// statement, a statement's error in its result (as 1.x answers with 200).
    pub fn query(&self, db: &str, rp: &str, q: &str) -> Result<Vec<StatementResult>, Error> {
        let mut form: Vec<(&str, &str)> = vec![("q", q), ("epoch", "ns")];
        if !db.is_empty() {
            form.push(("db", db));
        }
        if !rp.is_empty() {
            form.push(("rp", rp));
        }
        let answer = self.send(|agent, base, auth| {
            let mut req = agent.post(format!("{base}/query"));
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req.send_form(form.iter().copied())
        })?;
        match answer.status {
            200 => parse_results(&answer.body),
            s => Err(status_error(s, &answer.body)),
        }
    }

    /// Runs one statement and returns its series, its error as `Err`.
    pub fn query_one(&self, db: &str, rp: &str, q: &str) -> Result<Vec<SeriesResult>, Error> {
        let mut results = self.query(db, rp, q)?;
        if results.is_empty() {
            return Ok(Vec::new());
        }
        let r = results.swap_remove(0);
        match r.error {
            Some(e) => Err(Error::Query(e)),
            None => Ok(r.series),
        }
    }

    /// Writes line protocol (nanosecond timestamps) into `db`/`rp` (`rp` empty: the default).
    pub fn write(&self, db: &str, rp: &str, lines: &str) -> Result<(), Error> {
        let answer = self.send(|agent, base, auth| {
            let mut req = agent
                .post(format!("{base}/write"))
                .query("db", db)
                .query("precision", "ns");
            if !rp.is_empty() {
                req = req.query("rp", rp);
            }
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req.send(lines)
        })?;
        match answer.status {
            200 | 204 => Ok(()),
            s => Err(status_error(s, &answer.body)),
        }
    }

    /// Passes a client's `/write` body on as it came (`gzip`: still compressed), with its
    /// `precision` (empty: nanoseconds); points without a time get the engine's.
    pub fn write_body(
        &self,
        db: &str,
        rp: &str,
        precision: &str,
        body: &[u8],
        gzip: bool,
    ) -> Result<(), Error> {
        let answer = self.send(|agent, base, auth| {
            let mut req = agent.post(format!("{base}/write")).query("db", db);
            if !rp.is_empty() {
                req = req.query("rp", rp);
            }
            if !precision.is_empty() {
                req = req.query("precision", precision);
            }
            if gzip {
                req = req.header("Content-Encoding", "gzip");
            }
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req.send(body)
        })?;
        match answer.status {
            200 | 204 => Ok(()),
            s => Err(status_error(s, &answer.body)),
        }
    }

    /// Sends a request to each URL in turn from the current one until one answers with a
    /// status below 500. Retrying a write is safe: 1.x overwrites a point with the same
    /// series and time.
    fn send(
        &self,
        request: impl Fn(
            &ureq::Agent,
            &str,
            Option<&str>,
        ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer, Error> {
        let inner = &self.inner;
        let n = inner.urls.len();
        let start = inner.current.load(Ordering::Relaxed) % n;
        let mut last = String::new();
        for round in 0..inner.rounds {
            if round > 0 {
                std::thread::sleep(inner.backoff * round as u32);
            }
            for k in 0..n {
                let i = (start + k) % n;
                let Some(base) = inner.urls.get(i) else {
                    continue;
                };
                match request(&inner.agent, base, inner.auth.as_deref()) {
                    Ok(mut resp) => {
                        let status = resp.status().as_u16();
                        let body = resp
                            .body_mut()
                            .with_config()
                            .limit(MAX_RESPONSE_BYTES)
                            .read_to_string()
                            .map_err(|e| Error::Protocol(format!("{base}: {e}")));
                        if status >= 500 {
                            last = format!("{base}: HTTP {status}: {}", error_text(&body?));
                            tracing::warn!("remote engine {last}; trying the next URL");
                            continue;
                        }
                        inner.current.store(i, Ordering::Relaxed);
                        return Ok(Answer {
                            status,
                            body: body?,
                        });
                    }
                    Err(e) => {
                        last = format!("{base}: {e}");
                        tracing::warn!("remote engine {last}; trying the next URL");
                    }
                }
            }
        }
        Err(Error::Unavailable(last))
    }
}

/// The certificates of a PEM file, as DER for [`ClientConfig::tls_ca`].
pub fn load_ca(pem: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let certs: Vec<Vec<u8>> = ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.der().to_vec()),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Error::Config("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// `{"error": "..."}`'s text, or the body itself.
fn error_text(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.trim().chars().take(500).collect())
}

fn status_error(status: u16, body: &str) -> Error {
    let text = error_text(body);
    match status {
        401 | 403 => Error::Auth(text),
        _ => Error::Query(text),
    }
}

/// 1.x's JSON answer into statement results. Numbers keep what JSON can tell: a number
/// written without a fraction or exponent is an integer (as Kapacitor reads it), so a float
/// field whose value is whole comes back as an integer; `time` (epoch=ns) is a time.
pub(crate) fn parse_results(body: &str) -> Result<Vec<StatementResult>, Error> {
    let v: Value = serde_json::from_str(body).map_err(|e| Error::Protocol(e.to_string()))?;
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        return Err(Error::Query(e.to_string()));
    }
    let Some(results) = v.get("results").and_then(Value::as_array) else {
        return Err(Error::Protocol("no \"results\" in the answer".into()));
    };
    let mut out = Vec::with_capacity(results.len());
    for (i, r) in results.iter().enumerate() {
        let mut sr = StatementResult {
            statement_id: r
                .get("statement_id")
                .and_then(Value::as_u64)
                .map_or(i, |n| n as usize),
            error: r.get("error").and_then(Value::as_str).map(str::to_string),
            ..StatementResult::default()
        };
        for m in r
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let level = m.get("level").and_then(Value::as_str).unwrap_or_default();
            let text = m.get("text").and_then(Value::as_str).unwrap_or_default();
            sr.messages.push((level.to_string(), text.to_string()));
        }
        for s in r
            .get("series")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            sr.series.push(parse_series(s)?);
        }
        out.push(sr);
    }
    Ok(out)
}

fn parse_series(s: &Value) -> Result<SeriesResult, Error> {
    let columns: Vec<String> = s
        .get("columns")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Protocol("a series without columns".into()))?
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect();
    let tags = s.get("tags").and_then(Value::as_object).map(|m| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect::<BTreeMap<_, _>>()
    });
    let time_col = columns.iter().position(|c| c == "time");
    let mut values = Vec::new();
    for row in s
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let row = row
            .as_array()
            .ok_or_else(|| Error::Protocol("a row that is not an array".into()))?;
        values.push(
            row.iter()
                .enumerate()
                .map(|(i, v)| cell(v, Some(i) == time_col))
                .collect(),
        );
    }
    Ok(SeriesResult {
        name: s.get("name").and_then(Value::as_str).map(str::to_string),
        tags,
        columns,
        values,
    })
}

fn cell(v: &Value, is_time: bool) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Boolean(*b),
        Value::String(s) => Cell::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if is_time {
                    Cell::Time(i)
                } else {
                    Cell::Integer(i)
                }
            } else if let Some(u) = n.as_u64() {
                Cell::Unsigned(u)
            } else {
                Cell::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        // 1.x never nests values; keep the text rather than fail the whole answer.
        other => Cell::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_series_errors_and_numbers() {
        let body = r#"{"results":[
            {"statement_id":0,"series":[{"name":"cpu","tags":{"cpu":"cpu0"},
              "columns":["time","mean","n","ok","s"],
              "values":[[1700000000000000000,12.5,3,true,"x"],[1700000060000000000,null,18446744073709551615,false,"y"]]}]},
            {"statement_id":1,"error":"database not found: nope"},
            {"statement_id":2,"messages":[{"level":"warning","text":"deprecated"}]}
        ]}"#;
        let r = parse_results(body).expect("parsed");
        assert_eq!(r.len(), 3);
        let s = &r[0].series[0];
        assert_eq!(s.name.as_deref(), Some("cpu"));
        assert_eq!(
            s.tags
                .as_ref()
                .and_then(|t| t.get("cpu"))
                .map(String::as_str),
            Some("cpu0")
        );
        assert_eq!(
            s.values[0],
            vec![
                Cell::Time(1_700_000_000_000_000_000),
                Cell::Float(12.5),
                Cell::Integer(3),
                Cell::Boolean(true),
                Cell::String("x".into())
            ]
        );
        assert_eq!(s.values[1][1], Cell::Null);
        assert_eq!(s.values[1][2], Cell::Unsigned(u64::MAX));
        assert_eq!(r[1].error.as_deref(), Some("database not found: nope"));
        assert_eq!(
            r[2].messages,
            vec![("warning".to_string(), "deprecated".to_string())]
        );
    }

    #[test]
    fn a_top_level_error_is_a_query_error() {
        let e = parse_results(r#"{"error":"error parsing query: found EOF"}"#)
            .expect_err("an error answer");
        assert!(matches!(e, Error::Query(t) if t.contains("found EOF")));
        assert!(matches!(parse_results("<html>"), Err(Error::Protocol(_))));
    }

    #[test]
    fn urls_are_checked_and_secrets_not_printed() {
        assert!(Client::new(ClientConfig::new(vec![])).is_err());
        assert!(Client::new(ClientConfig::new(vec!["influx:8086".into()])).is_err());
        let auth = Auth::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Token("tok".into())).contains("tok"));
    }

    #[test]
    fn every_url_down_is_unavailable_after_the_rounds() {
        // Ports from closed listeners: nothing answers there.
        let dead = |_: u8| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            format!("http://{}", l.local_addr().expect("addr"))
        };
        let mut cfg = ClientConfig::new(vec![dead(0), dead(1)]);
        cfg.backoff = Duration::from_millis(1);
        let c = Client::new(cfg).expect("client");
        assert!(matches!(
            c.query("db", "", "SHOW DATABASES"),
            Err(Error::Unavailable(_))
        ));
    }
}
