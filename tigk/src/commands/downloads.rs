//! The agent's installer, served by the server so that a host joins with one line:
//! `curl -fsSL http://SERVER:8086/install-agent.sh | sudo sh -s -- --token T`.
//!
//! - `GET /install-agent.sh`: deploy/agent/install.sh with this server's URL (from the
//!   request's `Host` and `X-Forwarded-Proto`), architecture and the binary's SHA-256 filled in.
//! - `GET /downloads/tigk-agent`: the agent binary for this server's architecture, streamed.
//! - `GET /downloads/tigk-agent.service`: the hardened systemd unit.
//!
//! All three are public: they hold no secret, and the host being installed has no credentials
//! yet (its token arrives on the command line). The binary lives in the tigk binary (not in
//! `tsdb`, which must not know about the agent) and is looked up on each request, so adding it
//! needs no restart: `$TIGK_AGENT_BINARY`, else `tigk-agent` next to the `tigk` executable, else
//! `../lib/tigk/tigk-agent` beside it (where the Debian package puts it).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

pub const INSTALL_SCRIPT: &str = include_str!("../../../deploy/agent/install.sh");
pub const AGENT_UNIT: &str = include_str!("../../../deploy/agent/tigk-agent.service");

/// The environment variable naming the agent binary to serve.
pub const AGENT_BINARY_ENV: &str = "TIGK_AGENT_BINARY";

/// Where the agent binary may be, in order.
#[derive(Clone, Debug)]
pub struct AgentBinary {
    candidates: Vec<PathBuf>,
    /// Hashing 20-40 MB per script request is waste: kept while the file looks the same.
    digest: Arc<Mutex<Option<CachedDigest>>>,
}

#[derive(Debug)]
struct CachedDigest {
    path: PathBuf,
    len: u64,
    mtime: SystemTime,
    hex: String,
}

impl AgentBinary {
    /// The candidates for this process: the environment variable alone when it is set (a
    /// configured path that is missing should say so, not fall back silently).
    pub fn from_env() -> AgentBinary {
        if let Some(p) = std::env::var_os(AGENT_BINARY_ENV).filter(|p| !p.is_empty()) {
            return AgentBinary::at(vec![PathBuf::from(p)]);
        }
        let mut candidates = Vec::new();
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf))
        {
            candidates.push(dir.join("tigk-agent"));
            candidates.push(dir.join("../lib/tigk/tigk-agent"));
        }
        AgentBinary::at(candidates)
    }

    pub fn at(candidates: Vec<PathBuf>) -> AgentBinary {
        AgentBinary {
            candidates,
            digest: Arc::default(),
        }
    }

    fn find(&self) -> Option<(PathBuf, std::fs::Metadata)> {
        self.candidates.iter().find_map(|p| {
            std::fs::metadata(p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| (p.clone(), m))
        })
    }

    /// The binary's SHA-256, or `None` without a binary (or on a read error: the script then
    /// skips the check rather than refusing to be served).
    fn sha256(&self) -> Option<String> {
        let (path, meta) = self.find()?;
        let (len, mtime) = (meta.len(), meta.modified().ok()?);
        if let Ok(cached) = self.digest.lock()
            && let Some(c) = cached.as_ref()
            && c.path == path
            && c.len == len
            && c.mtime == mtime
        {
            return Some(c.hex.clone());
        }
        let mut hasher = Sha256::new();
        let mut file = std::fs::File::open(&path).ok()?;
        std::io::copy(&mut file, &mut hasher).ok()?;
        let hex: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if let Ok(mut cached) = self.digest.lock() {
            *cached = Some(CachedDigest {
                path,
                len,
                mtime,
                hex: hex.clone(),
            });
        }
        Some(hex)
    }

    fn searched(&self) -> String {
        self.candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Clone)]
struct Downloads {
    binary: AgentBinary,
    /// The server itself speaks TLS: the script's URL is https whatever the headers say.
    https: bool,
}

/// The three routes. Merge into the server's router; `https` when the server serves TLS.
pub fn router(binary: AgentBinary, https: bool) -> Router {
    Router::new()
        .route("/install-agent.sh", get(install_script))
        .route("/downloads/tigk-agent", get(agent_binary))
        .route("/downloads/tigk-agent.service", get(agent_unit))
        .with_state(Downloads { binary, https })
}

/// This surface's errors: InfluxDB's `{"error": "..."}` shape like the rest of the API.
#[derive(Debug)]
enum DownloadError {
    NoBinary(String),
    Io(std::io::Error),
}

impl IntoResponse for DownloadError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            DownloadError::NoBinary(searched) => (
                StatusCode::NOT_FOUND,
                format!(
                    "this server has no tigk-agent binary to offer (looked at: {searched}); put \
                     one there or set {AGENT_BINARY_ENV}, or install agents with --binary PATH"
                ),
            ),
            DownloadError::Io(e) => {
                tracing::error!(error = %e, "serving the agent binary");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "reading the agent binary failed".to_string(),
                )
            }
        };
        (status, axum::Json(serde_json::json!({ "error": msg }))).into_response()
    }
}

