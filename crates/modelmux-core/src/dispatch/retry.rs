//! Retry decisions, kept pure so they can be tested without a clock: given a failed
//! attempt, the settings and the time left, either wait and retry the same target, move on
//! to the next candidate, or stop and give the client this error. Backoff is exponential
//! with jitter; a provider's Retry-After is honoured when it is short and fits the deadline,
//! and otherwise the gateway moves on instead of waiting.

use std::time::Duration;

use crate::config::RouteSettings;
use crate::providers::{ErrorKind, ProviderError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    RetryAfter(Duration),
    NextTarget,
    /// Skip candidates whose context window is not larger than the failed one's.
    LargerWindow,
    Stop,
}

/// What to do after attempt number `attempt` (0-based) on a target failed with `err`.
/// `jitter` is a number in [0, 1), passed in so tests are deterministic.
pub fn decide(
    err: &ProviderError,
    attempt: u32,
    s: &RouteSettings,
    remaining: Duration,
    jitter: f64,
) -> Next {
    match err.kind {
        ErrorKind::ContextLengthExceeded => return Next::LargerWindow,
        ErrorKind::QuotaExceeded => return Next::NextTarget,
        k if !k.is_retryable() => return Next::Stop,
        _ => {}
    }
    if attempt >= s.num_retries {
        return Next::NextTarget;
    }
    let wait = match err.retry_after {
        Some(ra) if ra > s.max_retry_after => return Next::NextTarget,
        Some(ra) => ra,
        None => backoff(attempt, s, jitter),
    };
    if wait >= remaining {
        Next::NextTarget
    } else {
        Next::RetryAfter(wait)
    }
}

/// Exponential backoff, `retry_backoff × 2^attempt` capped at `retry_backoff_max`, scaled by
/// a jitter factor in [0.5, 1.0) so synchronised clients spread out.
pub fn backoff(attempt: u32, s: &RouteSettings, jitter: f64) -> Duration {
    let base = s.retry_backoff.saturating_mul(1u32 << attempt.min(16));
    base.min(s.retry_backoff_max)
        .mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: ErrorKind, retry_after: Option<u64>) -> ProviderError {
        ProviderError {
            retry_after: retry_after.map(Duration::from_millis),
            ..ProviderError::new(kind, "x")
        }
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let s = RouteSettings::default();
        assert_eq!(backoff(0, &s, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(0, &s, 0.0), Duration::from_millis(250));
        assert_eq!(backoff(2, &s, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(10, &s, 1.0), Duration::from_secs(8));
    }

    #[test]
    fn decisions() {
        let s = RouteSettings {
            num_retries: 2,
            ..RouteSettings::default()
        };
        let long = Duration::from_secs(100);
        assert_eq!(
            decide(&err(ErrorKind::Overloaded, None), 0, &s, long, 1.0),
            Next::RetryAfter(Duration::from_millis(500))
        );
        assert_eq!(
            decide(&err(ErrorKind::Overloaded, None), 2, &s, long, 1.0),
            Next::NextTarget
        );
        assert_eq!(
            decide(&err(ErrorKind::RateLimited, Some(2000)), 0, &s, long, 1.0),
            Next::RetryAfter(Duration::from_secs(2))
        );
        // Longer than max_retry_after (10s): move on rather than wait.
        assert_eq!(
            decide(&err(ErrorKind::RateLimited, Some(30_000)), 0, &s, long, 1.0),
            Next::NextTarget
        );
        // Fits max_retry_after but not the deadline.
        assert_eq!(
            decide(
                &err(ErrorKind::RateLimited, Some(5000)),
                0,
                &s,
                Duration::from_secs(3),
                1.0
            ),
            Next::NextTarget
        );
        assert_eq!(
            decide(&err(ErrorKind::BadRequest, None), 0, &s, long, 1.0),
            Next::Stop
        );
        assert_eq!(
            decide(&err(ErrorKind::Auth, None), 0, &s, long, 1.0),
            Next::Stop
        );
        assert_eq!(
            decide(
                &err(ErrorKind::ContextLengthExceeded, None),
                0,
                &s,
                long,
                1.0
            ),
            Next::LargerWindow
        );
        assert_eq!(
            decide(&err(ErrorKind::QuotaExceeded, None), 0, &s, long, 1.0),
            Next::NextTarget
        );
        let none = RouteSettings {
            num_retries: 0,
            ..s
        };
        assert_eq!(
            decide(&err(ErrorKind::Timeout, None), 0, &none, long, 1.0),
            Next::NextTarget
        );
    }
}
