//! Decoding a Responses API body. `input` (a string or items) becomes the items to store with
//! the answer; `previous_response_id` is resolved from modelmux's own store — the caller's
//! tenant's responses only — and the earlier turns are put back into `input`, so the
//! conversation continues on any target, including one that keeps no state or another than
//! the first after a fallback. The canonical request keeps the id, so translated answers
//! echo it. The answer gets a fresh id from the CSPRNG.

use bytes::Bytes;
use http::HeaderMap;
use modelmux_wire::{WireFormat, responses};
use serde_json::{Value, json};

use super::{Inbound, ResponsesMeta};
use crate::auth::Tenant;
use crate::error::GatewayError;
use crate::responses_store::{ResponseStore, new_id};

const FORMAT: WireFormat = WireFormat::OpenAiResponses;

fn invalid(message: impl Into<String>, param: Option<&str>) -> GatewayError {
    GatewayError::InvalidRequest {
        message: message.into(),
        param: param.map(str::to_owned),
        code: None,
    }
}

/// Decodes a Responses API body for `tenant`: `input` as items, `previous_response_id`
/// resolved from the store (the tenant's own responses only) into the full conversation.
pub async fn decode(
    stored: &ResponseStore,
    tenant: &Tenant,
    raw: Bytes,
    headers: &HeaderMap,
) -> Result<Inbound, GatewayError> {
    let owner = tenant.to_string();
    let mut obj: serde_json::Map<String, Value> = serde_json::from_slice(&raw).map_err(|e| {
        invalid(
            format!("We could not parse the JSON body of your request: {e}"),
            None,
        )
    })?;
    let store = obj.get("store").and_then(Value::as_bool).unwrap_or(true);
    let mut items: Vec<Value> = match obj.get("input") {
        Some(Value::String(text)) => vec![
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}),
        ],
        Some(Value::Array(a)) => a.clone(),
        None => {
            return Err(invalid(
                "Missing required parameter: 'input'.",
                Some("input"),
            ));
        }
        Some(_) => {
            return Err(invalid(
                "Invalid type for 'input': expected a string or an array of items.",
                Some("input"),
            ));
        }
    };
    let mut rewritten = false;
    let mut previous = None;
    if let Some(prev) = obj.remove("previous_response_id") {
        rewritten = true;
        if !prev.is_null() && !prev.is_string() {
            return Err(invalid(
                "Invalid type for 'previous_response_id': expected a string.",
                Some("previous_response_id"),
            ));
        }
        if let Some(prev) = prev.as_str() {
            previous = Some(prev.to_owned());
            let earlier = stored
                .get(prev, &owner)
                .await
                .map_err(crate::responses_store::unavailable)?
                .ok_or_else(|| {
                    GatewayError::NotFound(format!("Previous response with id '{prev}' not found."))
                })?;
            let mut full = earlier.conversation();
            full.extend(items);
            items = full;
            obj.insert("input".to_owned(), Value::Array(items.clone()));
        }
    }
    let raw = if rewritten {
        Bytes::from(serde_json::to_vec(&obj).unwrap_or_default())
    } else {
        raw
    };
    // The canonical request keeps `previous_response_id` so translated answers echo it; the
    // body a Responses provider gets has the earlier turns in `input` instead.
    let canonical_body = match &previous {
        Some(p) => {
            let mut o = obj.clone();
            o.insert("previous_response_id".to_owned(), Value::String(p.clone()));
            Bytes::from(serde_json::to_vec(&o).unwrap_or_default())
        }
        None => raw.clone(),
    };
    let req = responses::from_responses(&canonical_body).map_err(super::translate_error)?;
    let mut inbound =
        Inbound::from_canonical(FORMAT, raw, req, super::forwardable(headers, FORMAT));
    let id = new_id().map_err(|_| GatewayError::Internal("could not draw a response id".into()))?;
    inbound.responses = Some(ResponsesMeta {
        id,
        store,
        input_items: items,
        previous,
        owner,
    });
    Ok(inbound)
}
