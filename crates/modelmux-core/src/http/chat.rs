//! `POST /v1/chat/completions` (also `/chat/completions`): an OpenAI Chat Completions body,
//! read, decoded in `ingress` and answered by the `pipeline`.

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use modelmux_wire::WireFormat;

use crate::auth::Caller;
use crate::ids::RequestId;
use crate::state::AppState;

pub async fn completions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    crate::http::accept(state, caller, id, headers, body, WireFormat::OpenAiChat).await
}
