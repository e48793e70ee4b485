//! Responses input items → canonical messages (`items_to_messages`), for a request's `input`
//! and for items the gateway stored and replays. `message` items keep their role (user,
//! developer, system, assistant) and their content parts (`input_text`, `output_text`,
//! `refusal` → text; `input_image` → image; `input_file` → document). Assistant-side items
//! that follow each other (`reasoning`, assistant `message`, `function_call`,
//! `custom_tool_call`, `local_shell_call`) are gathered into one assistant message, so a turn's
//! reasoning and its parallel calls stay together. `function_call_output` and
//! `custom_tool_call_output` become one `Role::Tool` message each, with the tool's name taken
//! from the call it answers. A `reasoning` item gives `Thinking` (its `content`, else its
//! `summary` text) and, with `encrypted_content`, `RedactedThinking` carrying it; content the
//! gateway wrapped itself (see `reasoning`) unwraps to the original thinking signature or
//! redacted data. `item_reference` needs a store and is refused; provider-side call records
//! (`web_search_call`, `file_search_call`, ...) and unknown item types are skipped: they have
//! no canonical form, and a same-format target gets the original body anyway.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::names::{custom_arguments, flatten};
use super::reasoning::unwrap_encrypted;
use crate::canonical::{MediaSource, Message, Part, Role};
use crate::codec::TranslateError;

/// Reads input or stored items into canonical messages.
pub fn items_to_messages(items: &[Value]) -> Result<Vec<Message>, TranslateError> {
    items_at(items, "input")
}

pub(super) fn items_at(items: &[Value], base: &str) -> Result<Vec<Message>, TranslateError> {
    let mut out: Vec<Message> = Vec::new();
    let mut assistant: Vec<Part> = Vec::new();
    let mut call_names: HashMap<String, String> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{base}[{i}]");
        let obj = item
            .as_object()
            .ok_or_else(|| invalid_type(&path, "an object"))?;
        let ty = match obj.get("type") {
            Some(Value::String(s)) => s.as_str(),
            None | Some(Value::Null) if obj.contains_key("role") => "message",
            None | Some(Value::Null) if obj.contains_key("id") => "item_reference",
            None | Some(Value::Null) => return Err(missing(&format!("{path}.type"))),
            Some(_) => return Err(invalid_type(&format!("{path}.type"), "a string")),
        };
        match ty {
            "message" => {
                let role = role_of(obj, &path)?;
                let content = message_content(obj.get("content"), &format!("{path}.content"))?;
                if role == Role::Assistant {
                    assistant.extend(content);
                } else {
                    flush(&mut out, &mut assistant);
                    out.push(Message {
                        role,
                        content,
                        name: None,
                    });
                }
            }
            "function_call" | "custom_tool_call" | "local_shell_call" => {
                let part = call_part(obj, ty, &path)?;
                if let Part::ToolCall { id, name, .. } = &part {
                    call_names.insert(id.clone(), name.clone());
                }
                assistant.push(part);
            }
            "reasoning" => assistant.extend(reasoning_parts(obj, &path)?),
            "function_call_output" | "custom_tool_call_output" | "local_shell_call_output" => {
                flush(&mut out, &mut assistant);
                let call_id = call_id_of(obj, &path, ty == "local_shell_call_output")?;
                let content = output_content(obj.get("output"), &format!("{path}.output"))?;
                out.push(Message {
                    role: Role::Tool,
                    content: vec![Part::ToolResult {
                        name: call_names.get(&call_id).cloned(),
                        call_id,
                        content,
                        is_error: false,
                        cache_control: None,
                    }],
                    name: None,
                });
            }
            "item_reference" => {
                return Err(TranslateError::at(
                    path,
                    "Item references need stored items; send the items themselves (or use previous_response_id).",
                ));
            }
            // Provider-side records and unknown items: no canonical form (see the module doc).
            _ => {}
        }
    }
    flush(&mut out, &mut assistant);
    Ok(out)
}

fn flush(out: &mut Vec<Message>, assistant: &mut Vec<Part>) {
    if !assistant.is_empty() {
        out.push(Message {
            role: Role::Assistant,
            content: std::mem::take(assistant),
            name: None,
        });
    }
}

