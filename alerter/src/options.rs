//! Configuration the alerter needs from the server: where log handlers may write,
//! which private addresses handlers may reach, the server identity templates see, and
//! the exec, email and slack handlers' settings.
//!
//! The handler settings come as raw serde structs ([`ExecConfig`], [`SmtpConfig`],
//! [`SlackConfig`]: the server's configuration file sections, unknown keys refused)
//! and are validated into runtime types ([`ExecOptions`], [`SmtpOptions`],
//! [`SlackOptions`]) before use.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Default of [`Options::max_window_points`]: more than a day of one point a second,
/// some 10-20 MB per group for points of a few fields.
pub const DEFAULT_MAX_WINDOW_POINTS: usize = 100_000;

/// Alerter configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// `.log(path)` handlers must write inside this directory. `None` refuses every
    /// log handler (there is no safe default).
    pub alert_dir: Option<PathBuf>,
    /// Hosts, IPs or CIDRs (`10.0.0.0/8`, `hooks.internal`, `127.0.0.1`) that post and tcp
    /// handlers may reach although they are private, loopback or link-local.
    pub allowed_addresses: Vec<String>,
    /// Timeout of one delivery (connect + write + response) when the handler sets none.
    pub delivery_timeout: Duration,
    /// Events waiting per handler before new ones are dropped (and counted).
    pub handler_queue: usize,
    /// Points one group of a `window()` (or a `movingAverage` window, or a `join` waiting
    /// for its other streams) may hold. A time window holding more drops its oldest points
    /// and a join lets its oldest go unmatched (counted as node errors); a count window or
    /// moving average longer than this is refused at define time. Kapacitor has no bound:
    /// `.period(52w)` over a busy series grew without limit.
    pub max_window_points: usize,
    /// Accept handlers without checking paths and addresses (offline test runs, which
    /// never deliver).
    pub skip_handler_checks: bool,
    /// `.ServerInfo.Hostname` in templates.
    pub hostname: String,
    /// `.ServerInfo.ClusterID`.
    pub cluster_id: String,
    /// `.ServerInfo.ServerID`.
    pub server_id: String,
    /// `.exec()` handlers; `None` (the default) refuses them.
    pub exec: Option<ExecOptions>,
    /// `.email()` handlers; `None` refuses them.
    pub smtp: Option<SmtpOptions>,
    /// `.slack()` handlers; `None` refuses them.
    pub slack: Option<SlackOptions>,
    /// Where `influxDBOut` writes; `None` (the default): the store.
    pub output: Option<std::sync::Arc<dyn crate::output::PointOutput>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            alert_dir: None,
            allowed_addresses: Vec::new(),
            delivery_timeout: Duration::from_secs(10),
            handler_queue: 1000,
            max_window_points: DEFAULT_MAX_WINDOW_POINTS,
            skip_handler_checks: false,
            hostname: "localhost".into(),
            cluster_id: String::new(),
            server_id: String::new(),
            exec: None,
            smtp: None,
            slack: None,
            output: None,
        }
    }
}

/// `500ms`, `30s`, `5m`, `1h`: the configuration file's durations.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (use e.g. \"500ms\", \"30s\", \"5m\")");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: u64 = s[..split].parse().map_err(|_| bad())?;
    let ms = match &s[split..] {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    let d = Duration::from_millis(n.checked_mul(ms).ok_or_else(bad)?);
    if d.is_zero() {
        return Err(format!("duration {s:?} must be positive"));
    }
    Ok(d)
}

/// `[alerter.exec]`: which programs `.exec(prog, args...)` may run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecConfig {
    pub enabled: bool,
    /// Absolute paths of the programs handlers may run, exactly as scripts name them.
    pub programs: Vec<PathBuf>,
    /// Longest run of one program (killed after it); default 10s.
    pub timeout: Option<String>,
}

/// Validated [`ExecConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOptions {
    pub programs: Vec<PathBuf>,
    pub timeout: Duration,
}

impl ExecConfig {
    /// `None` when disabled.
    pub fn validate(&self) -> Result<Option<ExecOptions>, String> {
        if !self.enabled {
            return Ok(None);
        }
        if self.programs.is_empty() {
            return Err("exec is enabled but no programs are allowed".into());
        }
        for p in &self.programs {
            if !p.is_absolute() {
                return Err(format!(
                    "exec program {:?} must be an absolute path",
                    p.display().to_string()
                ));
            }
        }
        let timeout = match &self.timeout {
            Some(t) => parse_duration(t)?,
            None => Duration::from_secs(10),
        };
        Ok(Some(ExecOptions {
            programs: self.programs.clone(),
            timeout,
        }))
    }
}

/// `[smtp]`: the server that `.email()` handlers send through.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub enabled: bool,
    pub host: String,
    /// Default 587 (465 with `encryption = "tls"`, 25 with `"none"`).
    pub port: Option<u16>,
    pub username: String,
    pub password: String,
    /// The sender address.
    pub from: String,
    /// Recipients of handlers that name none.
    pub to: Vec<String>,
    /// `"starttls"` (default), `"tls"` or `"none"` (plain text: local relays only).
    pub encryption: Option<String>,
    /// Longest SMTP conversation; default 10s.
    pub timeout: Option<String>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpEncryption {
    StartTls,
    Tls,
    None,
}

