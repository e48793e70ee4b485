//! Shared helpers for the virtual-key tests: a `KeysConfig` for a backend, two gateway
//! "instances" over one store, concurrent admissions, and the Redis URL (or why a test is
//! skipped without it).

#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn their own servers, clients and concurrent callers, and await them"
)]
#![allow(dead_code, reason = "each test file uses a different subset")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers: a failed unwrap is the test failing"
)]

use std::sync::Arc;
use std::time::Duration;

use modelmux_core::keys::{
    Admission, Budgets, Cap, KeyInfo, KeySpec, Keys, KeysConfig, LimitError, ManualClock,
    MemoryStore,
};

/// 2025-01-01T00:00:00Z: the start of a minute, a day and a month.
pub const T0: u64 = 1_735_689_600_000;

/// `REDIS_URL`, or `None` after saying on stderr that `test` is skipped and why. Written to
/// the stderr handle, not through `eprintln!`, so the test harness does not swallow it.
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: REDIS_URL is not set (CI sets it; locally: REDIS_URL=redis://127.0.0.1:6379)"
            );
            None
        }
    }
}

/// A prefix no other test (or earlier run) uses.
pub fn unique_prefix(test: &str) -> String {
    format!(
        "mmxtest:{test}:{}:{:08x}",
        std::process::id(),
        fastrand::u32(..)
    )
}

pub fn local_config() -> KeysConfig {
    KeysConfig::default()
}

pub fn redis_config(url: &str, prefix: &str) -> KeysConfig {
    KeysConfig {
        redis_url: Some(modelmux_core::secret::Secret::new(url)),
        redis_prefix: prefix.to_owned(),
        redis_timeout: Duration::from_secs(2),
        ..KeysConfig::default()
    }
}

/// `n` gateway states over one key store and one clock, as `n` instances would be.
pub async fn instances(config: &KeysConfig, clock: &ManualClock, n: usize) -> Vec<Arc<Keys>> {
    let store = Arc::new(MemoryStore::new());
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            Keys::with_parts(
                config,
                store.clone(),
                Arc::new(clock.clone()),
                &modelmux_core::Tasks::new(),
            )
            .await
            .unwrap(),
        );
    }
    out
}

pub fn hard_total(usd: f64) -> Budgets {
    Budgets {
        total: Cap {
            soft: None,
            hard: Some(usd),
        },
        ..Budgets::default()
    }
}

/// Creates a key through `keys` and authenticates it, returning what the gateway would hold.
pub async fn make_key(keys: &Keys, spec: KeySpec) -> (String, KeyInfo) {
    let k = keys.create(spec).await.unwrap();
    let plain = k.key.expose().to_owned();
    let info = keys.authenticate(&plain).await.unwrap();
    (plain, info)
}

/// `per_instance` concurrent admissions on each instance; the admitted ones, kept open.
pub async fn admit_all(
    instances: &[Arc<Keys>],
    key: &KeyInfo,
    per_instance: usize,
    tokens: u64,
    cost: f64,
) -> (Vec<Admission>, Vec<LimitError>) {
    let mut tasks = Vec::new();
    for inst in instances {
        for _ in 0..per_instance {
            let (inst, key) = (inst.clone(), key.clone());
            tasks.push(tokio::spawn(
                async move { inst.admit(&key, tokens, cost).await },
            ));
        }
    }
    let (mut ok, mut refused) = (Vec::new(), Vec::new());
    for t in tasks {
        match t.await.unwrap() {
            Ok(a) => ok.push(a),
            Err(e) => refused.push(e),
        }
    }
    (ok, refused)
}

/// Budget run: `total` requests at most `concurrency` at a time, each reserving `estimate`
/// and settling at `actual(i)`. Returns (admitted, spend settled, largest in-flight count at
/// an admission, sum of positive excess (actual - estimate) of the admitted).
pub async fn budget_run(
    instances: &[Arc<Keys>],
    key: &KeyInfo,
    total: usize,
    concurrency: usize,
    estimate: f64,
    actual: fn(usize) -> f64,
) -> (usize, f64, usize, f64) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    for i in 0..total {
        let inst = instances[i % instances.len()].clone();
        let key = key.clone();
        let (sem, in_flight, max_in_flight) =
            (sem.clone(), in_flight.clone(), max_in_flight.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.unwrap();
            let Ok(adm) = inst.admit(&key, 100, estimate).await else {
                return None;
            };
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(fastrand::u64(0..3))).await;
            let cost = actual(i);
            in_flight.fetch_sub(1, Ordering::SeqCst);
            adm.settle(100, cost).await;
            Some(cost)
        }));
    }
    let (mut admitted, mut spend, mut excess) = (0, 0.0, 0.0);
    for t in tasks {
        if let Some(c) = t.await.unwrap() {
            admitted += 1;
            spend += c;
            excess += (c - estimate).max(0.0);
        }
    }
    (
        admitted,
        spend,
        max_in_flight.load(Ordering::SeqCst),
        excess,
    )
}

pub fn spec(name: &str) -> KeySpec {
    KeySpec {
        name: name.to_owned(),
        ..KeySpec::default()
    }
}

/// Deletes every Redis key of `prefix` (the test's own), so runs do not pile up keys.
pub async fn clear_prefix(url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let pattern = format!("{{{prefix}:*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(500)
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}
