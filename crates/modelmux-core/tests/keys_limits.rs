//! The in-process limiter holds what the Redis one holds: an RPM limit under concurrency,
//! TPM with correction after the fact, hard budgets that refuse before dispatch (with the
//! measured overshoot when actual costs differ from estimates), soft caps that warn, day
//! budgets that start over at midnight UTC, and reservations released on drop. Time is a
//! `ManualClock`, never slept.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "helpers of a test: a failed unwrap is the test failing"
)]

mod keys_support;

use std::time::Duration;

use keys_support::*;
use modelmux_core::keys::{Budgets, Cap, KeySpec, LimitError, ManualClock, Period};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpm_holds_under_concurrency() {
    let clock = ManualClock::new(T0 + 1_000);
    let inst = instances(&local_config(), &clock, 1).await;
    let (_, key) = make_key(
        &inst[0],
        KeySpec {
            rpm: Some(50),
            ..spec("rpm")
        },
    )
    .await;
    let (ok, refused) = admit_all(&inst, &key, 200, 10, 0.0).await;
    assert_eq!(ok.len(), 50);
    assert_eq!(refused.len(), 150);
    let LimitError::RateLimited { retry_after, what } = &refused[0] else {
        panic!("{:?}", refused[0]);
    };
    assert_eq!(what, "50 requests per minute");
    assert_eq!(refused[0].status().as_u16(), 429);
    // The next minute starts with this one weighing fully, so the wait is past 59 s.
    assert!(*retry_after > Duration::from_secs(59), "{retry_after:?}");
    for a in ok {
        a.settle(10, 0.0).await;
    }
}

#[tokio::test]
async fn rpm_window_slides() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let keys = &inst[0];
    let (_, key) = make_key(
        keys,
        KeySpec {
            rpm: Some(10),
            ..spec("slide")
        },
    )
    .await;
    for _ in 0..10 {
        keys.admit(&key, 1, 0.0).await.unwrap().settle(1, 0.0).await;
    }
    assert!(
        keys.admit(&key, 1, 0.0).await.is_err(),
        "the 11th request in a minute passed"
    );
    // Half-way into the next minute the previous one weighs 5: five more fit, not six.
    clock.advance(Duration::from_secs(90));
    for _ in 0..5 {
        keys.admit(&key, 1, 0.0).await.unwrap().settle(1, 0.0).await;
    }
    assert!(keys.admit(&key, 1, 0.0).await.is_err());
    // Once the wait it was told has passed, a request fits again (and not a moment before).
    let Err(LimitError::RateLimited { retry_after, .. }) = keys.admit(&key, 1, 0.0).await else {
        panic!("admitted");
    };
    clock.advance(retry_after - Duration::from_millis(50));
    assert!(
        keys.admit(&key, 1, 0.0).await.is_err(),
        "admitted before retry_after"
    );
    clock.advance(Duration::from_millis(50));
    assert!(
        keys.admit(&key, 1, 0.0).await.is_ok(),
        "not admitted after retry_after"
    );
}

