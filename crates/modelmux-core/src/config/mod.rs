//! Configuration: the TOML contract of DESIGN.md, read raw (`raw`), interpolated
//! (`interpolate`), then validated into the typed `Config` (`validate`, with
//! `validate::providers` for `[providers.*]`) with every error naming its exact path. The
//! `[store]`, `[keys]` and `[episodes]` sections live here too (`store`, `keys`, `episodes`). Without a file,
//! `defaults` builds the embedded default from the provider keys found in the environment.
//!
//! `config` imports nothing from the rest of the crate but the leaves `ids`, `secret` and
//! `catalog` (which import nothing from the crate themselves); the `isolation` test checks
//! it. What needs more (policy rules compiled to CEL programs, the record store, the key
//! store) is built from a `Config` elsewhere: rules by `policy::Compiled::new`, called when
//! the app state is built and by `modelmux check`.

mod defaults;
pub(crate) mod duration;
pub mod episodes;
pub mod feedback;
pub(crate) mod interpolate;
#[cfg(test)]
mod isolation;
pub mod keys;
mod raw;
pub mod store;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use crate::ids::{ModelId, ProviderId, RouteName, TargetRef};
use crate::secret::Secret;

pub use defaults::{WELL_KNOWN, WellKnown};

/// The validated configuration a gateway runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub providers: BTreeMap<ProviderId, ProviderConfig>,
    pub routes: Vec<RouteConfig>,
    /// The `[router]` defaults, used for direct `provider/model` calls.
    pub defaults: RouteSettings,
    pub rules: Vec<Rule>,
    pub intents: Vec<Intent>,
    pub health: HealthSettings,
    /// Route globs a client may pick with the `x-modelmux-route` header.
    pub header_routes: Vec<String>,
    pub store: store::StoreConfig,
    pub keys: keys::KeysConfig,
    /// Where episode ids come from (`[episodes]`).
    pub episodes: episodes::EpisodesConfig,
    /// `[[metrics]]`: what `/v1/feedback` accepts.
    pub metrics: Vec<feedback::Metric>,
    /// `[feedback]`: the feedback token signer and lifetime.
    pub feedback: feedback::FeedbackConfig,
    /// Providers that are known but not usable, with the reason (a missing key, say).
    pub disabled: Vec<(ProviderId, String)>,
    pub source: ConfigSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    Embedded,
    Inline,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub master_keys: Vec<Secret>,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    pub responses_retention: Duration,
}

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    OpenAi,
    Azure,
    Anthropic,
    Gemini,
    Vertex,
    Bedrock,
}

impl ProviderKind {
    pub const ALL: [(&'static str, ProviderKind); 6] = [
        ("openai", Self::OpenAi),
        ("azure", Self::Azure),
        ("anthropic", Self::Anthropic),
        ("gemini", Self::Gemini),
        ("vertex", Self::Vertex),
        ("bedrock", Self::Bedrock),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("openai", |(n, _)| n)
    }

    /// The catalog family of the kind (the catalog's `family` field).
    pub fn catalog_family(self) -> &'static str {
        match self {
            Self::OpenAi | Self::Azure => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini | Self::Vertex => "gemini",
            Self::Bedrock => "bedrock",
        }
    }

    /// Whether this build has an adapter for the kind.
    pub fn is_available(self) -> bool {
        true
    }
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub id: ProviderId,
    pub kind: ProviderKind,
    /// Without a trailing slash.
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub api_version: Option<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub models: BTreeMap<ModelId, ModelInfo>,
    pub legacy_max_tokens: bool,
    pub responses_api: bool,
    pub anthropic_version: Option<String>,
    pub vertex: Option<VertexSettings>,
    pub bedrock: Option<BedrockSettings>,
}

/// How a Vertex AI provider authenticates and where its models live.
#[derive(Debug, Clone)]
pub struct VertexSettings {
    pub project: String,
    pub location: String,
    pub access_token: Option<Secret>,
    pub service_account: Option<ServiceAccount>,
}

/// The parts of a Google service-account key file the token exchange needs.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    pub client_email: String,
    /// PEM, PKCS#8.
    pub private_key: Secret,
    pub token_uri: String,
}

/// Where a Bedrock provider runs and the AWS credentials it signs with.
#[derive(Debug, Clone)]
pub struct BedrockSettings {
    pub region: String,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
}

/// What the gateway knows of one model: the catalog entry merged with the config's
/// overrides. `None` means unknown (and is never used to filter a candidate out).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ModelInfo {
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub capabilities: Option<crate::catalog::Capabilities>,
    pub price: Option<crate::catalog::Price>,
    /// Whether the built-in catalog contributed (its version prices the request).
    pub from_catalog: bool,
}

