//! Reading a `POST /v1/responses` body into the simulator's neutral `Request`, with its own
//! small reader (the simulator shares no code with the gateway's translator): `instructions`
//! is a leading system message, `input` a string or items (`message`, consecutive
//! `function_call`s grouped as one assistant turn, `function_call_output` as tool results,
//! `item_reference` refused), function tools offered as they are and the function tools of a
//! `namespace` as `<namespace>/<name>`, then token limit, stream, tool choice and
//! `parallel_tool_calls`. A body it cannot read is refused with the model when it was readable.

use serde_json::Value;

use crate::plan::{Msg, Request, Role, Tool, ToolChoice};

/// Parse a Responses body; the error carries the model when it was readable.
pub(super) fn parse(body: &[u8]) -> Result<Request, (Option<String>, String)> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        (
            None,
            format!("We could not parse the JSON body of your request. ({e})"),
        )
    })?;
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or((None, "Missing required parameter: 'model'.".to_owned()))?
        .to_owned();
    let mut messages = Vec::new();
    if let Some(s) = v.get("instructions").and_then(Value::as_str) {
        messages.push(Msg::text(Role::System, s));
    }
    match v.get("input") {
        Some(Value::String(s)) => messages.push(Msg::text(Role::User, s.as_str())),
        Some(Value::Array(items)) => {
            for item in items {
                read_item(item, &mut messages).map_err(|m| (Some(model.clone()), m))?;
            }
        }
        _ => {
            return Err((
                Some(model),
                "Missing required parameter: 'input'.".to_owned(),
            ));
        }
    }
    let mut r = Request::new(model, messages);
    r.max_tokens = v
        .get("max_output_tokens")
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    r.stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    r.tools = tools(v.get("tools"));
    r.tool_choice = match v.get("tool_choice") {
        Some(Value::String(s)) if s == "none" => ToolChoice::None,
        Some(Value::String(s)) if s == "required" => ToolChoice::Required,
        Some(Value::Object(o)) => match o.get("name").and_then(Value::as_str) {
            Some(name) => ToolChoice::Named(name.to_owned()),
            None => ToolChoice::Required,
        },
        _ => ToolChoice::Auto,
    };
    r.parallel_tool_calls = v.get("parallel_tool_calls").and_then(Value::as_bool);
    Ok(r)
}

/// Appends what one input item says to the conversation.
fn read_item(item: &Value, messages: &mut Vec<Msg>) -> Result<(), String> {
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
    let ty = match item.get("type").and_then(Value::as_str) {
        Some(t) => t,
        None if item.get("role").is_some() => "message",
        None => return Err("Missing required parameter: 'input[].type'.".to_owned()),
    };
    match ty {
        "message" => {
            let role = match s("role") {
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "system" | "developer" => Role::System,
                other => return Err(format!("Invalid value: '{other}' for 'input[].role'.")),
            };
            messages.push(Msg::text(role, text_of(item.get("content"))));
        }
        "function_call" | "custom_tool_call" => {
            let call = (s("call_id").to_owned(), s("name").to_owned());
            match messages.last_mut() {
                Some(m) if m.role == Role::Assistant && m.tool_results.is_empty() => {
                    m.tool_calls.push(call);
                }
                _ => messages.push(Msg {
                    tool_calls: vec![call],
                    ..Msg::text(Role::Assistant, "")
                }),
            }
        }
        "function_call_output" | "custom_tool_call_output" => {
            if s("call_id").is_empty() {
                return Err("Missing required parameter: 'input[].call_id'.".to_owned());
            }
            let text = match item.get("output") {
                Some(Value::String(t)) => t.clone(),
                other => text_of(other),
            };
            messages.push(Msg {
                tool_results: vec![text.clone()],
                ..Msg::text(Role::Tool, text)
            });
        }
        "item_reference" => return Err("Item with id not found (no store).".to_owned()),
        // Reasoning and provider-side records carry nothing the simulated model reads.
        _ => {}
    }
    Ok(())
}

/// The text of a content value: a string, or the `text` of its parts.
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// Function tools, and the function tools of namespaces as `<namespace>/<name>`.
fn tools(v: Option<&Value>) -> Vec<Tool> {
    let mut out = Vec::new();
    for t in v.and_then(Value::as_array).into_iter().flatten() {
        let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
        match t.get("type").and_then(Value::as_str) {
            Some("function") if !name.is_empty() => out.push(Tool {
                name: name.to_owned(),
                schema: t.get("parameters").cloned(),
            }),
            Some("namespace") => {
                for n in t
                    .get("tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let inner = n.get("name").and_then(Value::as_str).unwrap_or_default();
                    let ty = n.get("type").and_then(Value::as_str).unwrap_or("function");
                    if ty == "function" && !inner.is_empty() {
                        out.push(Tool {
                            name: format!("{name}/{inner}"),
                            schema: n.get("parameters").cloned(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    out
}
