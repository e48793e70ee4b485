//! `POST /v1/route/explain`: the routing decision for a request body, without calling any
//! provider — features, the matched rule, every candidate kept or dropped with its reason,
//! score and estimated cost, and the retry settings that would apply. The body is a Chat
//! Completions body, or a Messages body with `?format=anthropic`. `GET /v1/health/targets`
//! shows each target's circuit state and observed latency, and whether circuits are shared
//! through Redis right now (`shared`, null when sharing is off).

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::HeaderMap;
use modelmux_wire::WireFormat;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::error::GatewayError;
use crate::http::{read_body, respond};
use crate::routing;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ExplainQuery {
    #[serde(default)]
    format: Option<String>,
}

pub async fn explain(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ExplainQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = if q.format.as_deref() == Some("anthropic") {
        WireFormat::Anthropic
    } else {
        WireFormat::OpenAiChat
    };
    match explain_inner(&state, &caller, format, &headers, body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => respond::error(&e, format, &respond::Meta::default()),
    }
}

async fn explain_inner(
    state: &AppState,
    caller: &Caller,
    format: WireFormat,
    headers: &HeaderMap,
    body: Body,
) -> Result<serde_json::Value, GatewayError> {
    let cfg = &state.config;
    let raw = read_body(headers, body, cfg.server.max_body_bytes).await?;
    let inbound = crate::ingress::decode_stateless(format, raw, headers)?;
    let budget = caller.key().and_then(|k| state.keys.remaining_budget(k));
    let (plan, decision) = routing::decide(
        routing::Inputs::of(state),
        &inbound.summary,
        format,
        headers,
        budget,
    )?;
    if let Some(k) = caller.key()
        && !state.keys.allows(k, &plan.route)
    {
        return Err(GatewayError::ModelNotFound {
            model: inbound.summary.model.clone(),
            known: k.allowed.clone(),
        });
    }
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

pub async fn health_targets(State(state): State<AppState>) -> Response {
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