/// `scheme://host[:port]` the client reached us at, or `None` when the request does not say
/// in a form that is safe to paste into a shell script.
pub fn request_origin(headers: &HeaderMap, https: bool) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let safe = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !safe {
        return None;
    }
    // Behind a TLS proxy, the proxy says what the client used.
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let scheme = if https || forwarded_https {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{host}"))
}

/// The install script with the three `served_*=""` lines filled in. Values are single-quoted
/// and come from a restricted alphabet, so nothing can break out of the assignment.
pub fn render_script(origin: Option<&str>, arch: &str, sha256: Option<&str>) -> String {
    let quote = |v: &str| {
        if !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]/_".contains(&b))
        {
            format!("'{v}'")
        } else {
            "\"\"".to_string()
        }
    };
    INSTALL_SCRIPT
        .lines()
        .map(|line| match line {
            "served_server=\"\"" => format!("served_server={}", quote(origin.unwrap_or(""))),
            "served_arch=\"\"" => format!("served_arch={}", quote(arch)),
            "served_sha256=\"\"" => format!("served_sha256={}", quote(sha256.unwrap_or(""))),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

async fn install_script(State(d): State<Downloads>, headers: HeaderMap) -> Response {
    let origin = request_origin(&headers, d.https);
    let sha = tokio::task::spawn_blocking(move || d.binary.sha256())
        .await
        .ok()
        .flatten();
    let body = render_script(origin.as_deref(), std::env::consts::ARCH, sha.as_deref());
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/x-shellscript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

async fn agent_unit() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        AGENT_UNIT,
    )
        .into_response()
}

async fn agent_binary(State(d): State<Downloads>) -> Result<Response, DownloadError> {
    let Some((path, meta)) = d.binary.find() else {
        return Err(DownloadError::NoBinary(d.binary.searched()));
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(DownloadError::Io)?;
    // Streamed in 64 KiB pieces: many hosts installing at once must not each cost the
    // binary's size in memory.
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"tigk-agent\""),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(meta.len())),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(app: &Router, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Vec<u8>) {
        let mut req = Request::get(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, body.to_vec())
    }

    #[test]
    fn the_script_has_the_lines_the_server_fills_in() {
        let s = render_script(Some("http://h:8086"), "x86_64", Some("ab12"));
        assert!(s.contains("\nserved_server='http://h:8086'\n"), "{s}");
        assert!(s.contains("\nserved_arch='x86_64'\n"));
        assert!(s.contains("\nserved_sha256='ab12'\n"));
        assert!(s.starts_with("#!/bin/sh\n"));
    }

    #[test]
    fn hostile_hosts_are_not_pasted_into_the_script() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("x';rm -rf /;'"));
        assert_eq!(request_origin(&h, false), None);
        h.insert(
            header::HOST,
            HeaderValue::from_static("metrics.example:8086"),
        );
        assert_eq!(
            request_origin(&h, false).as_deref(),
            Some("http://metrics.example:8086")
        );
        assert_eq!(
            request_origin(&h, true).as_deref(),
            Some("https://metrics.example:8086")
        );
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(
            request_origin(&h, false).as_deref(),
            Some("https://metrics.example:8086")
        );
        let s = render_script(Some("a'b"), "x86_64", None);
        assert!(s.contains("\nserved_server=\"\"\n"));
    }

    #[tokio::test]
    async fn routes_serve_the_script_unit_and_binary_or_a_json_404() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("tigk-agent");
        let app = router(AgentBinary::at(vec![bin.clone()]), false);

        let (status, body) = get(&app, "/downloads/tigk-agent", &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let msg = v["error"].as_str().expect("error");
        assert!(msg.contains(&bin.display().to_string()), "{msg}");

        let (status, body) = get(&app, "/install-agent.sh", &[("host", "10.0.0.5:8086")]).await;
        assert_eq!(status, StatusCode::OK);
        let script = String::from_utf8(body).expect("utf8");
        assert!(script.contains("\nserved_server='http://10.0.0.5:8086'\n"));
        assert!(
            script.contains("\nserved_sha256=\"\"\n"),
            "no binary, no checksum"
        );

        // 200 KiB: several stream pieces.
        let content: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
        std::fs::write(&bin, &content).expect("write");
        let (status, body) = get(&app, "/downloads/tigk-agent", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, content);
        let (_, body) = get(&app, "/install-agent.sh", &[("host", "h")]).await;
        let want: String = Sha256::digest(&content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(String::from_utf8_lossy(&body).contains(&format!("served_sha256='{want}'")));

        let (status, body) = get(&app, "/downloads/tigk-agent.service", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(String::from_utf8_lossy(&body).contains("ExecStart=/usr/bin/tigk-agent"));
    }
}
