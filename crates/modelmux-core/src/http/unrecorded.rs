//! The record of every request no handler recorded: unknown paths (404), wrong methods
//! (405), and the rejections of endpoints that do not answer with a model (a bad key on
//! `/v1/models`, a malformed or too large body on `/v1/route/explain`, the admin API, axum's
//! own extractor rejections). A middleware around the whole router: a response that carries
//! `x-modelmux-request-id` was recorded by its handler (every model endpoint records, answered
//! or not); any other error response gets a record here with its status and error kind, and
//! the request id header so the client can quote it. Health probes (`/healthz`, `/readyz`)
//! and successful reads of the other endpoints leave no record.

use std::time::{Instant, SystemTime};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

use crate::http::respond::{ErrorKindName, REQUEST_ID};
use crate::ids::RequestId;
use crate::records::Record;
use crate::state::AppState;

pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let mut resp = next.run(req).await;
    let status = resp.status();
    if status.as_u16() < 400
        || resp.headers().contains_key(REQUEST_ID)
        || matches!(path.as_str(), "/healthz" | "/readyz")
    {
        return resp;
    }
    let id = RequestId::generate();
    let elapsed = started.elapsed();
    let mut r = Record::new(id.as_str(), SystemTime::now() - elapsed);
    r.client_format = format_of(&path).to_owned();
    r.status = Some(status.as_u16());
    r.error = Some(match resp.extensions().get::<ErrorKindName>() {
        Some(k) => k.0.clone(),
        None => kind_of(status).to_owned(),
    });
    r.latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    state.records.send(r);
    if let Ok(v) = HeaderValue::try_from(id.as_str()) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// The wire format the path belongs to (unknown paths count as OpenAI's).
fn format_of(path: &str) -> &'static str {
    if path.starts_with("/v1/messages") {
        "anthropic"
    } else if path.starts_with("/v1/responses") || path.starts_with("/responses") {
        "responses"
    } else {
        "openai"
    }
}

/// The error kind of a response that did not say (the admin API, axum's rejections).
fn kind_of(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 415 | 422 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "too_large",
        429 => "rate_limited",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "client_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_kinds() {
        assert_eq!(format_of("/v1/messages/count_tokens"), "anthropic");
        assert_eq!(format_of("/v1/responses/resp_1"), "responses");
        assert_eq!(format_of("/v2/nothing"), "openai");
        assert_eq!(
            kind_of(http::StatusCode::UNSUPPORTED_MEDIA_TYPE),
            "invalid_request"
        );
        assert_eq!(kind_of(http::StatusCode::BAD_GATEWAY), "internal");
        assert_eq!(kind_of(http::StatusCode::IM_A_TEAPOT), "client_error");
    }
}
