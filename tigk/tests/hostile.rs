//! Hostile input against a real server: every request here gets a clear 4xx or a bounded
//! answer, never a 5xx, a leaked file or secret, or a crash; and data acknowledged before the
//! barrage is all still there after it.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Server, encode};

const ADMIN: (&str, &str) = ("admin", "hostile-admin-pass");

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn basic() -> String {
    use base64::Engine as _;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ADMIN.0, ADMIN.1));
    format!("Basic {token}")
}

/// (status, body) of a request with admin credentials.
fn send(method: &str, url: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, String) {
    let agent = agent();
    let auth = basic();
    let result = match method {
        "GET" => {
            let mut req = agent.get(url).header("Authorization", &auth);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call()
        }
        _ => {
            let mut req = agent.post(url).header("Authorization", &auth);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send(body)
        }
    };
    let mut resp = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .unwrap_or_default();
    (status, text)
}

/// The things no answer may contain, whatever the request.
fn assert_clean(what: &str, status: u16, body: &str) {
    assert!(status < 500, "{what}: status {status}: {body:.300}");
    for leak in [
        "root:x:0:0",
        "panicked",
        "RUST_BACKTRACE",
        "stack backtrace",
        ADMIN.1,
        "argon2id$",
    ] {
        assert!(
            !body.contains(leak),
            "{what}: answer leaks {leak:?}: {body:.300}"
        );
    }
}

