//! Rate limits and cooldowns: the headroom a provider reports in its headers
//! (`x-ratelimit-remaining-*`, `anthropic-ratelimit-*-remaining` and their resets), and the
//! cooldown a target is held in after a rate limit or a Retry-After. A 429 is not a failure of
//! the provider's health: it holds the target until the time the provider named (Retry-After,
//! else the reset of a limit at zero), or, with no time named, for a backoff that doubles per
//! consecutive rate limit (`[health] rate_limit_backoff`, capped at `rate_limit_backoff_max`)
//! and is reset by a success. The circuit (`circuit.rs`) never sees a rate limit.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;

use crate::config::HealthSettings;

/// How long reported headroom counts when the provider named no reset.
const DEFAULT_RESET: Duration = Duration::from_secs(60);

/// Rate-limit headroom reported by a provider (`x-ratelimit-remaining-*`,
/// `anthropic-ratelimit-*-remaining`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RateLimits {
    pub remaining_requests: Option<u64>,
    pub remaining_tokens: Option<u64>,
    /// Until when the headroom holds (the requests reset, else the tokens reset, else 60s).
    #[serde(skip)]
    pub until: Option<Instant>,
    /// When a limit at zero resets (the later one when both are at zero); `None` while no
    /// limit is at zero or its reset is unknown.
    #[serde(skip)]
    pub exhausted_until: Option<Instant>,
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
        const TOKENS: [N; 4] = [
            N::from_static("x-ratelimit-remaining-tokens"),
            N::from_static("anthropic-ratelimit-tokens-remaining"),
            N::from_static("anthropic-ratelimit-input-tokens-remaining"),
            N::from_static("anthropic-ratelimit-output-tokens-remaining"),
        ];
        const REQUESTS_RESET: [N; 2] = [
            N::from_static("x-ratelimit-reset-requests"),
            N::from_static("anthropic-ratelimit-requests-reset"),
        ];
        const TOKENS_RESET: [N; 4] = [
            N::from_static("x-ratelimit-reset-tokens"),
            N::from_static("anthropic-ratelimit-tokens-reset"),
            N::from_static("anthropic-ratelimit-input-tokens-reset"),
            N::from_static("anthropic-ratelimit-output-tokens-reset"),
        ];
        let text = |n: &N| h.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
        let num = |n: &N| {
            text(n)
                .and_then(|v| v.parse::<f64>().ok())
                .map(|v| v.max(0.0) as u64)
        };
        let requests = REQUESTS.iter().find_map(num);
        // The least headroom of the token limits a provider reports (input, output, total).
        let tokens = TOKENS.iter().filter_map(num).min();
        if requests.is_none() && tokens.is_none() {
            return None;
        }
        let now = Instant::now();
        let reset = |names: &[N]| names.iter().filter_map(text).find_map(reset_in);
        let requests_reset = reset(&REQUESTS_RESET);
        // The reset of the token limit that is lowest is the one that matters; the latest
        // reset is a safe stand-in when several are given.
        let tokens_reset = TOKENS_RESET
            .iter()
            .filter_map(text)
            .filter_map(reset_in)
            .max();
        let mut exhausted: Option<Duration> = None;
        if requests == Some(0) {
            exhausted = requests_reset;
        }
        if tokens == Some(0) && tokens_reset.is_some() {
            exhausted = exhausted.max(tokens_reset);
        }
        Some(Self {
            remaining_requests: requests,
            remaining_tokens: tokens,
            until: Some(now + requests_reset.or(tokens_reset).unwrap_or(DEFAULT_RESET)),
            exhausted_until: exhausted.map(|d| now + d),
        })
    }
}

/// A reset as providers write it: OpenAI's durations (`1s`, `6m0s`, `7.66s`, `20ms`),
/// Anthropic's RFC 3339 times, or plain seconds.
fn reset_in(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    if let Some(d) = go_duration(v) {
        return Some(d);
    }
    let when = humantime::parse_rfc3339_weak(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// `1h2m3.5s`, `20ms`, `6m0s`: numbers (fractions allowed) each followed by a unit.
fn go_duration(v: &str) -> Option<Duration> {
    let mut total = 0.0f64;
    let mut rest = v;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest.get(..num_len)?.parse().ok()?;
        rest = rest.get(num_len..)?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match rest.get(..unit_len)? {
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return None,
        };
        rest = rest.get(unit_len..)?;
        total += n * scale;
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total))
}

