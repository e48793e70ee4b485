//! Virtual keys, budgets and rate limits. A client presents a virtual key (`mmx-…`); the
//! gateway hashes it, finds the key's `KeyInfo` in an in-memory index (`authenticate`),
//! checks the route against its allowed globs (`allows`), then, before dispatch, reserves
//! the request's estimated tokens and cost against the key's RPM, TPM and budgets in one
//! atomic step (`admit`). After the answer the `Admission` is settled with the real usage
//! and cost, releasing the difference. Keys live hashed in a `KeyStore` (memory or a JSON
//! file shared with `modelmux keys`); counters live in process or in Redis, shared by every
//! instance, with a local fallback when Redis is down (`failover`).
//!
//! Lead's wiring (see each item): `Keys::new(&config.keys, &tasks)` in `AppState` (the file
//! store's reload loop and dropped admissions' releases run on those `Tasks`), `authenticate`
//! after the master-key check, `allows` once the route is known, `remaining_budget` into
//! the routing features, `admit` just before dispatch and `Admission::settle` with the
//! priced usage; `admin_router` under `/admin`.

pub mod admin;
pub mod admission;
pub mod clock;
/// The `[keys]` section, owned by `config` (`config::keys`); kept here under its old path.
pub use crate::config::keys as config;
pub mod error;
pub mod failover;
pub mod file_store;
pub mod key;
pub mod limiter;
pub mod local;
pub mod manage;
pub mod redis_limiter;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::Serialize;

pub use admin::admin_router;
pub use admission::Admission;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::KeysConfig;
pub use error::{KeyError, KeysError, LimitError};
pub use failover::LimiterStats;
pub use key::{Budgets, Cap, KeyInfo, NewKey, Period, StoredKey};
pub use limiter::{Limiter, Usage};
pub use manage::KeySpec;
pub use store::{KeyStore, MemoryStore};

use crate::tasks::Tasks;
use failover::FailoverLimiter;
use file_store::FileStore;
use limiter::{Ask, Refusal, to_usd};
use local::LocalLimiter;

/// Virtual keys of one gateway: the index of key hashes, the store behind it and the
/// limiter that counts requests, tokens and spend.
pub struct Keys {
    config: KeysConfig,
    store: Arc<dyn KeyStore>,
    index: RwLock<HashMap<String, KeyInfo>>,
    loaded: AtomicU64,
    limiter: Arc<dyn Limiter>,
    failover: Option<Arc<FailoverLimiter>>,
    clock: Arc<dyn Clock>,
    /// Where the file store's reloads and the admissions' releases run.
    tasks: Tasks,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("config", &self.config)
            .field("keys", &self.index.read().map(|i| i.len()).unwrap_or(0))
            .finish_non_exhaustive()
    }
}

/// The store `config` names: the JSON file, or memory.
pub fn store_for(config: &KeysConfig) -> Arc<dyn KeyStore> {
    match &config.file {
        Some(path) => Arc::new(FileStore::new(path.clone())),
        None => Arc::new(MemoryStore::new()),
    }
}

/// Spend of one period set, in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spend {
    pub daily: f64,
    pub monthly: f64,
    pub total: f64,
    /// Reserved by requests in flight (counted in the total's headroom, not in `total`).
    pub reserved: f64,
}

impl Spend {
    fn of(u: &Usage, now_ms: u64) -> Self {
        Self {
            daily: to_usd(u.spent(Period::Daily, now_ms)),
            monthly: to_usd(u.spent(Period::Monthly, now_ms)),
            total: to_usd(u.spent(Period::Total, now_ms)),
            reserved: to_usd(u.spend[Period::Total.index()].1),
        }
    }

