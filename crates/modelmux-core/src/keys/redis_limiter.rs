//! The Redis `Limiter`, shared by every instance that points at one Redis with one prefix.
//! Each decision is one Lua script, so the checks and the increments of RPM, TPM and the
//! three budget counters happen atomically on the Redis side: N instances enforce one global
//! limit. All keys of one virtual key share a hash tag (`{prefix:key_id}`), so the scripts
//! also run on a Redis Cluster.
//!
//! Budget reservations are remembered per grant (a sorted set scored by expiry and a hash of
//! amounts): settling removes the grant and releases its amount exactly once, and a grant an
//! instance never settled (it crashed) is released by the next reservation after
//! `reservation_ttl`, so a crash cannot eat a budget for good.
//!
//! Time comes from the caller's clock, not Redis `TIME`, so tests can move it; instances'
//! clocks need only agree to well under a minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::clock::{self, DAY_MS};
use super::key::Period;
use super::limiter::{self, Ask, Backend, Grant, Limiter, Refusal, Usage, WINDOW_MS, window_of};

/// KEYS: rpm curr, rpm prev, tpm curr, tpm prev, spend day, spend month, spend total,
/// reservations (zset), reservation amounts (hash).
/// ARGV: rpm limit (0 = none), tpm limit (0 = none), tokens, prev-window weight (ppm),
/// cost, hard day / month / total (-1 = none), now ms, window ttl ms, day ttl ms,
/// month ttl ms, grant id, reservation expiry ms, day, month, key base.
/// Returns {code, spent d, reserved d, spent m, reserved m, spent t, reserved t, a, b}:
/// code 0 = admitted, 1 = budget (a = period index), 2 = rpm, 3 = tpm (a, b = curr, prev).
const RESERVE: &str = r#"
local now = tonumber(ARGV[9])
local base = ARGV[17]
-- Release reservations whose instance never settled them.
local expired = redis.call('ZRANGEBYSCORE', KEYS[8], '-inf', now)
for _, id in ipairs(expired) do
  local v = redis.call('HGET', KEYS[9], id)
  if v then
    local c, d, m = string.match(v, '^(%-?%d+):(%d+):(%d+)$')
    c = tonumber(c)
    local dk = base .. ':spend:d:' .. d
    local mk = base .. ':spend:m:' .. m
    if redis.call('EXISTS', dk) == 1 then redis.call('HINCRBY', dk, 'reserved', -c) end
    if redis.call('EXISTS', mk) == 1 then redis.call('HINCRBY', mk, 'reserved', -c) end
    redis.call('HINCRBY', KEYS[7], 'reserved', -c)
    redis.call('HDEL', KEYS[9], id)
  end
  redis.call('ZREM', KEYS[8], id)
end
local function num(x) return tonumber(x) or 0 end
local s = {}
for i = 5, 7 do
  local r = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  s[#s + 1] = num(r[1])
  s[#s + 1] = math.max(num(r[2]), 0)
end
local cost = tonumber(ARGV[5])
for i = 0, 2 do
  local cap = tonumber(ARGV[6 + i])
  if cap >= 0 then
    local used = s[2 * i + 1] + s[2 * i + 2]
    if used >= cap or used + cost > cap then
      return {1, s[1], s[2], s[3], s[4], s[5], s[6], i, 0}
    end
  end
end
local weight = tonumber(ARGV[4])
local rpm = tonumber(ARGV[1])
if rpm > 0 then
  local c, p = num(redis.call('GET', KEYS[1])), num(redis.call('GET', KEYS[2]))
  if (c + 1) * 1000000 + p * weight > rpm * 1000000 then
    return {2, s[1], s[2], s[3], s[4], s[5], s[6], c, p}
  end
end
local tpm = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
if tpm > 0 then
  local c, p = num(redis.call('GET', KEYS[3])), num(redis.call('GET', KEYS[4]))
  if (c + tokens) * 1000000 + p * weight > tpm * 1000000 then
    return {3, s[1], s[2], s[3], s[4], s[5], s[6], c, p}
  end
end
local wttl = ARGV[10]
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], wttl)
redis.call('INCRBY', KEYS[3], tokens)
redis.call('PEXPIRE', KEYS[3], wttl)
for i = 5, 7 do
  redis.call('HINCRBY', KEYS[i], 'reserved', cost)
end
redis.call('PEXPIRE', KEYS[5], ARGV[11])
redis.call('PEXPIRE', KEYS[6], ARGV[12])
redis.call('ZADD', KEYS[8], ARGV[14], ARGV[13])
redis.call('HSET', KEYS[9], ARGV[13], cost .. ':' .. ARGV[15] .. ':' .. ARGV[16])
return {0, s[1], s[2] + cost, s[3], s[4] + cost, s[5], s[6] + cost, 0, 0}
"#;