fn role_of(obj: &Map<String, Value>, path: &str) -> Result<Role, TranslateError> {
    let p = format!("{path}.role");
    match obj.get("role") {
        Some(Value::String(r)) => match r.as_str() {
            "user" => Ok(Role::User),
            "assistant" => Ok(Role::Assistant),
            "system" => Ok(Role::System),
            "developer" => Ok(Role::Developer),
            other => Err(TranslateError::at(
                p,
                format!(
                    "Invalid value: '{other}'. Supported values are: 'user', 'assistant', 'system' and 'developer'."
                ),
            )),
        },
        Some(_) => Err(invalid_type(&p, "a string")),
        None => Err(missing(&p)),
    }
}

/// A message's content: a string, or a list of content parts.
pub(super) fn message_content(v: Option<&Value>, path: &str) -> Result<Vec<Part>, TranslateError> {
    match v {
        Some(Value::String(s)) => Ok(vec![Part::text(s.clone())]),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (i, p) in parts.iter().enumerate() {
                if let Some(part) = content_part(p, &format!("{path}[{i}]"))? {
                    out.push(part);
                }
            }
            Ok(out)
        }
        Some(_) => Err(invalid_type(path, "a string or an array")),
        None => Err(missing(path)),
    }
}

/// One content part; `None` for parts with nothing to carry (an empty refusal).
fn content_part(p: &Value, path: &str) -> Result<Option<Part>, TranslateError> {
    let obj = p
        .as_object()
        .ok_or_else(|| invalid_type(path, "an object"))?;
    let ty = match obj.get("type") {
        None | Some(Value::Null) => "",
        Some(Value::String(t)) => t.as_str(),
        Some(_) => return Err(invalid_type(&format!("{path}.type"), "a string")),
    };
    // Optional string members: a wrong type is an error, an empty string counts as absent.
    let str_of = |key: &str| -> Result<Option<&str>, TranslateError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str()).filter(|s| !s.is_empty())),
            Some(_) => Err(invalid_type(&format!("{path}.{key}"), "a string")),
        }
    };
    let text = |key: &str| -> Result<String, TranslateError> {
        match obj.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(invalid_type(&format!("{path}.{key}"), "a string")),
            None => Err(missing(&format!("{path}.{key}"))),
        }
    };
    match ty {
        "input_text" | "output_text" | "text" | "summary_text" | "reasoning_text" => {
            Ok(Some(Part::text(text("text")?)))
        }
        "refusal" => Ok(Some(Part::text(text("refusal")?)).filter(|p| match p {
            Part::Text { text, .. } => !text.is_empty(),
            _ => true,
        })),
        "input_image" => {
            let source = match (str_of("image_url")?, str_of("file_id")?) {
                (Some(url), _) => MediaSource::from_data_uri(url)
                    .unwrap_or_else(|| MediaSource::Url(url.to_owned())),
                (None, Some(id)) => MediaSource::Url(id.to_owned()),
                (None, None) => return Err(missing(&format!("{path}.image_url"))),
            };
            Ok(Some(Part::Image {
                source,
                detail: str_of("detail")?.map(str::to_owned),
                cache_control: None,
            }))
        }
        "input_file" => {
            let filename = str_of("filename")?;
            let (file_url, file_id) = (str_of("file_url")?, str_of("file_id")?);
            let source = if let Some(data) = str_of("file_data")? {
                MediaSource::from_data_uri(data).unwrap_or_else(|| MediaSource::Base64 {
                    media_type: media_type_for(filename).to_owned(),
                    data: data.to_owned(),
                })
            } else if let Some(url) = file_url.or(file_id) {
                MediaSource::Url(url.to_owned())
            } else {
                return Err(missing(&format!("{path}.file_data")));
            };
            Ok(Some(Part::Document {
                source,
                title: filename.map(str::to_owned),
                cache_control: None,
            }))
        }
        "" => Err(missing(&format!("{path}.type"))),
        other => Err(TranslateError::at(
            format!("{path}.type"),
            format!("Unsupported content part type: '{other}'."),
        )),
    }
}

