//! Bedrock errors in the gateway's vocabulary. A failed call answers with an HTTP status, the
//! error type in the `x-amzn-ErrorType` header (`ValidationException:http://internal...`,
//! where everything after `:` is noise) and a `{"message": ...}` body, sometimes with a
//! `__type` field instead of the header; a stream that fails after its 200 sends an exception
//! frame whose `:exception-type` is the same name in lowerCamelCase. Both paths end in
//! `kind_for`, which matches names case-insensitively and falls back on the status code.

use serde::Deserialize;

use crate::codec::{ErrorInfo, ErrorKind};

/// Reads a failed Converse / ConverseStream answer.
pub fn classify_error(status: u16, error_type_header: Option<&str>, body: &[u8]) -> ErrorInfo {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|b| b.message.clone().or_else(|| b.message_upper.clone()))
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| fallback_message(status, body));
    let error_type = error_type_header
        .map(short_type)
        .filter(|t| !t.is_empty())
        .or_else(|| {
            parsed
                .as_ref()
                .and_then(|b| b.error_type.as_deref())
                .map(short_type)
        })
        .unwrap_or_default();
    ErrorInfo {
        kind: kind_for(error_type, Some(status), &message),
        message,
        retry_after: None,
    }
}

/// The kind for an exception name (`ThrottlingException` or `throttlingException`), its
/// message, and the HTTP status when there is one (none inside a stream).
pub(crate) fn kind_for(error_type: &str, status: Option<u16>, message: &str) -> ErrorKind {
    let name = error_type.to_ascii_lowercase();
    match name.as_str() {
        "validationexception" => {
            if crate::codec::is_context_length(message) {
                ErrorKind::ContextLengthExceeded
            } else {
                ErrorKind::BadRequest
            }
        }
        "accessdeniedexception"
        | "unrecognizedclientexception"
        | "expiredtokenexception"
        | "invalidsignatureexception"
        | "incompletesignatureexception"
        | "missingauthenticationtokenexception"
        | "invalidclienttokenid" => ErrorKind::Auth,
        "resourcenotfoundexception" => ErrorKind::NotFound,
        "modeltimeoutexception" => ErrorKind::Timeout,
        "throttlingexception" => ErrorKind::RateLimited,
        "modelnotreadyexception" | "serviceunavailableexception" => ErrorKind::Overloaded,
        "servicequotaexceededexception" => ErrorKind::QuotaExceeded,
        "modelerrorexception"
        | "modelstreamerrorexception"
        | "internalserverexception"
        | "internalfailure" => ErrorKind::UpstreamError,
        _ => kind_for_status(status, message),
    }
}

fn kind_for_status(status: Option<u16>, message: &str) -> ErrorKind {
    match status {
        Some(400) | Some(413) | Some(422) if crate::codec::is_context_length(message) => {
            ErrorKind::ContextLengthExceeded
        }
        Some(401) | Some(403) => ErrorKind::Auth,
        Some(404) => ErrorKind::NotFound,
        Some(408) => ErrorKind::Timeout,
        Some(429) => ErrorKind::RateLimited,
        Some(503) => ErrorKind::Overloaded,
        Some(s) if (400..500).contains(&s) && s != 409 && s != 424 => ErrorKind::BadRequest,
        _ => ErrorKind::UpstreamError,
    }
}

/// `ValidationException:http://internal...` → `ValidationException`;
/// `com.amazon.coral.service#ThrottlingException` → `ThrottlingException`.
fn short_type(raw: &str) -> &str {
    let before_colon = raw.split(':').next().unwrap_or(raw);
    before_colon
        .rsplit('#')
        .next()
        .unwrap_or(before_colon)
        .trim()
}

fn fallback_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!("Bedrock returned HTTP {status}")
    } else {
        text.chars().take(500).collect()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
    #[serde(rename = "Message")]
    message_upper: Option<String>,
    #[serde(rename = "__type")]
    error_type: Option<String>,
}
