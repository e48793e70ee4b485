//! Client request ids already taken: this instance's recent ones in a bounded set (the
//! guard that keeps two concurrent requests with one id from both passing, and that covers
//! the records still queued for the writer), then the record store's unique index on
//! (tenant, client id) for the older ones and other instances. Only requests that send
//! `x-modelmux-request-id` ask (`crate::episode`), so the others do no lookup at all.
//!
//! Limits: two instances receiving the same id within one writer flush both accept it (the
//! store keeps the first record written; the second is dropped by the unique index), and a
//! store that cannot answer in `write_timeout` lets the id pass (logged), as a store outage
//! must not refuse traffic.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::store::Store;

/// How many recent (tenant, id) pairs an instance remembers.
pub const RECENT: usize = 65_536;

pub struct ClientIds {
    store: Option<Arc<dyn Store>>,
    timeout: Duration,
    recent: Mutex<Recent>,
}

impl std::fmt::Debug for ClientIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIds").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Recent {
    set: HashSet<(Box<str>, Box<str>)>,
    order: VecDeque<(Box<str>, Box<str>)>,
}

impl ClientIds {
    pub fn new(store: Option<Arc<dyn Store>>, timeout: Duration) -> Self {
        Self {
            store,
            timeout,
            recent: Mutex::new(Recent::default()),
        }
    }

    /// The store asked about older ids.
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.store.as_ref()
    }

    /// Claims `id` for `tenant`: `true` when nobody used it before (it is now taken), `false`
    /// for a duplicate.
    pub async fn claim(&self, tenant: &str, id: &str) -> bool {
        let key: (Box<str>, Box<str>) = (tenant.into(), id.into());
        {
            let mut r = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            if r.set.contains(&key) {
                return false;
            }
            if r.order.len() >= RECENT
                && let Some(old) = r.order.pop_front()
            {
                r.set.remove(&old);
            }
            r.set.insert(key.clone());
            r.order.push_back(key);
        }
        let Some(store) = &self.store else {
            return true;
        };
        match tokio::time::timeout(self.timeout, store.has_client_request_id(tenant, id)).await {
            Ok(Ok(taken)) => !taken,
            Ok(Err(e)) => {
                tracing::warn!("cannot look up client request id {id:?}; accepting it: {e}");
                true
            }
            Err(_) => {
                tracing::warn!("client request id lookup timed out; accepting {id:?}");
                true
            }
        }
    }
}
