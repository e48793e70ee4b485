//! Canonical messages → Gemini `systemInstruction` and `contents`. `to_gemini` calls
//! [`build`] with the request's messages; the result is placed in the body as is.
//!
//! The rules, in the order they apply:
//! - System and developer messages before the first other message become
//!   `systemInstruction.parts` (one text part each). One that appears later keeps its place:
//!   it becomes a user-role text part `"System: <text>"` there (pitfall 10), and so joins the
//!   adjacent user turn when turns are merged.
//! - Roles map user → `user`, assistant → `model`, tool → `user`; consecutive turns of the
//!   same role are merged (Gemini wants them alternating; split assistant messages would
//!   also break call/response matching, pitfall 8).
//! - Parts: text (empty dropped), images and documents as `inlineData` (base64) or
//!   `fileData` (URLs and `gs://` URIs, mime type guessed from the extension: pitfall 22),
//!   audio as `inlineData`; tool calls as `functionCall{id,name,args}` with the call's
//!   `thoughtSignature` on the same part (pitfall 14); signed thinking as
//!   `{text, thought:true, thoughtSignature}`; unsigned and redacted thinking are dropped
//!   (Gemini cannot use them).
//! - Tool results become `functionResponse{id,name,response}` parts. Each user turn that
//!   follows a model turn is then paired with that turn's calls: exactly one response per
//!   call, in call order, carrying the call's id (pitfalls 8, 15); a call with no result
//!   gets an error response; a result that answers no call is kept as a text part. Images
//!   inside results follow the responses as ordinary parts.
//! - No turn is ever emitted with zero parts.

use serde_json::{Map, Value, json};

use crate::canonical::{MediaSource, Message, Part, Role};

/// What the messages become.
pub(crate) struct Built {
    pub system: Vec<Value>,
    pub contents: Vec<Value>,
}

struct Turn {
    role: &'static str,
    parts: Vec<Value>,
}

pub(crate) fn build(messages: &[Message]) -> Built {
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    let mut leading = true;
    for (i, msg) in messages.iter().enumerate() {
        let (role, parts) = match msg.role {
            Role::System | Role::Developer => {
                let text = msg.joined_text();
                if text.is_empty() {
                    continue;
                }
                if leading {
                    system.push(json!({"text": text}));
                    continue;
                }
                ("user", vec![json!({"text": format!("System: {text}")})])
            }
            Role::User => ("user", user_parts(&msg.content)),
            Role::Assistant => ("model", model_parts(&msg.content)),
            Role::Tool => ("user", tool_parts(&msg.content, &messages[..i])),
        };
        leading = false;
        if parts.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.parts.extend(parts),
            _ => turns.push(Turn { role, parts }),
        }
    }
    pair_responses(&mut turns);
    Built {
        system,
        contents: turns
            .into_iter()
            .filter(|t| !t.parts.is_empty())
            .map(|t| json!({"role": t.role, "parts": t.parts}))
            .collect(),
    }
}

fn user_parts(content: &[Part]) -> Vec<Value> {
    content.iter().filter_map(media_or_text).collect()
}

/// Text, images, documents and audio; `None` for empty text and for kinds a user turn
/// cannot carry.
fn media_or_text(part: &Part) -> Option<Value> {
    match part {
        Part::Text { text, .. } if !text.is_empty() => Some(json!({"text": text})),
        Part::Image { source, .. } => Some(media(source, "image/jpeg")),
        Part::Document { source, title, .. } => match source {
            MediaSource::Text(text) => {
                let text = match title {
                    Some(t) if !t.is_empty() => format!("{t}\n\n{text}"),
                    _ => text.clone(),
                };
                (!text.is_empty()).then(|| json!({"text": text}))
            }
            other => Some(media(other, "application/pdf")),
        },
        Part::Audio { format, data } => Some(json!({
            "inlineData": {"mimeType": audio_mime(format), "data": data}
        })),
        _ => None,
    }
}

/// `inlineData` for base64 (and `data:` URLs), `fileData` for URLs and `gs://` URIs.
fn media(source: &MediaSource, default_mime: &str) -> Value {
    match source {
        MediaSource::Base64 { media_type, data } => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        MediaSource::Url(url) => match MediaSource::from_data_uri(url) {
            Some(MediaSource::Base64 { media_type, data }) => {
                json!({"inlineData": {"mimeType": media_type, "data": data}})
            }
            _ => json!({"fileData": {
                "mimeType": guess_mime(url).unwrap_or(default_mime),
                "fileUri": url,
            }}),
        },
        MediaSource::Text(text) => json!({"text": text}),
    }
}

/// The mime type a URL's extension suggests (query and fragment ignored).
pub(crate) fn guess_mime(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let last = path.rsplit('/').next().unwrap_or(path);
    let (_, ext) = last.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "md" => "text/md",
        "wav" => "audio/wav",
        "mp3" => "audio/mp3",
        "flac" => "audio/flac",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "mov" => "video/mov",
        "webm" => "video/webm",
        _ => return None,
    })
}

fn audio_mime(format: &str) -> String {
    if format.contains('/') {
        format.to_owned()
    } else {
        format!("audio/{}", format.to_ascii_lowercase())
    }
}

