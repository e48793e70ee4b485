//! The `messages` array of an inbound Messages body → canonical messages, for
//! `request_decode`. Each message is validated the way Anthropic validates it (errors name the
//! parameter dotted as Anthropic does: `messages.2.content.0.text`): a role of `user`,
//! `assistant` or `system` (Claude Code sends the last inside `messages`; it becomes a System
//! message at its position), content as a string or a list of blocks. A user message's
//! `tool_result` blocks become `Role::Tool` messages (consecutive results grouped in one), its
//! other blocks a User message, in order. Text, image, document, tool_use, tool_result,
//! thinking and redacted_thinking blocks translate to canonical parts; block types with no
//! canonical part (server-tool blocks, `search_result`, `container_upload`, file-id sources)
//! are skipped.

use serde_json::{Map, Value};

use super::request_decode::{array, boolean, cache_control, err, object, opt_string, req_string};
use crate::canonical::{MediaSource, Message, Part, Role};
use crate::codec::TranslateError;

pub(super) fn parse_messages(v: Value) -> Result<Vec<Message>, TranslateError> {
    let items = array(v, "messages")?;
    if items.is_empty() {
        return Err(err("messages", "at least one message is required"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, m) in items.into_iter().enumerate() {
        let path = format!("messages.{i}");
        let mut m = object(m, &path)?;
        let role = req_string(&mut m, "role", &path)?;
        let role = match role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            // Not in the published spec, but Claude Code sends it and Anthropic accepts it.
            "system" => Role::System,
            _ => {
                return Err(err(
                    &format!("{path}.role"),
                    "Input should be 'user' or 'assistant'",
                ));
            }
        };
        let cpath = format!("{path}.content");
        let parts = match m.remove("content") {
            None | Some(Value::Null) => return Err(err(&cpath, "Field required")),
            Some(Value::String(s)) => vec![Part::text(s)],
            Some(Value::Array(blocks)) => {
                let mut parts = Vec::with_capacity(blocks.len());
                for (j, b) in blocks.into_iter().enumerate() {
                    if let Some(p) = parse_block(b, &format!("{cpath}.{j}"), true)? {
                        parts.push(p);
                    }
                }
                parts
            }
            Some(_) => return Err(err(&cpath, "Input should be a valid string or list")),
        };
        if role != Role::User {
            if parts.iter().any(|p| matches!(p, Part::ToolResult { .. })) {
                return Err(err(
                    &cpath,
                    "tool_result blocks are only allowed in user messages",
                ));
            }
            out.push(Message {
                role,
                content: parts,
                name: None,
            });
            continue;
        }
        // A user turn: runs of tool_result blocks become Tool messages, the rest User
        // messages, in their original order.
        let mut run: Vec<Part> = Vec::new();
        let mut run_is_tool = false;
        let mut pushed = false;
        for p in parts {
            let is_tool = matches!(p, Part::ToolResult { .. });
            if !run.is_empty() && is_tool != run_is_tool {
                out.push(run_message(run_is_tool, std::mem::take(&mut run)));
                pushed = true;
            }
            run_is_tool = is_tool;
            run.push(p);
        }
        if !run.is_empty() || !pushed {
            out.push(run_message(run_is_tool, run));
        }
    }
    Ok(out)
}

fn run_message(is_tool: bool, content: Vec<Part>) -> Message {
    Message {
        role: if is_tool { Role::Tool } else { Role::User },
        content,
        name: None,
    }
}

/// One content block; `None` for block types with no canonical part.
fn parse_block(
    b: Value,
    path: &str,
    allow_tool_result: bool,
) -> Result<Option<Part>, TranslateError> {
    let mut b = object(b, path)?;
    let kind = req_string(&mut b, "type", path)?;
    let part = match kind.as_str() {
        "text" => Part::Text {
            text: req_string(&mut b, "text", path)?,
            cache_control: cache_control(&mut b),
        },
        "image" => {
            let Some(source) = parse_source(&mut b, path, false)? else {
                return Ok(None);
            };
            Part::Image {
                source,
                detail: None,
                cache_control: cache_control(&mut b),
            }
        }
        "document" => {
            let Some(source) = parse_source(&mut b, path, true)? else {
                return Ok(None);
            };
            Part::Document {
                source,
                title: opt_string(&mut b, "title", path)?,
                cache_control: cache_control(&mut b),
            }
        }
        "tool_use" => {
            let id = req_string(&mut b, "id", path)?;
            let name = req_string(&mut b, "name", path)?;
            let arguments = match b.remove("input") {
                None | Some(Value::Null) => "{}".to_owned(),
                Some(v @ Value::Object(_)) => v.to_string(),
                Some(_) => {
                    return Err(err(
                        &format!("{path}.input"),
                        "Input should be a valid dictionary",
                    ));
                }
            };
            Part::ToolCall {
                id,
                name,
                arguments,
                signature: None,
            }
        }
        "tool_result" if allow_tool_result => {
            let call_id = req_string(&mut b, "tool_use_id", path)?;
            let cpath = format!("{path}.content");
            let content = match b.remove("content") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) => vec![Part::text(s)],
                Some(Value::Array(items)) => {
                    let mut parts = Vec::with_capacity(items.len());
                    for (k, item) in items.into_iter().enumerate() {
                        if let Some(p) = parse_block(item, &format!("{cpath}.{k}"), false)? {
                            parts.push(p);
                        }
                    }
                    parts
                }
                Some(_) => return Err(err(&cpath, "Input should be a valid string or list")),
            };
            let is_error = match b.remove("is_error") {
                None | Some(Value::Null) => false,
                Some(v) => boolean(&v, &format!("{path}.is_error"))?,
            };
            Part::ToolResult {
                call_id,
                name: None,
                content,
                is_error,
                cache_control: cache_control(&mut b),
            }
        }
        "tool_result" => {
            return Err(err(&format!("{path}.type"), "tool_result cannot be nested"));
        }
        "thinking" => Part::Thinking {
            text: req_string(&mut b, "thinking", path)?,
            signature: opt_string(&mut b, "signature", path)?,
        },
        "redacted_thinking" => Part::RedactedThinking {
            data: req_string(&mut b, "data", path)?,
        },
        // Server-tool blocks, search results and future types have no canonical part.
        _ => return Ok(None),
    };
    Ok(Some(part))
}

/// An image or document `source`; `None` for sources with no canonical form (`file`).
fn parse_source(
    b: &mut Map<String, Value>,
    path: &str,
    document: bool,
) -> Result<Option<MediaSource>, TranslateError> {
    let spath = format!("{path}.source");
    let mut s = match b.remove("source") {
        None | Some(Value::Null) => return Err(err(&spath, "Field required")),
        Some(s) => object(s, &spath)?,
    };
    let kind = req_string(&mut s, "type", &spath)?;
    let source = match kind.as_str() {
        "base64" => MediaSource::Base64 {
            media_type: req_string(&mut s, "media_type", &spath)?,
            data: req_string(&mut s, "data", &spath)?,
        },
        "url" => MediaSource::Url(req_string(&mut s, "url", &spath)?),
        "text" if document => MediaSource::Text(req_string(&mut s, "data", &spath)?),
        // A content source (text and image blocks) keeps its text.
        "content" if document => {
            let text = match s.remove("content") {
                Some(Value::String(t)) => t,
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|i| i.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => return Err(err(&format!("{spath}.content"), "Field required")),
            };
            MediaSource::Text(text)
        }
        _ => return Ok(None),
    };
    Ok(Some(source))
}
