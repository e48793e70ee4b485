//! Canonical messages → the Chat Completions `messages` array, in place. System and
//! developer messages keep their role and position. Each `ToolResult` becomes its own `tool`
//! message (pitfall 7, the OpenAI side); images inside tool results, which `tool` messages
//! cannot carry, are replaced there by a placeholder and sent in one `user` message right
//! after the run of tool messages. An assistant turn joins its text into `content` (`null`
//! when it only calls tools, pitfall 11), sends calls as `tool_calls` with `"{}"` for empty
//! arguments (many servers reject `""`, pitfall 5), ids verbatim (pitfall 20), and its
//! visible reasoning as the non-standard `reasoning_content` (pitfall 16; signatures and
//! redacted thinking have no OpenAI carrier and are dropped).

use serde_json::{Value, json};

use crate::canonical::{MediaSource, Message, Part, Role};

pub(super) fn messages_out(messages: &[Message]) -> Vec<Value> {
    let mut out = Vec::with_capacity(messages.len());
    let mut images = Vec::new();
    for m in messages {
        let mut rest = Vec::with_capacity(m.content.len());
        for p in &m.content {
            match p {
                Part::ToolResult {
                    call_id,
                    content,
                    is_error,
                    ..
                } => out.push(tool_message(call_id, content, *is_error, &mut images)),
                other => rest.push(other),
            }
        }
        if rest.is_empty() && rest.len() != m.content.len() {
            continue;
        }
        flush_images(&mut images, &mut out);
        let mut msg = match m.role {
            Role::System | Role::Developer => json!({
                "role": if m.role == Role::System { "system" } else { "developer" },
                "content": text_of(&rest, "\n"),
            }),
            Role::User | Role::Tool => user_message(&rest),
            Role::Assistant => assistant_message(&rest),
        };
        if let (Some(name), Some(obj)) = (&m.name, msg.as_object_mut()) {
            obj.insert("name".to_owned(), Value::String(name.clone()));
        }
        out.push(msg);
    }
    flush_images(&mut images, &mut out);
    out
}

fn text_of(parts: &[&Part], sep: &str) -> String {
    let mut s = String::new();
    for p in parts {
        if let Part::Text { text, .. } = p {
            if !s.is_empty() {
                s.push_str(sep);
            }
            s.push_str(text);
        }
    }
    s
}

fn user_message(parts: &[&Part]) -> Value {
    let values: Vec<Value> = parts.iter().filter_map(|p| user_part(p)).collect();
    let content = match values.as_slice() {
        [] => Value::String(String::new()),
        [one] if one.get("type").and_then(Value::as_str) == Some("text") => {
            one.get("text").cloned().unwrap_or_default()
        }
        _ => Value::Array(values),
    };
    json!({"role": "user", "content": content})
}

fn user_part(p: &Part) -> Option<Value> {
    Some(match p {
        Part::Text { text, .. } => json!({"type": "text", "text": text}),
        Part::Image { source, detail, .. } => image_part(source, detail.as_deref()),
        Part::Audio { format, data } => {
            json!({"type": "input_audio", "input_audio": {"data": data, "format": format}})
        }
        Part::Document { source, title, .. } => match source {
            MediaSource::Base64 { media_type, .. } => {
                let filename = title
                    .clone()
                    .unwrap_or_else(|| default_filename(media_type));
                json!({"type": "file", "file": {"filename": filename, "file_data": source.to_url()}})
            }
            // A provider file id (`file-...`) rather than a URL.
            MediaSource::Url(u) if !u.contains("://") => {
                json!({"type": "file", "file": {"file_id": u}})
            }
            MediaSource::Url(u) => json!({"type": "text", "text": format!("[document: {u}]")}),
            MediaSource::Text(t) => match title {
                Some(title) => json!({"type": "text", "text": format!("{title}\n\n{t}")}),
                None => json!({"type": "text", "text": t}),
            },
        },
        Part::ToolCall { .. }
        | Part::ToolResult { .. }
        | Part::Thinking { .. }
        | Part::RedactedThinking { .. } => return None,
    })
}

fn image_part(source: &MediaSource, detail: Option<&str>) -> Value {
    let mut image = json!({"url": source.to_url()});
    if let (Some(d), Some(obj)) = (detail, image.as_object_mut()) {
        obj.insert("detail".to_owned(), Value::String(d.to_owned()));
    }
    json!({"type": "image_url", "image_url": image})
}

fn default_filename(media_type: &str) -> String {
    let ext = media_type.rsplit('/').next().unwrap_or("bin");
    format!("document.{ext}")
}

fn assistant_message(parts: &[&Part]) -> Value {
    let text = text_of(parts, "");
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for p in parts {
        match p {
            Part::Thinking { text, .. } => reasoning.push_str(text),
            Part::ToolCall {
                id,
                name,
                arguments,
                ..
            } => {
                let arguments = if arguments.trim().is_empty() {
                    "{}"
                } else {
                    arguments.as_str()
                };
                calls.push(json!({
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }));
            }
            _ => {}
        }
    }
    let content = if text.is_empty() && !calls.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    let mut msg = json!({"role": "assistant", "content": content});
    if let Some(obj) = msg.as_object_mut() {
        if !calls.is_empty() {
            obj.insert("tool_calls".to_owned(), Value::Array(calls));
        }
        if !reasoning.is_empty() {
            obj.insert("reasoning_content".to_owned(), Value::String(reasoning));
        }
    }
    msg
}

fn tool_message(call_id: &str, content: &[Part], is_error: bool, images: &mut Vec<Value>) -> Value {
    let mut text = String::new();
    for p in content {
        let piece = match p {
            Part::Text { text, .. } => text.as_str(),
            Part::Document {
                source: MediaSource::Text(t),
                ..
            } => t.as_str(),
            Part::Image { source, detail, .. } => {
                images.push(json!({"type": "text", "text": format!("Image returned by tool call {call_id}:")}));
                images.push(image_part(source, detail.as_deref()));
                "[image attached in the next user message]"
            }
            _ => continue,
        };
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(piece);
    }
    if is_error {
        text.insert_str(0, "Error: ");
    }
    json!({"role": "tool", "tool_call_id": call_id, "content": text})
}

fn flush_images(images: &mut Vec<Value>, out: &mut Vec<Value>) {
    if !images.is_empty() {
        out.push(json!({"role": "user", "content": std::mem::take(images)}));
    }
}
