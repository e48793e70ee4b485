//! The in-process `Limiter`: every key's RPM and TPM windows and its day, month and total
//! spend behind one mutex, held only for the few arithmetic steps of a decision (never across
//! an await). One instance, or the fallback of the Redis limiter while Redis is unreachable:
//! then each instance enforces the full limits on its own.

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::future::BoxFuture;

use super::key::Period;
use super::limiter::{
    self, Ask, Backend, Grant, Limiter, Refusal, Usage, admits, over_budget, window_of,
};

#[derive(Debug, Default)]
struct Window {
    index: u64,
    curr: u64,
    prev: u64,
}

impl Window {
    fn roll(&mut self, index: u64) {
        if index == self.index {
        } else if index == self.index + 1 {
            self.prev = self.curr;
            self.curr = 0;
            self.index = index;
        } else if index > self.index {
            self.prev = 0;
            self.curr = 0;
            self.index = index;
        }
    }
}

#[derive(Debug, Default)]
struct KeyState {
    rpm: Window,
    tpm: Window,
    usage: Usage,
}

impl KeyState {
    /// Starts a new day or month at zero.
    fn roll_periods(&mut self, day: u64, month: u64) {
        if self.usage.day != day {
            self.usage.day = day;
            self.usage.spend[Period::Daily.index()] = (0, 0);
        }
        if self.usage.month != month {
            self.usage.month = month;
            self.usage.spend[Period::Monthly.index()] = (0, 0);
        }
    }
}

#[derive(Debug, Default)]
pub struct LocalLimiter {
    keys: Mutex<HashMap<String, KeyState>>,
}

impl LocalLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a key's spend from `usage` (what Redis last said) unless this limiter already
    /// counts the key: a fallback then continues from the shared spend, not from zero.
    pub fn seed(&self, key_id: &str, usage: Usage) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.entry(key_id.to_owned()).or_insert_with(|| KeyState {
                usage,
                ..KeyState::default()
            });
        }
    }

    /// Clears every count.
    pub fn clear(&self) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.clear();
        }
    }

    pub(crate) fn decide(&self, ask: &Ask) -> Result<Grant, Refusal> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| Refusal::Backend("local limiter lock poisoned".into()))?;
        let st = keys.entry(ask.key_id.clone()).or_default();
        let (day, month) = (ask.day(), ask.month());
        st.roll_periods(day, month);
        let used = Period::ALL.map(|p| st.usage.used(p, ask.now_ms));
        if let Some(e) = over_budget(ask, used) {
            return Err(e.into());
        }
        let (index, weight) = window_of(ask.now_ms);
        st.rpm.roll(index);
        st.tpm.roll(index);
        if let Some(l) = ask.rpm {
            let l = u64::from(l);
            if !admits(st.rpm.curr, st.rpm.prev, weight, 1, l) {
                return Err(
                    limiter::rate_limited("requests", l, st.rpm.curr, st.rpm.prev, ask, 1).into(),
                );
            }
        }
        let tokens = ask.window_tokens();
        if let Some(l) = ask.tpm
            && !admits(st.tpm.curr, st.tpm.prev, weight, tokens, l)
        {
            return Err(
                limiter::rate_limited("tokens", l, st.tpm.curr, st.tpm.prev, ask, tokens).into(),
            );
        }
        st.rpm.curr += 1;
        st.tpm.curr = st.tpm.curr.saturating_add(tokens);
        for (_, r) in &mut st.usage.spend {
            *r = r.saturating_add(ask.cost_nano);
        }
        Ok(Grant {
            key_id: ask.key_id.clone(),
            id: ask.grant_id.clone(),
            tokens,
            tpm_window: index,
            cost_nano: ask.cost_nano,
            day,
            month,
            usage: st.usage,
            backend: Backend::Local,
        })
    }

    fn apply(&self, grant: &Grant, actual_tokens: u64, actual_cost: i64) -> Result<Usage, String> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| "local limiter lock poisoned".to_owned())?;
        let st = keys.entry(grant.key_id.clone()).or_default();
        // Correct the window the tokens were counted in, if it still counts.
        let slot = if st.tpm.index == grant.tpm_window {
            Some(&mut st.tpm.curr)
        } else if st.tpm.index == grant.tpm_window + 1 {
            Some(&mut st.tpm.prev)
        } else {
            None
        };
        if let Some(v) = slot {
            *v = if actual_tokens >= grant.tokens {
                v.saturating_add(actual_tokens - grant.tokens)
            } else {
                v.saturating_sub(grant.tokens - actual_tokens)
            };
        }
        for p in Period::ALL {
            let same = match p {
                Period::Daily => st.usage.day == grant.day,
                Period::Monthly => st.usage.month == grant.month,
                Period::Total => true,
            };
            if same {
                let (s, r) = &mut st.usage.spend[p.index()];
                *r = (*r - grant.cost_nano).max(0);
                *s = s.saturating_add(actual_cost);
            }
        }
        Ok(st.usage)
    }
}

impl Limiter for LocalLimiter {
    fn reserve<'a>(&'a self, ask: &'a Ask) -> BoxFuture<'a, Result<Grant, Refusal>> {
        let r = self.decide(ask);
        Box::pin(async move { r })
    }

    fn settle<'a>(
        &'a self,
        grant: &'a Grant,
        actual_tokens: u64,
        actual_cost_nano: i64,
    ) -> BoxFuture<'a, Result<Usage, String>> {
        let r = self.apply(grant, actual_tokens, actual_cost_nano);
        Box::pin(async move { r })
    }

    fn usage(&self, key_id: &str) -> Option<Usage> {
        self.keys.lock().ok()?.get(key_id).map(|s| s.usage)
    }

    fn spend<'a>(
        &'a self,
        key_ids: &'a [String],
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Vec<Usage>, String>> {
        let out = key_ids
            .iter()
            .map(|id| {
                let mut u = self.usage(id).unwrap_or_default();
                let (d, m) = (super::clock::day_of(now_ms), super::clock::month_of(now_ms));
                if u.day != d {
                    u.day = d;
                    u.spend[Period::Daily.index()] = (0, 0);
                }
                if u.month != m {
                    u.month = m;
                    u.spend[Period::Monthly.index()] = (0, 0);
                }
                u
            })
            .collect();
        Box::pin(async move { Ok(out) })
    }
}
