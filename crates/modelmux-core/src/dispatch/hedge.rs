//! Hedged requests: when an attempt has not answered after the route's `hedge_after` (a
//! fixed delay, or the target's observed p95), the dispatcher calls the next candidate as
//! well and takes whichever answers first (for streams: whichever produces content first);
//! the other is cancelled. Each route has a `HedgeBudget`, a token bucket that every request
//! fills by `hedge_max_share` and every hedge empties by one, so over any stretch of
//! traffic at most that share of requests (plus a small burst) is hedged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::config::{Config, HedgeAfter, RouteSettings};
use crate::health::Health;
use crate::ids::TargetRef;

/// Hedges that may be spent at once after a quiet stretch.
const BURST: f64 = 2.0;

/// A route's allowance of hedges.
#[derive(Debug)]
pub struct HedgeBudget {
    share: f64,
    tokens: Mutex<f64>,
}

impl HedgeBudget {
    pub fn new(share: f64) -> Self {
        Self {
            share: share.clamp(0.0, 1.0),
            tokens: Mutex::new(BURST.min(1.0)),
        }
    }

    /// A request arrives on the route: it earns the route `share` of a hedge.
    pub fn earn(&self) {
        let mut t = self.lock();
        *t = (*t + self.share).min(BURST);
    }

    /// Takes one hedge if the budget has it.
    pub fn try_take(&self) -> bool {
        let mut t = self.lock();
        if *t >= 1.0 {
            *t -= 1.0;
            true
        } else {
            false
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, f64> {
        match self.tokens.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// Every hedging route's budget, built once from the config; direct `provider/model`
/// calls share one (they hedge when `[router]` sets `hedge_after`).
#[derive(Debug)]
pub struct HedgeBudgets {
    routes: HashMap<String, HedgeBudget>,
    direct: HedgeBudget,
}

impl HedgeBudgets {
    pub fn new(config: &Config) -> Self {
        Self {
            routes: config
                .routes
                .iter()
                .filter(|r| r.settings.hedge_after.is_some())
                .map(|r| {
                    (
                        r.name.to_string(),
                        HedgeBudget::new(r.settings.hedge_max_share),
                    )
                })
                .collect(),
            direct: HedgeBudget::new(config.defaults.hedge_max_share),
        }
    }

    /// The budget of the plan named `route`.
    pub fn of(&self, route: &str) -> &HedgeBudget {
        self.routes.get(route).unwrap_or(&self.direct)
    }
}

/// What the dispatcher needs to hedge one request.
#[derive(Debug, Clone, Copy)]
pub struct Hedging<'a> {
    pub after: HedgeAfter,
    pub budget: &'a HedgeBudget,
    /// The request streams: a p95 delay is then the target's time to first token.
    pub stream: bool,
}

impl<'a> Hedging<'a> {
    /// Hedging for a plan with these settings, if it hedges at all.
    pub fn of(
        settings: &RouteSettings,
        budgets: &'a HedgeBudgets,
        route: &str,
        stream: bool,
    ) -> Option<Self> {
        Some(Self {
            after: settings.hedge_after?,
            budget: budgets.of(route),
            stream,
        })
    }

    /// How long to wait for `target` before hedging; `None` when there is nothing to go on.
    pub fn delay(&self, health: &Health, target: &TargetRef) -> Option<Duration> {
        match self.after {
            HedgeAfter::Fixed(d) => Some(d),
            HedgeAfter::P95 => health.p95(target, self.stream),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_holds_the_share() {
        let b = HedgeBudget::new(0.1);
        let mut hedged = 0;
        for _ in 0..1000 {
            b.earn();
            if b.try_take() {
                hedged += 1;
            }
        }
        // One token to start with, then one per ten requests.
        assert!((100..=101).contains(&hedged), "{hedged}");
    }

    #[test]
    fn a_quiet_stretch_allows_only_a_small_burst() {
        let b = HedgeBudget::new(0.5);
        for _ in 0..100 {
            b.earn();
        }
        assert!(b.try_take());
        assert!(b.try_take());
        assert!(!b.try_take());
    }
}
