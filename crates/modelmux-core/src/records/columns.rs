//! The columns both SQL stores keep per record: the ones reports filter and group on, plus
//! the whole record as JSON (`body`), so a record reads back exactly as it was written and
//! new fields need no migration. Values are converted once here for both backends.

use super::record::Record;
use super::store::StoreError;

/// Column names in insert order (the tables of both backends use them).
pub(crate) const NAMES: [&str; 28] = [
    "request_id",
    "time_ms",
    "key_id",
    "team",
    "client_format",
    "route",
    "rule",
    "target",
    "status",
    "error",
    "failed",
    "attempts",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "catalog_version",
    "stream_completed",
    "body",
    "tenant",
    "episode_id",
    "episode_turn",
    "client_request_id",
    "intent",
];

/// One record as column values.
pub(crate) struct Row<'a> {
    pub request_id: &'a str,
    pub time_ms: i64,
    pub key_id: Option<&'a str>,
    pub team: Option<&'a str>,
    pub client_format: &'a str,
    pub route: &'a str,
    pub rule: Option<&'a str>,
    pub target: Option<&'a str>,
    pub status: Option<i32>,
    pub error: Option<&'a str>,
    pub failed: bool,
    pub attempts: i32,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub cost_usd: Option<f64>,
    pub catalog_version: Option<&'a str>,
    pub stream_completed: Option<bool>,
    pub body: String,
    pub tenant: Option<&'a str>,
    pub episode_id: Option<&'a str>,
    pub episode_turn: Option<i32>,
    pub client_request_id: Option<&'a str>,
    /// The classified intent, from the decision string.
    pub intent: Option<&'a str>,
}

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<'a> Row<'a> {
    pub fn of(r: &'a Record) -> Result<Self, StoreError> {
        let body = serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Self {
            request_id: &r.request_id,
            time_ms: r.time_ms(),
            key_id: r.key.as_deref(),
            team: r.team.as_deref(),
            client_format: &r.client_format,
            route: &r.route,
            rule: r.rule.as_deref(),
            target: r.target.as_deref(),
            status: r.status.map(i32::from),
            error: r.error.as_deref(),
            failed: r.failed(),
            attempts: i32::try_from(r.attempts.len()).unwrap_or(i32::MAX),
            latency_ms: big(r.latency_ms),
            ttft_ms: r.ttft_ms.map(big),
            input_tokens: big(r.tokens.input),
            output_tokens: big(r.tokens.output),
            cache_read_tokens: big(r.tokens.cache_read),
            cache_write_tokens: big(r.tokens.cache_write),
            reasoning_tokens: big(r.tokens.reasoning),
            cost_usd: r.cost_usd.filter(|c| c.is_finite()),
            catalog_version: r.catalog_version.as_deref(),
            stream_completed: r.stream.as_ref().map(|s| s.completed),
            body,
            tenant: r.tenant.as_deref(),
            episode_id: r.episode_id.as_deref(),
            episode_turn: r.episode_turn.map(|t| i32::try_from(t).unwrap_or(i32::MAX)),
            client_request_id: r.client_request_id.as_deref(),
            intent: super::report::intent_of(&r.decision),
        })
    }
}

/// A record back from its `body` column.
pub(crate) fn decode(body: &str) -> Result<Record, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Non-negative column values back as `u64`.
pub(crate) fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The report's `SELECT` of one sample per record since a time (`?1`/`$1` is the bound
/// time); `{group}` is a fixed column name from `GroupBy::column`.
pub(crate) fn sample_query(table: &str, group: &str, placeholder: &str) -> String {
    format!(
        "SELECT {group}, latency_ms, ttft_ms, failed, attempts, cost_usd FROM {table} \
         WHERE time_ms >= {placeholder}"
    )
}

/// The outcomes `SELECT`: one row per record since a time (`?1`/`$1`), with the columns
/// `outcomes::RequestRow` and the `--filter` fields need, in `OutcomeRow` order; `{group}` is
/// a fixed column name from `GroupBy::column`.
pub(crate) fn outcome_query(table: &str, group: &str, placeholder: &str) -> String {
    format!(
        "SELECT tenant, COALESCE(client_request_id, request_id), {group}, episode_id, \
         latency_ms, ttft_ms, failed, attempts, cost_usd, route, target, rule, key_id, team, \
         status, error, stream_completed FROM {table} WHERE time_ms >= {placeholder}"
    )
}

/// The feedback values `SELECT` since a time (`?1`/`$1`); `{table}` is the feedback table.
pub(crate) fn feedback_value_query(table: &str, placeholder: &str) -> String {
    format!(
        "SELECT tenant, request_id, episode_id, metric, value_num, time_ms FROM {table} \
         WHERE time_ms >= {placeholder}"
    )
}
