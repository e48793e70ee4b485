//! The embedded default configuration: every well-known provider whose key variable is set
//! becomes a provider with its usual base URL and a few catalog models, and a `default`
//! route tries each enabled provider's default model in turn. Providers without their key
//! are listed as disabled (with the variable to set), never an error.

use std::collections::BTreeMap;

use super::validate::flatten_candidates;
use super::{
    Config, ConfigSource, DEFAULT_LISTEN, ModelInfo, ProviderConfig, ProviderKind, RouteConfig,
    RouteSettings, ServerConfig, Strategy,
};
use crate::ids::{ModelId, ProviderId, RouteName, TargetRef};
use crate::secret::Secret;

/// A provider the embedded default knows how to reach.
#[derive(Debug, Clone, Copy)]
pub struct WellKnown {
    pub id: &'static str,
    pub env: &'static str,
    pub kind: ProviderKind,
    pub base_url: &'static str,
    /// Models as `(name, context window, max output)`; the first is the default model.
    pub models: &'static [(&'static str, u64, u64)],
}

/// The well-known providers, in the order the default route tries them.
pub const WELL_KNOWN: &[WellKnown] = &[
    WellKnown {
        id: "openai",
        env: "OPENAI_API_KEY",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.openai.com/v1",
        models: &[
            ("gpt-4o-mini", 128_000, 16_384),
            ("gpt-4o", 128_000, 16_384),
            ("gpt-4.1", 1_047_576, 32_768),
            ("gpt-4.1-mini", 1_047_576, 32_768),
        ],
    },
    WellKnown {
        id: "anthropic",
        env: "ANTHROPIC_API_KEY",
        kind: ProviderKind::Anthropic,
        base_url: "https://api.anthropic.com/v1",
        models: &[
            ("claude-sonnet-4-5", 200_000, 64_000),
            ("claude-haiku-4-5", 200_000, 64_000),
        ],
    },
    WellKnown {
        id: "gemini",
        env: "GEMINI_API_KEY",
        kind: ProviderKind::Gemini,
        base_url: "https://generativelanguage.googleapis.com/v1beta",
        models: &[
            ("gemini-2.5-flash", 1_048_576, 65_536),
            ("gemini-2.5-pro", 1_048_576, 65_536),
        ],
    },
    WellKnown {
        id: "groq",
        env: "GROQ_API_KEY",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.groq.com/openai/v1",
        models: &[
            ("llama-3.3-70b-versatile", 131_072, 32_768),
            ("llama-3.1-8b-instant", 131_072, 131_072),
        ],
    },
    WellKnown {
        id: "mistral",
        env: "MISTRAL_API_KEY",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.mistral.ai/v1",
        models: &[
            ("mistral-small-latest", 128_000, 32_768),
            ("mistral-large-latest", 128_000, 32_768),
        ],
    },
    WellKnown {
        id: "deepseek",
        env: "DEEPSEEK_API_KEY",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.deepseek.com/v1",
        models: &[
            ("deepseek-chat", 128_000, 8_192),
            ("deepseek-reasoner", 128_000, 65_536),
        ],
    },
    WellKnown {
        id: "openrouter",
        env: "OPENROUTER_API_KEY",
        kind: ProviderKind::OpenAi,
        base_url: "https://openrouter.ai/api/v1",
        models: &[("openai/gpt-4o-mini", 128_000, 16_384)],
    },
    WellKnown {
        id: "together",
        env: "TOGETHER_API_KEY",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.together.xyz/v1",
        models: &[("meta-llama/Llama-3.3-70B-Instruct-Turbo", 131_072, 32_768)],
    },
    WellKnown {
        id: "fireworks",
        env: "FIREWORKS_API_KEY",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.fireworks.ai/inference/v1",
        models: &[(
            "accounts/fireworks/models/llama-v3p3-70b-instruct",
            131_072,
            16_384,
        )],
    },
    WellKnown {
        id: "xai",
        env: "XAI_API_KEY",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.x.ai/v1",
        models: &[("grok-3-mini", 131_072, 32_768)],
    },
    WellKnown {
        id: "cerebras",
        env: "CEREBRAS_API_KEY",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.cerebras.ai/v1",
        models: &[("llama-3.3-70b", 65_536, 8_192)],
    },
];

