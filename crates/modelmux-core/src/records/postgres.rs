//! The PostgreSQL store, for several gateway instances writing to one place. One pipelined
//! connection (tokio-postgres) is shared by every call and reopened when it drops; a batch
//! is one `INSERT ... SELECT FROM UNNEST(...)` statement, so it is atomic and one round trip;
//! a row whose request id is already stored is skipped (a replayed batch).
//! Migrations run on their own connection inside a transaction under an advisory lock, so
//! instances starting together apply each step once. `[store] schema` puts the tables in a
//! schema of their own (tests use one per run).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio_postgres::{Client, NoTls};

use super::columns::{self, NAMES, Row};
use super::feedback::{self, Feedback, Subject};
use super::record::{Record, to_unix_ms};
use super::report::{GroupBy, OutcomeRow, ReportRow, Sample, aggregate};
use super::store::{Store, StoreError, StoreFuture};
use crate::outcomes::{FeedbackValue, RequestRow};
use crate::tasks::Tasks;

/// Schema steps; `{t}` is the records table, `{s}` the schema prefix (`name.` or empty).
/// Append only: step `i` is migration version `i + 1`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS {t} (
        request_id TEXT PRIMARY KEY,
        time_ms BIGINT NOT NULL,
        key_id TEXT,
        team TEXT,
        client_format TEXT NOT NULL,
        route TEXT NOT NULL,
        rule TEXT,
        target TEXT,
        status INTEGER,
        error TEXT,
        failed BOOLEAN NOT NULL,
        attempts INTEGER NOT NULL,
        latency_ms BIGINT NOT NULL,
        ttft_ms BIGINT,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        reasoning_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION,
        catalog_version TEXT,
        stream_completed BOOLEAN,
        body JSONB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS records_time ON {t} (time_ms);",
    // Stored Responses (`crate::responses_store`): owner and expiry are columns.
    "CREATE TABLE IF NOT EXISTS {s}responses (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL,
        response TEXT NOT NULL,
        input_items TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS responses_expires ON {s}responses (expires_ms);",
    // Episodes and client request ids (`crate::episode`). The client id index is not
    // unique: the gateway refuses a duplicate before it answers, and a record is never
    // dropped for one that raced past it on another instance.
    "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS tenant TEXT;
    ALTER TABLE {t} ADD COLUMN IF NOT EXISTS episode_id TEXT;
    ALTER TABLE {t} ADD COLUMN IF NOT EXISTS episode_turn INTEGER;
    ALTER TABLE {t} ADD COLUMN IF NOT EXISTS client_request_id TEXT;
    CREATE INDEX IF NOT EXISTS records_episode ON {t} (episode_id);
    CREATE INDEX IF NOT EXISTS records_client_request_id
        ON {t} (tenant, client_request_id);",
    // Feedback (`records::feedback`).
    super::feedback::POSTGRES_MIGRATION,
    // The classified intent, for reports by intent (`GroupBy::Intent`).
    "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS intent TEXT;",
];

/// How long a connection keeps being driven after shutdown has begun.
const SHUTDOWN_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Any constant: the advisory lock key that serialises migrations across instances.
const MIGRATION_LOCK: i64 = 0x006d_6d78_5f72_6563;

/// The Postgres type of each column in `columns::NAMES` order, for the UNNEST arrays.
const ARRAY_TYPES: [&str; 28] = [
    "text", "int8", "text", "text", "text", "text", "text", "text", "int4", "text", "bool", "int4",
    "int8", "int8", "int8", "int8", "int8", "int8", "int8", "float8", "text", "bool", "text",
    "text", "text", "int4", "text", "text",
];

