//! Alert handlers: definitions checked at task definition, and delivery apart from
//! evaluation (one bounded queue and worker per handler, every delivery under a timeout),
//! so that a hung webhook never delays evaluation or the other handlers.
//!
//! Outbound addresses go through the guard in `super::guard`, at definition and again on
//! every delivery.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

pub use super::guard::is_restricted;
pub(crate) use super::guard::{check_host_literal, parse_http_url};
use super::guard::{resolve, split_host_port};
use crate::error::Error;
use crate::options::Options;
use crate::tick::{Arg, GraphNode};

/// A handler of an alert node.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerSpec {
    /// Appends one JSON line per event.
    Log { path: PathBuf, mode: u32 },
    /// POSTs the JSON.
    Post {
        url: String,
        host: String,
        port: u16,
        path: String,
        headers: Vec<(String, String)>,
        timeout: Option<Duration>,
    },
    /// Writes the JSON to a TCP connection.
    Tcp { host: String, port: u16 },
    /// Runs an allow-listed program (no shell) with the JSON on its stdin.
    Exec { program: PathBuf, args: Vec<String> },
    /// Mails the message (subject) and details (HTML body) through the configured SMTP
    /// server.
    Email { to: Vec<String> },
    /// Posts Kapacitor's Slack payload to the configured webhook.
    Slack {
        channel: String,
        username: String,
        icon_emoji: String,
    },
}

fn sub_str(p: &crate::tick::Property, name: &str) -> Option<String> {
    p.sub
        .iter()
        .rev()
        .find(|s| s.name == name)
        .and_then(|s| first_str(&s.args))
}

