//! A `POST /v1/responses` body → canonical `ChatRequest` (`from_responses`). Top-level fields
//! are read in the client's order; those with a canonical place are validated (errors name
//! the parameter, e.g. `input[3].content[0].image_url`) and everything else goes to `extra`,
//! tagged `OpenAiResponses`, raw and in order: `include`, `store`, `prompt_cache_key`,
//! `client_metadata`, `previous_response_id` (the gateway resolves it), `service_tier`,
//! `truncation`, `stream_options`, `background`, `conversation`, ...
//!
//! Choices made here:
//! - `input` as a string is one user message; items are read by `items_in`.
//! - `instructions` (a string, or items) becomes the leading message(s), a string as a
//!   `System` message; it also stays raw in `extra` so the answer can echo it and a Responses
//!   target gets it back as `instructions`.
//! - `tools`: `function` tools map one to one; `custom` tools become function tools taking
//!   `{"input": string}`; the nested tools of a `namespace` tool are flattened
//!   (`names::flatten`); built-in tools (`web_search`, `file_search`, `code_interpreter`,
//!   `image_generation`, `local_shell`, `mcp`, ...) have no canonical form. The whole raw
//!   `tools` array stays in `extra`: a Responses target gets exactly what the client sent, the
//!   encoders rebuild the name map from it ([`FlatNames::from_request`]), and the gateway can
//!   list the built-ins it drops for other targets ([`builtin_tools`]).
//! - `text.format` → `response_format`; the other members of `text` (`verbosity`) stay in
//!   `extra` as `text`. `reasoning.effort` / `summary` → `Reasoning` (`summary` as `display`,
//!   effort `none` as disabled); other members stay in `extra` as `reasoning`.
//! - `max_output_tokens` → `max_tokens`; `safety_identifier` fills `user` when `user` is
//!   absent and also stays in `extra`; `null` means "not set".

use indexmap::IndexMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::items_in::{invalid_type, items_at, missing};
use super::names::{FlatNames, custom_parameters, flatten};
use crate::canonical::{
    ChatRequest, Message, Reasoning, ResponseFormat, Role, Tool, ToolChoice, WireFormat,
};
use crate::codec::TranslateError;

/// Fields read into canonical places and not kept in `extra`.
const CANONICAL_ONLY: [&str; 10] = [
    "model",
    "user",
    "input",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "metadata",
];

