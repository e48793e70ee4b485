//! Configuration: the TOML contract of DESIGN.md, read raw (`raw`), interpolated
//! (`interpolate`), then validated into the typed `Config` (`validate`) with every error
//! naming its exact path. Without a file, `defaults` builds the embedded default from the
//! provider keys found in the environment.

mod defaults;
mod duration;
mod interpolate;
mod raw;
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

    /// Whether this build has an adapter for the kind.
    pub fn is_available(self) -> bool {
        matches!(self, Self::OpenAi | Self::Azure)
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
}

/// What the gateway knows of one model. Grows into the catalog entry of the routing issue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelInfo {
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Priority,
}

#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub name: RouteName,
    /// The route's own targets, in preference order.
    pub targets: Vec<TargetRef>,
    pub strategy: Strategy,
    pub fallbacks: Vec<RouteName>,
    /// Own targets then the fallback routes' targets, flattened, without repeats.
    pub candidates: Vec<TargetRef>,
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

    pub fn model_info(&self, t: &TargetRef) -> ModelInfo {
        self.providers
            .get(&t.provider)
            .and_then(|p| p.models.get(&t.model))
            .copied()
            .unwrap_or_default()
    }
}

fn toml_error(e: &toml::de::Error) -> ConfigError {
    ConfigError::one("", format!("invalid TOML: {}", e.to_string().trim_end()))
}
