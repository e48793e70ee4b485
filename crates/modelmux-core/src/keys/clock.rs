//! Wall-clock time for rate windows and budget periods, behind a trait so tests move it by
//! hand (`ManualClock`) instead of sleeping. Periods are UTC: a day is `unix_ms / 86_400_000`,
//! a month is `year * 12 + month - 1` of the civil date.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told; clones share one time.
#[derive(Debug, Default, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn new(now_ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(now_ms)))
    }

    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub const DAY_MS: u64 = 86_400_000;

/// The UTC day number.
pub fn day_of(now_ms: u64) -> u64 {
    now_ms / DAY_MS
}

/// The UTC month number (`year * 12 + month - 1`).
pub fn month_of(now_ms: u64) -> u64 {
    let (y, m, _) = civil_from_days(day_of(now_ms));
    y * 12 + (m - 1)
}

/// Milliseconds until the current UTC day ends.
pub fn until_next_day(now_ms: u64) -> Duration {
    Duration::from_millis(DAY_MS - now_ms % DAY_MS)
}

/// Milliseconds until the current UTC month ends.
pub fn until_next_month(now_ms: u64) -> Duration {
    let (y, m, _) = civil_from_days(day_of(now_ms));
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let next = days_from_civil(ny, nm, 1) * DAY_MS;
    Duration::from_millis(next.saturating_sub(now_ms))
}

/// Howard Hinnant's `civil_from_days` for days since 1970-01-01 (non-negative only).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        // 2024-02-29T12:00:00Z
        let t = 1_709_208_000_000;
        assert_eq!(civil_from_days(day_of(t)), (2024, 2, 29));
        assert_eq!(month_of(t), 2024 * 12 + 1);
        assert_eq!(until_next_month(t), Duration::from_secs(12 * 3600));
        assert_eq!(until_next_day(t), Duration::from_secs(12 * 3600));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2025, 1, 1), 20_089);
        assert_eq!(month_of(days_from_civil(2025, 1, 1) * DAY_MS), 2025 * 12);
    }
}
