//! Per-target health, kept in process: requests in flight, EWMAs of time to first token,
//! time per output token and latency, a window of recent TTFTs for the p95, rate-limit
//! headroom from the provider's headers, and a passive circuit breaker (failure share over
//! the recent window → open → half-open probe → closed), with cooldowns from Retry-After.
//! Strategies read it to order candidates; `GET /v1/health/targets` shows it. Times use
//! tokio's clock so tests can pause it. With Redis, `shared` reports every counted outcome
//! to the other instances and applies the circuits they opened (`apply_shared`).

pub mod shared;

use std::collections::VecDeque;

use foldhash::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::config::HealthSettings;
use crate::ids::TargetRef;
use crate::providers::ErrorKind;

const TTFT_SAMPLES: usize = 64;
/// The most targets whose health is kept (configured ones come first in practice; the rest
/// are `provider/model` names clients made up).
const MAX_TARGETS: usize = 4096;
const ALPHA: f64 = 0.3;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Circuit {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
struct Inner {
    outcomes: VecDeque<bool>,
    circuit: Circuit,
    cooldown_until: Option<Instant>,
    ewma_ttft_ms: Option<f64>,
    ewma_tpot_ms: Option<f64>,
    ewma_latency_ms: Option<f64>,
    ttfts: VecDeque<f64>,
    /// p95 of `ttfts`, kept current as samples arrive (decisions read it often).
    p95_ttft_ms: Option<f64>,
    /// Whole-answer latencies of non-streaming calls, for their p95 (hedge delays),
    /// worked out when asked for and kept until the next sample.
    latencies: VecDeque<f64>,
    p95_latency_ms: Option<Option<f64>>,
    calls: u64,
    failures: u64,
    limits: RateLimits,
    open_count: u32,
}

/// Rate-limit headroom reported by a provider (`x-ratelimit-remaining-*`,
/// `anthropic-ratelimit-*-remaining`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RateLimits {
    pub remaining_requests: Option<u64>,
    pub remaining_tokens: Option<u64>,
    #[serde(skip)]
    pub until: Option<Instant>,
}

impl RateLimits {
    /// Reads the headers of an answer; `None` when it carried none.
    pub fn from_headers(h: &http::HeaderMap) -> Option<Self> {
        use http::HeaderName as N;
        // Names as constants: a lookup by `&str` parses and validates the name every time.
        const REQUESTS: [N; 2] = [
            N::from_static("x-ratelimit-remaining-requests"),
            N::from_static("anthropic-ratelimit-requests-remaining"),
        ];
        const TOKENS: [N; 3] = [
            N::from_static("x-ratelimit-remaining-tokens"),
            N::from_static("anthropic-ratelimit-tokens-remaining"),
            N::from_static("anthropic-ratelimit-input-tokens-remaining"),
        ];
        const RESET: N = N::from_static("x-ratelimit-reset-requests");
        let num = |names: &[N]| {
            names.iter().find_map(|n| {
                h.get(n)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .map(|v| v.max(0.0) as u64)
            })
        };
        let requests = num(&REQUESTS);
        let tokens = num(&TOKENS);
        if requests.is_none() && tokens.is_none() {
            return None;
        }
        let reset = h
            .get(RESET)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| humantime::parse_duration(v.trim()).ok())
            .unwrap_or(Duration::from_secs(60));
        Some(Self {
            remaining_requests: requests,
            remaining_tokens: tokens,
            until: Some(Instant::now() + reset),
        })
    }
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
                outcomes: VecDeque::new(),
                circuit: Circuit::Closed,
                cooldown_until: None,
                ewma_ttft_ms: None,
                ewma_tpot_ms: None,
                ewma_latency_ms: None,
                ttfts: VecDeque::new(),
                p95_ttft_ms: None,
                latencies: VecDeque::new(),
                p95_latency_ms: None,
                calls: 0,
                failures: 0,
                limits: RateLimits::default(),
                open_count: 0,
            }),
        }
    }
}

/// What strategies and the health endpoint see of a target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    pub target: String,
    /// `closed`, `open`, `half_open` or `cooling_down`.
    pub state: &'static str,
    pub available: bool,
    /// Why it is not available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub in_flight: u32,
    pub calls: u64,
    pub failures: u64,
    pub recent_failure_rate: f64,
    pub ewma_ttft_ms: Option<f64>,
    pub p95_ttft_ms: Option<f64>,
    pub ewma_time_per_token_ms: Option<f64>,
    pub ewma_latency_ms: Option<f64>,
    pub rate_limits: Option<RateLimits>,
}

