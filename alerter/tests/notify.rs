//! The exec, email and slack handlers against in-test programs and servers on
//! 127.0.0.1: allow-listing, argv as given, the event JSON on stdin, a bounded run
//! time, an SMTP conversation, and Kapacitor's Slack payload.

use std::path::PathBuf;
use std::time::Duration;

use alerter::alert::handlers::Dispatcher;
use alerter::options::{ExecOptions, SlackOptions, SmtpEncryption, SmtpOptions};
use alerter::runtime::Task;
use alerter::tick::{self, CheckOptions};
use alerter::{Error, Options};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn point(v: f64) -> common::Point {
    common::Point {
        measurement: "cpu".into(),
        tags: vec![("host".into(), "h1".into())],
        fields: vec![("usage_idle".into(), common::FieldValue::Float(v))],
        timestamp: Some(1_704_067_200_000_000_000),
    }
}

fn task(handlers: &str, opts: &Options) -> Result<Task, Error> {
    let script = format!(
        "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|alert().crit(lambda: \"usage_idle\" < 70).message('{{{{ .ID }}}} is {{{{ .Level }}}}').details('<b>{{{{ .Level }}}}</b>'){handlers}"
    );
    let g = tick::compile(&script, &CheckOptions::strict())?;
    Task::new("t", g, opts)
}

async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}

fn script(dir: &std::path::Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

#[tokio::test]
async fn exec_runs_only_allowed_programs_with_argv_as_given_and_the_json_on_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    // The script writes its argv and stdin: no shell ever sees the arguments.
    let prog = script(
        dir.path(),
        "page.sh",
        "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$1.args\"; cat > \"$1\"",
    );
    let opts = Options {
        exec: Some(ExecOptions {
            programs: vec![prog.clone()],
            timeout: Duration::from_secs(5),
        }),
        ..Options::default()
    };
    let other = script(dir.path(), "other.sh", "true");
    let err = task(&format!(".exec('{}')", other.display()), &opts).expect_err("not allowed");
    assert!(
        err.to_string().contains("is not in the allowed programs"),
        "{err}"
    );

    let arg2 = "a b; $(echo injected) `x` *";
    let mut t = task(
        &format!(".exec('{}', '{}', '{arg2}')", prog.display(), out.display()),
        &opts,
    )
    .expect("task");
    let d = Dispatcher::start(&t, &opts);
    let events = t.push_point("telegraf", "autogen", &point(50.0));
    assert_eq!(events.len(), 1);
    d.dispatch(&events);
    let json = events[0].to_json();
    wait_for(|| std::fs::read_to_string(&out).is_ok_and(|s| s.ends_with('\n'))).await;
    assert_eq!(
        std::fs::read_to_string(&out).expect("out"),
        format!("{json}\n")
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.args")).expect("args"),
        format!("{}\n{arg2}\n", out.display()),
        "each argument arrives as written, uninterpreted"
    );
    wait_for(|| {
        d.deliveries("alert2")[0]
            .stats
            .sent
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1
    })
    .await;
}

#[tokio::test]
async fn exec_is_killed_after_its_timeout_and_a_failure_is_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let slow = script(dir.path(), "slow.sh", "exec sleep 30");
    let failing = script(dir.path(), "fail.sh", "echo nope >&2; exit 3");
    let opts = Options {
        exec: Some(ExecOptions {
            programs: vec![slow.clone(), failing.clone()],
            timeout: Duration::from_millis(200),
        }),
        ..Options::default()
    };
    let mut t = task(
        &format!(".exec('{}').exec('{}')", slow.display(), failing.display()),
        &opts,
    )
    .expect("task");
    let d = Dispatcher::start(&t, &opts);
    let events = t.push_point("telegraf", "autogen", &point(50.0));
    d.dispatch(&events);
    let failed = |i: usize| {
        d.deliveries("alert2")[i]
            .stats
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    wait_for(|| failed(0) == 1 && failed(1) == 1).await;
}

