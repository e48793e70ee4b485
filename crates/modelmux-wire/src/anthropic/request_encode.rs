//! Canonical `ChatRequest` → Anthropic Messages request body, for an Anthropic provider. The
//! conversation is rebuilt into what the API accepts, then the sampling and tool settings are
//! mapped, then the raw Anthropic fields from `extra` are appended.
//!
//! Conversation rules:
//! - Leading System/Developer messages become the top-level `system`: a string when it is one
//!   plain text without `cache_control`, else text blocks keeping `cache_control`.
//! - A later System/Developer message (pitfall 10) stays in place as a `role: "system"`
//!   message when the request came from an Anthropic client (it sent it that way, as Claude
//!   Code does, so the target takes it); from any other client it is appended to the `system`
//!   blocks, in order, since the published API accepts system text only there.
//! - `Role::Tool` messages become `user` turns; consecutive turns of one role are merged into
//!   one, and in a merged user turn every `tool_result` block comes first (pitfall 7).
//! - Empty and whitespace-only text blocks are dropped and a turn left empty is omitted
//!   (pitfall 11); thinking parts without a signature (another provider's reasoning) cannot
//!   be replayed and are dropped; signed ones are replayed as they came (pitfall 13). Audio
//!   is dropped.
//! - Tool-use ids are sanitised deterministically (`mapping::tool_id`, pitfall 20) and
//!   arguments always become an object (`mapping::tool_input`, pitfall 5).
//!
//! Extra fields: written after everything else, only for keys this encoder did not write
//! (canonical values win). `thinking`, `output_config` and `tools` are rebuilt from the
//! canonical request, and the raw value contributes only what the canonical one cannot hold:
//! the sub-keys we do not model, and server tools (kept at their original position).

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::mapping::{tool_id, tool_input};
use crate::canonical::{
    ChatRequest, MediaSource, Message, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
    WireFormat,
};

/// The smallest thinking budget Anthropic accepts.
const MIN_THINKING_BUDGET: u64 = 1024;

/// Encodes `req` as a Messages body for `model`. `default_max_tokens` is used when the request
/// has no output limit (Anthropic requires one).
pub fn to_anthropic(req: &ChatRequest, model: &str, default_max_tokens: u64) -> Vec<u8> {
    let anthropic_client = req.extra.format == Some(WireFormat::Anthropic);
    let extra = req.extra.for_format(WireFormat::Anthropic);
    let raw = |key: &str| -> Option<Value> {
        extra
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| serde_json::from_str(v.get()).ok())
    };

    let mut out: Vec<(&'static str, Value)> = Vec::with_capacity(16);
    let max_tokens = req
        .max_tokens
        .filter(|&n| n > 0)
        .unwrap_or(default_max_tokens)
        .max(1);
    out.push(("model", Value::String(model.to_owned())));
    out.push(("max_tokens", json!(max_tokens)));

    let (system, messages) = conversation(&req.messages, anthropic_client);
    if let Some(system) = system {
        out.push(("system", system));
    }
    out.push(("messages", Value::Array(messages)));

    let tools = tools_value(&req.tools, raw("tools"));
    let thinking = req
        .reasoning
        .as_ref()
        .and_then(|r| thinking_value(r, max_tokens))
        .map(|t| merge_unknown(t, raw("thinking"), &["type", "budget_tokens", "display"]));
    let thinking_on = thinking
        .as_ref()
        .is_some_and(|t| t.get("type").and_then(Value::as_str) != Some("disabled"));

    if let Some(tools) = tools {
        out.push(("tools", tools));
        if let Some(choice) = tool_choice_value(req, thinking_on) {
            out.push(("tool_choice", choice));
        }
    }
    if let Some(t) = thinking {
        out.push(("thinking", t));
    }
    if let Some(oc) = output_config_value(req, raw("output_config")) {
        out.push(("output_config", oc));
    }
    if let Some(t) = req.temperature.filter(|_| !thinking_on) {
        out.push(("temperature", json!(t.clamp(0.0, 1.0))));
    }
    // With thinking on, Anthropic takes top_p only between 0.95 and 1.
    if let Some(p) = req.top_p.filter(|&p| !thinking_on || p >= 0.95) {
        out.push(("top_p", json!(p.clamp(0.0, 1.0))));
    }
    if let Some(k) = req.top_k.filter(|_| !thinking_on) {
        out.push(("top_k", json!(k)));
    }
    if !req.stop.is_empty() {
        out.push(("stop_sequences", json!(req.stop)));
    }
    let mut metadata = Map::new();
    if anthropic_client && let Some(m) = &req.metadata {
        metadata.extend(m.clone());
    }
    if let Some(user) = &req.user {
        metadata.insert("user_id".to_owned(), Value::String(user.clone()));
    }
    if !metadata.is_empty() {
        out.push(("metadata", Value::Object(metadata)));
    }
    if req.stream {
        out.push(("stream", Value::Bool(true)));
    }
    serialise(&out, extra)
}

