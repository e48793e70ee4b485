//! Inbound Messages bodies (`POST /v1/messages`) → canonical `ChatRequest`. The body is read
//! field by field in its original order: fields with a canonical place are validated the way
//! Anthropic validates them (errors name the parameter, dotted as Anthropic does:
//! `messages.2.content.0.text`) and translated; everything else is kept raw in `extra` (tagged
//! Anthropic), so an Anthropic target gets it back unchanged. `thinking` and `output_config` are
//! translated and also kept raw (their sub-fields we do not model survive); `tools` is kept raw
//! only when it holds something a canonical `Tool` cannot (server tools such as web_search, or
//! keys such as `type`, `defer_loading`). `extra.format` is always set, even with no fields: it
//! marks the request as coming from an Anthropic client.
//!
//! `system` (string or text blocks) becomes System messages at the start; the `messages`
//! array is read by `messages_decode`. The small typed readers here (`string`, `object`,
//! `positive_int`, ...) are shared with it, each error naming its path.

use indexmap::IndexMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::messages_decode::parse_messages;
use crate::canonical::{
    ChatRequest, Extra, Message, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
    WireFormat,
};
use crate::codec::TranslateError;

/// Tool keys a canonical `Tool` holds; any other key makes the raw `tools` array go to extra.
const TOOL_KEYS: &[&str] = &[
    "name",
    "description",
    "input_schema",
    "strict",
    "cache_control",
];

/// Decodes and validates an Anthropic Messages request body.
pub fn from_anthropic(body: &[u8]) -> Result<ChatRequest, TranslateError> {
    let fields: IndexMap<String, Box<RawValue>> = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            TranslateError::new("The request body must be a JSON object.")
        } else {
            TranslateError::new(format!("The request body is not valid JSON: {e}"))
        }
    })?;

    let mut req = ChatRequest::default();
    let mut extra: Vec<(String, Box<RawValue>)> = Vec::new();
    let mut model = None;
    let mut max_tokens = None;
    let mut messages = None;
    let mut system = Vec::new();
    let mut thinking: Option<Reasoning> = None;
    let mut effort = None;

    for (key, raw) in fields {
        let v = value(&raw, &key)?;
        if v.is_null() && !matches!(key.as_str(), "model" | "max_tokens" | "messages") {
            // A null optional field is as good as absent (Anthropic's nullable fields).
            if !is_known(&key) {
                extra.push((key, raw));
            }
            continue;
        }
        match key.as_str() {
            "model" => model = Some(string(v, "model")?),
            "max_tokens" => max_tokens = Some(positive_int(&v, "max_tokens")?),
            "messages" => messages = Some(parse_messages(v)?),
            "system" => system = parse_system(v)?,
            "tools" => {
                let (tools, keep_raw) = parse_tools(v)?;
                req.tools = tools;
                if keep_raw {
                    extra.push((key, raw));
                }
            }
            "tool_choice" => {
                let (choice, parallel) = parse_tool_choice(v)?;
                req.tool_choice = Some(choice);
                req.parallel_tool_calls = parallel;
            }
            "thinking" => {
                thinking = Some(parse_thinking(v)?);
                extra.push((key, raw));
            }
            "output_config" => {
                let (e, format) = parse_output_config(v)?;
                effort = e;
                req.response_format = format;
                extra.push((key, raw));
            }
            "stop_sequences" => req.stop = string_list(v, "stop_sequences")?,
            "temperature" => req.temperature = Some(number(&v, "temperature")?),
            "top_p" => req.top_p = Some(number(&v, "top_p")?),
            "top_k" => req.top_k = Some(non_negative_int(&v, "top_k")?),
            "stream" => req.stream = boolean(&v, "stream")?,
            "metadata" => parse_metadata(v, &mut req)?,
            _ => extra.push((key, raw)),
        }
    }

    req.model = model.ok_or_else(|| TranslateError::at("model", "model: Field required"))?;
    if req.model.is_empty() {
        return Err(TranslateError::at(
            "model",
            "model: String should have at least 1 character",
        ));
    }
    req.max_tokens = Some(
        max_tokens.ok_or_else(|| TranslateError::at("max_tokens", "max_tokens: Field required"))?,
    );
    let messages =
        messages.ok_or_else(|| TranslateError::at("messages", "messages: Field required"))?;
    system.extend(messages);
    req.messages = system;
    if thinking.is_some() || effort.is_some() {
        let mut r = thinking.unwrap_or_default();
        r.effort = effort;
        req.reasoning = Some(r);
    }
    req.extra = Extra {
        format: Some(WireFormat::Anthropic),
        fields: extra,
    };
    Ok(req)
}