/// Decodes a Responses API request body into canonical form.
pub fn from_responses(body: &[u8]) -> Result<ChatRequest, TranslateError> {
    let fields: IndexMap<String, Box<RawValue>> = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            TranslateError::new("The request body must be a JSON object.")
        } else {
            TranslateError::new(format!(
                "We could not parse the JSON body of your request. ({e})"
            ))
        }
    })?;
    let mut req = ChatRequest::default();
    req.extra.format = Some(WireFormat::OpenAiResponses);
    let mut model = None;
    let mut input: Vec<Message> = Vec::new();
    let mut instructions: Vec<Message> = Vec::new();
    let mut safety = None;
    let mut raw_choice = None;
    for (key, raw) in fields {
        let v: Value = serde_json::from_str(raw.get())
            .map_err(|_| TranslateError::at(&key, format!("Invalid value for '{key}'.")))?;
        if v.is_null() {
            if !CANONICAL_ONLY.contains(&key.as_str()) {
                req.extra.fields.push((key, raw));
            }
            continue;
        }
        let mut keep = true;
        match key.as_str() {
            "model" => model = Some(string(&v, &key)?.to_owned()),
            "input" => input = input_in(&v)?,
            "instructions" => instructions = instructions_in(&v)?,
            "tools" => req.tools = tools_in(&v)?,
            "tool_choice" => match tool_choice_in(&v)? {
                Some(c) => req.tool_choice = Some(c),
                None => raw_choice = Some(raw.clone()),
            },
            "parallel_tool_calls" => req.parallel_tool_calls = Some(boolean(&v, &key)?),
            "text" => {
                let (format, rest) = text_in(&v)?;
                req.response_format = format;
                if rest.is_empty() {
                    keep = false;
                } else {
                    req.extra
                        .fields
                        .push((key.clone(), raw_of(&Value::Object(rest))));
                    continue;
                }
            }
            "reasoning" => {
                let (r, rest) = reasoning_in(&v)?;
                req.reasoning = Some(r);
                if rest.is_empty() {
                    keep = false;
                } else {
                    req.extra
                        .fields
                        .push((key.clone(), raw_of(&Value::Object(rest))));
                    continue;
                }
            }
            "max_output_tokens" => match v.as_u64() {
                Some(0) => {
                    return Err(TranslateError::at(
                        &key,
                        "'max_output_tokens' must be at least 1.",
                    ));
                }
                Some(n) => req.max_tokens = Some(n),
                None => return Err(invalid_type(&key, "a positive integer")),
            },
            "temperature" => req.temperature = Some(number(&v, &key)?),
            "top_p" => req.top_p = Some(number(&v, &key)?),
            "stream" => req.stream = boolean(&v, &key)?,
            "user" => req.user = Some(string(&v, &key)?.to_owned()),
            "safety_identifier" => safety = Some(string(&v, &key)?.to_owned()),
            "metadata" => {
                let m = v
                    .as_object()
                    .ok_or_else(|| invalid_type(&key, "an object of strings"))?;
                if let Some((k, _)) = m.iter().find(|(_, v)| !v.is_string()) {
                    return Err(invalid_type(&format!("metadata.{k}"), "a string"));
                }
                req.metadata = Some(m.clone());
            }
            // Read by the gateway (its own store), kept for a Responses target.
            "store" => {
                boolean(&v, &key)?;
            }
            "previous_response_id" => {
                string(&v, &key)?;
            }
            _ => {}
        }
        if keep && !CANONICAL_ONLY.contains(&key.as_str()) {
            req.extra.fields.push((key, raw));
        }
    }
    if let Some(raw) = raw_choice {
        req.extra.fields.push(("tool_choice".to_owned(), raw));
    }
    req.model = model.ok_or_else(|| missing("model"))?;
    if req.model.trim().is_empty() {
        return Err(TranslateError::at("model", "'model' must not be empty."));
    }
    instructions.extend(input);
    req.messages = instructions;
    req.user = req.user.take().or(safety);
    Ok(req)
}

/// The types of the built-in (provider-hosted) tools a request asks for, which only a
/// Responses-format target can run; empty for requests of other formats.
pub fn builtin_tools(req: &ChatRequest) -> Vec<String> {
    if req.extra.format != Some(WireFormat::OpenAiResponses) {
        return Vec::new();
    }
    let tools = req
        .extra
        .get("tools")
        .and_then(|raw| serde_json::from_str::<Vec<Value>>(raw.get()).ok())
        .unwrap_or_default();
    tools
        .iter()
        .filter_map(|t| t.get("type").and_then(Value::as_str))
        .filter(|ty| !matches!(*ty, "function" | "custom" | "namespace"))
        .map(str::to_owned)
        .collect()
}

fn input_in(v: &Value) -> Result<Vec<Message>, TranslateError> {
    match v {
        Value::String(s) => Ok(vec![Message::text(Role::User, s.clone())]),
        Value::Array(items) => items_at(items, "input"),
        _ => Err(invalid_type("input", "a string or an array")),
    }
}

fn instructions_in(v: &Value) -> Result<Vec<Message>, TranslateError> {
    match v {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![Message::text(Role::System, s.clone())]),
        Value::Array(items) => items_at(items, "instructions"),
        _ => Err(invalid_type("instructions", "a string or an array")),
    }
}