#[tokio::test]
async fn tpm_reserves_the_estimate_and_corrects_it() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let keys = &inst[0];
    let (_, key) = make_key(
        keys,
        KeySpec {
            tpm: Some(1000),
            ..spec("tpm")
        },
    )
    .await;
    let a = keys.admit(&key, 600, 0.0).await.unwrap();
    // 600 reserved: 500 more do not fit.
    let e = keys.admit(&key, 500, 0.0).await.unwrap_err();
    assert!(
        matches!(e, LimitError::RateLimited { ref what, .. } if what == "1000 tokens per minute"),
        "{e:?}"
    );
    // It used 100: now they do.
    a.settle(100, 0.0).await;
    let b = keys.admit(&key, 500, 0.0).await.unwrap();
    b.settle(900, 0.0).await;
    // 1000 used: even a small request waits.
    assert!(keys.admit(&key, 10, 0.0).await.is_err());
    // A request larger than the whole limit passes through an empty window.
    clock.advance(Duration::from_secs(120));
    assert!(keys.admit(&key, 5000, 0.0).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_budget_holds_under_concurrency() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let (_, key) = make_key(
        &inst[0],
        KeySpec {
            budgets: hard_total(1.0),
            ..spec("budget")
        },
    )
    .await;
    // Settled at the estimate: never past the cap.
    let (admitted, spend, _, _) = budget_run(&inst, &key, 200, 64, 0.03, |_| 0.03).await;
    assert_eq!(admitted, 33, "floor(1.00 / 0.03)");
    assert!(spend <= 1.0 + 1e-9, "spend {spend}");
    let e = inst[0].admit(&key, 1, 0.03).await.unwrap_err();
    let LimitError::BudgetExceeded { period, cap, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!((*period, *cap), (Period::Total, 1.0));
    assert_eq!(e.code(), "insufficient_quota");
    assert!(!e.should_retry());
    // The cap reached exactly refuses a free request too (`>=`, not `>`).
    assert_eq!(
        inst[0].remaining_budget(&key).map(|r| (r * 100.0).round()),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_overshoot_is_bounded_by_estimation_error_in_flight() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let (_, key) = make_key(
        &inst[0],
        KeySpec {
            budgets: hard_total(1.0),
            ..spec("noisy")
        },
    )
    .await;
    // Actual costs between half and one and a half of the estimate.
    let (admitted, spend, in_flight, excess) = budget_run(&inst, &key, 400, 8, 0.03, |i| {
        0.015 + 0.03 * ((i * 37 % 101) as f64 / 100.0)
    })
    .await;
    let overshoot = (spend - 1.0).max(0.0);
    eprintln!(
        "local: admitted {admitted}, spend ${spend:.4}, overshoot ${overshoot:.4}, max in flight {in_flight}, excess of admitted ${excess:.4}"
    );
    // Each admission saw spent + reserved + estimate ≤ cap, so only the requests in flight
    // at the last admission can overshoot, each by its own estimation error (≤ $0.015).
    assert!(
        overshoot <= in_flight as f64 * 0.015 + 1e-9,
        "overshoot {overshoot}"
    );
    assert!(spend > 0.9, "the budget was used: {spend}");
}

#[tokio::test]
async fn soft_cap_warns_and_remaining_budget_shrinks() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let keys = &inst[0];
    let budgets = Budgets {
        daily: Cap {
            soft: Some(0.5),
            hard: Some(1.0),
        },
        ..Budgets::default()
    };
    let (_, key) = make_key(
        keys,
        KeySpec {
            budgets,
            ..spec("soft")
        },
    )
    .await;
    assert_eq!(keys.remaining_budget(&key), Some(1.0));
    let a = keys.admit(&key, 10, 0.4).await.unwrap();
    assert!(a.warnings().is_empty());
    assert_eq!(a.remaining_budget(), Some(0.6));
    a.settle(10, 0.3).await;
    assert!((keys.remaining_budget(&key).unwrap() - 0.7).abs() < 1e-9);
    let b = keys.admit(&key, 10, 0.4).await.unwrap();
    assert_eq!(
        b.warnings(),
        ["daily soft budget of $0.50 exceeded: $0.7000 spent or reserved"]
    );
    b.settle(10, 0.4).await;
    let e = keys.admit(&key, 10, 0.4).await.unwrap_err();
    let LimitError::BudgetExceeded {
        period, resets_in, ..
    } = e
    else {
        panic!()
    };
    assert_eq!(period, Period::Daily);
    assert_eq!(resets_in, Some(Duration::from_secs(86_400)));
    // A new UTC day: the daily budget starts over.
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(keys.remaining_budget(&key), Some(1.0));
    keys.admit(&key, 10, 0.4)
        .await
        .unwrap()
        .settle(10, 0.4)
        .await;
}

#[tokio::test]
async fn monthly_budget_resets_with_the_month() {
    let clock = ManualClock::new(T0 + 30 * 86_400_000); // 2025-01-31
    let inst = instances(&local_config(), &clock, 1).await;
    let keys = &inst[0];
    let budgets = Budgets {
        monthly: Cap {
            soft: None,
            hard: Some(0.1),
        },
        ..Budgets::default()
    };
    let (_, key) = make_key(
        keys,
        KeySpec {
            budgets,
            ..spec("monthly")
        },
    )
    .await;
    keys.admit(&key, 1, 0.1).await.unwrap().settle(1, 0.1).await;
    let e = keys.admit(&key, 1, 0.01).await.unwrap_err();
    assert!(e.message().contains("monthly budget"), "{e}");
    assert!(e.message().contains("resets in 1d 0h"), "{e}");
    clock.advance(Duration::from_secs(86_400)); // 2025-02-01
    assert!(keys.admit(&key, 1, 0.01).await.is_ok());
}

#[tokio::test]
async fn dropping_an_admission_releases_its_reservation() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let keys = &inst[0];
    let (_, key) = make_key(
        keys,
        KeySpec {
            budgets: hard_total(0.1),
            ..spec("drop")
        },
    )
    .await;
    let a = keys.admit(&key, 1, 0.1).await.unwrap();
    assert!(keys.admit(&key, 1, 0.01).await.is_err(), "reserved in full");
    drop(a);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(keys.admit(&key, 1, 0.01).await.is_ok(), "released on drop");
}

#[tokio::test]
async fn keys_without_limits_are_counted_not_limited() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let keys = &inst[0];
    let (_, key) = make_key(
        keys,
        KeySpec {
            team: Some("research".into()),
            ..spec("free")
        },
    )
    .await;
    for _ in 0..500 {
        keys.admit(&key, 1000, 0.002)
            .await
            .unwrap()
            .settle(1000, 0.002)
            .await;
    }
    assert_eq!(keys.remaining_budget(&key), None);
    let spend = keys.spend_by_key().await.unwrap();
    assert_eq!(spend.len(), 1);
    assert!((spend[0].spend.total - 1.0).abs() < 1e-9, "{spend:?}");
    let teams = keys.spend_by_team().await.unwrap();
    assert_eq!(teams[0].team, "research");
    assert!((teams[0].spend.daily - 1.0).abs() < 1e-9);
}