fn is_known(key: &str) -> bool {
    matches!(
        key,
        "model"
            | "max_tokens"
            | "messages"
            | "system"
            | "tools"
            | "tool_choice"
            | "thinking"
            | "output_config"
            | "stop_sequences"
            | "temperature"
            | "top_p"
            | "top_k"
            | "stream"
            | "metadata"
    )
}

fn value(raw: &RawValue, path: &str) -> Result<Value, TranslateError> {
    serde_json::from_str(raw.get())
        .map_err(|e| TranslateError::at(path, format!("{path}: could not be read: {e}")))
}

pub(super) fn err(path: &str, what: &str) -> TranslateError {
    TranslateError::at(path, format!("{path}: {what}"))
}

pub(super) fn string(v: Value, path: &str) -> Result<String, TranslateError> {
    match v {
        Value::String(s) => Ok(s),
        Value::Null => Err(err(path, "Field required")),
        _ => Err(err(path, "Input should be a valid string")),
    }
}

pub(super) fn opt_string(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, TranslateError> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => string(v, &format!("{path}.{key}")).map(Some),
    }
}

pub(super) fn req_string(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<String, TranslateError> {
    let p = format!("{path}.{key}");
    string(obj.remove(key).unwrap_or(Value::Null), &p)
}

pub(super) fn positive_int(v: &Value, path: &str) -> Result<u64, TranslateError> {
    match v {
        Value::Null => Err(err(path, "Field required")),
        Value::Number(n) => match n.as_u64() {
            Some(0) => Err(err(path, "Input should be greater than or equal to 1")),
            Some(n) => Ok(n),
            None if n.as_i64().is_some() => {
                Err(err(path, "Input should be greater than or equal to 1"))
            }
            None => Err(err(path, "Input should be a valid integer")),
        },
        _ => Err(err(path, "Input should be a valid integer")),
    }
}

pub(super) fn non_negative_int(v: &Value, path: &str) -> Result<u64, TranslateError> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| {
            if n.as_i64().is_some() {
                err(path, "Input should be greater than or equal to 0")
            } else {
                err(path, "Input should be a valid integer")
            }
        }),
        _ => Err(err(path, "Input should be a valid integer")),
    }
}

pub(super) fn number(v: &Value, path: &str) -> Result<f64, TranslateError> {
    v.as_f64()
        .ok_or_else(|| err(path, "Input should be a valid number"))
}

pub(super) fn boolean(v: &Value, path: &str) -> Result<bool, TranslateError> {
    v.as_bool()
        .ok_or_else(|| err(path, "Input should be a valid boolean"))
}

pub(super) fn object(v: Value, path: &str) -> Result<Map<String, Value>, TranslateError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(err(path, "Input should be a valid dictionary")),
    }
}

pub(super) fn array(v: Value, path: &str) -> Result<Vec<Value>, TranslateError> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(err(path, "Input should be a valid list")),
    }
}

pub(super) fn string_list(v: Value, path: &str) -> Result<Vec<String>, TranslateError> {
    array(v, path)?
        .into_iter()
        .enumerate()
        .map(|(i, s)| string(s, &format!("{path}.{i}")))
        .collect()
}

pub(super) fn cache_control(obj: &mut Map<String, Value>) -> Option<Value> {
    obj.remove("cache_control").filter(|v| !v.is_null())
}

fn parse_system(v: Value) -> Result<Vec<Message>, TranslateError> {
    let content = match v {
        Value::String(s) if s.is_empty() => return Ok(Vec::new()),
        Value::String(s) => vec![Part::text(s)],
        Value::Array(blocks) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (i, b) in blocks.into_iter().enumerate() {
                let path = format!("system.{i}");
                let mut b = object(b, &path)?;
                let kind = req_string(&mut b, "type", &path)?;
                if kind != "text" {
                    return Err(err(&format!("{path}.type"), "Input should be 'text'"));
                }
                let text = req_string(&mut b, "text", &path)?;
                parts.push(Part::Text {
                    text,
                    cache_control: cache_control(&mut b),
                });
            }
            if parts.is_empty() {
                return Ok(Vec::new());
            }
            parts
        }
        _ => return Err(err("system", "Input should be a valid string or list")),
    };
    Ok(vec![Message {
        role: Role::System,
        content,
        name: None,
    }])
}