impl ModelInfo {
    /// `self` with every field `over` sets replaced.
    pub fn overlay(mut self, over: &ModelInfo) -> Self {
        self.context_window = over.context_window.or(self.context_window);
        self.max_output_tokens = over.max_output_tokens.or(self.max_output_tokens);
        self.capabilities = over.capabilities.or(self.capabilities);
        self.price = match (self.price, over.price) {
            (_, Some(p)) if p.input >= 0.0 && p.output >= 0.0 => Some(p),
            (p, _) => p,
        };
        self
    }
}

/// How a route orders its candidates (after the capability filter and health).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// In the order written.
    Priority,
    /// At random, in proportion to `weights`.
    Weighted,
    /// By estimated cost of this request (catalog prices × token estimate).
    Cheapest,
    /// By observed latency (EWMA of time to first token and time per output token), with
    /// some exploration so a recovered target is tried again.
    Fastest,
    /// Power of two choices on in-flight requests.
    LeastBusy,
}

impl Strategy {
    pub const NAMES: [(&'static str, Strategy); 5] = [
        ("priority", Self::Priority),
        ("weighted", Self::Weighted),
        ("cheapest", Self::Cheapest),
        ("fastest", Self::Fastest),
        ("least-busy", Self::LeastBusy),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("priority", |(n, _)| n)
    }
}

/// One policy rule as written: when its CEL expression (`when`) holds over the request's
/// features, the request goes to `route`. The expression is compiled, and its variables
/// checked, when the app state is built (`policy::Compiled::new`), not here.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub when: String,
    pub route: RouteName,
}

/// An intent label and what recognises it in the last user message.
#[derive(Debug, Clone)]
pub struct Intent {
    pub name: String,
    /// Lower case.
    pub keywords: Vec<String>,
    pub patterns: Vec<regex_lite::Regex>,
}

/// The passive circuit breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthSettings {
    pub failure_rate: f64,
    pub min_calls: u32,
    pub window: u32,
    pub open_for: Duration,
    /// Share circuit state through Redis (`[keys] redis_url`) when one is configured.
    pub shared: bool,
    /// How often the shared circuit state is read back from Redis.
    pub sync_interval: Duration,
    /// The cooldown after a 429 that names no time; doubled per consecutive rate limit.
    pub rate_limit_backoff: Duration,
    /// The longest such cooldown.
    pub rate_limit_backoff_max: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            failure_rate: 0.5,
            min_calls: 5,
            window: 20,
            open_for: Duration::from_secs(30),
            shared: true,
            sync_interval: Duration::from_millis(250),
            rate_limit_backoff: Duration::from_secs(1),
            rate_limit_backoff_max: Duration::from_secs(60),
        }
    }
}

/// What to do when a request asks for more output than a target allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxOutputPolicy {
    /// Lower the request's limit to the target's maximum (and say so).
    #[default]
    Clamp,
    /// Drop targets whose maximum is lower than the request's limit.
    Filter,
}

#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub name: RouteName,
    /// Globs of other model names that resolve to this route.
    pub aliases: Vec<String>,
    pub max_output_policy: MaxOutputPolicy,
    /// The route's own targets, in preference order.
    pub targets: Vec<TargetRef>,
    pub strategy: Strategy,
    /// `weighted`: per candidate; absent means 1.
    pub weights: Vec<(TargetRef, u32)>,
    /// Targets whose observed p95 time to first token is above this go last.
    pub max_ttft: Option<Duration>,
    pub fallbacks: Vec<RouteName>,
    /// Own targets then the fallback routes' targets, flattened, without repeats.
    pub candidates: Vec<TargetRef>,
    /// `Config::model_info` of each of `candidates`, in the same order, computed once at
    /// load (`Config::index_candidates`). Routing uses it only while it matches
    /// `candidates` in length.
    pub candidate_infos: Vec<ModelInfo>,
    pub settings: RouteSettings,
}

/// Retry, timeout and fallback behaviour of a route (or of a direct `provider/model` call).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteSettings {
    pub num_retries: u32,
    pub timeout: Duration,
    pub total_timeout: Duration,
    pub ttft_timeout: Duration,
    pub stream_idle_timeout: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub max_retry_after: Duration,
    /// When to call the next candidate alongside a slow attempt; `None`: never.
    pub hedge_after: Option<HedgeAfter>,
    /// The largest share of requests that may be hedged.
    pub hedge_max_share: f64,
    /// Output tokens a budget reservation assumes; `None`: the route's observed p95.
    pub reserve_output_tokens: Option<u64>,
}

