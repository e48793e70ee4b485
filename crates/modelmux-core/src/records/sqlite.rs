//! The embedded SQLite store (the default): one file, `records.sqlite` in the data
//! directory, in WAL mode so `modelmux report` can read while the gateway writes. rusqlite is
//! synchronous, so every call runs on tokio's blocking pool and never on a runtime worker.
//! Migrations are numbered statements tracked in `PRAGMA user_version`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OptionalExtension, params};

use super::columns::{self, NAMES, Row};
use super::feedback::{self, Feedback, Subject};
use super::record::{Record, to_unix_ms};
use super::report::{GroupBy, OutcomeRow, ReportRow, Sample, aggregate};
use super::store::{Store, StoreError, StoreFuture};
use crate::outcomes::{FeedbackValue, RequestRow};

/// Schema steps, applied in order; step `i` brings `user_version` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS records (
        request_id TEXT PRIMARY KEY NOT NULL,
        time_ms INTEGER NOT NULL,
        key_id TEXT,
        team TEXT,
        client_format TEXT NOT NULL,
        route TEXT NOT NULL,
        rule TEXT,
        target TEXT,
        status INTEGER,
        error TEXT,
        failed INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        latency_ms INTEGER NOT NULL,
        ttft_ms INTEGER,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_usd REAL,
        catalog_version TEXT,
        stream_completed INTEGER,
        body TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS records_time ON records (time_ms);",
    // Stored Responses (`crate::responses_store`): owner and expiry are columns.
    "CREATE TABLE IF NOT EXISTS responses (
        id TEXT PRIMARY KEY NOT NULL,
        owner TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        response TEXT NOT NULL,
        input_items TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS responses_expires ON responses (expires_ms);",
    // Episodes and client request ids (`crate::episode`). The client id index is not
    // unique: the gateway refuses a duplicate before it answers, and a record is never
    // dropped for one that raced past it on another instance.
    "ALTER TABLE records ADD COLUMN tenant TEXT;
    ALTER TABLE records ADD COLUMN episode_id TEXT;
    ALTER TABLE records ADD COLUMN episode_turn INTEGER;
    ALTER TABLE records ADD COLUMN client_request_id TEXT;
    CREATE INDEX IF NOT EXISTS records_episode ON records (episode_id);
    CREATE INDEX IF NOT EXISTS records_client_request_id
        ON records (tenant, client_request_id);",
    // Feedback (`records::feedback`).
    super::feedback::SQLITE_MIGRATION,
    // The classified intent, for reports by intent (`GroupBy::Intent`).
    "ALTER TABLE records ADD COLUMN intent TEXT;",
];

pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

pub(crate) fn query_err(e: rusqlite::Error) -> StoreError {
    StoreError::Query(e.to_string())
}

impl SqliteStore {
    /// Opens (creating) the database file and its directory. Does not migrate.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_owned();
        let p = path.clone();
        let conn = blocking(move || {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let conn = Connection::open(&p).map_err(|e| {
                StoreError::Unavailable(format!("cannot open {}: {e}", p.display()))
            })?;
            conn.busy_timeout(Duration::from_secs(5))
                .map_err(query_err)?;
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(query_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(file = %p.display(), mode, "SQLite did not switch to WAL mode");
            }
            // Checkpoints copy the WAL into the database in one go; 256 pages (1 MiB) at
            // a time keeps each one short.
            conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 256;")
                .map_err(query_err)?;
            Ok(conn)
        })
        .await?;
        Ok(Self {
            path,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection, on tokio's blocking pool.
    pub(crate) async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Unavailable(format!("SQLite task failed: {e}")))?
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(query_err)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(query_err)?;
    let done = usize::try_from(version).unwrap_or(0);
    for (i, step) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.execute_batch(step).map_err(query_err)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(query_err)?;
    }
    tx.commit().map_err(query_err)
}

