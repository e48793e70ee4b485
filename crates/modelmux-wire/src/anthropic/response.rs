//! Complete (non-streaming) Messages answers in both directions. `response_from_anthropic`
//! reads an Anthropic provider's `message` into a canonical `ChatResponse` (content blocks →
//! parts, `stop_reason` → finish, usage with cache tokens counted into `input`, pitfall 25);
//! `response_to_anthropic` writes any provider's canonical answer as the `message` a Messages
//! client expects (no empty text block, pitfall 11; tool input always an object, pitfall 5).

use serde::Deserialize;
use serde_json::{Value, json};

use super::mapping::{
    WireUsage, finish_from_anthropic, message_id, stop_reason_to_anthropic, tool_id, tool_input,
    usage_json,
};
use crate::canonical::{ChatResponse, Part};
use crate::codec::TranslateError;

#[derive(Deserialize)]
struct WireMessage {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    content: Vec<WireBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

/// An answer content block; block types with no canonical part (server-tool blocks) are
/// skipped.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum WireBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        #[serde(default)]
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
        // A Value: internally tagged enums cannot hold a RawValue.
        #[serde(default)]
        input: Option<Value>,
    },
    #[serde(other)]
    Other,
}

/// Reads an Anthropic `message` body.
pub fn response_from_anthropic(body: &[u8]) -> Result<ChatResponse, TranslateError> {
    let m: WireMessage = serde_json::from_slice(body)
        .map_err(|e| TranslateError::new(format!("unreadable Anthropic message: {e}")))?;
    if m.kind.as_deref() == Some("error") {
        return Err(TranslateError::new(
            "the Anthropic answer is an error body, not a message",
        ));
    }
    let content = m.content.into_iter().filter_map(block_to_part).collect();
    Ok(ChatResponse {
        id: m.id,
        model: m.model,
        content,
        finish: m.stop_reason.as_deref().map(finish_from_anthropic),
        stop_sequence: m.stop_sequence,
        usage: m.usage.to_canonical(),
        created: 0,
    })
}

pub(crate) fn block_to_part(b: WireBlock) -> Option<Part> {
    Some(match b {
        WireBlock::Text { text } => Part::text(text),
        WireBlock::Thinking {
            thinking,
            signature,
        } => Part::Thinking {
            text: thinking,
            signature,
        },
        WireBlock::RedactedThinking { data } => Part::RedactedThinking { data },
        WireBlock::ToolUse { id, name, input } => Part::ToolCall {
            id,
            name,
            arguments: compact_input(input),
            signature: None,
        },
        WireBlock::Other => return None,
    })
}

/// A tool `input` as compact JSON text (`{}` when absent or null).
pub(crate) fn compact_input(input: Option<Value>) -> String {
    match input {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// Writes a canonical answer as an Anthropic `message`, reporting `model` to the client.
pub fn response_to_anthropic(resp: &ChatResponse, model: &str) -> Vec<u8> {
    let mut content = Vec::with_capacity(resp.content.len());
    let mut has_tool_calls = false;
    for p in &resp.content {
        match p {
            Part::Text { text, .. } if !text.is_empty() => {
                content.push(json!({ "type": "text", "text": text }));
            }
            Part::Thinking { text, signature } => content.push(json!({
                "type": "thinking",
                "thinking": text,
                "signature": signature.as_deref().unwrap_or(""),
            })),
            Part::RedactedThinking { data } => {
                content.push(json!({ "type": "redacted_thinking", "data": data }));
            }
            Part::ToolCall {
                id,
                name,
                arguments,
                ..
            } => {
                has_tool_calls = true;
                content.push(json!({
                    "type": "tool_use",
                    "id": tool_id(id),
                    "name": name,
                    "input": tool_input(arguments),
                }));
            }
            _ => {}
        }
    }
    let stop_reason = stop_reason_to_anthropic(
        resp.finish.as_ref(),
        resp.stop_sequence.as_deref(),
        has_tool_calls,
    );
    let stop_sequence = resp
        .stop_sequence
        .as_deref()
        .filter(|_| stop_reason == "stop_sequence");
    let body = json!({
        "id": message_id(&resp.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage_json(&resp.usage),
    });
    body.to_string().into_bytes()
}
