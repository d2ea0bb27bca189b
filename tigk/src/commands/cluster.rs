//! Several tigk instances sharing the tasks over one remote engine (`[cluster]`).
//!
//! Every instance has the same task definitions and the same member list. Each task runs on
//! exactly one live member: the one with the highest rendezvous score (SHA-256 of the
//! member's URL and the task id). There is no consensus: every instance polls every
//! member's `/ping` and computes the owner itself, so members agree as soon as they see the
//! same live set. A member that has not answered for `down_after` is down; its tasks move
//! to the others within `down_after + health_interval`, and come back when it answers
//! again. Rendezvous hashing moves only the tasks of the member that went down or came back.
//!
//! Only with `[storage] backend = "remote"`: in embedded mode each instance has its own
//! data, so sharing tasks between them would have each task see one instance's writes only.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tsdb::storage::WriteLog;

use super::config::parse_duration;
use super::remote::Storage;

/// The `[cluster]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCluster {
    members: Option<Vec<String>>,
    #[serde(rename = "self")]
    self_url: Option<String>,
    health_interval: Option<String>,
    down_after: Option<String>,
}

/// A validated `[cluster]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Each member's base URL (as the others reach it), in configured order.
    pub members: Vec<String>,
    /// This instance's index in `members`.
    pub me: usize,
    /// How often every member's `/ping` is asked.
    pub health_interval: Duration,
    /// A member silent this long is down and its tasks move.
    pub down_after: Duration,
}

impl ClusterConfig {
    /// How long a member's tasks wait at most before another member runs them.
    pub fn handover(&self) -> Duration {
        self.down_after + self.health_interval
    }
}