/// Why a target is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cause {
    /// A Retry-After on an answer other than a rate limit (a 503 that asked to wait).
    RetryAfter,
    /// A 429 with Retry-After.
    RateLimitRetryAfter,
    /// A 429 while a rate-limit header was at zero: until its reset.
    RateLimitReset,
    /// A 429 that named no time: the backoff of consecutive rate limits.
    RateLimitBackoff,
    /// Another instance's cooldown, read from Redis.
    Shared,
}

impl Cause {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::RetryAfter => "retry_after",
            Self::RateLimitRetryAfter => "rate_limited_retry_after",
            Self::RateLimitReset => "rate_limited_reset",
            Self::RateLimitBackoff => "rate_limited_backoff",
            Self::Shared => "shared",
        }
    }

    pub(super) fn says(self) -> &'static str {
        match self {
            Self::RetryAfter => "Retry-After cooldown",
            Self::RateLimitRetryAfter => "rate limited: Retry-After cooldown",
            Self::RateLimitReset => "rate limited: a limit at zero, cooldown to its reset",
            Self::RateLimitBackoff => "rate limited: backoff cooldown (no time given)",
            Self::Shared => "cooldown shared by another instance (Retry-After or rate limit)",
        }
    }
}

/// A target's cooldown: until when, why, and the streak of rate limits since the last
/// success (which sets the backoff when a 429 names no time).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cooldown {
    until: Option<(Instant, Cause)>,
    pub(super) streak: u32,
}

impl Cooldown {
    /// The time held, when it has not passed at `now`.
    pub(super) fn active(&self, now: Instant) -> Option<(Instant, Cause)> {
        self.until.filter(|(u, _)| now < *u)
    }

    /// Holds the target until `now + d`, unless it is held longer already.
    pub(super) fn hold(&mut self, now: Instant, d: Duration, cause: Cause) {
        if d.is_zero() {
            return;
        }
        let until = now + d;
        match self.active(now) {
            // Another instance's report of this very cooldown says nothing new about why.
            Some((u, held)) if u < until && cause == Cause::Shared => {
                self.until = Some((until, held));
            }
            Some((u, _)) if u >= until => {}
            _ => self.until = Some((until, cause)),
        }
    }

    /// A rate limit: holds the target for the time the provider named (Retry-After, else the
    /// reset of a limit at zero), else for the backoff of this streak. Returns how long it is
    /// held from `now` (what is shared with the other instances).
    pub(super) fn rate_limited(
        &mut self,
        now: Instant,
        retry_after: Option<Duration>,
        limits: &RateLimits,
        s: &HealthSettings,
    ) -> Duration {
        let streak = self.streak;
        self.streak = self.streak.saturating_add(1);
        let (d, cause) = if let Some(ra) = retry_after {
            (ra, Cause::RateLimitRetryAfter)
        } else if let Some(reset) = limits.exhausted_until.filter(|u| now < *u) {
            (reset - now, Cause::RateLimitReset)
        } else {
            (backoff(streak, s), Cause::RateLimitBackoff)
        };
        self.hold(now, d, cause);
        d
    }

    /// A success: the provider serves again.
    pub(super) fn clear(&mut self) {
        self.until = None;
        self.streak = 0;
    }

    /// The reason a held target is not available.
    pub(super) fn reason(until: Instant, cause: Cause, now: Instant) -> String {
        format!(
            "{} for {} more",
            cause.says(),
            humantime::format_duration(round(until - now))
        )
    }
}

/// The backoff of the `streak`-th consecutive rate limit (0-based) without a time named:
/// the base doubled per step, capped.
fn backoff(streak: u32, s: &HealthSettings) -> Duration {
    let factor = 1u32 << streak.min(20);
    s.rate_limit_backoff
        .saturating_mul(factor)
        .min(s.rate_limit_backoff_max)
}

