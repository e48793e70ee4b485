//! The small endpoints: `GET /v1/models` (routes and addressable targets, in the OpenAI list
//! shape so SDKs can read it), `GET /healthz` (the process is up) and `GET /readyz` (it takes
//! traffic: configured and not shutting down).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::StatusCode;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::state::AppState;

/// The routes and targets the caller may use (a virtual key sees only its allowed ones).
pub async fn models(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let cfg = &state.config;
    let allowed = |name: &str| caller.key().is_none_or(|k| state.keys.allows(k, name));
    let mut data: Vec<Value> = cfg
        .routes
        .iter()
        .filter(|r| allowed(r.name.as_str()))
        .map(|r| {
            json!({
                "id": r.name.as_str(),
                "object": "model",
                "created": 0,
                "owned_by": "modelmux",
                "modelmux": {
                    "kind": "route",
                    "strategy": "priority",
                    "targets": r.targets.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "candidates": r.candidates.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }
            })
        })
        .collect();
    for p in cfg.providers.values() {
        for (m, info) in &p.models {
            if !allowed(&format!("{}/{}", p.id, m)) {
                continue;
            }
            data.push(json!({
                "id": format!("{}/{}", p.id, m),
                "object": "model",
                "created": 0,
                "owned_by": p.id.as_str(),
                "modelmux": {
                    "kind": "target",
                    "provider_kind": p.kind.name(),
                    "context_window": info.context_window,
                    "max_output_tokens": info.max_output_tokens,
                }
            }));
        }
    }
    Json(json!({ "object": "list", "data": data })).into_response()
}

pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let cfg = &state.config;
    let body = json!({
        "ready": state.is_ready(),
        "providers": cfg.providers.keys().map(|p| p.as_str()).collect::<Vec<_>>(),
        "disabled": cfg.disabled.iter().map(|(p, why)| json!({"provider": p.as_str(), "reason": why})).collect::<Vec<_>>(),
        "routes": cfg.routes.len(),
        "shared_health": state.health.shared_status(),
    });
    let status = if state.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