/// Validated [`SmtpConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpOptions {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    pub from: String,
    pub to: Vec<String>,
    pub encryption: SmtpEncryption,
    pub timeout: Duration,
}

fn check_address(a: &str) -> Result<(), String> {
    a.parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|e| format!("invalid email address {a:?}: {e}"))
}

impl SmtpConfig {
    /// `None` when disabled.
    pub fn validate(&self) -> Result<Option<SmtpOptions>, String> {
        if !self.enabled {
            return Ok(None);
        }
        if self.host.trim().is_empty() {
            return Err("smtp is enabled but has no host".into());
        }
        if self.from.is_empty() {
            return Err("smtp is enabled but has no from address".into());
        }
        check_address(&self.from)?;
        for a in &self.to {
            check_address(a)?;
        }
        let encryption = match self.encryption.as_deref() {
            None | Some("starttls") => SmtpEncryption::StartTls,
            Some("tls") => SmtpEncryption::Tls,
            Some("none") => SmtpEncryption::None,
            Some(o) => {
                return Err(format!(
                    "smtp encryption {o:?}: want \"starttls\", \"tls\" or \"none\""
                ));
            }
        };
        if self.password.is_empty() != self.username.is_empty() {
            return Err("smtp username and password go together".into());
        }
        let port = self.port.unwrap_or(match encryption {
            SmtpEncryption::StartTls => 587,
            SmtpEncryption::Tls => 465,
            SmtpEncryption::None => 25,
        });
        let timeout = match &self.timeout {
            Some(t) => parse_duration(t)?,
            None => Duration::from_secs(10),
        };
        Ok(Some(SmtpOptions {
            host: self.host.trim().to_string(),
            port,
            username: self.username.clone(),
            password: self.password.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            encryption,
            timeout,
        }))
    }
}

/// `[alerter.slack]`: the incoming webhook `.slack()` handlers post to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    pub enabled: bool,
    /// The webhook URL (`https://hooks.slack.com/services/...`); it goes through the
    /// address guard like post handlers.
    pub url: String,
    /// Default channel (`#alerts`); a handler's `.channel()` overrides it.
    pub channel: String,
    /// Default user name; Kapacitor's is `kapacitor`.
    pub username: String,
    /// Default icon, e.g. `:warning:`.
    pub icon_emoji: String,
}

/// Validated [`SlackConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct SlackOptions {
    pub url: String,
    pub channel: String,
    pub username: String,
    pub icon_emoji: String,
}

impl SlackConfig {
    /// `None` when disabled.
    pub fn validate(&self) -> Result<Option<SlackOptions>, String> {
        if !self.enabled {
            return Ok(None);
        }
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return Err(format!("slack url {:?} must be an http(s) URL", self.url));
        }
        Ok(Some(SlackOptions {
            url: self.url.clone(),
            channel: self.channel.clone(),
            username: self.username.clone(),
            icon_emoji: self.icon_emoji.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml_like<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn exec_is_off_by_default_and_needs_absolute_programs() {
        assert_eq!(ExecConfig::default().validate(), Ok(None));
        let c: ExecConfig =
            toml_like(r#"{"enabled":true,"programs":["/usr/local/bin/page"],"timeout":"2s"}"#)
                .expect("parse");
        let o = c.validate().expect("valid").expect("on");
        assert_eq!(o.timeout, Duration::from_secs(2));
        let rel: ExecConfig = toml_like(r#"{"enabled":true,"programs":["page"]}"#).expect("parse");
        assert!(rel.validate().is_err());
        let none: ExecConfig = toml_like(r#"{"enabled":true}"#).expect("parse");
        assert!(none.validate().is_err());
        assert!(toml_like::<ExecConfig>(r#"{"enabled":true,"shell":true}"#).is_err());
    }

    #[test]
    fn smtp_validation() {
        let c: SmtpConfig =
            toml_like(r#"{"enabled":true,"host":"mail","from":"tigk@example.com"}"#)
                .expect("parse");
        let o = c.validate().expect("valid").expect("on");
        assert_eq!((o.port, o.encryption), (587, SmtpEncryption::StartTls));
        let bad: SmtpConfig =
            toml_like(r#"{"enabled":true,"host":"mail","from":"not an address"}"#).expect("parse");
        assert!(bad.validate().is_err());
        let enc: SmtpConfig =
            toml_like(r#"{"enabled":true,"host":"mail","from":"a@b.c","encryption":"ssl3"}"#)
                .expect("parse");
        assert!(enc.validate().is_err());
        assert!(toml_like::<SmtpConfig>(r#"{"hots":"x"}"#).is_err());
    }

    #[test]
    fn slack_validation() {
        let c: SlackConfig =
            toml_like(r##"{"enabled":true,"url":"ftp://x","channel":"#a"}"##).expect("parse");
        assert!(c.validate().is_err());
        assert_eq!(SlackConfig::default().validate(), Ok(None));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("10").is_err());
    }
}