pub struct PostgresStore {
    config: tokio_postgres::Config,
    /// `schema.` or empty.
    prefix: String,
    schema: Option<String>,
    table: String,
    insert_sql: String,
    client: Mutex<Option<Arc<Client>>>,
    /// Where each connection's driver runs (a `spawn_last` task: it ends when its client
    /// is dropped, or shortly after shutdown stops the last tasks).
    tasks: Tasks,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// The error with its causes (tokio-postgres puts "connection refused" in the source).
fn chain(e: &tokio_postgres::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

pub(crate) fn query_err(e: tokio_postgres::Error) -> StoreError {
    if e.is_closed() {
        StoreError::Unavailable(chain(&e))
    } else {
        // The server's message carries the detail; Display alone says only "db error".
        match e.as_db_error() {
            Some(db) => StoreError::Query(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Query(chain(&e)),
        }
    }
}

impl PostgresStore {
    /// Parses the connection string; connects lazily on first use. `schema` must be a plain
    /// identifier (the config validates it).
    pub fn new(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL url: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("modelmux");
        }
        if let Some(s) = schema
            && !super::config::valid_identifier(s)
        {
            return Err(StoreError::Config(format!(
                "schema {s:?} is not a plain identifier"
            )));
        }
        let prefix = schema.map(|s| format!("{s}.")).unwrap_or_default();
        let table = format!("{prefix}records");
        let casts: Vec<String> = ARRAY_TYPES
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}[]", i + 1))
            .collect();
        let select: Vec<String> = NAMES
            .iter()
            .map(|n| {
                if *n == "body" {
                    "body::jsonb".to_owned()
                } else {
                    (*n).to_owned()
                }
            })
            .collect();
        let insert_sql = format!(
            "INSERT INTO {table} ({cols}) SELECT {select} FROM UNNEST({casts}) AS u({cols}) \
             ON CONFLICT (request_id) DO NOTHING",
            cols = NAMES.join(", "),
            select = select.join(", "),
            casts = casts.join(", "),
        );
        Ok(Self {
            config,
            prefix,
            schema: schema.map(str::to_owned),
            table,
            insert_sql,
            client: Mutex::new(None),
            tasks: Tasks::new(),
        })
    }

    /// `schema.` when a schema is set, else empty: what table names are prefixed with.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Runs the connections' drivers on `tasks` (the gateway's) rather than on a tracker of
    /// the store's own.
    pub fn with_tasks(mut self, tasks: &Tasks) -> Self {
        self.tasks = tasks.clone();
        self
    }

    /// The records table, schema-qualified when a schema is set.
    pub fn table(&self) -> &str {
        &self.table
    }

    async fn connect(&self) -> Result<Client, StoreError> {
        let (client, connection) =
            self.config.connect(NoTls).await.map_err(|e| {
                StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}"))
            })?;
        self.tasks
            .spawn_last("postgres connection", |stop| async move {
                let mut connection = std::pin::pin!(connection);
                tokio::select! {
                    ended = &mut connection => {
                        if let Err(e) = ended {
                            tracing::warn!("PostgreSQL connection closed: {e}");
                        }
                        return;
                    }
                    () = stop.cancelled() => {}
                }
                // Shutting down: the client may live on in shared state (stored Responses
                // use the same store), so the driver does not wait for it to be dropped.
                // Queries in flight (the record writer's last batch) get a moment to finish.
                let _ = tokio::time::timeout(SHUTDOWN_DRAIN, connection).await;
            });
        Ok(client)
    }

    /// The shared connection, reopened when it has closed.
    pub(crate) async fn client(&self) -> Result<Arc<Client>, StoreError> {
        let current = self
            .client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(c) = current.filter(|c| !c.is_closed()) {
            return Ok(c);
        }
        let fresh = Arc::new(self.connect().await?);
        *self.client.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    async fn migrate_now(&self) -> Result<(), StoreError> {
        let mut client = self.connect().await?;
        let tx = client.transaction().await.map_err(query_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(query_err)?;
        if let Some(s) = &self.schema {
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {s}"))
                .await
                .map_err(query_err)?;
        }
        let versions = format!("{}modelmux_migrations", self.prefix);
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {versions} (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)"
        ))
        .await
        .map_err(query_err)?;
        let done: i32 = tx
            .query_one(
                &format!("SELECT COALESCE(MAX(version), 0) FROM {versions}"),
                &[],
            )
            .await
            .map_err(query_err)?
            .get(0);
        let done = usize::try_from(done).unwrap_or(0);
        let now = to_unix_ms(SystemTime::now());
        for (i, step) in MIGRATIONS.iter().enumerate().skip(done) {
            let sql = step
                .replace("{t}", &self.table)
                .replace("{s}", &self.prefix);
            tx.batch_execute(&sql).await.map_err(query_err)?;
            let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
            tx.execute(
                &format!("INSERT INTO {versions} (version, applied_ms) VALUES ($1, $2)"),
                &[&version, &now],
            )
            .await
            .map_err(query_err)?;
        }
        tx.commit().await.map_err(query_err)
    }

