//! Canonical request → Converse request body (`POST /model/{modelId}/converse`; the model id
//! travels in the path, see `model_path`). Field names follow the botocore service model
//! `bedrock-runtime-2023-09-30`. How each canonical piece lands:
//!
//! - System and developer messages before the first other message become `system[{text}]`.
//!   A system message later in the conversation keeps its text and its place: it becomes a
//!   user-turn text block `"System: <text>"` at that position, merged with the adjacent user
//!   turn (Bedrock has no mid-conversation system role; pitfall 10).
//! - Turns strictly alternate: consecutive same-role turns are merged (pitfall 9). Tool
//!   messages become user turns of `toolResult` blocks, so parallel results share ONE user
//!   message; within a user turn the results come first, then any text (pitfall 7).
//! - Empty and whitespace-only text blocks are dropped, and a turn left with nothing is dropped
//!   (pitfall 11). Tool-call arguments that are empty or not a JSON object become `{}`
//!   (pitfall 5).
//! - Images travel as base64 `image{format, source{bytes}}`. Bedrock cannot fetch URLs, and a
//!   pure translator must not: an http(s) image becomes the text block `[image: <url>]` so the
//!   model knows something was there (pitfall 22); the gateway may fetch and inline it before
//!   translating. Documents become `document{format, name, source{bytes|text}}`. These media
//!   blocks are built in `media`.
//! - Thinking with a signature → `reasoningContent{reasoningText{text, signature}}`, redacted
//!   thinking → `reasoningContent{redactedContent}`, both byte-exact (pitfall 13). Thinking
//!   without a signature came from another provider and cannot be replayed: it is dropped.
//! - `cache_control` on a text, image, document, tool result, system block or tool → a
//!   following `cachePoint{type:"default"}`.
//! - `toolChoice`: auto → `{auto:{}}`, required → `{any:{}}`, named → `{tool:{name}}`. Bedrock
//!   has no "none" (pitfall 17): `toolChoice` is omitted, and `toolConfig` too unless the
//!   history holds toolUse/toolResult blocks, which Bedrock refuses without a `toolConfig`;
//!   then the tools stay (or, if the request has none, one inert placeholder tool is sent).
//!   `parallel_tool_calls` has no Converse field and is dropped (never
//!   `disable_parallel_tool_use`, which Bedrock rejects).
//! - Claude (`anthropic.` or `claude` in the model id): reasoning → `additionalModelRequestFields
//!   .thinking{type:"enabled", budget_tokens}` (effort → budget; budget clamped to ≥ 1024 and
//!   below `maxTokens`; "adaptive" becomes a 2048 budget, which every thinking Claude on
//!   Bedrock accepts) and `top_k` → `additionalModelRequestFields.top_k`. With thinking on,
//!   temperature, top_k and a top_p below 0.95 are dropped and a forced tool choice becomes
//!   auto, as Claude requires (pitfall 21). Amazon Nova takes top_k as
//!   `additionalModelRequestFields.inferenceConfig.topK`; other families drop it.
//! - A JSON-schema response format → `outputConfig.textFormat{type:"json_schema",
//!   structure{jsonSchema{schema: <JSON text>, name, description}}}`; `json_object` has no
//!   Converse form and is dropped.
//! - `user` and string-valued `metadata` entries → `requestMetadata` (a map of at most 16
//!   strings limited to `[a-zA-Z0-9\s:_@$#=/+,-.]`); entries outside that are dropped.
//! - `seed`, penalties, `n` and `ChatRequest.extra` are never written.

use serde_json::{Map, Value, json};

use crate::canonical::{ChatRequest, Message, Part, Reasoning, ResponseFormat};
use crate::canonical::{Role, Tool, ToolChoice};

use super::media::{audio_block, document_block, image_block};

/// The placeholder tool sent when the history has tool blocks but the request has no tools.
const PLACEHOLDER_TOOL: &str = "modelmux_no_tools";

/// The Converse body for `req`, to be sent to the model `model_id`.
pub fn to_bedrock(req: &ChatRequest, model_id: &str) -> Vec<u8> {
    serde_json::to_vec(&converse_body(req, model_id)).unwrap_or_else(|_| b"{}".to_vec())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Claude,
    Nova,
    Other,
}

