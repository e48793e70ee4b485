//! The `Limiter` trait: one atomic decision per request over a key's RPM window, TPM window
//! and budget counters, then a settlement with what the request really used. Implemented in
//! process (`local::LocalLimiter`), in Redis (`redis::RedisLimiter`, shared by every
//! instance) and by `failover::FailoverLimiter` (Redis, falling back to local).
//!
//! Windows are sliding-window counters: a minute's count plus the previous minute's, weighted
//! by how much of it still overlaps the last 60 s. A request is admitted when
//! `curr + prev × weight + cost ≤ limit`, in integers (weights in millionths) so both
//! implementations decide alike. Money is counted in integer nano-dollars. A hard budget
//! refuses when `spent + reserved ≥ cap` or `spent + reserved + estimate > cap`, so a zero
//! estimate cannot slip past a cap that is already reached.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::clock;
use super::error::LimitError;
use super::key::{KeyInfo, Period};

pub const WINDOW_MS: u64 = 60_000;
const PPM: u128 = 1_000_000;

/// USD → nano-dollars (rounded; negative and non-finite amounts count as 0).
pub fn to_nano(usd: f64) -> i64 {
    if usd.is_finite() && usd > 0.0 {
        // Saturates at i64::MAX (about $9.2 billion).
        (usd * 1e9).round() as i64
    } else {
        0
    }
}

pub fn to_usd(nano: i64) -> f64 {
    nano as f64 / 1e9
}

/// One request asking to be let through.
#[derive(Debug, Clone)]
pub struct Ask {
    pub key_id: String,
    /// Unique per request: names the budget reservation.
    pub grant_id: String,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    /// Estimated tokens (input + output).
    pub tokens: u64,
    pub cost_nano: i64,
    /// Hard caps in nano-dollars, by `Period::index`.
    pub hard: [Option<i64>; 3],
    pub now_ms: u64,
}

impl Ask {
    pub fn new(key: &KeyInfo, grant_id: String, tokens: u64, cost: f64, now_ms: u64) -> Self {
        Self {
            key_id: key.id.clone(),
            grant_id,
            rpm: key.rpm,
            tpm: key.tpm,
            tokens,
            cost_nano: to_nano(cost),
            hard: Period::ALL.map(|p| key.budgets.cap(p).hard.map(to_nano)),
            now_ms,
        }
    }

    /// Tokens counted against the TPM window: at most the whole limit, so one request larger
    /// than the limit can still pass through an empty window.
    pub fn window_tokens(&self) -> u64 {
        match self.tpm {
            Some(l) => self.tokens.min(l),
            None => self.tokens,
        }
    }

    pub fn day(&self) -> u64 {
        clock::day_of(self.now_ms)
    }

    pub fn month(&self) -> u64 {
        clock::month_of(self.now_ms)
    }
}

/// Settled and reserved spend of one key in the current day, month and in total, as last
/// seen by a limiter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub day: u64,
    pub month: u64,
    /// (spent, reserved) in nano-dollars, by `Period::index`.
    pub spend: [(i64, i64); 3],
}

impl Usage {
    /// Whether the counts of `p` are of the period `now_ms` falls in.
    pub fn is_current(&self, p: Period, now_ms: u64) -> bool {
        match p {
            Period::Daily => self.day == clock::day_of(now_ms),
            Period::Monthly => self.month == clock::month_of(now_ms),
            Period::Total => true,
        }
    }

    /// Spent + reserved in `p`, counting a period that has since ended as empty.
    pub fn used(&self, p: Period, now_ms: u64) -> i64 {
        if !self.is_current(p, now_ms) {
            return 0;
        }
        let (s, r) = self.spend[p.index()];
        s.saturating_add(r.max(0))
    }

    /// Settled spend in `p` (0 for a period that has since ended).
    pub fn spent(&self, p: Period, now_ms: u64) -> i64 {
        if self.is_current(p, now_ms) {
            self.spend[p.index()].0
        } else {
            0
        }
    }
}

/// A reservation made; settle it with `Limiter::settle`.
#[derive(Debug, Clone)]
pub struct Grant {
    pub key_id: String,
    pub id: String,
    /// Tokens reserved in the TPM window `tpm_window`.
    pub tokens: u64,
    pub tpm_window: u64,
    pub cost_nano: i64,
    pub day: u64,
    pub month: u64,
    /// Usage right after the reservation.
    pub usage: Usage,
    /// Which backend holds it (a failover limiter settles where it reserved).
    pub backend: Backend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Redis,
}

/// Why a limiter said no: a limit, or a backend that could not decide.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    Limit(LimitError),
    Backend(String),
}

impl From<LimitError> for Refusal {
    fn from(e: LimitError) -> Self {
        Self::Limit(e)
    }
}

/// Counters and windows for virtual keys.
pub trait Limiter: Send + Sync {
    /// Checks every limit of `ask` and, if all pass, counts the request, reserves its tokens
    /// and its cost, in one atomic step.
    fn reserve<'a>(&'a self, ask: &'a Ask) -> BoxFuture<'a, Result<Grant, Refusal>>;

