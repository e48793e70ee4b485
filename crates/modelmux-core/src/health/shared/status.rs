//! The state of circuit sharing: whether Redis answers (an outage is logged once when it
//! starts and once when it ends, and Redis is left alone for a second after each failure),
//! and counters of what was shared, what was not, and what peers opened here.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// How long Redis is left alone after a failure.
const BACKOFF: Duration = Duration::from_secs(1);

/// What `GET /v1/health/targets` and `/readyz` say about sharing.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SharedStatus {
    /// `connected`, or `local` while Redis is unreachable (the local breaker decides alone).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_for_ms: Option<u64>,
    /// Redis calls that failed or timed out.
    pub redis_errors: u64,
    /// Outcomes sent to Redis.
    pub outcomes_shared: u64,
    /// Outcomes not shared: Redis unreachable, or the queue full.
    pub outcomes_unshared: u64,
    /// Reads of the shared state, and times one opened a circuit here that was closed here.
    pub syncs: u64,
    pub opened_by_peers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_ms_ago: Option<u64>,
    pub sync_interval_ms: u64,
}

#[derive(Debug, Default)]
pub(super) struct Status {
    pub(super) down_since: Mutex<Option<Instant>>,
    pub(super) retry_at: Mutex<Option<Instant>>,
    pub(super) last_sync: Mutex<Option<Instant>>,
    pub(super) redis_errors: AtomicU64,
    pub(super) shared: AtomicU64,
    pub(super) unshared: AtomicU64,
    pub(super) syncs: AtomicU64,
    pub(super) opened_by_peers: AtomicU64,
    pub(super) sync_interval: Duration,
}

impl Status {
    pub(super) fn backing_off(&self) -> bool {
        self.retry_at
            .lock()
            .ok()
            .and_then(|g| *g)
            .is_some_and(|t| Instant::now() < t)
    }

    pub(super) fn failed(&self, error: &str) {
        self.redis_errors.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if let Ok(mut r) = self.retry_at.lock() {
            *r = Some(now + BACKOFF);
        }
        let started = self.down_since.lock().is_ok_and(|mut d| {
            let first = d.is_none();
            d.get_or_insert(now);
            first
        });
        if started {
            tracing::warn!(
                error,
                "redis unreachable: circuit state is no longer shared; each instance's own breaker decides until it is back"
            );
        }
    }

    pub(super) fn recovered(&self) {
        let was = self.down_since.lock().ok().and_then(|mut d| d.take());
        if let Some(since) = was {
            tracing::info!(
                down_for = ?since.elapsed(),
                unshared = self.unshared.load(Ordering::Relaxed),
                "redis reachable again: circuit state is shared across instances again"
            );
        }
    }

    pub(super) fn view(&self) -> SharedStatus {
        let down = self.down_since.lock().ok().and_then(|d| *d);
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        SharedStatus {
            state: if down.is_some() { "local" } else { "connected" },
            down_for_ms: down.map(|d| ms(d.elapsed())),
            redis_errors: self.redis_errors.load(Ordering::Relaxed),
            outcomes_shared: self.shared.load(Ordering::Relaxed),
            outcomes_unshared: self.unshared.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            opened_by_peers: self.opened_by_peers.load(Ordering::Relaxed),
            last_sync_ms_ago: self
                .last_sync
                .lock()
                .ok()
                .and_then(|l| *l)
                .map(|l| ms(l.elapsed())),
            sync_interval_ms: ms(self.sync_interval),
        }
    }
}
