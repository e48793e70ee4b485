//! Stored Responses: what `store: true` Responses API calls leave behind, so that
//! `previous_response_id`, `GET /v1/responses/{id}`, its `input_items` and `DELETE` work
//! whatever the target provider keeps — a continued conversation may land on another target,
//! another gateway instance, or a restarted one.
//!
//! Every stored response has an owner (the caller's `auth::Tenant`: `open`, `master` or
//! `key:<key id>`); only the owner finds it, anyone else gets the same 404 as for a missing
//! id. The ids the gateway issues come from the system CSPRNG ([`new_id`]). Responses are
//! kept in the record store ([`ResponseBackend`], implemented by the SQLite and PostgreSQL
//! record stores on their own connection, and by [`MemoryBackend`]) with the owner and the
//! expiry (`server.responses_retention`) as columns; expired rows are never served and are
//! purged now and then. A bounded [`Cache`] sits in front: a hit the backend holds is
//! re-validated with a cheap existence check (so a delete on another instance shows at
//! once), a hit the backend does not hold yet is served from the cache alone.
//!
//! [`ResponseStore::put`] (JSON answers) returns once the backend has the row, so the next
//! turn may land anywhere; [`ResponseStore::put_in_background`] (streamed answers, from the
//! stream's sync completion callback) caches at once and writes in a background task. A
//! store outage never fails the client's request: it is logged and the cache serves.

mod backend;
mod cache;
mod postgres;
mod sqlite;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::Value;

pub use backend::{MemoryBackend, ResponseBackend, ResponseRow};
pub use cache::{Cache, CacheLimits};

use crate::records::record::to_unix_ms;
use crate::records::{StoreError, StoreFuture};

/// Bytes of randomness in an issued id (128 bits).
const ID_BYTES: usize = 16;

/// A fresh response id: `resp_` and 32 hex digits from the system CSPRNG.
pub fn new_id() -> Result<String, ring::error::Unspecified> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; ID_BYTES];
    ring::rand::SystemRandom::new().fill(&mut bytes)?;
    let mut id = String::with_capacity(5 + 2 * ID_BYTES);
    id.push_str("resp_");
    for b in bytes {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    Ok(id)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// One stored response: the Response object as the client received it and the full input
/// (earlier turns included) that produced it, with its owner and expiry.
#[derive(Debug, Clone)]
pub struct Stored {
    pub response: Value,
    pub input_items: Vec<Value>,
    pub owner: String,
    /// Unix milliseconds, wall clock.
    pub expires_ms: i64,
}

impl Stored {
    /// The conversation so far: the input, then the response's output items.
    pub fn conversation(&self) -> Vec<Value> {
        let mut items = self.input_items.clone();
        if let Some(out) = self.response.get("output").and_then(Value::as_array) {
            items.extend(out.iter().cloned());
        }
        items
    }

    fn of(row: &ResponseRow) -> Result<Self, StoreError> {
        let corrupt =
            |e: serde_json::Error| StoreError::Corrupt(format!("response {}: {e}", row.id));
        Ok(Self {
            response: serde_json::from_str(&row.response).map_err(corrupt)?,
            input_items: serde_json::from_str(&row.input_items).map_err(corrupt)?,
            owner: row.owner.clone(),
            expires_ms: row.expires_ms,
        })
    }
}

/// How often expired rows are purged from the backend (at most; a put triggers it).
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// The stored responses of a gateway: the bounded cache in front of the backend.
pub struct ResponseStore {
    backend: Arc<dyn ResponseBackend>,
    cache: Arc<Cache>,
    retention: Duration,
    /// Longest a backend call may take before it counts as an outage.
    timeout: Duration,
    next_purge_ms: AtomicI64,
    /// Where background writes and purges run (shutdown waits for them).
    tasks: crate::tasks::Tasks,
}

impl std::fmt::Debug for ResponseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStore")
            .field("retention", &self.retention)
            .field("cache", &self.cache.usage())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    to_unix_ms(SystemTime::now())
}

async fn timed<T>(timeout: Duration, f: StoreFuture<'_, T>) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, f)
        .await
        .map_err(|_| StoreError::Timeout)?
}

impl ResponseStore {
    pub fn new(
        backend: Arc<dyn ResponseBackend>,
        retention: Duration,
        timeout: Duration,
        limits: CacheLimits,
        tasks: crate::tasks::Tasks,
    ) -> Self {
        Self {
            backend,
            cache: Arc::new(Cache::new(limits)),
            retention,
            timeout,
            next_purge_ms: AtomicI64::new(0),
            tasks,
        }
    }

    /// An in-process store (no durable backend), for tests and `kind = "memory"`.
    pub fn memory(retention: Duration) -> Self {
        Self::new(
            Arc::new(MemoryBackend::new()),
            retention,
            Duration::from_secs(5),
            CacheLimits::default(),
            crate::tasks::Tasks::new(),
        )
    }

    /// The cache's entries and bytes.
    pub fn cache_usage(&self) -> (usize, usize) {
        self.cache.usage()
    }