/// Writes raw bytes on a fresh connection and reads what comes back (until close or 10 s).
fn raw(addr: &str, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The server may answer and close before the whole request is written: not an error.
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_line(resp: &str) -> &str {
    resp.lines().next().unwrap_or("")
}

#[test]
fn hostile_requests_get_clear_refusals_and_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let created = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args([
            "user",
            "create",
            "--name",
            ADMIN.0,
            "--password",
            ADMIN.1,
            "--admin",
            "--data-dir",
        ])
        .arg(dir.path())
        .status()
        .expect("tigk user create");
    assert!(created.success());
    let server = Server::start(dir.path(), &[]);
    let url = |p: &str| server.url(p);

    // Data acknowledged before the barrage.
    let (st, body) = send(
        "POST",
        &url("/query"),
        format!("q={}", encode("CREATE DATABASE safe")).as_bytes(),
        &[("Content-Type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(st, 200, "{body}");
    let batch: String = (0..1000)
        .map(|i| {
            format!(
                "keep,host=h{} v={i}i {}\n",
                i % 10,
                1_700_000_000_000_000_000i64 + i
            )
        })
        .collect();
    let (st, body) = send("POST", &url("/write?db=safe"), batch.as_bytes(), &[]);
    assert_eq!(st, 204, "{body}");

    // --- line protocol ---
    let write = url("/write?db=safe");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a million tags", {
            let mut v = b"tags".to_vec();
            for i in 0..1_000_000 {
                v.extend_from_slice(format!(",t{i}=x").as_bytes());
            }
            v.extend_from_slice(b" v=1\n");
            v
        }),
        (
            "invalid UTF-8",
            b"bad,host=\xff\xfe v=1\nbad v=\"\xc3\x28\"\n".to_vec(),
        ),
        ("escape flood", {
            let mut v = b"esc".to_vec();
            v.extend(std::iter::repeat_n(b'\\', 2 << 20));
            v.extend_from_slice(b" v=1\n");
            v
        }),
        ("nul bytes", b"\0\0\0 v=1\nm \0=\0\n".to_vec()),
        (
            "huge timestamp",
            b"m v=1 99999999999999999999999\n".to_vec(),
        ),
        ("a field per byte", {
            let mut v = b"fields ".to_vec();
            for i in 0..200_000 {
                v.extend_from_slice(format!("f{i}=1,").as_bytes());
            }
            v.extend_from_slice(b"last=1\n");
            v
        }),
    ];
    for (what, body) in cases {
        let started = Instant::now();
        let (st, text) = send("POST", &write, &body, &[]);
        assert_clean(what, st, &text);
        assert!((400..500).contains(&st), "{what}: {st} {text:.300}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} took {:?}",
            started.elapsed()
        );
    }
    // Bigger than the body limit: answered 413 before it is read whole (the client may
    // still be writing when the answer comes, so this one goes over a raw socket).
    let mut big = format!(
        "POST /write?db=safe HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        basic(),
        30 << 20
    )
    .into_bytes();
    big.extend(std::iter::repeat_n(b'x', 30 << 20));
    let resp = raw(&server.addr, &big);
    assert_clean("30 MB body", 0, &resp);
    assert!(
        status_line(&resp).contains(" 413"),
        "30 MB body: {}",
        status_line(&resp)
    );

    // Gzip bombs are refused by the write handler itself (tsdb/tests/http_write.rs).

    // --- InfluxQL ---
    let q = |query: &str| {
        let body = format!("q={}", encode(query));
        send(
            "POST",
            &url("/query?db=safe"),
            body.as_bytes(),
            &[("Content-Type", "application/x-www-form-urlencoded")],
        )
    };
    let nested = format!(
        "SELECT {}v{} FROM keep",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let stacked = "SELECT v FROM keep;".repeat(10_000);
    let long_regex = format!(
        "SELECT v FROM keep WHERE host =~ /{}/",
        "(a+)+".repeat(2_000)
    );
    for (what, query, expect_error) in [
        (
            "catastrophic regex",
            "SELECT count(v) FROM keep WHERE host =~ /^(h+)+$/",
            false,
        ),
        ("long regex", long_regex.as_str(), false),
        (
            "regex over the size limit",
            "SELECT v FROM keep WHERE host =~ /(a{1000}){1000}/",
            true,
        ),
        (
            "GROUP BY time(1ns) over a year",
            "SELECT count(v) FROM keep WHERE time > now() - 365d GROUP BY time(1ns)",
            true,
        ),
        ("deep nesting", nested.as_str(), true),
        ("statement stacking", stacked.as_str(), true),
        ("unknown function", "SELECT nosuch(v) FROM keep", true),
    ] {
        let started = Instant::now();
        let (st, text) = q(query);
        assert_clean(what, st, &text);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} took {:?}",
            started.elapsed()
        );
        if expect_error {
            assert!(
                text.contains("\"error\""),
                "{what}: no error in {st} {text:.300}"
            );
        } else {
            assert_eq!(st, 200, "{what}: {text:.300}");
        }
    }
    // Writing statements over GET are refused, as in 1.x, and do nothing.
    let (st, text) = send(
        "GET",
        &url(&format!("/query?q={}", encode("DROP DATABASE safe"))),
        b"",
        &[],
    );
    assert_clean("DROP over GET", st, &text);
    assert!(text.contains("refusing"), "DROP over GET: {st} {text}");

    // --- credentials ---
    let anon = agent();
    for (what, auth) in [
        ("no credentials", None),
        ("wrong password", Some("Basic YWRtaW46bm9wZQ==")),
        (
            "forged token",
            Some("Token tigk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        ("garbage header", Some("Basic %%%%")),
        (
            "huge header",
            Some(&*format!("Token {}", "A".repeat(60_000))),
        ),
    ] {
        let mut req = anon.post(&write);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send(&b"m v=1\n"[..]).expect("request");
        let st = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        assert_clean(what, st, &text);
        assert!((400..500).contains(&st), "{what}: {st} {text}");
    }

    // --- HTTP itself ---
    let addr = server.addr.clone();
    for path in [
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/%252e%252e%252fetc%252fpasswd",
        "/static/..%5c..%5c..%5cetc%5cpasswd",
        "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "/..;/..;/etc/passwd",
    ] {
        let resp = raw(
            &addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_clean(path, 0, &resp);
        let line = status_line(&resp);
        assert!(line.contains(" 4") || line.contains(" 3"), "{path}: {line}");
    }
    let mut flood = String::from("GET /ping HTTP/1.1\r\nHost: x\r\n");
    for i in 0..2000 {
        flood.push_str(&format!("X-Flood-{i}: {}\r\n", "y".repeat(100)));
    }
    flood.push_str("\r\n");
    let resp = raw(&addr, flood.as_bytes());
    assert!(
        resp.is_empty() || status_line(&resp).contains(" 4"),
        "header flood: {}",
        status_line(&resp)
    );
    // Request smuggling: both framings, or two lengths, are refused, not guessed.
    for req in [
        "POST /write?db=safe HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /write?db=safe HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nContent-Length: 60\r\n\r\nm v=1\n",
        "POST /write?db=safe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\nm v=1\n",
    ] {
        let resp = raw(&addr, req.as_bytes());
        let line = status_line(&resp);
        assert!(
            line.contains(" 400")
                || line.contains(" 501")
                || resp.is_empty()
                || line.contains(" 401"),
            "smuggling: {line}"
        );
        assert!(
            !resp.contains("HTTP/1.1 204"),
            "a smuggled request was answered: {resp}"
        );
    }

    // --- nothing lost, server alive ---
    let (st, text) = q("SELECT count(v) FROM keep");
    assert_eq!(st, 200, "{text}");
    assert!(text.contains("1000"), "acknowledged points lost: {text}");
    assert_eq!(send("GET", &url("/ping"), b"", &[]).0, 204);
    server.stop();
}
