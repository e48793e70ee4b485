//! One store test suite, run against every backend: SQLite in a temp dir, PostgreSQL (in a
//! schema of its own; skipped with a message when DATABASE_URL is unset), and the memory
//! store. Round trip, batches with duplicates, report aggregates, migrations run twice.

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

mod store_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use modelmux_core::records::{
    AttemptRecord, Capture, GroupBy, MemoryStore, Record, ReportRow, Store, StreamOutcome, Tokens,
};
use store_support::{TempDir, record, unique_id};

/// Runs `$suite(store, reopen)` against SQLite, PostgreSQL and memory; `reopen` gives a
/// second handle on the same data (a restart), for migration tests.
macro_rules! for_each_store {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = TempDir::new("suite");
                    let store = store_support::sqlite(&dir).await;
                    let path = dir.path().join("records.sqlite");
                    let reopen = move || {
                        let path = path.clone();
                        Box::pin(async move {
                            Arc::new(
                                modelmux_core::records::SqliteStore::open(&path).await.unwrap(),
                            ) as Arc<dyn Store>
                        }) as std::pin::Pin<Box<dyn std::future::Future<Output = Arc<dyn Store>>>>
                    };
                    super::$name(store, &reopen).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(pg) = store_support::postgres(concat!("postgres::", stringify!($name))).await else {
                        return;
                    };
                    let second = Arc::new(pg.reopen());
                    let reopen = move || {
                        let s = Arc::clone(&second) as Arc<dyn Store>;
                        Box::pin(async move { s })
                            as std::pin::Pin<Box<dyn std::future::Future<Output = Arc<dyn Store>>>>
                    };
                    super::$name(pg.store.clone(), &reopen).await;
                    pg.drop_schema().await;
                }
            )*
        }
        mod memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let store = Arc::new(MemoryStore::new());
                    let same = Arc::clone(&store);
                    let reopen = move || {
                        let s = Arc::clone(&same) as Arc<dyn Store>;
                        Box::pin(async move { s })
                            as std::pin::Pin<Box<dyn std::future::Future<Output = Arc<dyn Store>>>>
                    };
                    super::$name(store, &reopen).await;
                }
            )*
        }
    };
}

type Reopen = dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Arc<dyn Store>>>>;

for_each_store!(
    a_record_reads_back_as_written,
    batches_store_each_request_once,
    report_aggregates_by_route,
    report_groups_by_target_key_and_team,
    migrations_are_idempotent,
);

fn full_record() -> Record {
    let mut r = record(unique_id("full"));
    // Millisecond precision is what is stored.
    r.time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_760_000_000_123);
    r.key = Some("key-1".into());
    r.team = Some("search".into());
    r.client_format = "anthropic".into();
    r.route = "support".into();
    r.rule = Some("billing-faq".into());
    r.attempts = vec![
        AttemptRecord {
            target: "openai/gpt-4o-mini".into(),
            status: Some(429),
            error: Some("rate_limited".into()),
            latency_ms: 12,
            ttft_ms: None,
            hedge: false,
        },
        AttemptRecord {
            target: "anthropic/claude-haiku-4-5".into(),
            status: Some(200),
            error: None,
            latency_ms: 340,
            ttft_ms: Some(120),
            hedge: true,
        },
    ];
    r.target = Some("anthropic/claude-haiku-4-5".into());
    r.latency_ms = 360;
    r.ttft_ms = Some(130);
    r.tokens = Tokens {
        input: 1200,
        output: 300,
        cache_read: 1000,
        cache_write: 100,
        reasoning: 50,
    };
    r.cost_usd = Some(0.001_234_5);
    r.catalog_version = Some("2025-10-01".into());
    r.stream = Some(StreamOutcome {
        completed: false,
        cut_reason: Some("upstream_error".into()),
        chunks_sent: 17,
    });
    r.capture = Some(Capture {
        prompt: "hello ☃".into(),
        response: "line\n\"quoted\"".into(),
    });
    r
}

