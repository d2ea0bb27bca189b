//! A real Prometheus (Debian package `prometheus`) scrapes tigk's `/metrics` with basic auth
//! and with an admin bearer token: both targets are up and the samples are queryable; a
//! target without credentials is down. `/health` is public.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Server, post};

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str, auth: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    match req.call() {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(e) => (0, e.to_string()),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn tigk(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run tigk");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn prometheus_scrapes_metrics_with_credentials() {
    let binary = which("prometheus").unwrap_or_else(|| {
        panic!(
            "the `prometheus` binary is not installed: this test needs the Debian package \
             `prometheus` (apt-get install prometheus; .ci/run installs it)"
        )
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let password = "scrape-password-123";
    tigk(
        &data,
        &[
            "user",
            "create",
            "--name",
            "admin",
            "--password",
            password,
            "--admin",
        ],
    );
    let token_out = tigk(
        &data,
        &["token", "create", "--admin", "--description", "prometheus"],
    );
    let token = token_out.trim().to_string();
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "{token_out:?}"
    );

    // Credentials are required; /health is not.
    assert_eq!(get(&server.url("/metrics"), None).0, 401);
    let (status, body) = get(&server.url("/health"), None);
    assert_eq!((status, body.as_str()), (200, r#"{"status":"pass"}"#));
    let (status, metrics) = get(&server.url("/metrics"), Some(&format!("Bearer {token}")));
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics.contains("# TYPE tigk_write_requests_total counter"),
        "{metrics}"
    );

    // Some traffic so the counters move.
    let basic = format!("u=admin&p={password}");
    let (s, b) = post(
        &server.url(&format!("/query?{basic}")),
        "application/x-www-form-urlencoded",
        b"q=CREATE+DATABASE+db",
    )
    .expect("create");
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(
        &server.url(&format!("/write?db=db&{basic}")),
        "text/plain",
        b"m v=1 1\nm v=2 2\n",
    )
    .expect("write");
    assert_eq!(s, 204, "{b}");

    let port = free_port();
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).expect("mkdir");
    let pw_file = prom_dir.join("password");
    std::fs::write(&pw_file, password).expect("password file");
    let config = format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tigk-basic
    static_configs: [{{targets: ["{addr}"]}}]
    basic_auth: {{username: admin, password_file: "{pw}"}}
  - job_name: tigk-bearer
    static_configs: [{{targets: ["{addr}"]}}]
    authorization: {{type: Bearer, credentials: "{token}"}}
  - job_name: tigk-anonymous
    static_configs: [{{targets: ["{addr}"]}}]
"#,
        addr = server.addr,
        pw = pw_file.display(),
    );
    let config_file = prom_dir.join("prometheus.yml");
    std::fs::write(&config_file, config).expect("config");
    let _prom = Prometheus(
        Command::new(binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                prom_dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let deadline = Instant::now() + Duration::from_secs(90);
    let health = loop {
        let (status, body) = get(&format!("{api}/targets"), None);
        if status == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            let targets = v["data"]["activeTargets"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let health: Vec<(String, String, String)> = targets
                .iter()
                .map(|t| {
                    (
                        t["labels"]["job"].as_str().unwrap_or("").to_string(),
                        t["health"].as_str().unwrap_or("").to_string(),
                        t["lastError"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            if health.len() == 3 && health.iter().all(|(_, h, _)| h != "unknown") {
                break health;
            }
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not scrape in time: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    for (job, h, err) in &health {
        let want = if job == "tigk-anonymous" {
            "down"
        } else {
            "up"
        };
        assert_eq!(h, want, "{job}: {err}");
    }
    // The samples parsed: the write counter is queryable.
    let q = format!(
        "{api}/query?query={}",
        support::encode("tigk_write_requests_total{job=\"tigk-bearer\",result=\"ok\"}")
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = get(&q, None);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if let Some(val) = v["data"]["result"][0]["value"][1].as_str() {
            assert!(val.parse::<f64>().expect("number") >= 1.0, "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "no sample: {body}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}
