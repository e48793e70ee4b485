//! Chat Completions request body → canonical `ChatRequest` (`from_openai`). Top-level fields
//! are read in the client's order; the ones with a canonical place are validated (errors name
//! the parameter, e.g. `messages[2].content[0].image_url`) and the rest go to `extra`,
//! tagged `OpenAiChat`, raw and in order. Messages are read by `messages_in`. Choices made
//! here: `safety_identifier` fills `user` when `user` is absent and also stays in `extra`;
//! `top_k` (a vLLM extension) fills `top_k` and stays in `extra`; tools and tool choices
//! that are not plain functions (custom, allowed_tools, ...) stay raw in `extra` under their
//! own key; the legacy `functions` / `function_call` become tools and a tool choice.

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::chat::ChatBody;
use super::messages_in::messages_in;
use crate::canonical::{ChatRequest, Reasoning, ResponseFormat, Tool, ToolChoice, WireFormat};
use crate::codec::TranslateError;

/// The fields read into canonical places (all others go to `extra`).
const KNOWN: [&str; 23] = [
    "model",
    "messages",
    "tools",
    "functions",
    "tool_choice",
    "function_call",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "max_completion_tokens",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "seed",
    "n",
    "stream",
    "user",
    "safety_identifier",
    "metadata",
];

/// Decodes an inbound Chat Completions body into canonical form.
pub fn from_openai(body: &ChatBody) -> Result<ChatRequest, TranslateError> {
    let mut req = ChatRequest::default();
    req.extra.format = Some(WireFormat::OpenAiChat);
    let (mut model, mut messages) = (None, None);
    let (mut max_completion, mut max_legacy) = (None, None);
    let (mut safety, mut legacy_choice) = (None, None);
    for (key, raw) in body.fields() {
        let v: Value = serde_json::from_str(raw.get())
            .map_err(|_| TranslateError::at(key, format!("Invalid value for '{key}'.")))?;
        let keep_too = matches!(key, "safety_identifier" | "top_k");
        if v.is_null() {
            // `null` means "not set": dropped for the fields read below, kept for the rest.
            if !KNOWN.contains(&key) {
                req.extra.fields.push((key.to_owned(), raw.to_owned()));
            }
            continue;
        }
        match key {
            "model" => model = Some(string(&v, key)?.to_owned()),
            "messages" => messages = Some(messages_in(&v)?),
            "tools" => {
                let others = tools_in(&v, &mut req.tools)?;
                if !others.is_empty() {
                    req.extra
                        .fields
                        .push((key.to_owned(), raw_of(&Value::Array(others))));
                }
            }
            "functions" => legacy_functions(&v, &mut req.tools)?,
            "tool_choice" => match tool_choice_in(&v)? {
                Some(c) => req.tool_choice = Some(c),
                None => req.extra.fields.push((key.to_owned(), raw.to_owned())),
            },
            "function_call" => legacy_choice = Some(legacy_function_call(&v)?),
            "parallel_tool_calls" => req.parallel_tool_calls = Some(boolean(&v, key)?),
            "response_format" => req.response_format = Some(response_format_in(&v)?),
            "reasoning_effort" => {
                let effort = string(&v, key)?;
                req.reasoning = Some(Reasoning {
                    effort: Some(effort.to_owned()),
                    enabled: (effort == "none").then_some(false),
                    ..Reasoning::default()
                });
            }
            "max_completion_tokens" => max_completion = Some(token_limit(&v, key)?),
            "max_tokens" => max_legacy = Some(token_limit(&v, key)?),
            "temperature" => req.temperature = Some(number(&v, key)?),
            "top_p" => req.top_p = Some(number(&v, key)?),
            "top_k" => req.top_k = Some(unsigned(&v, key)?),
            "presence_penalty" => req.presence_penalty = Some(number(&v, key)?),
            "frequency_penalty" => req.frequency_penalty = Some(number(&v, key)?),
            "stop" => req.stop = stop_in(&v)?,
            "seed" => {
                req.seed = Some(v.as_i64().ok_or_else(|| invalid_type(key, "an integer"))?);
            }
            "n" => {
                let n = unsigned(&v, key)?;
                if n == 0 {
                    return Err(TranslateError::at(key, "'n' must be at least 1."));
                }
                req.n = Some(u32::try_from(n).map_err(|_| invalid_type(key, "a small integer"))?);
            }
            "stream" => req.stream = boolean(&v, key)?,
            "user" => req.user = Some(string(&v, key)?.to_owned()),
            "safety_identifier" => safety = Some(string(&v, key)?.to_owned()),
            "metadata" => req.metadata = Some(metadata_in(&v)?),
            "stream_options" => {
                // Not translated (each encoder asks for usage itself), but checked as on
                // passthrough.
                let o = v
                    .as_object()
                    .ok_or_else(|| invalid_type(key, "an object"))?;
                if let Some(u) = o.get("include_usage").filter(|u| !u.is_null()) {
                    boolean(u, "stream_options.include_usage")?;
                }
                req.extra.fields.push((key.to_owned(), raw.to_owned()));
            }
            _ => req.extra.fields.push((key.to_owned(), raw.to_owned())),
        }
        if keep_too {
            req.extra.fields.push((key.to_owned(), raw.to_owned()));
        }
    }
    req.model = model.ok_or_else(|| missing("model"))?;
    if req.model.trim().is_empty() {
        return Err(TranslateError::at("model", "'model' must not be empty."));
    }
    req.messages = messages.ok_or_else(|| missing("messages"))?;
    req.max_tokens = max_completion.or(max_legacy);
    req.user = req.user.take().or(safety);
    if req.tool_choice.is_none() {
        req.tool_choice = legacy_choice;
    }
    Ok(req)
}