/// The base URL a provider gets when its config gives none: the well-known one for its id,
/// else the vendor default for its kind.
pub fn default_base_url(id: &str, kind: ProviderKind) -> Option<&'static str> {
    if let Some(w) = WELL_KNOWN
        .iter()
        .find(|w| w.id == id && (w.kind == kind || kind == ProviderKind::OpenAi))
    {
        return Some(w.base_url);
    }
    match kind {
        ProviderKind::OpenAi => Some("https://api.openai.com/v1"),
        ProviderKind::Anthropic => Some("https://api.anthropic.com/v1"),
        ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com/v1beta"),
        // Vertex and Bedrock URLs depend on the location or region: built in `validate`.
        ProviderKind::Azure | ProviderKind::Vertex | ProviderKind::Bedrock => None,
    }
}

pub(super) fn embedded(env: &dyn Fn(&str) -> Option<String>) -> Config {
    let mut providers = BTreeMap::new();
    let mut disabled = Vec::new();
    let mut default_targets = Vec::new();
    for w in WELL_KNOWN {
        let id = ProviderId::new(w.id);
        let Some(key) = env(w.env).filter(|k| !k.trim().is_empty()) else {
            disabled.push((id, format!("set {} to enable it", w.env)));
            continue;
        };
        if !w.kind.is_available() {
            disabled.push((
                id,
                format!(
                    "{} is set, but the {} adapter is not in this build yet",
                    w.env,
                    w.kind.name()
                ),
            ));
            continue;
        }
        let models = w
            .models
            .iter()
            .map(|(m, ctx, out)| {
                (
                    ModelId::new(m),
                    ModelInfo {
                        context_window: Some(*ctx),
                        max_output_tokens: Some(*out),
                        ..ModelInfo::default()
                    },
                )
            })
            .collect();
        if let Some((m, _, _)) = w.models.first() {
            default_targets.push(TargetRef::new(id.clone(), ModelId::new(m)));
        }
        providers.insert(
            id.clone(),
            ProviderConfig {
                id,
                kind: w.kind,
                base_url: w.base_url.to_owned(),
                api_key: Some(Secret::new(key)),
                api_version: None,
                headers: Vec::new(),
                models,
                legacy_max_tokens: false,
                responses_api: w.id == "openai",
                anthropic_version: None,
                vertex: None,
                bedrock: None,
            },
        );
    }
    let mut routes = Vec::new();
    if !default_targets.is_empty() {
        routes.push(RouteConfig {
            name: RouteName::new("default"),
            aliases: Vec::new(),
            max_output_policy: Default::default(),
            targets: default_targets,
            strategy: Strategy::Priority,
            weights: Vec::new(),
            max_ttft: None,
            fallbacks: Vec::new(),
            candidates: Vec::new(),
            candidate_infos: Vec::new(),
            settings: RouteSettings::default(),
        });
    }
    flatten_candidates(&mut routes);
    let listen = env("MODELMUX_LISTEN")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            DEFAULT_LISTEN
                .parse()
                .unwrap_or(std::net::SocketAddr::from(([127, 0, 0, 1], 4000)))
        });
    let master_keys = env("MODELMUX_MASTER_KEY")
        .filter(|k| !k.is_empty())
        .map(Secret::new)
        .into_iter()
        .collect();
    let mut config = Config {
        server: ServerConfig {
            listen,
            master_keys,
            max_body_bytes: 32 << 20,
            shutdown_grace: std::time::Duration::from_secs(30),
            responses_retention: std::time::Duration::from_secs(86_400),
        },
        providers,
        routes,
        defaults: RouteSettings::default(),
        rules: Vec::new(),
        intents: Vec::new(),
        health: Default::default(),
        header_routes: Vec::new(),
        store: Default::default(),
        keys: Default::default(),
        episodes: Default::default(),
        metrics: Vec::new(),
        feedback: Default::default(),
        disabled,
        source: ConfigSource::Embedded,
    };
    config.index_candidates();
    config
}
