//! Per-target health, kept in process: requests in flight, latency stats (`latency`), the
//! passive circuit breaker (`circuit`: failure share over the recent window → open →
//! half-open probe → closed), and cooldowns (`cooldown`: rate-limit headroom from the
//! provider's headers, and the hold after a rate limit or a Retry-After). A rate limit is a
//! cooldown until the time the provider named (or a growing backoff when it named none),
//! never a failure of the provider's health: it does not count toward the circuit. Strategies
//! read a `Snapshot` to order candidates; `GET /v1/health/targets` shows a `TargetView`
//! (`view`). Times use tokio's clock so tests can pause it. With Redis, `shared` reports every
//! counted outcome and every cooldown to the other instances and applies the circuits and
//! cooldowns they reported (`apply_shared`).

mod circuit;
mod cooldown;
mod latency;
pub mod shared;
mod view;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use foldhash::HashMap;
use tokio::time::Instant;

use crate::config::HealthSettings;
use crate::ids::TargetRef;
use crate::providers::ErrorKind;
use circuit::Breaker;
pub use cooldown::RateLimits;
use cooldown::{Cause, Cooldown};
use latency::Latency;
pub use view::{CooldownView, Snapshot, TargetView};

/// The most targets whose health is kept (configured ones come first in practice; the rest
/// are `provider/model` names clients made up).
const MAX_TARGETS: usize = 4096;

#[derive(Debug)]
struct Inner {
    breaker: Breaker,
    cooldown: Cooldown,
    latency: Latency,
    calls: u64,
    failures: u64,
    rate_limited: u64,
    limits: RateLimits,
}

#[derive(Debug)]
pub struct TargetStats {
    in_flight: AtomicU32,
    inner: Mutex<Inner>,
}

