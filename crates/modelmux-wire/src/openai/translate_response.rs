//! Complete (non-streaming) answers: a `chat.completion` body ↔ canonical `ChatResponse`.
//! Reading (`response_from_openai`): the first choice's message becomes parts in the order
//! reasoning (`reasoning_content` / `reasoning`, non-standard) → text (`content`, then
//! `refusal`, which has no canonical place and is kept as text) → tool calls; a `stop` finish
//! with tool calls is read as `tool_calls` (some compatible servers say `stop`); vLLM's
//! `stop_reason` string is the stop sequence. Writing (`response_to_openai`): the shape the
//! SDKs parse, with thinking as the non-standard `reasoning_content` on the message, which
//! OpenAI-compatible clients widely read and the official SDK tolerates.

use serde::Deserialize;
use serde_json::{Value, json};

use super::response::OpenAiUsage;
use crate::canonical::{ChatResponse, FinishReason, Part, Usage};
use crate::codec::TranslateError;

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    created: Option<Value>,
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    message: Option<MessageIn>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    stop_reason: Option<Value>,
}

#[derive(Deserialize)]
struct MessageIn {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    reasoning_content: Option<Value>,
    #[serde(default)]
    reasoning: Option<Value>,
    #[serde(default)]
    refusal: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<CallIn>>,
    #[serde(default)]
    function_call: Option<FunctionIn>,
}

#[derive(Deserialize)]
struct CallIn {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionIn>,
}

#[derive(Deserialize)]
struct FunctionIn {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<Value>,
}

/// Reads a provider's `chat.completion` body.
pub fn response_from_openai(body: &[u8]) -> Result<ChatResponse, TranslateError> {
    let c: Completion = serde_json::from_slice(body)
        .map_err(|e| TranslateError::new(format!("not a chat completion: {e}")))?;
    if let Some(err) = c.error.filter(|e| !e.is_null()) {
        let msg = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("error");
        return Err(TranslateError::new(format!(
            "the provider answered with an error: {msg}"
        )));
    }
    let mut choices = c.choices.unwrap_or_default();
    let pos = choices.iter().position(|ch| ch.index.unwrap_or(0) == 0);
    let choice = match pos {
        Some(i) => choices.swap_remove(i),
        None => return Err(TranslateError::new("the answer has no choices")),
    };
    let mut content = Vec::new();
    let id = c.id.unwrap_or_default();
    if let Some(m) = choice.message {
        let reasoning = [&m.reasoning_content, &m.reasoning]
            .into_iter()
            .find_map(|v| v.as_ref().and_then(Value::as_str).filter(|s| !s.is_empty()));
        if let Some(text) = reasoning {
            content.push(Part::Thinking {
                text: text.to_owned(),
                signature: None,
            });
        }
        let text = text_of(m.content.as_ref());
        if !text.is_empty() {
            content.push(Part::text(text));
        }
        if let Some(r) = m
            .refusal
            .as_ref()
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            content.push(Part::text(r));
        }
        let calls = m.tool_calls.unwrap_or_default().into_iter();
        let legacy = m.function_call.map(|f| CallIn {
            id: None,
            function: Some(f),
        });
        for (i, call) in calls.chain(legacy).enumerate() {
            let f = call.function.unwrap_or(FunctionIn {
                name: None,
                arguments: None,
            });
            content.push(Part::ToolCall {
                id: call
                    .id
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| format!("call_{id}_{i}")),
                name: f.name.unwrap_or_default(),
                arguments: match f.arguments {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                },
                signature: None,
            });
        }
    }
    let has_calls = content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let finish = choice
        .finish_reason
        .as_deref()
        .map(|f| finish_in(f, has_calls));
    let usage = c
        .usage
        .and_then(|u| serde_json::from_value::<OpenAiUsage>(u).ok())
        .map(|u| u.to_canonical())
        .unwrap_or_default();
    Ok(ChatResponse {
        id,
        model: c.model.unwrap_or_default(),
        content,
        finish,
        stop_sequence: choice
            .stop_reason
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_owned),
        usage,
        created: c.created.as_ref().and_then(unix_seconds).unwrap_or(0),
    })
}

/// An OpenAI finish reason; `stop` with tool calls present means the calls (pitfall 26).
pub(super) fn finish_in(s: &str, has_calls: bool) -> FinishReason {
    match FinishReason::from_openai(s) {
        FinishReason::Stop if has_calls => FinishReason::ToolCalls,
        other => other,
    }
}

/// The `finish_reason` to show an OpenAI client.
pub(super) fn finish_out(f: Option<&FinishReason>, has_calls: bool) -> String {
    match f {
        Some(FinishReason::Stop) | None if has_calls => "tool_calls".to_owned(),
        Some(f) => f.as_openai().to_owned(),
        None => "stop".to_owned(),
    }
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

fn unix_seconds(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64))
}

/// The OpenAI `usage` object for canonical usage.
pub(super) fn usage_out(u: &Usage) -> Value {
    let mut prompt = json!({"cached_tokens": u.cache_read});
    if u.cache_write > 0
        && let Some(obj) = prompt.as_object_mut()
    {
        obj.insert("cache_write_tokens".to_owned(), json!(u.cache_write));
    }
    json!({
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.total(),
        "prompt_tokens_details": prompt,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning},
    })
}

/// The client-facing completion id: `chatcmpl-` + the provider's id.
pub(super) fn completion_id(id: &str) -> String {
    if id.starts_with("chatcmpl-") {
        id.to_owned()
    } else {
        format!("chatcmpl-{id}")
    }
}

/// Renders a canonical answer as a `chat.completion` body for an OpenAI client.
pub fn response_to_openai(resp: &ChatResponse, model: &str) -> Vec<u8> {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for p in &resp.content {
        match p {
            Part::Text { text: t, .. } => text.push_str(t),
            Part::Thinking { text: t, .. } => reasoning.push_str(t),
            Part::ToolCall {
                id,
                name,
                arguments,
                ..
            } => calls.push(json!({
                "id": id,
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": if arguments.trim().is_empty() { "{}" } else { arguments.as_str() },
                },
            })),
            _ => {}
        }
    }
    let has_calls = !calls.is_empty();
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && has_calls { Value::Null } else { Value::String(text) },
        "refusal": null,
    });
    if let Some(obj) = message.as_object_mut() {
        if has_calls {
            obj.insert("tool_calls".to_owned(), Value::Array(calls));
        }
        if !reasoning.is_empty() {
            obj.insert("reasoning_content".to_owned(), Value::String(reasoning));
        }
    }
    let body = json!({
        "id": completion_id(&resp.id),
        "object": "chat.completion",
        "created": resp.created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_out(resp.finish.as_ref(), has_calls),
        }],
        "usage": usage_out(&resp.usage),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}