impl Family {
    fn of(model_id: &str) -> Self {
        let id = model_id.to_ascii_lowercase();
        if id.contains("anthropic.") || id.contains("claude") {
            Self::Claude
        } else if id.contains("amazon.nova") {
            Self::Nova
        } else {
            Self::Other
        }
    }
}

/// One content block, and whether it belongs with the tool results at the front of a user
/// turn (a `toolResult`, or the `cachePoint` right after one).
struct Block {
    value: Value,
    result: bool,
}

struct Turn {
    assistant: bool,
    blocks: Vec<Block>,
}

fn converse_body(req: &ChatRequest, model_id: &str) -> Value {
    let family = Family::of(model_id);
    let mut body = Map::new();

    let first_turn = req
        .messages
        .iter()
        .position(|m| !matches!(m.role, Role::System | Role::Developer))
        .unwrap_or(req.messages.len());
    let mut system = Vec::new();
    for m in &req.messages[..first_turn] {
        system_blocks(m, &mut system);
    }

    let mut turns: Vec<Turn> = Vec::new();
    for m in &req.messages[first_turn..] {
        let turn = turn_of(m);
        if turn.blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.assistant == turn.assistant => last.blocks.extend(turn.blocks),
            _ => turns.push(turn),
        }
    }
    let history_has_tools = turns
        .iter()
        .flat_map(|t| &t.blocks)
        .any(|b| b.value.get("toolUse").is_some() || b.value.get("toolResult").is_some());
    let messages: Vec<Value> = turns.into_iter().map(render_turn).collect();
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }

    let thinking = match (&req.reasoning, family) {
        (Some(r), Family::Claude) => thinking_budget(r, req.max_tokens),
        _ => None,
    };

    let mut inference = Map::new();
    if let Some(max) = req.max_tokens {
        inference.insert("maxTokens".into(), json!(max));
    }
    if let Some(t) = req.temperature.filter(|_| thinking.is_none()) {
        inference.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p.filter(|p| thinking.is_none() || *p >= 0.95) {
        inference.insert("topP".into(), json!(p));
    }
    let stops: Vec<&String> = req.stop.iter().filter(|s| !s.is_empty()).collect();
    if !stops.is_empty() {
        inference.insert("stopSequences".into(), json!(stops));
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }

    if let Some(config) = tool_config(req, history_has_tools, thinking.is_some()) {
        body.insert("toolConfig".into(), config);
    }

    let mut additional = Map::new();
    if let Some(budget) = thinking {
        additional.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if let Some(k) = req.top_k.filter(|_| thinking.is_none()) {
        match family {
            Family::Claude => {
                additional.insert("top_k".into(), json!(k));
            }
            Family::Nova => {
                additional.insert("inferenceConfig".into(), json!({"topK": k}));
            }
            Family::Other => {}
        }
    }
    if !additional.is_empty() {
        body.insert(
            "additionalModelRequestFields".into(),
            Value::Object(additional),
        );
    }

    if let Some(ResponseFormat::JsonSchema {
        name,
        description,
        schema,
        ..
    }) = &req.response_format
    {
        let mut def = Map::new();
        def.insert(
            "schema".into(),
            Value::String(serde_json::to_string(schema).unwrap_or_else(|_| "{}".into())),
        );
        if !name.is_empty() {
            def.insert("name".into(), Value::String(name.clone()));
        }
        if let Some(d) = description.as_ref().filter(|d| !d.is_empty()) {
            def.insert("description".into(), Value::String(d.clone()));
        }
        body.insert(
            "outputConfig".into(),
            json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": def}}}),
        );
    }

    if let Some(meta) = request_metadata(req) {
        body.insert("requestMetadata".into(), meta);
    }
    Value::Object(body)
}

fn cache_point() -> Value {
    json!({"cachePoint": {"type": "default"}})
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

fn system_blocks(m: &Message, out: &mut Vec<Value>) {
    for part in &m.content {
        if let Part::Text {
            text,
            cache_control,
        } = part
        {
            if is_blank(text) {
                continue;
            }
            out.push(json!({ "text": text }));
            if cache_control.is_some() {
                out.push(cache_point());
            }
        }
    }
}

fn turn_of(m: &Message) -> Turn {
    let mut blocks = Vec::new();
    match m.role {
        Role::System | Role::Developer => {
            let text = m.joined_text();
            if !is_blank(&text) {
                blocks.push(Block {
                    value: json!({ "text": format!("System: {text}") }),
                    result: false,
                });
                let cached = m.content.iter().any(|p| {
                    matches!(
                        p,
                        Part::Text {
                            cache_control: Some(_),
                            ..
                        }
                    )
                });
                if cached {
                    blocks.push(Block {
                        value: cache_point(),
                        result: false,
                    });
                }
            }
        }
        Role::User | Role::Assistant | Role::Tool => {
            for part in &m.content {
                push_part(part, &mut blocks);
            }
        }
    }
    Turn {
        assistant: m.role == Role::Assistant,
        blocks,
    }
}

fn push_part(part: &Part, out: &mut Vec<Block>) {
    let (value, cache, result) = match part {
        Part::Text {
            text,
            cache_control,
        } => {
            if is_blank(text) {
                return;
            }
            (json!({ "text": text }), cache_control.is_some(), false)
        }
        Part::Image {
            source,
            cache_control,
            ..
        } => (image_block(source), cache_control.is_some(), false),
        Part::Document {
            source,
            title,
            cache_control,
        } => (
            document_block(source, title.as_deref()),
            cache_control.is_some(),
            false,
        ),
        Part::Audio { format, data } => (audio_block(format, data), false, false),
        Part::ToolCall {
            id,
            name,
            arguments,
            ..
        } => (
            json!({"toolUse": {
                "toolUseId": tool_use_id(id),
                "name": name,
                "input": tool_input(arguments),
            }}),
            false,
            false,
        ),
        Part::ToolResult {
            call_id,
            content,
            is_error,
            cache_control,
            ..
        } => {
            let mut result = Map::new();
            result.insert("toolUseId".into(), Value::String(tool_use_id(call_id)));
            result.insert("content".into(), Value::Array(result_content(content)));
            if *is_error {
                result.insert("status".into(), Value::String("error".into()));
            }
            (
                json!({ "toolResult": result }),
                cache_control.is_some(),
                true,
            )
        }
        Part::Thinking {
            text,
            signature: Some(signature),
        } if !signature.is_empty() => (
            json!({"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}}),
            false,
            false,
        ),
        // Unsigned (or `""`-signed, as an Anthropic client echoes unsigned thinking) reasoning
        // cannot be replayed: Bedrock rejects an empty signature.
        Part::Thinking { .. } => return,
        Part::RedactedThinking { data } => (
            json!({"reasoningContent": {"redactedContent": data}}),
            false,
            false,
        ),
    };
    out.push(Block { value, result });
    if cache {
        out.push(Block {
            value: cache_point(),
            result,
        });
    }
}

/// The turn as a Converse message; in a user turn the tool results move to the front.
fn render_turn(turn: Turn) -> Value {
    let blocks: Vec<Value> = if turn.assistant {
        turn.blocks.into_iter().map(|b| b.value).collect()
    } else {
        let (results, rest): (Vec<Block>, Vec<Block>) =
            turn.blocks.into_iter().partition(|b| b.result);
        results.into_iter().chain(rest).map(|b| b.value).collect()
    };
    json!({
        "role": if turn.assistant { "assistant" } else { "user" },
        "content": blocks,
    })
}

/// Tool arguments as the object Bedrock requires: `""`, invalid JSON and non-objects → `{}`.
fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::Object(Map::new()),
    }
}

/// A `ToolUseId` must match `[a-zA-Z0-9_.:-]+` (1–64 chars). Other characters become `_`;
/// the mapping is deterministic, so a call and its result still match.
fn tool_use_id(id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if clean.is_empty() {
        "tool_call".to_owned()
    } else {
        clean
    }
}

fn result_content(parts: &[Part]) -> Vec<Value> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Text { text, .. } if !text.is_empty() => out.push(json!({ "text": text })),
            Part::Image { source, .. } => out.push(image_block(source)),
            Part::Document { source, title, .. } => {
                out.push(document_block(source, title.as_deref()))
            }
            _ => {}
        }
    }
    out
}

