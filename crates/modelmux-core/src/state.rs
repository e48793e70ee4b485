//! Shared state of a running gateway: the validated config, the provider side, the
//! per-target health (its circuits shared through Redis when `[keys] redis_url` is set), the
//! intent classifier, the compiled policy rules, the background tasks, and the readiness flag that `/readyz` reports and shutdown clears.
//! Cloned into every handler and task: one `Arc` (a request clones it several times, so one
//! counter to bump rather than one per field).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Config;
use crate::health::Health;
use crate::intent::RuleClassifier;
use crate::providers::Upstreams;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every clone of an `AppState` shares.
pub struct Shared {
    pub config: Arc<Config>,
    pub upstreams: Upstreams,
    pub health: Arc<Health>,
    pub classifier: Arc<RuleClassifier>,
    /// The config's policy rules, compiled (a bad expression refuses the start).
    pub rules: crate::policy::Compiled,
    /// Each hedging route's allowance of hedges.
    pub hedges: Arc<crate::dispatch::HedgeBudgets>,
    /// Stored Responses: a bounded cache in front of the record store.
    pub responses: Arc<crate::responses_store::ResponseStore>,
    /// Where every request's record goes (a bounded channel to the batch writer).
    pub records: crate::records::RecordSink,
    /// Virtual keys, budgets and rate limits.
    pub keys: Arc<crate::keys::Keys>,
    /// Recent output lengths per route: what cost estimates and reservations expect.
    pub outputs: crate::cost::OutputStats,
    /// Every background task (settlements, loops, the record writer); shutdown drains it.
    pub tasks: crate::tasks::Tasks,
    ready: AtomicBool,
}

impl AppState {
    pub fn new(
        config: Config,
        records: crate::records::RecordSink,
        keys: Arc<crate::keys::Keys>,
        responses: Arc<dyn crate::responses_store::ResponseBackend>,
        tasks: crate::tasks::Tasks,
    ) -> Result<Self, String> {
        let rules = crate::policy::Compiled::new(&config).map_err(|e| e.to_string())?;
        let health = Arc::new(Health::new(config.health));
        if config.health.shared
            && let Some(url) = &config.keys.redis_url
        {
            let targets = config
                .routes
                .iter()
                .flat_map(|r| r.candidates.iter().cloned())
                .collect();
            let shared = crate::health::shared::SharedConfig {
                prefix: config.keys.redis_prefix.clone(),
                timeout: config.keys.redis_timeout,
                sync_interval: config.health.sync_interval,
            };
            crate::health::shared::start(&health, url.expose(), shared, targets, &tasks)?;
        }
        let upstreams = Upstreams::new(&config, health.clone())?;
        let classifier = Arc::new(RuleClassifier::new(config.intents.clone()));
        let hedges = Arc::new(crate::dispatch::HedgeBudgets::new(&config));
        // `responses` is the record store opened from `config.store` (its connection shared).
        let responses = Arc::new(crate::responses_store::ResponseStore::new(
            responses,
            config.server.responses_retention,
            config.store.write_timeout,
            crate::responses_store::CacheLimits::default(),
            tasks.clone(),
        ));
        Ok(Self(Arc::new(Shared {
            config: Arc::new(config),
            upstreams,
            health,
            classifier,
            rules,
            hedges,
            responses,
            records,
            keys,
            outputs: crate::cost::OutputStats::new(),
            tasks,
            ready: AtomicBool::new(true),
        })))
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}