/// The part of a `TargetView` that strategies read (`Health::snapshot`).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Why the target is not available; `None` when it is.
    pub unavailable: Option<String>,
    pub in_flight: u32,
    pub ewma_ttft_ms: Option<f64>,
    pub p95_ttft_ms: Option<f64>,
    pub ewma_time_per_token_ms: Option<f64>,
    pub ewma_latency_ms: Option<f64>,
    pub rate_limits: Option<RateLimits>,
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

fn ewma(old: Option<f64>, sample: f64) -> Option<f64> {
    Some(old.map_or(sample, |o| o + ALPHA * (sample - o)))
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
            let mut opened = false;
            if !s.open_for.is_zero() {
                let until = now + s.open_for;
                match g.circuit {
                    Circuit::Closed | Circuit::HalfOpen { probing: false } => {
                        g.circuit = Circuit::Open { until };
                        opened = true;
                    }
                    Circuit::Open { until: u } if u < until => {
                        // An opening that ended here but not yet on Redis counts as new.
                        opened = u <= now;
                        g.circuit = Circuit::Open { until };
                    }
                    _ => {}
                }
                g.open_count = g.open_count.max(s.opens);
            }
            if !s.cooldown_for.is_zero() {
                let until = now + s.cooldown_for;
                if g.cooldown_until.is_none_or(|c| c < until) {
                    g.cooldown_until = Some(until);
                }
            }
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
        let s = self.stats(t);
        let mut g = match s.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// An attempt starts; a half-open circuit lets this one through as its probe.
    pub fn begin(&self, t: &TargetRef) -> InFlight {
        let s = self.stats(t);
        s.in_flight.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = s.inner.lock()
            && let Circuit::HalfOpen { probing: false } = g.circuit
        {
            g.circuit = Circuit::HalfOpen { probing: true };
        }
        InFlight(s)
    }

    pub fn success(&self, t: &TargetRef, latency: Duration, ttft: Option<Duration>) {
        let window = self.settings.window as usize;
        self.with(t, |g| {
            g.calls += 1;
            push(&mut g.outcomes, true, window);
            g.circuit = Circuit::Closed;
            g.open_count = 0;
            g.cooldown_until = None;
            g.ewma_latency_ms = ewma(g.ewma_latency_ms, latency.as_secs_f64() * 1e3);
            if let Some(ttft) = ttft {
                let ms = ttft.as_secs_f64() * 1e3;
                g.ewma_ttft_ms = ewma(g.ewma_ttft_ms, ms);
                push(&mut g.ttfts, ms, TTFT_SAMPLES);
                g.p95_ttft_ms = p95(&g.ttfts);
            } else {
                push(&mut g.latencies, latency.as_secs_f64() * 1e3, TTFT_SAMPLES);
                g.p95_latency_ms = None;
            }
        });
        self.share(t, true, None);
    }

    /// A finished stream: time per output token after the first.
    pub fn stream_done(&self, t: &TargetRef, after_first: Duration, output_tokens: u64) {
        if output_tokens > 1 {
            let per = after_first.as_secs_f64() * 1e3 / (output_tokens - 1) as f64;
            self.with(t, |g| g.ewma_tpot_ms = ewma(g.ewma_tpot_ms, per));
        }
    }

    pub fn failure(&self, t: &TargetRef, kind: ErrorKind, retry_after: Option<Duration>) {
        // Client mistakes say nothing about the provider's health.
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
        self.with(t, |g| {
            let now = Instant::now();
            g.calls += 1;
            g.failures += 1;
            push(&mut g.outcomes, false, s.window as usize);
            if let Some(ra) = retry_after.filter(|d| !d.is_zero()) {
                g.cooldown_until = Some(now + ra);
            }
            let fails = g.outcomes.iter().filter(|ok| !**ok).count();
            let rate = fails as f64 / g.outcomes.len() as f64;
            let trip = match g.circuit {
                Circuit::HalfOpen { .. } => true,
                _ => g.outcomes.len() as u32 >= s.min_calls && rate >= s.failure_rate,
            };
            if trip {
                g.open_count = g.open_count.saturating_add(1);
                // Each consecutive opening waits longer, up to 8× the base.
                let factor = 1u32 << (g.open_count - 1).min(3);
                g.circuit = Circuit::Open {
                    until: now + s.open_for * factor,
                };
            }
        });
        self.share(t, false, retry_after);
    }

    /// The observed p95 of a target's time to first token (`stream`) or of its whole
    /// latency (otherwise); `None` before any successful call of that kind.
    pub fn p95(&self, t: &TargetRef, stream: bool) -> Option<Duration> {
        let ms = self.with(t, |g| {
            if stream {
                g.p95_ttft_ms
            } else {
                *g.p95_latency_ms.get_or_insert_with(|| p95(&g.latencies))
            }
        })?;
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
        let mut g = match s.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        let (state, reason) = state_at(&mut g, now);
        let available = reason.is_none();
        let limits = g.limits.until.filter(|u| now < *u).map(|_| g.limits);
        let fails = g.outcomes.iter().filter(|ok| !**ok).count();
        TargetView {
            target: t.to_string(),
            state,
            available,
            reason,
            in_flight,
            calls: g.calls,
            failures: g.failures,
            recent_failure_rate: if g.outcomes.is_empty() {
                0.0
            } else {
                fails as f64 / g.outcomes.len() as f64
            },
            ewma_ttft_ms: g.ewma_ttft_ms,
            p95_ttft_ms: g.p95_ttft_ms,
            ewma_time_per_token_ms: g.ewma_tpot_ms,
            ewma_latency_ms: g.ewma_latency_ms,
            rate_limits: limits,
        }
    }

    /// What a strategy needs of a target, without the strings of `view`: the same
    /// availability (an open circuit whose time is up turns half-open here too), with the
    /// reason built only for a target that is not available.
    pub fn snapshot(&self, t: &TargetRef) -> Snapshot {
        let s = self.stats(t);
        let in_flight = s.in_flight.load(Ordering::Relaxed);
        let mut g = match s.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        let (_, unavailable) = state_at(&mut g, now);
        Snapshot {
            unavailable,
            in_flight,
            ewma_ttft_ms: g.ewma_ttft_ms,
            p95_ttft_ms: g.p95_ttft_ms,
            ewma_time_per_token_ms: g.ewma_tpot_ms,
            ewma_latency_ms: g.ewma_latency_ms,
            rate_limits: g.limits.until.filter(|u| now < *u).map(|_| g.limits),
        }
    }

    /// Views of every target seen so far, sorted by name.
    pub fn all(&self) -> Vec<TargetView> {
        let keys: Vec<TargetRef> = match self.targets.read() {
            Ok(m) => m.keys().cloned().collect(),
            Err(p) => p.into_inner().keys().cloned().collect(),
        };
        let mut v: Vec<TargetView> = keys.iter().map(|t| self.view(t)).collect();
        v.sort_by(|a, b| a.target.cmp(&b.target));
        v
    }
}

