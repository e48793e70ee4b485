//! Helpers shared by the `store_*` tests: temporary data directories, sample records, the
//! PostgreSQL store of a test (a schema of its own, dropped at the end, or a printed skip
//! when DATABASE_URL is unset), and `FlakyStore`, a wrapper that fails or hangs on demand.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use modelmux_core::records::{
    AttemptRecord, Feedback, GroupBy, PostgresStore, Record, ReportRow, SqliteStore, Store,
    StoreError, StoreFuture, Subject, Tokens,
};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let mut name = format!("mmx-{tag}-{}-", std::process::id());
        name.extend(std::iter::repeat_with(fastrand::alphanumeric).take(10));
        let p = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A record with a unique id and plausible fields.
pub fn record(id: impl Into<String>) -> Record {
    let mut r = Record::new(id, SystemTime::now());
    // As an open gateway's records are.
    r.tenant = Some("open".into());
    r.client_format = "openai".into();
    r.route = "chat".into();
    r.decision = "route=chat;by=route;strategy=priority;order=a/m".into();
    r.target = Some("a/m".into());
    r.status = Some(200);
    r.latency_ms = 100;
    r.attempts.push(AttemptRecord {
        target: "a/m".into(),
        status: Some(200),
        error: None,
        latency_ms: 100,
        ttft_ms: None,
        hedge: false,
    });
    r.tokens = Tokens {
        input: 10,
        output: 5,
        ..Tokens::default()
    };
    r.cost_usd = Some(0.001);
    r.catalog_version = Some("test".into());
    r
}

pub fn unique_id(prefix: &str) -> String {
    let mut s = format!("{prefix}-");
    s.extend(std::iter::repeat_with(fastrand::alphanumeric).take(16));
    s
}

pub async fn sqlite(dir: &TempDir) -> Arc<SqliteStore> {
    let s = SqliteStore::open(&dir.path().join("records.sqlite"))
        .await
        .unwrap();
    s.migrate().await.unwrap();
    Arc::new(s)
}

/// A PostgreSQL store in a fresh schema, or `None` (with the reason printed) when
/// DATABASE_URL is unset. Call `drop_schema` at the end.
pub async fn postgres(test: &str) -> Option<PgTest> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("SKIPPED {test}: DATABASE_URL is not set (CI sets it to the local PostgreSQL)");
        return None;
    };
    let schema = format!(
        "mmx_test_{}",
        std::iter::repeat_with(fastrand::lowercase)
            .take(12)
            .collect::<String>()
    );
    let store = PostgresStore::new(&url, Some(&schema)).unwrap();
    store.migrate().await.unwrap();
    Some(PgTest {
        store: Arc::new(store),
        url,
        schema,
    })
}

pub struct PgTest {
    pub store: Arc<PostgresStore>,
    pub url: String,
    pub schema: String,
}

impl PgTest {
    /// Another store on the same schema (a second instance, a restart).
    pub fn reopen(&self) -> PostgresStore {
        PostgresStore::new(&self.url, Some(&self.schema)).unwrap()
    }

    /// Drops the test's schema (also done on drop, so a failed test cleans up too).
    pub async fn drop_schema(self) {
        drop(self);
    }
}

impl Drop for PgTest {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread with
        // a runtime of its own.
        let url = self.url.clone();
        let schema = self.schema.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                #[allow(
                    clippy::disallowed_methods,
                    reason = "the test's own connection driver, on a runtime that ends here"
                )]
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                    .unwrap();
            });
        })
        .join();
        if done.is_err() {
            eprintln!("could not drop test schema {}", self.schema);
        }
    }
}

/// What `FlakyStore` does with the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Ok = 0,
    Fail = 1,
    Hang = 2,
}

/// Wraps a store; writes fail, hang, or are slowed down on demand.
pub struct FlakyStore {
    pub inner: Arc<dyn Store>,
    mode: AtomicU8,
    delay_ms: AtomicU64,
    pub writes: AtomicU64,
    pub failures: AtomicU64,
}

impl FlakyStore {
    pub fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            mode: AtomicU8::new(Mode::Ok as u8),
            delay_ms: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    pub fn set(&self, m: Mode) {
        self.mode.store(m as u8, Ordering::SeqCst);
    }

    /// Every write waits this long first.
    pub fn slow(&self, d: Duration) {
        self.delay_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    fn mode(&self) -> Mode {
        match self.mode.load(Ordering::SeqCst) {
            1 => Mode::Fail,
            2 => Mode::Hang,
            _ => Mode::Ok,
        }
    }
}

impl Store for FlakyStore {
    fn kind(&self) -> &'static str {
        "flaky"
    }

    fn migrate(&self) -> StoreFuture<'_, ()> {
        self.inner.migrate()
    }

    fn write<'a>(&'a self, batch: &'a [Record]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let delay = self.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            match self.mode() {
                Mode::Ok => {
                    self.writes.fetch_add(1, Ordering::SeqCst);
                    self.inner.write(batch).await
                }
                Mode::Fail => {
                    self.failures.fetch_add(1, Ordering::SeqCst);
                    Err(StoreError::Unavailable("down on purpose".into()))
                }
                Mode::Hang => {
                    self.failures.fetch_add(1, Ordering::SeqCst);
                    std::future::pending().await
                }
            }
        })
    }

    fn report(&self, by: GroupBy, since: SystemTime) -> StoreFuture<'_, Vec<ReportRow>> {
        self.inner.report(by, since)
    }

    fn outcome_rows(
        &self,
        by: GroupBy,
        since: SystemTime,
    ) -> StoreFuture<'_, Vec<modelmux_core::records::OutcomeRow>> {
        self.inner.outcome_rows(by, since)
    }

    fn feedback_values(
        &self,
        since: SystemTime,
    ) -> StoreFuture<'_, Vec<modelmux_core::outcomes::FeedbackValue>> {
        self.inner.feedback_values(since)
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        self.inner.count()
    }

    fn get<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<Record>> {
        self.inner.get(request_id)
    }

    fn has_client_request_id<'a>(&'a self, tenant: &'a str, id: &'a str) -> StoreFuture<'a, bool> {
        self.inner.has_client_request_id(tenant, id)
    }

    fn write_feedback<'a>(&'a self, batch: &'a [Feedback]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            match self.mode() {
                Mode::Ok => {
                    self.writes.fetch_add(1, Ordering::SeqCst);
                    self.inner.write_feedback(batch).await
                }
                Mode::Fail => {
                    self.failures.fetch_add(1, Ordering::SeqCst);
                    Err(StoreError::Unavailable("down on purpose".into()))
                }
                Mode::Hang => {
                    self.failures.fetch_add(1, Ordering::SeqCst);
                    std::future::pending().await
                }
            }
        })
    }

    fn feedback<'a>(
        &'a self,
        tenant: &'a str,
        about: &'a Subject,
    ) -> StoreFuture<'a, Vec<Feedback>> {
        self.inner.feedback(tenant, about)
    }

    fn feedback_orphans<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, u64> {
        self.inner.feedback_orphans(tenant)
    }
}