fn tool_spec(t: &Tool) -> Value {
    let mut spec = Map::new();
    spec.insert("name".into(), Value::String(t.name.clone()));
    if let Some(d) = t.description.as_ref().filter(|d| !d.is_empty()) {
        spec.insert("description".into(), Value::String(d.clone()));
    }
    let schema = match &t.parameters {
        Value::Object(_) => t.parameters.clone(),
        _ => json!({"type": "object", "properties": {}}),
    };
    spec.insert("inputSchema".into(), json!({ "json": schema }));
    if t.strict == Some(true) {
        spec.insert("strict".into(), Value::Bool(true));
    }
    json!({ "toolSpec": spec })
}

fn tool_config(req: &ChatRequest, history_has_tools: bool, thinking: bool) -> Option<Value> {
    let mut tools = Vec::new();
    for t in &req.tools {
        tools.push(tool_spec(t));
        if t.cache_control.is_some() {
            tools.push(cache_point());
        }
    }
    let choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::None) => {
            if !history_has_tools {
                return None;
            }
            None
        }
        Some(ToolChoice::Auto) => Some(json!({"auto": {}})),
        Some(ToolChoice::Required | ToolChoice::Named(_)) if thinking => Some(json!({"auto": {}})),
        Some(ToolChoice::Required) => Some(json!({"any": {}})),
        Some(ToolChoice::Named(name)) => Some(json!({"tool": {"name": name}})),
    };
    if tools.is_empty() {
        if !history_has_tools {
            return None;
        }
        let placeholder = json!({"toolSpec": {
            "name": PLACEHOLDER_TOOL,
            "description": "No tools are available in this conversation. Do not call this tool.",
            "inputSchema": {"json": {"type": "object", "properties": {}}},
        }});
        return Some(json!({ "tools": [placeholder] }));
    }
    let mut config = Map::new();
    config.insert("tools".into(), Value::Array(tools));
    if let Some(choice) = choice {
        config.insert("toolChoice".into(), choice);
    }
    Some(Value::Object(config))
}

