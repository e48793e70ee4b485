//! The Anthropic Messages API inbound: `POST /v1/messages` (JSON and streaming; the
//! `?beta=true` query Claude Code adds is ignored) and `POST /v1/messages/count_tokens`.
//! Both auth forms the SDKs send work (`x-api-key`, `Authorization: Bearer`; see `auth`). A
//! request is decoded into the canonical model in `ingress` and answered by the `pipeline`;
//! to an Anthropic-format provider it passes through byte for byte but for `model`.

use std::time::Instant;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use modelmux_wire::{WireFormat, anthropic};

use crate::auth::Caller;
use crate::error::GatewayError;
use crate::http::{read_body, respond, unrecorded};
use crate::ids::RequestId;
use crate::ingress;
use crate::pipeline::Trail;
use crate::routing;
use crate::state::AppState;

const FORMAT: WireFormat = WireFormat::Anthropic;

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    crate::http::accept(state, caller, id, headers, body, FORMAT).await
}

/// Counts input tokens: exactly where the route's first target counts (Anthropic), else the
/// gateway's estimate (`modelmux_wire::tokens`), the same for every target kind.
pub async fn count_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let meta = respond::Meta {
        request_id: Some(unrecorded::request_id(id)),
        ..Default::default()
    };
    let mut trail = Trail::new(state.clone(), meta, FORMAT, started);
    let (model, estimate, raw) = match decode_count(&state, &headers, body).await {
        Ok(i) => i,
        Err(e) => return trail.fail(e, Vec::new()),
    };
    let plan = match routing::resolve(&state.config, &model, None) {
        Ok(p) => p,
        Err(e) => return trail.fail(e, Vec::new()),
    };
    trail.meta.route = Some(plan.route.clone());
    if let Some(k) = caller.key()
        && !state.keys.allows(k, &plan.route)
    {
        let e = GatewayError::ModelNotFound {
            model,
            known: k.allowed.clone(),
        };
        return trail.fail(e, Vec::new());
    }
    let meta = &mut trail.meta;
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
            let mut resp = respond::json(http::StatusCode::OK, answer, meta);
            resp.headers_mut()
                .insert("x-modelmux-count", http::HeaderValue::from_static("exact"));
            return resp;
        }
    }
    let body = serde_json::json!({ "input_tokens": estimate }).to_string();
    let mut resp = respond::json(http::StatusCode::OK, body, meta);
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
    let raw = read_body(headers, body, state.config.server.max_body_bytes).await?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| GatewayError::InvalidRequest {
            message: format!("We could not parse the JSON body of your request: {e}"),
            param: None,
            code: None,
        })?;
    // count_tokens bodies carry no max_tokens; supply one so the Messages decoder accepts them.
    if let Some(obj) = value.as_object_mut() {
        obj.entry("max_tokens").or_insert(serde_json::json!(1));
    }
    let req = anthropic::from_anthropic(value.to_string().as_bytes())
        .map_err(ingress::translate_error)?;
    Ok((
        req.model.clone(),
        modelmux_wire::tokens::estimate_input_tokens(&req),
        raw,
    ))
}
