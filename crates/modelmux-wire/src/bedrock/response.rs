//! Complete Converse answers, `{output:{message:{role, content[]}}, stopReason, usage,
//! metrics, additionalModelResponseFields}`, read into a canonical `ChatResponse`; the stop
//! reason and usage mappings here are shared with the stream decoder.
//!
//! Usage (pitfall 25): Bedrock reports `inputTokens` as the prompt tokens that were neither
//! read from nor written to the cache, with `cacheReadInputTokens` and
//! `cacheWriteInputTokens` beside it (AWS prompt-caching docs; bifrost#1872, sashiko#113), so
//! the canonical `input` is the sum of the three. bifrost#6942 measured one model family
//! (OpenAI models on Bedrock, streaming) that counts the cache inside `inputTokens` as well;
//! that is a provider bug we do not guess around. Converse answers carry no id, model or
//! timestamp: the id is generated (`bedrock-<hex>`), `model` is left empty and `created` 0
//! for the caller to fill in.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use serde_json::Value;

use crate::canonical::{ChatResponse, FinishReason, Part, Usage};
use crate::codec::TranslateError;

/// Reads a Converse response body.
pub fn response_from_bedrock(body: &[u8]) -> Result<ChatResponse, TranslateError> {
    let resp: ConverseResponse = serde_json::from_slice(body)
        .map_err(|e| TranslateError::new(format!("unreadable Bedrock Converse response: {e}")))?;
    let message = resp
        .output
        .and_then(|o| o.message)
        .ok_or_else(|| TranslateError::new("Bedrock Converse response has no output.message"))?;
    let mut content = Vec::new();
    for block in &message.content {
        read_block(block, &mut content);
    }
    Ok(ChatResponse {
        id: new_id(),
        model: String::new(),
        content,
        finish: resp.stop_reason.as_deref().map(finish_reason),
        stop_sequence: stop_sequence(resp.additional_model_response_fields.as_ref()),
        usage: resp.usage.map(|u| u.canonical()).unwrap_or_default(),
        created: 0,
    })
}

fn read_block(block: &Value, out: &mut Vec<Part>) {
    if let Some(text) = block.get("text").and_then(Value::as_str) {
        out.push(Part::text(text));
    } else if let Some(tool) = block.get("toolUse") {
        let input = tool
            .get("input")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        out.push(Part::ToolCall {
            id: str_field(tool, "toolUseId"),
            name: str_field(tool, "name"),
            arguments: serde_json::to_string(&input).unwrap_or_else(|_| "{}".to_owned()),
            signature: None,
        });
    } else if let Some(reasoning) = block.get("reasoningContent") {
        if let Some(rt) = reasoning.get("reasoningText") {
            out.push(Part::Thinking {
                text: str_field(rt, "text"),
                signature: rt
                    .get("signature")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        } else if let Some(data) = reasoning.get("redactedContent").and_then(Value::as_str) {
            out.push(Part::RedactedThinking {
                data: data.to_owned(),
            });
        }
    } else if let Some(cited) = block.get("citationsContent") {
        // The generated text of a cited answer lives here; keep it, drop the citations.
        let items = cited.get("content").and_then(Value::as_array);
        for item in items.into_iter().flatten() {
            if let Some(text) = item.get("text").and_then(Value::as_str) {
                out.push(Part::text(text));
            }
        }
    }
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Bedrock `stopReason` → canonical.
pub(crate) fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Claude on Bedrock names the matched stop sequence in `additionalModelResponseFields`.
pub(crate) fn stop_sequence(fields: Option<&Value>) -> Option<String> {
    fields?
        .get("stop_sequence")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A fresh answer id, `bedrock-<16 hex>`: a per-process random seed mixed with a counter.
pub(crate) fn new_id() -> String {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| std::hash::RandomState::new().build_hasher().finish());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // splitmix64 finaliser: distinct counters give distinct, well-spread ids.
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("bedrock-{z:016x}")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseResponse {
    output: Option<Output>,
    stop_reason: Option<String>,
    usage: Option<BedrockUsage>,
    additional_model_response_fields: Option<Value>,
}

#[derive(Deserialize)]
struct Output {
    message: Option<OutMessage>,
}

#[derive(Deserialize)]
struct OutMessage {
    #[serde(default)]
    content: Vec<Value>,
}

/// `TokenUsage` of the service model.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct BedrockUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_write_input_tokens: Option<u64>,
}

impl BedrockUsage {
    pub(crate) fn canonical(self) -> Usage {
        let cache_read = self.cache_read_input_tokens.unwrap_or(0);
        let cache_write = self.cache_write_input_tokens.unwrap_or(0);
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
