//! Circuit state shared through Redis: two gateway instances on one Redis (and one key
//! prefix), the simulator failing one target. After instance A has seen the failures,
//! instance B routes away from that target without having seen a failure itself; failures
//! split between the instances open the circuit together although neither saw enough; a
//! failed half-open probe on one instance reopens for twice as long on both; a Retry-After
//! cooldown is shared, and rate limits on one instance open no circuit anywhere; an
//! unreachable Redis leaves each instance its own breaker, said so in `/v1/health/targets`;
//! and sharing resumes when Redis is back (a proxy plays the outage).
//! Tests that need Redis read `REDIS_URL` and say they are skipped without it; each uses its
//! own prefix. Real time: Redis keeps its own clock, so the waits are short and bounded.

#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn their own servers, clients and concurrent callers, and await them"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "a test: a failed unwrap is the test failing"
)]

mod common;
mod keys_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use keys_support::{clear_prefix, redis_url, unique_prefix};
use modelmux_core::RunningGateway;
use modelmux_sim::{Behaviour, SimHandle};
use serde_json::Value;

/// Always answers 503.
fn broken() -> Behaviour {
    Behaviour {
        fault_rate: 1.0,
        ..Behaviour::default()
    }
}

/// Route `r` over a/m (broken) then b/m (healthy); the breaker opens at half of at least 4.
fn toml(a: &SimHandle, b: &SimHandle, redis: &str, prefix: &str) -> String {
    format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\", \"b/m\"]\nnum_retries = 0\n\
         [health]\nmin_calls = 4\nwindow = 10\nfailure_rate = 0.5\nopen_for = \"30s\"\n\
         sync_interval = \"100ms\"\n\
         [keys]\nredis_url = \"{redis}\"\nredis_prefix = \"{prefix}\"\nredis_timeout = \"1s\"\n",
        providers(&[("a", a), ("b", b)])
    )
}

