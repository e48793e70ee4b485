//! Several instances on one Redis enforce one global limit: two gateway states with the same
//! prefix hold an RPM limit and a hard budget together, a crashed instance's reservation
//! expires, and an unreachable Redis means local limits (fail-open, counted) or 503
//! (fail-closed), never "unlimited". Tests that need Redis read `REDIS_URL` and say they are
//! skipped without it; each uses its own key prefix.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "helpers of a test: a failed unwrap is the test failing"
)]

mod common;
mod keys_support;

use std::time::Duration;

use keys_support::*;
use modelmux_core::keys::{KeySpec, KeysConfig, LimitError, ManualClock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_hold_one_global_rpm() {
    let Some(url) = redis_url("two_instances_hold_one_global_rpm") else {
        return;
    };
    let prefix = unique_prefix("rpm");
    let config = redis_config(&url, &prefix);
    let clock = ManualClock::new(T0 + 5_000);
    let inst = instances(&config, &clock, 2).await;
    let (plain, key) = make_key(
        &inst[0],
        KeySpec {
            rpm: Some(50),
            ..spec("rpm")
        },
    )
    .await;
    // The other instance sees the key through the shared store once it reloads.
    inst[1].reload().await.unwrap();
    assert_eq!(inst[1].authenticate(&plain).await.unwrap().id, key.id);
    let (ok, refused) = admit_all(&inst, &key, 100, 10, 0.0).await;
    assert_eq!(ok.len(), 50, "2 × 100 concurrent requests, 50 RPM");
    assert_eq!(refused.len(), 150);
    assert!(
        refused
            .iter()
            .all(|e| matches!(e, LimitError::RateLimited { .. }))
    );
    for a in ok {
        a.settle(10, 0.0).await;
    }
    // Half-way into the next minute the previous one weighs half: 25 more, across both.
    clock.set(T0 + 90_000);
    let (ok, _) = admit_all(&inst, &key, 30, 10, 0.0).await;
    assert_eq!(ok.len(), 25);
    for a in ok {
        a.settle(10, 0.0).await;
    }
    assert_eq!(inst[0].stats().redis_errors, 0);
    clear_prefix(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_hold_one_tpm() {
    let Some(url) = redis_url("two_instances_hold_one_tpm") else {
        return;
    };
    let prefix = unique_prefix("tpm");
    let config = redis_config(&url, &prefix);
    let clock = ManualClock::new(T0);
    let inst = instances(&config, &clock, 2).await;
    let (_, key) = make_key(
        &inst[0],
        KeySpec {
            tpm: Some(10_000),
            ..spec("tpm")
        },
    )
    .await;
    let (ok, _) = admit_all(&inst, &key, 50, 500, 0.0).await;
    assert_eq!(ok.len(), 20);
    // They used a fifth of the estimate: the correction frees room on both instances.
    for a in ok {
        a.settle(100, 0.0).await;
    }
    let (ok, _) = admit_all(&inst, &key, 50, 500, 0.0).await;
    assert_eq!(ok.len(), 16, "8000 tokens free after the correction");
    for a in ok {
        a.settle(500, 0.0).await;
    }
    clear_prefix(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_hold_one_budget() {
    let Some(url) = redis_url("two_instances_hold_one_budget") else {
        return;
    };
    let prefix = unique_prefix("budget");
    let config = redis_config(&url, &prefix);
    let clock = ManualClock::new(T0);
    let inst = instances(&config, &clock, 2).await;
    let (_, key) = make_key(
        &inst[0],
        KeySpec {
            budgets: hard_total(1.0),
            ..spec("exact")
        },
    )
    .await;
    let (admitted, spend, in_flight, _) = budget_run(&inst, &key, 200, 64, 0.03, |_| 0.03).await;
    eprintln!("redis exact: admitted {admitted}, spend ${spend:.4}, max in flight {in_flight}");
    assert_eq!(admitted, 33);
    assert!(spend <= 1.0 + 1e-9);
    let e = inst[1].admit(&key, 1, 0.03).await.unwrap_err();
    assert!(matches!(e, LimitError::BudgetExceeded { .. }), "{e:?}");
    // Both instances report the same spend from the shared counters.
    let s0 = inst[0].spend_by_key().await.unwrap();
    let s1 = inst[1].spend_by_key().await.unwrap();
    assert!((s0[0].spend.total - 0.99).abs() < 1e-9, "{s0:?}");
    assert_eq!(s0[0].spend, s1[0].spend);
    assert_eq!(s0[0].spend.reserved, 0.0);

    // Actual costs off the estimate by up to ±50 %: the overshoot, measured.
    let (_, key) = make_key(
        &inst[0],
        KeySpec {
            budgets: hard_total(1.0),
            ..spec("noisy")
        },
    )
    .await;
    let (admitted, spend, in_flight, excess) = budget_run(&inst, &key, 400, 16, 0.03, |i| {
        0.015 + 0.03 * ((i * 37 % 101) as f64 / 100.0)
    })
    .await;
    let overshoot = (spend - 1.0).max(0.0);
    eprintln!(
        "redis noisy: admitted {admitted}, spend ${spend:.4}, overshoot ${overshoot:.4}, max in flight {in_flight}, excess of admitted ${excess:.4}"
    );
    assert!(
        overshoot <= in_flight as f64 * 0.015 + 1e-9,
        "overshoot {overshoot}"
    );
    clear_prefix(&url, &prefix).await;
}

#[tokio::test]
async fn a_crashed_instances_reservation_expires() {
    let Some(url) = redis_url("a_crashed_instances_reservation_expires") else {
        return;
    };
    let prefix = unique_prefix("crash");
    let config = KeysConfig {
        reservation_ttl: Duration::from_secs(60),
        ..redis_config(&url, &prefix)
    };
    let clock = ManualClock::new(T0);
    let inst = instances(&config, &clock, 2).await;
    let (_, key) = make_key(
        &inst[0],
        KeySpec {
            budgets: hard_total(0.5),
            ..spec("crash")
        },
    )
    .await;
    // Instance 0 reserves everything and dies without settling or dropping.
    std::mem::forget(inst[0].admit(&key, 1, 0.5).await.unwrap());
    assert!(matches!(
        inst[1].admit(&key, 1, 0.1).await,
        Err(LimitError::BudgetExceeded { .. })
    ));
    clock.advance(Duration::from_secs(61));
    let a = inst[1]
        .admit(&key, 1, 0.1)
        .await
        .expect("the dead reservation was released");
    a.settle(1, 0.1).await;
    let s = inst[1].spend_by_key().await.unwrap();
    assert!(
        (s[0].spend.total - 0.1).abs() < 1e-9 && s[0].spend.reserved == 0.0,
        "{s:?}"
    );
    clear_prefix(&url, &prefix).await;
}

#[tokio::test]
async fn settling_twice_releases_once() {
    let Some(url) = redis_url("settling_twice_releases_once") else {
        return;
    };
    let prefix = unique_prefix("twice");
    let config = redis_config(&url, &prefix);
    let clock = ManualClock::new(T0);
    let inst = instances(&config, &clock, 1).await;
    let (_, key) = make_key(
        &inst[0],
        KeySpec {
            budgets: hard_total(1.0),
            ..spec("twice")
        },
    )
    .await;
    let a = inst[0].admit(&key, 1, 0.5).await.unwrap();
    let b = inst[0].admit(&key, 1, 0.2).await.unwrap();
    a.settle(1, 0.1).await;
    drop(b);
    // The dropped admission is released in the background: wait for it, bounded.
    let (i, k) = (&inst[0], &key);
    common::eventually(
        Duration::from_secs(5),
        "the reservation released",
        || async move {
            let s = i.spend_by_key().await.unwrap();
            s[0].spend.reserved == 0.0
                && i.remaining_budget(k)
                    .is_some_and(|r| (r - 0.9).abs() < 1e-9)
        },
    )
    .await;
    let s = inst[0].spend_by_key().await.unwrap();
    assert!((s[0].spend.total - 0.1).abs() < 1e-9, "{s:?}");
    assert_eq!(s[0].spend.reserved, 0.0, "{s:?}");
    assert!((inst[0].remaining_budget(&key).unwrap() - 0.9).abs() < 1e-9);
    clear_prefix(&url, &prefix).await;
}

/// A Redis nothing listens on: connection refused at once.
fn dead_redis(fail_open: bool) -> KeysConfig {
    KeysConfig {
        fail_open,
        redis_timeout: Duration::from_millis(300),
        ..redis_config("redis://127.0.0.1:1", "dead")
    }
}

#[tokio::test]
async fn redis_down_fail_open_enforces_local_limits_and_counts() {
    let clock = ManualClock::new(T0);
    let inst = instances(&dead_redis(true), &clock, 1).await;
    let keys = &inst[0];
    let (_, key) = make_key(
        keys,
        KeySpec {
            rpm: Some(5),
            budgets: hard_total(0.2),
            ..spec("open")
        },
    )
    .await;
    let mut ok = 0;
    for _ in 0..10 {
        match keys.admit(&key, 1, 0.01).await {
            Ok(a) => {
                ok += 1;
                a.settle(1, 0.01).await;
            }
            Err(e) => assert!(matches!(e, LimitError::RateLimited { .. }), "{e:?}"),
        }
    }
    assert_eq!(ok, 5, "the local RPM limit holds, not unlimited");
    let s = keys.stats();
    assert!(s.redis_errors >= 1, "{s:?}");
    assert_eq!(s.local_fallbacks, 10, "{s:?}");
    assert_eq!(s.unavailable, 0);
    // Budgets hold locally too.
    clock.advance(Duration::from_secs(300));
    let mut spent = 0.05;
    while let Ok(a) = keys.admit(&key, 1, 0.05).await {
        a.settle(1, 0.05).await;
        spent += 0.05;
        clock.advance(Duration::from_secs(60));
        assert!(spent < 1.0, "budget not enforced locally");
    }
    assert!(spent <= 0.2 + 0.05 + 1e-9);
}

#[tokio::test]
async fn redis_down_fail_closed_rejects_with_503() {
    let clock = ManualClock::new(T0);
    let inst = instances(&dead_redis(false), &clock, 1).await;
    let keys = &inst[0];
    let (_, key) = make_key(
        keys,
        KeySpec {
            rpm: Some(5),
            ..spec("closed")
        },
    )
    .await;
    for _ in 0..3 {
        let e = keys.admit(&key, 1, 0.0).await.unwrap_err();
        assert_eq!(e, LimitError::Unavailable);
        assert_eq!(e.status().as_u16(), 503);
    }
    let s = keys.stats();
    assert_eq!((s.unavailable, s.local_fallbacks), (3, 0), "{s:?}");
    assert!(s.redis_errors >= 1);
}