fn str_of<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The media type of a bare base64 file, from its name (PDF when unknown).
fn media_type_for(filename: Option<&str>) -> &'static str {
    let ext = filename
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt") => "text/plain",
        Some("md") => "text/markdown",
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        Some("html" | "htm") => "text/html",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/pdf",
    }
}

fn call_id_of(
    obj: &Map<String, Value>,
    path: &str,
    id_fallback: bool,
) -> Result<String, TranslateError> {
    let p = format!("{path}.call_id");
    match obj.get("call_id") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(TranslateError::at(p, "'call_id' must not be empty.")),
        Some(v) if !v.is_null() => Err(invalid_type(&p, "a string")),
        _ => match obj.get("id").and_then(Value::as_str) {
            Some(id) if id_fallback && !id.is_empty() => Ok(id.to_owned()),
            _ => Err(missing(&p)),
        },
    }
}

/// A `function_call`, `custom_tool_call` or `local_shell_call` item as a tool call part.
fn call_part(obj: &Map<String, Value>, ty: &str, path: &str) -> Result<Part, TranslateError> {
    let call_id = call_id_of(obj, path, ty == "local_shell_call")?;
    let name = match (ty, obj.get("name")) {
        ("local_shell_call", _) => "local_shell".to_owned(),
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(_)) => return Err(invalid_type(&format!("{path}.name"), "a string")),
        (_, None) => return Err(missing(&format!("{path}.name"))),
    };
    let name = match str_of(obj, "namespace") {
        Some(ns) => flatten(ns, &name),
        None => name,
    };
    let arguments = match ty {
        "custom_tool_call" => match obj.get("input") {
            Some(Value::String(s)) => custom_arguments(s),
            Some(_) => return Err(invalid_type(&format!("{path}.input"), "a string")),
            None => return Err(missing(&format!("{path}.input"))),
        },
        "local_shell_call" => obj.get("action").map(Value::to_string).unwrap_or_default(),
        _ => match obj.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(_) => return Err(invalid_type(&format!("{path}.arguments"), "a string")),
        },
    };
    Ok(Part::ToolCall {
        id: call_id,
        name,
        arguments,
        signature: None,
    })
}

/// A `reasoning` item: its readable text, then its encrypted content.
fn reasoning_parts(obj: &Map<String, Value>, path: &str) -> Result<Vec<Part>, TranslateError> {
    let joined = |key: &str| -> Result<String, TranslateError> {
        let mut text = String::new();
        match obj.get(key) {
            Some(Value::Array(parts)) => {
                for (i, p) in parts.iter().enumerate() {
                    let t = p
                        .get("text")
                        .and_then(Value::as_str)
                        .ok_or_else(|| missing(&format!("{path}.{key}[{i}].text")))?;
                    if !text.is_empty() && !t.is_empty() {
                        text.push_str("\n\n");
                    }
                    text.push_str(t);
                }
            }
            None | Some(Value::Null) => {}
            Some(_) => return Err(invalid_type(&format!("{path}.{key}"), "an array")),
        }
        Ok(text)
    };
    let content = joined("content")?;
    let text = if content.is_empty() {
        joined("summary")?
    } else {
        content
    };
    let encrypted = str_of(obj, "encrypted_content");
    Ok(unwrap_encrypted(text, encrypted))
}

/// The output of a tool call: a string, or a list of content parts.
fn output_content(v: Option<&Value>, path: &str) -> Result<Vec<Part>, TranslateError> {
    match v {
        Some(Value::String(s)) => Ok(vec![Part::text(s.clone())]),
        Some(Value::Array(_)) => message_content(v, path),
        // Local shell outputs and lenient clients: any other JSON, as text.
        Some(other) if !other.is_null() => Ok(vec![Part::text(other.to_string())]),
        _ => Err(missing(path)),
    }
}

pub(super) fn invalid_type(path: &str, what: &str) -> TranslateError {
    TranslateError::at(path, format!("Invalid type for '{path}': expected {what}."))
}

pub(super) fn missing(path: &str) -> TranslateError {
    TranslateError::at(path, format!("Missing required parameter: '{path}'."))
}
