//! Unit tests of `Health`: the circuit opens, probes and closes; rate limits hold a target
//! until the time named (or a growing backoff) without ever opening the circuit; other
//! failures still open it; the snapshot agrees with the view; the map is bounded; latency
//! stats. All on a paused clock.

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
    let v = h.view(&t());
    assert_eq!((v.failures, v.rate_limited, v.calls), (0, 1, 1));
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
            exhausted_until: None,
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
    assert!(v.ewma_ttft_ms.is_some_and(|e| e > 90.0));
    let _a = h.begin(&t());
    let _b = h.begin(&t());
    assert_eq!(h.in_flight(&t()), 2);
    drop(_a);
    assert_eq!(h.in_flight(&t()), 1);
}

fn breaker() -> HealthSettings {
    HealthSettings {
        failure_rate: 0.5,
        min_calls: 4,
        window: 10,
        open_for: Duration::from_secs(30),
        ..HealthSettings::default()
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limits_hold_until_the_time_named_and_never_open_the_circuit() {
    let h = Health::new(breaker());
    for i in 0..50 {
        h.failure(&t(), ErrorKind::RateLimited, Some(Duration::from_secs(2)));
        let v = h.view(&t());
        assert_eq!(
            (v.state, v.circuit, v.available),
            ("cooling_down", "closed", false)
        );
        let c = v.cooldown.unwrap();
        assert_eq!(c.cause, "rate_limited_retry_after");
        assert_eq!(c.remaining_ms, 2000);
        assert!(
            c.reason
                .starts_with("rate limited: Retry-After cooldown until "),
            "{}",
            c.reason
        );
        assert!(v.reason.unwrap().starts_with("rate limited"), "{i}");
        tokio::time::advance(Duration::from_millis(1999)).await;
        assert!(!h.view(&t()).available);
        tokio::time::advance(Duration::from_millis(1)).await;
        let v = h.view(&t());
        assert_eq!((v.state, v.available, v.cooldown), ("closed", true, None));
    }
    let v = h.view(&t());
    assert_eq!(
        (v.failures, v.rate_limited, v.consecutive_rate_limits),
        (0, 50, 50)
    );
    assert_eq!(v.recent_failure_rate, 0.0);
    h.success(&t(), Duration::from_millis(1), None);
    assert_eq!(h.view(&t()).consecutive_rate_limits, 0);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_without_a_time_backs_off_more_each_time_until_a_success() {
    let h = Health::new(HealthSettings {
        rate_limit_backoff: Duration::from_secs(1),
        rate_limit_backoff_max: Duration::from_secs(5),
        ..breaker()
    });
    for want in [1000, 2000, 4000, 5000, 5000] {
        h.failure(&t(), ErrorKind::RateLimited, None);
        let c = h.view(&t()).cooldown.unwrap();
        assert_eq!((c.cause, c.remaining_ms), ("rate_limited_backoff", want));
        tokio::time::advance(Duration::from_millis(want)).await;
        assert!(h.view(&t()).available);
    }
    assert_eq!(h.view(&t()).circuit, "closed");
    h.success(&t(), Duration::from_millis(1), None);
    h.failure(&t(), ErrorKind::RateLimited, None);
    assert_eq!(
        h.view(&t()).cooldown.unwrap().remaining_ms,
        1000,
        "reset by the success"
    );
    // A success while held ends the hold: the provider serves again.
    h.success(&t(), Duration::from_millis(1), None);
    assert!(h.view(&t()).available);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_header_at_zero_holds_until_its_reset() {
    let h = Health::new(breaker());
    let mut headers = http::HeaderMap::new();
    headers.insert("x-ratelimit-remaining-requests", "0".parse().unwrap());
    headers.insert("x-ratelimit-reset-requests", "7s".parse().unwrap());
    h.rate_limits(&t(), RateLimits::from_headers(&headers).unwrap());
    assert!(
        h.view(&t()).available,
        "headroom alone demotes, it does not hold"
    );
    h.failure(&t(), ErrorKind::RateLimited, None);
    let c = h.view(&t()).cooldown.unwrap();
    assert_eq!((c.cause, c.remaining_ms), ("rate_limited_reset", 7000));
    tokio::time::advance(Duration::from_secs(7)).await;
    assert!(h.view(&t()).available);
    // The reset has passed: the next 429 without a time backs off instead.
    h.failure(&t(), ErrorKind::RateLimited, None);
    assert_eq!(h.view(&t()).cooldown.unwrap().cause, "rate_limited_backoff");
}

#[tokio::test(start_paused = true)]
async fn other_failures_still_open_the_circuit_between_rate_limits() {
    let h = Health::new(breaker());
    for _ in 0..10 {
        h.failure(&t(), ErrorKind::RateLimited, None);
    }
    assert_eq!(h.view(&t()).circuit, "closed");
    tokio::time::advance(Duration::from_secs(60)).await;
    for kind in [
        ErrorKind::UpstreamError,
        ErrorKind::Timeout,
        ErrorKind::Connect,
    ] {
        h.failure(&t(), kind, None);
    }
    assert_eq!(
        h.view(&t()).circuit,
        "closed",
        "3 counted outcomes: below min_calls"
    );
    h.failure(&t(), ErrorKind::Overloaded, Some(Duration::from_secs(5)));
    let v = h.view(&t());
    assert_eq!((v.state, v.circuit, v.failures), ("open", "open", 4));
    assert_eq!(
        v.cooldown.unwrap().cause,
        "retry_after",
        "shown apart from the circuit"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_probe_leaves_the_circuit_half_open() {
    let h = Health::new(breaker());
    for _ in 0..4 {
        h.failure(&t(), ErrorKind::UpstreamError, None);
    }
    tokio::time::advance(Duration::from_secs(30)).await;
    let probe = h.begin(&t());
    h.failure(&t(), ErrorKind::RateLimited, Some(Duration::from_secs(1)));
    drop(probe);
    let v = h.view(&t());
    assert_eq!(
        (v.circuit, v.available),
        ("half_open", false),
        "held by the cooldown"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(h.view(&t()).available, "the next request probes");
}

#[tokio::test(start_paused = true)]
async fn a_shared_cooldown_keeps_the_local_cause() {
    let h = Health::new(breaker());
    h.failure(&t(), ErrorKind::RateLimited, Some(Duration::from_secs(2)));
    h.apply_shared(
        &t(),
        shared::SharedCircuit {
            cooldown_for: Duration::from_millis(2010),
            ..shared::SharedCircuit::default()
        },
    );
    let c = h.view(&t()).cooldown.unwrap();
    assert_eq!(
        (c.cause, c.remaining_ms),
        ("rate_limited_retry_after", 2010)
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    h.apply_shared(
        &t(),
        shared::SharedCircuit {
            cooldown_for: Duration::from_secs(4),
            ..shared::SharedCircuit::default()
        },
    );
    let c = h.view(&t()).cooldown.unwrap();
    assert_eq!((c.cause, c.remaining_ms), ("shared", 4000));
    assert!(c.reason.contains("another instance"), "{}", c.reason);
}