/// KEYS: tpm window of the grant, spend day, spend month, spend total, reservations,
/// reservation amounts. ARGV: token delta, actual cost, grant id, day ttl ms, month ttl ms.
/// Returns {spent d, reserved d, spent m, reserved m, spent t, reserved t}.
const SETTLE: &str = r#"
local delta = tonumber(ARGV[1])
if delta ~= 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('INCRBY', KEYS[1], delta) < 0 then
    redis.call('SET', KEYS[1], 0, 'KEEPTTL')
  end
end
local reserved = 0
local v = redis.call('HGET', KEYS[6], ARGV[3])
if v then
  reserved = tonumber(string.match(v, '^(%-?%d+):'))
  redis.call('HDEL', KEYS[6], ARGV[3])
  redis.call('ZREM', KEYS[5], ARGV[3])
end
local out = {}
for i = 2, 4 do
  if reserved ~= 0 then redis.call('HINCRBY', KEYS[i], 'reserved', -reserved) end
  redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2])
  local r = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  out[#out + 1] = tonumber(r[1]) or 0
  out[#out + 1] = math.max(tonumber(r[2]) or 0, 0)
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return out
"#;

/// Day counters outlive their day by one more; month counters theirs by 31 days.
const DAY_TTL_MS: u64 = 2 * DAY_MS;
const MONTH_TTL_MS: u64 = 62 * DAY_MS;

pub struct RedisLimiter {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    reservation_ttl: Duration,
    reserve: Script,
    settle: Script,
    seen: Mutex<HashMap<String, Usage>>,
}

impl RedisLimiter {
    /// A limiter on `url`; connects lazily, so an unreachable Redis is found on first use.
    pub fn new(
        url: &str,
        prefix: &str,
        timeout: Duration,
        reservation_ttl: Duration,
    ) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| redis_error(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|e| redis_error(&e))?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            timeout,
            reservation_ttl,
            reserve: Script::new(RESERVE),
            settle: Script::new(SETTLE),
            seen: Mutex::new(HashMap::new()),
        })
    }

    fn base(&self, key_id: &str) -> String {
        format!("{{{}:{}}}", self.prefix, key_id)
    }

    fn remember(&self, key_id: &str, usage: Usage) {
        if let Ok(mut seen) = self.seen.lock() {
            match seen.get_mut(key_id) {
                Some(u) => *u = usage,
                None => {
                    seen.insert(key_id.to_owned(), usage);
                }
            }
        }
    }

    async fn timed<T>(&self, f: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(redis_error(&e)),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }

    async fn do_reserve(&self, ask: &Ask) -> Result<Grant, Refusal> {
        let base = self.base(&ask.key_id);
        let (index, weight) = window_of(ask.now_ms);
        let (day, month) = (ask.day(), ask.month());
        let tokens = ask.window_tokens();
        let hard = ask.hard.map(|h| h.unwrap_or(-1));
        let expiry =
            ask.now_ms + u64::try_from(self.reservation_ttl.as_millis()).unwrap_or(u64::MAX / 2);
        let mut inv = self.reserve.prepare_invoke();
        inv.key(format!("{base}:rpm:{index}"))
            .key(format!("{base}:rpm:{}", index.wrapping_sub(1)))
            .key(format!("{base}:tpm:{index}"))
            .key(format!("{base}:tpm:{}", index.wrapping_sub(1)))
            .key(format!("{base}:spend:d:{day}"))
            .key(format!("{base}:spend:m:{month}"))
            .key(format!("{base}:spend:t"))
            .key(format!("{base}:res"))
            .key(format!("{base}:resamt"))
            .arg(ask.rpm.unwrap_or(0))
            .arg(ask.tpm.unwrap_or(0))
            .arg(tokens)
            .arg(weight)
            .arg(ask.cost_nano)
            .arg(hard[0])
            .arg(hard[1])
            .arg(hard[2])
            .arg(ask.now_ms)
            .arg(2 * WINDOW_MS + 1000)
            .arg(DAY_TTL_MS)
            .arg(MONTH_TTL_MS)
            .arg(&ask.grant_id)
            .arg(expiry)
            .arg(day)
            .arg(month)
            .arg(&base);
        let mut conn = self.conn.clone();
        let r: Vec<i64> = self
            .timed(inv.invoke_async(&mut conn))
            .await
            .map_err(Refusal::Backend)?;
        if r.len() != 9 {
            return Err(Refusal::Backend(format!(
                "reserve script returned {} values",
                r.len()
            )));
        }
        let usage = Usage {
            day,
            month,
            spend: [(r[1], r[2]), (r[3], r[4]), (r[5], r[6])],
        };
        self.remember(&ask.key_id, usage);
        let (a, b) = (
            u64::try_from(r[7]).unwrap_or(0),
            u64::try_from(r[8]).unwrap_or(0),
        );
        match r[0] {
            0 => Ok(Grant {
                key_id: ask.key_id.clone(),
                id: ask.grant_id.clone(),
                tokens,
                tpm_window: index,
                cost_nano: ask.cost_nano,
                day,
                month,
                usage,
                backend: Backend::Redis,
            }),
            1 => {
                let used = Period::ALL.map(|p| usage.used(p, ask.now_ms));
                let err = limiter::over_budget(ask, used).unwrap_or(
                    super::error::LimitError::BudgetExceeded {
                        period: Period::ALL[usize::try_from(a).unwrap_or(2).min(2)],
                        cap: 0.0,
                        spent: 0.0,
                        estimate: limiter::to_usd(ask.cost_nano),
                        resets_in: None,
                    },
                );
                Err(err.into())
            }
            2 => Err(limiter::rate_limited(
                "requests",
                u64::from(ask.rpm.unwrap_or(0)),
                a,
                b,
                ask,
                1,
            )
            .into()),
            3 => {
                Err(limiter::rate_limited("tokens", ask.tpm.unwrap_or(0), a, b, ask, tokens).into())
            }
            c => Err(Refusal::Backend(format!(
                "reserve script returned code {c}"
            ))),
        }
    }

    async fn do_settle(
        &self,
        grant: &Grant,
        actual_tokens: u64,
        actual_cost: i64,
    ) -> Result<Usage, String> {
        let base = self.base(&grant.key_id);
        let delta = i64::try_from(actual_tokens).unwrap_or(i64::MAX)
            - i64::try_from(grant.tokens).unwrap_or(i64::MAX);
        let mut inv = self.settle.prepare_invoke();
        inv.key(format!("{base}:tpm:{}", grant.tpm_window))
            .key(format!("{base}:spend:d:{}", grant.day))
            .key(format!("{base}:spend:m:{}", grant.month))
            .key(format!("{base}:spend:t"))
            .key(format!("{base}:res"))
            .key(format!("{base}:resamt"))
            .arg(delta)
            .arg(actual_cost)
            .arg(&grant.id)
            .arg(DAY_TTL_MS)
            .arg(MONTH_TTL_MS);
        let mut conn = self.conn.clone();
        let r: Vec<i64> = self.timed(inv.invoke_async(&mut conn)).await?;
        if r.len() != 6 {
            return Err(format!("settle script returned {} values", r.len()));
        }
        let usage = Usage {
            day: grant.day,
            month: grant.month,
            spend: [(r[0], r[1]), (r[2], r[3]), (r[4], r[5])],
        };
        self.remember(&grant.key_id, usage);
        Ok(usage)
    }

    async fn do_spend(&self, key_ids: &[String], now_ms: u64) -> Result<Vec<Usage>, String> {
        let (day, month) = (clock::day_of(now_ms), clock::month_of(now_ms));
        let mut pipe = redis::pipe();
        for id in key_ids {
            let base = self.base(id);
            for k in [
                format!("{base}:spend:d:{day}"),
                format!("{base}:spend:m:{month}"),
                format!("{base}:spend:t"),
            ] {
                pipe.cmd("HMGET").arg(k).arg("spent").arg("reserved");
            }
        }
        let mut conn = self.conn.clone();
        let rows: Vec<(Option<i64>, Option<i64>)> = self.timed(pipe.query_async(&mut conn)).await?;
        Ok(rows
            .chunks(3)
            .map(|c| {
                let get = |i: usize| {
                    c.get(i)
                        .map_or((0, 0), |(s, r)| (s.unwrap_or(0), r.unwrap_or(0).max(0)))
                };
                Usage {
                    day,
                    month,
                    spend: [get(0), get(1), get(2)],
                }
            })
            .collect())
    }
}

impl Limiter for RedisLimiter {
    fn reserve<'a>(&'a self, ask: &'a Ask) -> BoxFuture<'a, Result<Grant, Refusal>> {
        Box::pin(self.do_reserve(ask))
    }

    fn settle<'a>(
        &'a self,
        grant: &'a Grant,
        actual_tokens: u64,
        actual_cost_nano: i64,
    ) -> BoxFuture<'a, Result<Usage, String>> {
        Box::pin(self.do_settle(grant, actual_tokens, actual_cost_nano))
    }

    fn usage(&self, key_id: &str) -> Option<Usage> {
        self.seen.lock().ok()?.get(key_id).copied()
    }

    fn spend<'a>(
        &'a self,
        key_ids: &'a [String],
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Vec<Usage>, String>> {
        Box::pin(self.do_spend(key_ids, now_ms))
    }
}

/// A Redis error as text; the URL (and so any password in it) is never part of it.
fn redis_error(e: &redis::RedisError) -> String {
    format!("{:?}: {}", e.kind(), e.detail().unwrap_or("request failed"))
}