async fn a_record_reads_back_as_written(store: Arc<dyn Store>, _: &Reopen) {
    let r = full_record();
    store.write(std::slice::from_ref(&r)).await.unwrap();
    assert_eq!(store.get(&r.request_id).await.unwrap(), Some(r.clone()));
    assert_eq!(store.get("no-such-id").await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 1);
    // Empty batches are fine.
    store.write(&[]).await.unwrap();
}

async fn batches_store_each_request_once(store: Arc<dyn Store>, _: &Reopen) {
    let records: Vec<Record> = (0..1000).map(|i| record(format!("b-{i}"))).collect();
    for chunk in records.chunks(256) {
        store.write(chunk).await.unwrap();
    }
    assert_eq!(store.count().await.unwrap(), 1000);
    // A replayed batch, with duplicates inside it too, stores nothing twice and keeps the
    // first version.
    let mut again: Vec<Record> = records[..300].to_vec();
    again.extend_from_slice(&records[..10]);
    for r in &mut again {
        r.route = "changed".into();
    }
    again.push(record("b-new"));
    store.write(&again).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 1001);
    assert_eq!(store.get("b-0").await.unwrap().unwrap().route, "chat");
}

fn at(r: &mut Record, latency: u64, ttft: Option<u64>) {
    r.latency_ms = latency;
    r.ttft_ms = ttft;
}

/// chat: 4 recent requests (latency 100..400, one error, one cut stream, one fallback);
/// code: one; plus one old chat request before `since`.
fn report_fixture() -> (Vec<Record>, SystemTime) {
    let now = SystemTime::now();
    let since = now - Duration::from_secs(3600);
    let mut out = Vec::new();
    let mut a = record("r-a");
    at(&mut a, 100, Some(50));
    a.key = Some("k1".into());
    a.team = Some("t1".into());
    a.cost_usd = Some(0.25);
    let mut b = record("r-b");
    at(&mut b, 200, None);
    b.error = Some("upstream_unavailable".into());
    b.status = Some(503);
    b.target = None;
    b.cost_usd = None;
    b.key = Some("k1".into());
    let mut c = record("r-c");
    at(&mut c, 300, Some(70));
    c.stream = Some(StreamOutcome {
        completed: false,
        cut_reason: Some("idle_timeout".into()),
        chunks_sent: 3,
    });
    c.key = Some("k2".into());
    c.team = Some("t1".into());
    c.cost_usd = Some(0.5);
    let mut d = record("r-d");
    at(&mut d, 400, None);
    d.attempts.insert(
        0,
        AttemptRecord {
            target: "b/m".into(),
            status: Some(500),
            error: Some("server_error".into()),
            latency_ms: 40,
            ttft_ms: None,
            hedge: false,
        },
    );
    d.cost_usd = Some(0.125);
    let mut e = record("r-e");
    e.route = "code".into();
    e.target = Some("b/m".into());
    at(&mut e, 1000, None);
    e.cost_usd = Some(1.0);
    let mut old = record("r-old");
    old.time = since - Duration::from_secs(1);
    old.latency_ms = 99_999;
    out.extend([a, b, c, d, e, old]);
    (out, since)
}

fn row<'a>(rows: &'a [ReportRow], group: &str) -> &'a ReportRow {
    rows.iter()
        .find(|r| r.group == group)
        .unwrap_or_else(|| panic!("no group {group:?} in {rows:?}"))
}

