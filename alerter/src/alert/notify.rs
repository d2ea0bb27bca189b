//! Delivery through a program (exec), SMTP (email) and a Slack webhook. Each is given
//! the event's JSON, as stored in the outbox, and runs under the caller's timeout.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::options::{Options, SmtpEncryption};

/// Runs `program` with `args` (no shell, a minimal environment) and the event JSON on
/// its stdin. The program is killed when the delivery times out (the future is
/// dropped); a non-zero exit is a failure, reported with the start of its stderr.
pub(crate) async fn exec(
    program: &Path,
    args: &[String],
    json: &str,
    opts: &Options,
) -> Result<(), String> {
    if opts.exec.is_none() {
        return Err("exec handlers are off".into());
    }
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("running {}: {e}", program.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that does not read its input is not an error.
        let _ = stdin.write_all(json.as_bytes()).await;
        let _ = stdin.write_all(b"\n").await;
    }
    let mut err = Vec::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = (&mut stderr).take(4096).read_to_end(&mut err).await;
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for {}: {e}", program.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} exited with {status}: {}",
            program.display(),
            String::from_utf8_lossy(&err).trim()
        ))
    }
}

fn field(v: &serde_json::Value, k: &str) -> String {
    v.get(k).and_then(|s| s.as_str()).unwrap_or("").to_string()
}

/// Mails the event as Kapacitor does: the message as the subject, the details as an
/// HTML body.
pub(crate) async fn email(to: &[String], json: &str, opts: &Options) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::extension::ClientId;
    use lettre::{Message, SmtpTransport, Transport};

    let Some(smtp) = &opts.smtp else {
        return Err("email handlers are off".into());
    };
    let ev: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut b = Message::builder()
        .from(
            smtp.from
                .parse()
                .map_err(|e| format!("from address: {e}"))?,
        )
        .subject(field(&ev, "message"));
    for t in to {
        b = b.to(t.parse().map_err(|e| format!("address {t:?}: {e}"))?);
    }
    let mail = b
        .header(ContentType::TEXT_HTML)
        .body(field(&ev, "details"))
        .map_err(|e| e.to_string())?;
    let builder = match smtp.encryption {
        SmtpEncryption::StartTls => {
            SmtpTransport::starttls_relay(&smtp.host).map_err(|e| e.to_string())?
        }
        SmtpEncryption::Tls => SmtpTransport::relay(&smtp.host).map_err(|e| e.to_string())?,
        SmtpEncryption::None => SmtpTransport::builder_dangerous(&smtp.host),
    };
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(smtp.timeout))
        .hello_name(ClientId::Domain(opts.hostname.clone()));
    if !smtp.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            smtp.username.clone(),
            smtp.password.clone(),
        ));
    }
    let transport = builder.build();
    let (host, port) = (smtp.host.clone(), smtp.port);
    // The transport's timeout bounds each step of the conversation.
    tokio::task::spawn_blocking(move || transport.send(&mail))
        .await
        .map_err(|e| format!("smtp {host}:{port}: {e}"))?
        .map(|_| ())
        .map_err(|e| format!("smtp {host}:{port}: {e}"))
}

/// Host and port of an http(s) URL (for the address guard).
pub(crate) fn url_host_port(url: &str) -> Result<(String, u16, String), String> {
    if let Some(rest) = url.strip_prefix("https://") {
        let (host, port, path) = super::handlers::parse_http_url(&format!("http://{rest}"))?;
        // parse_http_url defaults to 80; an https URL without a port means 443.
        let explicit = rest.split('/').next().is_some_and(|a| {
            a.rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
                && !a.ends_with(']')
        });
        return Ok((host, if explicit { port } else { 443 }, path));
    }
    super::handlers::parse_http_url(url)
}

/// Kapacitor's Slack payload (a Go map, so keys sorted; one attachment coloured by
/// level), with a trailing newline as Go's JSON encoder writes.
pub(crate) fn slack_payload(
    json: &str,
    channel: &str,
    username: &str,
    icon_emoji: &str,
) -> Result<String, String> {
    let ev: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let message = field(&ev, "message");
    let color = match field(&ev, "level").as_str() {
        "WARNING" => "warning",
        "CRITICAL" => "danger",
        _ => "good",
    };
    let mut out = String::from("{\"as_user\":false,\"attachments\":[{\"fallback\":");
    crate::gofmt::json_string(&mut out, &message);
    out.push_str(",\"color\":");
    crate::gofmt::json_string(&mut out, color);
    out.push_str(",\"text\":");
    crate::gofmt::json_string(&mut out, &message);
    out.push_str(",\"mrkdwn_in\":[\"text\"]}],\"channel\":");
    crate::gofmt::json_string(&mut out, channel);
    out.push_str(",\"icon_emoji\":");
    crate::gofmt::json_string(&mut out, icon_emoji);
    out.push_str(",\"text\":\"\",\"username\":");
    crate::gofmt::json_string(&mut out, username);
    out.push_str("}\n");
    Ok(out)
}

/// POSTs a JSON body (https through rustls); a non-2xx answer is a failure. The caller
/// has run the address guard on the URL's host.
pub(crate) async fn post_json(
    url: &str,
    headers: &[(String, String)],
    body: String,
    timeout: Duration,
) -> Result<(), String> {
    let (url, headers) = (url.to_string(), headers.to_vec());
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .build()
            .into();
        let mut req = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("User-Agent", "tigk-alerter");
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req.send(body.as_bytes())
            .map(|_| ())
            .map_err(|e| format!("POST {url}: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_payload_is_kapacitor_s() {
        let json = r#"{"id":"x","message":"cpu is CRITICAL","details":"","level":"CRITICAL"}"#;
        assert_eq!(
            slack_payload(json, "#alerts", "tigk", ":fire:").expect("payload"),
            "{\"as_user\":false,\"attachments\":[{\"fallback\":\"cpu is CRITICAL\",\"color\":\"danger\",\"text\":\"cpu is CRITICAL\",\"mrkdwn_in\":[\"text\"]}],\"channel\":\"#alerts\",\"icon_emoji\":\":fire:\",\"text\":\"\",\"username\":\"tigk\"}\n"
        );
        let ok = r#"{"message":"m","level":"OK"}"#;
        assert!(
            slack_payload(ok, "", "", "")
                .expect("p")
                .contains("\"color\":\"good\"")
        );
    }

    #[test]
    fn https_urls_default_to_443() {
        assert_eq!(
            url_host_port("https://hooks.slack.com/services/T/B/X"),
            Ok(("hooks.slack.com".into(), 443, "/services/T/B/X".into()))
        );
        assert_eq!(
            url_host_port("https://h:8443/x"),
            Ok(("h".into(), 8443, "/x".into()))
        );
        assert_eq!(
            url_host_port("http://h/x"),
            Ok(("h".into(), 80, "/x".into()))
        );
    }
}
