//! The durable side of stored Responses: the [`ResponseBackend`] trait the record store's
//! backends implement (SQLite and PostgreSQL in their own files, the in-process
//! [`MemoryBackend`] here), and the row they keep. A row carries its owner and its expiry
//! as columns, so every read and delete filters by both in the store itself: a response
//! another owner stored, or one past its retention, is simply not there.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::records::StoreFuture;

/// One stored response as the backends keep it: the Response object and its input items
/// as JSON text, with the owner and the times (unix milliseconds, wall clock, so every
/// instance agrees on expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRow {
    pub id: String,
    pub owner: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    /// The Response object, JSON.
    pub response: String,
    /// The full input (earlier turns included), a JSON array.
    pub input_items: String,
}

/// Where stored responses are kept durably. Every method is async and never blocks the
/// runtime; `now_ms` is passed in so callers (and tests) own the clock.
pub trait ResponseBackend: Send + Sync {
    /// Stores a row. An existing row with the same id is replaced only when it has the same
    /// owner (a provider-issued id never moves a response to another owner).
    fn put<'a>(&'a self, row: &'a ResponseRow) -> StoreFuture<'a, ()>;

    /// The row with this id if `owner` stored it and it expires after `now_ms`.
    fn get<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<ResponseRow>>;

    /// Whether `get` would find the row, without fetching its content (the cache's
    /// re-validation of a hit).
    fn exists<'a>(&'a self, id: &'a str, owner: &'a str, now_ms: i64) -> StoreFuture<'a, bool>;

    /// Deletes the row if `owner` stored it and it has not expired; whether it did.
    fn delete<'a>(&'a self, id: &'a str, owner: &'a str, now_ms: i64) -> StoreFuture<'a, bool>;

    /// Deletes every row that expired at or before `now_ms`; how many.
    fn purge(&self, now_ms: i64) -> StoreFuture<'_, u64>;
}

/// `[store] kind = "memory"`: rows in a map, gone at exit.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    rows: Mutex<HashMap<String, ResponseRow>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, ResponseRow>) -> T) -> T {
        f(&mut self.rows.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn live<'r>(row: Option<&'r ResponseRow>, owner: &str, now_ms: i64) -> Option<&'r ResponseRow> {
    row.filter(|r| r.owner == owner && r.expires_ms > now_ms)
}

impl ResponseBackend for MemoryBackend {
    fn put<'a>(&'a self, row: &'a ResponseRow) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.with(|m| match m.get(&row.id) {
                Some(old) if old.owner != row.owner => {}
                _ => {
                    m.insert(row.id.clone(), row.clone());
                }
            });
            Ok(())
        })
    }

    fn get<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<ResponseRow>> {
        Box::pin(async move { Ok(self.with(|m| live(m.get(id), owner, now_ms).cloned())) })
    }

    fn exists<'a>(&'a self, id: &'a str, owner: &'a str, now_ms: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.with(|m| live(m.get(id), owner, now_ms).is_some())) })
    }

    fn delete<'a>(&'a self, id: &'a str, owner: &'a str, now_ms: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            Ok(self.with(|m| {
                let found = live(m.get(id), owner, now_ms).is_some();
                if found {
                    m.remove(id);
                }
                found
            }))
        })
    }

    fn purge(&self, now_ms: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            Ok(self.with(|m| {
                let before = m.len();
                m.retain(|_, r| r.expires_ms > now_ms);
                (before - m.len()) as u64
            }))
        })
    }
}
