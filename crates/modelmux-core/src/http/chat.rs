//! `POST /v1/chat/completions`: authenticate, read and decode an OpenAI Chat Completions
//! body, then answer it through `answer` (routing, dispatch, the client's own format).

use std::time::Instant;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use modelmux_wire::WireFormat;

use crate::auth;
use crate::http::answer::{answer, failed};
use crate::http::{read_body, respond, unrecorded};
use crate::ids::RequestId;
use crate::ingress::{self, Inbound};
use crate::state::AppState;

pub async fn completions(
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
    let cfg = &state.config;
    let decoded = async {
        // The body is read before the key is checked: answering with it unread would
        // make hyper close a keep-alive connection the client means to reuse.
        let raw = read_body(&headers, body, cfg.server.max_body_bytes).await?;
        let caller = auth::authenticate(&state, &headers).await?;
        let mut inbound = Inbound::openai_chat(raw)?;
        inbound.forward = ingress::forwardable(&headers, WireFormat::OpenAiChat);
        Ok((inbound, caller))
    }
    .await;
    match decoded {
        Ok((inbound, caller)) => {
            answer(state.clone(), inbound, caller, &headers, meta, started).await
        }
        Err(e) => failed(
            &state,
            meta,
            e,
            Vec::new(),
            started,
            false,
            WireFormat::OpenAiChat,
        ),
    }
}
