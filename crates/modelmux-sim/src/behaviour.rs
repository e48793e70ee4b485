//! How one simulated model behaves: latency, time to first token, token speed, answer length,
//! context window, a script of faults, a random fault rate, whether answers start with
//! reasoning, an optional scripted tool call, and how likely its answers are to resolve a
//! support ticket of each intent (what `modelmux demo` draws simulated feedback from). Read
//! from TOML/JSON with every field optional, and overridable per request through `x-sim-*`
//! headers.

use std::collections::BTreeMap;
use std::time::Duration;

use http::HeaderMap;
use serde::Deserialize;

use crate::fault::Fault;

/// Behaviour of one simulated model. `Default` answers 12 words at once.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// Delay before response headers (JSON and stream).
    pub latency_ms: u64,
    /// Stream only: delay after the headers before the first chunk.
    pub ttft_ms: u64,
    /// 0 = no delay between tokens; a non-stream answer adds `output_tokens / tps` to latency.
    pub tokens_per_second: f64,
    /// Words in a generated answer, capped by the request's max tokens.
    pub output_tokens: u32,
    /// Estimated prompt tokens + requested max tokens above this → 400 context_length_exceeded.
    pub context_window: Option<u32>,
    /// A script: each request pops the next fault; when empty, normal answers.
    pub faults: Vec<Fault>,
    /// After the script, inject `random_fault` with this probability.
    pub fault_rate: f64,
    /// The fault `fault_rate` injects; a 503 when `None`.
    pub random_fault: Option<Fault>,
    /// Call up to two tools in one answer (unless the request says `parallel_tool_calls: false`).
    pub parallel_tool_calls: bool,
    /// Add `x-ratelimit-*` headers to answers.
    pub rate_limit_headers: bool,
    /// Fixed reply text instead of generated words (still streamed word by word).
    pub reply: Option<String>,
    /// Begin answers with a signed reasoning block (Anthropic `thinking`, Gemini `thought`
    /// parts, Bedrock `reasoningContent`, OpenAI `reasoning_content`).
    pub thinking: bool,
    /// Call exactly this tool with these arguments, instead of the generated call, on a user
    /// turn (the last message, system messages aside, is the user's and carries no tool
    /// result) whose request offers a tool of that name and whose tool choice allows it. When
    /// the request does not offer it: the usual generated call. On the tool-result turn: "The
    /// tool returned: ...". In TOML:
    /// `tool_call = { name = "Bash", arguments = { command = "echo hi" } }`.
    pub tool_call: Option<ScriptedCall>,
    /// Ticket intent → probability (0 to 1) that this model's answer resolves a ticket of
    /// that intent. In TOML: `resolution = { billing = 0.9, policy = 0.4 }`.
    pub resolution: BTreeMap<String, f64>,
    /// The probability for intents `resolution` does not list (0.5 by default).
    pub resolution_default: f64,
}

/// A tool call a model is scripted to make: the tool's name and its JSON arguments.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedCall {
    /// The name of the tool to call, as the request offers it.
    pub name: String,
    /// The arguments, sent as they are (any JSON value; an object for real tools).
    #[serde(default = "empty_object")]
    pub arguments: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            latency_ms: 0,
            ttft_ms: 0,
            tokens_per_second: 0.0,
            output_tokens: 12,
            context_window: None,
            faults: Vec::new(),
            fault_rate: 0.0,
            random_fault: None,
            parallel_tool_calls: false,
            rate_limit_headers: false,
            reply: None,
            thinking: false,
            tool_call: None,
            resolution: BTreeMap::new(),
            resolution_default: 0.5,
        }
    }
}

impl Behaviour {
    /// The pause before each streamed token (zero when `tokens_per_second` is 0).
    pub(crate) fn token_delay(&self) -> Duration {
        if self.tokens_per_second > 0.0 && self.tokens_per_second.is_finite() {
            Duration::from_secs_f64(1.0 / self.tokens_per_second)
        } else {
            Duration::ZERO
        }
    }