/// Claude's thinking budget for `r`, or `None` when thinking stays off.
fn thinking_budget(r: &Reasoning, max_tokens: Option<u64>) -> Option<u64> {
    if r.enabled == Some(false) {
        return None;
    }
    let effort = r.effort.as_deref().map(str::to_ascii_lowercase);
    if effort.as_deref() == Some("none") && r.budget_tokens.is_none() {
        return None;
    }
    let budget = match (r.budget_tokens, effort.as_deref()) {
        (Some(b), _) => b,
        (None, Some("minimal" | "low")) => 1024,
        (None, Some("high")) => 4096,
        (None, Some("xhigh")) => 8192,
        (None, Some("max")) => 16384,
        (None, Some(_)) => 2048,
        (None, None) if r.enabled == Some(true) => 2048,
        (None, None) => return None,
    };
    let budget = budget.max(1024);
    match max_tokens {
        Some(max) if budget >= max => (max > 1024).then(|| max - 1),
        _ => Some(budget),
    }
}

fn request_metadata(req: &ChatRequest) -> Option<Value> {
    let mut meta = Map::new();
    let user = req
        .user
        .as_deref()
        .filter(|u| !u.is_empty() && metadata_ok(u));
    let room = if user.is_some() { 15 } else { 16 };
    for (k, v) in req.metadata.iter().flatten() {
        if meta.len() >= room {
            break;
        }
        if let Value::String(s) = v
            && !k.is_empty()
            && k != "user"
            && metadata_ok(k)
            && metadata_ok(s)
        {
            meta.insert(k.clone(), Value::String(s.clone()));
        }
    }
    if let Some(u) = user {
        meta.insert("user".into(), Value::String(u.to_owned()));
    }
    (!meta.is_empty()).then_some(Value::Object(meta))
}

/// `[a-zA-Z0-9\s:_@$#=/+,-.]{0,256}`, the pattern of request-metadata keys and values.
fn metadata_ok(s: &str) -> bool {
    s.len() <= 256
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    ' ' | '\t'
                        | '\n'
                        | '\r'
                        | '\x0b'
                        | '\x0c'
                        | ':'
                        | '_'
                        | '@'
                        | '$'
                        | '#'
                        | '='
                        | '/'
                        | '+'
                        | ','
                        | '-'
                        | '.'
                )
        })
}