/// The circuit's state at `now` (an open circuit whose time is up turns half-open), and why
/// the target cannot take a request, if it cannot. `view` and `snapshot` share it.
fn state_at(g: &mut Inner, now: Instant) -> (&'static str, Option<String>) {
    if let Circuit::Open { until } = g.circuit
        && now >= until
    {
        g.circuit = Circuit::HalfOpen { probing: false };
    }
    match g.circuit {
        Circuit::Open { until } => (
            "open",
            Some(format!(
                "circuit open for {} more",
                humantime::format_duration(round(until - now))
            )),
        ),
        Circuit::HalfOpen { probing: true } => (
            "half_open",
            Some("a half-open probe is in flight".to_owned()),
        ),
        Circuit::HalfOpen { probing: false } => ("half_open", None),
        Circuit::Closed => match g.cooldown_until {
            Some(until) if now < until => (
                "cooling_down",
                Some(format!(
                    "Retry-After cooldown for {} more",
                    humantime::format_duration(round(until - now))
                )),
            ),
            _ => ("closed", None),
        },
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

fn push<T>(q: &mut VecDeque<T>, v: T, cap: usize) {
    if q.len() >= cap {
        q.pop_front();
    }
    q.push_back(v);
}

fn p95(samples: &VecDeque<f64>) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = samples.iter().copied().collect();
    v.sort_by(f64::total_cmp);
    let idx = ((v.len() as f64 - 1.0) * 0.95).round() as usize;
    v.get(idx).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ModelId, ProviderId};

    fn t() -> TargetRef {
        TargetRef::new(ProviderId::new("p"), ModelId::new("m"))
    }

    #[tokio::test(start_paused = true)]
    async fn the_circuit_opens_probes_and_closes() {
        let h = Health::new(HealthSettings {
            failure_rate: 0.5,
            min_calls: 4,
            window: 10,
            open_for: Duration::from_secs(30),
            ..HealthSettings::default()
        });
        h.success(&t(), Duration::from_millis(10), None);
        for _ in 0..2 {
            h.failure(&t(), ErrorKind::Overloaded, None);
        }
        assert!(h.view(&t()).available, "2 of 3 failed but below min_calls");
        h.failure(&t(), ErrorKind::Overloaded, None);
        let v = h.view(&t());
        assert_eq!((v.state, v.available), ("open", false));
        tokio::time::advance(Duration::from_secs(31)).await;
        let v = h.view(&t());
        assert_eq!((v.state, v.available), ("half_open", true));
        let probe = h.begin(&t());
        assert!(!h.view(&t()).available, "one probe at a time");
        h.failure(&t(), ErrorKind::Overloaded, None);
        drop(probe);
        assert_eq!(h.view(&t()).state, "open");
        // The second opening waits twice as long.
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(h.view(&t()).state, "open");
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(h.view(&t()).state, "half_open");
        let _probe = h.begin(&t());
        h.success(&t(), Duration::from_millis(10), None);
        assert_eq!(
            (h.view(&t()).state, h.view(&t()).available),
            ("closed", true)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_cools_down_and_client_errors_do_not_count() {
        let h = Health::new(HealthSettings::default());
        h.failure(&t(), ErrorKind::RateLimited, Some(Duration::from_secs(5)));
        assert_eq!(h.view(&t()).state, "cooling_down");
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(h.view(&t()).state, "closed");
        for _ in 0..20 {
            h.failure(&t(), ErrorKind::BadRequest, None);
        }
        assert_eq!(h.view(&t()).failures, 1);
    }

    /// `snapshot` tells strategies what `view` tells the health endpoint.
    fn same(h: &Health) {
        let v = h.view(&t());
        let s = h.snapshot(&t());
        assert_eq!(s.unavailable, v.reason);
        assert_eq!(s.unavailable.is_none(), v.available);
        assert_eq!(
            (s.in_flight, s.ewma_ttft_ms, s.p95_ttft_ms),
            (v.in_flight, v.ewma_ttft_ms, v.p95_ttft_ms)
        );
        assert_eq!(
            (s.ewma_time_per_token_ms, s.ewma_latency_ms, s.rate_limits),
            (v.ewma_time_per_token_ms, v.ewma_latency_ms, v.rate_limits)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_snapshot_agrees_with_the_view() {
        let h = Health::new(HealthSettings {
            failure_rate: 0.5,
            min_calls: 2,
            window: 10,
            open_for: Duration::from_secs(30),
            ..HealthSettings::default()
        });
        same(&h);
        h.success(
            &t(),
            Duration::from_millis(10),
            Some(Duration::from_millis(5)),
        );
        h.stream_done(&t(), Duration::from_millis(100), 11);
        h.rate_limits(
            &t(),
            RateLimits {
                remaining_requests: Some(3),
                remaining_tokens: None,
                until: Some(Instant::now() + Duration::from_secs(5)),
            },
        );
        same(&h);
        h.failure(&t(), ErrorKind::Overloaded, None);
        assert!(h.snapshot(&t()).unavailable.is_some());
        same(&h);
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(h.snapshot(&t()).unavailable.is_none(), "half-open");
        same(&h);
        let probe = h.begin(&t());
        same(&h);
        drop(probe);
        h.success(&t(), Duration::from_millis(10), None);
        h.failure(&t(), ErrorKind::RateLimited, Some(Duration::from_secs(5)));
        same(&h);
        assert!(h.snapshot(&t()).unavailable.is_some(), "cooling down");
    }

    #[test]
    fn made_up_targets_cannot_grow_the_map_without_bound() {
        let h = Health::new(HealthSettings::default());
        for i in 0..MAX_TARGETS + 50 {
            let t = TargetRef::new(ProviderId::new("p"), ModelId::new(format!("m{i}")));
            h.success(&t, Duration::from_millis(1), None);
        }
        assert_eq!(h.all().len(), MAX_TARGETS);
        // A kept target still keeps its stats.
        let first = TargetRef::new(ProviderId::new("p"), ModelId::new("m0"));
        h.success(&first, Duration::from_millis(1), None);
        assert_eq!(h.view(&first).calls, 2);
    }

    #[test]
    fn latency_stats() {
        let h = Health::new(HealthSettings::default());
        for ms in 1..=100u64 {
            h.success(
                &t(),
                Duration::from_millis(ms),
                Some(Duration::from_millis(ms)),
            );
        }
        let v = h.view(&t());
        // The window keeps the last 64 TTFTs: 37..=100; p95 of those.
        assert_eq!(v.p95_ttft_ms, Some(97.0));
        assert!(v.ewma_ttft_ms.unwrap() > 90.0);
        let _a = h.begin(&t());
        let _b = h.begin(&t());
        assert_eq!(h.in_flight(&t()), 2);
        drop(_a);
        assert_eq!(h.in_flight(&t()), 1);
    }
}