pub(super) fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn resets_as_providers_write_them() {
        assert_eq!(reset_in("1s"), Some(Duration::from_secs(1)));
        assert_eq!(reset_in("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(reset_in("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(reset_in("1h2m3.5s"), Some(Duration::from_secs_f64(3723.5)));
        assert_eq!(reset_in("7.66s"), Some(Duration::from_secs_f64(7.66)));
        assert_eq!(reset_in("3"), Some(Duration::from_secs(3)));
        assert_eq!(reset_in("soon"), None);
        assert_eq!(reset_in("5x"), None);
        let in_a_minute =
            humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(61))
                .to_string();
        let d = reset_in(&in_a_minute).unwrap();
        assert!(
            d > Duration::from_secs(55) && d <= Duration::from_secs(61),
            "{d:?}"
        );
        assert_eq!(reset_in("2000-01-01T00:00:00Z"), Some(Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn a_limit_at_zero_names_its_reset() {
        let now = Instant::now();
        let l = RateLimits::from_headers(&headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "2s"),
            ("x-ratelimit-remaining-tokens", "900"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ]))
        .unwrap();
        assert_eq!(l.remaining_requests, Some(0));
        assert_eq!(l.exhausted_until, Some(now + Duration::from_secs(2)));
        assert_eq!(l.until, Some(now + Duration::from_secs(2)));
        // Tokens at zero on Anthropic, reset as an RFC 3339 time.
        let reset = humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(30))
            .to_string();
        let l = RateLimits::from_headers(&headers(&[
            ("anthropic-ratelimit-requests-remaining", "10"),
            ("anthropic-ratelimit-input-tokens-remaining", "0"),
            ("anthropic-ratelimit-input-tokens-reset", &reset),
        ]))
        .unwrap();
        assert_eq!(l.remaining_tokens, Some(0));
        let d = l.exhausted_until.unwrap() - now;
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        // Headroom left: nothing is exhausted.
        let l =
            RateLimits::from_headers(&headers(&[("x-ratelimit-remaining-requests", "4")])).unwrap();
        assert_eq!(l.exhausted_until, None);
        assert_eq!(l.until, Some(now + DEFAULT_RESET));
        assert_eq!(RateLimits::from_headers(&headers(&[])), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_time_named_wins_then_the_reset_then_the_backoff() {
        let s = HealthSettings::default();
        let now = Instant::now();
        let mut c = Cooldown::default();
        let limits = RateLimits {
            exhausted_until: Some(now + Duration::from_secs(7)),
            ..RateLimits::default()
        };
        let d = c.rate_limited(now, Some(Duration::from_secs(2)), &limits, &s);
        assert_eq!(d, Duration::from_secs(2));
        assert_eq!(c.active(now), Some((now + d, Cause::RateLimitRetryAfter)));
        let d = c.rate_limited(now, None, &limits, &s);
        assert_eq!(d, Duration::from_secs(7));
        assert_eq!(c.active(now).unwrap().1, Cause::RateLimitReset);
        c.clear();
        assert_eq!(c.active(now), None);
        let steps: Vec<u64> = (0..9)
            .map(|_| {
                c.rate_limited(now, None, &RateLimits::default(), &s)
                    .as_secs()
            })
            .collect();
        assert_eq!(steps, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        c.clear();
        assert_eq!(
            c.rate_limited(now, None, &RateLimits::default(), &s)
                .as_secs(),
            1
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_hold_does_not_cut_a_longer_one() {
        let now = Instant::now();
        let mut c = Cooldown::default();
        c.hold(now, Duration::from_secs(10), Cause::Shared);
        c.hold(now, Duration::from_secs(2), Cause::RetryAfter);
        assert_eq!(
            c.active(now),
            Some((now + Duration::from_secs(10), Cause::Shared))
        );
        c.hold(now, Duration::ZERO, Cause::RetryAfter);
        assert!(c.active(now + Duration::from_secs(10)).is_none());
    }
}
