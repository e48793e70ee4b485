//! The Anthropic Messages wire format: `POST /v1/messages` (JSON and SSE) and
//! `POST /v1/messages/count_tokens`. A request passes the key check (`x-api-key` or Bearer) and
//! the `anthropic-version` check, is validated and parsed in `request`, and its answer, errors
//! and stream events are rendered in `render`.

mod render;
mod request;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Request as HttpRequest, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::json;

use crate::exchange::{Frame, Rejected, Wire};
use crate::fault::RetryAfter;
use crate::plan::{Answer, Request};
use crate::server::{SimBody, SimError, json_response, set_header};
use crate::stats::State;
use crate::text::alnum;

/// Anthropic Messages.
pub(crate) struct Anthropic;

impl Wire for Anthropic {
    fn parse(&self, _parts: &Parts, body: &[u8]) -> Result<Request, Rejected> {
        request::parse(body, true).map_err(|(model, message)| Rejected {
            model,
            response: error(400, "invalid_request_error", &message),
        })
    }

    fn authorize(&self, state: &State, parts: &Parts, _: &[u8]) -> Result<(), Response<SimBody>> {
        check_headers(state, &parts.headers)
    }

    fn bad_request(&self, message: &str) -> Response<SimBody> {
        error(400, "invalid_request_error", message)
    }

    fn status_error(&self, code: u16, _: Option<&RetryAfter>) -> Response<SimBody> {
        let (ty, message) = match code {
            400 => ("invalid_request_error", "Invalid request (simulated)."),
            401 => ("authentication_error", "invalid x-api-key"),
            403 => (
                "permission_error",
                "Your API key does not have permission to use the specified resource.",
            ),
            404 => (
                "not_found_error",
                "The requested resource could not be found.",
            ),
            408 | 504 => ("timeout_error", "Request timed out."),
            413 => (
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
            ),
            429 => (
                "rate_limit_error",
                "This request would exceed your organization's rate limit. Please try again later.",
            ),
            503 => ("overloaded_error", "Service temporarily overloaded."),
            529 => ("overloaded_error", "Overloaded"),
            c if c >= 500 => ("api_error", "Internal server error"),
            _ => ("invalid_request_error", "Simulated client error."),
        };
        error(code, ty, message)
    }

    fn context_error(&self, window: u32, prompt: u32, completion: u32) -> Response<SimBody> {
        let message = if prompt > window {
            format!("prompt is too long: {prompt} tokens > {window} maximum")
        } else {
            format!(
                "input length and `max_tokens` exceed context limit: {prompt} + {completion} > {window}, decrease input length or `max_tokens` and try again"
            )
        };
        error(400, "invalid_request_error", &message)
    }

    fn json(&self, answer: &Answer) -> Bytes {
        render::message(answer)
    }

    fn stream(&self, answer: &Answer, keepalives: u32) -> Vec<Frame> {
        render::stream(answer, keepalives)
    }

    fn error_event(&self) -> Bytes {
        render::event("error", &String::from_utf8_lossy(&self.error_body()))
    }

    fn error_body(&self) -> Bytes {
        Bytes::from(
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                .to_string(),
        )
    }

    fn malformed(&self) -> Bytes {
        Bytes::from_static(b"event: content_block_delta\ndata: {not json\n\n")
    }

    fn decorate(&self, headers: &mut HeaderMap, _: u128) {
        set_header(headers, "request-id", format!("req_{}", alnum(24)));
    }
}

/// The key (`x-api-key` or `Authorization: Bearer`) and the required `anthropic-version`.
#[allow(
    clippy::result_large_err,
    reason = "a rejection is a whole HTTP response, built only on the error path"
)]
fn check_headers(state: &State, headers: &HeaderMap) -> Result<(), Response<SimBody>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(key) = state.api_key.as_deref() {
        let bearer = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
        if header("x-api-key") != Some(key) && bearer.map(str::trim) != Some(key) {
            return Err(error(401, "authentication_error", "invalid x-api-key"));
        }
    }
    if header("anthropic-version").is_none_or(str::is_empty) {
        return Err(error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ));
    }
    Ok(())
}

/// `{"type":"error","error":{"type","message"},"request_id"}` with its status.
pub(crate) fn error(status: u16, ty: &str, message: &str) -> Response<SimBody> {
    let body = json!({"type": "error", "error": {"type": ty, "message": message},
        "request_id": format!("req_{}", alnum(24))});
    json_response(status, Bytes::from(body.to_string()))
}

/// `POST /v1/messages/count_tokens`: the same estimate as a message's `usage.input_tokens`.
/// Not counted as a model request.
pub(crate) async fn count_tokens(
    state: &State,
    req: HttpRequest<Incoming>,
) -> Result<Response<SimBody>, SimError> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    if let Err(resp) = check_headers(state, &parts.headers) {
        return Ok(resp);
    }
    Ok(match request::parse(&body, false) {
        Ok(r) => json_response(
            200,
            Bytes::from(json!({"input_tokens": r.prompt_tokens()}).to_string()),
        ),
        Err((_, message)) => error(400, "invalid_request_error", &message),
    })
}
