//! Small mappings shared by every Anthropic translation: stop reasons, usage, tool-use ids and
//! tool input. A request passes through here when its tool calls are written (`tool_id`,
//! `tool_input`); an answer passes through when its stop reason and usage are read or written
//! (`finish_from_anthropic`, `stop_reason_to_anthropic`, `WireUsage`, `usage_json`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::canonical::{FinishReason, Usage};

/// Reads an Anthropic `stop_reason`. `pause_turn`, `model_context_window_exceeded` and
/// anything newer stay raw in `Other`.
pub(crate) fn finish_from_anthropic(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Stop reasons an Anthropic client knows; a raw `Other` reason outside this list (a Gemini or
/// Bedrock reason) is reported as `end_turn`.
const ANTHROPIC_STOP_REASONS: &[&str] = &[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];

/// Writes a canonical finish as an Anthropic `stop_reason`. When the answer holds tool calls
/// and the finish says `Stop` (or nothing), the result is `tool_use`: Anthropic clients (Claude
/// Code) run their tool loop on that value alone, so a provider that says "stop" next to a tool
/// call must not make the call disappear.
pub(crate) fn stop_reason_to_anthropic(
    finish: Option<&FinishReason>,
    stop_sequence: Option<&str>,
    has_tool_calls: bool,
) -> String {
    let reason = match finish {
        None | Some(FinishReason::Stop) if has_tool_calls => "tool_use",
        None => "end_turn",
        Some(FinishReason::Stop) if stop_sequence.is_some() => "stop_sequence",
        Some(FinishReason::Stop) => "end_turn",
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
        Some(FinishReason::Other(s)) if ANTHROPIC_STOP_REASONS.contains(&s.as_str()) => s,
        Some(FinishReason::Other(_)) => "end_turn",
    };
    reason.to_owned()
}

/// Anthropic's usage object (`Usage` in answers and `message_start`, `MessageDeltaUsage` in
/// `message_delta`, where every field but `output_tokens` may be null or absent).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Canonical usage: `input` counts every prompt token, so it is the sum of Anthropic's
    /// `input_tokens` (tokens after the last cache breakpoint), cache reads and cache writes
    /// (pitfall 25).
    pub fn to_canonical(self) -> Usage {
        let cache_read = self.cache_read_input_tokens.unwrap_or(0);
        let cache_write = self.cache_creation_input_tokens.unwrap_or(0);
        Usage {
            input: self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(cache_read)
                .saturating_add(cache_write),
            output: self.output_tokens.unwrap_or(0),
            cache_read,
            cache_write,
            reasoning: 0,
        }
    }
}

/// Canonical usage as an Anthropic usage object: `input_tokens` excludes the cached parts again.
pub(crate) fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input.saturating_sub(u.cache_read).saturating_sub(u.cache_write),
        "output_tokens": u.output,
        "cache_creation_input_tokens": u.cache_write,
        "cache_read_input_tokens": u.cache_read,
    })
}

fn id_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A tool-use id Anthropic accepts (`^[a-zA-Z0-9_-]+$`, pitfall 20). Valid ids are kept as
/// they are. Others have each bad character replaced by `_` and get `_` plus eight hex digits
/// of a hash of the original appended, so the mapping is deterministic (a call and its result,
/// translated in different requests, still match) and two ids differing only in bad
/// characters stay distinct.
pub(crate) fn tool_id(id: &str) -> Cow<'_, str> {
    if !id.is_empty() && id.chars().all(id_char_ok) {
        return Cow::Borrowed(id);
    }
    let mut out: String = id
        .chars()
        .map(|c| if id_char_ok(c) { c } else { '_' })
        .collect();
    if out.is_empty() {
        out.push_str("toolu");
    }
    out.push_str(&format!("_{:08x}", fnv1a32(id.as_bytes())));
    Cow::Owned(out)
}

/// FNV-1a, 32 bits: stable across runs and platforms, which is all `tool_id` needs.
fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// A message id an Anthropic client sees: kept when it already starts with `msg_`, else
/// `msg_` + the id with characters outside `[a-zA-Z0-9_-]` replaced by `_`.
pub(crate) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        return id.to_owned();
    }
    let clean: String = id
        .chars()
        .map(|c| if id_char_ok(c) { c } else { '_' })
        .collect();
    format!("msg_{clean}")
}

/// Tool-call arguments (JSON text) as the `input` object Anthropic requires (pitfall 5): empty
/// or `null` arguments become `{}`, an object is kept, and anything else (invalid JSON, an
/// array, a string) becomes `{"_raw": "<the text>"}`, never a bare string.
pub(crate) fn tool_input(arguments: &str) -> Value {
    let trimmed = arguments.trim();
    if trimmed.is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v @ Value::Object(_)) => v,
        Ok(Value::Null) => Value::Object(Map::new()),
        _ => json!({ "_raw": arguments }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_or_sanitised_stably() {
        assert_eq!(tool_id("toolu_01-A"), "toolu_01-A");
        let a = tool_id("functions.get_weather:0");
        assert!(a.starts_with("functions_get_weather_0_"), "{a}");
        assert!(a.chars().all(id_char_ok));
        assert_eq!(a, tool_id("functions.get_weather:0"));
        assert_ne!(tool_id("a.b"), tool_id("a:b"));
        assert!(tool_id("").chars().all(id_char_ok));
        assert!(!tool_id("").is_empty());
    }

    #[test]
    fn stop_reasons_both_ways() {
        for r in [
            "end_turn",
            "max_tokens",
            "tool_use",
            "refusal",
            "pause_turn",
        ] {
            let f = finish_from_anthropic(r);
            assert_eq!(stop_reason_to_anthropic(Some(&f), None, false), r);
        }
        assert_eq!(
            stop_reason_to_anthropic(Some(&FinishReason::Stop), Some("X"), false),
            "stop_sequence"
        );
        assert_eq!(
            stop_reason_to_anthropic(Some(&FinishReason::Other("SAFETY_X".into())), None, false),
            "end_turn"
        );
        assert_eq!(
            stop_reason_to_anthropic(Some(&FinishReason::Stop), None, true),
            "tool_use"
        );
    }
}
