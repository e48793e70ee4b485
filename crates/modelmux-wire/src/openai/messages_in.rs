//! The `messages` array of a Chat Completions body → canonical messages, in place (system
//! and developer messages stay where they were). Content is a string or parts; empty text is
//! dropped rather than kept as an empty part (pitfall 11). An assistant's non-standard
//! `reasoning_content` (DeepSeek, vLLM) or `reasoning` becomes a leading `Thinking` part so it
//! can be sent back (pitfall 16); `refusal` becomes text. Each `tool` message is one
//! `Role::Tool` message with one `ToolResult`, named after the call it answers when an
//! earlier assistant turn made it. Anthropic-style blocks pasted into OpenAI messages
//! (`tool_use`, `tool_result`, `thinking`, `image`/`document` with a `source`) are translated,
//! not dropped (pitfall 12); `tool_result` blocks in a user message become a `Role::Tool`
//! message placed before the rest of that message. Any other part type is rejected with its
//! path. Legacy `function_call` / `function` messages get synthetic ids that pair them up.

use serde_json::{Map, Value};

use super::request_in::{boolean, invalid_type, missing, opt_string, string};
use crate::canonical::{MediaSource, Message, Part, Role};
use crate::codec::TranslateError;

pub(super) fn messages_in(v: &Value) -> Result<Vec<Message>, TranslateError> {
    let arr = v
        .as_array()
        .ok_or_else(|| invalid_type("messages", "an array"))?;
    if arr.is_empty() {
        return Err(TranslateError::at(
            "messages",
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
        ));
    }
    let mut st = State {
        out: Vec::with_capacity(arr.len()),
        calls: Vec::new(),
    };
    for (i, m) in arr.iter().enumerate() {
        st.message(i, m)?;
    }
    Ok(st.out)
}

struct State {
    out: Vec<Message>,
    /// `(id, name)` of every tool call made so far, to name the results.
    calls: Vec<(String, String)>,
}