    /// Replaces the grant's reservation with what was used: the TPM window is corrected by
    /// `actual_tokens - grant.tokens`, the reserved cost released and `actual_cost_nano`
    /// added to spend. Settling a grant twice adds its cost twice but releases it once.
    fn settle<'a>(
        &'a self,
        grant: &'a Grant,
        actual_tokens: u64,
        actual_cost_nano: i64,
    ) -> BoxFuture<'a, Result<Usage, String>>;

    /// The last usage this limiter saw for a key, without I/O.
    fn usage(&self, key_id: &str) -> Option<Usage>;

    /// Fresh usage of `key_ids` (for reports; may do I/O).
    fn spend<'a>(
        &'a self,
        key_ids: &'a [String],
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Vec<Usage>, String>>;
}

/// The window index of `now_ms` and the weight of the previous window, in millionths.
pub fn window_of(now_ms: u64) -> (u64, u64) {
    let elapsed = now_ms % WINDOW_MS;
    (
        now_ms / WINDOW_MS,
        (WINDOW_MS - elapsed) * 1_000_000 / WINDOW_MS,
    )
}

/// Whether `cost` more fits: `curr + prev × weight + cost ≤ limit`.
pub fn admits(curr: u64, prev: u64, weight_ppm: u64, cost: u64, limit: u64) -> bool {
    let load =
        (u128::from(curr) + u128::from(cost)) * PPM + u128::from(prev) * u128::from(weight_ppm);
    load <= u128::from(limit) * PPM
}

/// How long until `cost` more fits, given the counts that refused it.
pub fn retry_after(curr: u64, prev: u64, now_ms: u64, cost: u64, limit: u64) -> Duration {
    let w = WINDOW_MS as f64;
    let elapsed = (now_ms % WINDOW_MS) as f64;
    let cost = cost.min(limit) as f64;
    let (curr, prev, limit) = (curr as f64, prev as f64, limit as f64);
    let ms = if curr + cost <= limit && prev > 0.0 {
        // Wait until enough of the previous window has slid out.
        let weight_needed = (limit - curr - cost) / prev;
        (1.0 - weight_needed) * w - elapsed
    } else if curr > 0.0 {
        // Wait for the next window, then until enough of this one has slid out.
        let weight_needed = ((limit - cost) / curr).min(1.0);
        (w - elapsed) + (1.0 - weight_needed) * w
    } else {
        w - elapsed
    };
    Duration::from_millis(ms.ceil().max(1.0) as u64)
}

/// The refusal for a full RPM or TPM window.
pub fn rate_limited(
    what: &str,
    limit: u64,
    curr: u64,
    prev: u64,
    ask: &Ask,
    cost: u64,
) -> LimitError {
    LimitError::RateLimited {
        retry_after: retry_after(curr, prev, ask.now_ms, cost, limit),
        what: format!("{limit} {what} per minute"),
    }
}

/// The refusal for a hard cap, if `used` (spent + reserved, nano) leaves no room for `ask`.
pub fn over_budget(ask: &Ask, used: [i64; 3]) -> Option<LimitError> {
    Period::ALL.into_iter().find_map(|p| {
        let cap = ask.hard[p.index()]?;
        let u = used[p.index()];
        (u >= cap || u.saturating_add(ask.cost_nano) > cap).then(|| LimitError::BudgetExceeded {
            period: p,
            cap: to_usd(cap),
            spent: to_usd(u),
            estimate: to_usd(ask.cost_nano),
            resets_in: match p {
                Period::Daily => Some(clock::until_next_day(ask.now_ms)),
                Period::Monthly => Some(clock::until_next_month(ask.now_ms)),
                Period::Total => None,
            },
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window() {
        // Half-way into a window: the previous one counts half.
        let (idx, w) = window_of(90_000);
        assert_eq!((idx, w), (1, 500_000));
        assert!(admits(20, 60, w, 1, 51));
        assert!(!admits(20, 60, w, 1, 50));
        assert!(admits(49, 0, w, 1, 50));
        assert!(!admits(50, 0, w, 1, 50));
    }

    #[test]
    fn retry_after_is_when_it_would_fit() {
        // 50 of 50 at the start of a window, no previous: the next window, then until most
        // of this one has slid out (1/50 of it).
        let d = retry_after(50, 0, 0, 1, 50);
        assert_eq!(d, Duration::from_millis(60_000 + 1_200));
        // 10 now, 80 before, limit 50, half-way: weight must fall to 39/80.
        let d = retry_after(10, 80, 30_000, 1, 50);
        let expected = ((1.0 - 39.0 / 80.0) * 60_000.0 - 30_000.0_f64).ceil() as u64;
        assert_eq!(d, Duration::from_millis(expected));
        let (_, w) = window_of(30_000 + expected);
        assert!(admits(10, 80, w, 1, 50));
    }

    #[test]
    fn money_is_integer_nanodollars() {
        assert_eq!(to_nano(0.03), 30_000_000);
        assert_eq!(to_nano(-1.0), 0);
        assert_eq!(to_nano(f64::NAN), 0);
        assert!((to_usd(to_nano(1.25)) - 1.25).abs() < 1e-12);
    }
}