async fn report_aggregates_by_route(store: Arc<dyn Store>, _: &Reopen) {
    let (records, since) = report_fixture();
    store.write(&records).await.unwrap();
    let rows = store.report(GroupBy::Route, since).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].group, "chat", "busiest first");
    let chat = &rows[0];
    assert_eq!(chat.requests, 4);
    assert!((chat.cost_usd - 0.875).abs() < 1e-12, "{}", chat.cost_usd);
    assert_eq!(chat.p50_latency_ms, 200);
    assert_eq!(chat.p95_latency_ms, 400);
    assert_eq!(chat.p50_ttft_ms, Some(50));
    assert_eq!(chat.p95_ttft_ms, Some(70));
    assert_eq!(chat.error_rate, 0.5, "an error and a cut stream");
    assert_eq!(chat.fallback_rate, 0.25);
    let code = row(&rows, "code");
    assert_eq!(code.requests, 1);
    assert_eq!(code.p50_latency_ms, 1000);
    assert_eq!(code.p95_ttft_ms, None);
    assert_eq!(code.error_rate, 0.0);
    // The old record counts once `since` reaches back to it.
    let all = store
        .report(GroupBy::Route, since - Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(row(&all, "chat").requests, 5);
    assert_eq!(row(&all, "chat").p95_latency_ms, 99_999);
    // Nothing in the future.
    let none = store
        .report(GroupBy::Route, SystemTime::now() + Duration::from_secs(60))
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn report_groups_by_target_key_and_team(store: Arc<dyn Store>, _: &Reopen) {
    let (records, since) = report_fixture();
    store.write(&records).await.unwrap();
    let by_target = store.report(GroupBy::Target, since).await.unwrap();
    assert_eq!(row(&by_target, "a/m").requests, 3);
    assert_eq!(row(&by_target, "b/m").requests, 1);
    assert_eq!(row(&by_target, "(none)").requests, 1);
    assert_eq!(row(&by_target, "(none)").error_rate, 1.0);
    let by_key = store.report(GroupBy::Key, since).await.unwrap();
    assert_eq!(row(&by_key, "k1").requests, 2);
    assert_eq!(row(&by_key, "k1").error_rate, 0.5);
    assert!((row(&by_key, "k1").cost_usd - 0.25).abs() < 1e-12);
    assert_eq!(row(&by_key, "k2").requests, 1);
    assert_eq!(row(&by_key, "(none)").requests, 2);
    let by_team = store.report(GroupBy::Team, since).await.unwrap();
    assert_eq!(row(&by_team, "t1").requests, 2);
    assert_eq!(row(&by_team, "t1").p50_latency_ms, 100);
    assert_eq!(row(&by_team, "t1").p95_latency_ms, 300);
    assert_eq!(row(&by_team, "(none)").requests, 3);
}

async fn migrations_are_idempotent(store: Arc<dyn Store>, reopen: &Reopen) {
    store.migrate().await.unwrap();
    store.write(&[record("m-1")]).await.unwrap();
    store.migrate().await.unwrap();
    let again = reopen().await;
    again.migrate().await.unwrap();
    again.migrate().await.unwrap();
    assert_eq!(again.count().await.unwrap(), 1);
    again.write(&[record("m-2")]).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 2);
}

#[tokio::test]
async fn postgres_instances_migrating_together_apply_each_step_once() {
    let Some(pg) = store_support::postgres("postgres_instances_migrating_together").await else {
        return;
    };
    let stores: Vec<_> = (0..4).map(|_| Arc::new(pg.reopen())).collect();
    let tasks: Vec<_> = stores
        .iter()
        .map(|s| {
            let s = Arc::clone(s);
            tokio::spawn(async move { s.migrate().await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    stores[0].write(&[record("pm-1")]).await.unwrap();
    assert_eq!(stores[3].count().await.unwrap(), 1);
    pg.drop_schema().await;
}

#[tokio::test]
async fn sqlite_uses_wal_mode_and_opens_through_the_config() {
    let dir = TempDir::new("wal");
    let config = modelmux_core::records::StoreConfig::sqlite(dir.path().join("nested"));
    let store = modelmux_core::records::open(&config, &modelmux_core::Tasks::new())
        .await
        .unwrap();
    assert_eq!(store.kind(), "sqlite");
    store.write(&[record("w-1")]).await.unwrap();
    let conn = rusqlite::Connection::open(config.sqlite_path()).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}
