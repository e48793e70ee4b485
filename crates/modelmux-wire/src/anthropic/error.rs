//! Anthropic errors in both directions. `classify_error` reads an Anthropic provider's error
//! answer (`{"type":"error","error":{"type","message"}}`, or whatever a proxy in front of it
//! sent) into the gateway's `ErrorInfo`, by the error type first and the HTTP status second;
//! `error_body` and `error_status` write an error for a Messages client, and `error_type` is the
//! Anthropic type for a kind (also used for in-stream `event: error`). Types and statuses follow
//! wire-formats §6.

use serde::Deserialize;

use crate::codec::{ErrorInfo, ErrorKind};

#[derive(Deserialize)]
struct WireError {
    #[serde(default)]
    error: Option<WireErrorObject>,
}

#[derive(Deserialize)]
pub(crate) struct WireErrorObject {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// Classifies an Anthropic provider's error answer.
pub fn classify_error(status: u16, body: &[u8]) -> ErrorInfo {
    let err = serde_json::from_slice::<WireError>(body)
        .ok()
        .and_then(|w| w.error);
    let (kind_str, message) = match err {
        Some(e) => (e.kind, e.message),
        None => (None, None),
    };
    let message = message
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("Anthropic answered with HTTP status {status}"));
    let kind = kind_str
        .as_deref()
        .and_then(|t| kind_from_type(t, &message))
        .unwrap_or_else(|| kind_from_status(status, &message));
    ErrorInfo {
        kind,
        message,
        retry_after: None,
    }
}

/// The kind for an Anthropic error `type` (and, for `invalid_request_error`, its message);
/// `None` for a type we do not know.
pub(crate) fn kind_from_type(kind: &str, message: &str) -> Option<ErrorKind> {
    Some(match kind {
        "invalid_request_error" => refine_bad_request(message),
        "authentication_error" | "permission_error" => ErrorKind::Auth,
        "billing_error" => ErrorKind::QuotaExceeded,
        "not_found_error" => ErrorKind::NotFound,
        "request_too_large" => ErrorKind::BadRequest,
        "rate_limit_error" => ErrorKind::RateLimited,
        "api_error" => ErrorKind::UpstreamError,
        "timeout_error" => ErrorKind::Timeout,
        "overloaded_error" => ErrorKind::Overloaded,
        _ => return None,
    })
}

/// A 400 is a bad request unless its message says the prompt does not fit (fall back to a
/// larger context), the account has no credit, or the output was filtered.
fn refine_bad_request(message: &str) -> ErrorKind {
    let m = message.to_ascii_lowercase();
    if crate::codec::is_context_length(&m) {
        ErrorKind::ContextLengthExceeded
    } else if m.contains("credit balance") {
        ErrorKind::QuotaExceeded
    } else if m.contains("content filtering") {
        ErrorKind::ContentFilter
    } else {
        ErrorKind::BadRequest
    }
}

fn kind_from_status(status: u16, message: &str) -> ErrorKind {
    match status {
        400 => refine_bad_request(message),
        401 | 403 => ErrorKind::Auth,
        402 => ErrorKind::QuotaExceeded,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::Timeout,
        413 | 422 => ErrorKind::BadRequest,
        429 => ErrorKind::RateLimited,
        503 | 529 => ErrorKind::Overloaded,
        409 | 500..=599 => ErrorKind::UpstreamError,
        _ => ErrorKind::BadRequest,
    }
}

/// The Anthropic error `type` a client should see for `kind`.
pub fn error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::RateLimited => "rate_limit_error",
        ErrorKind::QuotaExceeded => "billing_error",
        ErrorKind::Overloaded => "overloaded_error",
        ErrorKind::ContextLengthExceeded | ErrorKind::ContentFilter | ErrorKind::BadRequest => {
            "invalid_request_error"
        }
        ErrorKind::Auth => "authentication_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::Timeout => "timeout_error",
        ErrorKind::UpstreamError | ErrorKind::Connect | ErrorKind::StreamBroken => "api_error",
    }
}

/// The HTTP status an Anthropic client should see for `kind`. Quota is 402 `billing_error`
/// (a 429 would make the SDK retry in vain); failures to reach or read the provider are 502.
pub fn error_status(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::RateLimited => 429,
        ErrorKind::QuotaExceeded => 402,
        ErrorKind::Overloaded => 529,
        ErrorKind::ContextLengthExceeded | ErrorKind::ContentFilter | ErrorKind::BadRequest => 400,
        ErrorKind::Auth => 401,
        ErrorKind::NotFound => 404,
        ErrorKind::Timeout => 504,
        ErrorKind::UpstreamError => 500,
        ErrorKind::Connect | ErrorKind::StreamBroken => 502,
    }
}

/// `{"type":"error","error":{"type":...,"message":...}}` for a Messages client.
pub fn error_body(kind: ErrorKind, message: &str) -> String {
    serde_json::json!({
        "type": "error",
        "error": { "type": error_type(kind), "message": message },
    })
    .to_string()
}