impl State {
    fn message(&mut self, i: usize, m: &Value) -> Result<(), TranslateError> {
        let path = format!("messages[{i}]");
        let obj = m
            .as_object()
            .ok_or_else(|| invalid_type(&path, "an object"))?;
        let role_path = format!("{path}.role");
        let role = match obj.get("role") {
            None | Some(Value::Null) => return Err(missing(&role_path)),
            Some(r) => string(r, &role_path)?,
        };
        let name = opt_string(obj, "name", &path)?;
        match role {
            "system" | "developer" => {
                let role = if role == "system" {
                    Role::System
                } else {
                    Role::Developer
                };
                let content = self.content(obj, &path, role, true)?;
                self.push(role, content, name);
            }
            "user" => {
                let parts = self.content(obj, &path, Role::User, true)?;
                let (results, rest): (Vec<Part>, Vec<Part>) = parts
                    .into_iter()
                    .partition(|p| matches!(p, Part::ToolResult { .. }));
                let had_results = !results.is_empty();
                if had_results {
                    self.push(Role::Tool, results, None);
                }
                if !rest.is_empty() || !had_results {
                    self.push(Role::User, rest, name);
                }
            }
            "assistant" => self.assistant(i, obj, &path, name)?,
            "tool" => {
                let id_path = format!("{path}.tool_call_id");
                let call_id = match obj.get("tool_call_id") {
                    None | Some(Value::Null) => return Err(missing(&id_path)),
                    Some(v) => string(v, &id_path)?.to_owned(),
                };
                let content = self.content(obj, &path, Role::Tool, true)?;
                let result = self.result(call_id, None, content, false);
                self.push(Role::Tool, vec![result], None);
            }
            "function" => {
                let fname = name.ok_or_else(|| missing(&format!("{path}.name")))?;
                let content = self.content(obj, &path, Role::Tool, false)?;
                let call_id = self
                    .calls
                    .iter()
                    .rev()
                    .find(|(_, n)| *n == fname)
                    .map_or_else(|| format!("call_{fname}"), |(id, _)| id.clone());
                let result = self.result(call_id, Some(fname), content, false);
                self.push(Role::Tool, vec![result], None);
            }
            other => {
                return Err(TranslateError::at(
                    role_path,
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'."
                    ),
                ));
            }
        }
        Ok(())
    }

    fn push(&mut self, role: Role, content: Vec<Part>, name: Option<String>) {
        self.out.push(Message {
            role,
            content,
            name,
        });
    }

    fn result(&self, call_id: String, name: Option<String>, content: Vec<Part>, err: bool) -> Part {
        let name = name.or_else(|| {
            self.calls
                .iter()
                .rev()
                .find(|(id, _)| *id == call_id)
                .map(|(_, n)| n.clone())
        });
        Part::ToolResult {
            call_id,
            name,
            content,
            is_error: err,
            cache_control: None,
        }
    }

    fn assistant(
        &mut self,
        i: usize,
        obj: &Map<String, Value>,
        path: &str,
        name: Option<String>,
    ) -> Result<(), TranslateError> {
        let mut parts = Vec::new();
        let reasoning = ["reasoning_content", "reasoning"].iter().find_map(|k| {
            obj.get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        });
        if let Some(text) = reasoning {
            parts.push(Part::Thinking {
                text: text.to_owned(),
                signature: None,
            });
        }
        parts.extend(self.content(obj, path, Role::Assistant, false)?);
        if let Some(r) = opt_string(obj, "refusal", path)?.filter(|r| !r.is_empty()) {
            parts.push(Part::text(r));
        }
        match obj.get("tool_calls") {
            None | Some(Value::Null) => {}
            Some(Value::Array(calls)) => {
                for (k, c) in calls.iter().enumerate() {
                    parts.push(tool_call_in(c, &format!("{path}.tool_calls[{k}]"))?);
                }
            }
            Some(_) => return Err(invalid_type(&format!("{path}.tool_calls"), "an array")),
        }
        if let Some(fc) = obj.get("function_call").filter(|v| !v.is_null()) {
            let fpath = format!("{path}.function_call");
            let f = fc
                .as_object()
                .ok_or_else(|| invalid_type(&fpath, "an object"))?;
            let fname =
                opt_string(f, "name", &fpath)?.ok_or_else(|| missing(&format!("{fpath}.name")))?;
            let arguments = arguments_in(f.get("arguments"), &format!("{fpath}.arguments"))?;
            parts.push(Part::ToolCall {
                id: format!("call_{i}_{fname}"),
                name: fname,
                arguments,
                signature: None,
            });
        }
        for p in &parts {
            if let Part::ToolCall { id, name, .. } = p {
                self.calls.push((id.clone(), name.clone()));
            }
        }
        self.push(Role::Assistant, parts, name);
        Ok(())
    }

    /// The `content` member as parts. `required`: absent or null content is an error.
    fn content(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        role: Role,
        required: bool,
    ) -> Result<Vec<Part>, TranslateError> {
        let cpath = format!("{path}.content");
        match obj.get("content") {
            None | Some(Value::Null) if required => Err(missing(&cpath)),
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![Part::text(s.clone())]),
            Some(Value::Array(items)) => {
                let mut parts = Vec::with_capacity(items.len());
                for (j, item) in items.iter().enumerate() {
                    let ppath = format!("{cpath}[{j}]");
                    if let Some(p) = self.part(item, &ppath)? {
                        check_allowed(role, &p, &ppath)?;
                        parts.push(p);
                    }
                }
                Ok(parts)
            }
            Some(_) => Err(invalid_type(
                &cpath,
                "a string or an array of content parts",
            )),
        }
    }

    /// One content part; `None` for an empty text part.
    fn part(&mut self, v: &Value, path: &str) -> Result<Option<Part>, TranslateError> {
        let obj = v
            .as_object()
            .ok_or_else(|| invalid_type(path, "an object"))?;
        let tpath = format!("{path}.type");
        let kind = match obj.get("type") {
            None | Some(Value::Null) => return Err(missing(&tpath)),
            Some(t) => string(t, &tpath)?,
        };
        let cache_control = obj.get("cache_control").filter(|c| !c.is_null()).cloned();
        let req = |key: &str| -> Result<String, TranslateError> {
            opt_string(obj, key, path)?.ok_or_else(|| missing(&format!("{path}.{key}")))
        };
        let part = match kind {
            "text" | "input_text" | "output_text" => {
                let text = req("text")?;
                if text.is_empty() {
                    return Ok(None);
                }
                Part::Text {
                    text,
                    cache_control,
                }
            }
            "refusal" => Part::text(req("refusal")?),
            "image_url" => image_url_in(obj, path, cache_control)?,
            "input_audio" => {
                let apath = format!("{path}.input_audio");
                let a = obj
                    .get("input_audio")
                    .and_then(Value::as_object)
                    .ok_or_else(|| missing(&apath))?;
                let get = |k: &str| {
                    opt_string(a, k, &apath)?.ok_or_else(|| missing(&format!("{apath}.{k}")))
                };
                Part::Audio {
                    data: get("data")?,
                    format: get("format")?,
                }
            }
            "file" => file_in(obj, path, cache_control)?,
            // Anthropic-style blocks (pitfall 12).
            "image" | "document" => {
                let source = source_in(obj.get("source"), &format!("{path}.source"))?;
                if kind == "image" {
                    Part::Image {
                        source,
                        detail: None,
                        cache_control,
                    }
                } else {
                    Part::Document {
                        source,
                        title: opt_string(obj, "title", path)?,
                        cache_control,
                    }
                }
            }
            "tool_use" => Part::ToolCall {
                id: req("id")?,
                name: req("name")?,
                arguments: input_in(obj.get("input")),
                signature: None,
            },
            "tool_result" => {
                let call_id = req("tool_use_id")?;
                let content = self.content(obj, path, Role::Tool, false)?;
                let is_error = match obj.get("is_error") {
                    None | Some(Value::Null) => false,
                    Some(b) => boolean(b, &format!("{path}.is_error"))?,
                };
                let mut r = self.result(call_id, None, content, is_error);
                if let Part::ToolResult {
                    cache_control: c, ..
                } = &mut r
                {
                    *c = cache_control;
                }
                r
            }
            "thinking" => Part::Thinking {
                text: req("thinking")?,
                signature: opt_string(obj, "signature", path)?,
            },
            "redacted_thinking" => Part::RedactedThinking { data: req("data")? },
            other => {
                return Err(TranslateError::at(
                    tpath,
                    format!(
                        "Invalid value: '{other}'. Supported content part types are: 'text', 'image_url', 'input_audio', 'file' and 'refusal'."
                    ),
                ));
            }
        };
        Ok(Some(part))
    }
}

