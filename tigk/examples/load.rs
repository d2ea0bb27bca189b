//! Load benchmark for issue #8 item 4: a real `tigk serve` under a fleet of simulated
//! agents, a replayed backlog and dashboard users at the same time; or (`--million`) the
//! memory held for one million series.
//!
//! ```sh
//! cargo build --release -p tigk --bin tigk --example load
//! target/release/examples/load                         # 100 agents @10 s, backlog, 50 users, 120 s
//! target/release/examples/load --interval-secs 1       # the same fleet, ten times as often
//! target/release/examples/load --million               # 1,000,000 series, RSS after ingest and flush
//! ```
//!
//! Every agent posts one Telegraf-shaped batch per interval (cpu per core and total, mem,
//! disk, diskio, net, system: the tigk agent's measurement and field names), starting at a
//! random offset in the interval. One client replays hours of old points for a few hosts in
//! large batches, as an agent back from an outage does. Dashboard users, signed in through
//! the login form, load the host dashboard page (`/hosts/{host}`, eight panel queries and
//! their charts) in a loop with a think time. A monitor samples `/metrics` and `/proc`.
//! A benchmark, not a test: its figures depend on the machine (see bench/results/).

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use rand::Rng;

#[derive(Parser, Debug)]
#[command(
    about = "Load benchmark: agents, a replayed backlog and dashboard users against tigk serve"
)]
struct Args {
    /// The tigk binary (default: next to this example's directory, target/release/tigk).
    #[arg(long)]
    tigk: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    agents: usize,
    /// Seconds between an agent's batches (Telegraf's flush interval).
    #[arg(long, default_value_t = 10.0)]
    interval_secs: f64,
    /// CPU cores per simulated host (one `cpu` line each, plus cpu-total).
    #[arg(long, default_value_t = 4)]
    cores: usize,
    /// Length of the measured run.
    #[arg(long, default_value_t = 120)]
    duration_secs: u64,
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Pause between one user's page loads.
    #[arg(long, default_value_t = 1000)]
    think_ms: u64,
    /// Hosts whose backlog is replayed (0: no backlog).
    #[arg(long, default_value_t = 10)]
    backlog_hosts: usize,
    /// Hours of 10 s intervals replayed per backlog host.
    #[arg(long, default_value_t = 24)]
    backlog_hours: u64,
    /// Hours of history loaded for every agent before the run (untimed), so that the
    /// dashboards query real ranges.
    #[arg(long, default_value_t = 1)]
    history_hours: u64,
    /// Lines per backlog request.
    #[arg(long, default_value_t = 5000)]
    backlog_batch: usize,
    /// Instead of the fleet: write this many distinct series (3 points each) and report RSS.
    #[arg(long)]
    million: bool,
    #[arg(long, default_value_t = 1_000_000)]
    series: usize,
    /// Keep the server's data directory and log (printed at the end).
    #[arg(long)]
    keep: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let tigk = match &args.tigk {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .and_then(Path::parent)
            .map(|d| d.join("tigk"))
            .context("no directory for the tigk binary")?,
    };
    let server = Server::start(&tigk)?;
    println!(
        "tigk {} on {} (data {}); load before the run: {}",
        tigk.display(),
        server.base,
        server.dir.display(),
        loadavg()
    );
    let result = if args.million {
        million(&args, &server)
    } else {
        fleet(&args, &server)
    };
    println!("load after the run: {}", loadavg());
    server.stop(args.keep);
    result
}

// ---------------------------------------------------------------- server

struct Server {
    child: Child,
    base: String,
    dir: PathBuf,
    token: String,
    password: String,
}

