//! An in-process store (`[store] kind = "memory"`): records in a map keyed by request id,
//! gone at exit. For tests and demos, and the reference the SQL stores are checked against.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use super::record::Record;
use super::report::{GroupBy, ReportRow, Sample, aggregate};
use super::store::{Store, StoreError, StoreFuture};

#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Record>) -> T) -> T {
        let mut guard = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

impl Store for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn migrate(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn write<'a>(&'a self, batch: &'a [Record]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.with(|m| {
                for r in batch {
                    m.entry(r.request_id.clone()).or_insert_with(|| r.clone());
                }
            });
            Ok(())
        })
    }

    fn report(&self, by: GroupBy, since: SystemTime) -> StoreFuture<'_, Vec<ReportRow>> {
        Box::pin(async move {
            let samples: Vec<Sample> = self.with(|m| {
                m.values()
                    .filter(|r| r.time >= since)
                    .map(|r| Sample::of(r, by))
                    .collect()
            });
            Ok(aggregate(samples))
        })
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { Ok(self.with(|m| m.len() as u64)) })
    }

    fn get<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<Record>> {
        Box::pin(async move { Ok::<_, StoreError>(self.with(|m| m.get(request_id).cloned())) })
    }

    fn has_client_request_id<'a>(&'a self, tenant: &'a str, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            Ok(self.with(|m| {
                m.values().any(|r| {
                    r.tenant.as_deref() == Some(tenant)
                        && r.client_request_id.as_deref() == Some(id)
                })
            }))
        })
    }
}
