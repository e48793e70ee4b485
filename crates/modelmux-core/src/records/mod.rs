//! Records: one per request that reached the gateway, with every attempt, the decision,
//! tokens and cost; written off the hot path by a batch writer into a store (SQLite by
//! default, PostgreSQL at scale), spilling to a local file when the store is down.
//!
//! The request path builds a [`Record`] and calls [`RecordSink::send`], which never blocks.
//! [`RecordWriter`] batches records into the [`Store`] opened by [`open`] from `[store]`;
//! [`Store::report`] answers `modelmux report`. Prompt and answer are captured only on the
//! routes listed in `[store] capture` ([`StoreConfig::captures`]); the writer redacts them
//! ([`redact`]) before they reach a disk.
//!
//! Wiring, in order: `let store = records::open(&config.store, &tasks).await?;` at start
//! (migrates; the gateway uses [`open_shared`], which also hands the same store out as
//! the backend of stored Responses), `let (writer, sink) = RecordWriter::start(store, &config.store, &tasks);`
//! inside the runtime (both on the gateway's `Tasks`), the
//! sink cloned into the state and one `sink.send(record)` per request once its answer (or
//! stream) has ended, and `writer.shutdown().await` after the server has drained.

pub mod client_ids;
mod columns;
pub mod feedback;
/// The `[store]` section, owned by `config` (`config::store`); kept here under its old path.
pub use crate::config::store as config;
pub mod memory;
pub mod postgres;
pub mod record;
pub mod redact;
pub mod report;
mod spill;
pub mod sqlite;
pub mod store;
pub mod writer;

use std::sync::Arc;

use crate::responses_store::ResponseBackend;
use crate::tasks::Tasks;

pub use config::{StoreConfig, StoreKind};
pub use feedback::{Feedback, Subject};
pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub use record::{AttemptRecord, Capture, Record, StreamOutcome, Tokens};
pub use redact::redact;
pub use report::{GroupBy, OutcomeRow, ReportRow};
pub use sqlite::SqliteStore;
pub use store::{Store, StoreError, StoreFuture};
pub use writer::{FeedbackLost, RecordSink, RecordStats, RecordWriter};

/// Opens the configured store and applies its migrations; a PostgreSQL store runs its
/// connections' drivers on `tasks`.
pub async fn open(config: &StoreConfig, tasks: &Tasks) -> Result<Arc<dyn Store>, StoreError> {
    Ok(open_shared(config, tasks).await?.0)
}

/// Opens the configured store (migrated) both as the record store and as the backend of
/// stored Responses (`crate::responses_store`): one connection for both.
pub async fn open_shared(
    config: &StoreConfig,
    tasks: &Tasks,
) -> Result<(Arc<dyn Store>, Arc<dyn ResponseBackend>), StoreError> {
    let (store, responses): (Arc<dyn Store>, Arc<dyn ResponseBackend>) = match config.kind {
        StoreKind::Memory => (
            Arc::new(MemoryStore::new()),
            Arc::new(crate::responses_store::MemoryBackend::new()),
        ),
        StoreKind::Sqlite => {
            let s = Arc::new(SqliteStore::open(&config.sqlite_path()).await?);
            (s.clone(), s)
        }
        StoreKind::Postgres => {
            let url = config.url.as_ref().ok_or_else(|| {
                StoreError::Config("kind = \"postgres\" needs url or DATABASE_URL".into())
            })?;
            let s = Arc::new(
                PostgresStore::new(url.expose(), config.schema.as_deref())?.with_tasks(tasks),
            );
            (s.clone(), s)
        }
    };
    store.migrate().await?;
    Ok((store, responses))
}