fn check_allowed(role: Role, p: &Part, path: &str) -> Result<(), TranslateError> {
    let ok = match role {
        Role::System | Role::Developer => matches!(p, Part::Text { .. }),
        Role::User => matches!(
            p,
            Part::Text { .. }
                | Part::Image { .. }
                | Part::Audio { .. }
                | Part::Document { .. }
                | Part::ToolResult { .. }
        ),
        Role::Assistant => matches!(
            p,
            Part::Text { .. }
                | Part::Thinking { .. }
                | Part::RedactedThinking { .. }
                | Part::ToolCall { .. }
        ),
        Role::Tool => matches!(p, Part::Text { .. } | Part::Image { .. }),
    };
    if ok {
        return Ok(());
    }
    let role = match role {
        Role::System => "system",
        Role::Developer => "developer",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    Err(TranslateError::at(
        path,
        format!("This content part is not allowed in a '{role}' message."),
    ))
}

fn tool_call_in(c: &Value, path: &str) -> Result<Part, TranslateError> {
    let obj = c
        .as_object()
        .ok_or_else(|| invalid_type(path, "an object"))?;
    if let Some(t) = opt_string(obj, "type", path)?.filter(|t| t != "function") {
        return Err(TranslateError::at(
            format!("{path}.type"),
            format!("Invalid value: '{t}'. Only 'function' tool calls are supported."),
        ));
    }
    let id = opt_string(obj, "id", path)?.ok_or_else(|| missing(&format!("{path}.id")))?;
    let fpath = format!("{path}.function");
    let f = obj
        .get("function")
        .and_then(Value::as_object)
        .ok_or_else(|| missing(&fpath))?;
    let name = opt_string(f, "name", &fpath)?.ok_or_else(|| missing(&format!("{fpath}.name")))?;
    Ok(Part::ToolCall {
        id,
        name,
        arguments: arguments_in(f.get("arguments"), &format!("{fpath}.arguments"))?,
        signature: None,
    })
}

/// A call's `arguments`: JSON text in a string, as given (possibly empty); absent is empty.
fn arguments_in(v: Option<&Value>, path: &str) -> Result<String, TranslateError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(invalid_type(path, "a string")),
    }
}

