//! The model catalog: context windows, output limits, capabilities and prices of well-known
//! models, from the versioned data file `data/catalog.toml` (each entry with its source and
//! date), merged with what the config says (`[providers.X.models.Y]` overrides any field).
//! Routing reads it to filter candidates that cannot serve a request and to estimate cost;
//! records keep the catalog version that priced them. A leaf: it imports nothing from the
//! rest of the crate, so `config` may hold its plain data types (`Capabilities`, `Price`).

use std::sync::OnceLock;

use serde::Deserialize;

const DATA: &str = include_str!("../data/catalog.toml");

/// What a model can do. Unknown capabilities are treated as present (the gateway does not
/// filter what it knows nothing about).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub tools: bool,
    pub vision: bool,
    pub json_schema: bool,
    pub reasoning: bool,
    pub streaming: bool,
}

impl Capabilities {
    pub const NAMES: [&'static str; 5] =
        ["tools", "vision", "json_schema", "reasoning", "streaming"];

    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut c = Self::default();
        for n in names {
            match n {
                "tools" => c.tools = true,
                "vision" => c.vision = true,
                "json_schema" => c.json_schema = true,
                "reasoning" => c.reasoning = true,
                "streaming" => c.streaming = true,
                other => {
                    return Err(format!(
                        "unknown capability {other:?}; expected one of {}",
                        Self::NAMES.join(", ")
                    ));
                }
            }
        }
        Ok(c)
    }

    pub fn names(&self) -> Vec<&'static str> {
        let flags = [
            self.tools,
            self.vision,
            self.json_schema,
            self.reasoning,
            self.streaming,
        ];
        Self::NAMES
            .iter()
            .zip(flags)
            .filter(|(_, f)| *f)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// Prices in USD per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Cached input tokens read; defaults to `input` when absent.
    #[serde(default)]
    pub cache_read: Option<f64>,
    /// Input tokens written to the cache; defaults to `input` when absent.
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// Reasoning tokens, where they are priced apart from output; defaults to `output`.
    #[serde(default)]
    pub reasoning: Option<f64>,
}

impl Price {
    /// The cost in USD of a usage, cache and reasoning tokens priced at their own rates.
    /// `usage.input` includes cached tokens and `usage.output` includes reasoning tokens.
    pub fn cost(&self, u: &modelmux_wire::Usage) -> f64 {
        let cached = u.cache_read + u.cache_write;
        let plain_input = u.input.saturating_sub(cached) as f64;
        let plain_output = u.output.saturating_sub(u.reasoning) as f64;
        (plain_input * self.input
            + u.cache_read as f64 * self.cache_read.unwrap_or(self.input)
            + u.cache_write as f64 * self.cache_write.unwrap_or(self.input)
            + plain_output * self.output
            + u.reasoning as f64 * self.reasoning.unwrap_or(self.output))
            / 1_000_000.0
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub family: String,
    pub model: String,
    pub context_window: u64,
    pub max_output: u64,
    pub capabilities: Vec<String>,
    pub price: Price,
    pub source: String,
    pub as_of: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub version: String,
    pub models: Vec<CatalogEntry>,
}

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            toml::from_str(DATA).unwrap_or_else(|e| {
                tracing::error!("the built-in catalog does not parse: {e}");
                Catalog {
                    version: "invalid".into(),
                    models: Vec::new(),
                }
            })
        })
    }

    /// The entry for `model` at a provider: by the provider's id first (OpenAI-compatible
    /// vendors such as groq), then its kind's `family` (`ProviderKind::catalog_family`);
    /// exact names, then without a date suffix (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`).
    pub fn lookup(&self, provider_id: &str, family: &str, model: &str) -> Option<&CatalogEntry> {
        let families = [provider_id, family];
        let find = |m: &str| {
            families
                .iter()
                .find_map(|f| self.models.iter().find(|e| e.family == *f && e.model == m))
        };
        find(model).or_else(|| strip_date(model).and_then(find))
    }
}

fn strip_date(model: &str) -> Option<&str> {
    // -YYYY-MM-DD
    if model.len() > 11 {
        let (head, tail) = model.split_at(model.len() - 11);
        let b = tail.as_bytes();
        if b[0] == b'-'
            && b[5] == b'-'
            && b[8] == b'-'
            && tail[1..].bytes().all(|c| c.is_ascii_digit() || c == b'-')
        {
            return Some(head);
        }
    }
    // -YYYYMMDD
    if model.len() > 9 {
        let (head, tail) = model.split_at(model.len() - 9);
        if tail.starts_with('-') && tail[1..].bytes().all(|c| c.is_ascii_digit()) {
            return Some(head);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelmux_wire::Usage;

    #[test]
    fn the_builtin_catalog_parses_and_is_sane() {
        let c = Catalog::builtin();
        assert_ne!(c.version, "invalid");
        assert!(c.models.len() >= 20);
        for e in &c.models {
            Capabilities::from_names(e.capabilities.iter().map(String::as_str)).unwrap();
            assert!(
                e.price.input > 0.0 && e.price.output >= e.price.input * 0.5,
                "{}",
                e.model
            );
            assert!(e.max_output <= e.context_window, "{}", e.model);
            assert!(
                e.source.starts_with("https://") && e.as_of.len() == 10,
                "{}",
                e.model
            );
        }
    }

    #[test]
    fn cost_prices_cache_and_reasoning_tokens_apart() {
        // claude-sonnet-4-5: 3 in, 15 out, 0.30 cache read, 3.75 cache write.
        let p = Price {
            input: 3.0,
            output: 15.0,
            cache_read: Some(0.30),
            cache_write: Some(3.75),
            reasoning: None,
        };
        let u = Usage {
            input: 12_000,
            output: 1_000,
            cache_read: 10_000,
            cache_write: 1_000,
            reasoning: 0,
        };
        // 1000 plain × 3 + 10000 × 0.30 + 1000 × 3.75 + 1000 × 15, per million.
        let want = (1000.0 * 3.0 + 10_000.0 * 0.30 + 1000.0 * 3.75 + 1000.0 * 15.0) / 1e6;
        assert!(
            (p.cost(&u) - want).abs() < 1e-12,
            "{} vs {want}",
            p.cost(&u)
        );
        // o-series: reasoning priced as output unless stated.
        let p = Price {
            input: 1.1,
            output: 4.4,
            cache_read: Some(0.275),
            cache_write: None,
            reasoning: None,
        };
        let u = Usage {
            input: 2_000,
            output: 3_000,
            cache_read: 1_000,
            cache_write: 0,
            reasoning: 2_500,
        };
        let want = (1000.0 * 1.1 + 1000.0 * 0.275 + 500.0 * 4.4 + 2500.0 * 4.4) / 1e6;
        assert!((p.cost(&u) - want).abs() < 1e-12);
    }

    #[test]
    fn dated_names_fall_back() {
        assert_eq!(strip_date("gpt-4o-mini-2024-07-18"), Some("gpt-4o-mini"));
        assert_eq!(
            strip_date("claude-3-5-haiku-20241022"),
            Some("claude-3-5-haiku")
        );
        assert_eq!(strip_date("gpt-4o"), None);
    }
}
