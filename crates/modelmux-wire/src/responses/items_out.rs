//! Canonical answer parts → Responses output items, in the order the model produced them:
//! text runs become one `message` item each (`output_text` with empty `annotations` and
//! `logprobs`), tool calls `function_call` items (with the `namespace` a flattened name came
//! from) or `custom_tool_call` items (raw `input`) for tools the request declared custom,
//! thinking `reasoning` items (see `reasoning`). An answer of tool calls alone is tool-call
//! items alone: no empty message is invented, and no call is dropped. Item ids are derived
//! from the response id and the output index (`msg_<base>_<n>`, `fc_...`, `ctc_...`, `rs_...`),
//! so the streaming and the complete form of one answer name their items alike.

use serde_json::{Value, json};

use super::names::{FlatNames, custom_input};
use super::reasoning::{reasoning_item, wrap_signature};
use crate::canonical::{ChatResponse, Part};

/// The output items of an answer, for storing (names stay flat; see [`output_items_with`]).
pub fn output_items(resp: &ChatResponse) -> Vec<Value> {
    output_items_with(resp, &FlatNames::default(), &resp.id)
}

/// The output items of an answer as the client sees them: flat names mapped back to
/// namespaces and custom tools through `names`, ids derived from `response_id`.
pub fn output_items_with(resp: &ChatResponse, names: &FlatNames, response_id: &str) -> Vec<Value> {
    let mut items: Vec<Value> = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let parts = &resp.content;
    while i < parts.len() {
        if let Part::Text { text: t, .. } = &parts[i] {
            text.push_str(t);
            i += 1;
            continue;
        }
        if !text.is_empty() {
            let id = item_id("msg", response_id, items.len());
            items.push(message_item(&id, &std::mem::take(&mut text), "completed"));
        }
        let n = items.len();
        match &parts[i] {
            Part::ToolCall {
                id,
                name,
                arguments,
                ..
            } => items.push(call_item(
                names,
                response_id,
                n,
                id,
                name,
                arguments,
                "completed",
            )),
            Part::Thinking { text: t, signature } => {
                let id = item_id("rs", response_id, n);
                let enc = match (signature, parts.get(i + 1)) {
                    (Some(s), _) => Some(wrap_signature(s)),
                    (None, Some(Part::RedactedThinking { data })) => {
                        i += 1;
                        Some(data.clone())
                    }
                    (None, _) => None,
                };
                items.push(reasoning_item(&id, t, enc.as_deref()));
            }
            Part::RedactedThinking { data } => {
                items.push(reasoning_item(
                    &item_id("rs", response_id, n),
                    "",
                    Some(data),
                ));
            }
            // Media and tool results do not occur in answers.
            _ => {}
        }
        i += 1;
    }
    if !text.is_empty() {
        let id = item_id("msg", response_id, items.len());
        items.push(message_item(&id, &text, "completed"));
    }
    items
}

/// `<prefix>_<base>_<index>`, `base` being the response id without its `resp_` prefix.
pub(super) fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    let base = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{base}_{index}")
}

/// A `message` item holding one `output_text` part (none when `text` is empty and the item
/// is only being opened).
pub(super) fn message_item(id: &str, text: &str, status: &str) -> Value {
    let content = if status == "in_progress" {
        json!([])
    } else {
        json!([text_part(text)])
    };
    json!({ "id": id, "type": "message", "status": status, "role": "assistant", "content": content })
}

pub(super) fn text_part(text: &str) -> Value {
    json!({ "type": "output_text", "text": text, "annotations": [], "logprobs": [] })
}

/// A `function_call` or `custom_tool_call` item for canonical call `call_id` / `flat`.
pub(super) fn call_item(
    names: &FlatNames,
    response_id: &str,
    index: usize,
    call_id: &str,
    flat: &str,
    arguments: &str,
    status: &str,
) -> Value {
    let (namespace, name) = names.unflatten(flat);
    let mut item = if names.is_custom(flat) {
        let input = if status == "in_progress" {
            String::new()
        } else {
            custom_input(arguments)
        };
        json!({
            "id": item_id("ctc", response_id, index), "type": "custom_tool_call", "status": status,
            "call_id": call_id, "name": name, "input": input,
        })
    } else {
        let arguments = if status != "in_progress" && arguments.trim().is_empty() {
            "{}"
        } else {
            arguments
        };
        json!({
            "id": item_id("fc", response_id, index), "type": "function_call", "status": status,
            "call_id": call_id, "name": name, "arguments": arguments,
        })
    };
    if let (Some(ns), Some(obj)) = (namespace, item.as_object_mut()) {
        obj.insert("namespace".to_owned(), json!(ns));
    }
    item
}
