//! The config file as written: plain serde structs with `deny_unknown_fields`, so a typo is
//! rejected with its exact path instead of being ignored. Nothing here is validated beyond
//! its TOML type; `validate` turns these into the typed `Config`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::duration::DurationSpec;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    /// Global defaults for every route's retry, timeout and fallback settings.
    #[serde(default)]
    pub router: RawRouter,
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// Ordered policy rules: the first whose `when` holds picks the route.
    #[serde(default)]
    pub rules: Vec<RawRule>,
    /// Intent labels from keyword and pattern rules over the last user message.
    #[serde(default)]
    pub intents: Vec<RawIntent>,
    #[serde(default)]
    pub health: RawHealth,
    /// Where records go (see `config::store`).
    #[serde(default)]
    pub store: super::store::RawStoreConfig,
    /// Virtual keys, budgets and rate limits (see `config::keys`).
    #[serde(default)]
    pub keys: super::keys::RawKeysConfig,
    /// Where episode ids come from (see `config::episodes`).
    #[serde(default)]
    pub episodes: super::episodes::RawEpisodesConfig,
    /// Quality signals clients may post to `/v1/feedback` (see `config::feedback`).
    #[serde(default)]
    pub metrics: Vec<super::feedback::RawMetric>,
    /// Feedback tokens (see `config::feedback`).
    #[serde(default)]
    pub feedback: super::feedback::RawFeedbackConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: String,
    /// A CEL expression over the request's features.
    pub when: String,
    /// The route to use when it holds.
    pub route: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntent {
    pub name: String,
    /// Case-insensitive substrings.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Regular expressions.
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// The passive circuit breaker of every target.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// Failure share over the recent window that opens the circuit (default 0.5).
    pub failure_rate: Option<f64>,
    /// Calls in the window before the rate counts (default 5).
    pub min_calls: Option<u32>,
    /// Outcomes remembered per target (default 20).
    pub window: Option<u32>,
    /// How long an open circuit stays open before a half-open probe (default 30s).
    pub open_for: Option<DurationSpec>,
    /// Share circuit state through `[keys] redis_url` when it is set (default true).
    pub shared: Option<bool>,
    /// How often each instance reads the shared circuit state (default 250ms).
    pub sync_interval: Option<DurationSpec>,
    /// Cooldown after a 429 that names no time, doubled per consecutive one (default 1s).
    pub rate_limit_backoff: Option<DurationSpec>,
    /// The longest such cooldown (default 60s).
    pub rate_limit_backoff_max: Option<DurationSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    #[serde(default)]
    pub master_keys: Vec<String>,
    pub max_body_bytes: Option<u64>,
    pub shutdown_grace: Option<DurationSpec>,
    /// How long `store: true` Responses API answers are kept (default 24h).
    pub responses_retention: Option<DurationSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub kind: String,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    /// Azure OpenAI: the `api-version` query value (omit for Azure's v1 API).
    pub api_version: Option<String>,
    /// Extra headers sent with every request to this provider (OpenRouter's `X-Title`, ...).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Known models of this provider and what the gateway should know about them.
    #[serde(default)]
    pub models: BTreeMap<String, RawModel>,
    /// OpenAI-compatible servers that only know `max_tokens` (not `max_completion_tokens`).
    pub legacy_max_tokens: Option<bool>,
    /// OpenAI-format providers that serve the Responses API (`{base}/responses`): Responses
    /// requests pass through to them unchanged.
    pub responses_api: Option<bool>,
    /// Anthropic: the `anthropic-version` header (default 2023-06-01) when the client sent none.
    pub anthropic_version: Option<String>,
    /// Vertex AI: the Google Cloud project and location (default us-central1).
    pub project: Option<String>,
    pub location: Option<String>,
    /// Vertex AI: a ready OAuth access token (else `credentials_file`, else
    /// GOOGLE_APPLICATION_CREDENTIALS).
    pub access_token: Option<String>,
    /// Vertex AI: a service-account key file, exchanged for access tokens.
    pub credentials_file: Option<String>,
    /// Vertex AI: the token endpoint, overriding the key file's `token_uri`.
    pub token_url: Option<String>,
    /// Bedrock: the AWS region (else AWS_REGION / AWS_DEFAULT_REGION).
    pub region: Option<String>,
    /// Bedrock: credentials (else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// Allow a `base_url` on a link-local or cloud metadata address (refused by default: a
    /// config that reaches the instance metadata service can leak its credentials).
    pub allow_link_local: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    /// Any of tools, vision, json_schema, reasoning, streaming.
    pub capabilities: Option<Vec<String>>,
    /// USD per million tokens.
    pub input_price: Option<f64>,
    pub output_price: Option<f64>,
    pub cache_read_price: Option<f64>,
    pub cache_write_price: Option<f64>,
}

