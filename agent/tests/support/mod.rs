//! A scriptable HTTP/1.1 server on 127.0.0.1:0 for delivery tests, on std threads only so
//! the agent's test build does not pull in an async runtime.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16, &'static str),
    /// Reads the request, then says nothing for this long (a hung server).
    Hang(Duration),
    /// Reads the request and closes the connection without answering.
    Close,
    /// 413 when the body has more than this many lines, else 204.
    LimitLines(usize),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// Decompressed when sent with `Content-Encoding: gzip`.
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    default: Option<Reply>,
    requests: Vec<Request>,
    /// Requests answered with a 2xx.
    accepted: Vec<Request>,
}

#[derive(Clone)]
pub struct Server {
    pub addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start(default: Reply) -> Server {
        Server::start_on(
            TcpListener::bind("127.0.0.1:0").expect("bind loopback"),
            default,
        )
    }

    pub fn start_on(listener: TcpListener, default: Reply) -> Server {
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            default: Some(default),
            ..Default::default()
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || handle(conn, st));
            }
        });
        Server { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replies used, in order, before falling back to the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().expect("lock").script.extend(replies);
    }

    pub fn set_default(&self, r: Reply) {
        self.state.lock().expect("lock").default = Some(r);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().expect("lock").requests.clone()
    }

    /// Lines of every accepted `/write`, in arrival order.
    pub fn written_lines(&self) -> Vec<String> {
        let st = self.state.lock().expect("lock");
        st.accepted
            .iter()
            .filter(|r| r.target.starts_with("/write"))
            .flat_map(|r| r.body.lines().map(str::to_string).collect::<Vec<_>>())
            .collect()
    }

    /// Waits until `cond` holds on the accepted lines, or panics after `timeout`.
    pub fn wait_for(&self, timeout: Duration, what: &str, cond: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.written_lines();
            if cond(&lines) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got {} lines",
                lines.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn handle(conn: TcpStream, state: Arc<Mutex<State>>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut conn = conn;
    loop {
        let Some(req) = read_request(&mut reader) else {
            return;
        };
        let reply = {
            let mut st = state.lock().expect("lock");
            st.requests.push(req.clone());
            let r = st
                .script
                .pop_front()
                .or_else(|| st.default.clone())
                .unwrap_or(Reply::Status(204, ""));
            let status = match &r {
                Reply::Status(s, _) => Some(*s),
                Reply::LimitLines(n) => Some(if req.body.lines().count() > *n {
                    413
                } else {
                    204
                }),
                _ => None,
            };
            if status.is_some_and(|s| (200..300).contains(&s)) {
                st.accepted.push(req.clone());
            }
            (r, status)
        };
        match reply {
            (Reply::Hang(d), _) => {
                std::thread::sleep(d);
                return;
            }
            (Reply::Close, _) => return,
            (r, Some(status)) => {
                let body = match r {
                    Reply::Status(_, b) => b,
                    _ if status == 413 => r#"{"error":"Request Entity Too Large"}"#,
                    _ => "",
                };
                let msg = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if conn.write_all(msg.as_bytes()).is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut raw = vec![0u8; len];
    r.read_exact(&mut raw).ok()?;
    let gz = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v == "gzip");
    let body = if gz {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .ok()?;
        s
    } else {
        String::from_utf8_lossy(&raw).into_owned()
    };
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}
