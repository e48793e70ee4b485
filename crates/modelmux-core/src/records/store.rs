//! The `Store` trait every backend implements (SQLite, PostgreSQL, memory), its error type,
//! and the boxed-future shim that lets the writer and the gateway hold an `Arc<dyn Store>`.
//! Writes are idempotent by request id: a batch written twice (a replayed spill, a write that
//! timed out after it committed) stores each record once; feedback is idempotent by
//! (tenant, id).

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use super::feedback::{Feedback, Subject};
use super::record::Record;
use super::report::{GroupBy, OutcomeRow, ReportRow};
use crate::outcomes::FeedbackValue;

/// What a store method returns: a boxed, `Send` future, so `dyn Store` works.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A place records are kept.
pub trait Store: Send + Sync {
    /// `sqlite`, `postgres` or `memory`.
    fn kind(&self) -> &'static str;

    /// Creates or upgrades the schema; safe to run any number of times.
    fn migrate(&self) -> StoreFuture<'_, ()>;

    /// Writes a batch in one transaction; records whose request id is already stored are
    /// skipped.
    fn write<'a>(&'a self, batch: &'a [Record]) -> StoreFuture<'a, ()>;

    /// Aggregates of the records since `since`, one row per group, busiest first.
    fn report(&self, by: GroupBy, since: SystemTime) -> StoreFuture<'_, Vec<ReportRow>>;

    /// What each record since `since` contributes to an outcomes report (`crate::outcomes`),
    /// grouped by `by`, with the fields a report filter reads: one query over a few columns.
    fn outcome_rows(&self, by: GroupBy, since: SystemTime) -> StoreFuture<'_, Vec<OutcomeRow>>;

    /// Every feedback value accepted since `since` (booleans as 0 or 1; categories and
    /// comments with no value), of every tenant: one query.
    fn feedback_values(&self, since: SystemTime) -> StoreFuture<'_, Vec<FeedbackValue>>;

    /// How many records are stored.
    fn count(&self) -> StoreFuture<'_, u64>;

    /// One record by request id, as it was written.
    fn get<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<Record>>;

    /// Whether a record of `tenant` carries the client request id `id` (an indexed lookup).
    fn has_client_request_id<'a>(&'a self, tenant: &'a str, id: &'a str) -> StoreFuture<'a, bool>;

    /// Writes feedback rows in one transaction: a row whose (tenant, id) is stored replaces
    /// it, unless the stored row is newer (`time_ms`), so a replayed batch changes nothing.
    fn write_feedback<'a>(&'a self, batch: &'a [Feedback]) -> StoreFuture<'a, ()>;

    /// The tenant's feedback about one request or one episode, oldest first.
    fn feedback<'a>(
        &'a self,
        tenant: &'a str,
        about: &'a Subject,
    ) -> StoreFuture<'a, Vec<Feedback>>;

    /// How many of the tenant's request-level feedback rows name a request id no record of
    /// the tenant has (yet).
    fn feedback_orphans<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, u64>;
}

/// Why a store call failed. Every variant is the gateway's side (never the client's); the
/// writer treats all of them alike: the batch goes to the spill file and is replayed later.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or opened.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("store query failed: {0}")]
    Query(String),
    /// A stored record does not decode.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// The `[store]` config cannot open a store.
    #[error("store config: {0}")]
    Config(String),
    /// Reading or writing a local file (data directory, spill).
    #[error("store file: {0}")]
    Io(#[from] std::io::Error),
    /// The call took longer than `write_timeout`.
    #[error("store call timed out")]
    Timeout,
}

impl StoreError {
    /// Whether trying again later may succeed (all but config and corrupt data).
    pub fn retryable(&self) -> bool {
        !matches!(self, Self::Config(_) | Self::Corrupt(_))
    }
}
