//! Feedback rows: one quality signal a client posted (`POST /v1/feedback`) about a request or
//! an episode, owned by the tenant that posted it. They travel the records' way: the
//! record writer's bounded channel, the spill file when the store is down, then a store,
//! where `(tenant, id)` is unique — writing a row whose id is stored replaces it (unless
//! the stored one is newer, so a replayed spill never undoes a later update).
//!
//! Feedback may name a request or episode the store has not seen (yet, or ever): rows are
//! joined to records at query time, within the tenant. A row is an *orphan* while no record
//! of its tenant carries its request id (the gateway's, or the client's own
//! `x-modelmux-request-id`) or, for an episode-level row, its episode.
//!
//! This module also holds the SQL both SQL stores run for feedback (the table is the same in
//! SQLite and PostgreSQL: `feedback`, with indexes on (tenant, request_id),
//! (tenant, episode_id) and (metric, time_ms)).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::postgres::{PostgresStore, query_err as pg_err};
use super::sqlite::query_err as sqlite_err;
use super::store::StoreError;

/// One feedback row as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// The tenant that posted it (`Tenant::as_str`).
    pub tenant: String,
    /// The idempotency key: unique per tenant (the client's `id`, or one the gateway made).
    pub id: String,
    /// Exactly one of `request_id` and `episode_id` is set, per the metric's level.
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub episode_id: Option<String>,
    pub metric: String,
    /// Booleans (1 or 0) and floats.
    #[serde(default)]
    pub value_num: Option<f64>,
    /// Categories and comments.
    #[serde(default)]
    pub value_text: Option<String>,
    /// `user`, `human`, `judge` or `code`.
    pub source: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// When the gateway accepted it, unix milliseconds.
    pub time_ms: i64,
}

/// What a feedback listing is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Request(String),
    Episode(String),
}

/// Whether `a` (a newer write of the same id) replaces the stored `b`.
pub(crate) fn replaces(a: &Feedback, b: &Feedback) -> bool {
    a.time_ms >= b.time_ms
}

/// The batch with one row per (tenant, id): the one that wins, as a store would keep it.
pub(crate) fn dedupe(batch: &[Feedback]) -> Vec<&Feedback> {
    let mut at: HashMap<(&str, &str), usize> = HashMap::with_capacity(batch.len());
    let mut out: Vec<&Feedback> = Vec::with_capacity(batch.len());
    for f in batch {
        match at.get(&(f.tenant.as_str(), f.id.as_str())) {
            Some(&i) => {
                if replaces(f, out[i]) {
                    out[i] = f;
                }
            }
            None => {
                at.insert((&f.tenant, &f.id), out.len());
                out.push(f);
            }
        }
    }
    out
}

const COLUMNS: &str = "tenant, id, request_id, episode_id, metric, value_num, value_text, \
                       source, comment, tags, time_ms";

const UPDATE: &str = "request_id = excluded.request_id, episode_id = excluded.episode_id, \
    metric = excluded.metric, value_num = excluded.value_num, value_text = excluded.value_text, \
    source = excluded.source, comment = excluded.comment, tags = excluded.tags, \
    time_ms = excluded.time_ms";

/// The SQLite migration step that adds the table.
pub(crate) const SQLITE_MIGRATION: &str = "CREATE TABLE IF NOT EXISTS feedback (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        request_id TEXT,
        episode_id TEXT,
        metric TEXT NOT NULL,
        value_num REAL,
        value_text TEXT,
        source TEXT NOT NULL,
        comment TEXT,
        tags TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX IF NOT EXISTS feedback_request ON feedback (tenant, request_id);
    CREATE INDEX IF NOT EXISTS feedback_episode ON feedback (tenant, episode_id);
    CREATE INDEX IF NOT EXISTS feedback_metric_time ON feedback (metric, time_ms);";

