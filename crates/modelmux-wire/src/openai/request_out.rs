//! Canonical `ChatRequest` → a Chat Completions body for an OpenAI-format provider
//! (`to_openai`). Fields are written in a fixed order, then the request's `extra` fields of
//! format `OpenAiChat` are appended unchanged unless the key is already written; fields of
//! other formats are never written (OpenAI answers 400 to unknown parameters). Choices made
//! here: `tool_choice` and `parallel_tool_calls` only with tools (OpenAI rejects them alone);
//! a reasoning budget without an effort maps to low (< 2048), medium (< 8192) or high;
//! reasoning turned off without an effort writes nothing (non-reasoning models reject the
//! knob); at most four stop sequences (OpenAI's limit); `metadata` only when the request asks
//! for `store: true` (OpenAI accepts metadata only for stored completions); a streamed
//! request always asks for usage (`stream_options.include_usage`), which the gateway prices.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::messages_out::messages_out;
use crate::canonical::{ChatRequest, ResponseFormat, Tool, ToolChoice, WireFormat};

/// How to speak to a particular OpenAI-format provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenAiOptions {
    /// Send `max_tokens` (older compatible servers) instead of `max_completion_tokens`.
    pub legacy_max_tokens: bool,
}

/// Encodes a canonical request as a Chat Completions body for `model`.
pub fn to_openai(req: &ChatRequest, model: &str, opts: &OpenAiOptions) -> Vec<u8> {
    let extra = req.extra.for_format(WireFormat::OpenAiChat);
    let mut w = ObjectWriter::default();
    w.field("model", model);
    w.field("messages", &messages_out(&req.messages));
    let mut tools: Vec<Value> = req.tools.iter().map(tool_out).collect();
    if let Some(raw) = extra_get(extra, "tools")
        && let Ok(Value::Array(others)) = serde_json::from_str::<Value>(raw.get())
    {
        tools.extend(others);
    }
    if !tools.is_empty() {
        w.field("tools", &tools);
        if let Some(choice) = &req.tool_choice {
            w.field("tool_choice", &tool_choice_out(choice));
        }
        if let Some(p) = req.parallel_tool_calls {
            w.field("parallel_tool_calls", &p);
        }
    }
    if let Some(f) = &req.response_format {
        w.field("response_format", &response_format_out(f));
    }
    if let Some(effort) = req.reasoning.as_ref().and_then(effort_out) {
        w.field("reasoning_effort", &effort);
    }
    if let Some(n) = req.max_tokens {
        let key = if opts.legacy_max_tokens {
            "max_tokens"
        } else {
            "max_completion_tokens"
        };
        w.field(key, &n);
    }
    w.opt("temperature", req.temperature);
    w.opt("top_p", req.top_p);
    if !req.stop.is_empty() {
        w.field("stop", &req.stop[..req.stop.len().min(4)]);
    }
    w.opt("seed", req.seed);
    w.opt("presence_penalty", req.presence_penalty);
    w.opt("frequency_penalty", req.frequency_penalty);
    w.opt("n", req.n);
    if req.stream {
        w.field("stream", &true);
        w.field("stream_options", &json!({"include_usage": true}));
    }
    w.opt("user", req.user.as_deref());
    let stored = extra_get(extra, "store").is_some_and(|v| v.get() == "true");
    if let (Some(m), true) = (&req.metadata, stored) {
        w.field("metadata", m);
    }
    for (key, raw) in extra {
        w.raw(key, raw);
    }
    w.finish()
}

fn extra_get<'a>(extra: &'a [(String, Box<RawValue>)], key: &str) -> Option<&'a RawValue> {
    extra.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
}

fn tool_out(t: &Tool) -> Value {
    let mut f = json!({"name": t.name});
    if let Some(obj) = f.as_object_mut() {
        if let Some(d) = &t.description {
            obj.insert("description".to_owned(), Value::String(d.clone()));
        }
        if !t.parameters.is_null() {
            obj.insert("parameters".to_owned(), t.parameters.clone());
        }
        if let Some(s) = t.strict {
            obj.insert("strict".to_owned(), Value::Bool(s));
        }
    }
    json!({"type": "function", "function": f})
}

fn tool_choice_out(c: &ToolChoice) -> Value {
    match c {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

fn response_format_out(f: &ResponseFormat) -> Value {
    match f {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema {
            name,
            description,
            schema,
            strict,
        } => {
            let mut js = json!({"name": schema_name(name), "schema": schema});
            if let Some(obj) = js.as_object_mut() {
                if let Some(d) = description {
                    obj.insert("description".to_owned(), Value::String(d.clone()));
                }
                if let Some(s) = strict {
                    obj.insert("strict".to_owned(), Value::Bool(*s));
                }
            }
            json!({"type": "json_schema", "json_schema": js})
        }
    }
}

/// OpenAI wants `^[a-zA-Z0-9_-]{1,64}$`; other formats have no name at all.
fn schema_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() {
        "response".to_owned()
    } else {
        s
    }
}

fn effort_out(r: &crate::canonical::Reasoning) -> Option<String> {
    if let Some(e) = &r.effort {
        return Some(e.clone());
    }
    if r.enabled == Some(false) {
        return None;
    }
    r.budget_tokens.map(|b| {
        match b {
            0..2048 => "low",
            2048..8192 => "medium",
            _ => "high",
        }
        .to_owned()
    })
}

/// Writes a JSON object field by field, in order; a key is written once (the first wins).
#[derive(Default)]
struct ObjectWriter {
    buf: Vec<u8>,
    keys: Vec<String>,
}

impl ObjectWriter {
    fn begin(&mut self, key: &str) -> bool {
        if self.keys.iter().any(|k| k == key) {
            return false;
        }
        self.buf
            .push(if self.keys.is_empty() { b'{' } else { b',' });
        // Serialising a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, key);
        self.buf.push(b':');
        self.keys.push(key.to_owned());
        true
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        if let Ok(bytes) = serde_json::to_vec(value)
            && self.begin(key)
        {
            self.buf.extend_from_slice(&bytes);
        }
    }

    fn opt<T: Serialize>(&mut self, key: &str, value: Option<T>) {
        if let Some(v) = value {
            self.field(key, &v);
        }
    }

    fn raw(&mut self, key: &str, value: &RawValue) {
        if self.begin(key) {
            self.buf.extend_from_slice(value.get().as_bytes());
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.keys.is_empty() {
            self.buf.push(b'{');
        }
        self.buf.push(b'}');
        self.buf
    }
}