    async fn write_now(&self, batch: &[Record]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let rows = batch.iter().map(Row::of).collect::<Result<Vec<_>, _>>()?;
        macro_rules! col {
            ($f:expr) => {
                rows.iter().map($f).collect::<Vec<_>>()
            };
        }
        let request_id = col!(|r| r.request_id);
        let time_ms = col!(|r| r.time_ms);
        let key_id = col!(|r| r.key_id);
        let team = col!(|r| r.team);
        let client_format = col!(|r| r.client_format);
        let route = col!(|r| r.route);
        let rule = col!(|r| r.rule);
        let target = col!(|r| r.target);
        let status = col!(|r| r.status);
        let error = col!(|r| r.error);
        let failed = col!(|r| r.failed);
        let attempts = col!(|r| r.attempts);
        let latency_ms = col!(|r| r.latency_ms);
        let ttft_ms = col!(|r| r.ttft_ms);
        let input = col!(|r| r.input_tokens);
        let output = col!(|r| r.output_tokens);
        let cache_read = col!(|r| r.cache_read_tokens);
        let cache_write = col!(|r| r.cache_write_tokens);
        let reasoning = col!(|r| r.reasoning_tokens);
        let cost = col!(|r| r.cost_usd);
        let catalog = col!(|r| r.catalog_version);
        let completed = col!(|r| r.stream_completed);
        let body = col!(|r| r.body.as_str());
        let tenant = col!(|r| r.tenant);
        let episode_id = col!(|r| r.episode_id);
        let episode_turn = col!(|r| r.episode_turn);
        let client_request_id = col!(|r| r.client_request_id);
        let intent = col!(|r| r.intent);
        let client = self.client().await?;
        client
            .execute(
                &self.insert_sql,
                &[
                    &request_id,
                    &time_ms,
                    &key_id,
                    &team,
                    &client_format,
                    &route,
                    &rule,
                    &target,
                    &status,
                    &error,
                    &failed,
                    &attempts,
                    &latency_ms,
                    &ttft_ms,
                    &input,
                    &output,
                    &cache_read,
                    &cache_write,
                    &reasoning,
                    &cost,
                    &catalog,
                    &completed,
                    &body,
                    &tenant,
                    &episode_id,
                    &episode_turn,
                    &client_request_id,
                    &intent,
                ],
            )
            .await
            .map_err(query_err)?;
        Ok(())
    }

    async fn report_now(
        &self,
        by: GroupBy,
        since: SystemTime,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let client = self.client().await?;
        let sql = columns::sample_query(&self.table, by.column(), "$1");
        let rows = client
            .query(&sql, &[&to_unix_ms(since)])
            .await
            .map_err(query_err)?;
        let mut samples = Vec::with_capacity(rows.len());
        for r in rows {
            samples.push(Sample {
                group: r.try_get(0).map_err(query_err)?,
                latency_ms: columns::unsigned(r.try_get(1).map_err(query_err)?),
                ttft_ms: r
                    .try_get::<_, Option<i64>>(2)
                    .map_err(query_err)?
                    .map(columns::unsigned),
                failed: r.try_get(3).map_err(query_err)?,
                attempts: u32::try_from(r.try_get::<_, i32>(4).map_err(query_err)?).unwrap_or(0),
                cost_usd: r.try_get(5).map_err(query_err)?,
            });
        }
        Ok(aggregate(samples))
    }
}