fn tools_in(v: &Value, tools: &mut Vec<Tool>) -> Result<Vec<Value>, TranslateError> {
    let arr = v
        .as_array()
        .ok_or_else(|| invalid_type("tools", "an array"))?;
    let mut others = Vec::new();
    for (i, t) in arr.iter().enumerate() {
        let path = format!("tools[{i}]");
        let obj = t
            .as_object()
            .ok_or_else(|| invalid_type(&path, "an object"))?;
        let kind = match obj.get("type") {
            None | Some(Value::Null) => "function",
            Some(t) => string(t, &format!("{path}.type"))?,
        };
        match kind {
            "function" => {
                let f = obj
                    .get("function")
                    .ok_or_else(|| missing(&format!("{path}.function")))?;
                tools.push(function_in(f, &format!("{path}.function"))?);
            }
            _ => others.push(t.clone()),
        }
    }
    Ok(others)
}

fn legacy_functions(v: &Value, tools: &mut Vec<Tool>) -> Result<(), TranslateError> {
    let arr = v
        .as_array()
        .ok_or_else(|| invalid_type("functions", "an array"))?;
    for (i, f) in arr.iter().enumerate() {
        tools.push(function_in(f, &format!("functions[{i}]"))?);
    }
    Ok(())
}

fn function_in(f: &Value, path: &str) -> Result<Tool, TranslateError> {
    let obj = f
        .as_object()
        .ok_or_else(|| invalid_type(path, "an object"))?;
    let name = obj
        .get("name")
        .ok_or_else(|| missing(&format!("{path}.name")))?;
    let name = string(name, &format!("{path}.name"))?;
    if name.is_empty() {
        return Err(TranslateError::at(
            format!("{path}.name"),
            "A function name must not be empty.",
        ));
    }
    let description = match obj.get("description") {
        Some(Value::Null) | None => None,
        Some(d) => Some(string(d, &format!("{path}.description"))?.to_owned()),
    };
    let parameters = match obj.get("parameters") {
        Some(Value::Null) | None => json!({"type": "object", "properties": {}}),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => return Err(invalid_type(&format!("{path}.parameters"), "an object")),
    };
    let strict = match obj.get("strict") {
        Some(Value::Null) | None => None,
        Some(s) => Some(boolean(s, &format!("{path}.strict"))?),
    };
    Ok(Tool {
        name: name.to_owned(),
        description,
        parameters,
        strict,
        cache_control: obj.get("cache_control").cloned(),
    })
}

/// `None`: a choice with no canonical form (`allowed_tools`, `custom`), kept raw.
fn tool_choice_in(v: &Value) -> Result<Option<ToolChoice>, TranslateError> {
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(Some(ToolChoice::Auto)),
            "none" => Ok(Some(ToolChoice::None)),
            "required" => Ok(Some(ToolChoice::Required)),
            other => Err(TranslateError::at(
                "tool_choice",
                format!(
                    "Invalid value: '{other}'. Supported values are: 'none', 'auto' and 'required'."
                ),
            )),
        },
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let f = match o.get("function") {
                None | Some(Value::Null) => return Err(missing("tool_choice.function.name")),
                Some(f) => f
                    .as_object()
                    .ok_or_else(|| invalid_type("tool_choice.function", "an object"))?,
            };
            let name = opt_string(f, "name", "tool_choice.function")?
                .ok_or_else(|| missing("tool_choice.function.name"))?;
            Ok(Some(ToolChoice::Named(name)))
        }
        Value::Object(_) => Ok(None),
        _ => Err(invalid_type("tool_choice", "a string or an object")),
    }
}

