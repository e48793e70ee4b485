//! `Admission`: a request let through by the limits, holding its reservation until it is
//! settled with what the request really used. Dropped without `settle` (the handler failed
//! or the client went away), it releases the cost reservation in a background task and
//! keeps the TPM estimate counted, since tokens may have been used. That task runs on the
//! gateway's `Tasks`, so shutdown waits for it within the grace.

use std::sync::Arc;

use super::limiter::{Grant, Limiter, to_nano, to_usd};
use crate::tasks::Tasks;

pub struct Admission {
    limiter: Arc<dyn Limiter>,
    tasks: Tasks,
    grant: Option<Grant>,
    warnings: Vec<String>,
    remaining: Option<f64>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("grant", &self.grant)
            .field("warnings", &self.warnings)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl Admission {
    pub(crate) fn new(
        limiter: Arc<dyn Limiter>,
        tasks: Tasks,
        grant: Grant,
        warnings: Vec<String>,
        remaining: Option<f64>,
    ) -> Self {
        Self {
            limiter,
            tasks,
            grant: Some(grant),
            warnings,
            remaining,
        }
    }

    /// Soft caps this request took the key past: allowed, but say so (a response header
    /// such as `x-modelmux-budget-warning`, and the record's notes).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The tightest hard cap's remaining USD after this reservation, if the key has one.
    pub fn remaining_budget(&self) -> Option<f64> {
        self.remaining
    }

    /// The estimated cost reserved for this request, in USD.
    pub fn reserved_cost(&self) -> f64 {
        self.grant.as_ref().map_or(0.0, |g| to_usd(g.cost_nano))
    }

    /// Replaces the reservation with what was used. Call it for failed requests too, with
    /// what they used (often 0, 0.0). A lost settlement (Redis down) is logged and counted;
    /// its reservation expires after `reservation_ttl`.
    pub async fn settle(mut self, actual_tokens: u64, actual_cost: f64) {
        if let Some(grant) = self.grant.take()
            && let Err(e) = self
                .limiter
                .settle(&grant, actual_tokens, to_nano(actual_cost))
                .await
        {
            tracing::warn!(key = grant.key_id, error = e, "budget settlement failed");
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let Some(grant) = self.grant.take() else {
            return;
        };
        let limiter = self.limiter.clone();
        let tokens = grant.tokens;
        let key = grant.key_id.clone();
        let release = async move {
            if let Err(e) = limiter.settle(&grant, tokens, 0).await {
                tracing::warn!(
                    key = grant.key_id,
                    error = e,
                    "releasing a reservation failed"
                );
            }
        };
        if !self.tasks.spawn_if_running("release reservation", release) {
            tracing::warn!(
                key,
                "an unsettled reservation was dropped outside a runtime; it expires later"
            );
        }
    }
}
