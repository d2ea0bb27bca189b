//! `influxdb`: InfluxDB 1.x `POST /write`, as Telegraf's `outputs.influxdb` sends it.
//!
//! Timestamps are nanoseconds and no `precision` parameter is sent, like Telegraf. The status
//! is mapped to what the writer thread should do: 2xx done, 413 split, other 4xx drop (the
//! same bytes would be refused again), 429/5xx/timeouts/connection errors retry.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::{Output, body};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct InfluxdbOptions {
    pub urls: Vec<String>,
    pub database: String,
    pub retention_policy: Option<String>,
    pub write_consistency: Option<String>,
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
    pub gzip: bool,
    pub skip_database_creation: bool,
    pub user_agent: String,
    pub http_headers: Vec<(String, String)>,
    /// DER certificates to trust instead of the bundled roots (from `tls_ca`).
    pub tls_ca: Vec<Vec<u8>>,
    pub insecure_skip_verify: bool,
}

#[cfg(feature = "tls")]
fn tls_config(opts: &InfluxdbOptions) -> ureq::tls::TlsConfig {
    let mut tls = ureq::tls::TlsConfig::builder().disable_verification(opts.insecure_skip_verify);
    if !opts.tls_ca.is_empty() {
        let certs: Vec<ureq::tls::Certificate<'static>> = opts
            .tls_ca
            .iter()
            .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
            .collect();
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    tls.build()
}

pub struct Influxdb {
    opts: InfluxdbOptions,
    agent: ureq::Agent,
    auth: Option<String>,
    /// Index of the URL to try first; rotated on failure so a dead server is not always first.
    first: usize,
    /// Databases are created once at start and again after `database not found`.
    need_create: bool,
}

impl Influxdb {
    pub fn new(opts: InfluxdbOptions) -> Influxdb {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(opts.timeout))
            .http_status_as_error(false)
            .user_agent(opts.user_agent.as_str());
        #[cfg(feature = "tls")]
        let config = config.tls_config(tls_config(&opts));
        let agent = config.build().new_agent();
        let auth = match (&opts.token, &opts.username) {
            (Some(t), _) => Some(format!("Token {t}")),
            (None, Some(u)) => {
                let pass = opts.password.as_deref().unwrap_or("");
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pass}"))
                ))
            }
            (None, None) => None,
        };
        let need_create = !opts.skip_database_creation;
        Influxdb {
            opts,
            agent,
            auth,
            first: 0,
            need_create,
        }
    }

    fn request(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let mut req = self.agent.post(url);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a.as_str());
        }
        for (k, v) in &self.opts.http_headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req
    }

    fn create_database(&self, base: &str) -> Result<()> {
        let q = format!(
            "CREATE DATABASE \"{}\"",
            self.opts.database.replace('"', "\\\"")
        );
        let mut resp = self
            .request(&format!("{base}/query"))
            .send_form([("q", q.as_str())])
            .map_err(|e| Error::Transient(format!("{base}: creating database: {e}")))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            // 1.x answers a failed statement with 200 and an `error` inside the results.
            let text = resp
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .unwrap_or_default();
            if text.contains("\"error\"") {
                return Err(Error::Transient(format!(
                    "{base}: creating database: {text}"
                )));
            }
            Ok(())
        } else {
            // Write-only tokens cannot create databases; the write itself will say more.
            Err(Error::Transient(format!(
                "{base}: creating database: HTTP {status}"
            )))
        }
    }

    fn write_one(&mut self, base: &str, data: &[u8]) -> Result<()> {
        let mut req = self
            .request(&format!("{base}/write"))
            .query("db", &self.opts.database)
            .content_type("text/plain; charset=utf-8");
        if let Some(rp) = &self.opts.retention_policy {
            req = req.query("rp", rp);
        }
        if let Some(c) = &self.opts.write_consistency {
            req = req.query("consistency", c);
        }
        if self.opts.gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        let mut resp = req
            .send(data)
            .map_err(|e| Error::Transient(format!("{base}: {e}")))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let msg = error_message(&text);
        match status {
            413 => Err(Error::TooLarge),
            404 if msg.contains("database not found") && !self.opts.skip_database_creation => {
                self.need_create = true;
                Err(Error::Transient(format!("{base}: {msg}")))
            }
            429 => Err(Error::Transient(format!("{base}: HTTP 429: {msg}"))),
            400..=499 => Err(Error::Rejected(format!("{base}: HTTP {status}: {msg}"))),
            _ => Err(Error::Transient(format!("{base}: HTTP {status}: {msg}"))),
        }
    }
}

/// The 1.x error body is `{"error":"..."}`; pull the message out without a JSON parser.
fn error_message(body: &str) -> String {
    let body = body.trim();
    if let Some(rest) = body.strip_prefix("{\"error\":\"")
        && let Some(msg) = rest.strip_suffix("\"}")
    {
        return msg.replace("\\\"", "\"").replace("\\n", "\n");
    }
    body.to_string()
}

impl Output for Influxdb {
    fn write(&mut self, lines: &[Arc<str>]) -> Result<()> {
        let plain = body(lines);
        let data = if self.opts.gzip {
            let mut enc =
                GzEncoder::new(Vec::with_capacity(plain.len() / 4), Compression::default());
            enc.write_all(&plain)
                .and_then(|_| enc.finish())
                .map_err(|e| Error::Transient(format!("gzip: {e}")))?
        } else {
            plain
        };
        let n = self.opts.urls.len();
        let mut last_err = None;
        for i in 0..n {
            let idx = (self.first + i) % n;
            let base = self.opts.urls[idx].trim_end_matches('/').to_string();
            // A second attempt only when the first said `database not found`: create it
            // and send the same batch again at once, as Telegraf does.
            for attempt in 0..2 {
                if self.need_create {
                    match self.create_database(&base) {
                        Ok(()) => self.need_create = false,
                        Err(e) => crate::warn!("[outputs.influxdb] {e}"),
                    }
                }
                match self.write_one(&base, &data) {
                    Ok(()) => return Ok(()),
                    Err(Error::Transient(_)) if attempt == 0 && self.need_create => continue,
                    Err(e @ Error::Transient(_)) => {
                        crate::debug!("[outputs.influxdb] {e}");
                        self.first = (idx + 1) % n;
                        last_err = Some(e);
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Transient("no urls".into())))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn extracts_error_text() {
        assert_eq!(
            super::error_message(r#"{"error":"database not found: \"x\""}"#),
            "database not found: \"x\""
        );
        assert_eq!(super::error_message("oops"), "oops");
    }
}