    /// Apply `x-sim-latency-ms`, `x-sim-ttft-ms`, `x-sim-tps` and `x-sim-output-tokens`.
    /// Errors name the header whose value does not parse.
    pub(crate) fn apply_overrides(&mut self, headers: &HeaderMap) -> Result<(), String> {
        fn get<T: std::str::FromStr>(h: &HeaderMap, name: &str) -> Result<Option<T>, String> {
            match h.get(name) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .map(Some)
                    .ok_or_else(|| format!("invalid {name} header")),
            }
        }
        if let Some(v) = get(headers, "x-sim-latency-ms")? {
            self.latency_ms = v;
        }
        if let Some(v) = get(headers, "x-sim-ttft-ms")? {
            self.ttft_ms = v;
        }
        if let Some(v) = get::<f64>(headers, "x-sim-tps")? {
            if !(v.is_finite() && v >= 0.0) {
                return Err("invalid x-sim-tps header".into());
            }
            self.tokens_per_second = v;
        }
        if let Some(v) = get(headers, "x-sim-output-tokens")? {
            self.output_tokens = v;
        }
        Ok(())
    }

    /// The probability that an answer of this model resolves a ticket of `intent`: its
    /// `resolution` entry, else `resolution_default`, clamped to 0..=1 (NaN counts as 0).
    pub fn resolution_rate(&self, intent: &str) -> f64 {
        let p = self
            .resolution
            .get(intent)
            .copied()
            .unwrap_or(self.resolution_default);
        if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
    }

    /// Whether a ticket of `intent` counts as resolved, given a uniform `draw` in [0, 1): pure,
    /// so a caller drawing from a seeded generator gets the same verdicts on every run.
    pub fn resolves(&self, intent: &str, draw: f64) -> bool {
        draw < self.resolution_rate(intent)
    }

    /// The fault this request draws by chance, if any.
    pub(crate) fn roll_random_fault(&self) -> Option<Fault> {
        (self.fault_rate > 0.0 && fastrand::f64() < self.fault_rate).then(|| {
            self.random_fault.clone().unwrap_or(Fault::Status {
                code: 503,
                retry_after: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_answers_twelve_tokens_and_parses_partial_toml() {
        assert_eq!(Behaviour::default().output_tokens, 12);
        let b: Behaviour =
            serde_json::from_str(r#"{"latency_ms": 5, "faults": ["429", "cut:1"]}"#).unwrap();
        assert_eq!(b.latency_ms, 5);
        assert_eq!(b.output_tokens, 12);
        assert_eq!(
            b.faults,
            vec![
                Fault::Status {
                    code: 429,
                    retry_after: None
                },
                Fault::CutAfter(1)
            ]
        );
        assert!(serde_json::from_str::<Behaviour>(r#"{"latncy_ms": 5}"#).is_err());
    }

    #[test]
    fn resolution_by_intent_with_a_default() {
        let b: Behaviour = serde_json::from_str(
            r#"{"resolution": {"billing": 0.9, "policy": 1.5}, "resolution_default": 0.25}"#,
        )
        .unwrap();
        assert_eq!(b.resolution_rate("billing"), 0.9);
        assert_eq!(b.resolution_rate("policy"), 1.0, "clamped");
        assert_eq!(b.resolution_rate("account"), 0.25);
        assert_eq!(Behaviour::default().resolution_rate("anything"), 0.5);
        assert!(b.resolves("billing", 0.0));
        assert!(b.resolves("billing", 0.899));
        assert!(!b.resolves("billing", 0.9));
        assert!(!b.resolves("account", 0.3));
        let never = Behaviour {
            resolution_default: f64::NAN,
            ..Behaviour::default()
        };
        assert!(!never.resolves("x", 0.0));
    }

    #[test]
    fn resolution_draws_from_a_seed_are_repeatable_and_near_the_rate() {
        let b = Behaviour {
            resolution: BTreeMap::from([("faq".to_owned(), 0.7)]),
            ..Behaviour::default()
        };
        let run = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (0..10_000).filter(|_| b.resolves("faq", rng.f64())).count()
        };
        assert_eq!(run(42), run(42));
        let rate = run(42) as f64 / 10_000.0;
        assert!((rate - 0.7).abs() < 0.02, "{rate}");
    }

    #[test]
    fn fault_rate_one_always_faults_with_503_by_default() {
        let b = Behaviour {
            fault_rate: 1.0,
            ..Behaviour::default()
        };
        assert_eq!(
            b.roll_random_fault(),
            Some(Fault::Status {
                code: 503,
                retry_after: None
            })
        );
        assert_eq!(Behaviour::default().roll_random_fault(), None);
    }
}
