//! Error vocabulary between the OpenAI format and the gateway's `ErrorKind`. Upstream errors
//! (an error body, or an in-band `{"error":{...}}` stream chunk) are classified by their
//! `code`, then `type`, then well-known message signatures (context-length texts differ per
//! server, §6 of the wire notes); in the other direction a kind becomes the HTTP status, the
//! `type` and the `code` an OpenAI client should see. `error_kind(error_type(k), error_code(k),
//! "")` gives `k` back for every kind, so a translated stream error keeps its meaning.

use crate::codec::ErrorKind;

/// The status an OpenAI client should see for a provider error of this kind. `Auth` is the
/// gateway's own credentials being refused upstream: a bad gateway, not the client's fault.
pub fn error_status(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::RateLimited | ErrorKind::QuotaExceeded => 429,
        ErrorKind::Overloaded => 503,
        ErrorKind::BadRequest | ErrorKind::ContextLengthExceeded | ErrorKind::ContentFilter => 400,
        ErrorKind::NotFound => 404,
        ErrorKind::Timeout => 504,
        ErrorKind::Auth
        | ErrorKind::UpstreamError
        | ErrorKind::Connect
        | ErrorKind::StreamBroken => 502,
    }
}

/// The OpenAI error `type` for a kind.
pub fn error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::RateLimited => "rate_limit_error",
        ErrorKind::QuotaExceeded => "insufficient_quota",
        ErrorKind::BadRequest
        | ErrorKind::ContextLengthExceeded
        | ErrorKind::ContentFilter
        | ErrorKind::NotFound => "invalid_request_error",
        ErrorKind::Overloaded
        | ErrorKind::Auth
        | ErrorKind::UpstreamError
        | ErrorKind::Timeout
        | ErrorKind::Connect
        | ErrorKind::StreamBroken => "server_error",
    }
}

/// The OpenAI error `code` for a kind (`None` where the type says it all).
pub fn error_code(kind: ErrorKind) -> Option<&'static str> {
    match kind {
        ErrorKind::RateLimited => Some("rate_limit_exceeded"),
        ErrorKind::QuotaExceeded => Some("insufficient_quota"),
        ErrorKind::Overloaded => Some("overloaded"),
        ErrorKind::ContextLengthExceeded => Some("context_length_exceeded"),
        ErrorKind::ContentFilter => Some("content_filter"),
        ErrorKind::Auth => Some("upstream_authentication_failed"),
        ErrorKind::NotFound => Some("model_not_found"),
        ErrorKind::Timeout => Some("timeout"),
        ErrorKind::Connect => Some("connect_error"),
        ErrorKind::StreamBroken => Some("stream_broken"),
        ErrorKind::BadRequest | ErrorKind::UpstreamError => None,
    }
}

/// Classifies an OpenAI-format error from its `type`, `code` (a string, or a number as
/// text: some compatible servers put the HTTP status there) and message.
pub fn error_kind(kind: Option<&str>, code: Option<&str>, message: &str) -> ErrorKind {
    let lower = message.to_ascii_lowercase();
    if crate::codec::is_context_length(&lower) {
        return ErrorKind::ContextLengthExceeded;
    }
    if let Some(k) = code.and_then(from_code) {
        return k;
    }
    if let Some(k) = kind.and_then(from_type) {
        if k == ErrorKind::BadRequest && lower.contains("safety system") {
            return ErrorKind::ContentFilter;
        }
        return k;
    }
    if lower.contains("overloaded") {
        ErrorKind::Overloaded
    } else if lower.contains("rate limit") {
        ErrorKind::RateLimited
    } else {
        ErrorKind::UpstreamError
    }
}

fn from_code(code: &str) -> Option<ErrorKind> {
    if let Ok(status) = code.parse::<u16>() {
        return from_status(status);
    }
    let c = code.to_ascii_lowercase();
    Some(match c.as_str() {
        "insufficient_quota" | "billing_hard_limit_reached" => ErrorKind::QuotaExceeded,
        "overloaded" | "engine_overloaded" | "server_overloaded" => ErrorKind::Overloaded,
        "context_length_exceeded" | "string_above_max_length" => ErrorKind::ContextLengthExceeded,
        "content_filter" | "content_policy_violation" | "responsibleaipolicyviolation" => {
            ErrorKind::ContentFilter
        }
        "invalid_api_key" | "upstream_authentication_failed" => ErrorKind::Auth,
        "model_not_found" | "not_found" | "deploymentnotfound" => ErrorKind::NotFound,
        "timeout" | "request_timeout" => ErrorKind::Timeout,
        "connect_error" => ErrorKind::Connect,
        "stream_broken" => ErrorKind::StreamBroken,
        "server_error" | "internal_error" => ErrorKind::UpstreamError,
        _ if c.contains("rate_limit") => ErrorKind::RateLimited,
        _ => return None,
    })
}

fn from_type(kind: &str) -> Option<ErrorKind> {
    let t = kind.to_ascii_lowercase();
    Some(match t.as_str() {
        "requests" | "tokens" | "rate_limit_error" | "ratelimiterror" => ErrorKind::RateLimited,
        "insufficient_quota" => ErrorKind::QuotaExceeded,
        "overloaded_error" | "serviceunavailableerror" => ErrorKind::Overloaded,
        "invalid_request_error" | "badrequesterror" | "validation_error" => ErrorKind::BadRequest,
        "authentication_error" | "permission_error" | "authenticationerror" => ErrorKind::Auth,
        "not_found_error" | "notfounderror" => ErrorKind::NotFound,
        "timeout_error" => ErrorKind::Timeout,
        "server_error" | "api_error" | "internal_server_error" | "upstream_error" => {
            ErrorKind::UpstreamError
        }
        _ if t.contains("rate_limit") => ErrorKind::RateLimited,
        _ => return None,
    })
}

fn from_status(status: u16) -> Option<ErrorKind> {
    Some(match status {
        429 => ErrorKind::RateLimited,
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::Timeout,
        400 | 413 | 422 => ErrorKind::BadRequest,
        503 | 529 => ErrorKind::Overloaded,
        500..=599 => ErrorKind::UpstreamError,
        _ => return None,
    })
}
