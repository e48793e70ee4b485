//! Gemini and Vertex error bodies, `{"error":{"code","message","status","details":[...]}}`
//! (or the same wrapped in an array, as non-SSE streams send it), read into the gateway's
//! one error vocabulary. The provider adapter calls [`classify_error`] with the HTTP status
//! and body of a failed call; the stream decoder uses [`kind_of`] for an in-band error
//! chunk. The dispatcher then retries, falls back or stops on the `ErrorKind` alone, and
//! waits for the `google.rpc.RetryInfo` delay when there is one.

use std::time::Duration;

use serde_json::Value;

use super::response::ApiError;
use crate::codec::{ErrorInfo, ErrorKind};

/// Longest server-directed wait we pass on; anything longer is a quota, not a pause.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// Reads a failed call's status and body.
pub fn classify_error(status: u16, body: &[u8]) -> ErrorInfo {
    let err = parse_error(body);
    let retry_after = err.as_ref().and_then(retry_delay);
    let message = err
        .as_ref()
        .and_then(|e| e.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| fallback_message(status, body));
    let kind = match &err {
        Some(e) => kind_of(status, e, retry_after.is_some()),
        None => kind_of(status, &ApiError::default(), false),
    };
    ErrorInfo {
        kind,
        message,
        retry_after,
    }
}

/// The error object of a body in either form, `{"error":{}}` or `[{"error":{}}]`.
fn parse_error(body: &[u8]) -> Option<ApiError> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let obj = match &value {
        Value::Array(items) => items.first()?.get("error")?,
        other => other.get("error")?,
    };
    serde_json::from_value(obj.clone()).ok()
}

fn fallback_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!("Gemini returned HTTP {status}")
    } else {
        let mut short: String = text.chars().take(500).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        format!("Gemini returned HTTP {status}: {short}")
    }
}

/// The `ErrorKind` of a Gemini error. `status` is the HTTP status, or 0 when unknown (then
/// the error's own `code` is used); the gRPC status name decides where it is clear.
pub(crate) fn kind_of(status: u16, err: &ApiError, has_retry_delay: bool) -> ErrorKind {
    let http = if status != 0 {
        status
    } else {
        err.code
            .as_ref()
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(0)
    };
    let grpc = err.status.as_deref().unwrap_or("");
    let message = err.message.as_deref().unwrap_or("").to_ascii_lowercase();

    if has_reason(err, "API_KEY_INVALID") || grpc == "UNAUTHENTICATED" {
        return ErrorKind::Auth;
    }
    if message.contains("exceeds the maximum number of tokens")
        || message.contains("payload size exceeds")
    {
        return ErrorKind::ContextLengthExceeded;
    }
    if http == 429 || grpc == "RESOURCE_EXHAUSTED" {
        return if is_hard_quota(err, &message, has_retry_delay) {
            ErrorKind::QuotaExceeded
        } else {
            ErrorKind::RateLimited
        };
    }
    if grpc == "FAILED_PRECONDITION" && message.contains("billing") {
        return ErrorKind::QuotaExceeded;
    }
    match grpc {
        "UNAVAILABLE" => return ErrorKind::Overloaded,
        "DEADLINE_EXCEEDED" => return ErrorKind::Timeout,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" | "ABORTED" => return ErrorKind::UpstreamError,
        "PERMISSION_DENIED" => return ErrorKind::Auth,
        "NOT_FOUND" => return ErrorKind::NotFound,
        "INVALID_ARGUMENT" | "OUT_OF_RANGE" => return ErrorKind::BadRequest,
        _ => {}
    }
    match http {
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::Timeout,
        409 => ErrorKind::UpstreamError,
        503 => ErrorKind::Overloaded,
        400..=499 => ErrorKind::BadRequest,
        _ => ErrorKind::UpstreamError,
    }
}

/// A 429 that waiting will not clear: a quota whose limit is 0 (the model is not in the
/// plan), a daily quota (`QuotaFailure` violation with a `...PerDay...` quota id), or
/// billing wording with no retry delay offered. Per-minute quotas stay `RateLimited`.
fn is_hard_quota(err: &ApiError, message: &str, has_retry_delay: bool) -> bool {
    if message.contains("limit: 0") {
        return true;
    }
    let daily = details(err).any(|d| {
        d.get("violations")
            .and_then(Value::as_array)
            .is_some_and(|vs| {
                vs.iter().any(|v| {
                    v.get("quotaId")
                        .and_then(Value::as_str)
                        .is_some_and(|q| q.contains("PerDay"))
                })
            })
    });
    let per_minute = message.contains("per minute") || message.contains("per_minute");
    daily || (!has_retry_delay && !per_minute && message.contains("billing"))
}

fn details(err: &ApiError) -> impl Iterator<Item = &Value> {
    err.details.iter().flatten()
}

/// `google.rpc.ErrorInfo.reason` equal to `reason` in any detail.
fn has_reason(err: &ApiError, reason: &str) -> bool {
    details(err).any(|d| d.get("reason").and_then(Value::as_str) == Some(reason))
}

/// `google.rpc.RetryInfo.retryDelay` ("30s", "1.5s"), when present and sane.
pub(crate) fn retry_delay(err: &ApiError) -> Option<Duration> {
    details(err)
        .filter(|d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_none_or(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|d| d.get("retryDelay"))
        .and_then(parse_duration)
}

/// A protobuf JSON `Duration`: `"30s"`, `"1.5s"`, or `{"seconds","nanos"}`.
fn parse_duration(v: &Value) -> Option<Duration> {
    let secs = match v {
        Value::String(s) => s.trim().strip_suffix('s')?.trim().parse::<f64>().ok()?,
        Value::Object(o) => {
            let seconds = o.get("seconds").and_then(|s| match s {
                Value::String(s) => s.parse::<f64>().ok(),
                other => other.as_f64(),
            });
            let nanos = o.get("nanos").and_then(Value::as_f64).unwrap_or(0.0);
            seconds.unwrap_or(0.0) + nanos / 1e9
        }
        _ => return None,
    };
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs).min(MAX_RETRY_DELAY))
}