impl Server {
    fn start(tigk: &Path) -> Result<Server> {
        let dir = std::env::temp_dir().join(format!("tigk-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let password = format!("load-bench-{}", now_ns());
        let ok = Command::new(tigk)
            .args([
                "user",
                "create",
                "--name",
                "admin",
                "--password",
                &password,
                "--admin",
            ])
            .arg("--data-dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .status()?;
        if !ok.success() {
            bail!("tigk user create failed");
        }
        let out = Command::new(tigk)
            .args(["token", "create", "--admin", "--description", "load"])
            .arg("--data-dir")
            .arg(&dir)
            .output()?;
        let token = String::from_utf8(out.stdout)?.trim().to_string();
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = std::fs::File::create(dir.with_extension("log"))?;
        let child = Command::new(tigk)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            token,
            password,
        };
        let agent = http();
        for _ in 0..200 {
            if agent.get(format!("{}/ping", server.base)).call().is_ok() {
                let (status, body) = server.post_query("CREATE DATABASE telegraf")?;
                if status != 200 {
                    bail!("CREATE DATABASE: {status} {body}");
                }
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("tigk serve did not answer /ping")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn auth(&self) -> String {
        format!("Token {}", self.token)
    }

    fn post_query(&self, q: &str) -> Result<(u16, String)> {
        let mut resp = http()
            .post(format!("{}/query", self.base))
            .header("Authorization", self.auth())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(format!("q={}", urlencode(q)))?;
        Ok((
            resp.status().as_u16(),
            resp.body_mut().read_to_string().unwrap_or_default(),
        ))
    }

    fn write(&self, agent: &ureq::Agent, body: &str) -> Result<u16> {
        let resp = agent
            .post(format!("{}/write?db=telegraf", self.base))
            .header("Authorization", self.auth())
            .send(body)?;
        Ok(resp.status().as_u16())
    }

    fn metric(&self, name: &str) -> Option<f64> {
        let mut resp = http()
            .get(format!("{}/metrics", self.base))
            .header("Authorization", self.auth())
            .call()
            .ok()?;
        let text = resp.body_mut().read_to_string().ok()?;
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .reduce(|a, b| a + b)
    }

    /// Signs in through the login form (CSRF cookie and field, same-origin POST) and
    /// returns the session cookie.
    fn login(&self) -> Result<String> {
        let agent = http();
        let mut resp = agent.get(format!("{}/login", self.base)).call()?;
        let cookies = set_cookies(&resp);
        let html = resp.body_mut().read_to_string()?;
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .context("no csrf field on the login form")?
            .to_string();
        let form = format!(
            "csrf={}&next=%2Fhosts&user=admin&password={}",
            urlencode(&csrf),
            urlencode(&self.password)
        );
        let resp = agent
            .post(format!("{}/login", self.base))
            .header("Cookie", cookies.join("; "))
            .header("Origin", &self.base)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(form)?;
        let session = set_cookies(&resp)
            .into_iter()
            .find(|c| c.contains("session"))
            .with_context(|| format!("sign-in refused: {}", resp.status()))?;
        Ok(session)
    }

    fn stop(mut self, keep: bool) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let _ = self.child.wait();
        if keep {
            println!(
                "kept {} and {}",
                self.dir.display(),
                self.dir.with_extension("log").display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
            let _ = std::fs::remove_file(self.dir.with_extension("log"));
        }
    }
}

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn set_cookies(resp: &ureq::http::Response<ureq::Body>) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// (RSS bytes, CPU seconds user+system) of a process.
fn proc_usage(pid: u32) -> (u64, f64) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0)
        * 1024;
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) start at ") ".
            let rest = s.rsplit_once(") ")?.1;
            let f: Vec<&str> = rest.split(' ').collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0);
    (rss, cpu)
}

// ---------------------------------------------------------------- fleet

/// One interval of a host's metrics as the tigk agent sends them.
fn host_batch(out: &mut String, host: &str, cores: usize, ts: i64, rng: &mut impl Rng) {
    use std::fmt::Write as _;
    let mut cpu = |out: &mut String, name: &str| {
        let user: f64 = rng.random_range(0.0..60.0);
        let system: f64 = rng.random_range(0.0..20.0);
        let iowait: f64 = rng.random_range(0.0..5.0);
        let idle = 100.0 - user - system - iowait;
        let _ = writeln!(
            out,
            "cpu,cpu={name},host={host} usage_user={user},usage_system={system},usage_idle={idle},usage_nice=0,usage_iowait={iowait},usage_irq=0,usage_softirq={},usage_steal=0,usage_guest=0,usage_guest_nice=0 {ts}",
            rng.random_range(0.0..1.0)
        );
    };
    for c in 0..cores {
        cpu(out, &format!("cpu{c}"));
    }
    cpu(out, "cpu-total");
    let total: u64 = 16 << 30;
    let used: u64 = rng.random_range(2u64 << 30..14u64 << 30);
    let _ = writeln!(
        out,
        "mem,host={host} total={total}i,available={}i,used={used}i,free={}i,cached={}i,buffered={}i,active={}i,inactive={}i,used_percent={},available_percent={} {ts}",
        total - used,
        (total - used) / 2,
        (total - used) / 3,
        1u64 << 28,
        used / 2,
        used / 3,
        used as f64 * 100.0 / total as f64,
        (total - used) as f64 * 100.0 / total as f64,
    );
    for (path, device) in [("/", "sda1"), ("/var", "sdb1")] {
        let total: u64 = 500 << 30;
        let used: u64 = rng.random_range(50u64 << 30..400u64 << 30);
        let _ = writeln!(
            out,
            "disk,device={device},fstype=ext4,host={host},mode=rw,path={path} total={total}i,free={}i,used={used}i,used_percent={},inodes_total=32768000i,inodes_free=30000000i,inodes_used=2768000i {ts}",
            total - used,
            used as f64 * 100.0 / total as f64
        );
    }
    // Counters grow with time, as the real ones do.
    let secs = ts / 1_000_000_000;
    for name in ["sda", "sdb"] {
        let _ = writeln!(
            out,
            "diskio,host={host},name={name} reads={}i,writes={}i,read_bytes={}i,write_bytes={}i,read_time={}i,write_time={}i,io_time={}i,weighted_io_time={}i,iops_in_progress=0i,merged_reads=0i,merged_writes=0i {ts}",
            secs * 3,
            secs * 7,
            secs * 40_000,
            secs * 90_000,
            secs * 2,
            secs * 5,
            secs * 4,
            secs * 9
        );
    }
    for iface in ["eth0", "lo"] {
        let _ = writeln!(
            out,
            "net,host={host},interface={iface} bytes_sent={}i,bytes_recv={}i,packets_sent={}i,packets_recv={}i,err_in=0i,err_out=0i,drop_in=0i,drop_out=0i {ts}",
            secs * 120_000,
            secs * 250_000,
            secs * 100,
            secs * 180
        );
    }
    let _ = writeln!(
        out,
        "system,host={host} load1={},load5={},load15={},n_cpus={cores}i,n_users=2i,uptime={secs}i {ts}",
        rng.random_range(0.0..4.0),
        rng.random_range(0.0..3.0),
        rng.random_range(0.0..2.0),
    );
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

#[derive(Default)]
struct Samples {
    ms: Mutex<Vec<f64>>,
    /// (seconds into the run, ms) of requests slower than 100 ms, to line up with the log.
    slow: Mutex<Vec<(f64, f64)>>,
    errors: AtomicU64,
}

impl Samples {
    fn add(&self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        self.ms.lock().unwrap_or_else(|e| e.into_inner()).push(ms);
        if ms > 100.0 {
            let t = START.get().map_or(0.0, |s| s.elapsed().as_secs_f64());
            self.slow
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((t, ms));
        }
    }

    fn slowest(&self, n: usize) -> String {
        let mut v = self.slow.lock().unwrap_or_else(|e| e.into_inner()).clone();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v.truncate(n);
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v.iter()
            .map(|(t, ms)| format!("{ms:.0} ms at {t:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn summary(&self) -> (usize, [f64; 4]) {
        let mut v = self.ms.lock().unwrap_or_else(|e| e.into_inner()).clone();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| -> f64 {
            if v.is_empty() {
                return f64::NAN;
            }
            v[((v.len() as f64 * p).ceil() as usize)
                .saturating_sub(1)
                .min(v.len() - 1)]
        };
        (v.len(), [q(0.5), q(0.95), q(0.99), q(1.0)])
    }
}

fn fleet(args: &Args, server: &Server) -> Result<()> {
    let session = server.login()?;
    if args.history_hours > 0 {
        let t = Instant::now();
        let agent = http();
        let mut rng = rand::rng();
        let steps = (args.history_hours * 360) as i64;
        let from = now_ns() - steps * 10_000_000_000;
        let mut body = String::new();
        for a in 0..args.agents {
            for i in 0..steps {
                host_batch(
                    &mut body,
                    &format!("host-{a:03}"),
                    args.cores,
                    from + i * 10_000_000_000,
                    &mut rng,
                );
                if body.len() > 2 << 20 {
                    server.write(&agent, &body)?;
                    body.clear();
                }
            }
        }
        if !body.is_empty() {
            server.write(&agent, &body)?;
        }
        // Let the idle flush store it, as it would be after an hour of traffic.
        let wait = Instant::now();
        while server.metric("tigk_head_values").unwrap_or(0.0) > 0.0
            && wait.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(250));
        }
        std::thread::sleep(Duration::from_secs(1));
        println!(
            "history: {} h for {} agents loaded in {:.1} s",
            args.history_hours,
            args.agents,
            t.elapsed().as_secs_f64()
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(Samples::default());
    let pages = Arc::new(Samples::default());
    let lines = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_secs_f64(args.interval_secs);
    let start = Instant::now();
    let _ = START.set(start);
    let end = start + Duration::from_secs(args.duration_secs);
    std::thread::scope(|s| -> Result<()> {
        for a in 0..args.agents {
            let (stop, writes, lines) = (stop.clone(), writes.clone(), lines.clone());
            s.spawn(move || {
                let mut rng = rand::rng();
                let host = format!("host-{a:03}");
                let agent = http();
                let mut next = start + interval.mul_f64(rng.random_range(0.0..1.0));
                let mut body = String::new();
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now < next {
                        std::thread::sleep((next - now).min(Duration::from_millis(200)));
                        continue;
                    }
                    next += interval;
                    body.clear();
                    host_batch(&mut body, &host, args.cores, now_ns(), &mut rng);
                    let t = Instant::now();
                    match server.write(&agent, &body) {
                        Ok(204) => {
                            writes.add(t.elapsed());
                            lines.fetch_add(body.lines().count() as u64, Ordering::Relaxed);
                        }
                        _ => {
                            writes.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        let backlog = Arc::new(Samples::default());
        let backlog_done = Arc::new(Mutex::new(None::<Duration>));
        if args.backlog_hosts > 0 {
            let (stop, backlog, done) = (stop.clone(), backlog.clone(), backlog_done.clone());
            s.spawn(move || {
                let mut rng = rand::rng();
                let agent = http();
                let steps = (args.backlog_hours * 360) as i64;
                let from = now_ns() - steps * 10_000_000_000;
                let mut body = String::new();
                let mut n = 0;
                'outer: for i in 0..steps {
                    for h in 0..args.backlog_hosts {
                        let host = format!("backlog-{h:02}");
                        host_batch(
                            &mut body,
                            &host,
                            args.cores,
                            from + i * 10_000_000_000,
                            &mut rng,
                        );
                        n += 1;
                        // A host batch is 13 lines with 4 cores.
                        if n * (args.cores + 9) >= args.backlog_batch || i == steps - 1 {
                            if stop.load(Ordering::Relaxed) {
                                break 'outer;
                            }
                            let t = Instant::now();
                            match server.write(&agent, &body) {
                                Ok(204) => backlog.add(t.elapsed()),
                                _ => {
                                    backlog.errors.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            body.clear();
                            n = 0;
                        }
                    }
                }
                *done.lock().unwrap_or_else(|e| e.into_inner()) = Some(start.elapsed());
            });
        }
        for _ in 0..args.users {
            let (stop, pages, session) = (stop.clone(), pages.clone(), session.clone());
            s.spawn(move || {
                let mut rng = rand::rng();
                let agent = http();
                // Spread the first loads over the think time, as people arrive.
                std::thread::sleep(Duration::from_millis(
                    rng.random_range(0..args.think_ms.max(1)),
                ));
                while !stop.load(Ordering::Relaxed) {
                    let host = format!("host-{:03}", rng.random_range(0..args.agents.max(1)));
                    let t = Instant::now();
                    let ok = agent
                        .get(format!("{}/hosts/{host}?from=now-1h", server.base))
                        .header("Cookie", &session)
                        .call()
                        .map(|mut r| {
                            r.status().as_u16() == 200
                                && r.body_mut()
                                    .with_config()
                                    .limit(64 << 20)
                                    .read_to_string()
                                    .is_ok_and(|b| b.contains("<svg"))
                        })
                        .unwrap_or(false);
                    if ok {
                        pages.add(t.elapsed());
                    } else {
                        pages.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(args.think_ms));
                }
            });
        }
        // Monitor: queue depth, head, RSS and CPU every second.
        let (_, cpu0) = proc_usage(server.pid());
        let mut depth = Vec::new();
        let mut peak_rss = 0;
        let mut timeline = Vec::new();
        let mut last_cpu = cpu0;
        let mut last_t = Instant::now();
        let mut last_lines = 0;
        while Instant::now() < end {
            std::thread::sleep(Duration::from_secs(1));
            let d = server.metric("tigk_write_queue_depth").unwrap_or(f64::NAN);
            let head = server.metric("tigk_head_values").unwrap_or(f64::NAN);
            let (rss, cpu) = proc_usage(server.pid());
            depth.push(d);
            peak_rss = peak_rss.max(rss);
            let elapsed = start.elapsed().as_secs();
            if elapsed.is_multiple_of(10) || Instant::now() >= end {
                let dt = last_t.elapsed().as_secs_f64();
                let l = lines.load(Ordering::Relaxed);
                timeline.push(format!(
                    "| {elapsed} | {d} | {head} | {:.0} | {:.0} | {:.0} |",
                    rss as f64 / (1 << 20) as f64,
                    (cpu - last_cpu) / dt * 100.0,
                    (l - last_lines) as f64 / dt
                ));
                last_cpu = cpu;
                last_t = Instant::now();
                last_lines = l;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let (_, cpu1) = proc_usage(server.pid());
        let wall = start.elapsed().as_secs_f64();
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "\nsettings: {} agents x {} cores every {} s, {} users (think {} ms), backlog {} hosts x {} h in batches of {} lines, {} s",
            args.agents,
            args.cores,
            args.interval_secs,
            args.users,
            args.think_ms,
            args.backlog_hosts,
            args.backlog_hours,
            args.backlog_batch,
            args.duration_secs
        )?;
        writeln!(
            out,
            "\n| t s | queue depth | head values | RSS MiB | server CPU % | live lines/s |"
        )?;
        writeln!(out, "|---:|---:|---:|---:|---:|---:|")?;
        for row in &timeline {
            writeln!(out, "{row}")?;
        }
        let fmt = |name: &str, s: &Samples| -> String {
            let (n, [p50, p95, p99, max]) = s.summary();
            format!(
                "| {name} | {n} | {} | {p50:.1} | {p95:.1} | {p99:.1} | {max:.1} |",
                s.errors.load(Ordering::Relaxed)
            )
        };
        writeln!(
            out,
            "\n| requests | n | errors | p50 ms | p95 ms | p99 ms | max ms |"
        )?;
        writeln!(out, "|---|---:|---:|---:|---:|---:|---:|")?;
        writeln!(out, "{}", fmt("agent writes", &writes))?;
        writeln!(out, "{}", fmt("backlog writes", &backlog))?;
        writeln!(out, "{}", fmt("dashboard pages", &pages))?;
        writeln!(out, "\nslowest agent writes: {}", writes.slowest(12))?;
        writeln!(out, "slowest dashboard pages: {}", pages.slowest(6))?;
        let live = lines.load(Ordering::Relaxed) as f64;
        let values_per_line =
            (10.0 * (args.cores + 1) as f64 + 10.0 + 2.0 * 7.0 + 2.0 * 11.0 + 2.0 * 8.0 + 6.0)
                / (args.cores + 9) as f64;
        let (bn, _) = backlog.summary();
        let backlog_lines = bn * args.backlog_batch;
        let depth_max = depth.iter().copied().fold(0.0, f64::max);
        let depth_mean = depth.iter().sum::<f64>() / depth.len().max(1) as f64;
        let tail = &depth[depth.len().saturating_sub(10)..];
        writeln!(
            out,
            "\nlive points/s {:.0} (~{:.0} values/s); backlog {} points{}; queue depth mean {depth_mean:.2} max {depth_max} (last 10 s max {}); server CPU {:.0}% of one core; peak RSS {:.0} MiB",
            live / wall,
            live / wall * values_per_line,
            backlog_lines,
            match *backlog_done.lock().unwrap_or_else(|e| e.into_inner()) {
                Some(d) => format!(
                    " in {:.1} s ({:.0} points/s)",
                    d.as_secs_f64(),
                    backlog_lines as f64 / d.as_secs_f64()
                ),
                None => " (not finished)".into(),
            },
            tail.iter().copied().fold(0.0, f64::max),
            (cpu1 - cpu0) / wall * 100.0,
            peak_rss as f64 / (1 << 20) as f64
        )?;
        Ok(())
    })
}

// ---------------------------------------------------------------- million series

fn million(args: &Args, server: &Server) -> Result<()> {
    let agent = http();
    let batch = 10_000;
    let base = now_ns() - 3_600_000_000_000;
    let start = Instant::now();
    let mut body = String::new();
    let mut peak = 0;
    for round in 0..3i64 {
        let ts = base + round * 10_000_000_000;
        for first in (0..args.series).step_by(batch) {
            body.clear();
            for i in first..(first + batch).min(args.series) {
                // 1,000 hosts x 1,000 containers: tag sets of a realistic length.
                use std::fmt::Write as _;
                let _ = writeln!(
                    body,
                    "container,host=host-{:04},container=c-{:04} mem_bytes={}i {ts}",
                    i / 1000,
                    i % 1000,
                    i * 7 + round as usize
                );
            }
            let status = server.write(&agent, &body)?;
            if status != 204 {
                bail!("write refused: {status}");
            }
            peak = peak.max(proc_usage(server.pid()).0);
        }
        println!(
            "round {round}: {} series written, {:.1} s, RSS {:.0} MiB",
            args.series,
            start.elapsed().as_secs_f64(),
            proc_usage(server.pid()).0 as f64 / (1 << 20) as f64
        );
    }
    let ingest = start.elapsed();
    let (rss_ingest, cpu) = proc_usage(server.pid());
    let series = server.metric("tigk_series").unwrap_or(f64::NAN);
    // The store flushes its head once writes stop (idle flush); wait for it.
    let flush_start = Instant::now();
    while server.metric("tigk_head_values").unwrap_or(1.0) > 0.0 {
        if flush_start.elapsed() > Duration::from_secs(600) {
            bail!("the head was not flushed within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let flushed = flush_start.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let (rss_flush, _) = proc_usage(server.pid());
    let t = Instant::now();
    let (status, text) = server
        .post_query("SELECT count(mem_bytes) FROM telegraf..container WHERE host = 'host-0420'")?;
    let q = t.elapsed();
    println!(
        "\n| series | ingest s | server CPU s | peak RSS MiB | RSS after ingest MiB | flush s | RSS after flush MiB |\n|---:|---:|---:|---:|---:|---:|---:|\n| {series} | {:.1} | {cpu:.1} | {:.0} | {:.0} | {:.1} | {:.0} |",
        ingest.as_secs_f64(),
        peak as f64 / (1 << 20) as f64,
        rss_ingest as f64 / (1 << 20) as f64,
        flushed.as_secs_f64(),
        rss_flush as f64 / (1 << 20) as f64,
    );
    println!(
        "a query over one host's 1,000 series after the flush: {status} in {:.0} ms: {}",
        q.as_secs_f64() * 1000.0,
        text.chars().take(200).collect::<String>()
    );
    Ok(())
}