impl TargetStats {
    fn new() -> Self {
        Self {
            in_flight: AtomicU32::new(0),
            inner: Mutex::new(Inner {
                breaker: Breaker::new(),
                cooldown: Cooldown::default(),
                latency: Latency::default(),
                calls: 0,
                failures: 0,
                rate_limited: 0,
                limits: RateLimits::default(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// Health of every target the gateway has called.
#[derive(Debug, Default)]
pub struct Health {
    settings: HealthSettings,
    targets: RwLock<HashMap<TargetRef, Arc<TargetStats>>>,
    /// Where counted outcomes go to be shared through Redis; unset without it.
    reporter: std::sync::OnceLock<shared::Reporter>,
}

/// Counts a request in flight until dropped.
#[derive(Debug)]
pub struct InFlight(Arc<TargetStats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Health {
    pub fn new(settings: HealthSettings) -> Self {
        Self {
            settings,
            targets: RwLock::new(HashMap::default()),
            reporter: std::sync::OnceLock::new(),
        }
    }

    pub fn settings(&self) -> HealthSettings {
        self.settings
    }

    /// Shares every counted outcome from now on through `reporter` (set once, at start).
    pub fn share_outcomes(&self, reporter: shared::Reporter) -> bool {
        self.reporter.set(reporter).is_ok()
    }

    /// The state of circuit sharing, when it is on.
    pub fn shared_status(&self) -> Option<shared::SharedStatus> {
        self.reporter.get().map(shared::Reporter::status)
    }

    fn share(&self, t: &TargetRef, ok: bool, retry_after: Option<Duration>) {
        if let Some(r) = self.reporter.get() {
            r.send(t, ok, retry_after);
        }
    }

    /// Applies what the instances decided together: a circuit open on Redis is open here
    /// (a probe in flight here is left to finish), a shared cooldown cools down here. A
    /// circuit closed on Redis changes nothing: the local breaker still works alone. True when
    /// this opened a circuit that was not open here.
    pub fn apply_shared(&self, t: &TargetRef, s: shared::SharedCircuit) -> bool {
        self.with(t, |g| {
            let now = Instant::now();
            let opened = g.breaker.apply_shared(now, &s);
            g.cooldown.hold(now, s.cooldown_for, Cause::Shared);
            opened
        })
    }

    /// Every target seen so far.
    pub fn targets(&self) -> Vec<TargetRef> {
        match self.targets.read() {
            Ok(m) => m.keys().cloned().collect(),
            Err(p) => p.into_inner().keys().cloned().collect(),
        }
    }

    fn stats(&self, t: &TargetRef) -> Arc<TargetStats> {
        if let Ok(map) = self.targets.read()
            && let Some(s) = map.get(t)
        {
            return s.clone();
        }
        let mut map = match self.targets.write() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        // Clients can name any model of a configured provider: past the cap, a new target
        // is served with stats of its own that are not kept, so the map cannot be grown
        // without bound.
        if map.len() >= MAX_TARGETS && !map.contains_key(t) {
            return Arc::new(TargetStats::new());
        }
        map.entry(t.clone())
            .or_insert_with(|| Arc::new(TargetStats::new()))
            .clone()
    }

    fn with<R>(&self, t: &TargetRef, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.stats(t).lock())
    }

    /// An attempt starts; a half-open circuit lets this one through as its probe.
    pub fn begin(&self, t: &TargetRef) -> InFlight {
        let s = self.stats(t);
        s.in_flight.fetch_add(1, Ordering::Relaxed);
        s.lock().breaker.begin();
        InFlight(s)
    }

    pub fn success(&self, t: &TargetRef, latency: Duration, ttft: Option<Duration>) {
        let window = self.settings.window as usize;
        self.with(t, |g| {
            g.calls += 1;
            g.breaker.success(window);
            g.cooldown.clear();
            g.latency.success(latency, ttft);
        });
        self.share(t, true, None);
    }

    /// A finished stream: time per output token after the first.
    pub fn stream_done(&self, t: &TargetRef, after_first: Duration, output_tokens: u64) {
        self.with(t, |g| g.latency.stream_done(after_first, output_tokens));
    }

    /// A failed attempt. Client mistakes say nothing about the provider; a rate limit holds
    /// the target (`cooldown`) without counting toward its circuit; the rest count, and a
    /// Retry-After they carry holds the target too.
    pub fn failure(&self, t: &TargetRef, kind: ErrorKind, retry_after: Option<Duration>) {
        if matches!(
            kind,
            ErrorKind::BadRequest
                | ErrorKind::ContextLengthExceeded
                | ErrorKind::ContentFilter
                | ErrorKind::NotFound
        ) {
            return;
        }
        let s = self.settings;
        if kind == ErrorKind::RateLimited {
            let held = self.with(t, |g| {
                g.calls += 1;
                g.rate_limited += 1;
                g.breaker.no_verdict();
                let limits = g.limits;
                g.cooldown
                    .rate_limited(Instant::now(), retry_after, &limits, &s)
            });
            if let Some(r) = self.reporter.get() {
                r.cooldown(t, held);
            }
            return;
        }
        self.with(t, |g| {
            let now = Instant::now();
            g.calls += 1;
            g.failures += 1;
            if let Some(ra) = retry_after {
                g.cooldown.hold(now, ra, Cause::RetryAfter);
            }
            g.breaker.failure(now, &s);
        });
        self.share(t, false, retry_after);
    }

    /// The observed p95 of a target's time to first token (`stream`) or of its whole
    /// latency (otherwise); `None` before any successful call of that kind.
    pub fn p95(&self, t: &TargetRef, stream: bool) -> Option<Duration> {
        let ms = self.with(t, |g| g.latency.p95_ms(stream))?;
        Some(Duration::from_secs_f64(ms / 1e3))
    }

    pub fn rate_limits(&self, t: &TargetRef, limits: RateLimits) {
        self.with(t, |g| g.limits = limits);
    }

    pub fn in_flight(&self, t: &TargetRef) -> u32 {
        self.stats(t).in_flight.load(Ordering::Relaxed)
    }

    pub fn view(&self, t: &TargetRef) -> TargetView {
        let s = self.stats(t);
        let in_flight = s.in_flight.load(Ordering::Relaxed);
        let mut g = s.lock();
        let now = Instant::now();
        let a = view::availability(&mut g, now);
        TargetView {
            target: t.to_string(),
            state: a.state,
            circuit: a.circuit.as_str(),
            available: a.unavailable.is_none(),
            reason: a.unavailable,
            cooldown: a
                .cooldown
                .map(|(until, cause)| view::cooldown_view(until, cause, now)),
            in_flight,
            calls: g.calls,
            failures: g.failures,
            rate_limited: g.rate_limited,
            consecutive_rate_limits: g.cooldown.streak,
            recent_failure_rate: g.breaker.failure_rate(),
            ewma_ttft_ms: g.latency.ewma_ttft_ms,
            p95_ttft_ms: g.latency.p95_ttft_ms,
            ewma_time_per_token_ms: g.latency.ewma_tpot_ms,
            ewma_latency_ms: g.latency.ewma_latency_ms,
            rate_limits: view::limits_at(&g, now),
        }
    }

    /// What a strategy needs of a target, without the strings of `view`: the same
    /// availability (an open circuit whose time is up turns half-open here too), with the
    /// reason built only for a target that is not available.
    pub fn snapshot(&self, t: &TargetRef) -> Snapshot {
        let s = self.stats(t);
        let in_flight = s.in_flight.load(Ordering::Relaxed);
        let mut g = s.lock();
        let now = Instant::now();
        let a = view::availability(&mut g, now);
        Snapshot {
            unavailable: a.unavailable,
            in_flight,
            ewma_ttft_ms: g.latency.ewma_ttft_ms,
            p95_ttft_ms: g.latency.p95_ttft_ms,
            ewma_time_per_token_ms: g.latency.ewma_tpot_ms,
            ewma_latency_ms: g.latency.ewma_latency_ms,
            rate_limits: view::limits_at(&g, now),
        }
    }

    /// Views of every target seen so far, sorted by name.
    pub fn all(&self) -> Vec<TargetView> {
        let keys = self.targets();
        let mut v: Vec<TargetView> = keys.iter().map(|t| self.view(t)).collect();
        v.sort_by(|a, b| a.target.cmp(&b.target));
        v
    }
}

#[cfg(test)]
mod tests;