/// Returns the tools and whether the raw array must be kept in extra.
fn parse_tools(v: Value) -> Result<(Vec<Tool>, bool), TranslateError> {
    let items = array(v, "tools")?;
    let mut tools = Vec::with_capacity(items.len());
    let mut keep_raw = false;
    for (i, t) in items.into_iter().enumerate() {
        let path = format!("tools.{i}");
        let mut t = object(t, &path)?;
        let custom = match t.get("type") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s == "custom",
            Some(_) => {
                return Err(err(
                    &format!("{path}.type"),
                    "Input should be a valid string",
                ));
            }
        };
        if !custom {
            // A server tool (web_search, code_execution, ...): only the raw array holds it.
            keep_raw = true;
            continue;
        }
        if t.keys().any(|k| !TOOL_KEYS.contains(&k.as_str())) {
            keep_raw = true;
        }
        let name = req_string(&mut t, "name", &path)?;
        let parameters = match t.remove("input_schema") {
            Some(v @ Value::Object(_)) => v,
            None | Some(Value::Null) => {
                return Err(err(&format!("{path}.input_schema"), "Field required"));
            }
            Some(_) => {
                return Err(err(
                    &format!("{path}.input_schema"),
                    "Input should be a valid dictionary",
                ));
            }
        };
        let strict = match t.remove("strict") {
            None | Some(Value::Null) => None,
            Some(v) => Some(boolean(&v, &format!("{path}.strict"))?),
        };
        tools.push(Tool {
            name,
            description: opt_string(&mut t, "description", &path)?,
            parameters,
            strict,
            cache_control: cache_control(&mut t),
        });
    }
    Ok((tools, keep_raw))
}

fn parse_tool_choice(v: Value) -> Result<(ToolChoice, Option<bool>), TranslateError> {
    let mut o = object(v, "tool_choice")?;
    let kind = req_string(&mut o, "type", "tool_choice")?;
    let choice = match kind.as_str() {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Named(req_string(&mut o, "name", "tool_choice")?),
        _ => {
            return Err(err(
                "tool_choice.type",
                "Input should be 'auto', 'any', 'tool' or 'none'",
            ));
        }
    };
    let parallel = match o.remove("disable_parallel_tool_use") {
        None | Some(Value::Null) => None,
        Some(v) => Some(!boolean(&v, "tool_choice.disable_parallel_tool_use")?),
    };
    Ok((choice, parallel))
}

fn parse_thinking(v: Value) -> Result<Reasoning, TranslateError> {
    let mut o = object(v, "thinking")?;
    let kind = req_string(&mut o, "type", "thinking")?;
    let display = opt_string(&mut o, "display", "thinking")?;
    let r = match kind.as_str() {
        "enabled" => Reasoning {
            enabled: Some(true),
            budget_tokens: Some(positive_int(
                o.get("budget_tokens").unwrap_or(&Value::Null),
                "thinking.budget_tokens",
            )?),
            display,
            effort: None,
        },
        "adaptive" => Reasoning {
            enabled: Some(true),
            display,
            ..Reasoning::default()
        },
        "disabled" => Reasoning {
            enabled: Some(false),
            display,
            ..Reasoning::default()
        },
        _ => {
            return Err(err(
                "thinking.type",
                "Input should be 'enabled', 'adaptive' or 'disabled'",
            ));
        }
    };
    Ok(r)
}

fn parse_output_config(
    v: Value,
) -> Result<(Option<String>, Option<ResponseFormat>), TranslateError> {
    let mut o = object(v, "output_config")?;
    let effort = opt_string(&mut o, "effort", "output_config")?;
    let format = match o.remove("format") {
        None | Some(Value::Null) => None,
        Some(f) => {
            let mut f = object(f, "output_config.format")?;
            let kind = req_string(&mut f, "type", "output_config.format")?;
            if kind != "json_schema" {
                return Err(err(
                    "output_config.format.type",
                    "Input should be 'json_schema'",
                ));
            }
            let schema = match f.remove("schema") {
                Some(s @ Value::Object(_)) => s,
                _ => return Err(err("output_config.format.schema", "Field required")),
            };
            Some(ResponseFormat::JsonSchema {
                name: "output".to_owned(),
                description: None,
                schema,
                strict: None,
            })
        }
    };
    Ok((effort, format))
}

fn parse_metadata(v: Value, req: &mut ChatRequest) -> Result<(), TranslateError> {
    let mut o = object(v, "metadata")?;
    // Kept verbatim: Claude Code puts a JSON document in this string.
    req.user = opt_string(&mut o, "user_id", "metadata")?;
    if !o.is_empty() {
        req.metadata = Some(o);
    }
    Ok(())
}
