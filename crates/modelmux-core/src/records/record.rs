//! The record of one request: who asked (key, team, tenant; episode and turn; the client's
//! own request id), how it was routed (route, rule, the
//! compact decision), every attempt the dispatcher made, what answered, the tokens, the cost
//! and the catalog version that priced it, and how a stream ended. The lead fills one on the
//! request path and hands it to `RecordSink::send`; the writer stores it as written here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One request that reached the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The gateway's request id (`x-modelmux-request-id`); unique, the store's primary key,
    /// so a record written twice (a replayed spill, a retried batch) is stored once.
    pub request_id: String,
    /// When the request arrived, as Unix milliseconds in JSON.
    #[serde(with = "unix_ms")]
    pub time: SystemTime,
    /// The client key's id or name (never the key itself); `None` when unauthenticated.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    /// `openai_chat`, `openai_responses`, `anthropic`: the wire format the client spoke
    /// (`WireFormat::name`).
    pub client_format: String,
    pub route: String,
    /// The policy rule that chose the route, if one did.
    #[serde(default)]
    pub rule: Option<String>,
    /// `Decision::compact()`.
    #[serde(default)]
    pub decision: String,
    /// Every upstream call, in order, hedges included.
    #[serde(default)]
    pub attempts: Vec<AttemptRecord>,
    /// The target that produced the answer (`provider/model`); `None` when nothing did.
    #[serde(default)]
    pub target: Option<String>,
    /// The status the client was answered with.
    #[serde(default)]
    pub status: Option<u16>,
    /// The error kind the client got, when the request failed.
    #[serde(default)]
    pub error: Option<String>,
    /// From arrival to the last byte sent.
    #[serde(default)]
    pub latency_ms: u64,
    /// From arrival to the first content byte sent (streams) or `None`.
    #[serde(default)]
    pub ttft_ms: Option<u64>,
    #[serde(default)]
    pub tokens: Tokens,
    /// USD; `None` when the answering target has no price.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// `Catalog::builtin().version` (or `config` for prices from the config) that priced it.
    #[serde(default)]
    pub catalog_version: Option<String>,
    /// How a streamed answer ended; `None` for non-streaming requests.
    #[serde(default)]
    pub stream: Option<StreamOutcome>,
    /// The prompt and the answer, only on routes listed in `[store] capture`; redacted by the
    /// writer before anything reaches a disk.
    #[serde(default)]
    pub capture: Option<Capture>,
    /// The caller's tenant (`Caller::tenant`: `open`, `master`, `key:<id>`).
    #[serde(default)]
    pub tenant: Option<String>,
    /// The episode the request belongs to (`crate::episode`), once it was known.
    #[serde(default)]
    pub episode_id: Option<String>,
    /// Which request of its episode this is (1 for the first).
    #[serde(default)]
    pub episode_turn: Option<u32>,
    /// The client's own `x-modelmux-request-id`, unique per tenant; `None` when it sent none
    /// (and on the 409 that refused a duplicate, so the first keeps it).
    #[serde(default)]
    pub client_request_id: Option<String>,
}

/// One upstream call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// `provider/model`.
    pub target: String,
    /// The upstream HTTP status, when one came back.
    #[serde(default)]
    pub status: Option<u16>,
    /// The error kind (`rate_limited`, `timeout`, `connect`, ...) when the attempt failed.
    #[serde(default)]
    pub error: Option<String>,
    pub latency_ms: u64,
    #[serde(default)]
    pub ttft_ms: Option<u64>,
    /// Started as a hedge alongside another attempt.
    #[serde(default)]
    pub hedge: bool,
}

/// Token counts in the canonical sense (`modelmux_wire::Usage`): `input` includes cache
/// reads and writes, `output` includes reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    #[serde(default)]
    pub cache_read: u64,
    #[serde(default)]
    pub cache_write: u64,
    #[serde(default)]
    pub reasoning: u64,
}

impl From<modelmux_wire::Usage> for Tokens {
    fn from(u: modelmux_wire::Usage) -> Self {
        Self {
            input: u.input,
            output: u.output,
            cache_read: u.cache_read,
            cache_write: u.cache_write,
            reasoning: u.reasoning,
        }
    }
}

impl From<Tokens> for modelmux_wire::Usage {
    fn from(t: Tokens) -> Self {
        Self {
            input: t.input,
            output: t.output,
            cache_read: t.cache_read,
            cache_write: t.cache_write,
            reasoning: t.reasoning,
        }
    }
}

/// How a stream ended: completed, or cut (after the commit point) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamOutcome {
    pub completed: bool,
    /// Why it was cut (`upstream_error`, `idle_timeout`, `client_gone`, ...).
    #[serde(default)]
    pub cut_reason: Option<String>,
    /// Chunks sent to the client before it ended.
    #[serde(default)]
    pub chunks_sent: u64,
}

/// The prompt and the answer as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    pub prompt: String,
    pub response: String,
}

impl Record {
    /// A record with the request id and arrival time set and everything else empty.
    pub fn new(request_id: impl Into<String>, time: SystemTime) -> Self {
        Self {
            request_id: request_id.into(),
            time,
            key: None,
            team: None,
            client_format: String::new(),
            route: String::new(),
            rule: None,
            decision: String::new(),
            attempts: Vec::new(),
            target: None,
            status: None,
            error: None,
            latency_ms: 0,
            ttft_ms: None,
            tokens: Tokens::default(),
            cost_usd: None,
            catalog_version: None,
            stream: None,
            capture: None,
            tenant: None,
            episode_id: None,
            episode_turn: None,
            client_request_id: None,
        }
    }

    /// Sets tokens, cost and the catalog version from one usage and the target's price.
    pub fn price(
        &mut self,
        usage: modelmux_wire::Usage,
        price: Option<&crate::catalog::Price>,
        catalog_version: &str,
    ) {
        self.tokens = usage.into();
        self.cost_usd = price.map(|p| p.cost(&usage));
        self.catalog_version = price.map(|_| catalog_version.to_owned());
    }

    /// The request failed: an error answer, or a stream cut after its commit point.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.stream.as_ref().is_some_and(|s| !s.completed)
    }

    /// More than one upstream call was needed (retry, fallback or hedge).
    pub fn fell_back(&self) -> bool {
        self.attempts.len() > 1
    }

    /// Arrival time as Unix milliseconds (what the stores index).
    pub fn time_ms(&self) -> i64 {
        to_unix_ms(self.time)
    }
}

/// Unix milliseconds of a time; times before 1970 are 0.
pub fn to_unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The time at Unix milliseconds (negative values are the epoch).
pub fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

mod unix_ms {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(super::to_unix_ms(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        i64::deserialize(d).map(super::from_unix_ms)
    }
}
