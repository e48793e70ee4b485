//! The passive circuit breaker of one target: a window of recent outcomes, and the circuit
//! (closed → open when the failure share over the window reaches `failure_rate` after
//! `min_calls` → half-open when the opening ends, letting one probe through → closed on its
//! success, open again, for twice as long up to 8×, on its failure). Only outcomes that say
//! something about the provider's health come here: client mistakes and rate limits do not.

use std::collections::VecDeque;

use tokio::time::Instant;

use super::shared::SharedCircuit;
use crate::config::HealthSettings;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Circuit {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

impl Circuit {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
        }
    }
}

#[derive(Debug)]
pub(super) struct Breaker {
    /// Recent counted outcomes, oldest first (`true` = ok).
    outcomes: VecDeque<bool>,
    circuit: Circuit,
    /// Consecutive openings without a success in between.
    open_count: u32,
}

impl Breaker {
    pub(super) fn new() -> Self {
        Self {
            outcomes: VecDeque::new(),
            circuit: Circuit::Closed,
            open_count: 0,
        }
    }

    /// The circuit at `now`: an opening whose time is up turns half-open.
    pub(super) fn at(&mut self, now: Instant) -> Circuit {
        if let Circuit::Open { until } = self.circuit
            && now >= until
        {
            self.circuit = Circuit::HalfOpen { probing: false };
        }
        self.circuit
    }

    /// An attempt starts; a half-open circuit lets this one through as its probe.
    pub(super) fn begin(&mut self) {
        if let Circuit::HalfOpen { probing: false } = self.circuit {
            self.circuit = Circuit::HalfOpen { probing: true };
        }
    }

    pub(super) fn success(&mut self, window: usize) {
        push(&mut self.outcomes, true, window);
        self.circuit = Circuit::Closed;
        self.open_count = 0;
    }

    /// A failure that counts: it may open the circuit (a failed probe always does).
    pub(super) fn failure(&mut self, now: Instant, s: &HealthSettings) {
        push(&mut self.outcomes, false, s.window as usize);
        let trip = match self.circuit {
            Circuit::HalfOpen { .. } => true,
            _ => self.outcomes.len() as u32 >= s.min_calls && self.failure_rate() >= s.failure_rate,
        };
        if trip {
            self.open_count = self.open_count.saturating_add(1);
            // Each consecutive opening waits longer, up to 8× the base.
            let factor = 1u32 << (self.open_count - 1).min(3);
            self.circuit = Circuit::Open {
                until: now + s.open_for * factor,
            };
        }
    }

    /// An attempt that ended without a verdict on health (a rate limit): a probe it was
    /// leaves the circuit half-open for the next one.
    pub(super) fn no_verdict(&mut self) {
        if let Circuit::HalfOpen { probing: true } = self.circuit {
            self.circuit = Circuit::HalfOpen { probing: false };
        }
    }

    /// Failure share of the window; 0 when it is empty.
    pub(super) fn failure_rate(&self) -> f64 {
        if self.outcomes.is_empty() {
            return 0.0;
        }
        let fails = self.outcomes.iter().filter(|ok| !**ok).count();
        fails as f64 / self.outcomes.len() as f64
    }

    /// A circuit open on Redis is open here (a probe in flight here is left to finish).
    /// True when this opened a circuit that was not open here.
    pub(super) fn apply_shared(&mut self, now: Instant, s: &SharedCircuit) -> bool {
        if s.open_for.is_zero() {
            return false;
        }
        let until = now + s.open_for;
        let mut opened = false;
        match self.circuit {
            Circuit::Closed | Circuit::HalfOpen { probing: false } => {
                self.circuit = Circuit::Open { until };
                opened = true;
            }
            Circuit::Open { until: u } if u < until => {
                // An opening that ended here but not yet on Redis counts as new.
                opened = u <= now;
                self.circuit = Circuit::Open { until };
            }
            _ => {}
        }
        self.open_count = self.open_count.max(s.opens);
        opened
    }
}

pub(super) fn push<T>(q: &mut VecDeque<T>, v: T, cap: usize) {
    if q.len() >= cap {
        q.pop_front();
    }
    q.push_back(v);
}