fn first_str(args: &[Arg]) -> Option<String> {
    match args.first()? {
        Arg::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Builds and checks the handlers of an alert node.
pub(crate) fn build(n: &GraphNode, opts: &Options) -> Result<Vec<HandlerSpec>, Error> {
    let bad = |m: String| Error::Invalid(format!("{}: {m}", n.name()));
    let mut out = Vec::new();
    for p in &n.properties {
        match p.name.as_str() {
            "log" => {
                let path = first_str(&p.args).unwrap_or_default();
                let path = if opts.skip_handler_checks {
                    PathBuf::from(path)
                } else {
                    check_log_path(&path, opts).map_err(bad)?
                };
                let mode = p
                    .sub
                    .iter()
                    .rev()
                    .find(|s| s.name == "mode")
                    .and_then(|s| match s.args.first() {
                        Some(Arg::Int(m)) => Some(*m as u32),
                        _ => None,
                    })
                    .unwrap_or(0o600);
                out.push(HandlerSpec::Log { path, mode });
            }
            "post" => {
                if p.sub
                    .iter()
                    .any(|s| s.name == "endpoint" || s.name == "captureResponse")
                {
                    return Err(Error::Unsupported(format!(
                        "{}: post .endpoint() and .captureResponse() are not supported yet",
                        n.name()
                    )));
                }
                let Some(url) = first_str(&p.args) else {
                    return Err(bad("post needs a URL".into()));
                };
                let (host, port, path) = crate::alert::notify::url_host_port(&url).map_err(bad)?;
                if !opts.skip_handler_checks {
                    check_host_literal(&host, opts).map_err(bad)?;
                }
                let headers = p
                    .sub
                    .iter()
                    .filter(|s| s.name == "header")
                    .filter_map(|s| match s.args.as_slice() {
                        [Arg::String(k), Arg::String(v)] => Some((k.clone(), v.clone())),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                for (k, v) in &headers {
                    if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
                        return Err(bad(format!("invalid post header {k:?}")));
                    }
                }
                let timeout =
                    p.sub
                        .iter()
                        .rev()
                        .find(|s| s.name == "timeout")
                        .and_then(|s| match s.args.first() {
                            Some(Arg::Duration(d)) if *d > 0 => {
                                Some(Duration::from_nanos(*d as u64))
                            }
                            _ => None,
                        });
                out.push(HandlerSpec::Post {
                    url,
                    host,
                    port,
                    path,
                    headers,
                    timeout,
                });
            }
            "tcp" => {
                let addr = first_str(&p.args).unwrap_or_default();
                let (host, port) = split_host_port(&addr)
                    .ok_or_else(|| bad(format!("invalid tcp address {addr:?}: want host:port")))?;
                if !opts.skip_handler_checks {
                    check_host_literal(&host, opts).map_err(bad)?;
                }
                out.push(HandlerSpec::Tcp { host, port });
            }
            "exec" => out.push(build_exec(p, opts).map_err(bad)?),
            "email" => {
                let Some(smtp) = &opts.smtp else {
                    if opts.skip_handler_checks {
                        out.push(HandlerSpec::Email { to: Vec::new() });
                        continue;
                    }
                    return Err(bad(
                        "email handlers are off: configure and enable [smtp] to use them".into(),
                    ));
                };
                let mut to: Vec<String> = crate::runtime::nodes::strings(&p.args);
                for s in p.sub.iter().filter(|s| s.name == "to") {
                    to.extend(crate::runtime::nodes::strings(&s.args));
                }
                if to.is_empty() {
                    to = smtp.to.clone();
                }
                if to.is_empty() {
                    return Err(bad(
                        "email handler has no recipients (and [smtp] sets no default to)".into(),
                    ));
                }
                for a in &to {
                    if a.parse::<lettre::Address>().is_err() {
                        return Err(bad(format!("invalid email address {a:?}")));
                    }
                }
                out.push(HandlerSpec::Email { to });
            }
            "slack" => {
                if p.sub.iter().any(|s| s.name == "workspace") {
                    return Err(Error::Unsupported(format!(
                        "{}: slack .workspace() is not supported yet (one webhook is configured)",
                        n.name()
                    )));
                }
                let Some(slack) = &opts.slack else {
                    if !opts.skip_handler_checks {
                        return Err(bad(
                            "slack handlers are off: configure and enable [alerter.slack] to use them"
                                .into(),
                        ));
                    }
                    out.push(HandlerSpec::Slack {
                        channel: String::new(),
                        username: String::new(),
                        icon_emoji: String::new(),
                    });
                    continue;
                };
                if !opts.skip_handler_checks {
                    let (host, _, _) =
                        crate::alert::notify::url_host_port(&slack.url).map_err(bad)?;
                    check_host_literal(&host, opts).map_err(bad)?;
                }
                let or = |v: Option<String>, d: &str| {
                    v.filter(|v| !v.is_empty()).unwrap_or_else(|| d.to_string())
                };
                out.push(HandlerSpec::Slack {
                    channel: or(sub_str(p, "channel"), &slack.channel),
                    username: or(
                        sub_str(p, "username"),
                        if slack.username.is_empty() {
                            "tigk"
                        } else {
                            &slack.username
                        },
                    ),
                    icon_emoji: or(sub_str(p, "iconEmoji"), &slack.icon_emoji),
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// `.exec(prog, args...)`: only when exec is enabled and `prog` is allow-listed, exactly.
fn build_exec(p: &crate::tick::Property, opts: &Options) -> Result<HandlerSpec, String> {
    let args = crate::runtime::nodes::strings(&p.args);
    let Some((prog, rest)) = args.split_first() else {
        return Err("exec needs a program".into());
    };
    let program = PathBuf::from(prog);
    if !opts.skip_handler_checks {
        let Some(exec) = &opts.exec else {
            return Err(format!(
                "exec handlers are off: enable [alerter.exec] and allow {prog:?} to use them"
            ));
        };
        if !exec.programs.contains(&program) {
            return Err(format!(
                "exec program {prog:?} is not in the allowed programs of [alerter.exec]"
            ));
        }
    }
    Ok(HandlerSpec::Exec {
        program,
        args: rest.to_vec(),
    })
}

/// A log path must be absolute and inside the configured alert directory, with no `..`.
fn check_log_path(path: &str, opts: &Options) -> Result<PathBuf, String> {
    let Some(dir) = &opts.alert_dir else {
        return Err(format!(
            "alert log path {path:?} refused: no alert directory is configured for log handlers"
        ));
    };
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(format!("alert log path must be absolute: {path:?}"));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("alert log path {path:?} must not contain '..'"));
    }
    if !p.starts_with(dir) {
        return Err(format!(
            "alert log path {path:?} is outside the alert directory {}",
            dir.display()
        ));
    }
    // A symlink inside the directory could lead out of it.
    let real_dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
    if let Some(parent) = p.parent()
        && let Ok(real_parent) = parent.canonicalize()
        && !real_parent.starts_with(&real_dir)
    {
        return Err(format!(
            "alert log path {path:?} resolves outside the alert directory {}",
            dir.display()
        ));
    }
    if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(format!("alert log path {path:?} is a symlink"));
    }
    Ok(p.to_path_buf())
}

async fn deliver(spec: &HandlerSpec, json: &str, opts: &Options) -> Result<(), String> {
    match spec {
        HandlerSpec::Log { path, mode } => {
            let (path, mode, line) = (path.clone(), *mode, format!("{json}\n"));
            tokio::task::spawn_blocking(move || append_line(&path, mode, &line))
                .await
                .map_err(|e| e.to_string())?
        }
        HandlerSpec::Post {
            url,
            host,
            port,
            path,
            headers,
            ..
        } => {
            let addr = resolve(host, *port, opts).await?;
            if url.starts_with("https://") {
                let timeout = timeout_of(spec, opts);
                return crate::alert::notify::post_json(url, headers, json.to_string(), timeout)
                    .await;
            }
            let mut s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connecting to {addr}: {e}"))?;
            let host_header = if *port == 80 {
                host.clone()
            } else {
                format!("{host}:{port}")
            };
            let mut req = format!(
                "POST {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: tigk-alerter\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                json.len()
            );
            for (k, v) in headers {
                req.push_str(&format!("{k}: {v}\r\n"));
            }
            req.push_str("\r\n");
            req.push_str(json);
            s.write_all(req.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let mut buf = [0u8; 64];
            let mut got = 0;
            while got < 12 {
                let n = s.read(&mut buf[got..]).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            let status = std::str::from_utf8(&buf[..got])
                .ok()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|c| c.parse::<u16>().ok());
            match status {
                Some(c) if (200..300).contains(&c) => Ok(()),
                Some(c) => Err(format!("POST {host}{path}: HTTP {c}")),
                None => Err(format!("POST {host}{path}: no HTTP response")),
            }
        }
        HandlerSpec::Tcp { host, port } => {
            let addr = resolve(host, *port, opts).await?;
            let mut s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connecting to {addr}: {e}"))?;
            s.write_all(json.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            s.shutdown().await.map_err(|e| e.to_string())
        }
        HandlerSpec::Exec { program, args } => {
            crate::alert::notify::exec(program, args, json, opts).await
        }
        HandlerSpec::Email { to } => crate::alert::notify::email(to, json, opts).await,
        HandlerSpec::Slack {
            channel,
            username,
            icon_emoji,
        } => {
            let Some(slack) = &opts.slack else {
                return Err("slack is not configured".into());
            };
            let (host, port, _) = crate::alert::notify::url_host_port(&slack.url)?;
            // The guard on the resolved addresses, as for post handlers.
            resolve(&host, port, opts).await?;
            let body = crate::alert::notify::slack_payload(json, channel, username, icon_emoji)?;
            crate::alert::notify::post_json(&slack.url, &[], body, opts.delivery_timeout).await
        }
    }
}

/// A delivery's time limit: the handler's own, exec's and SMTP's from the
/// configuration, else the default.
fn timeout_of(spec: &HandlerSpec, opts: &Options) -> Duration {
    match spec {
        HandlerSpec::Post {
            timeout: Some(t), ..
        } => *t,
        HandlerSpec::Exec { .. } => opts
            .exec
            .as_ref()
            .map_or(opts.delivery_timeout, |e| e.timeout),
        HandlerSpec::Email { .. } => opts
            .smtp
            .as_ref()
            .map_or(opts.delivery_timeout, |s| s.timeout),
        _ => opts.delivery_timeout,
    }
}

fn append_line(path: &Path, mode: u32, line: &str) -> Result<(), String> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    let _ = mode;
    let mut f = o
        .open(path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    f.write_all(line.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// How much of a log file's end [`log_has_line`] reads: an in-doubt line was the
/// last one its worker appended before a crash, so it sits near the end (other
/// handlers appending to the same file since are few lines each).
const IN_DOUBT_TAIL: u64 = 8 << 20;

/// Whether the log file already ends with, or has near its end, exactly this JSON
/// line. Used for deliveries in doubt after a crash: appending and recording the
/// delivery are two steps, and a `kill -9` between them must not repeat the line.
/// Replayed events render byte-identical JSON, so an exact match is the same event.
pub fn log_has_line(spec: &HandlerSpec, json: &str) -> bool {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let HandlerSpec::Log { path, .. } = spec else {
        return false;
    };
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(IN_DOUBT_TAIL);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return false;
    }
    let mut buf = Vec::new();
    if f.read_to_end(&mut buf).is_err() {
        return false;
    }
    // Lines are whole: each is appended with one write of the full line.
    buf.split(|b| *b == b'\n').any(|l| l == json.as_bytes())
}

/// Counters of one handler.
#[derive(Debug, Default)]
pub struct HandlerStats {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: AtomicU64,
}

/// The delivery side of one handler: a bounded queue and its worker.
pub struct Delivery {
    pub spec: HandlerSpec,
    tx: mpsc::Sender<Arc<str>>,
    pub stats: Arc<HandlerStats>,
}

impl Delivery {
    /// Starts the worker on the current tokio runtime.
    pub fn start(spec: HandlerSpec, opts: &Options) -> Delivery {
        let (tx, mut rx) = mpsc::channel::<Arc<str>>(opts.handler_queue.max(1));
        let stats = Arc::new(HandlerStats::default());
        let (st, opts, worker_spec) = (stats.clone(), opts.clone(), spec.clone());
        tokio::spawn(async move {
            while let Some(json) = rx.recv().await {
                let timeout = timeout_of(&worker_spec, &opts);
                let r = tokio::time::timeout(timeout, deliver(&worker_spec, &json, &opts)).await;
                match r {
                    Ok(Ok(())) => {
                        st.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(e)) => {
                        st.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(handler = ?worker_spec, "alert delivery failed: {e}");
                    }
                    Err(_) => {
                        st.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(handler = ?worker_spec, "alert delivery timed out");
                    }
                }
            }
        });
        Delivery { spec, tx, stats }
    }

    /// Queues an event's JSON; never waits. Returns false (and counts) when full.
    pub fn send(&self, json: Arc<str>) -> bool {
        match self.tx.try_send(json) {
            Ok(()) => true,
            Err(_) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// Delivers one event's JSON once, waiting for the result (used by the outbox, which
/// needs to know whether delivery succeeded before marking it done).
pub async fn deliver_once(spec: &HandlerSpec, json: &str, opts: &Options) -> Result<(), String> {
    let timeout = timeout_of(spec, opts);
    tokio::time::timeout(timeout, deliver(spec, json, opts))
        .await
        .map_err(|_| "delivery timed out".to_string())?
}

/// Routes a task's events to its alert nodes' handlers.
pub struct Dispatcher {
    routes: std::collections::BTreeMap<String, Vec<Delivery>>,
}

impl Dispatcher {
    /// Starts one delivery worker per handler of every alert node of the task.
    pub fn start(task: &crate::runtime::Task, opts: &Options) -> Dispatcher {
        let routes = task
            .handlers()
            .into_iter()
            .map(|(node, specs)| {
                let d = specs
                    .into_iter()
                    .map(|s| Delivery::start(s, opts))
                    .collect();
                (node, d)
            })
            .collect();
        Dispatcher { routes }
    }

    /// Queues each event on its node's handlers; never waits.
    pub fn dispatch(&self, events: &[crate::alert::AlertEvent]) {
        for ev in events {
            if let Some(ds) = self.routes.get(&ev.node) {
                let json: Arc<str> = Arc::from(ev.to_json());
                for d in ds {
                    d.send(json.clone());
                }
            }
        }
    }

    /// The deliveries of one alert node.
    pub fn deliveries(&self, node: &str) -> &[Delivery] {
        self.routes.get(node).map(Vec::as_slice).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_in_doubt_is_found_only_when_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = HandlerSpec::Log {
            path: dir.path().join("a.log"),
            mode: 0o644,
        };
        assert!(!log_has_line(&spec, "{\"id\":\"x\"}"), "no file yet");
        let HandlerSpec::Log { path, .. } = &spec else {
            return;
        };
        append_line(path, 0o644, "{\"id\":\"x\"}\n").expect("append");
        append_line(path, 0o644, "{\"id\":\"y\"}\n").expect("append");
        assert!(log_has_line(&spec, "{\"id\":\"x\"}"));
        assert!(!log_has_line(&spec, "{\"id\":\"z\"}"));
        assert!(!log_has_line(&spec, "{\"id\":"), "whole lines only");
    }

    #[test]
    fn log_paths() {
        let dir = std::env::temp_dir();
        let opts = Options {
            alert_dir: Some(dir.clone()),
            ..Options::default()
        };
        let inside = dir.join("a.log");
        assert!(check_log_path(&inside.to_string_lossy(), &opts).is_ok());
        assert!(check_log_path("/etc/passwd", &opts).is_err());
        assert!(check_log_path(&format!("{}/../etc/x", dir.display()), &opts).is_err());
        assert!(check_log_path("rel.log", &opts).is_err());
        assert!(check_log_path("/x.log", &Options::default()).is_err());
    }
}