/// Declares a struct with the retry, timeout and fallback settings as fields, after the
/// given leading fields. Routes and `[router]` share the settings, written out in each
/// rather than through `#[serde(flatten)]`, which would lose the error paths.
macro_rules! with_settings {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Default, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fm])* pub $field: $ty,)*
            /// Other routes to try, in order, when this route's own targets all fail.
            pub fallbacks: Option<Vec<String>>,
            /// Retries per target after its first attempt.
            pub num_retries: Option<u32>,
            /// Per-attempt timeout (for streams: until the response headers arrive).
            pub timeout: Option<DurationSpec>,
            /// The deadline for the whole request across attempts (for streams: until commit).
            pub total_timeout: Option<DurationSpec>,
            /// Streams: the longest wait for the first content chunk before trying elsewhere.
            pub ttft_timeout: Option<DurationSpec>,
            /// Streams: the longest silence between chunks once the stream reaches the client.
            pub stream_idle_timeout: Option<DurationSpec>,
            /// First backoff delay between retries; doubles each retry, with jitter.
            pub retry_backoff: Option<DurationSpec>,
            pub retry_backoff_max: Option<DurationSpec>,
            /// A provider's Retry-After up to this long is waited out; longer moves on.
            pub max_retry_after: Option<DurationSpec>,
            /// Hedging: after this long without an answer (`"300ms"`, or `"p95"` for the
            /// target's observed p95) the next candidate is called too; `"off"` disables.
            pub hedge_after: Option<String>,
            /// Hedging: the largest share of the route's requests that may be hedged.
            pub hedge_max_share: Option<f64>,
            /// Budgets: output tokens reserved per request before its answer is known
            /// (default: the route's observed p95 output, else 1,024; never above the clamp).
            pub reserve_output_tokens: Option<u64>,
        }

        impl $name {
            pub fn settings(&self) -> RawRouteSettings {
                RawRouteSettings {
                    num_retries: self.num_retries,
                    timeout: self.timeout,
                    total_timeout: self.total_timeout,
                    ttft_timeout: self.ttft_timeout,
                    stream_idle_timeout: self.stream_idle_timeout,
                    retry_backoff: self.retry_backoff,
                    retry_backoff_max: self.retry_backoff_max,
                    max_retry_after: self.max_retry_after,
                    hedge_after: self.hedge_after.clone(),
                    hedge_max_share: self.hedge_max_share,
                    reserve_output_tokens: self.reserve_output_tokens,
                }
            }
        }
    };
}

with_settings!(
    /// One `[[routes]]` entry.
    RawRoute {
        name: String,
        targets: Vec<String>,
        strategy: Option<String>,
        /// Other model names (globs with `*` and `?`) that resolve to this route, for
        /// clients that pick model names on their own (`claude-*-haiku-*`).
        #[serde(default)]
        aliases: Vec<String>,
        /// When a request asks for more output tokens than a target allows: `clamp` the
        /// request to the target's limit (default), or `filter` such targets out.
        max_output_policy: Option<String>,
        /// `weighted`: the weight of each target (`"provider/model" = 3`); default 1.
        #[serde(default)]
        weights: BTreeMap<String, u32>,
        /// A bound on a target's observed p95 time to first token; slower targets go last.
        max_ttft: Option<DurationSpec>,
    }
);

with_settings!(
    /// `[router]`: the defaults of every route, and what clients may choose by header.
    RawRouter {
        /// Routes (globs) a client may pick with `x-modelmux-route`, over what the rules say.
        #[serde(default)]
        header_routes: Vec<String>,
    }
);

/// Retry, timeout and fallback settings; each one optional so a route can override only
/// what it needs. Names follow what users know from other gateways.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteSettings {
    /// Retries per target after its first attempt.
    pub num_retries: Option<u32>,
    /// Per-attempt timeout (for streams: until the response headers arrive).
    pub timeout: Option<DurationSpec>,
    /// The deadline for the whole request across attempts (for streams: until commit).
    pub total_timeout: Option<DurationSpec>,
    /// Streams: the longest wait for the first content chunk before trying elsewhere.
    pub ttft_timeout: Option<DurationSpec>,
    /// Streams: the longest silence between chunks once the stream reaches the client.
    pub stream_idle_timeout: Option<DurationSpec>,
    /// First backoff delay between retries; doubles each retry, with jitter.
    pub retry_backoff: Option<DurationSpec>,
    pub retry_backoff_max: Option<DurationSpec>,
    /// A provider's Retry-After up to this long is waited out; longer moves to the next target.
    pub max_retry_after: Option<DurationSpec>,
    /// `"300ms"`, `"p95"` or `"off"`: when to call the next candidate alongside a slow one.
    pub hedge_after: Option<String>,
    /// At most this share of requests is hedged (0 < share ≤ 1).
    pub hedge_max_share: Option<f64>,
    /// Output tokens a budget reservation assumes per request.
    pub reserve_output_tokens: Option<u64>,
}
