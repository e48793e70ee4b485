//! Circuit state shared through Redis, so N instances open one circuit together. Off the
//! request path both ways: `Health` hands each counted outcome to a bounded channel
//! (`Reporter::send` never waits; a full channel drops and counts), a background task sends
//! what has queued as one Lua script call, and Redis keeps per target a sliding window of
//! the last `window` outcomes of all instances and, atomically, opens the shared circuit
//! (`open_until`, doubling on consecutive openings up to 8×) and the Retry-After cooldown.
//! A second task reads the state of every known target every `sync_interval` (one script
//! call) and applies it to the local `Health`. Times are Redis `TIME`: instances' clocks
//! need not agree, and only remaining durations cross the wire.
//!
//! When Redis is unreachable the local breaker goes on alone (it is a whole breaker, never
//! "no breaker"); the outage is logged once when it starts and once when it ends, counted in
//! `SharedStatus`, and Redis is left alone for a second after each failure. Keys share one
//! hash tag (`{prefix:health}`), so both scripts run on a Redis Cluster too.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::Health;
use crate::config::HealthSettings;
use crate::ids::TargetRef;
use lua::{READ, REPORT};
pub use status::SharedStatus;
use status::Status;

mod lua;
mod status;

/// Outcomes waiting to be sent; beyond this they are dropped (and counted).
const QUEUE: usize = 8192;
/// Outcomes sent in one script call at most.
const MAX_BATCH: usize = 1024;

/// One target's shared circuit as Redis has it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedCircuit {
    /// How long the shared circuit stays open; zero when it is not open.
    pub open_for: Duration,
    /// Consecutive openings without a success in between.
    pub opens: u32,
    /// How long the shared Retry-After cooldown lasts; zero when there is none.
    pub cooldown_for: Duration,
}

impl SharedCircuit {
    fn from_triple(r: &[i64]) -> Self {
        let ms = |i: usize| Duration::from_millis(r.get(i).map_or(0, |v| (*v).max(0) as u64));
        Self {
            open_for: ms(0),
            opens: r.get(1).map_or(0, |v| u32::try_from(*v).unwrap_or(0)),
            cooldown_for: ms(2),
        }
    }
}

/// How to share: the key prefix and call timeout of `[keys]`, `[health] sync_interval`.
#[derive(Debug, Clone)]
pub struct SharedConfig {
    pub prefix: String,
    pub timeout: Duration,
    pub sync_interval: Duration,
}

/// One counted outcome of an attempt, or (`ok: None`) a cooldown alone: a rate limit,
/// which holds the target on every instance but is not counted toward the circuit.
#[derive(Debug)]
struct Outcome {
    target: TargetRef,
    ok: Option<bool>,
    retry_after_ms: u64,
}

/// The request path's end of the channel to the reporting task.
#[derive(Debug)]
pub struct Reporter {
    tx: mpsc::Sender<Outcome>,
    status: Arc<Status>,
}