fn tools_in(v: &Value) -> Result<Vec<Tool>, TranslateError> {
    let arr = v
        .as_array()
        .ok_or_else(|| invalid_type("tools", "an array"))?;
    // Validates that flat names are unambiguous.
    FlatNames::from_tools(v)?;
    let mut tools = Vec::new();
    for (i, t) in arr.iter().enumerate() {
        let path = format!("tools[{i}]");
        let obj = t
            .as_object()
            .ok_or_else(|| invalid_type(&path, "an object"))?;
        let kind = match obj.get("type") {
            None | Some(Value::Null) => None,
            Some(t) => Some(string(t, &format!("{path}.type"))?),
        };
        match kind {
            Some("function") => tools.push(function_in(obj, &path, None)?),
            Some("custom") => tools.push(custom_in(obj, &path, None)?),
            Some("namespace") => {
                let ns = name_of(obj, &path)?;
                let ns_desc = obj.get("description").and_then(Value::as_str);
                let nested = obj
                    .get("tools")
                    .and_then(Value::as_array)
                    .ok_or_else(|| missing(&format!("{path}.tools")))?;
                for (j, n) in nested.iter().enumerate() {
                    let p = format!("{path}.tools[{j}]");
                    let o = n.as_object().ok_or_else(|| invalid_type(&p, "an object"))?;
                    let scope = Some((ns.as_str(), ns_desc));
                    let kind = match o.get("type") {
                        None | Some(Value::Null) => "function",
                        Some(t) => string(t, &format!("{p}.type"))?,
                    };
                    match kind {
                        "function" => tools.push(function_in(o, &p, scope)?),
                        "custom" => tools.push(custom_in(o, &p, scope)?),
                        other => {
                            return Err(TranslateError::at(
                                format!("{p}.type"),
                                format!(
                                    "A namespace holds function and custom tools, not '{other}'."
                                ),
                            ));
                        }
                    }
                }
            }
            Some(_) => {}
            None => return Err(missing(&format!("{path}.type"))),
        }
    }
    Ok(tools)
}

fn name_of(obj: &Map<String, Value>, path: &str) -> Result<String, TranslateError> {
    let p = format!("{path}.name");
    let name = string(obj.get("name").ok_or_else(|| missing(&p))?, &p)?;
    if name.is_empty() {
        return Err(TranslateError::at(p, "A tool name must not be empty."));
    }
    Ok(name.to_owned())
}

/// The canonical name and description of a (possibly nested) tool.
fn scoped(
    obj: &Map<String, Value>,
    path: &str,
    scope: Option<(&str, Option<&str>)>,
) -> Result<(String, Option<String>), TranslateError> {
    let name = name_of(obj, path)?;
    let desc = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(d) => Some(string(d, &format!("{path}.description"))?.to_owned()),
    };
    Ok(match scope {
        None => (name, desc),
        Some((ns, ns_desc)) => {
            let context = match ns_desc {
                Some(d) if !d.is_empty() => format!("(Tool '{name}' of '{ns}': {d})"),
                _ => format!("(Tool '{name}' of '{ns}'.)"),
            };
            let desc = match desc {
                Some(d) => format!("{d}\n\n{context}"),
                None => context,
            };
            (flatten(ns, &name), Some(desc))
        }
    })
}

fn function_in(
    obj: &Map<String, Value>,
    path: &str,
    scope: Option<(&str, Option<&str>)>,
) -> Result<Tool, TranslateError> {
    let (name, description) = scoped(obj, path, scope)?;
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
        name,
        description,
        parameters,
        strict,
        cache_control: None,
    })
}

/// A custom tool: a function taking `{"input": string}`; a grammar is described in words.
fn custom_in(
    obj: &Map<String, Value>,
    path: &str,
    scope: Option<(&str, Option<&str>)>,
) -> Result<Tool, TranslateError> {
    let (name, mut description) = scoped(obj, path, scope)?;
    if let Some(f) = obj.get("format").and_then(Value::as_object)
        && f.get("type").and_then(Value::as_str) == Some("grammar")
    {
        let syntax = f.get("syntax").and_then(Value::as_str).unwrap_or("lark");
        let definition = f.get("definition").and_then(Value::as_str).unwrap_or("");
        let note = format!("The input must match this {syntax} grammar:\n{definition}");
        description = Some(match description {
            Some(d) => format!("{d}\n\n{note}"),
            None => note,
        });
    }
    Ok(Tool {
        name,
        description,
        parameters: custom_parameters(),
        strict: None,
        cache_control: None,
    })
}

