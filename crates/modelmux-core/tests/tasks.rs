//! Background work goes through the gateway's one `Tasks`, and shutdown drains it: a
//! reservation released just before shutdown is applied before shutdown returns (locally and
//! in Redis), finite work is awaited within `server.shutdown_grace`, a task that outlives the
//! grace does not hang shutdown, and loops (the key file's reload, the record writer) stop.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;
mod keys_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keys_support::{T0, clear_prefix, hard_total, make_key, redis_config, redis_url, spec};
use modelmux_core::Tasks;
use modelmux_core::keys::{KeySpec, Keys, KeysConfig, ManualClock, MemoryStore};

async fn reserved(keys: &Keys) -> f64 {
    keys.spend_by_key().await.unwrap()[0].spend.reserved
}

/// Drops an admission holding a reservation; returns once shutdown is done.
async fn release_then_shut_down(config: &KeysConfig) -> (Arc<Keys>, Arc<MemoryStore>) {
    let tasks = Tasks::new();
    let store = Arc::new(MemoryStore::new());
    let keys = Keys::with_parts(
        config,
        store.clone(),
        Arc::new(ManualClock::new(T0)),
        &tasks,
    )
    .await
    .unwrap();
    let (_, key) = make_key(
        &keys,
        KeySpec {
            budgets: hard_total(10.0),
            ..spec("release")
        },
    )
    .await;
    let admission = keys.admit(&key, 1000, 0.5).await.unwrap();
    assert!(reserved(&keys).await > 0.4);
    drop(admission);
    // The release is queued on the tracker, not run yet (nothing has yielded since).
    assert_eq!(tasks.len(), 1);
    let left = tasks.shutdown(Duration::from_secs(5)).await;
    assert_eq!(left, modelmux_core::tasks::Leftover::default());
    assert!(tasks.is_empty());
    (keys, store)
}

#[tokio::test]
async fn a_reservation_dropped_before_shutdown_is_released_by_the_time_it_returns() {
    let (keys, _) = release_then_shut_down(&KeysConfig::default()).await;
    assert_eq!(reserved(&keys).await, 0.0);
}

#[tokio::test]
async fn a_redis_release_before_shutdown_reaches_redis() {
    let Some(url) = redis_url("a_redis_release_before_shutdown_reaches_redis") else {
        return;
    };
    let prefix = keys_support::unique_prefix("tasks-release");
    let config = redis_config(&url, &prefix);
    let (_, store) = release_then_shut_down(&config).await;
    // A second instance over the same Redis sees nothing reserved any more.
    let other = Keys::with_parts(
        &config,
        store,
        Arc::new(ManualClock::new(T0)),
        &Tasks::new(),
    )
    .await
    .unwrap();
    assert_eq!(reserved(&other).await, 0.0);
    clear_prefix(&url, &prefix).await;
}

#[tokio::test(start_paused = true)]
async fn gateway_shutdown_waits_for_background_work_within_the_grace() {
    let gw = common::gateway("[server]\nshutdown_grace = \"10s\"\n").await;
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    gw.tasks().spawn("slow settlement", async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        d.store(true, Ordering::SeqCst);
    });
    let tasks = gw.tasks().clone();
    let started = tokio::time::Instant::now();
    gw.shutdown().await.unwrap();
    assert!(done.load(Ordering::SeqCst), "shutdown returned first");
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(tasks.is_empty(), "{} tasks left", tasks.len());
}

#[tokio::test(start_paused = true)]
async fn a_task_past_the_grace_does_not_hang_gateway_shutdown() {
    let gw = common::gateway("[server]\nshutdown_grace = \"2s\"\n").await;
    gw.tasks().spawn("stuck", std::future::pending::<()>());
    let tasks = gw.tasks().clone();
    let started = tokio::time::Instant::now();
    gw.shutdown().await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // Only the stuck task is left; the record writer drained and stopped.
    assert_eq!(tasks.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn loops_stop_at_shutdown() {
    let dir = std::env::temp_dir().join(format!(
        "modelmux-tasks-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys.json");
    let gw = common::gateway(&format!(
        "[keys]\nfile = \"{}\"\nreload_interval = \"1s\"\n",
        file.display()
    ))
    .await;
    let tasks = gw.tasks().clone();
    let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let t = ticks.clone();
    tasks.spawn_loop("test loop", |stop| async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => { t.fetch_add(1, Ordering::SeqCst); }
            }
        }
    });
    // The key reload loop, the record writer and the test's loop.
    assert!(tasks.len() >= 3, "{}", tasks.len());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(ticks.load(Ordering::SeqCst) >= 10);
    let started = tokio::time::Instant::now();
    gw.shutdown().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(tasks.is_empty(), "{} tasks left", tasks.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(start_paused = true)]
async fn a_request_past_the_grace_does_not_hang_shutdown() {
    let slow = modelmux_sim::Behaviour {
        latency_ms: 3_600_000,
        ..modelmux_sim::Behaviour::default()
    };
    let sim = common::sim(&[("m", slow)]).await;
    let gw = common::gateway(&format!(
        "[server]\nshutdown_grace = \"2s\"\n{}\n[[routes]]\nname = \"r\"\ntargets = [\"s/m\"]\nnum_retries = 0\ntimeout = \"2h\"\ntotal_timeout = \"2h\"\nttft_timeout = \"2h\"\n",
        common::providers(&[("s", &sim)])
    ))
    .await;
    let url = format!("{}/v1/chat/completions", gw.url());
    let pending = modelmux_core::tasks::spawn_owned("client", async move {
        common::client()
            .post(url)
            .header("content-type", "application/json")
            .body(common::chat("r").to_string())
            .send()
            .await
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while sim.requests("m") == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request never reached the sim"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = tokio::time::Instant::now();
    gw.shutdown().await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "{took:?}"
    );
    pending.abort();
}