    fn add(&mut self, o: &Spend) {
        self.daily += o.daily;
        self.monthly += o.monthly;
        self.total += o.total;
        self.reserved += o.reserved;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct KeySpend {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    pub spend: Spend,
    pub budgets: Budgets,
    pub remaining: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamSpend {
    pub team: String,
    pub keys: usize,
    pub spend: Spend,
}

impl Keys {
    /// Keys as `config` says: the named store, Redis-shared or local limits, the system
    /// clock. A file store is re-read every `reload_interval` to see the CLI's changes.
    pub async fn new(config: &KeysConfig, tasks: &Tasks) -> Result<Arc<Keys>, KeysError> {
        let keys =
            Self::with_parts(config, store_for(config), Arc::new(SystemClock), tasks).await?;
        if config.file.is_some() {
            spawn_reload(&keys, config.reload_interval);
        }
        Ok(keys)
    }

    /// Keys over a given store and clock (tests; the lead's records store later).
    pub async fn with_parts(
        config: &KeysConfig,
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        tasks: &Tasks,
    ) -> Result<Arc<Keys>, KeysError> {
        let (limiter, failover): (Arc<dyn Limiter>, _) = match &config.redis_url {
            Some(url) => {
                let redis = redis_limiter::RedisLimiter::new(
                    url.expose(),
                    &config.redis_prefix,
                    config.redis_timeout,
                    config.reservation_ttl,
                )
                .map_err(KeysError::Redis)?;
                let f = Arc::new(FailoverLimiter::new(redis, config.fail_open));
                (f.clone(), Some(f))
            }
            None => (Arc::new(LocalLimiter::new()), None),
        };
        let keys = Arc::new(Keys {
            config: config.clone(),
            store,
            index: RwLock::new(HashMap::new()),
            loaded: AtomicU64::new(u64::MAX),
            limiter,
            failover,
            clock,
            tasks: tasks.clone(),
        });
        keys.reload().await?;
        Ok(keys)
    }

    /// Whether virtual keys are in use: any key stored, or an admin key set. When not, the
    /// gateway stays as open (or master-key guarded) as before.
    pub fn enabled(&self) -> bool {
        self.config.admin_key.is_some() || self.index.read().is_ok_and(|i| !i.is_empty())
    }

    /// The key a client presented, if it is a live virtual key.
    pub async fn authenticate(&self, presented: &str) -> Result<KeyInfo, KeyError> {
        let presented = presented.trim();
        if presented.is_empty() {
            return Err(KeyError::Missing);
        }
        if !presented.starts_with(key::KEY_PREFIX) {
            return Err(KeyError::Invalid);
        }
        let hash = key::hash_key(presented);
        let found = self
            .index
            .read()
            .map_err(|_| KeyError::Invalid)?
            .get(&hash)
            .cloned();
        match found {
            Some(k) if k.revoked => Err(KeyError::Revoked),
            Some(k) => Ok(k),
            None => Err(KeyError::Invalid),
        }
    }

    /// Whether `key` may use `route` (a route name, or `provider/model` for a direct call).
    pub fn allows(&self, key: &KeyInfo, route: &str) -> bool {
        key.allowed.is_empty()
            || key
                .allowed
                .iter()
                .any(|g| crate::config::glob_match(g, route))
    }

    /// Counts the request and reserves its estimated tokens and cost, or says which limit
    /// refuses it.
    pub async fn admit(
        &self,
        key: &KeyInfo,
        est_tokens: u64,
        est_cost: f64,
    ) -> Result<Admission, LimitError> {
        let now = self.clock.now_ms();
        let grant_id = format!("{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..));
        let ask = Ask::new(key, grant_id, est_tokens, est_cost, now);
        match self.limiter.reserve(&ask).await {
            Ok(grant) => {
                let warnings = soft_warnings(&key.budgets, &grant.usage, now);
                let remaining = remaining(&key.budgets, Some(&grant.usage), now);
                Ok(Admission::new(
                    self.limiter.clone(),
                    self.tasks.clone(),
                    grant,
                    warnings,
                    remaining,
                ))
            }
            Err(Refusal::Limit(e)) => Err(e),
            Err(Refusal::Backend(e)) => {
                tracing::error!(error = e, "limits could not be checked");
                Err(LimitError::Unavailable)
            }
        }
    }

    /// USD left under the key's tightest hard cap, as last counted (no I/O), for the
    /// routing feature `budget_remaining`; `None` when the key has no hard cap.
    pub fn remaining_budget(&self, key: &KeyInfo) -> Option<f64> {
        let now = self.clock.now_ms();
        remaining(&key.budgets, self.limiter.usage(&key.id).as_ref(), now)
    }

    /// What the limits did while Redis was unreachable (all zero without Redis).
    pub fn stats(&self) -> LimiterStats {
        self.failover
            .as_ref()
            .map(|f| f.stats())
            .unwrap_or_default()
    }

    /// Whether `presented` is the admin key (constant-time).
    pub fn is_admin(&self, presented: &str) -> bool {
        self.config
            .admin_key
            .as_ref()
            .is_some_and(|k| k.matches(presented))
    }

    pub fn admin_enabled(&self) -> bool {
        self.config.admin_key.is_some()
    }

    pub fn store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    /// Re-reads the store if it changed since the last load.
    pub async fn reload(&self) -> Result<(), KeysError> {
        let generation = self.store.generation().await?;
        if generation == self.loaded.load(Ordering::SeqCst) {
            return Ok(());
        }
        let stored = self.store.list().await?;
        let index: HashMap<String, KeyInfo> =
            stored.into_iter().map(|k| (k.hash, k.info)).collect();
        if let Ok(mut i) = self.index.write() {
            *i = index;
        }
        self.loaded.store(generation, Ordering::SeqCst);
        Ok(())
    }

    pub async fn create(&self, spec: KeySpec) -> Result<NewKey, KeysError> {
        let k = manage::create(self.store.as_ref(), spec).await?;
        self.reload().await?;
        Ok(k)
    }

    pub async fn revoke(&self, id: &str) -> Result<StoredKey, KeysError> {
        let k = manage::revoke(self.store.as_ref(), id).await?;
        self.reload().await?;
        Ok(k)
    }

    pub async fn rotate(&self, id: &str) -> Result<NewKey, KeysError> {
        let k = manage::rotate(self.store.as_ref(), id).await?;
        self.reload().await?;
        Ok(k)
    }

    pub async fn list(&self) -> Result<Vec<StoredKey>, KeysError> {
        self.store.list().await
    }

    /// Spend of every key, fresh from the counters.
    pub async fn spend_by_key(&self) -> Result<Vec<KeySpend>, KeysError> {
        let keys = self.store.list().await?;
        let ids: Vec<String> = keys.iter().map(|k| k.info.id.clone()).collect();
        let now = self.clock.now_ms();
        let usage = self
            .limiter
            .spend(&ids, now)
            .await
            .map_err(KeysError::Redis)?;
        Ok(keys
            .into_iter()
            .zip(usage)
            .map(|(k, u)| KeySpend {
                spend: Spend::of(&u, now),
                remaining: remaining(&k.info.budgets, Some(&u), now),
                id: k.info.id,
                name: k.info.name,
                team: k.info.team,
                budgets: k.info.budgets,
            })
            .collect())
    }

    /// Spend summed per team (keys without a team are left out).
    pub async fn spend_by_team(&self) -> Result<Vec<TeamSpend>, KeysError> {
        let mut teams: BTreeMap<String, TeamSpend> = BTreeMap::new();
        for k in self.spend_by_key().await? {
            let Some(team) = k.team else { continue };
            let t = teams.entry(team.clone()).or_insert_with(|| TeamSpend {
                team,
                keys: 0,
                spend: Spend::default(),
            });
            t.keys += 1;
            t.spend.add(&k.spend);
        }
        Ok(teams.into_values().collect())
    }
}

/// Re-reads the key store every `every` until shutdown (or the keys are dropped).
fn spawn_reload(keys: &Arc<Keys>, every: std::time::Duration) {
    let weak = Arc::downgrade(keys);
    keys.tasks.spawn_loop("key reload", |stop| async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let Some(keys) = weak.upgrade() else { break };
            if let Err(e) = keys.reload().await {
                tracing::warn!(error = %e, "reloading the key store failed; keeping the keys loaded before");
            }
        }
    });
}

/// USD left under the tightest hard cap.
fn remaining(budgets: &Budgets, usage: Option<&Usage>, now_ms: u64) -> Option<f64> {
    Period::ALL
        .into_iter()
        .filter_map(|p| {
            let cap = limiter::to_nano(budgets.cap(p).hard?);
            let used = usage.map_or(0, |u| u.used(p, now_ms));
            Some(to_usd((cap - used).max(0)))
        })
        .reduce(f64::min)
}

fn soft_warnings(budgets: &Budgets, usage: &Usage, now_ms: u64) -> Vec<String> {
    Period::ALL
        .into_iter()
        .filter_map(|p| {
            let soft = budgets.cap(p).soft?;
            let used = to_usd(usage.used(p, now_ms));
            (used > soft).then(|| {
                format!(
                    "{} soft budget of ${soft:.2} exceeded: ${used:.4} spent or reserved",
                    p.name()
                )
            })
        })
        .collect()
}