/// A minimal SMTP server: accepts one message and returns the DATA section.
async fn smtp_server(listener: TcpListener) -> (Vec<String>, String) {
    let (s, _) = listener.accept().await.expect("accept");
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 test ESMTP\r\n").await.expect("greet");
    let mut commands = Vec::new();
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await.expect("read") == 0 {
            break;
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        commands.push(cmd.clone());
        if upper.starts_with("EHLO") {
            w.write_all(b"250-test\r\n250 8BITMIME\r\n")
                .await
                .expect("w");
        } else if upper.starts_with("MAIL") || upper.starts_with("RCPT") {
            w.write_all(b"250 ok\r\n").await.expect("w");
        } else if upper == "DATA" {
            w.write_all(b"354 go\r\n").await.expect("w");
            loop {
                line.clear();
                r.read_line(&mut line).await.expect("read");
                if line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            w.write_all(b"250 queued\r\n").await.expect("w");
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await.expect("w");
            break;
        } else {
            w.write_all(b"250 ok\r\n").await.expect("w");
        }
    }
    (commands, data)
}

#[tokio::test]
async fn email_goes_through_smtp_with_the_message_as_subject_and_details_as_html() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(smtp_server(listener));
    let opts = Options {
        smtp: Some(SmtpOptions {
            host: "127.0.0.1".into(),
            port,
            username: String::new(),
            password: String::new(),
            from: "tigk@example.com".into(),
            to: vec!["ops@example.com".into()],
            encryption: SmtpEncryption::None,
            timeout: Duration::from_secs(5),
        }),
        ..Options::default()
    };
    assert!(task(".email('not an address')", &opts).is_err());
    let mut t = task(".email('oncall@example.com').to('lead@example.com')", &opts).expect("task");
    let d = Dispatcher::start(&t, &opts);
    let events = t.push_point("telegraf", "autogen", &point(50.0));
    d.dispatch(&events);
    let (commands, data) = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("a mail")
        .expect("server");
    assert!(
        commands.iter().any(|c| c == "MAIL FROM:<tigk@example.com>"),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c == "RCPT TO:<oncall@example.com>"),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c == "RCPT TO:<lead@example.com>"),
        "{commands:?}"
    );
    assert!(data.contains("Subject: cpu:nil is CRITICAL\r\n"), "{data}");
    assert!(data.contains("Content-Type: text/html"), "{data}");
    assert!(data.contains("<b>CRITICAL</b>"), "{data}");
}

#[tokio::test]
async fn slack_posts_kapacitor_s_payload_through_the_address_guard() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.expect("read");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((_, body)) = text.split_once("\r\n\r\n")
                && body.ends_with('\n')
            {
                break;
            }
            if n == 0 {
                break;
            }
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await
            .expect("answer");
        String::from_utf8_lossy(&got).to_string()
    });
    let slack = SlackOptions {
        url: format!("http://{addr}/services/T/B/X"),
        channel: "#alerts".into(),
        username: String::new(),
        icon_emoji: String::new(),
    };
    let guarded = Options {
        slack: Some(slack.clone()),
        ..Options::default()
    };
    let err = task(".slack()", &guarded).expect_err("loopback refused");
    assert!(err.to_string().contains("private, loopback"), "{err}");
    let opts = Options {
        slack: Some(slack),
        allowed_addresses: vec!["127.0.0.1".into()],
        ..Options::default()
    };
    let mut t = task(".slack().channel('#ops').iconEmoji(':fire:')", &opts).expect("task");
    let d = Dispatcher::start(&t, &opts);
    let events = t.push_point("telegraf", "autogen", &point(50.0));
    d.dispatch(&events);
    let req = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("a post")
        .expect("server");
    assert!(
        req.starts_with("POST /services/T/B/X HTTP/1.1\r\n"),
        "{req}"
    );
    let body = req.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    assert_eq!(
        body,
        "{\"as_user\":false,\"attachments\":[{\"fallback\":\"cpu:nil is CRITICAL\",\"color\":\"danger\",\"text\":\"cpu:nil is CRITICAL\",\"mrkdwn_in\":[\"text\"]}],\"channel\":\"#ops\",\"icon_emoji\":\":fire:\",\"text\":\"\",\"username\":\"tigk\"}\n"
    );
}

#[test]
fn https_post_urls_are_accepted_and_guarded() {
    let opts = Options::default();
    assert!(task(".post('https://hooks.example.com/alert')", &opts).is_ok());
    let err = task(".post('https://169.254.169.254/latest')", &opts).expect_err("metadata");
    assert!(err.to_string().contains("private, loopback"), "{err}");
    let g = tick::compile(
        "dbrp \"telegraf\".\"autogen\"\nstream|from()|httpPost('https://10.0.0.1:8443/in')",
        &CheckOptions::strict(),
    )
    .expect("compile");
    let err = Task::new("t", g, &opts).expect_err("private");
    assert!(err.to_string().contains("private, loopback"), "{err}");
}
