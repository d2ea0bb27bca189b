//! `[tls]`: the real binary serves HTTPS with a certificate made here, a client trusting
//! only that certificate gets `/ping`, plain HTTP is not answered on the port, the UI's
//! cookies become `Secure`, and bad files are refused at start with the config's line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Tls {
    child: Child,
    addr: String,
}

impl Drop for Tls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tigk(config: &Path, data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tigk"));
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env_remove("TIGK_CONFIG")
        .env("TIGK_LOG", "info");
    cmd
}

fn start(config: &Path, data: &Path) -> Tls {
    let mut child = tigk(config, data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tigk");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on https://").nth(1) {
                let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("tigk did not start listening on https");
    Tls { child, addr }
}

/// A self-signed certificate for localhost and 127.0.0.1, as PEM (cert, key).
fn certificate() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("certificate");
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

fn client(trusted_pem: &str) -> ureq::Agent {
    let cert = ureq::tls::Certificate::from_pem(trusted_pem.as_bytes()).expect("pem");
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

#[test]
fn serves_https_only_with_the_configured_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = certificate();
    std::fs::write(dir.path().join("cert.pem"), &cert).expect("cert");
    std::fs::write(dir.path().join("key.pem"), &key).expect("key");
    let config = dir.path().join("tigk.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n[monitor]\nstore_enabled = false\n",
            dir.path().join("cert.pem").display().to_string(),
            dir.path().join("key.pem").display().to_string()
        ),
    )
    .expect("config");
    let server = start(&config, &dir.path().join("data"));
    let port = server.addr.rsplit(':').next().expect("port");

    let agent = client(&cert);
    for host in ["localhost", "127.0.0.1"] {
        let resp = agent
            .get(format!("https://{host}:{port}/ping"))
            .call()
            .expect("https /ping");
        assert_eq!(resp.status(), 204, "{host}");
    }
    // The UI knows it is behind TLS: its cookies are Secure and __Host- prefixed.
    let resp = agent
        .get(format!("https://localhost:{port}/login"))
        .call()
        .expect("https /login");
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-") && c.contains("; Secure")),
        "{cookies:?}"
    );

    // A client that does not trust this certificate refuses the connection.
    let (other, _) = certificate();
    assert!(
        client(&other)
            .get(format!("https://localhost:{port}/ping"))
            .call()
            .is_err(),
        "a certificate the client does not trust was accepted"
    );

    // Plain HTTP on the same port gets no HTTP answer.
    let mut plain = TcpStream::connect(&server.addr).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    plain
        .write_all(b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP was answered: {:?}",
        String::from_utf8_lossy(&answer)
    );

    // SIGTERM stops the TLS listener as cleanly as the plain one.
    let mut server = server;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status();
    let status = server.child.wait().expect("wait");
    assert!(status.success(), "{status}");
}

#[test]
fn bad_certificate_or_key_files_are_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = certificate();
    let (_, other_key) = certificate();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    };
    let (cert_path, key_path) = (write("cert.pem", &cert), write("key.pem", &key));
    let other_key_path = write("other-key.pem", &other_key);
    let missing = dir.path().join("missing.pem").display().to_string();
    let cases = [
        (
            format!("[tls]\ncert = {missing:?}\nkey = {key_path:?}\n"),
            format!("tigk.toml:2:8: reading the TLS certificate {missing}"),
        ),
        (
            format!("[tls]\ncert = {key_path:?}\nkey = {key_path:?}\n"),
            "no PEM \"CERTIFICATE\" block".to_string(),
        ),
        (
            format!("[tls]\ncert = {cert_path:?}\nkey = {cert_path:?}\n"),
            "no usable PEM private key".to_string(),
        ),
        (
            format!("[tls]\ncert = {cert_path:?}\nkey = {other_key_path:?}\n"),
            "does not match certificate".to_string(),
        ),
    ];
    for (text, want) in cases {
        let config = dir.path().join("tigk.toml");
        std::fs::write(&config, &text).expect("config");
        let out = tigk(&config, &dir.path().join("data"))
            .output()
            .expect("run tigk");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with {text:?}");
        assert!(
            stderr.contains(&want),
            "{text:?}: expected {want:?} in {stderr}"
        );
    }
}

#[test]
fn the_agent_writes_over_https_trusting_the_servers_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = certificate();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert).expect("cert");
    std::fs::write(&key_path, &key).expect("key");
    let config = dir.path().join("tigk.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n[monitor]\nstore_enabled = false\n",
            cert_path.display().to_string(),
            key_path.display().to_string()
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    let created = Command::new(env!("CARGO_BIN_EXE_tigk"))
        .args([
            "user",
            "create",
            "--name",
            "admin",
            "--password",
            "tls-admin",
            "--admin",
        ])
        .arg("--data-dir")
        .arg(&data)
        .status()
        .expect("tigk user create");
    assert!(created.success());
    let server = start(&config, &data);
    let port = server.addr.rsplit(':').next().expect("port");

    let agent_config = |ca: Option<&Path>| {
        let ca = ca.map_or(String::new(), |p| {
            format!("tls_ca = {:?}\n", p.display().to_string())
        });
        let text = format!(
            "[agent]\nhostname = \"tls-host\"\n[[inputs.mem]]\n[[outputs.influxdb]]\n\
             urls = [\"https://localhost:{port}\"]\ndatabase = \"telegraf\"\n\
             username = \"admin\"\npassword = \"tls-admin\"\n{ca}"
        );
        agent::validate::parse("agent.toml", &text, |_| None).expect("agent config")
    };
    // The bundled roots do not know a self-signed certificate: refused.
    let untrusted = agent::pipeline::Agent::new(agent_config(None))
        .expect("agent")
        .once();
    assert!(untrusted.is_err(), "wrote to a server it should not trust");
    agent::pipeline::Agent::new(agent_config(Some(&cert_path)))
        .expect("agent")
        .once()
        .expect("written over https");

    let q = "SELECT count(used) FROM mem WHERE host = 'tls-host'";
    let mut resp = client(&cert)
        .get(format!(
            "https://localhost:{port}/query?db=telegraf&u=admin&p=tls-admin&q={}",
            q.replace(' ', "%20")
                .replace('=', "%3D")
                .replace('\'', "%27")
        ))
        .call()
        .expect("query");
    let body = resp.body_mut().read_to_string().expect("body");
    assert!(body.contains(",1]]"), "{body}");

    // A tls_ca file without a certificate is a config error at its line.
    std::fs::write(dir.path().join("empty.pem"), "nothing here").expect("write");
    let text = format!(
        "[[outputs.influxdb]]\nurls = [\"https://localhost:{port}\"]\ntls_ca = {:?}\n",
        dir.path().join("empty.pem").display().to_string()
    );
    let err = agent::validate::parse("agent.toml", &text, |_| None)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("no PEM certificate") && err.contains(":3:"),
        "{err}"
    );
}
