//! The OpenAI Responses API inbound: `POST /v1/responses` (JSON and SSE) and the stored
//! responses behind `GET /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` and
//! `DELETE /v1/responses/{id}`. `previous_response_id` is resolved here, from modelmux's own
//! store: the earlier turns are put back into `input`, so the conversation continues on any
//! target, including one that keeps no state or another than the first after a fallback.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use http::HeaderMap;
use modelmux_wire::{WireFormat, responses};
use serde_json::{Value, json};

use crate::auth;
use crate::error::GatewayError;
use crate::http::answer::{answer, failed};
use crate::http::{read_body, respond, unrecorded};
use crate::ids::RequestId;
use crate::ingress::{self, Inbound, ResponsesMeta};
use crate::state::AppState;

const FORMAT: WireFormat = WireFormat::OpenAiResponses;

fn invalid(message: impl Into<String>, param: Option<&str>) -> GatewayError {
    GatewayError::InvalidRequest {
        message: message.into(),
        param: param.map(str::to_owned),
        code: None,
    }
}

async fn decode(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Inbound, crate::auth::Caller), GatewayError> {
    let cfg = &state.config;
    // The body is read before the key is checked: answering with it unread would
    // make hyper close a keep-alive connection the client means to reuse.
    let raw = read_body(headers, body, cfg.server.max_body_bytes).await?;
    let caller = auth::authenticate(state, headers).await?;
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
            let stored = state.responses.get(prev).ok_or_else(|| {
                GatewayError::NotFound(format!("Previous response with id '{prev}' not found."))
            })?;
            let mut full = stored.conversation();
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
    let req =
        responses::from_responses(&canonical_body).map_err(|e| GatewayError::InvalidRequest {
            message: e.message,
            param: e.param,
            code: None,
        })?;
    let mut inbound =
        Inbound::from_canonical(FORMAT, raw, req, ingress::forwardable(headers, FORMAT));
    let id: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(24)
        .collect();
    inbound.responses = Some(ResponsesMeta {
        id: format!("resp_{id}"),
        store,
        input_items: items,
        previous,
    });
    Ok((inbound, caller))
}

pub async fn create(
    State(state): State<AppState>,
    id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let meta = respond::Meta {
        request_id: Some(unrecorded::request_id(id)),
        ..Default::default()
    };
    match decode(&state, &headers, body).await {
        Ok((inbound, caller)) => {
            answer(state.clone(), inbound, caller, &headers, meta, started).await
        }
        Err(e) => failed(&state, meta, e, Vec::new(), started, false, FORMAT),
    }
}

/// The Responses answer as the client gets it (with `store` and `previous_response_id` as the
/// client asked, whatever the target said), stored when the request asked for storing.
pub fn finish_answer(state: &AppState, inbound: &Inbound, response: Bytes) -> Bytes {
    let Some(meta) = inbound.responses.as_ref() else {
        return response;
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&response) else {
        return response;
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("store".to_owned(), Value::Bool(meta.store));
        o.insert(
            "previous_response_id".to_owned(),
            meta.previous.clone().map_or(Value::Null, Value::String),
        );
    }
    if meta.store
        && let Some(id) = v.get("id").and_then(Value::as_str)
    {
        keep(state, id.to_owned(), v.clone(), &meta.input_items);
    }
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// Stores a streamed Responses answer: the response object of its final event.
pub fn store_stream(state: &AppState, meta: &ResponsesMeta, captured: &[u8]) {
    if !meta.store {
        return;
    }
    let mut parser = modelmux_wire::sse::SseParser::new();
    parser.push(captured);
    let mut last = None;
    while let Some(item) = parser.next_item() {
        if let modelmux_wire::sse::SseItem::Event(ev) = item
            && let Ok(v) = serde_json::from_str::<Value>(&ev.data)
            && matches!(
                v.get("type").and_then(Value::as_str),
                Some("response.completed" | "response.incomplete")
            )
        {
            last = v.get("response").cloned();
        }
    }
    if let Some(mut resp) = last
        && let Some(id) = resp.get("id").and_then(Value::as_str).map(str::to_owned)
    {
        if let Some(o) = resp.as_object_mut() {
            o.insert("store".to_owned(), Value::Bool(true));
            o.insert(
                "previous_response_id".to_owned(),
                meta.previous.clone().map_or(Value::Null, Value::String),
            );
        }
        keep(state, id, resp, &meta.input_items);
    }
}

/// Stores a response and its input, redacted by the same rules as captured records
/// (secrets, and the `[store] redact` patterns).
fn keep(state: &AppState, id: String, response: Value, input: &[Value]) {
    let patterns = &state.config.store.redact;
    let clean = |v: &Value| -> Value {
        let text = v.to_string();
        let redacted = crate::records::redact(&text, patterns);
        if redacted == text {
            v.clone()
        } else {
            serde_json::from_str(&redacted).unwrap_or_else(|_| v.clone())
        }
    };
    let input: Vec<Value> = input.iter().map(clean).collect();
    state.responses.put(id, clean(&response), input);
}

fn not_found(id: &str) -> Response {
    respond::error(
        &GatewayError::NotFound(format!("No response found with id '{id}'.")),
        FORMAT,
        &respond::Meta::default(),
    )
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = auth::check(&state.config.server.master_keys, &headers) {
        return respond::error(&e, FORMAT, &respond::Meta::default());
    }
    match state.responses.get(&id) {
        Some(s) => Json(s.response).into_response(),
        None => not_found(&id),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    after: Option<String>,
}

pub async fn input_items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = auth::check(&state.config.server.master_keys, &headers) {
        return respond::error(&e, FORMAT, &respond::Meta::default());
    }
    let Some(s) = state.responses.get(&id) else {
        return not_found(&id);
    };
    let mut data: Vec<Value> = s
        .input_items
        .iter()
        .enumerate()
        .map(|(i, item)| listed_item(item, i))
        .collect();
    // OpenAI lists newest first unless asked otherwise.
    if q.order.as_deref() != Some("asc") {
        data.reverse();
    }
    if let Some(after) = &q.after
        && let Some(pos) = data
            .iter()
            .position(|v| v.get("id").and_then(Value::as_str) == Some(after.as_str()))
    {
        data.drain(..=pos);
    }
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let has_more = data.len() > limit;
    data.truncate(limit);
    let first = data.first().and_then(|v| v.get("id").cloned());
    let last = data.last().and_then(|v| v.get("id").cloned());
    Json(json!({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": has_more})).into_response()
}

/// An input item as listed: typed, with an id (stable per position in the conversation,
/// since the same turn is listed under every response that continues it) and a status.
fn listed_item(item: &Value, i: usize) -> Value {
    let mut item = item.clone();
    if let Some(o) = item.as_object_mut() {
        if !o.contains_key("type") && o.contains_key("role") {
            o.insert("type".to_owned(), json!("message"));
        }
        if let Some(Value::String(text)) = o.get("content").cloned()
            && o.get("type").and_then(Value::as_str) == Some("message")
        {
            o.insert(
                "content".to_owned(),
                json!([{"type": "input_text", "text": text}]),
            );
        }
        o.entry("id")
            .or_insert_with(|| json!(format!("msg_item_{i:04}")));
        if o.get("type").and_then(Value::as_str) == Some("message") {
            o.entry("status").or_insert(json!("completed"));
        }
    }
    item
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = auth::check(&state.config.server.master_keys, &headers) {
        return respond::error(&e, FORMAT, &respond::Meta::default());
    }
    if state.responses.delete(&id) {
        Json(json!({"id": id, "object": "response", "deleted": true})).into_response()
    } else {
        not_found(&id)
    }
}
