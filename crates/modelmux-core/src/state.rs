//! Shared state of a running gateway: the validated config, the provider side, and the
//! readiness flag that `/readyz` reports and shutdown clears. Cloned into every handler
//! (everything inside is behind `Arc`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Config;
use crate::providers::Upstreams;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub upstreams: Upstreams,
    ready: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(config: Config) -> Result<Self, String> {
        let upstreams = Upstreams::new(&config)?;
        Ok(Self {
            config: Arc::new(config),
            upstreams,
            ready: Arc::new(AtomicBool::new(true)),
        })
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}