fn insert(conn: &mut Connection, rows: &[Row<'_>]) -> Result<(), StoreError> {
    let placeholders: Vec<String> = (1..=NAMES.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT OR IGNORE INTO records ({}) VALUES ({})",
        NAMES.join(", "),
        placeholders.join(", ")
    );
    let tx = conn.transaction().map_err(query_err)?;
    {
        let mut stmt = tx.prepare_cached(&sql).map_err(query_err)?;
        for r in rows {
            stmt.execute(params![
                r.request_id,
                r.time_ms,
                r.key_id,
                r.team,
                r.client_format,
                r.route,
                r.rule,
                r.target,
                r.status,
                r.error,
                r.failed,
                r.attempts,
                r.latency_ms,
                r.ttft_ms,
                r.input_tokens,
                r.output_tokens,
                r.cache_read_tokens,
                r.cache_write_tokens,
                r.reasoning_tokens,
                r.cost_usd,
                r.catalog_version,
                r.stream_completed,
                r.body,
                r.tenant,
                r.episode_id,
                r.episode_turn,
                r.client_request_id,
                r.intent,
            ])
            .map_err(query_err)?;
            // Let a woken request-path thread have the core between rows: where the two
            // share a core, a whole batch at once held requests up for its full length.
            std::thread::yield_now();
        }
    }
    tx.commit().map_err(query_err)
}

impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn migrate(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.with(migrate))
    }

    fn write<'a>(&'a self, batch: &'a [Record]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if batch.is_empty() {
                return Ok(());
            }
            // Serialise on this side: the blocking task needs owned data.
            let owned: Vec<Record> = batch.to_vec();
            self.with(move |conn| {
                let rows = owned.iter().map(Row::of).collect::<Result<Vec<_>, _>>()?;
                insert(conn, &rows)
            })
            .await
        })
    }

    fn report(&self, by: GroupBy, since: SystemTime) -> StoreFuture<'_, Vec<ReportRow>> {
        let since = to_unix_ms(since);
        Box::pin(async move {
            let samples = self
                .with(move |conn| {
                    let sql = columns::sample_query("records", by.column(), "?1");
                    let mut stmt = conn.prepare_cached(&sql).map_err(query_err)?;
                    let rows = stmt
                        .query_map([since], |r| {
                            Ok(Sample {
                                group: r.get(0)?,
                                latency_ms: columns::unsigned(r.get(1)?),
                                ttft_ms: r.get::<_, Option<i64>>(2)?.map(columns::unsigned),
                                failed: r.get(3)?,
                                attempts: u32::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                                cost_usd: r.get(5)?,
                            })
                        })
                        .map_err(query_err)?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
                })
                .await?;
            Ok(aggregate(samples))
        })
    }

    fn outcome_rows(&self, by: GroupBy, since: SystemTime) -> StoreFuture<'_, Vec<OutcomeRow>> {
        let since = to_unix_ms(since);
        Box::pin(self.with(move |conn| {
            let sql = columns::outcome_query("records", by.column(), "?1");
            let mut stmt = conn.prepare_cached(&sql).map_err(query_err)?;
            let rows = stmt
                .query_map([since], |r| {
                    Ok(OutcomeRow {
                        row: RequestRow {
                            tenant: r.get(0)?,
                            request_id: r.get(1)?,
                            group: r.get(2)?,
                            episode: r.get(3)?,
                            latency_ms: columns::unsigned(r.get(4)?),
                            ttft_ms: r.get::<_, Option<i64>>(5)?.map(columns::unsigned),
                            failed: r.get(6)?,
                            attempts: u32::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                            cost_usd: r.get(8)?,
                        },
                        route: r.get(9)?,
                        target: r.get(10)?,
                        rule: r.get(11)?,
                        key: r.get(12)?,
                        team: r.get(13)?,
                        status: r
                            .get::<_, Option<i64>>(14)?
                            .and_then(|s| u16::try_from(s).ok()),
                        error: r.get(15)?,
                        stream: r.get::<_, Option<bool>>(16)?.is_some(),
                    })
                })
                .map_err(query_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
        }))
    }

    fn feedback_values(&self, since: SystemTime) -> StoreFuture<'_, Vec<FeedbackValue>> {
        let since = to_unix_ms(since);
        Box::pin(self.with(move |conn| {
            let sql = columns::feedback_value_query("feedback", "?1");
            let mut stmt = conn.prepare_cached(&sql).map_err(query_err)?;
            let rows = stmt
                .query_map([since], |r| {
                    Ok(FeedbackValue {
                        tenant: r.get(0)?,
                        request_id: r.get(1)?,
                        episode_id: r.get(2)?,
                        metric: r.get(3)?,
                        value: r.get(4)?,
                        time_ms: r.get(5)?,
                    })
                })
                .map_err(query_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
        }))
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        Box::pin(self.with(|conn| {
            conn.query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))
                .map(columns::unsigned)
                .map_err(query_err)
        }))
    }

    fn get<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<Record>> {
        let id = request_id.to_owned();
        Box::pin(self.with(move |conn| {
            let body: Option<String> = conn
                .query_row(
                    "SELECT body FROM records WHERE request_id = ?1",
                    [&id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(query_err)?;
            body.as_deref().map(columns::decode).transpose()
        }))
    }

    fn has_client_request_id<'a>(&'a self, tenant: &'a str, id: &'a str) -> StoreFuture<'a, bool> {
        let (tenant, id) = (tenant.to_owned(), id.to_owned());
        Box::pin(self.with(move |conn| {
            conn.query_row(
                "SELECT 1 FROM records WHERE tenant = ?1 AND client_request_id = ?2 LIMIT 1",
                [&tenant, &id],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(query_err)
        }))
    }

    fn write_feedback<'a>(&'a self, batch: &'a [Feedback]) -> StoreFuture<'a, ()> {
        let owned = batch.to_vec();
        Box::pin(self.with(move |conn| feedback::sqlite_write(conn, &owned)))
    }

    fn feedback<'a>(
        &'a self,
        tenant: &'a str,
        about: &'a Subject,
    ) -> StoreFuture<'a, Vec<Feedback>> {
        let (tenant, about) = (tenant.to_owned(), about.clone());
        Box::pin(self.with(move |conn| feedback::sqlite_list(conn, &tenant, &about)))
    }

    fn feedback_orphans<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, u64> {
        let tenant = tenant.to_owned();
        Box::pin(self.with(move |conn| feedback::sqlite_orphans(conn, &tenant)))
    }
}
