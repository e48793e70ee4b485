//! The two Lua scripts of shared circuit state: `REPORT` folds a batch of outcomes into each
//! target's window and opens its circuit when the failure share says so; `READ` returns the
//! state of many targets at once. Both take the time from Redis (`TIME`).

/// KEYS: per target, its outcome window (a string of `1` ok / `0` failed, oldest first) and
/// its state hash. ARGV: window, min_calls, failure rate (ppm), open_for ms, key ttl ms, then
/// per target its new outcomes (same alphabet) and the longest Retry-After among them (ms,
/// 0 = none). Returns per target {open ms left, consecutive openings, cooldown ms left}.
pub const REPORT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local min_calls = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local open_for = tonumber(ARGV[4])
local ttl = ARGV[5]
local out = {}
for i = 1, #KEYS / 2 do
  local wk, sk = KEYS[2 * i - 1], KEYS[2 * i]
  local seq = ARGV[4 + 2 * i]
  local retry = tonumber(ARGV[5 + 2 * i])
  local w = redis.call('GET', wk) or ''
  local st = redis.call('HMGET', sk, 'open_until', 'opens', 'cooldown_until')
  local open_until = tonumber(st[1]) or 0
  local opens = tonumber(st[2]) or 0
  local cooldown = tonumber(st[3]) or 0
  for j = 1, #seq do
    local ok = string.sub(seq, j, j) == '1'
    w = w .. (ok and '1' or '0')
    if #w > window then w = string.sub(w, #w - window + 1) end
    -- While the circuit is open, late outcomes only fill the window.
    if now >= open_until then
      if ok then
        opens = 0
        cooldown = 0
      else
        local _, fails = string.gsub(w, '0', '')
        -- opens > 0 with open_until passed is half-open: one failure opens it again.
        if opens > 0 or (#w >= min_calls and fails * 1000000 >= rate * #w) then
          opens = opens + 1
          local factor = 1
          for _ = 2, math.min(opens, 4) do factor = factor * 2 end
          open_until = now + open_for * factor
        end
      end
    end
  end
  if retry > 0 and now + retry > cooldown then cooldown = now + retry end
  redis.call('SET', wk, w, 'PX', ttl)
  redis.call('HSET', sk, 'open_until', open_until, 'opens', opens, 'cooldown_until', cooldown)
  redis.call('PEXPIRE', sk, ttl)
  out[#out + 1] = math.max(open_until - now, 0)
  out[#out + 1] = opens
  out[#out + 1] = math.max(cooldown - now, 0)
end
return out
"#;

/// KEYS: state hashes. Returns per key {open ms left, consecutive openings, cooldown ms left}.
pub const READ: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #KEYS do
  local st = redis.call('HMGET', KEYS[i], 'open_until', 'opens', 'cooldown_until')
  out[#out + 1] = math.max((tonumber(st[1]) or 0) - now, 0)
  out[#out + 1] = tonumber(st[2]) or 0
  out[#out + 1] = math.max((tonumber(st[3]) or 0) - now, 0)
end
return out
"#;