/// When a hedge starts: a fixed delay, or the attempted target's observed p95 (time to
/// first token for streams, whole latency otherwise; no hedge before there is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HedgeAfter {
    Fixed(Duration),
    P95,
}

impl std::fmt::Display for HedgeAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(d) => write!(f, "{}", humantime::format_duration(*d)),
            Self::P95 => f.write_str("p95"),
        }
    }
}

impl Default for RouteSettings {
    fn default() -> Self {
        Self {
            num_retries: 2,
            timeout: Duration::from_secs(600),
            total_timeout: Duration::from_secs(900),
            ttft_timeout: Duration::from_secs(60),
            stream_idle_timeout: Duration::from_secs(300),
            retry_backoff: Duration::from_millis(500),
            retry_backoff_max: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(10),
            hedge_after: None,
            hedge_max_share: 0.1,
            reserve_output_tokens: None,
        }
    }
}

/// A config error: the path of the offending value and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_errors(.0))]
pub struct ConfigError(pub Vec<ConfigIssue>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}

fn render_errors(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(|i| {
            if i.path.is_empty() {
                i.message.clone()
            } else {
                format!("{}: {}", i.path, i.message)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    pub fn one(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![ConfigIssue {
            path: path.into(),
            message: message.into(),
        }])
    }
}

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4000";

impl Config {
    /// Parses and validates TOML text, reading `${VAR}` from `env`.
    pub fn from_toml(
        text: &str,
        source: ConfigSource,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error(&e))?;
        let raw: raw::RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            ConfigError::one(
                if path == "." { String::new() } else { path },
                inner.message().trim().to_owned(),
            )
        })?;
        validate::validate(raw, source, env)
    }

    /// Reads a config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::one("", format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text, ConfigSource::File(path.to_owned()), &|k| {
            std::env::var(k).ok()
        })
    }

    /// The embedded default: every well-known provider whose key is in `env`.
    pub fn embedded(env: &dyn Fn(&str) -> Option<String>) -> Self {
        defaults::embedded(env)
    }

    pub fn route(&self, name: &str) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| r.name.as_str() == name)
    }

    /// The first route with an alias pattern matching `model`, and the pattern.
    pub fn route_by_alias(&self, model: &str) -> Option<(&RouteConfig, &str)> {
        self.routes.iter().find_map(|r| {
            r.aliases
                .iter()
                .find(|a| glob_match(a, model))
                .map(|a| (r, a.as_str()))
        })
    }

    /// Fills each route's `candidate_infos` from its `candidates`.
    pub fn index_candidates(&mut self) {
        let infos: Vec<Vec<ModelInfo>> = self
            .routes
            .iter()
            .map(|r| r.candidates.iter().map(|t| self.model_info(t)).collect())
            .collect();
        for (r, i) in self.routes.iter_mut().zip(infos) {
            r.candidate_infos = i;
        }
    }

    /// What is known of a target: the catalog's entry overlaid with the config's.
    pub fn model_info(&self, t: &TargetRef) -> ModelInfo {
        let Some(p) = self.providers.get(&t.provider) else {
            return ModelInfo::default();
        };
        let catalog = crate::catalog::Catalog::builtin()
            .lookup(p.id.as_str(), p.kind.catalog_family(), t.model.as_str())
            .map(|e| ModelInfo {
                context_window: Some(e.context_window),
                max_output_tokens: Some(e.max_output),
                capabilities: crate::catalog::Capabilities::from_names(
                    e.capabilities.iter().map(String::as_str),
                )
                .ok(),
                price: Some(e.price),
                from_catalog: true,
            });
        let base = catalog.unwrap_or_default();
        match p.models.get(&t.model) {
            Some(over) => base.overlay(over),
            None => base,
        }
    }
}

fn toml_error(e: &toml::de::Error) -> ConfigError {
    ConfigError::one("", format!("invalid TOML: {}", e.to_string().trim_end()))
}

/// Matches `text` against a glob where `*` is any run of characters and `?` any one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("claude-*-haiku-*", "claude-3-5-haiku-20241022"));
        assert!(glob_match("claude-*", "claude-sonnet-4-5"));
        assert!(!glob_match("claude-*-haiku-*", "claude-sonnet-4-5"));
        assert!(glob_match("gpt-4o?", "gpt-4o1"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a", "ab"));
        assert!(glob_match("exact", "exact"));
    }
}