impl Reporter {
    /// Queues an outcome; never waits. A full queue drops it (and counts it).
    pub fn send(&self, target: &TargetRef, ok: bool, retry_after: Option<Duration>) {
        self.queue(Outcome {
            target: target.clone(),
            ok: Some(ok),
            retry_after_ms: retry_after.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0)),
        });
    }

    /// Queues a cooldown of `held` that does not count toward the circuit (a rate limit).
    pub fn cooldown(&self, target: &TargetRef, held: Duration) {
        if held.is_zero() {
            return;
        }
        self.queue(Outcome {
            target: target.clone(),
            ok: None,
            retry_after_ms: u64::try_from(held.as_millis()).unwrap_or(u64::MAX),
        });
    }

    fn queue(&self, outcome: Outcome) {
        if self.tx.try_send(outcome).is_err() {
            self.status.unshared.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn status(&self) -> SharedStatus {
        self.status.view()
    }
}

struct Shared {
    conn: ConnectionManager,
    base: String,
    timeout: Duration,
    settings: HealthSettings,
    report: Script,
    read: Script,
    status: Arc<Status>,
}

impl Shared {
    fn key(&self, kind: &str, t: &str) -> String {
        format!("{}:{kind}:{t}", self.base)
    }

    async fn call(&self, inv: redis::ScriptInvocation<'_>) -> Result<Vec<i64>, String> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout, inv.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(redis_error(&e)),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }

    /// Sends a batch of outcomes, grouped by target in arrival order.
    async fn report(&self, batch: &[Outcome]) {
        let n = batch.len() as u64;
        if self.status.backing_off() {
            self.status.unshared.fetch_add(n, Ordering::Relaxed);
            return;
        }
        let mut groups: Vec<(String, String, u64)> = Vec::new();
        let mut index: HashMap<&TargetRef, usize> = HashMap::new();
        for o in batch {
            let i = *index.entry(&o.target).or_insert_with(|| {
                groups.push((o.target.to_string(), String::new(), 0));
                groups.len() - 1
            });
            if let Some(g) = groups.get_mut(i) {
                if let Some(ok) = o.ok {
                    g.1.push(if ok { '1' } else { '0' });
                }
                g.2 = g.2.max(o.retry_after_ms);
            }
        }
        let s = &self.settings;
        let open_ms = u64::try_from(s.open_for.as_millis()).unwrap_or(u64::MAX / 16);
        // Long enough to outlive the longest opening, short enough to let idle targets go.
        let ttl_ms = (open_ms.saturating_mul(16)).max(600_000);
        let mut inv = self.report.prepare_invoke();
        inv.arg(s.window.max(1))
            .arg(s.min_calls)
            .arg((s.failure_rate * 1e6).round() as u64)
            .arg(open_ms)
            .arg(ttl_ms);
        for (t, seq, retry) in &groups {
            inv.key(self.key("w", t))
                .key(self.key("s", t))
                .arg(seq)
                .arg(*retry);
        }
        match self.call(inv).await {
            Ok(_) => {
                self.status.recovered();
                self.status.shared.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                self.status.failed(&e);
                self.status.unshared.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Reads the shared state of `targets` and applies it to `health`.
    async fn sync(&self, health: &Health, targets: &[TargetRef]) {
        if targets.is_empty() || self.status.backing_off() {
            return;
        }
        let mut inv = self.read.prepare_invoke();
        for t in targets {
            inv.key(self.key("s", &t.to_string()));
        }
        match self.call(inv).await {
            Ok(r) => {
                self.status.recovered();
                self.status.syncs.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut l) = self.status.last_sync.lock() {
                    *l = Some(Instant::now());
                }
                for (t, c) in targets.iter().zip(r.chunks(3)) {
                    let c = SharedCircuit::from_triple(c);
                    if c == SharedCircuit::default() {
                        continue;
                    }
                    if health.apply_shared(t, c) {
                        self.status.opened_by_peers.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Err(e) => self.status.failed(&e),
        }
    }
}

/// Starts sharing `health`'s circuits through the Redis at `url`: hooks the reporter into
/// it and spawns the reporting and syncing loops on `tasks` (they end at shutdown, or when
/// `health` is dropped).
/// `targets` are read from Redis from the start, called here yet or not.
pub fn start(
    health: &Arc<Health>,
    url: &str,
    config: SharedConfig,
    targets: Vec<TargetRef>,
    tasks: &crate::tasks::Tasks,
) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| redis_error(&e))?;
    let conn_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.timeout))
        .set_response_timeout(Some(config.timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    let conn = ConnectionManager::new_lazy_with_config(client, conn_config)
        .map_err(|e| redis_error(&e))?;
    let status = Arc::new(Status {
        sync_interval: config.sync_interval,
        ..Status::default()
    });
    let shared = Arc::new(Shared {
        conn,
        base: format!("{{{}:health}}", config.prefix),
        timeout: config.timeout,
        settings: health.settings(),
        report: Script::new(REPORT),
        read: Script::new(READ),
        status: status.clone(),
    });
    let (tx, rx) = mpsc::channel(QUEUE);
    if !health.share_outcomes(Reporter { tx, status }) {
        return Err("circuit sharing is already on".into());
    }
    let reporting = shared.clone();
    tasks.spawn_loop("health report", |stop| report_loop(rx, reporting, stop));
    let health = Arc::downgrade(health);
    tasks.spawn_loop("health sync", |stop| {
        sync_loop(health, shared, targets, config.sync_interval, stop)
    });
    Ok(())
}

async fn report_loop(
    mut rx: mpsc::Receiver<Outcome>,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(64);
    while let Some(o) = tokio::select! {
        () = stop.cancelled() => None,
        o = rx.recv() => o,
    } {
        batch.push(o);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        shared.report(&batch).await;
        batch.clear();
    }
}

async fn sync_loop(
    health: Weak<Health>,
    shared: Arc<Shared>,
    configured: Vec<TargetRef>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(health) = health.upgrade() else {
            return;
        };
        let mut targets = configured.clone();
        for t in health.targets() {
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        shared.sync(&health, &targets).await;
    }
}

/// A Redis error as text; the URL (and so any password in it) is never part of it.
fn redis_error(e: &redis::RedisError) -> String {
    format!("{:?}: {}", e.kind(), e.detail().unwrap_or("request failed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ModelId, ProviderId};

    fn t() -> TargetRef {
        TargetRef::new(ProviderId::new("p"), ModelId::new("m"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_shared_opening_opens_here_and_a_probe_in_flight_is_left_alone() {
        let h = Health::new(HealthSettings::default());
        let open = SharedCircuit {
            open_for: Duration::from_secs(10),
            opens: 2,
            cooldown_for: Duration::ZERO,
        };
        assert!(h.apply_shared(&t(), open), "opened here");
        assert_eq!(h.view(&t()).state, "open");
        assert!(!h.apply_shared(&t(), open), "already open");
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(h.view(&t()).state, "half_open");
        let probe = h.begin(&t());
        assert!(!h.apply_shared(&t(), open));
        assert_eq!(
            (h.view(&t()).state, h.view(&t()).available),
            ("half_open", false),
            "the probe decides"
        );
        // The probe fails: the third consecutive opening here waits 4× the base.
        h.failure(&t(), crate::providers::ErrorKind::Overloaded, None);
        drop(probe);
        tokio::time::advance(Duration::from_secs(119)).await;
        assert_eq!(h.view(&t()).state, "open");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(h.view(&t()).state, "half_open");
    }

    #[tokio::test(start_paused = true)]
    async fn a_shared_cooldown_extends_and_a_closed_shared_circuit_changes_nothing() {
        let h = Health::new(HealthSettings::default());
        h.apply_shared(
            &t(),
            SharedCircuit {
                cooldown_for: Duration::from_secs(5),
                ..SharedCircuit::default()
            },
        );
        assert_eq!(h.view(&t()).state, "cooling_down");
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(h.view(&t()).state, "closed");
        for _ in 0..5 {
            h.failure(&t(), crate::providers::ErrorKind::Overloaded, None);
        }
        assert_eq!(h.view(&t()).state, "open");
        h.apply_shared(&t(), SharedCircuit::default());
        assert_eq!(h.view(&t()).state, "open", "local state works alone");
    }

    #[test]
    fn triples_read_defensively() {
        assert_eq!(
            SharedCircuit::from_triple(&[1500, 3, -4]),
            SharedCircuit {
                open_for: Duration::from_millis(1500),
                opens: 3,
                cooldown_for: Duration::ZERO,
            }
        );
        assert_eq!(SharedCircuit::from_triple(&[]), SharedCircuit::default());
    }
}