/// `None`: a choice with no canonical form (`allowed_tools`, a built-in tool type), kept raw.
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
        Value::Object(o) => {
            let kind = match o.get("type") {
                None | Some(Value::Null) => return Err(missing("tool_choice.type")),
                Some(t) => string(t, "tool_choice.type")?,
            };
            if !matches!(kind, "function" | "custom") {
                return Ok(None);
            }
            let name = match o.get("name") {
                None | Some(Value::Null) => return Err(missing("tool_choice.name")),
                Some(n) => string(n, "tool_choice.name")?,
            };
            let namespace = match o.get("namespace") {
                None | Some(Value::Null) => None,
                Some(ns) => Some(string(ns, "tool_choice.namespace")?),
            };
            Ok(Some(ToolChoice::Named(match namespace {
                Some(ns) => flatten(ns, name),
                None => name.to_owned(),
            })))
        }
        _ => Err(invalid_type("tool_choice", "a string or an object")),
    }
}

/// `text.format` and the other members of `text`.
fn text_in(v: &Value) -> Result<(Option<ResponseFormat>, Map<String, Value>), TranslateError> {
    let mut obj = v
        .as_object()
        .ok_or_else(|| invalid_type("text", "an object"))?
        .clone();
    let format = match obj.shift_remove("format") {
        None | Some(Value::Null) => None,
        Some(f) => Some(format_in(&f)?),
    };
    Ok((format, obj))
}

fn format_in(v: &Value) -> Result<ResponseFormat, TranslateError> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid_type("text.format", "an object"))?;
    let kind = match obj.get("type") {
        None | Some(Value::Null) => None,
        Some(t) => Some(string(t, "text.format.type")?),
    };
    match kind {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let opt = |key: &str| -> Result<Option<&str>, TranslateError> {
                match obj.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => string(v, &format!("text.format.{key}")).map(Some),
                }
            };
            let schema = match obj.get("schema") {
                None | Some(Value::Null) => return Err(missing("text.format.schema")),
                Some(s @ Value::Object(_)) => s.clone(),
                Some(_) => return Err(invalid_type("text.format.schema", "an object")),
            };
            let strict = match obj.get("strict") {
                None | Some(Value::Null) => None,
                Some(s) => Some(boolean(s, "text.format.strict")?),
            };
            Ok(ResponseFormat::JsonSchema {
                name: opt("name")?.unwrap_or("response").to_owned(),
                description: opt("description")?.map(str::to_owned),
                schema,
                strict,
            })
        }
        Some(other) => Err(TranslateError::at(
            "text.format.type",
            format!(
                "Invalid value: '{other}'. Supported values are: 'text', 'json_object' and 'json_schema'."
            ),
        )),
        None => Err(missing("text.format.type")),
    }
}

/// `reasoning.effort` / `summary` and the other members of `reasoning`.
fn reasoning_in(v: &Value) -> Result<(Reasoning, Map<String, Value>), TranslateError> {
    let mut obj = v
        .as_object()
        .ok_or_else(|| invalid_type("reasoning", "an object"))?
        .clone();
    let mut r = Reasoning::default();
    match obj.shift_remove("effort") {
        None | Some(Value::Null) => {}
        Some(e) => {
            let effort = string(&e, "reasoning.effort")?;
            r.enabled = (effort == "none").then_some(false);
            r.effort = Some(effort.to_owned());
        }
    }
    let summary = obj.shift_remove("summary");
    let legacy = obj.shift_remove("generate_summary");
    for s in [summary, legacy].into_iter().flatten() {
        if !s.is_null() && r.display.is_none() {
            r.display = Some(string(&s, "reasoning.summary")?.to_owned());
        }
    }
    Ok((r, obj))
}

fn raw_of(v: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).unwrap_or_default()
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, TranslateError> {
    v.as_str().ok_or_else(|| invalid_type(path, "a string"))
}

fn boolean(v: &Value, path: &str) -> Result<bool, TranslateError> {
    v.as_bool().ok_or_else(|| invalid_type(path, "a boolean"))
}

fn number(v: &Value, path: &str) -> Result<f64, TranslateError> {
    v.as_f64().ok_or_else(|| invalid_type(path, "a number"))
}