fn model_parts(content: &[Part]) -> Vec<Value> {
    let mut out = Vec::new();
    for part in content {
        match part {
            Part::Text { text, .. } if !text.is_empty() => out.push(json!({"text": text})),
            Part::ToolCall {
                id,
                name,
                arguments,
                signature,
            } => {
                let mut call = Map::new();
                if !id.is_empty() {
                    call.insert("id".into(), json!(id));
                }
                call.insert("name".into(), json!(name));
                call.insert("args".into(), args_object(arguments));
                let mut p = Map::new();
                p.insert("functionCall".into(), Value::Object(call));
                if let Some(sig) = signature.as_ref().filter(|s| !s.is_empty()) {
                    p.insert("thoughtSignature".into(), json!(sig));
                }
                out.push(Value::Object(p));
            }
            Part::Thinking {
                text,
                signature: Some(sig),
            } if !sig.is_empty() => out.push(json!({
                "text": text, "thought": true, "thoughtSignature": sig
            })),
            other => out.extend(media_or_text(other)),
        }
    }
    out
}

/// The arguments as a JSON object: `""`, invalid JSON and non-objects give `{}`.
fn args_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

/// One `functionResponse` per result, then any images the results held.
fn tool_parts(content: &[Part], earlier: &[Message]) -> Vec<Value> {
    let mut responses = Vec::new();
    let mut extra = Vec::new();
    for part in content {
        let Part::ToolResult {
            call_id,
            name,
            content,
            is_error,
            ..
        } = part
        else {
            extra.extend(media_or_text(part));
            continue;
        };
        let name = name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| name_of_call(call_id, earlier))
            .unwrap_or_else(|| "unknown".to_owned());
        let mut text = String::new();
        for p in content {
            match p {
                Part::Text { text: t, .. } => {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(t);
                }
                other => extra.extend(media_or_text(other)),
            }
        }
        let mut fr = Map::new();
        if !call_id.is_empty() {
            fr.insert("id".into(), json!(call_id));
        }
        fr.insert("name".into(), json!(name));
        fr.insert("response".into(), response_object(&text, *is_error));
        responses.push(json!({"functionResponse": fr}));
    }
    responses.extend(extra);
    responses
}

/// The result as a Struct: the JSON object it is, else `{"result": text}`; errors as
/// `{"error": ...}`.
fn response_object(text: &str, is_error: bool) -> Value {
    let parsed = serde_json::from_str::<Value>(text).ok();
    if is_error {
        let inner = match parsed {
            Some(v @ Value::Object(_)) => v,
            _ => json!(text),
        };
        return json!({"error": inner});
    }
    match parsed {
        Some(v @ Value::Object(_)) => v,
        _ => json!({"result": text}),
    }
}

/// The tool name of call `id` among earlier assistant messages (latest first).
fn name_of_call(id: &str, earlier: &[Message]) -> Option<String> {
    earlier
        .iter()
        .rev()
        .filter(|m| m.role == Role::Assistant)
        .flat_map(|m| m.content.iter())
        .find_map(|p| match p {
            Part::ToolCall { id: cid, name, .. } if cid == id => Some(name.clone()),
            _ => None,
        })
}

/// Pairs each user turn's `functionResponse` parts with the calls of the model turn before
/// it: one response per call, in call order, with the call's id and name.
fn pair_responses(turns: &mut [Turn]) {
    for i in 0..turns.len() {
        if turns[i].role != "user" {
            continue;
        }
        let calls: Vec<(String, String)> = match i.checked_sub(1).map(|j| &turns[j]) {
            Some(prev) if prev.role == "model" => prev
                .parts
                .iter()
                .filter_map(|p| p.get("functionCall"))
                .map(|c| (field(c, "id"), field(c, "name")))
                .collect(),
            _ => Vec::new(),
        };
        let has_responses = turns[i]
            .parts
            .iter()
            .any(|p| p.get("functionResponse").is_some());
        if calls.is_empty() && !has_responses {
            continue;
        }
        let parts = std::mem::take(&mut turns[i].parts);
        let (mut responses, others): (Vec<Value>, Vec<Value>) = parts
            .into_iter()
            .partition(|p| p.get("functionResponse").is_some());
        let call_ids: Vec<&str> = calls.iter().map(|(id, _)| id.as_str()).collect();
        let mut paired = Vec::with_capacity(calls.len() + others.len());
        for (id, name) in &calls {
            let by_id = responses
                .iter()
                .position(|r| !id.is_empty() && field(&r["functionResponse"], "id") == *id);
            let by_name = || {
                responses.iter().position(|r| {
                    let fr = &r["functionResponse"];
                    field(fr, "name") == *name && !call_ids.contains(&field(fr, "id").as_str())
                })
            };
            let mut fr = match by_id.or_else(by_name) {
                Some(k) => responses.remove(k),
                None => json!({"functionResponse": {
                    "name": name,
                    "response": {"error": "no result was provided for this call"},
                }}),
            };
            if let Some(obj) = fr
                .get_mut("functionResponse")
                .and_then(Value::as_object_mut)
            {
                if id.is_empty() {
                    obj.remove("id");
                } else {
                    obj.insert("id".into(), json!(id));
                }
                obj.insert("name".into(), json!(name));
            }
            paired.push(fr);
        }
        // Results that answer no call of the previous turn: kept as text, not lost.
        for r in responses {
            let fr = &r["functionResponse"];
            paired.push(json!({"text": format!(
                "Result of tool {} (call {}): {}",
                field(fr, "name"),
                field(fr, "id"),
                fr.get("response").cloned().unwrap_or(Value::Null),
            )}));
        }
        paired.extend(others);
        turns[i].parts = paired;
    }
}

fn field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
