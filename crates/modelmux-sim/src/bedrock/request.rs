//! Reading and validating a Converse body where gateways go wrong: the first message from the
//! user, strictly alternating roles, non-empty text blocks, `toolResult` ids that answer the
//! previous assistant turn's `toolUse` ids (and every `toolUse` answered), and no `url` image
//! source (not a Bedrock field).

use std::collections::HashSet;

use serde_json::Value;

use crate::plan::{Msg, Request, Role, Tool, ToolChoice};

type Invalid = (&'static str, String);

fn invalid(message: impl Into<String>) -> Invalid {
    ("ValidationException", message.into())
}

/// The neutral request, or `(exception type, message)` of a 400.
pub(crate) fn parse(body: &[u8], model: &str, stream: bool) -> Result<Request, Invalid> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        (
            "SerializationException",
            format!("Unable to parse the request body: {e}"),
        )
    })?;
    let raw = match v.get("messages").and_then(Value::as_array) {
        Some(m) if !m.is_empty() => m,
        _ => {
            return Err(invalid(
                "1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null",
            ));
        }
    };
    let mut messages = Vec::new();
    if let Some(system) = v.get("system").and_then(Value::as_array) {
        let text: String = system
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect();
        messages.push(Msg::text(Role::System, text));
    }
    let mut previous: Option<Role> = None;
    let mut previous_uses: Vec<String> = Vec::new();
    for (i, m) in raw.iter().enumerate() {
        let role = match m.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            other => {
                return Err(invalid(format!(
                    "1 validation error detected: Value '{}' at 'messages.{}.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]",
                    other.unwrap_or("null"),
                    i + 1
                )));
            }
        };
        if previous.is_none() && role != Role::User {
            return Err(invalid(
                "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
            ));
        }
        if previous == Some(role) {
            return Err(invalid(
                "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.",
            ));
        }
        previous = Some(role);
        let msg = message(m, i, role, &previous_uses)?;
        let answered: HashSet<&str> = m
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|b| b.pointer("/toolResult/toolUseId").and_then(Value::as_str))
            .collect();
        let missing: Vec<&str> = previous_uses
            .iter()
            .map(String::as_str)
            .filter(|id| !answered.contains(id))
            .collect();
        if !missing.is_empty() {
            return Err(invalid(format!(
                "Expected toolResult blocks at messages.{i}.content for the following Ids: {}",
                missing.join(", ")
            )));
        }
        previous_uses = msg.tool_calls.iter().map(|(id, _)| id.clone()).collect();
        messages.push(msg);
    }
    let mut r = Request::new(model, messages);
    r.stream = stream;
    r.include_usage = true;
    r.call_id_prefix = "tooluse_";
    r.max_tokens = v
        .pointer("/inferenceConfig/maxTokens")
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    if let Some(tc) = v.get("toolConfig") {
        for t in tc
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(spec) = t.get("toolSpec") else {
                continue;
            };
            let name = spec.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() {
                return Err(invalid("The toolSpec name is required."));
            }
            r.tools.push(Tool {
                name: name.to_owned(),
                schema: spec.pointer("/inputSchema/json").cloned(),
            });
        }
        if let Some(choice) = tc.get("toolChoice") {
            r.tool_choice = if choice.get("auto").is_some() {
                ToolChoice::Auto
            } else if choice.get("any").is_some() {
                ToolChoice::Required
            } else if let Some(name) = choice.pointer("/tool/name").and_then(Value::as_str) {
                ToolChoice::Named(name.to_owned())
            } else {
                return Err(invalid("toolChoice must be one of auto, any or tool."));
            };
        }
    }
    Ok(r)
}

fn message(m: &Value, i: usize, role: Role, previous_uses: &[String]) -> Result<Msg, Invalid> {
    let blocks = match m.get("content").and_then(Value::as_array) {
        Some(b) if !b.is_empty() => b,
        _ => {
            return Err(invalid(format!(
                "The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the content field and try again."
            )));
        }
    };
    let mut msg = Msg::text(role, "");
    for (j, b) in blocks.iter().enumerate() {
        if let Some(t) = b.get("text") {
            match t.as_str() {
                Some(t) if !t.trim().is_empty() => msg.text.push_str(t),
                _ => {
                    return Err(invalid(format!(
                        "The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add text to the text field, and try again."
                    )));
                }
            }
        }
        if b.pointer("/image/source/url").is_some() {
            return Err(invalid(format!(
                "messages.{i}.content.{j}.image.source: url is not a valid image source; use bytes or s3Location."
            )));
        }
        if let Some(u) = b.get("toolUse") {
            let id = u
                .get("toolUseId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let name = u.get("name").and_then(Value::as_str).unwrap_or_default();
            msg.tool_calls.push((id.to_owned(), name.to_owned()));
        }
        if let Some(res) = b.get("toolResult") {
            let id = res
                .get("toolUseId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !previous_uses.iter().any(|u| u == id) {
                return Err(invalid(format!(
                    "messages.{i}.content.{j}.toolResult.toolUseId {id} does not match any toolUse block of the previous assistant message."
                )));
            }
            let text: String = res
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| match (c.get("text"), c.get("json")) {
                    (Some(Value::String(t)), _) => t.clone(),
                    (_, Some(j)) => j.to_string(),
                    _ => String::new(),
                })
                .collect();
            msg.text.push_str(&text);
            msg.tool_results.push(text);
        }
    }
    Ok(msg)
}
