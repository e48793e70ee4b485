//! The Anthropic Messages API inbound: `POST /v1/messages` (JSON and streaming; the
//! `?beta=true` query Claude Code adds is ignored) and `POST /v1/messages/count_tokens`.
//! Both auth forms the SDKs send work (`x-api-key`, `Authorization: Bearer`). A request is
//! decoded into the canonical model and answered through the same routing as any other;
//! to an Anthropic-format provider it passes through byte for byte but for `model`.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::HeaderMap;
use modelmux_wire::{WireFormat, anthropic};

use crate::auth;
use crate::error::GatewayError;
use crate::http::answer::{answer, failed};
use crate::http::{read_body, respond, unrecorded};
use crate::ids::RequestId;
use crate::ingress::{self, Inbound};
use crate::routing;
use crate::state::AppState;

const FORMAT: WireFormat = WireFormat::Anthropic;

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
    let req = anthropic::from_anthropic(&raw).map_err(|e| GatewayError::InvalidRequest {
        message: e.message,
        param: e.param,
        code: None,
    })?;
    Ok((
        Inbound::from_canonical(FORMAT, raw, req, ingress::forwardable(headers, FORMAT)),
        caller,
    ))
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

/// Counts input tokens. An estimate (about four characters a token, plus framing per
/// message and tool) for every target kind; see the README for its accuracy.
pub async fn count_tokens(
    State(state): State<AppState>,
    id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let mut meta = respond::Meta {
        request_id: Some(unrecorded::request_id(id)),
        ..Default::default()
    };
    // count_tokens bodies carry no max_tokens; supply one so the Messages decoder accepts them.
    let (model, estimate, raw) = match decode_count(&state, &headers, body).await {
        Ok(i) => i,
        Err(e) => return failed(&state, meta, e, Vec::new(), started, false, FORMAT),
    };
    let plan = match routing::resolve(&state.config, &model, None) {
        Ok(p) => p,
        Err(e) => return failed(&state, meta, e, Vec::new(), started, false, FORMAT),
    };
    meta.route = Some(plan.route.clone());
    // Exact where the first candidate's provider counts (Anthropic); else the estimate.
    if let Some(c) = plan.candidates.first() {
        let model_json = serde_json::Value::from(c.target.model.as_str()).to_string();
        let body = crate::dispatch::bridge::splice(&raw, &[("model", model_json)])
            .map_or(raw.clone(), bytes::Bytes::from);
        let forward = ingress::forwardable(&headers, FORMAT);
        if let Some(Ok(answer)) = state
            .upstreams
            .count_tokens(&c.target, body, &forward)
            .await
        {
            meta.target = Some(c.target.to_string());
            let mut resp = respond::json(http::StatusCode::OK, answer, &meta);
            resp.headers_mut()
                .insert("x-modelmux-count", http::HeaderValue::from_static("exact"));
            return resp;
        }
    }
    let mut resp = Json(serde_json::json!({ "input_tokens": estimate })).into_response();
    meta.apply(resp.headers_mut());
    resp.headers_mut().insert(
        "x-modelmux-count",
        http::HeaderValue::from_static("estimate"),
    );
    resp
}

async fn decode_count(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, u64, bytes::Bytes), GatewayError> {
    let cfg = &state.config;
    // The body is read before the key is checked: answering with it unread would
    // make hyper close a keep-alive connection the client means to reuse.
    let raw = read_body(headers, body, cfg.server.max_body_bytes).await?;
    auth::check(&cfg.server.master_keys, headers)?;
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
    Ok((
        req.model.clone(),
        anthropic::estimate_input_tokens(&req),
        raw,
    ))
}
