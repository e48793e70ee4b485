//! Reading and validating an Anthropic Messages body the way the real API does where gateways
//! tend to go wrong: required `model`/`max_tokens`, roles, non-empty text blocks, `tool_use` /
//! `tool_result` pairing across turns, `tool_result` blocks first, and `tool_choice` shapes.

use std::collections::HashSet;

use serde_json::Value;

use crate::plan::{Msg, Request, Role, Tool, ToolChoice};

/// The neutral request, or `(model if known, message)` of a 400 `invalid_request_error`.
pub(crate) fn parse(
    body: &[u8],
    need_max_tokens: bool,
) -> Result<Request, (Option<String>, String)> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| (None, format!("There was an error parsing the body: {e}")))?;
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .ok_or((None, "model: Field required".to_owned()))?
        .to_owned();
    let fail = |m: String| (Some(model.clone()), m);
    let max_tokens = match v.get("max_tokens") {
        Some(n) => Some(
            n.as_u64()
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                .ok_or_else(|| fail("max_tokens: Input should be a valid integer".into()))?,
        ),
        None if need_max_tokens => return Err(fail("max_tokens: Field required".into())),
        None => None,
    };
    let raw = v
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| fail("messages: Field required".into()))?;
    let mut messages = Vec::new();
    match v.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => messages.push(Msg::text(Role::System, s.clone())),
        Some(Value::Array(blocks)) => {
            let mut text = String::new();
            for (j, b) in blocks.iter().enumerate() {
                text.push_str(&text_block(b, &format!("system.{j}")).map_err(&fail)?);
            }
            messages.push(Msg::text(Role::System, text));
        }
        Some(_) => {
            return Err(fail(
                "system: Input should be a valid string or list".into(),
            ));
        }
    }
    let mut previous_uses: HashSet<String> = HashSet::new();
    let mut pending: Option<(usize, Vec<String>)> = None;
    for (i, m) in raw.iter().enumerate() {
        let msg = message(m, i, &previous_uses).map_err(&fail)?;
        if let Some((at, ids)) = pending.take() {
            let answered: HashSet<&str> = msg.tool_results_ids.iter().map(String::as_str).collect();
            let missing: Vec<&str> = ids
                .iter()
                .map(String::as_str)
                .filter(|id| !answered.contains(id))
                .collect();
            if !missing.is_empty() {
                return Err(fail(format!(
                    "messages.{at}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                    missing.join(", ")
                )));
            }
        }
        previous_uses = msg
            .msg
            .tool_calls
            .iter()
            .map(|(id, _)| id.clone())
            .collect();
        if !previous_uses.is_empty() {
            pending = Some((i, previous_uses.iter().cloned().collect()));
        }
        messages.push(msg.msg);
    }
    let mut r = Request::new(model.clone(), messages);
    r.max_tokens = max_tokens;
    r.stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    r.call_id_prefix = "toolu_";
    if let Some(tools) = v.get("tools").and_then(Value::as_array) {
        for (k, t) in tools.iter().enumerate() {
            let custom = t
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(|ty| ty == "custom");
            if !custom {
                continue;
            }
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| fail(format!("tools.{k}.custom.name: Field required")))?;
            let schema = t
                .get("input_schema")
                .ok_or_else(|| fail(format!("tools.{k}.custom.input_schema: Field required")))?;
            r.tools.push(Tool {
                name: name.to_owned(),
                schema: Some(schema.clone()),
            });
        }
    }
    if let Some(tc) = v.get("tool_choice") {
        let ty = tc.get("type").and_then(Value::as_str);
        r.tool_choice = match ty {
            Some("auto") => ToolChoice::Auto,
            Some("any") => ToolChoice::Required,
            Some("none") => ToolChoice::None,
            Some("tool") => ToolChoice::Named(
                tc.get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| fail("tool_choice.tool.name: Field required".into()))?
                    .to_owned(),
            ),
            _ => {
                return Err(fail(
                    "tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'".into(),
                ));
            }
        };
        if tc.get("disable_parallel_tool_use").and_then(Value::as_bool) == Some(true) {
            r.parallel_tool_calls = Some(false);
        }
    }
    Ok(r)
}

/// One message plus the ids its `tool_result` blocks answer.
struct Parsed {
    msg: Msg,
    tool_results_ids: Vec<String>,
}

