//! What is shown of a target: `TargetView` for `GET /v1/health/targets` (the circuit, the
//! cooldown and why it holds, separately, plus counters and latency stats) and the
//! string-free `Snapshot` strategies read. Both come from one `availability` so they never
//! disagree: an open circuit or a probe in flight holds a target, and so does a cooldown
//! that has not passed.

use std::time::SystemTime;

use serde::Serialize;
use tokio::time::Instant;

use super::Inner;
use super::circuit::Circuit;
use super::cooldown::{Cause, Cooldown, RateLimits, round};

/// What strategies and the health endpoint see of a target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    pub target: String,
    /// `closed`, `open`, `half_open`, or `cooling_down` (circuit closed, cooldown on).
    pub state: &'static str,
    /// The circuit alone: `closed`, `open` or `half_open`; a rate limit never opens it.
    pub circuit: &'static str,
    pub available: bool,
    /// Why it is not available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The cooldown holding the target, while one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<CooldownView>,
    pub in_flight: u32,
    pub calls: u64,
    /// Failed calls that count toward the circuit.
    pub failures: u64,
    /// Calls answered with a rate limit (not failures: they cool the target down).
    pub rate_limited: u64,
    /// Rate limits since the last success (sets the backoff of a 429 without a time).
    pub consecutive_rate_limits: u32,
    pub recent_failure_rate: f64,
    pub ewma_ttft_ms: Option<f64>,
    pub p95_ttft_ms: Option<f64>,
    pub ewma_time_per_token_ms: Option<f64>,
    pub ewma_latency_ms: Option<f64>,
    pub rate_limits: Option<RateLimits>,
}

/// A cooldown as the health endpoint shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CooldownView {
    /// `rate_limited_retry_after`, `rate_limited_reset`, `rate_limited_backoff`,
    /// `retry_after` (another error asked to wait) or `shared` (another instance's).
    pub cause: &'static str,
    /// When it ends (RFC 3339, this host's clock).
    pub until: String,
    pub remaining_ms: u64,
    /// E.g. `rate limited (Retry-After) until 2026-12-08T03:10:00Z`.
    pub reason: String,
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

/// A target's state at `now`.
pub(super) struct Availability {
    pub(super) state: &'static str,
    pub(super) circuit: Circuit,
    pub(super) cooldown: Option<(Instant, Cause)>,
    pub(super) unavailable: Option<String>,
}

/// The circuit at `now` (an open circuit whose time is up turns half-open), the cooldown
/// that holds, and why the target cannot take a request, if it cannot.
pub(super) fn availability(g: &mut Inner, now: Instant) -> Availability {
    let circuit = g.breaker.at(now);
    let cooldown = g.cooldown.active(now);
    let held = || cooldown.map(|(until, cause)| Cooldown::reason(until, cause, now));
    let (state, unavailable) = match circuit {
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
        Circuit::HalfOpen { probing: false } => ("half_open", held()),
        Circuit::Closed if cooldown.is_some() => ("cooling_down", held()),
        Circuit::Closed => ("closed", None),
    };
    Availability {
        state,
        circuit,
        cooldown,
        unavailable,
    }
}

/// Headroom still current at `now`.
pub(super) fn limits_at(g: &Inner, now: Instant) -> Option<RateLimits> {
    g.limits.until.filter(|u| now < *u).map(|_| g.limits)
}

pub(super) fn cooldown_view(until: Instant, cause: Cause, now: Instant) -> CooldownView {
    let left = round(until - now);
    let wall = humantime::format_rfc3339_millis(SystemTime::now() + left).to_string();
    CooldownView {
        cause: cause.as_str(),
        remaining_ms: u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
        reason: format!("{} until {wall}", cause.says()),
        until: wall,
    }
}
