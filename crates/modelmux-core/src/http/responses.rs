//! The OpenAI Responses API inbound: `POST /v1/responses` (JSON and SSE) and the stored
//! responses behind `GET /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` and
//! `DELETE /v1/responses/{id}`. The body is decoded in `ingress` (which resolves
//! `previous_response_id` from modelmux's own store) and answered by the `pipeline`; the
//! answer is stored here (`finish_answer`, `store_stream`). Every one of these sees only what
//! its caller stored (its `auth::Tenant`); anyone else's response is answered like a missing
//! id.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use http::HeaderMap;
use modelmux_wire::WireFormat;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::GatewayError;
use crate::http::respond;
use crate::ids::RequestId;
use crate::ingress::{Inbound, ResponsesMeta};
use crate::state::AppState;

const FORMAT: WireFormat = WireFormat::OpenAiResponses;

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    crate::http::accept(state, caller, id, headers, body, FORMAT).await
}

/// The Responses answer as the client gets it (with `store` and `previous_response_id` as the
/// client asked, whatever the target said), stored when the request asked for storing: the
/// write completes before the answer goes out, so the next turn may land on any instance.
pub async fn finish_answer(state: &AppState, inbound: &Inbound, response: Bytes) -> Bytes {
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
        let (response, input) = clean(state, &v, &meta.input_items);
        state.responses.put(id, &meta.owner, response, input).await;
    }
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// Stores a streamed Responses answer: the response object of its final event, cached at
/// once and written to the backend in the background (this runs in the stream's sync
/// completion callback).
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
        let (response, input) = clean(state, &resp, &meta.input_items);
        state
            .responses
            .put_in_background(&id, &meta.owner, response, input);
    }
}

/// A response and its input as stored: redacted by the same rules as captured records
/// (secrets, and the `[store] redact` patterns).
fn clean(state: &AppState, response: &Value, input: &[Value]) -> (Value, Vec<Value>) {
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
    (clean(response), input.iter().map(clean).collect())
}

/// The error when the response store cannot be reached (and the cache cannot answer).
fn store_error(e: crate::records::StoreError) -> Response {
    respond::error(
        &crate::responses_store::unavailable(e),
        FORMAT,
        &respond::Meta::default(),
    )
}

/// The answer for a missing id and for another owner's alike, so ids reveal nothing.
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
    Extension(caller): Extension<Caller>,
) -> Response {
    let owner = caller.tenant().to_string();
    match state.responses.get(&id, &owner).await {
        Ok(Some(s)) => Json(&s.response).into_response(),
        Ok(None) => not_found(&id),
        Err(e) => store_error(e),
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
    Extension(caller): Extension<Caller>,
) -> Response {
    let owner = caller.tenant().to_string();
    let s = match state.responses.get(&id, &owner).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found(&id),
        Err(e) => return store_error(e),
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
    Extension(caller): Extension<Caller>,
) -> Response {
    let owner = caller.tenant().to_string();
    match state.responses.delete(&id, &owner).await {
        Ok(true) => Json(json!({"id": id, "object": "response", "deleted": true})).into_response(),
        Ok(false) => not_found(&id),
        Err(e) => store_error(e),
    }
}
