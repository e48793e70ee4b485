//! The HTTP surface: the axum router with every endpoint, the body reader that enforces the
//! size limit, and the fallbacks that answer unknown paths and wrong methods in the OpenAI
//! error shape rather than axum's plain text. Two middlewares wrap every route: `unrecorded`
//! (outermost) records the rejections no handler records (unknown paths, wrong methods, bad
//! keys, ...), and `auth::layer` authenticates every request but the health probes, handing
//! handlers their `Caller`. Model handlers only read and decode (`accept`); the `pipeline`
//! does the rest.

mod analytics;
mod chat;
mod explain;
mod feedback;
mod messages;
mod meta;
pub mod respond;
pub mod responses;
mod unrecorded;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};

use crate::auth::Caller;
use crate::error::{ClientFormat, GatewayError};
use crate::ids::RequestId;
use crate::pipeline::{RequestCtx, Trail};
use crate::state::AppState;

/// A model request of `format` (Chat Completions, Messages or Responses): read the body,
/// decode it in `ingress`, and hand it to the pipeline; a body that cannot be read or decoded takes the
/// pipeline's failure path.
pub(crate) async fn accept(
    state: AppState,
    caller: Caller,
    id: Option<axum::Extension<RequestId>>,
    headers: http::HeaderMap,
    body: Body,
    format: ClientFormat,
) -> Response {
    let started = std::time::Instant::now();
    let meta = respond::Meta {
        request_id: Some(unrecorded::request_id(id)),
        tenant: Some(caller.tenant().to_string()),
        ..Default::default()
    };
    let decoded = match read_body(&headers, body, state.config.server.max_body_bytes).await {
        Ok(raw) => crate::ingress::decode(&state, &caller, format, raw, &headers).await,
        Err(e) => Err(e),
    };
    match decoded {
        Ok(inbound) => {
            crate::pipeline::run(RequestCtx::new(
                state, caller, inbound, headers, meta, started,
            ))
            .await
        }
        Err(e) => Trail::new(state, meta, format, started).fail(e, Vec::new()),
    }
}

/// The gateway's router over `state`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::completions))
        .route("/chat/completions", post(chat::completions))
        .route("/v1/messages", post(messages::create))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
        .route("/v1/responses", post(responses::create))
        .route("/responses", post(responses::create))
        .route(
            "/v1/responses/{id}",
            get(responses::get).delete(responses::delete),
        )
        .route(
            "/v1/responses/{id}/input_items",
            get(responses::input_items),
        )
        .route("/v1/route/explain", post(explain::explain))
        .route(crate::auth::FEEDBACK_PATH, post(feedback::create))
        .route("/v1/health/targets", get(explain::health_targets))
        .route(crate::auth::ANALYTICS_PATH, get(analytics::get))
        .route("/v1/models", get(meta::models))
        .route("/models", get(meta::models))
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .nest("/admin", crate::keys::admin_router(state.keys.clone()))
        // On the routes only: an unknown path is 404 whoever asks (it holds nothing).
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::layer,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            unrecorded::record,
        ))
        .with_state(state)
}

async fn not_found(uri: http::Uri) -> Response {
    respond::error(
        &GatewayError::NotFound(format!(
            "Unknown path {}: modelmux serves /v1/chat/completions and /v1/models.",
            uri.path()
        )),
        ClientFormat::OpenAiChat,
        &respond::Meta::default(),
    )
}

async fn method_not_allowed() -> Response {
    respond::error(
        &GatewayError::MethodNotAllowed,
        ClientFormat::OpenAiChat,
        &respond::Meta::default(),
    )
}

/// Reads a request body up to `limit` bytes; larger bodies get 413, before or while reading.
pub async fn read_body(
    headers: &http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, GatewayError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(GatewayError::PayloadTooLarge { limit })
        }
        Err(_) => Err(GatewayError::InvalidRequest {
            message: "The request body could not be read.".into(),
            param: None,
            code: None,
        }),
    }
}