    fn prepare(
        &self,
        id: &str,
        owner: &str,
        response: Value,
        input_items: Vec<Value>,
    ) -> (ResponseRow, Arc<Stored>, usize) {
        let created_ms = now_ms();
        let retention = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        let expires_ms = created_ms.saturating_add(retention);
        let row = ResponseRow {
            id: id.to_owned(),
            owner: owner.to_owned(),
            created_ms,
            expires_ms,
            response: response.to_string(),
            input_items: Value::Array(input_items.clone()).to_string(),
        };
        let bytes = row.response.len() + row.input_items.len();
        let stored = Arc::new(Stored {
            response,
            input_items,
            owner: owner.to_owned(),
            expires_ms,
        });
        (row, stored, bytes)
    }

    /// Stores a response and returns once the backend has it (whether it did: on an
    /// outage it is logged and kept in the cache only).
    pub async fn put(
        &self,
        id: &str,
        owner: &str,
        response: Value,
        input_items: Vec<Value>,
    ) -> bool {
        let (row, stored, bytes) = self.prepare(id, owner, response, input_items);
        self.cache.insert(id, Arc::clone(&stored), bytes, false);
        let durable = match timed(self.timeout, self.backend.put(&row)).await {
            Ok(()) => {
                self.cache.mark_durable(id, &stored);
                true
            }
            Err(e) => {
                tracing::warn!(
                    response_id = id,
                    "storing a response failed, kept in cache only: {e}"
                );
                false
            }
        };
        self.maybe_purge(row.created_ms);
        durable
    }

    /// Caches a response at once and writes it to the backend in a background task (for
    /// callers that cannot wait: a stream's completion callback).
    pub fn put_in_background(
        &self,
        id: &str,
        owner: &str,
        response: Value,
        input_items: Vec<Value>,
    ) {
        let (row, stored, bytes) = self.prepare(id, owner, response, input_items);
        self.cache.insert(id, Arc::clone(&stored), bytes, false);
        let backend = Arc::clone(&self.backend);
        let cache = Arc::clone(&self.cache);
        let timeout = self.timeout;
        let write = async move {
            match timed(timeout, backend.put(&row)).await {
                Ok(()) if cache.take_tombstone(&row.id) => {
                    if let Err(e) = timed(timeout, backend.delete(&row.id, &row.owner, 0)).await {
                        tracing::warn!(response_id = row.id, "deleting a response failed: {e}");
                    }
                }
                Ok(()) => cache.mark_durable(&row.id, &stored),
                Err(e) => tracing::warn!(
                    response_id = row.id,
                    "storing a streamed response failed, kept in cache only: {e}"
                ),
            }
        };
        self.tasks.spawn("stored response write", write);
        self.maybe_purge(now_ms());
    }

    /// The response `id` if `owner` stored it and it has not expired. Fails only when the
    /// backend cannot be reached and the cache does not have it.
    pub async fn get(&self, id: &str, owner: &str) -> Result<Option<Arc<Stored>>, StoreError> {
        let now = now_ms();
        if let Some(hit) = self.cache.get(id) {
            if hit.stored.owner != owner {
                return Ok(None);
            }
            if hit.stored.expires_ms <= now {
                self.cache.remove(id);
                return Ok(None);
            }
            if !hit.durable {
                return Ok(Some(hit.stored));
            }
            return match timed(self.timeout, self.backend.exists(id, owner, now)).await {
                Ok(true) => Ok(Some(hit.stored)),
                Ok(false) => {
                    // Deleted (or purged) elsewhere.
                    self.cache.remove(id);
                    Ok(None)
                }
                Err(e) => {
                    tracing::warn!(
                        response_id = id,
                        "response store unavailable, served from cache: {e}"
                    );
                    Ok(Some(hit.stored))
                }
            };
        }
        let Some(row) = timed(self.timeout, self.backend.get(id, owner, now)).await? else {
            return Ok(None);
        };
        match Stored::of(&row) {
            Ok(stored) => {
                let stored = Arc::new(stored);
                let bytes = row.response.len() + row.input_items.len();
                self.cache.insert(id, Arc::clone(&stored), bytes, true);
                Ok(Some(stored))
            }
            Err(e) => {
                tracing::warn!(response_id = id, "{e}");
                Ok(None)
            }
        }
    }

    /// Deletes the response `id` if `owner` stored it; whether there was one. Fails only
    /// when the backend cannot be reached and may still hold it.
    pub async fn delete(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let cached = match self.cache.get(id) {
            Some(hit) if hit.stored.owner != owner => return Ok(false),
            Some(hit) => {
                self.cache.remove(id);
                if !hit.durable {
                    // Its background write may land after this delete: it deletes again.
                    self.cache.tombstone(id);
                }
                Some(hit.stored.expires_ms > now)
            }
            None => None,
        };
        match timed(self.timeout, self.backend.delete(id, owner, now)).await {
            Ok(found) => Ok(found || cached == Some(true)),
            Err(e) => Err(e),
        }
    }

