//! Redis first, the local limiter when Redis cannot answer. With `fail_open` (the default) a
//! request is then decided by this instance's own counters, seeded with the spend Redis last
//! reported for the key, so an outage never means "unlimited"; without it the request is
//! refused with 503. Either way the outage is logged once when it starts and once when it
//! ends, and counted (`LimiterStats`). After a failure Redis is not asked again for a second,
//! so an outage does not add a timeout to every request.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::error::LimitError;
use super::limiter::{Ask, Backend, Grant, Limiter, Refusal, Usage};
use super::local::LocalLimiter;
use super::redis_limiter::RedisLimiter;

/// How long Redis is left alone after a failure.
const BACKOFF: Duration = Duration::from_secs(1);

/// What the limits did when Redis was not there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimiterStats {
    /// Redis calls that failed or timed out.
    pub redis_errors: u64,
    /// Requests decided by local counters because Redis was unreachable (`fail_open`).
    pub local_fallbacks: u64,
    /// Requests refused with 503 because Redis was unreachable (`fail_open = false`).
    pub unavailable: u64,
    /// Settlements lost because Redis was unreachable (their reservation expires later).
    pub lost_settlements: u64,
}

#[derive(Default)]
struct Counters {
    redis_errors: AtomicU64,
    local_fallbacks: AtomicU64,
    unavailable: AtomicU64,
    lost_settlements: AtomicU64,
}

pub struct FailoverLimiter {
    redis: RedisLimiter,
    local: LocalLimiter,
    fail_open: bool,
    down_since: Mutex<Option<Instant>>,
    retry_at: Mutex<Option<Instant>>,
    counters: Counters,
}

impl FailoverLimiter {
    pub fn new(redis: RedisLimiter, fail_open: bool) -> Self {
        Self {
            redis,
            local: LocalLimiter::new(),
            fail_open,
            down_since: Mutex::new(None),
            retry_at: Mutex::new(None),
            counters: Counters::default(),
        }
    }

    pub fn stats(&self) -> LimiterStats {
        let c = &self.counters;
        LimiterStats {
            redis_errors: c.redis_errors.load(Ordering::Relaxed),
            local_fallbacks: c.local_fallbacks.load(Ordering::Relaxed),
            unavailable: c.unavailable.load(Ordering::Relaxed),
            lost_settlements: c.lost_settlements.load(Ordering::Relaxed),
        }
    }

    /// Whether Redis is in its back-off after a failure.
    fn backing_off(&self) -> bool {
        self.retry_at
            .lock()
            .ok()
            .and_then(|g| *g)
            .is_some_and(|t| Instant::now() < t)
    }

    fn failed(&self, error: &str) {
        self.counters.redis_errors.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if let Ok(mut r) = self.retry_at.lock() {
            *r = Some(now + BACKOFF);
        }
        let started = self
            .down_since
            .lock()
            .ok()
            .map(|mut d| {
                let first = d.is_none();
                d.get_or_insert(now);
                first
            })
            .unwrap_or(false);
        if started {
            // Start this outage's local counts afresh from what Redis last said.
            self.local.clear();
            if self.fail_open {
                tracing::warn!(
                    error,
                    "redis unreachable: rate limits and budgets are enforced by this instance's own counters until it is back (fail_open)"
                );
            } else {
                tracing::error!(
                    error,
                    "redis unreachable: requests of virtual keys are refused with 503 until it is back (fail_open = false)"
                );
            }
        }
    }

    fn recovered(&self) {
        let was = self.down_since.lock().ok().and_then(|mut d| d.take());
        if let Some(since) = was {
            tracing::info!(
                down_for = ?since.elapsed(),
                local_fallbacks = self.counters.local_fallbacks.load(Ordering::Relaxed),
                "redis reachable again: limits are shared across instances again"
            );
        }
    }

    fn fallback(&self, ask: &Ask) -> Result<Grant, Refusal> {
        if !self.fail_open {
            self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Limit(LimitError::Unavailable));
        }
        self.counters
            .local_fallbacks
            .fetch_add(1, Ordering::Relaxed);
        if let Some(u) = self.redis.usage(&ask.key_id) {
            self.local.seed(&ask.key_id, u);
        }
        match self.local.decide(ask) {
            Err(Refusal::Backend(e)) => {
                tracing::error!(error = e, "local limiter failed");
                Err(Refusal::Limit(LimitError::Unavailable))
            }
            r => r,
        }
    }

    async fn do_reserve(&self, ask: &Ask) -> Result<Grant, Refusal> {
        if self.backing_off() {
            return self.fallback(ask);
        }
        match self.redis.reserve(ask).await {
            Err(Refusal::Backend(e)) => {
                self.failed(&e);
                self.fallback(ask)
            }
            r => {
                self.recovered();
                r
            }
        }
    }

    async fn do_settle(&self, grant: &Grant, tokens: u64, cost: i64) -> Result<Usage, String> {
        match grant.backend {
            Backend::Local => self.local.settle(grant, tokens, cost).await,
            Backend::Redis => match self.redis.settle(grant, tokens, cost).await {
                Ok(u) => {
                    self.recovered();
                    Ok(u)
                }
                Err(e) => {
                    self.failed(&e);
                    self.counters
                        .lost_settlements
                        .fetch_add(1, Ordering::Relaxed);
                    // Count the spend here at least, so this instance's fallback sees it.
                    if let Some(u) = self.redis.usage(&grant.key_id) {
                        self.local.seed(&grant.key_id, u);
                    }
                    let _ = self.local.settle(grant, tokens, cost).await;
                    Err(e)
                }
            },
        }
    }
}

impl Limiter for FailoverLimiter {
    fn reserve<'a>(&'a self, ask: &'a Ask) -> BoxFuture<'a, Result<Grant, Refusal>> {
        Box::pin(self.do_reserve(ask))
    }

    fn settle<'a>(
        &'a self,
        grant: &'a Grant,
        actual_tokens: u64,
        actual_cost_nano: i64,
    ) -> BoxFuture<'a, Result<Usage, String>> {
        Box::pin(self.do_settle(grant, actual_tokens, actual_cost_nano))
    }

    fn usage(&self, key_id: &str) -> Option<Usage> {
        if self.down_since.lock().ok().is_some_and(|d| d.is_some()) {
            self.local
                .usage(key_id)
                .or_else(|| self.redis.usage(key_id))
        } else {
            self.redis
                .usage(key_id)
                .or_else(|| self.local.usage(key_id))
        }
    }

    fn spend<'a>(
        &'a self,
        key_ids: &'a [String],
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Vec<Usage>, String>> {
        Box::pin(async move {
            match self.redis.spend(key_ids, now_ms).await {
                Ok(v) => Ok(v),
                Err(e) => {
                    self.failed(&e);
                    self.local.spend(key_ids, now_ms).await
                }
            }
        })
    }
}
