//! Runs the real `tigk` binary on a loopback port for end-to-end tests.

#![allow(dead_code)]

pub mod influx;
pub mod seed;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `tigk serve` on 127.0.0.1 with an OS-chosen port.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(data_dir, extra, &[])
    }

    /// [`Server::start`] with extra environment variables. A `--bind` in `extra` replaces
    /// the OS-chosen port (to restart a server where its clients expect it).
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let bind: &[&str] = if extra.contains(&"--bind") {
            &[]
        } else {
            &["--bind", "127.0.0.1:0"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_tigk"))
            .arg("serve")
            .args(bind)
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .env("TIGK_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tigk");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                    let _ = tx.send(addr);
                }
                if std::env::var_os("TIGK_TEST_LOG").is_some() {
                    eprintln!("[tigk] {line}");
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("tigk did not start listening");
        Server {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// SIGKILL: no flush, no shutdown hook.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait: the clean shutdown path.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// POSTs a body; returns (status, body).
pub fn post(url: &str, content_type: &str, body: &[u8]) -> Result<(u16, String), ureq::Error> {
    let mut resp = agent()
        .post(url)
        .header("Content-Type", content_type)
        .send(body)?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    Ok((status, text))
}

pub fn query(server: &Server, db: &str, q: &str) -> serde_json::Value {
    let body = format!("q={}", encode(q));
    let url = server.url(&format!("/query?db={db}&epoch=ns"));
    let (status, text) =
        post(&url, "application/x-www-form-urlencoded", body.as_bytes()).expect("query");
    assert_eq!(status, 200, "query {q:?} failed: {text}");
    serde_json::from_str(&text).expect("json")
}

pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A signed-in UI session on `base` (`http://host:port`): GET a page as that user.
pub struct UiSession {
    base: String,
    cookie: String,
    agent: ureq::Agent,
}

impl UiSession {
    /// Signs in through the login form (CSRF cookie and field, same Origin).
    pub fn sign_in(base: &str, user: &str, password: &str) -> UiSession {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let cookies = |resp: &ureq::http::Response<ureq::Body>| -> Vec<String> {
            resp.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(|c| c.split(';').next().map(str::to_string))
                .collect()
        };
        let login = agent
            .get(format!("{base}/login"))
            .call()
            .expect("login form");
        let csrf = cookies(&login)
            .iter()
            .find_map(|c| c.strip_prefix("tigk_csrf=").map(str::to_string))
            .expect("csrf cookie");
        let form = format!(
            "csrf={csrf}&user={}&password={}&next=%2F",
            encode(user),
            encode(password)
        );
        let resp = agent
            .post(format!("{base}/login"))
            .header("Origin", base)
            .header("Cookie", format!("tigk_csrf={csrf}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(form.as_bytes())
            .expect("sign in");
        assert_eq!(resp.status().as_u16(), 303, "sign in as {user}");
        UiSession {
            base: base.to_string(),
            cookie: cookies(&resp).join("; "),
            agent,
        }
    }

    /// (status, body) of a page.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut resp = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .call()
            .expect("page");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap_or_default())
    }
}