/// An Anthropic-style `tool_use` block's `input` (an object) as JSON text.
fn input_in(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn image_url_in(
    obj: &Map<String, Value>,
    path: &str,
    cache_control: Option<Value>,
) -> Result<Part, TranslateError> {
    let ipath = format!("{path}.image_url");
    let (url, detail) = match obj.get("image_url") {
        Some(Value::String(u)) => (u.clone(), None),
        Some(Value::Object(o)) => (
            opt_string(o, "url", &ipath)?.ok_or_else(|| missing(&format!("{ipath}.url")))?,
            opt_string(o, "detail", &ipath)?,
        ),
        None | Some(Value::Null) => return Err(missing(&ipath)),
        Some(_) => return Err(invalid_type(&ipath, "an object")),
    };
    Ok(Part::Image {
        source: media_from_url(&url, &format!("{ipath}.url"))?,
        detail,
        cache_control,
    })
}

fn media_from_url(url: &str, path: &str) -> Result<MediaSource, TranslateError> {
    if url.starts_with("data:") {
        MediaSource::from_data_uri(url).ok_or_else(|| {
            TranslateError::at(
                path,
                "Invalid data URI: expected 'data:<media type>;base64,<data>'.",
            )
        })
    } else if url.is_empty() {
        Err(TranslateError::at(path, "The URL must not be empty."))
    } else {
        Ok(MediaSource::Url(url.to_owned()))
    }
}

/// `file{file_data | file_id, filename}`. A file id is kept as `MediaSource::Url(id)`; plain
/// base64 without a data URI is taken as a PDF.
fn file_in(
    obj: &Map<String, Value>,
    path: &str,
    cache_control: Option<Value>,
) -> Result<Part, TranslateError> {
    let fpath = format!("{path}.file");
    let f = obj
        .get("file")
        .and_then(Value::as_object)
        .ok_or_else(|| missing(&fpath))?;
    let title = opt_string(f, "filename", &fpath)?;
    let source = match (
        opt_string(f, "file_data", &fpath)?,
        opt_string(f, "file_id", &fpath)?,
    ) {
        (Some(d), _) if d.starts_with("data:") => {
            media_from_url(&d, &format!("{fpath}.file_data"))?
        }
        (Some(d), _) => MediaSource::Base64 {
            media_type: "application/pdf".to_owned(),
            data: d,
        },
        (None, Some(id)) => MediaSource::Url(id),
        (None, None) => return Err(missing(&format!("{fpath}.file_data"))),
    };
    Ok(Part::Document {
        source,
        title,
        cache_control,
    })
}

/// An Anthropic `source`: base64, url or text.
fn source_in(v: Option<&Value>, path: &str) -> Result<MediaSource, TranslateError> {
    let obj = v.and_then(Value::as_object).ok_or_else(|| missing(path))?;
    let get = |k: &str| opt_string(obj, k, path)?.ok_or_else(|| missing(&format!("{path}.{k}")));
    match opt_string(obj, "type", path)?.as_deref() {
        Some("base64") => Ok(MediaSource::Base64 {
            media_type: get("media_type")?,
            data: get("data")?,
        }),
        Some("url") => Ok(MediaSource::Url(get("url")?)),
        Some("text") => Ok(MediaSource::Text(get("data")?)),
        _ => Err(TranslateError::at(
            format!("{path}.type"),
            "Invalid source type: expected 'base64', 'url' or 'text'.",
        )),
    }
}