    /// Deletes expired rows from the backend; how many.
    pub async fn purge(&self) -> Result<u64, StoreError> {
        timed(self.timeout, self.backend.purge(now_ms())).await
    }

    /// Starts a background purge when the last one is `PURGE_EVERY` old.
    fn maybe_purge(&self, now: i64) {
        let due = self.next_purge_ms.load(Ordering::Relaxed);
        let every = i64::try_from(PURGE_EVERY.as_millis()).unwrap_or(i64::MAX);
        if now < due
            || self
                .next_purge_ms
                .compare_exchange(
                    due,
                    now.saturating_add(every),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        let backend = Arc::clone(&self.backend);
        let timeout = self.timeout;
        let purge = async move {
            match timed(timeout, backend.purge(now)).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(purged = n, "expired stored responses purged"),
                Err(e) => tracing::warn!("purging expired stored responses failed: {e}"),
            }
        };
        self.tasks.spawn("stored response purge", purge);
    }
}

/// The error a client gets when the response store cannot be reached (and the cache cannot
/// answer); the cause is logged, not shown.
pub fn unavailable(e: crate::records::StoreError) -> crate::error::GatewayError {
    tracing::warn!("response store unavailable: {e}");
    crate::error::GatewayError::Internal("The response store is unavailable; try again.".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn owner_expiry_and_delete() {
        let s = ResponseStore::memory(Duration::from_secs(60));
        let resp = json!({"id": "a", "output": [{"type": "message"}]});
        assert!(
            s.put("a", "key:1", resp, vec![json!({"role": "user"})])
                .await
        );
        let got = s.get("a", "key:1").await.unwrap().unwrap();
        assert_eq!(got.conversation().len(), 2);
        assert!(
            s.get("a", "key:2").await.unwrap().is_none(),
            "another owner"
        );
        assert!(!s.delete("a", "key:2").await.unwrap());
        assert!(s.delete("a", "key:1").await.unwrap());
        assert!(s.get("a", "key:1").await.unwrap().is_none());
        let gone = ResponseStore::memory(Duration::ZERO);
        gone.put("b", "open", json!({}), vec![]).await;
        assert!(
            gone.get("b", "open").await.unwrap().is_none(),
            "expired at once"
        );
    }

    /// A backend that is down.
    struct Down;

    impl ResponseBackend for Down {
        fn put<'a>(&'a self, _: &'a ResponseRow) -> StoreFuture<'a, ()> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
        fn get<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: i64,
        ) -> StoreFuture<'a, Option<ResponseRow>> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
        fn exists<'a>(&'a self, _: &'a str, _: &'a str, _: i64) -> StoreFuture<'a, bool> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
        fn delete<'a>(&'a self, _: &'a str, _: &'a str, _: i64) -> StoreFuture<'a, bool> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
        fn purge(&self, _: i64) -> StoreFuture<'_, u64> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
    }

    #[tokio::test]
    async fn an_outage_is_served_from_the_cache() {
        let s = ResponseStore::new(
            Arc::new(Down),
            Duration::from_secs(60),
            Duration::from_secs(1),
            CacheLimits::default(),
            crate::tasks::Tasks::new(),
        );
        assert!(
            !s.put("a", "open", json!({"id": "a"}), vec![]).await,
            "not durable"
        );
        assert_eq!(
            s.get("a", "open").await.unwrap().unwrap().response["id"],
            "a"
        );
        assert!(
            s.get("a", "master").await.unwrap().is_none(),
            "owner still checked"
        );
        s.put_in_background("b", "open", json!({"id": "b"}), vec![]);
        assert!(s.get("b", "open").await.unwrap().is_some());
        assert!(
            s.get("c", "open").await.is_err(),
            "a miss cannot be answered"
        );
        assert!(
            s.delete("a", "open").await.is_err(),
            "the backend may still hold it"
        );
    }

    #[tokio::test]
    async fn a_delete_before_the_background_write_lands_sticks() {
        let backend = Arc::new(MemoryBackend::new());
        let s = ResponseStore::new(
            backend.clone(),
            Duration::from_secs(60),
            Duration::from_secs(1),
            CacheLimits::default(),
            crate::tasks::Tasks::new(),
        );
        // On a current-thread runtime the spawned write has not run yet.
        s.put_in_background("a", "open", json!({"id": "a"}), vec![]);
        assert!(s.delete("a", "open").await.unwrap());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !s.cache.lock_tombstones_empty() {
            assert!(tokio::time::Instant::now() < deadline, "write never landed");
            tokio::task::yield_now().await;
        }
        assert!(
            !backend.exists("a", "open", 0).await.unwrap(),
            "deleted again"
        );
    }

    #[test]
    fn ids_are_128_bit_hex() {
        let id = new_id().unwrap();
        assert_eq!(id.len(), 37);
        assert!(id[5..].bytes().all(|b| HEX.contains(&b)));
    }
}
