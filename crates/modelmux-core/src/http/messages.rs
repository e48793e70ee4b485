//! The Anthropic Messages API inbound: `POST /v1/messages` (JSON and streaming; the
//! `?beta=true` query Claude Code adds is ignored) and `POST /v1/messages/count_tokens`.
//! Both auth forms the SDKs send work (`x-api-key`, `Authorization: Bearer`). A request is
//! decoded into the canonical model and answered through the same routing as any other;
//! to an Anthropic-format provider it passes through byte for byte but for `model`.

use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use modelmux_wire::{WireFormat, anthropic};

use crate::auth;
use crate::error::GatewayError;
use crate::http::answer::{answer, failed};
use crate::http::{read_body, respond};
use crate::ids::RequestId;
use crate::ingress::{self, Inbound};
use crate::routing;
use crate::state::AppState;

const FORMAT: WireFormat = WireFormat::Anthropic;

async fn decode(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Inbound, GatewayError> {
    let cfg = &state.config;
    auth::check(&cfg.server.master_keys, headers)?;
    let raw = read_body(headers, body, cfg.server.max_body_bytes).await?;
    let req = anthropic::from_anthropic(&raw).map_err(|e| GatewayError::InvalidRequest {
        message: e.message,
        param: e.param,
        code: None,
    })?;
    Ok(Inbound::from_canonical(
        FORMAT,
        raw,
        req,
        ingress::forwardable(headers, FORMAT),
    ))
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let meta = respond::Meta {
        request_id: Some(RequestId::generate()),
        ..Default::default()
    };
    match decode(&state, &headers, body).await {
        Ok(inbound) => answer(state.clone(), inbound, &headers, meta, started).await,
        Err(e) => failed(meta, e, Vec::new(), started, false, FORMAT),
    }
}

/// Counts input tokens. An estimate (about four characters a token, plus framing per
/// message and tool) for every target kind; see the README for its accuracy.
pub async fn count_tokens(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let meta = respond::Meta {
        request_id: Some(RequestId::generate()),
        ..Default::default()
    };
    // count_tokens bodies carry no max_tokens; supply one so the Messages decoder accepts them.
    let inbound = match decode_count(&state, &headers, body).await {
        Ok(i) => i,
        Err(e) => return failed(meta, e, Vec::new(), started, false, FORMAT),
    };
    if let Err(e) = routing::resolve(&state.config, &inbound.0, None) {
        return failed(meta, e, Vec::new(), started, false, FORMAT);
    }
    let mut resp = Json(serde_json::json!({ "input_tokens": inbound.1 })).into_response();
    meta.apply(resp.headers_mut());
    resp
}

async fn decode_count(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, u64), GatewayError> {
    let cfg = &state.config;
    auth::check(&cfg.server.master_keys, headers)?;
    let raw = read_body(headers, body, cfg.server.max_body_bytes).await?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| GatewayError::InvalidRequest {
            message: format!("We could not parse the JSON body of your request: {e}"),
            param: None,
            code: None,
        })?;
    if let Some(obj) = value.as_object_mut() {
        obj.entry("max_tokens").or_insert(serde_json::json!(1));
    }
    let req = anthropic::from_anthropic(value.to_string().as_bytes()).map_err(|e| {
        GatewayError::InvalidRequest {
            message: e.message,
            param: e.param,
            code: None,
        }
    })?;
    Ok((req.model.clone(), anthropic::estimate_input_tokens(&req)))
}