impl PostgresStore {
    async fn outcome_rows_now(
        &self,
        by: GroupBy,
        since: SystemTime,
    ) -> Result<Vec<OutcomeRow>, StoreError> {
        let client = self.client().await?;
        let sql = columns::outcome_query(&self.table, by.column(), "$1");
        let rows = client
            .query(&sql, &[&to_unix_ms(since)])
            .await
            .map_err(query_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(OutcomeRow {
                row: RequestRow {
                    tenant: r.try_get(0).map_err(query_err)?,
                    request_id: r.try_get(1).map_err(query_err)?,
                    group: r.try_get(2).map_err(query_err)?,
                    episode: r.try_get(3).map_err(query_err)?,
                    latency_ms: columns::unsigned(r.try_get(4).map_err(query_err)?),
                    ttft_ms: r
                        .try_get::<_, Option<i64>>(5)
                        .map_err(query_err)?
                        .map(columns::unsigned),
                    failed: r.try_get(6).map_err(query_err)?,
                    attempts: u32::try_from(r.try_get::<_, i32>(7).map_err(query_err)?)
                        .unwrap_or(0),
                    cost_usd: r.try_get(8).map_err(query_err)?,
                },
                route: r.try_get(9).map_err(query_err)?,
                target: r.try_get(10).map_err(query_err)?,
                rule: r.try_get(11).map_err(query_err)?,
                key: r.try_get(12).map_err(query_err)?,
                team: r.try_get(13).map_err(query_err)?,
                status: r
                    .try_get::<_, Option<i32>>(14)
                    .map_err(query_err)?
                    .and_then(|s| u16::try_from(s).ok()),
                error: r.try_get(15).map_err(query_err)?,
                stream: r
                    .try_get::<_, Option<bool>>(16)
                    .map_err(query_err)?
                    .is_some(),
            });
        }
        Ok(out)
    }

    async fn feedback_values_now(
        &self,
        since: SystemTime,
    ) -> Result<Vec<FeedbackValue>, StoreError> {
        let client = self.client().await?;
        let sql = columns::feedback_value_query(&format!("{}feedback", self.prefix), "$1");
        let rows = client
            .query(&sql, &[&to_unix_ms(since)])
            .await
            .map_err(query_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(FeedbackValue {
                tenant: r.try_get(0).map_err(query_err)?,
                request_id: r.try_get(1).map_err(query_err)?,
                episode_id: r.try_get(2).map_err(query_err)?,
                metric: r.try_get(3).map_err(query_err)?,
                value: r.try_get(4).map_err(query_err)?,
                time_ms: r.try_get(5).map_err(query_err)?,
            });
        }
        Ok(out)
    }
}

impl Store for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn migrate(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.migrate_now())
    }

    fn write<'a>(&'a self, batch: &'a [Record]) -> StoreFuture<'a, ()> {
        Box::pin(self.write_now(batch))
    }

    fn report(&self, by: GroupBy, since: SystemTime) -> StoreFuture<'_, Vec<ReportRow>> {
        Box::pin(self.report_now(by, since))
    }

    fn outcome_rows(&self, by: GroupBy, since: SystemTime) -> StoreFuture<'_, Vec<OutcomeRow>> {
        Box::pin(self.outcome_rows_now(by, since))
    }

    fn feedback_values(&self, since: SystemTime) -> StoreFuture<'_, Vec<FeedbackValue>> {
        Box::pin(self.feedback_values_now(since))
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_one(&format!("SELECT COUNT(*) FROM {}", self.table), &[])
                .await
                .map_err(query_err)?;
            Ok(columns::unsigned(row.try_get(0).map_err(query_err)?))
        })
    }

    fn get<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<Record>> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &format!(
                        "SELECT body::text FROM {} WHERE request_id = $1",
                        self.table
                    ),
                    &[&request_id],
                )
                .await
                .map_err(query_err)?;
            match row {
                None => Ok(None),
                Some(r) => {
                    let body: String = r.try_get(0).map_err(query_err)?;
                    columns::decode(&body).map(Some)
                }
            }
        })
    }

    fn has_client_request_id<'a>(&'a self, tenant: &'a str, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &format!(
                        "SELECT 1 FROM {} WHERE tenant = $1 AND client_request_id = $2 LIMIT 1",
                        self.table
                    ),
                    &[&tenant, &id],
                )
                .await
                .map_err(query_err)?;
            Ok(row.is_some())
        })
    }

    fn write_feedback<'a>(&'a self, batch: &'a [Feedback]) -> StoreFuture<'a, ()> {
        Box::pin(feedback::postgres_write(self, batch))
    }

    fn feedback<'a>(
        &'a self,
        tenant: &'a str,
        about: &'a Subject,
    ) -> StoreFuture<'a, Vec<Feedback>> {
        Box::pin(feedback::postgres_list(self, tenant, about))
    }

    fn feedback_orphans<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(feedback::postgres_orphans(self, tenant))
    }
}
