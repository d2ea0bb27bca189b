//! Handler delivery: log lines, HTTP POST and TCP to in-process servers, the address
//! guard, and a hung webhook not delaying anything else.

use std::time::Duration;

use alerter::alert::handlers::Dispatcher;
use alerter::runtime::Task;
use alerter::tick::{self, CheckOptions};
use alerter::{Error, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn point(v: f64, t: i64) -> common::Point {
    common::Point {
        measurement: "cpu".into(),
        tags: vec![("host".into(), "h1".into())],
        fields: vec![("usage_idle".into(), common::FieldValue::Float(v))],
        timestamp: Some(1_704_067_200_000_000_000 + t * 1_000_000_000),
    }
}

fn task(handlers: &str, opts: &Options) -> Result<Task, Error> {
    let script = format!(
        "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|alert().crit(lambda: \"usage_idle\" < 70).details(''){handlers}"
    );
    let g = tick::compile(&script, &CheckOptions::strict())?;
    Task::new("t", g, opts)
}

async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}

#[tokio::test]
async fn log_post_and_tcp_deliver_the_alert_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (http_addr, tcp_addr) = (
        http.local_addr().expect("addr"),
        tcp.local_addr().expect("addr"),
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let tx2 = tx.clone();
    tokio::spawn(async move {
        let (mut s, _) = http.accept().await.expect("accept");
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        loop {
            let n = s.read(&mut buf).await.expect("read");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if body.len() >= len {
                    s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                        .await
                        .expect("write");
                    let _ = tx.send((head.to_string(), body.to_string()));
                    break;
                }
            }
        }
    });
    tokio::spawn(async move {
        let (mut s, _) = tcp.accept().await.expect("accept");
        let mut body = String::new();
        s.read_to_string(&mut body).await.expect("read");
        let _ = tx2.send(("tcp".into(), body));
    });
    let log = dir.path().join("alerts.log");
    let opts = Options {
        alert_dir: Some(dir.path().to_path_buf()),
        allowed_addresses: vec!["127.0.0.0/8".into()],
        ..Options::default()
    };
    let handlers = format!(
        ".log('{}').post('http://{http_addr}/hook').header('X-Token', 'abc').tcp('{tcp_addr}')",
        log.display()
    );
    let mut t = task(&handlers, &opts).expect("task");
    let d = Dispatcher::start(&t, &opts);
    let events = t.push_point("telegraf", "autogen", &point(50.0, 0));
    assert_eq!(events.len(), 1);
    d.dispatch(&events);
    let json = events[0].to_json();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("delivered")
            .expect("message");
        seen.push(got);
    }
    seen.sort();
    let (head, body) = &seen[0];
    assert!(head.starts_with("POST /hook HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nX-Token: abc"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: application/json"),
        "{head}"
    );
    assert_eq!(body, &json);
    assert_eq!(seen[1], ("tcp".to_string(), json.clone()));
    wait_for(|| std::fs::read_to_string(&log).is_ok_and(|s| !s.is_empty())).await;
    assert_eq!(
        std::fs::read_to_string(&log).expect("log"),
        format!("{json}\n")
    );
}

#[test]
fn guard_refuses_private_addresses_and_paths_outside_the_alert_dir() {
    let opts = Options {
        alert_dir: Some(std::env::temp_dir().join("tigk-alerts")),
        ..Options::default()
    };
    let cases = [
        (
            ".post('http://127.0.0.1:9/x')",
            "alert2: address 127.0.0.1 is private, loopback or link-local; allow-list it in the alerter configuration to use it",
        ),
        (
            ".post('http://169.254.169.254/latest/meta-data')",
            "alert2: address 169.254.169.254 is private, loopback or link-local; allow-list it in the alerter configuration to use it",
        ),
        (
            ".tcp('[fd00::1]:80')",
            "alert2: address fd00::1 is private, loopback or link-local; allow-list it in the alerter configuration to use it",
        ),
        (
            ".post('http://localhost/x')",
            "alert2: address localhost is private, loopback or link-local; allow-list it in the alerter configuration to use it",
        ),
        (
            ".log('/etc/cron.d/evil')",
            "alert2: alert log path \"/etc/cron.d/evil\" is outside the alert directory /tmp/tigk-alerts",
        ),
        (
            ".email('a@example.com')",
            "alert2: email handlers are off: configure and enable [smtp] to use them",
        ),
        (
            ".exec('/bin/sh', '-c', 'id')",
            "alert2: exec handlers are off: enable [alerter.exec] and allow \"/bin/sh\" to use them",
        ),
        (
            ".slack()",
            "alert2: slack handlers are off: configure and enable [alerter.slack] to use them",
        ),
    ];
    for (h, want) in cases {
        let err = task(h, &opts).expect_err(h);
        assert_eq!(
            err.to_string(),
            want.replace("/tmp", &std::env::temp_dir().to_string_lossy())
                .replace("//", "/"),
            "{h}"
        );
    }
}

#[tokio::test]
async fn a_hung_webhook_does_not_delay_other_handlers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hung = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = hung.local_addr().expect("addr");
    // Accepts and never answers.
    tokio::spawn(async move {
        let mut keep = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            keep.push(s);
        }
    });
    let log = dir.path().join("a.log");
    let opts = Options {
        alert_dir: Some(dir.path().to_path_buf()),
        allowed_addresses: vec!["127.0.0.1".into()],
        ..Options::default()
    };
    let handlers = format!(
        ".post('http://{addr}/').timeout(300ms).log('{}')",
        log.display()
    );
    let mut t = task(&handlers, &opts).expect("task");
    let d = Dispatcher::start(&t, &opts);
    let started = std::time::Instant::now();
    for i in 0..3 {
        let ev = t.push_point("telegraf", "autogen", &point(50.0, i));
        d.dispatch(&ev);
    }
    // Evaluation and dispatch never wait for delivery.
    assert!(started.elapsed() < Duration::from_millis(100));
    wait_for(|| std::fs::read_to_string(&log).is_ok_and(|s| s.lines().count() == 3)).await;
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "log waited for the webhook"
    );
    let post = &d.deliveries("alert2")[0];
    wait_for(|| post.stats.failed.load(std::sync::atomic::Ordering::Relaxed) == 3).await;
}