fn legacy_function_call(v: &Value) -> Result<ToolChoice, TranslateError> {
    match v {
        Value::String(s) if s == "auto" => Ok(ToolChoice::Auto),
        Value::String(s) if s == "none" => Ok(ToolChoice::None),
        Value::Object(o) => match opt_string(o, "name", "function_call")? {
            Some(name) => Ok(ToolChoice::Named(name)),
            None => Err(missing("function_call.name")),
        },
        _ => Err(TranslateError::at(
            "function_call",
            "Invalid value: expected 'none', 'auto' or {\"name\": ...}.",
        )),
    }
}

fn response_format_in(v: &Value) -> Result<ResponseFormat, TranslateError> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid_type("response_format", "an object"))?;
    match obj.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            const PATH: &str = "response_format.json_schema";
            let js = match obj.get("json_schema") {
                None | Some(Value::Null) => return Err(missing(PATH)),
                Some(js) => js
                    .as_object()
                    .ok_or_else(|| invalid_type(PATH, "an object"))?,
            };
            let schema = match js.get("schema") {
                None | Some(Value::Null) => json!({}),
                Some(s @ Value::Object(_)) => s.clone(),
                Some(_) => return Err(invalid_type(&format!("{PATH}.schema"), "an object")),
            };
            let strict = match js.get("strict") {
                None | Some(Value::Null) => None,
                Some(s) => Some(boolean(s, &format!("{PATH}.strict"))?),
            };
            Ok(ResponseFormat::JsonSchema {
                name: opt_string(js, "name", PATH)?.unwrap_or_else(|| "response".to_owned()),
                description: opt_string(js, "description", PATH)?,
                schema,
                strict,
            })
        }
        Some(other) => Err(TranslateError::at(
            "response_format.type",
            format!(
                "Invalid value: '{other}'. Supported values are: 'text', 'json_object' and 'json_schema'."
            ),
        )),
        None => Err(missing("response_format.type")),
    }
}

/// `metadata`: an object of strings.
fn metadata_in(v: &Value) -> Result<Map<String, Value>, TranslateError> {
    let m = v
        .as_object()
        .ok_or_else(|| invalid_type("metadata", "an object of strings"))?;
    if let Some((k, _)) = m.iter().find(|(_, v)| !v.is_string()) {
        return Err(invalid_type(&format!("metadata.{k}"), "a string"));
    }
    Ok(m.clone())
}

fn stop_in(v: &Value) -> Result<Vec<String>, TranslateError> {
    match v {
        Value::String(s) => Ok(if s.is_empty() {
            vec![]
        } else {
            vec![s.clone()]
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_str() != Some(""))
            .map(|(i, s)| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid_type(&format!("stop[{i}]"), "a string"))
            })
            .collect(),
        _ => Err(invalid_type("stop", "a string or an array of strings")),
    }
}

fn token_limit(v: &Value, key: &str) -> Result<u64, TranslateError> {
    match v.as_u64() {
        Some(0) => Err(TranslateError::at(
            key,
            "The token limit must be at least 1.",
        )),
        Some(n) => Ok(n),
        None => Err(invalid_type(key, "a positive integer")),
    }
}

fn raw_of(v: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).unwrap_or_default()
}

// Small typed readers shared with `messages_in`, each naming the parameter at fault.

pub(super) fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, TranslateError> {
    v.as_str().ok_or_else(|| invalid_type(path, "a string"))
}

pub(super) fn boolean(v: &Value, path: &str) -> Result<bool, TranslateError> {
    v.as_bool().ok_or_else(|| invalid_type(path, "a boolean"))
}

fn number(v: &Value, path: &str) -> Result<f64, TranslateError> {
    v.as_f64().ok_or_else(|| invalid_type(path, "a number"))
}

fn unsigned(v: &Value, path: &str) -> Result<u64, TranslateError> {
    v.as_u64()
        .ok_or_else(|| invalid_type(path, "a non-negative integer"))
}

pub(super) fn invalid_type(path: &str, what: &str) -> TranslateError {
    TranslateError::at(path, format!("Invalid type for '{path}': expected {what}."))
}

pub(super) fn missing(path: &str) -> TranslateError {
    TranslateError::at(path, format!("Missing required parameter: '{path}'."))
}

/// Reads an optional string member (`null` counts as absent).
pub(super) fn opt_string(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, TranslateError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Ok(Some(string(v, &format!("{path}.{key}"))?.to_owned())),
    }
}