async fn health(gw: &RunningGateway) -> Value {
    json_of(
        client()
            .get(format!("{}/v1/health/targets", gw.url()))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn state_of(h: &Value, target: &str) -> String {
    h["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == target)
        .map(|t| t["state"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{target} not in {h}"))
}

/// Polls `gw` until `target` is open there; how long it took, or a panic after `limit`.
async fn until_open(gw: &RunningGateway, target: &str, limit: Duration) -> Duration {
    until_state(gw, target, "open", limit).await
}

async fn until_state(gw: &RunningGateway, target: &str, state: &str, limit: Duration) -> Duration {
    eventually(limit, &format!("{target} {state}"), || async move {
        state_of(&health(gw).await, target) == state
    })
    .await
}

/// `n` requests to `gw`, each answered by b/m after a/m failed (or was skipped).
async fn through(gw: &RunningGateway, n: usize) {
    for _ in 0..n {
        let resp = post(gw, &chat("r")).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_circuit_opened_by_one_instance_is_open_on_the_other() {
    let Some(url) = redis_url("a_circuit_opened_by_one_instance_is_open_on_the_other") else {
        return;
    };
    let prefix = unique_prefix("circuit");
    let a = sim(&[("m", broken())]).await;
    let b = sim(&[("m", Behaviour::default())]).await;
    let gw_a = gateway(&toml(&a, &b, &url, &prefix)).await;
    let gw_b = gateway(&toml(&a, &b, &url, &prefix)).await;
    // B has routed before: a/m is closed there and first in line.
    assert_eq!(state_of(&health(&gw_b).await, "a/m"), "closed");

    through(&gw_a, 4).await;
    assert_eq!(a.requests("m"), 4);
    assert_eq!(state_of(&health(&gw_a).await, "a/m"), "open");
    let seen = until_open(&gw_b, "a/m", Duration::from_secs(3)).await;
    eprintln!("instance B saw the circuit A opened after {seen:?} (sync_interval 100ms)");

    // B routes away from a/m without having called it.
    for _ in 0..5 {
        let resp = post(&gw_b, &chat("r")).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
        assert_eq!(header(&resp, "x-modelmux-attempts"), "1");
    }
    assert_eq!(a.requests("m"), 4, "no call to a/m from B");
    let h = health(&gw_b).await;
    let flaky = h["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "a/m")
        .unwrap();
    assert_eq!(flaky["failures"], 0, "B saw no failure itself: {h}");
    assert_eq!(h["shared"]["state"], "connected", "{h}");
    assert!(h["shared"]["opened_by_peers"].as_u64().unwrap() >= 1, "{h}");
    assert_eq!(h["shared"]["redis_errors"], 0, "{h}");
    let ha = health(&gw_a).await;
    assert_eq!(
        ha["shared"]["outcomes_shared"], 8,
        "4 failures, 4 successes: {ha}"
    );

    gw_a.shutdown().await.unwrap();
    gw_b.shutdown().await.unwrap();
    clear_prefix(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_split_between_instances_open_one_circuit() {
    let Some(url) = redis_url("failures_split_between_instances_open_one_circuit") else {
        return;
    };
    let prefix = unique_prefix("split");
    let a = sim(&[("m", broken())]).await;
    let b = sim(&[("m", Behaviour::default())]).await;
    let gw_a = gateway(&toml(&a, &b, &url, &prefix)).await;
    let gw_b = gateway(&toml(&a, &b, &url, &prefix)).await;
    // Two failures each: below min_calls on either instance, four on Redis.
    through(&gw_a, 2).await;
    through(&gw_b, 2).await;
    assert_eq!(a.requests("m"), 4);
    until_open(&gw_a, "a/m", Duration::from_secs(3)).await;
    until_open(&gw_b, "a/m", Duration::from_secs(3)).await;
    through(&gw_a, 2).await;
    through(&gw_b, 2).await;
    assert_eq!(a.requests("m"), 4, "open on both");
    gw_a.shutdown().await.unwrap();
    gw_b.shutdown().await.unwrap();
    clear_prefix(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_probe_on_one_instance_reopens_for_longer_on_both() {
    let Some(url) = redis_url("a_failed_probe_on_one_instance_reopens_for_longer_on_both") else {
        return;
    };
    let prefix = unique_prefix("probe");
    let a = sim(&[("m", broken())]).await;
    let b = sim(&[("m", Behaviour::default())]).await;
    let toml = toml(&a, &b, &url, &prefix).replace("\"30s\"", "\"600ms\"");
    let gw_a = gateway(&toml).await;
    let gw_b = gateway(&toml).await;
    through(&gw_a, 4).await;
    until_open(&gw_b, "a/m", Duration::from_secs(3)).await;
    // The opening ends; B probes a/m, which fails: the second opening lasts 1.2s.
    until_state(&gw_b, "a/m", "half_open", Duration::from_secs(3)).await;
    through(&gw_b, 1).await;
    assert_eq!(a.requests("m"), 5, "B's probe");
    let probed = Instant::now();
    until_open(&gw_a, "a/m", Duration::from_secs(1)).await;
    // Past a first opening's 600ms, A (which never probed) still holds it open: watched
    // until 700ms after the probe (Redis's clock runs in real time).
    let gw = &gw_a;
    eventually(
        Duration::from_secs(3),
        "700ms past the probe",
        || async move {
            assert_eq!(state_of(&health(gw).await, "a/m"), "open");
            probed.elapsed() >= Duration::from_millis(700)
        },
    )
    .await;
    assert_eq!(state_of(&health(&gw_a).await, "a/m"), "open");
    through(&gw_a, 1).await;
    assert_eq!(a.requests("m"), 5, "no call while open");
    gw_a.shutdown().await.unwrap();
    gw_b.shutdown().await.unwrap();
    clear_prefix(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_cooldown_is_shared() {
    let Some(url) = redis_url("a_retry_after_cooldown_is_shared") else {
        return;
    };
    let prefix = unique_prefix("cooldown");
    let a = sim(&[("m", faulty(&["429:retry-after=20"]))]).await;
    let b = sim(&[("m", Behaviour::default())]).await;
    let gw_a = gateway(&toml(&a, &b, &url, &prefix)).await;
    let gw_b = gateway(&toml(&a, &b, &url, &prefix)).await;
    // 20s is beyond max_retry_after: A moves on to b/m at once and cools a/m down.
    through(&gw_a, 1).await;
    assert_eq!(state_of(&health(&gw_a).await, "a/m"), "cooling_down");
    until_state(&gw_b, "a/m", "cooling_down", Duration::from_secs(3)).await;
    for _ in 0..3 {
        let resp = post(&gw_b, &chat("r")).await;
        assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
        assert_eq!(header(&resp, "x-modelmux-attempts"), "1");
    }
    assert_eq!(a.requests("m"), 1);
    gw_a.shutdown().await.unwrap();
    gw_b.shutdown().await.unwrap();
    clear_prefix(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_rate_limits_open_no_circuit_on_either_instance() {
    let Some(url) = redis_url("shared_rate_limits_open_no_circuit_on_either_instance") else {
        return;
    };
    let prefix = unique_prefix("ratelimit");
    let a = sim(&[("m", faulty(&["429:retry-after-ms=1"; 6]))]).await;
    let b = sim(&[("m", Behaviour::default())]).await;
    let gw_a = gateway(&toml(&a, &b, &url, &prefix)).await;
    let gw_b = gateway(&toml(&a, &b, &url, &prefix)).await;
    // Six 429s in a row on A: each a 1ms cooldown, none a counted failure.
    for _ in 0..100 {
        if a.requests("m") == 6 {
            break;
        }
        through(&gw_a, 1).await;
    }
    assert_eq!(a.requests("m"), 6, "a/m tried again after each cooldown");
    let h = health(&gw_a).await;
    assert_eq!(state_of(&h, "a/m"), "closed", "{h}");
    // Everything A sent has reached Redis, and B has read the state since.
    let gw = &gw_a;
    eventually(
        Duration::from_secs(3),
        "A's reports shared",
        || async move {
            health(gw).await["shared"]["outcomes_shared"]
                .as_u64()
                .unwrap()
                >= 12
        },
    )
    .await;
    let syncs = |h: &Value| h["shared"]["syncs"].as_u64().unwrap();
    let seen = syncs(&health(&gw_b).await);
    let gw = &gw_b;
    eventually(Duration::from_secs(3), "B synced twice", || async move {
        syncs(&health(gw).await) >= seen + 2
    })
    .await;
    let h = health(&gw_b).await;
    assert_eq!(
        state_of(&h, "a/m"),
        "closed",
        "no circuit opened on Redis: {h}"
    );
    assert_eq!(h["shared"]["opened_by_peers"], 0, "{h}");
    let resp = post(&gw_b, &chat("r")).await;
    assert_eq!(
        header(&resp, "x-modelmux-target"),
        "a/m",
        "the primary serves on B"
    );
    gw_a.shutdown().await.unwrap();
    gw_b.shutdown().await.unwrap();
    clear_prefix(&url, &prefix).await;
}

#[tokio::test]
async fn an_unreachable_redis_leaves_the_local_breaker_working() {
    // Nothing listens on port 1: every Redis call fails at once.
    let a = sim(&[("m", broken())]).await;
    let b = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&toml(&a, &b, "redis://127.0.0.1:1", "unreachable")).await;
    through(&gw, 4).await;
    let h = health(&gw).await;
    assert_eq!(state_of(&h, "a/m"), "open", "the local breaker opened: {h}");
    // The reporting task met the outage on its own time; wait for it, bounded.
    let g = &gw;
    eventually(Duration::from_secs(3), "outage seen", || async move {
        health(g).await["shared"]["state"] == "local"
    })
    .await;
    let h = health(&gw).await;
    assert_eq!(h["shared"]["state"], "local", "{h}");
    assert!(h["shared"]["redis_errors"].as_u64().unwrap() >= 1, "{h}");
    assert!(
        h["shared"]["outcomes_unshared"].as_u64().unwrap() >= 1,
        "{h}"
    );
    through(&gw, 2).await;
    assert_eq!(a.requests("m"), 4, "still open");
    let ready = json_of(
        client()
            .get(format!("{}/readyz", gw.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["shared_health"]["state"], "local", "{ready}");
    gw.shutdown().await.unwrap();
}

/// A TCP proxy to Redis that can be cut (existing connections dropped, new ones closed at
/// once) and restored, to play an outage.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn to(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (d, c) = (down.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    continue;
                }
                let upstream = upstream.clone();
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                }));
            }
        });
        Self { port, down, conns }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// `url` with its host and port replaced by the proxy's (credentials and path kept), and the
/// `host:port` the proxy forwards to.
fn through_proxy(url: &str, port: u16) -> (String, String) {
    let rest = url.strip_prefix("redis://").expect("a redis:// URL");
    let (auth, rest) = match rest.rfind('@') {
        Some(i) => (&rest[..=i], &rest[i + 1..]),
        None => ("", rest),
    };
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:6379")
    };
    (format!("redis://{auth}127.0.0.1:{port}{path}"), host)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharing_resumes_when_redis_is_back() {
    let Some(url) = redis_url("sharing_resumes_when_redis_is_back") else {
        return;
    };
    let prefix = unique_prefix("outage");
    let (_, upstream) = through_proxy(&url, 0);
    let proxy = Proxy::to(upstream).await;
    let (via_proxy, _) = through_proxy(&url, proxy.port);
    let a = sim(&[("m", broken())]).await;
    let b = sim(&[("m", Behaviour::default())]).await;
    let gw_a = gateway(&toml(&a, &b, &via_proxy, &prefix)).await;
    let gw_b = gateway(&toml(&a, &b, &url, &prefix)).await;
    assert_eq!(health(&gw_a).await["shared"]["state"], "connected");

    // Redis goes away for A: its breaker opens alone, and says sharing is off.
    proxy.cut();
    through(&gw_a, 4).await;
    assert_eq!(state_of(&health(&gw_a).await, "a/m"), "open");
    let gw = &gw_a;
    eventually(Duration::from_secs(3), "outage seen", || async move {
        health(gw).await["shared"]["state"] == "local"
    })
    .await;
    let h = health(&gw_a).await;
    assert!(
        h["shared"]["outcomes_unshared"].as_u64().unwrap() >= 4,
        "{h}"
    );
    assert_eq!(
        state_of(&health(&gw_b).await, "a/m"),
        "closed",
        "B never heard"
    );

    // Redis is back: after its back-off A reads and reports again.
    proxy.restore();
    let took = eventually(Duration::from_secs(5), "recovery seen", || async move {
        health(gw).await["shared"]["state"] == "connected"
    })
    .await;
    eprintln!("sharing resumed {took:?} after Redis came back");
    let shared = |h: &Value| h["shared"]["outcomes_shared"].as_u64().unwrap();
    let before = shared(&health(&gw_a).await);
    through(&gw_a, 2).await;
    eventually(Duration::from_secs(3), "outcomes shared", || async move {
        shared(&health(gw).await) >= before + 2
    })
    .await;
    let h = health(&gw_a).await;
    assert_eq!(h["shared"]["state"], "connected", "{h}");
    assert!(h["shared"]["redis_errors"].as_u64().unwrap() >= 1, "{h}");
    gw_a.shutdown().await.unwrap();
    gw_b.shutdown().await.unwrap();
    clear_prefix(&url, &prefix).await;
}
