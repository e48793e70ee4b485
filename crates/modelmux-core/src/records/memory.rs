//! An in-process store (`[store] kind = "memory"`): records in a map keyed by request id,
//! gone at exit. For tests and demos, and the reference the SQL stores are checked against.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use super::feedback::{Feedback, Subject, replaces};
use super::record::Record;
use super::report::{GroupBy, OutcomeRow, ReportRow, Sample, aggregate};
use super::store::{Store, StoreError, StoreFuture};
use crate::outcomes::FeedbackValue;

#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
    /// By (tenant, id).
    feedback: Mutex<HashMap<(String, String), Feedback>>,
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

    fn with_feedback<T>(&self, f: impl FnOnce(&mut HashMap<(String, String), Feedback>) -> T) -> T {
        let mut guard = self
            .feedback
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

    fn outcome_rows(&self, by: GroupBy, since: SystemTime) -> StoreFuture<'_, Vec<OutcomeRow>> {
        Box::pin(async move {
            Ok(self.with(|m| {
                m.values()
                    .filter(|r| r.time >= since)
                    .map(|r| OutcomeRow::of(r, by))
                    .collect()
            }))
        })
    }

    fn feedback_values(&self, since: SystemTime) -> StoreFuture<'_, Vec<FeedbackValue>> {
        let since = super::record::to_unix_ms(since);
        Box::pin(async move {
            Ok(self.with_feedback(|m| {
                m.values()
                    .filter(|f| f.time_ms >= since)
                    .map(|f| FeedbackValue {
                        tenant: Some(f.tenant.clone()),
                        request_id: f.request_id.clone(),
                        episode_id: f.episode_id.clone(),
                        metric: f.metric.clone(),
                        value: f.value_num,
                        time_ms: f.time_ms,
                    })
                    .collect()
            }))
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

    fn write_feedback<'a>(&'a self, batch: &'a [Feedback]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.with_feedback(|m| {
                for f in batch {
                    let key = (f.tenant.clone(), f.id.clone());
                    match m.get(&key) {
                        Some(old) if !replaces(f, old) => {}
                        _ => {
                            m.insert(key, f.clone());
                        }
                    }
                }
            });
            Ok(())
        })
    }

    fn feedback<'a>(
        &'a self,
        tenant: &'a str,
        about: &'a Subject,
    ) -> StoreFuture<'a, Vec<Feedback>> {
        Box::pin(async move {
            let mut rows: Vec<Feedback> = self.with_feedback(|m| {
                m.values()
                    .filter(|f| f.tenant == tenant)
                    .filter(|f| match about {
                        Subject::Request(id) => f.request_id.as_deref() == Some(id.as_str()),
                        Subject::Episode(id) => f.episode_id.as_deref() == Some(id.as_str()),
                    })
                    .cloned()
                    .collect()
            });
            rows.sort_by(|a, b| (a.time_ms, &a.id).cmp(&(b.time_ms, &b.id)));
            Ok(rows)
        })
    }

    fn feedback_orphans<'a>(&'a self, tenant: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let asked: Vec<(Option<String>, Option<String>)> = self.with_feedback(|m| {
                m.values()
                    .filter(|f| f.tenant == tenant)
                    .map(|f| (f.request_id.clone(), f.episode_id.clone()))
                    .collect()
            });
            let n = self.with(|records| {
                let mine: Vec<&Record> = records
                    .values()
                    .filter(|r| r.tenant.as_deref() == Some(tenant))
                    .collect();
                asked
                    .iter()
                    .filter(|(req, ep)| {
                        !mine.iter().any(|r| {
                            req.as_deref().is_some_and(|id| {
                                r.request_id == id || r.client_request_id.as_deref() == Some(id)
                            }) || ep
                                .as_deref()
                                .is_some_and(|e| r.episode_id.as_deref() == Some(e))
                        })
                    })
                    .count()
            });
            Ok(n as u64)
        })
    }
}