/// The PostgreSQL migration step (`{s}` is the schema prefix).
pub(crate) const POSTGRES_MIGRATION: &str = "CREATE TABLE IF NOT EXISTS {s}feedback (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        request_id TEXT,
        episode_id TEXT,
        metric TEXT NOT NULL,
        value_num DOUBLE PRECISION,
        value_text TEXT,
        source TEXT NOT NULL,
        comment TEXT,
        tags TEXT NOT NULL,
        time_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX IF NOT EXISTS feedback_request ON {s}feedback (tenant, request_id);
    CREATE INDEX IF NOT EXISTS feedback_episode ON {s}feedback (tenant, episode_id);
    CREATE INDEX IF NOT EXISTS feedback_metric_time ON {s}feedback (metric, time_ms);";

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

fn tags_of(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("feedback tags: {e}")))
}

fn subject_sql(s: &Subject) -> (&'static str, &str) {
    match s {
        Subject::Request(id) => ("request_id", id),
        Subject::Episode(id) => ("episode_id", id),
    }
}

/// Orphans of `tenant` in `{fb}` against `{records}`, with `{p1}` the tenant parameter.
fn orphans_sql(fb: &str, records: &str, p1: &str) -> String {
    format!(
        "SELECT COUNT(*) FROM {fb} f WHERE f.tenant = {p1} \
         AND NOT EXISTS (SELECT 1 FROM {records} r WHERE r.tenant = f.tenant AND ( \
           (f.request_id IS NOT NULL \
            AND (r.request_id = f.request_id OR r.client_request_id = f.request_id)) \
           OR (f.episode_id IS NOT NULL AND r.episode_id = f.episode_id)))"
    )
}

// --- SQLite ---------------------------------------------------------------------------

pub(crate) fn sqlite_write(
    conn: &mut rusqlite::Connection,
    batch: &[Feedback],
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO feedback ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         ON CONFLICT (tenant, id) DO UPDATE SET {UPDATE} WHERE excluded.time_ms >= feedback.time_ms"
    );
    let tx = conn.transaction().map_err(sqlite_err)?;
    {
        let mut stmt = tx.prepare_cached(&sql).map_err(sqlite_err)?;
        for f in batch {
            stmt.execute(rusqlite::params![
                f.tenant,
                f.id,
                f.request_id,
                f.episode_id,
                f.metric,
                f.value_num,
                f.value_text,
                f.source,
                f.comment,
                tags_json(&f.tags),
                f.time_ms,
            ])
            .map_err(sqlite_err)?;
        }
    }
    tx.commit().map_err(sqlite_err)
}