fn normalized(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

impl RawCluster {
    /// Validates the section; `storage` must be remote. With the default subscription
    /// name, each member gets its own (`tigk-<host:port>` of `self`): members sharing one
    /// name would keep replacing each other's subscription.
    pub fn validate(
        &self,
        origin: &str,
        storage: &mut Storage,
    ) -> anyhow::Result<Option<ClusterConfig>> {
        let err = |m: String| anyhow::anyhow!("{origin}: [cluster]: {m}");
        let set = self.members.is_some()
            || self.self_url.is_some()
            || self.health_interval.is_some()
            || self.down_after.is_some();
        if !set {
            return Ok(None);
        }
        let Storage::Remote(remote) = storage else {
            return Err(err(
                "needs [storage] backend = \"remote\": embedded instances each hold their own data"
                    .into(),
            ));
        };
        let members: Vec<String> = self
            .members
            .iter()
            .flatten()
            .map(|m| normalized(m))
            .collect();
        if members.is_empty() {
            return Err(err(
                "members = [\"http://tigk-1:8086\", ...] lists every instance".into(),
            ));
        }
        for (i, m) in members.iter().enumerate() {
            if !(m.starts_with("http://") || m.starts_with("https://")) {
                return Err(err(format!(
                    "member {m:?} must start with http:// or https://"
                )));
            }
            if members[..i].contains(m) {
                return Err(err(format!("member {m:?} is listed twice")));
            }
        }
        let Some(me) = self.self_url.as_deref().map(normalized) else {
            return Err(err(
                "self = \"...\" names this instance (one of members)".into()
            ));
        };
        let Some(me) = members.iter().position(|m| *m == me) else {
            return Err(err(format!("self {me:?} is not one of members")));
        };
        let duration = |key: &str, v: &Option<String>, default: Duration| match v {
            None => Ok(default),
            Some(s) => match parse_duration(s) {
                Some(d) if !d.is_zero() => Ok(d),
                _ => Err(err(format!(
                    "{key}: invalid duration {s:?} (use e.g. \"5s\", \"1m\")"
                ))),
            },
        };
        let health_interval = duration(
            "health_interval",
            &self.health_interval,
            Duration::from_secs(5),
        )?;
        let down_after = duration("down_after", &self.down_after, Duration::from_secs(15))?;
        if down_after <= health_interval {
            return Err(err(format!(
                "down_after ({down_after:?}) must be longer than health_interval ({health_interval:?})"
            )));
        }
        if remote.subscription_name == "tigk" {
            let host = members[me]
                .split_once("://")
                .map_or(members[me].as_str(), |(_, h)| h);
            remote.subscription_name = format!("tigk-{host}");
        }
        Ok(Some(ClusterConfig {
            members,
            me,
            health_interval,
            down_after,
        }))
    }
}

/// A member's rendezvous score for a task: stable across processes, versions and machines.
fn score(member: &str, task: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(member.as_bytes());
    h.update([0]);
    h.update(task.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// The live member with the highest score for `task` (`None`: no member is live).
pub fn owner(members: &[String], live: &[bool], task: &str) -> Option<usize> {
    members
        .iter()
        .enumerate()
        .filter(|(i, _)| live.get(*i).copied().unwrap_or(false))
        .max_by_key(|(_, m)| (score(m, task), std::cmp::Reverse(m.as_str())))
        .map(|(i, _)| i)
}

/// The member list with who is live: the engine's [`alerter::engine::Placement`].
#[derive(Debug)]
pub struct Members {
    cfg: ClusterConfig,
    live: RwLock<Vec<bool>>,
}

impl Members {
    /// Every member starts live: an instance that starts does not run the others' tasks
    /// before it knows they are down (at most `handover` later).
    pub fn new(cfg: ClusterConfig) -> Members {
        let live = vec![true; cfg.members.len()];
        Members {
            cfg,
            live: RwLock::new(live),
        }
    }

    fn live(&self) -> Vec<bool> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sets who is live (this instance always is); whether that changed.
    fn set_live(&self, mut live: Vec<bool>) -> bool {
        if let Some(me) = live.get_mut(self.cfg.me) {
            *me = true;
        }
        let mut cur = self.live.write().unwrap_or_else(|e| e.into_inner());
        let changed = *cur != live;
        *cur = live;
        changed
    }
}

impl alerter::engine::Placement for Members {
    fn owns(&self, task: &str) -> bool {
        owner(&self.cfg.members, &self.live(), task) == Some(self.cfg.me)
    }

    fn owner(&self, task: &str) -> Option<String> {
        owner(&self.cfg.members, &self.live(), task).and_then(|i| self.cfg.members.get(i).cloned())
    }
}

/// Whether `member` answers `GET /ping` (1.x's liveness route, free of auth) with a 2xx.
fn ping(agent: &ureq::Agent, member: &str) -> bool {
    agent
        .get(format!("{member}/ping"))
        .call()
        .is_ok_and(|r| r.status().is_success())
}

/// Polls every other member each `health_interval` and rebalances the alerter's tasks when
/// the live set changes. Stream tasks taken over from a member that went down replay the
/// spool's write log from a poll before that member's last answer: the writes it may not
/// have evaluated (events it did send come again with the same keys).
pub fn spawn(
    members: Arc<Members>,
    alerter: alerter::engine::Engine,
    store: tsdb::Store,
) -> tokio::task::JoinHandle<()> {
    let cfg = members.cfg.clone();
    tracing::info!(
        "cluster: member {} of {}; tasks move off a member silent for {:?} within {:?}",
        cfg.members.get(cfg.me).map_or("?", String::as_str),
        cfg.members.join(", "),
        cfg.down_after,
        cfg.handover()
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(cfg.health_interval))
        .user_agent(concat!("tigk/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    tokio::spawn(async move {
        let start = Instant::now();
        let mut seen = vec![start; cfg.members.len()];
        // (when, the write log's committed sequence then), over the last hand-over window.
        let mut positions: VecDeque<(Instant, u64)> = VecDeque::new();
        let window = cfg.handover() + cfg.health_interval * 2;
        loop {
            tokio::time::sleep(cfg.health_interval).await;
            let now = Instant::now();
            positions.push_back((now, WriteLog::committed_seq(&store)));
            while positions.len() > 1
                && positions
                    .front()
                    .is_some_and(|(t, _)| now.duration_since(*t) > window)
            {
                positions.pop_front();
            }
            alerter.hold_log(positions.front().map(|(_, s)| *s));
            let mut polls = Vec::new();
            for (i, m) in cfg.members.iter().enumerate() {
                if i == cfg.me {
                    continue;
                }
                let (agent, m) = (agent.clone(), m.clone());
                polls.push((i, tokio::task::spawn_blocking(move || ping(&agent, &m))));
            }
            for (i, poll) in polls {
                if poll.await.unwrap_or(false)
                    && let Some(s) = seen.get_mut(i)
                {
                    *s = Instant::now();
                }
            }
            let live: Vec<bool> = seen
                .iter()
                .enumerate()
                .map(|(i, s)| i == cfg.me || s.elapsed() <= cfg.down_after)
                .collect();
            let before = members.live();
            if !members.set_live(live.clone()) {
                continue;
            }
            // The oldest last answer of the members that went down, a poll earlier.
            let replay_from = before
                .iter()
                .zip(&live)
                .zip(&seen)
                .filter(|((was, is), _)| **was && !**is)
                .map(|(_, s)| *s)
                .min()
                .and_then(|s| s.checked_sub(cfg.health_interval))
                .and_then(|t| {
                    positions
                        .iter()
                        .rev()
                        .find(|(at, _)| *at <= t)
                        .or(positions.front())
                        .map(|(_, seq)| *seq)
                });
            let up: Vec<&str> = cfg
                .members
                .iter()
                .zip(&live)
                .filter(|(_, l)| **l)
                .map(|(m, _)| m.as_str())
                .collect();
            tracing::info!("cluster: live members now {}", up.join(", "));
            let engine = alerter.clone();
            match tokio::task::spawn_blocking(move || engine.rebalance_from(replay_from)).await {
                Ok(r) => tracing::info!(
                    "cluster: started {} task(s) here {:?}, parked {} {:?}",
                    r.started.len(),
                    r.started,
                    r.parked.len(),
                    r.parked
                ),
                Err(e) => tracing::warn!("cluster: rebalancing tasks: {e}"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alerter::engine::Placement;

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("http://tigk-{i}:8086")).collect()
    }

    fn tasks(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("task_{i}")).collect()
    }

    #[test]
    fn the_owner_is_deterministic_and_one_of_the_live_members() {
        let m = members(3);
        let all = [true, true, true];
        for t in tasks(200) {
            let o = owner(&m, &all, &t).expect("someone owns it");
            // The owner is a member, not a position: listing the members in another
            // order on one instance does not change it.
            let reversed: Vec<String> = m.iter().rev().cloned().collect();
            let r = owner(&reversed, &all, &t).expect("owner");
            assert_eq!(reversed[r], m[o]);
            let only_two = [true, false, true];
            assert_ne!(owner(&m, &only_two, &t), Some(1));
        }
        assert_eq!(owner(&m, &[false, false, false], "t"), None);
        // Pinned: a change of hash would move tasks when members run different versions.
        assert_eq!(
            score("http://a:8086", "cpu_alert"),
            8_469_128_366_683_094_415
        );
        assert_eq!(
            score("http://b:8086", "cpu_alert"),
            12_441_505_179_935_397_240
        );
        let two = ["http://a:8086".to_string(), "http://b:8086".to_string()];
        assert_eq!(owner(&two, &[true, true], "cpu_alert"), Some(1));
    }

    #[test]
    fn tasks_spread_over_the_members() {
        let m = members(3);
        let mut counts = [0usize; 3];
        for t in tasks(3000) {
            counts[owner(&m, &[true, true, true], &t).expect("owner")] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn a_member_going_down_moves_only_its_tasks_and_they_come_back() {
        let m = members(4);
        let all = [true; 4];
        let down = [true, true, false, true];
        let mut moved = 0;
        for t in tasks(1000) {
            let before = owner(&m, &all, &t).expect("owner");
            let after = owner(&m, &down, &t).expect("owner");
            if before == 2 {
                assert_ne!(after, 2);
                moved += 1;
            } else {
                assert_eq!(before, after, "{t} moved although its member is live");
            }
        }
        assert!(moved > 150, "member 2 owned {moved} tasks");
    }

    #[test]
    fn every_task_has_exactly_one_owner_among_instances_that_agree() {
        let m = members(2);
        let cfg = |me| ClusterConfig {
            members: m.clone(),
            me,
            health_interval: Duration::from_secs(5),
            down_after: Duration::from_secs(15),
        };
        let (a, b) = (Members::new(cfg(0)), Members::new(cfg(1)));
        for t in tasks(100) {
            assert!(a.owns(&t) ^ b.owns(&t), "{t}");
            assert_eq!(a.owner(&t), b.owner(&t));
        }
        assert!(a.set_live(vec![true, false]), "b went down");
        assert!(!a.set_live(vec![true, false]), "no change");
        assert!(tasks(100).iter().all(|t| a.owns(t)));
        assert!(
            !b.set_live(vec![true, false]),
            "an instance is always live to itself"
        );
    }

    fn parse(storage: &str, cluster: &str) -> anyhow::Result<(Storage, Option<ClusterConfig>)> {
        let raw: super::super::remote::RawStorage = toml::from_str(storage)?;
        let mut s = raw.validate(
            "t.toml",
            std::net::SocketAddr::from(([127, 0, 0, 1], 8086)),
            false,
        )?;
        let c: RawCluster = toml::from_str(cluster)?;
        let c = c.validate("t.toml", &mut s)?;
        Ok((s, c))
    }

    const REMOTE: &str = "backend = \"remote\"\nurls = [\"http://influx:8086\"]";

    #[test]
    fn the_section_is_validated() {
        let (_, none) = parse("", "").expect("absent");
        assert!(none.is_none());
        let (s, c) = parse(
            REMOTE,
            "members = [\"http://a:8086/\", \"http://b:8086\"]\nself = \"http://b:8086\"",
        )
        .expect("valid");
        let c = c.expect("cluster");
        assert_eq!(c.members, ["http://a:8086", "http://b:8086"]);
        assert_eq!(c.me, 1);
        assert_eq!(c.handover(), Duration::from_secs(20));
        let Storage::Remote(r) = s else {
            panic!("remote")
        };
        assert_eq!(r.subscription_name, "tigk-b:8086", "one subscription each");
        for (storage, bad, says) in [
            (
                "",
                "members = [\"http://a\"]\nself = \"http://a\"",
                "needs [storage] backend = \"remote\"",
            ),
            (REMOTE, "self = \"http://a\"", "lists every instance"),
            (REMOTE, "members = [\"http://a\"]", "names this instance"),
            (
                REMOTE,
                "members = [\"http://a\"]\nself = \"http://b\"",
                "not one of members",
            ),
            (
                REMOTE,
                "members = [\"a:8086\"]\nself = \"a:8086\"",
                "must start with http",
            ),
            (
                REMOTE,
                "members = [\"http://a\", \"http://a/\"]\nself = \"http://a\"",
                "twice",
            ),
            (
                REMOTE,
                "members = [\"http://a\"]\nself = \"http://a\"\ndown_after = \"5s\"",
                "longer than health_interval",
            ),
            (
                REMOTE,
                "members = [\"http://a\"]\nself = \"http://a\"\nhealth_interval = \"0s\"",
                "health_interval: invalid duration",
            ),
            (
                REMOTE,
                "members = [\"http://a\"]\nself = \"http://a\"\nttl = \"5s\"",
                "unknown field",
            ),
        ] {
            let e = parse(storage, bad).expect_err(bad).to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
