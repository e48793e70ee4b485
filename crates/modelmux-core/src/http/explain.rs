//! `POST /v1/route/explain`: the routing decision for a request body, without calling any
//! provider — features, the matched rule, every candidate kept or dropped with its reason,
//! score and estimated cost, and the retry settings that would apply. The body is a Chat
//! Completions body, or a Messages body with `?format=anthropic`. `GET /v1/health/targets`
//! shows each target's circuit state and observed latency, and whether circuits are shared
//! through Redis right now (`shared`, null when sharing is off).

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use modelmux_wire::{WireFormat, anthropic};
use serde::Deserialize;
use serde_json::json;

use crate::auth;
use crate::error::GatewayError;
use crate::http::{read_body, respond};
use crate::ingress::Inbound;
use crate::routing;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ExplainQuery {
    #[serde(default)]
    format: Option<String>,
}

pub async fn explain(
    State(state): State<AppState>,
    Query(q): Query<ExplainQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = if q.format.as_deref() == Some("anthropic") {
        WireFormat::Anthropic
    } else {
        WireFormat::OpenAiChat
    };
    match explain_inner(&state, format, &headers, body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => respond::error(&e, format, &respond::Meta::default()),
    }
}

async fn explain_inner(
    state: &AppState,
    format: WireFormat,
    headers: &HeaderMap,
    body: Body,
) -> Result<serde_json::Value, GatewayError> {
    let cfg = &state.config;
    // The body is read before the key is checked: answering with it unread would
    // make hyper close a keep-alive connection the client means to reuse.
    let raw = read_body(headers, body, cfg.server.max_body_bytes).await?;
    auth::check(&cfg.server.master_keys, headers)?;
    let inbound = match format {
        WireFormat::Anthropic => {
            let req =
                anthropic::from_anthropic(&raw).map_err(|e| GatewayError::InvalidRequest {
                    message: e.message,
                    param: e.param,
                    code: None,
                })?;
            Inbound::from_canonical(format, raw, req, Vec::new())
        }
        _ => Inbound::openai_chat(raw)?,
    };
    let (plan, decision) = routing::decide(
        cfg,
        &state.rules,
        &state.health,
        &state.classifier,
        &inbound.summary,
        format,
        headers,
        None,
    )?;
    let s = plan.settings;
    let worst = plan.candidates.len() as u32 * (s.num_retries + 1);
    Ok(json!({
        "decision": decision,
        "compact": decision.compact(),
        "settings": {
            "num_retries": s.num_retries,
            "timeout_ms": s.timeout.as_millis() as u64,
            "total_timeout_ms": s.total_timeout.as_millis() as u64,
            "ttft_timeout_ms": s.ttft_timeout.as_millis() as u64,
            "max_retry_after_ms": s.max_retry_after.as_millis() as u64,
            "worst_case_upstream_calls": worst,
            "hedge_after": s.hedge_after.map(|h| h.to_string()),
            "hedge_max_share": s.hedge_after.map(|_| s.hedge_max_share),
            "max_concurrent_upstream_calls": if s.hedge_after.is_some() && plan.candidates.len() > 1 { 2 } else { 1 },
        },
    }))
}

pub async fn health_targets(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = auth::check(&state.config.server.master_keys, &headers) {
        return respond::error(&e, WireFormat::OpenAiChat, &respond::Meta::default());
    }
    // Every configured target appears, called yet or not.
    for r in &state.config.routes {
        for t in &r.candidates {
            let _ = state.health.view(t);
        }
    }
    Json(json!({
        "targets": state.health.all(),
        "shared": state.health.shared_status(),
    }))
    .into_response()
}