pub(crate) fn sqlite_list(
    conn: &mut rusqlite::Connection,
    tenant: &str,
    about: &Subject,
) -> Result<Vec<Feedback>, StoreError> {
    let (column, id) = subject_sql(about);
    let sql = format!(
        "SELECT {COLUMNS} FROM feedback WHERE tenant = ?1 AND {column} = ?2 ORDER BY time_ms, id"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(sqlite_err)?;
    let rows = stmt
        .query_map([tenant, id], |r| {
            Ok((
                Feedback {
                    tenant: r.get(0)?,
                    id: r.get(1)?,
                    request_id: r.get(2)?,
                    episode_id: r.get(3)?,
                    metric: r.get(4)?,
                    value_num: r.get(5)?,
                    value_text: r.get(6)?,
                    source: r.get(7)?,
                    comment: r.get(8)?,
                    tags: Vec::new(),
                    time_ms: r.get(10)?,
                },
                r.get::<_, String>(9)?,
            ))
        })
        .map_err(sqlite_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (mut f, tags) = row.map_err(sqlite_err)?;
        f.tags = tags_of(&tags)?;
        out.push(f);
    }
    Ok(out)
}

pub(crate) fn sqlite_orphans(
    conn: &mut rusqlite::Connection,
    tenant: &str,
) -> Result<u64, StoreError> {
    conn.query_row(&orphans_sql("feedback", "records", "?1"), [tenant], |r| {
        r.get::<_, i64>(0)
    })
    .map(super::columns::unsigned)
    .map_err(sqlite_err)
}

// --- PostgreSQL -----------------------------------------------------------------------

pub(crate) async fn postgres_write(
    store: &PostgresStore,
    batch: &[Feedback],
) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    // One statement (atomic, one round trip); an upsert may not touch a row twice, so the
    // batch is reduced to one row per id first.
    let rows = dedupe(batch);
    let col = |f: fn(&Feedback) -> Option<&str>| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    let tenant = col(|r| Some(&r.tenant));
    let id = col(|r| Some(&r.id));
    let request_id = col(|r| r.request_id.as_deref());
    let episode_id = col(|r| r.episode_id.as_deref());
    let metric = col(|r| Some(&r.metric));
    let value_text = col(|r| r.value_text.as_deref());
    let source = col(|r| Some(&r.source));
    let comment = col(|r| r.comment.as_deref());
    let value_num: Vec<Option<f64>> = rows.iter().map(|r| r.value_num).collect();
    let tags: Vec<String> = rows.iter().map(|r| tags_json(&r.tags)).collect();
    let time_ms: Vec<i64> = rows.iter().map(|r| r.time_ms).collect();
    let fb = format!("{}feedback", store.prefix());
    let sql = format!(
        "INSERT INTO {fb} AS f ({COLUMNS}) SELECT * FROM UNNEST($1::text[], $2::text[], \
         $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::text[], $9::text[], \
         $10::text[], $11::int8[]) AS u({COLUMNS}) \
         ON CONFLICT (tenant, id) DO UPDATE SET {UPDATE} WHERE excluded.time_ms >= f.time_ms"
    );
    let client = store.client().await?;
    client
        .execute(
            &sql,
            &[
                &tenant,
                &id,
                &request_id,
                &episode_id,
                &metric,
                &value_num,
                &value_text,
                &source,
                &comment,
                &tags,
                &time_ms,
            ],
        )
        .await
        .map_err(pg_err)?;
    Ok(())
}

pub(crate) async fn postgres_list(
    store: &PostgresStore,
    tenant: &str,
    about: &Subject,
) -> Result<Vec<Feedback>, StoreError> {
    let (column, id) = subject_sql(about);
    let sql = format!(
        "SELECT {COLUMNS} FROM {}feedback WHERE tenant = $1 AND {column} = $2 ORDER BY time_ms, id",
        store.prefix()
    );
    let client = store.client().await?;
    let rows = client.query(&sql, &[&tenant, &id]).await.map_err(pg_err)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let tags: String = r.try_get(9).map_err(pg_err)?;
        out.push(Feedback {
            tenant: r.try_get(0).map_err(pg_err)?,
            id: r.try_get(1).map_err(pg_err)?,
            request_id: r.try_get(2).map_err(pg_err)?,
            episode_id: r.try_get(3).map_err(pg_err)?,
            metric: r.try_get(4).map_err(pg_err)?,
            value_num: r.try_get(5).map_err(pg_err)?,
            value_text: r.try_get(6).map_err(pg_err)?,
            source: r.try_get(7).map_err(pg_err)?,
            comment: r.try_get(8).map_err(pg_err)?,
            tags: tags_of(&tags)?,
            time_ms: r.try_get(10).map_err(pg_err)?,
        });
    }
    Ok(out)
}

pub(crate) async fn postgres_orphans(
    store: &PostgresStore,
    tenant: &str,
) -> Result<u64, StoreError> {
    let sql = orphans_sql(&format!("{}feedback", store.prefix()), store.table(), "$1");
    let client = store.client().await?;
    let row = client.query_one(&sql, &[&tenant]).await.map_err(pg_err)?;
    Ok(super::columns::unsigned(row.try_get(0).map_err(pg_err)?))
}
