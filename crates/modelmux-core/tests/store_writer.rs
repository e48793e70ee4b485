//! The record writer: batching by size and by time (paused clock), redaction before the
//! spill and the store, an outage under load (fail, then hang) that loses nothing, shutdown
//! under load that loses nothing, a spill left by an earlier run replayed at start, and a
//! sender that never waits for a slow store. Outage and shutdown run against memory, SQLite
//! and (when DATABASE_URL is set) PostgreSQL.

#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn their own servers, clients and concurrent callers, and await them"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;
mod store_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::eventually;
use modelmux_core::Tasks;
use modelmux_core::records::{Capture, MemoryStore, RecordSink, RecordWriter, Store, StoreConfig};
use store_support::{FlakyStore, Mode, TempDir, record, unique_id};

fn config(dir: &TempDir) -> StoreConfig {
    StoreConfig {
        batch_size: 64,
        flush_interval: Duration::from_millis(20),
        queue: 1024,
        write_timeout: Duration::from_millis(200),
        retry_interval: Duration::from_millis(50),
        ..StoreConfig::sqlite(dir.path())
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_is_written_at_once_and_a_partial_one_after_the_interval() {
    let dir = TempDir::new("batch");
    let store = FlakyStore::new(Arc::new(MemoryStore::new()));
    let cfg = StoreConfig {
        batch_size: 10,
        flush_interval: Duration::from_millis(100),
        retry_interval: Duration::from_secs(3600),
        ..StoreConfig::sqlite(dir.path())
    };
    let (writer, sink) = RecordWriter::start(store.clone(), &cfg, &Tasks::new());
    for i in 0..13 {
        sink.send(record(format!("p-{i}")));
    }
    // Let the task run without moving the clock: the full batch goes, the rest waits.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(store.count().await.unwrap(), 10);
    assert_eq!(store.writes.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(99)).await;
    assert_eq!(store.count().await.unwrap(), 10, "not before the interval");
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(store.count().await.unwrap(), 13);
    assert_eq!(store.writes.load(Ordering::SeqCst), 2);
    writer.shutdown().await;
    assert_eq!(sink.stats().written, 13);
    assert_eq!(sink.stats().spilled, 0);
}

#[tokio::test(start_paused = true)]
async fn captures_are_redacted_before_the_store_and_the_spill() {
    let dir = TempDir::new("redact");
    let store = FlakyStore::new(Arc::new(MemoryStore::new()));
    let cfg = StoreConfig {
        redact: vec![regex_lite::Regex::new(r"\b\d{4}-\d{4}\b").unwrap()],
        ..config(&dir)
    };
    let (writer, sink) = RecordWriter::start(store.clone(), &cfg, &Tasks::new());
    let captured = |id: &str| {
        let mut r = record(id);
        r.capture = Some(Capture {
            prompt: "my key is sk-abcdefghijklmnopqrstuvwx and card 1234-5678".into(),
            response: "use Authorization: Bearer abc.def.ghijklmnop".into(),
        });
        r
    };
    sink.send(captured("c-1"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let c = store.get("c-1").await.unwrap().unwrap().capture.unwrap();
    assert_eq!(c.prompt, "my key is [REDACTED] and card [REDACTED]");
    assert_eq!(c.response, "use Authorization: Bearer [REDACTED]");
    // Down: the record goes to the spill file, which must not hold the secret either.
    store.set(Mode::Fail);
    sink.send(captured("c-2"));
    tokio::time::sleep(Duration::from_millis(30)).await;
    let spilled = std::fs::read_to_string(cfg.spill_path()).unwrap();
    assert!(spilled.contains("c-2"), "{spilled}");
    assert!(!spilled.contains("sk-abc") && !spilled.contains("1234-5678"));
    store.set(Mode::Ok);
    writer.shutdown().await;
    assert_eq!(store.count().await.unwrap(), 2);
}

/// Senders on several tasks while the store fails, then hangs, then recovers.
async fn outage_under_load(store: Arc<dyn Store>, dir: &TempDir) {
    let flaky = FlakyStore::new(store);
    let cfg = config(dir);
    let (writer, sink) = RecordWriter::start(flaky.clone(), &cfg, &Tasks::new());
    let run = unique_id("o");
    let senders = 4;
    let per = 600;
    let send = |sink: RecordSink, s: usize| {
        let run = run.clone();
        tokio::spawn(async move {
            for i in 0..per {
                sink.send(record(format!("{run}-{s}-{i}")));
                if i % 20 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
    };
    let tasks: Vec<_> = (0..senders).map(|s| send(sink.clone(), s)).collect();
    // Each phase lasts until the writer has met it: a write goes through, then a write
    // fails, then a write hangs, times out, and the writer tries again (writes are one at a
    // time: a second hung write means the first timed out).
    let limit = Duration::from_secs(10);
    let f = &flaky;
    eventually(limit, "a write before the outage", || async move {
        f.writes.load(Ordering::SeqCst) > 0
    })
    .await;
    flaky.set(Mode::Fail);
    let failed = flaky.failures.load(Ordering::SeqCst);
    eventually(limit, "a failed write", || async move {
        f.failures.load(Ordering::SeqCst) > failed
    })
    .await;
    flaky.set(Mode::Hang);
    let failed = flaky.failures.load(Ordering::SeqCst);
    eventually(limit, "a hung write timed out", || async move {
        f.failures.load(Ordering::SeqCst) >= failed + 2
    })
    .await;
    flaky.set(Mode::Ok);
    for t in tasks {
        t.await.unwrap();
    }
    // Recovery: the spill is replayed while the writer keeps running.
    let sent = (senders * per) as u64;
    eventually(
        Duration::from_secs(20),
        "every record stored",
        || async move { f.count().await.unwrap() >= sent },
    )
    .await;
    writer.shutdown().await;
    let stats = sink.stats();
    assert!(
        flaky.failures.load(Ordering::SeqCst) > 0,
        "the outage was hit"
    );
    assert!(stats.spilled > 0 && stats.replayed > 0, "{stats:?}");
    assert_eq!(stats.sent, sent);
    assert_eq!(stats.lost, 0, "{stats:?}");
    assert_eq!(flaky.count().await.unwrap(), sent, "{stats:?}");
    assert_eq!(stats.written + stats.replayed, sent, "{stats:?}");
    assert!(!cfg.spill_path().exists() || std::fs::metadata(cfg.spill_path()).unwrap().len() == 0);
}

/// N records sent from many tasks at once, then an immediate shutdown.
async fn shutdown_under_load(store: Arc<dyn Store>, dir: &TempDir) {
    // A generous timeout: this test is about draining, not outages (a loaded CI machine
    // must not turn a slow write into one).
    let cfg = StoreConfig {
        queue: 256,
        write_timeout: Duration::from_secs(10),
        ..config(dir)
    };
    let (writer, sink) = RecordWriter::start(Arc::clone(&store), &cfg, &Tasks::new());
    let run = unique_id("s");
    let tasks: Vec<_> = (0..8)
        .map(|s| {
            let sink = sink.clone();
            let run = run.clone();
            tokio::spawn(async move {
                for i in 0..500 {
                    sink.send(record(format!("{run}-{s}-{i}")));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    writer.shutdown().await;
    let stats = sink.stats();
    assert_eq!(stats.sent, 4000);
    assert_eq!(store.count().await.unwrap(), 4000, "{stats:?}");
    assert_eq!(stats.written + stats.replayed, 4000, "{stats:?}");
    assert_eq!(stats.lost, 0);
}

mod memory {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outage_under_load_loses_no_record() {
        let dir = TempDir::new("out-mem");
        outage_under_load(Arc::new(MemoryStore::new()), &dir).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_under_load_loses_no_record() {
        let dir = TempDir::new("shut-mem");
        shutdown_under_load(Arc::new(MemoryStore::new()), &dir).await;
    }
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outage_under_load_loses_no_record() {
        let dir = TempDir::new("out-sq");
        let store = store_support::sqlite(&dir).await;
        outage_under_load(store, &dir).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_under_load_loses_no_record() {
        let dir = TempDir::new("shut-sq");
        let store = store_support::sqlite(&dir).await;
        shutdown_under_load(store, &dir).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outage_under_load_loses_no_record() {
        let Some(pg) = store_support::postgres("postgres::an_outage_under_load").await else {
            return;
        };
        let dir = TempDir::new("out-pg");
        outage_under_load(pg.store.clone(), &dir).await;
        pg.drop_schema().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_under_load_loses_no_record() {
        let Some(pg) = store_support::postgres("postgres::shutdown_under_load").await else {
            return;
        };
        let dir = TempDir::new("shut-pg");
        shutdown_under_load(pg.store.clone(), &dir).await;
        pg.drop_schema().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_never_waits_for_a_slow_store() {
    let dir = TempDir::new("slow");
    let flaky = FlakyStore::new(Arc::new(MemoryStore::new()));
    // Every write takes 200 ms: a send that waited for one would show it.
    flaky.slow(Duration::from_millis(200));
    let cfg = StoreConfig {
        queue: 2048,
        batch_size: 256,
        write_timeout: Duration::from_secs(5),
        ..config(&dir)
    };
    let (writer, sink) = RecordWriter::start(flaky.clone(), &cfg, &Tasks::new());
    let mut took = Vec::with_capacity(10_000);
    let started = Instant::now();
    for i in 0..10_000 {
        let r = record(format!("n-{i}"));
        let t = Instant::now();
        sink.send(r);
        took.push(t.elapsed());
    }
    let total = started.elapsed();
    took.sort_unstable();
    let p99 = took[took.len() * 99 / 100];
    let max = took[took.len() - 1];
    // Storing 10k records at 256 per 200 ms write takes ~8 s; the sends took none of it.
    assert!(
        total < Duration::from_millis(1500),
        "10k sends took {total:?}"
    );
    assert!(p99 < Duration::from_millis(2), "p99 send {p99:?}");
    assert!(max < Duration::from_millis(100), "slowest send {max:?}");
    let stats = sink.stats();
    assert!(
        stats.overflowed > 0,
        "the channel overflowed into the spill: {stats:?}"
    );
    flaky.slow(Duration::ZERO);
    writer.shutdown().await;
    assert_eq!(flaky.count().await.unwrap(), 10_000, "{:?}", sink.stats());
}

#[tokio::test]
async fn a_spill_left_by_an_earlier_run_is_replayed_at_start() {
    let dir = TempDir::new("restart");
    let store = FlakyStore::new(Arc::new(MemoryStore::new()));
    let cfg = config(&dir);
    // First run: the store is down for good; shutdown leaves everything in the spill.
    store.set(Mode::Fail);
    let (writer, sink) = RecordWriter::start(store.clone(), &cfg, &Tasks::new());
    for i in 0..300 {
        sink.send(record(format!("e-{i}")));
    }
    writer.shutdown().await;
    assert_eq!(sink.stats().spilled, 300);
    assert_eq!(store.count().await.unwrap(), 0);
    // A send after shutdown is not lost either.
    sink.send(record("e-late"));
    assert_eq!(sink.stats().spilled, 301);
    // A torn last line (a crash mid-append) costs that one line only.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(cfg.spill_path())
            .unwrap();
        f.write_all(b"{\"request_id\":\"torn").unwrap();
    }
    // Second run: the store is back.
    store.set(Mode::Ok);
    let (writer, sink) = RecordWriter::start(store.clone(), &cfg, &Tasks::new());
    sink.send(record("after-restart"));
    writer.shutdown().await;
    assert_eq!(store.count().await.unwrap(), 302);
    let stats = sink.stats();
    assert_eq!(stats.replayed, 301, "{stats:?}");
    assert_eq!(stats.lost, 1, "the torn line");
}

#[tokio::test(start_paused = true)]
async fn a_hung_store_delays_shutdown_by_the_write_timeout_only() {
    let dir = TempDir::new("hang");
    let store = FlakyStore::new(Arc::new(MemoryStore::new()));
    store.set(Mode::Hang);
    let cfg = config(&dir);
    let (writer, sink) = RecordWriter::start(store.clone(), &cfg, &Tasks::new());
    for i in 0..100 {
        sink.send(record(format!("h-{i}")));
    }
    let t = tokio::time::Instant::now();
    writer.shutdown().await;
    assert!(t.elapsed() <= cfg.write_timeout * 3, "{:?}", t.elapsed());
    let stats = sink.stats();
    assert_eq!(stats.spilled, 100, "{stats:?}");
    assert_eq!(stats.lost, 0);
}

#[tokio::test]
async fn a_discarding_sink_accepts_records() {
    let sink = RecordSink::discard();
    sink.send(record("d-1"));
    assert_eq!(sink.stats().sent, 0);
}