fn message(m: &Value, i: usize, previous_uses: &HashSet<String>) -> Result<Parsed, String> {
    let role = match m.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("system") => Role::System,
        _ => {
            return Err(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
    };
    let mut msg = Msg::text(role, "");
    let mut ids = Vec::new();
    let blocks = match m.get("content") {
        Some(Value::String(s)) => {
            if s.is_empty() && role != Role::Assistant {
                return Err(format!(
                    "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
                ));
            }
            msg.text = s.clone();
            return Ok(Parsed {
                msg,
                tool_results_ids: ids,
            });
        }
        Some(Value::Array(blocks)) => blocks,
        _ => return Err(format!("messages.{i}.content: Field required")),
    };
    let mut seen_other = false;
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                msg.text.push_str(&text_block(b, &at)?);
                seen_other = true;
            }
            Some("tool_use") => {
                if role != Role::Assistant {
                    return Err(format!(
                        "{at}: `tool_use` blocks can only be in `assistant` messages"
                    ));
                }
                let id = b.get("id").and_then(Value::as_str).unwrap_or_default();
                let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
                if id.is_empty() || name.is_empty() || !b.get("input").is_some_and(Value::is_object)
                {
                    return Err(format!(
                        "{at}.tool_use: `id`, `name` and an object `input` are required"
                    ));
                }
                msg.tool_calls.push((id.to_owned(), name.to_owned()));
                seen_other = true;
            }
            Some("tool_result") => {
                if role != Role::User {
                    return Err(format!(
                        "{at}: `tool_result` blocks can only be in `user` messages"
                    ));
                }
                if seen_other {
                    return Err(format!(
                        "messages.{i}: `tool_result` blocks must come before any other content in the user message"
                    ));
                }
                let id = b
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !previous_uses.contains(id) {
                    return Err(format!(
                        "{at}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    ));
                }
                let text = result_text(b.get("content"), &at)?;
                msg.text.push_str(&text);
                msg.tool_results.push(text);
                ids.push(id.to_owned());
            }
            Some(
                "image"
                | "document"
                | "thinking"
                | "redacted_thinking"
                | "search_result"
                | "server_tool_use"
                | "web_search_tool_result"
                | "container_upload",
            ) => {
                seen_other = true;
            }
            Some(other) => {
                return Err(format!(
                    "{at}: Input tag '{other}' found using 'type' does not match any of the expected tags"
                ));
            }
            None => return Err(format!("{at}.type: Field required")),
        }
    }
    Ok(Parsed {
        msg,
        tool_results_ids: ids,
    })
}

/// The text of a `text` block; empty text is rejected as Anthropic does.
fn text_block(b: &Value, at: &str) -> Result<String, String> {
    match b.get("text").and_then(Value::as_str) {
        Some("") => Err(format!("{at}: text content blocks must be non-empty")),
        Some(t) => Ok(t.to_owned()),
        None => Err(format!("{at}.text: Field required")),
    }
}

/// A `tool_result` content: a string or a list of blocks (text blocks must be non-empty).
fn result_text(content: Option<&Value>, at: &str) -> Result<String, String> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(blocks)) => {
            let mut text = String::new();
            for (k, b) in blocks.iter().enumerate() {
                if b.get("type").and_then(Value::as_str) == Some("text") {
                    text.push_str(&text_block(b, &format!("{at}.content.{k}"))?);
                }
            }
            Ok(text)
        }
        Some(_) => Err(format!(
            "{at}.content: Input should be a valid string or list"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value) -> Result<Request, (Option<String>, String)> {
        parse(v.to_string().as_bytes(), true)
    }

    #[test]
    fn system_tools_and_choice_are_read() {
        let r = p(json!({"model": "c", "max_tokens": 5, "system": [{"type": "text", "text": "Be brief."}],
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "t", "input_schema": {"type": "object"}}, {"type": "web_search_20250305", "name": "web_search"}],
            "tool_choice": {"type": "tool", "name": "t", "disable_parallel_tool_use": true}}))
        .unwrap();
        assert_eq!(r.messages[0].role, Role::System);
        assert_eq!(r.tools.len(), 1);
        assert_eq!(r.tool_choice, ToolChoice::Named("t".into()));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(r.max_tokens, Some(5));
    }

    #[test]
    fn missing_tool_result_after_tool_use_is_rejected() {
        let e = p(json!({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}]},
            {"role": "user", "content": "no result"}]}))
        .unwrap_err();
        assert!(e.1.contains("without `tool_result`"), "{}", e.1);
        let e = p(json!({"model": "c", "messages": []})).unwrap_err();
        assert_eq!(e, (Some("c".into()), "max_tokens: Field required".into()));
    }
}