/// Writes the fields, then the extra fields whose keys were not written (and are not among
/// the keys rebuilt from canonical values).
fn serialise(out: &[(&'static str, Value)], extra: &[(String, Box<RawValue>)]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(1024);
    buf.push(b'{');
    let mut first = true;
    let mut sep = |buf: &mut Vec<u8>| {
        if !first {
            buf.push(b',');
        }
        first = false;
    };
    for (k, v) in out {
        sep(&mut buf);
        // Serialising a string key or a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut buf, k);
        buf.push(b':');
        let _ = serde_json::to_writer(&mut buf, v);
    }
    for (k, v) in extra {
        if out.iter().any(|(w, _)| w == k)
            || matches!(k.as_str(), "thinking" | "output_config" | "tools")
        {
            continue;
        }
        sep(&mut buf);
        let _ = serde_json::to_writer(&mut buf, k);
        buf.push(b':');
        buf.extend_from_slice(v.get().as_bytes());
    }
    buf.push(b'}');
    buf
}

/// Copies into `built` the keys of `raw` that `modelled` does not list (sub-fields of a raw
/// Anthropic value that the canonical request has no place for).
fn merge_unknown(mut built: Value, raw: Option<Value>, modelled: &[&str]) -> Value {
    if let (Value::Object(b), Some(Value::Object(r))) = (&mut built, raw) {
        for (k, v) in r {
            if !modelled.contains(&k.as_str()) && !b.contains_key(&k) {
                b.insert(k, v);
            }
        }
    }
    built
}

struct Turn {
    role: &'static str,
    blocks: Vec<Value>,
}

/// The top-level `system` and the `messages` array.
fn conversation(messages: &[Message], keep_mid_system: bool) -> (Option<Value>, Vec<Value>) {
    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<Turn> = Vec::with_capacity(messages.len());
    let mut leading = true;
    for m in messages {
        let role = match m.role {
            Role::System | Role::Developer if leading || !keep_mid_system => {
                system.extend(m.content.iter().filter_map(system_block));
                continue;
            }
            Role::System | Role::Developer => "system",
            Role::User | Role::Tool => "user",
            Role::Assistant => "assistant",
        };
        leading = false;
        let blocks: Vec<Value> = if role == "system" {
            m.content.iter().filter_map(system_block).collect()
        } else {
            m.content.iter().filter_map(block).collect()
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.blocks.extend(blocks),
            _ => turns.push(Turn { role, blocks }),
        }
    }
    let messages = turns
        .into_iter()
        .map(|mut t| {
            if t.role == "user" {
                // Stable partition: tool results first, the rest after, each in order.
                let (mut results, rest): (Vec<Value>, Vec<Value>) = t
                    .blocks
                    .into_iter()
                    .partition(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"));
                results.extend(rest);
                t.blocks = results;
            }
            json!({ "role": t.role, "content": content_value(t.blocks) })
        })
        .collect();
    let system = match system.len() {
        0 => None,
        1 if is_plain_text(&system[0]) => system.pop().and_then(|b| match b {
            Value::Object(mut o) => o.remove("text"),
            _ => None,
        }),
        _ => Some(Value::Array(system)),
    };
    (system, messages)
}

fn is_plain_text(b: &Value) -> bool {
    b.as_object()
        .is_some_and(|o| o.len() == 2 && o.get("type").and_then(Value::as_str) == Some("text"))
}

/// Blocks as message content: one plain text block is written as a string.
fn content_value(mut blocks: Vec<Value>) -> Value {
    if blocks.len() == 1
        && is_plain_text(&blocks[0])
        && let Some(Value::Object(mut o)) = blocks.pop()
        && let Some(t) = o.remove("text")
    {
        return t;
    }
    Value::Array(blocks)
}

fn text_block(text: &str, cache_control: &Option<Value>) -> Option<Value> {
    // Anthropic rejects whitespace-only text ("text content blocks must contain
    // non-whitespace text") as it rejects empty text.
    if text.trim().is_empty() {
        return None;
    }
    let mut b = json!({ "type": "text", "text": text });
    if let (Some(cc), Value::Object(o)) = (cache_control, &mut b) {
        o.insert("cache_control".to_owned(), cc.clone());
    }
    Some(b)
}

/// System text accepts only text blocks.
fn system_block(p: &Part) -> Option<Value> {
    match p {
        Part::Text {
            text,
            cache_control,
        } => text_block(text, cache_control),
        _ => None,
    }
}

fn with_cache_control(mut b: Value, cache_control: &Option<Value>) -> Value {
    if let (Some(cc), Value::Object(o)) = (cache_control, &mut b) {
        o.insert("cache_control".to_owned(), cc.clone());
    }
    b
}

/// An image or document source. A `data:` URL becomes base64; other URLs stay URLs (pitfall
/// 22: first-party Anthropic fetches them).
fn source_value(source: &MediaSource, document: bool) -> Option<Value> {
    match source {
        MediaSource::Url(u) => match MediaSource::from_data_uri(u) {
            Some(b64) => source_value(&b64, document),
            None => Some(json!({ "type": "url", "url": u })),
        },
        MediaSource::Base64 { media_type, data } => {
            Some(json!({ "type": "base64", "media_type": media_type, "data": data }))
        }
        MediaSource::Text(t) if document => {
            Some(json!({ "type": "text", "media_type": "text/plain", "data": t }))
        }
        MediaSource::Text(_) => None,
    }
}

fn block(p: &Part) -> Option<Value> {
    match p {
        Part::Text {
            text,
            cache_control,
        } => text_block(text, cache_control),
        Part::Image {
            source,
            cache_control,
            ..
        } => {
            let src = source_value(source, false)?;
            Some(with_cache_control(
                json!({ "type": "image", "source": src }),
                cache_control,
            ))
        }
        Part::Document {
            source,
            title,
            cache_control,
        } => {
            let src = source_value(source, true)?;
            let mut b = json!({ "type": "document", "source": src });
            if let (Some(t), Value::Object(o)) = (title, &mut b) {
                o.insert("title".to_owned(), Value::String(t.clone()));
            }
            Some(with_cache_control(b, cache_control))
        }
        Part::Audio { .. } => None,
        Part::ToolCall {
            id,
            name,
            arguments,
            ..
        } => Some(json!({
            "type": "tool_use",
            "id": tool_id(id),
            "name": name,
            "input": tool_input(arguments),
        })),
        Part::ToolResult {
            call_id,
            content,
            is_error,
            cache_control,
            ..
        } => {
            let mut b = Map::new();
            b.insert("type".to_owned(), json!("tool_result"));
            b.insert("tool_use_id".to_owned(), json!(tool_id(call_id)));
            let inner: Vec<Value> = content
                .iter()
                .filter(|p| {
                    matches!(
                        p,
                        Part::Text { .. } | Part::Image { .. } | Part::Document { .. }
                    )
                })
                .filter_map(block)
                .collect();
            if !inner.is_empty() {
                b.insert("content".to_owned(), content_value(inner));
            }
            if *is_error {
                b.insert("is_error".to_owned(), Value::Bool(true));
            }
            Some(with_cache_control(Value::Object(b), cache_control))
        }
        Part::Thinking {
            text,
            signature: Some(sig),
        } if !sig.is_empty() => Some(json!({
            "type": "thinking",
            "thinking": text,
            "signature": sig,
        })),
        Part::Thinking { .. } => None,
        Part::RedactedThinking { data } => {
            Some(json!({ "type": "redacted_thinking", "data": data }))
        }
    }
}

fn tool_value(t: &Tool) -> Value {
    let mut o = Map::new();
    o.insert("name".to_owned(), Value::String(t.name.clone()));
    if let Some(d) = &t.description {
        o.insert("description".to_owned(), Value::String(d.clone()));
    }
    // Kept verbatim; Anthropic needs an object schema, so a missing one becomes the empty
    // object schema and a missing `type` is filled in.
    let schema = match &t.parameters {
        Value::Object(s) if s.contains_key("type") => Value::Object(s.clone()),
        Value::Object(s) => {
            let mut s = s.clone();
            s.insert("type".to_owned(), json!("object"));
            Value::Object(s)
        }
        _ => json!({ "type": "object", "properties": {} }),
    };
    o.insert("input_schema".to_owned(), schema);
    if let Some(s) = t.strict {
        o.insert("strict".to_owned(), Value::Bool(s));
    }
    if let Some(cc) = &t.cache_control {
        o.insert("cache_control".to_owned(), cc.clone());
    }
    Value::Object(o)
}

/// The `tools` array. With a raw Anthropic array at hand, its order is kept: server tools as
/// they were, custom tools rebuilt from the canonical tool of that name (plus their unmodelled
/// keys), custom tools no longer in the request dropped; canonical tools new to it follow.
fn tools_value(tools: &[Tool], raw: Option<Value>) -> Option<Value> {
    let mut out = Vec::with_capacity(tools.len());
    let mut used = vec![false; tools.len()];
    if let Some(Value::Array(raw)) = raw {
        for r in raw {
            let custom = match r.get("type") {
                None | Some(Value::Null) => true,
                Some(t) => t.as_str() == Some("custom"),
            };
            if !custom {
                out.push(r);
                continue;
            }
            let name = r.get("name").and_then(Value::as_str);
            if let Some(i) = tools
                .iter()
                .enumerate()
                .position(|(i, t)| !used[i] && Some(t.name.as_str()) == name)
            {
                used[i] = true;
                out.push(merge_unknown(
                    tool_value(&tools[i]),
                    Some(r),
                    &[
                        "name",
                        "description",
                        "input_schema",
                        "strict",
                        "cache_control",
                    ],
                ));
            }
        }
    }
    for (t, used) in tools.iter().zip(used) {
        if !used {
            out.push(tool_value(t));
        }
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

/// `tool_choice` (only written with tools). Thinking forbids a forced choice (pitfall 21):
/// `any` and `tool` become `auto` then. `parallel_tool_calls: false` becomes
/// `disable_parallel_tool_use: true` (pitfall 17), on an `auto` choice if none was given;
/// `Some(true)` is the default and is not written (Vertex and Bedrock reject the key).
fn tool_choice_value(req: &ChatRequest, thinking_on: bool) -> Option<Value> {
    let kind: Cow<'_, str> = match &req.tool_choice {
        None if req.parallel_tool_calls == Some(false) => "auto".into(),
        None => return None,
        Some(ToolChoice::Auto) => "auto".into(),
        Some(ToolChoice::None) => return Some(json!({ "type": "none" })),
        Some(ToolChoice::Required | ToolChoice::Named(_)) if thinking_on => "auto".into(),
        Some(ToolChoice::Required) => "any".into(),
        Some(ToolChoice::Named(_)) => "tool".into(),
    };
    let mut o = Map::new();
    o.insert("type".to_owned(), json!(kind));
    if let (Some(ToolChoice::Named(n)), "tool") = (&req.tool_choice, kind.as_ref()) {
        o.insert("name".to_owned(), json!(n));
    }
    if req.parallel_tool_calls == Some(false) {
        o.insert("disable_parallel_tool_use".to_owned(), Value::Bool(true));
    }
    Some(Value::Object(o))
}

/// Anthropic's `display` values; other formats' words for "show a summary" or "hide" map onto
/// them, anything else is left out.
fn display_value(d: &str) -> Option<&'static str> {
    match d {
        "summarized" | "auto" | "concise" | "detailed" | "summary" => Some("summarized"),
        "omitted" | "none" | "hidden" => Some("omitted"),
        _ => None,
    }
}

/// `thinking`: `disabled` when reasoning is off (or effort `none`), `enabled` with a budget
/// clamped to `[1024, max_tokens - 1]` (pitfall 21), `adaptive` when enabled without a budget.
/// A budget that cannot fit (max_tokens ≤ 1024) leaves thinking out. Effort alone writes no
/// `thinking`: it goes to `output_config.effort`.
fn thinking_value(r: &Reasoning, max_tokens: u64) -> Option<Value> {
    let display = r.display.as_deref().and_then(display_value);
    let mut t = match (r.enabled, r.budget_tokens) {
        (Some(false), _) => return Some(json!({ "type": "disabled" })),
        (None, None) if r.effort.as_deref() == Some("none") => {
            return Some(json!({ "type": "disabled" }));
        }
        (None, None) => return None,
        (_, Some(budget)) => {
            let budget = budget
                .max(MIN_THINKING_BUDGET)
                .min(max_tokens.saturating_sub(1));
            if budget < MIN_THINKING_BUDGET {
                return None;
            }
            json!({ "type": "enabled", "budget_tokens": budget })
        }
        (Some(true), None) => json!({ "type": "adaptive" }),
    };
    if let (Some(d), Value::Object(o)) = (display, &mut t) {
        o.insert("display".to_owned(), json!(d));
    }
    Some(t)
}

/// Anthropic effort levels; `minimal` is read as `low`, `none` has no effort (thinking off).
fn effort_value(e: &str) -> Option<&str> {
    match e {
        "low" | "medium" | "high" | "xhigh" | "max" => Some(e),
        "minimal" => Some("low"),
        _ => None,
    }
}

/// `output_config`: `effort` from the reasoning settings, `format` from a JSON-schema
/// response format (pitfall 18: native structured output, never a forced tool). `json_object`
/// has no Anthropic counterpart and is left out.
fn output_config_value(req: &ChatRequest, raw: Option<Value>) -> Option<Value> {
    let mut o = Map::new();
    if let Some(e) = req
        .reasoning
        .as_ref()
        .and_then(|r| r.effort.as_deref())
        .and_then(effort_value)
    {
        o.insert("effort".to_owned(), json!(e));
    }
    if let Some(ResponseFormat::JsonSchema { schema, .. }) = &req.response_format {
        o.insert(
            "format".to_owned(),
            json!({ "type": "json_schema", "schema": schema }),
        );
    }
    let merged = merge_unknown(Value::Object(o), raw, &["effort", "format"]);
    merged
        .as_object()
        .is_some_and(|o| !o.is_empty())
        .then_some(merged)
}
