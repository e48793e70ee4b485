//! The gateway's error type and its one rendering into responses. Every error knows where
//! it came from (the client, the gateway, a provider), which status it maps to, and how to
//! say itself in the client's wire format; `GatewayError::body` is the only place error
//! bodies are built. Messages never carry secrets.

use std::time::Duration;

use http::StatusCode;
use modelmux_wire::openai::ErrorBody;

use crate::dispatch::Attempt;
use crate::ids::TargetRef;
use crate::providers::{ErrorKind, ProviderError};

/// The wire format the client spoke; errors and streams answer in it.
pub type ClientFormat = modelmux_wire::WireFormat;

/// Who is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    Client,
    Gateway,
    Provider,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
        code: Option<&'static str>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("The model `{model}` does not exist or you do not have access to it.")]
    ModelNotFound { model: String, known: Vec<String> },
    #[error("{0}")]
    NotFound(String),
    #[error("Method not allowed.")]
    MethodNotAllowed,
    #[error("The request body is larger than the limit of {limit} bytes.")]
    PayloadTooLarge { limit: usize },
    #[error("No provider is configured.")]
    NoProviders { disabled: Vec<String> },
    /// A provider refused the request for a reason another target would not fix.
    #[error("{target}: {error}")]
    Upstream {
        target: TargetRef,
        error: Box<ProviderError>,
    },
    /// Every candidate failed with a retryable error.
    #[error("all attempts failed")]
    AllFailed {
        attempts: Vec<Attempt>,
        retry_after: Option<Duration>,
    },
    /// The request's total deadline passed before any candidate answered.
    #[error("deadline exceeded")]
    Deadline { attempts: Vec<Attempt> },
    #[error("{0}")]
    Internal(String),
    /// The client's `x-modelmux-request-id` was used before by the same tenant (409).
    #[error("The request id {0:?} was already used; send a new x-modelmux-request-id.")]
    DuplicateRequestId(String),
    /// A virtual key's rate limit or budget refused the request.
    #[error("{}", .0.message())]
    Limit(crate::keys::LimitError),
}

impl GatewayError {
    pub fn source(&self) -> ErrorSource {
        match self {
            Self::InvalidRequest { .. }
            | Self::Unauthorized(_)
            | Self::ModelNotFound { .. }
            | Self::NotFound(_)
            | Self::MethodNotAllowed
            | Self::PayloadTooLarge { .. }
            | Self::DuplicateRequestId(_) => ErrorSource::Client,
            Self::NoProviders { .. } | Self::Internal(_) => ErrorSource::Gateway,
            Self::Limit(_) => ErrorSource::Client,
            Self::Upstream { .. } | Self::AllFailed { .. } | Self::Deadline { .. } => {
                ErrorSource::Provider
            }
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::ModelNotFound { .. } | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NoProviders { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream { error, .. } => match error.kind {
                // The gateway's own credentials are wrong: not the client's fault.
                ErrorKind::Auth => StatusCode::BAD_GATEWAY,
                _ => error
                    .status
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .filter(|s| s.is_client_error())
                    .unwrap_or(StatusCode::BAD_REQUEST),
            },
            Self::AllFailed { attempts, .. } => all_failed_status(attempts),
            Self::Deadline { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::DuplicateRequestId(_) => StatusCode::CONFLICT,
            Self::Limit(e) => e.status(),
        }
    }

    /// The error body in the client's format.
    pub fn body(&self, format: ClientFormat) -> String {
        match format {
            ClientFormat::Anthropic => {
                let message = self.openai_body().error.message;
                match self {
                    // A spent budget will not come back by retrying: `billing_error`, which
                    // the SDKs and Claude Code do not retry (with `x-should-retry: false`).
                    Self::Limit(crate::keys::LimitError::BudgetExceeded { .. }) => {
                        anthropic_typed("billing_error", &message)
                    }
                    _ => anthropic_body(self.status(), &message),
                }
            }
            _ => self.openai_body().to_json(),
        }
    }

    /// The error kind a record keeps (`invalid_request`, `unauthorized`, `not_found`, ...).
    pub fn kind_name(&self) -> String {
        match self {
            Self::Upstream { error, .. } => error.kind.as_str().to_owned(),
            Self::AllFailed { .. } => "all_failed".into(),
            Self::Deadline { .. } => "deadline".into(),
            Self::InvalidRequest { .. } => "invalid_request".into(),
            Self::Unauthorized(_) => "unauthorized".into(),
            Self::ModelNotFound { .. } | Self::NotFound(_) => "not_found".into(),
            Self::PayloadTooLarge { .. } => "too_large".into(),
            Self::NoProviders { .. } => "no_providers".into(),
            Self::MethodNotAllowed => "method_not_allowed".into(),
            Self::Internal(_) => "internal".into(),
            Self::DuplicateRequestId(_) => "duplicate_request_id".into(),
            Self::Limit(e) => e.code().into(),
        }
    }

    /// A `Retry-After` worth sending to the client, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::AllFailed { retry_after, .. } => *retry_after,
            Self::Limit(e) => e.retry_after(),
            _ => None,
        }
    }

    fn openai_body(&self) -> ErrorBody {
        match self {
            Self::InvalidRequest {
                message,
                param,
                code,
            } => ErrorBody::new(
                message.clone(),
                "invalid_request_error",
                param.as_deref(),
                *code,
            ),
            Self::Unauthorized(m) => ErrorBody::new(
                m.clone(),
                "invalid_request_error",
                None,
                Some("invalid_api_key"),
            ),
            Self::ModelNotFound { model, known } => {
                let hint = if known.is_empty() {
                    String::new()
                } else {
                    format!(
                        " Available routes: {}. A target can also be addressed as \"provider/model\".",
                        known.join(", ")
                    )
                };
                ErrorBody::new(
                    format!(
                        "The model `{model}` does not exist or you do not have access to it.{hint}"
                    ),
                    "invalid_request_error",
                    Some("model"),
                    Some("model_not_found"),
                )
            }
            Self::NotFound(m) => {
                ErrorBody::new(m.clone(), "invalid_request_error", None, Some("not_found"))
            }
            Self::MethodNotAllowed => ErrorBody::new(
                self.to_string(),
                "invalid_request_error",
                None,
                Some("method_not_allowed"),
            ),
            Self::PayloadTooLarge { .. } => ErrorBody::new(
                self.to_string(),
                "invalid_request_error",
                None,
                Some("request_too_large"),
            ),
            Self::NoProviders { disabled } => ErrorBody::new(
                format!(
                    "No provider is configured, so modelmux cannot answer. Set a provider key in the environment (one of {}) and restart, or start modelmux with --config FILE. To try modelmux without any key, run `modelmux demo`.",
                    if disabled.is_empty() {
                        "OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY".to_owned()
                    } else {
                        disabled.join(", ")
                    }
                ),
                "invalid_request_error",
                None,
                Some("no_providers_configured"),
            ),
            Self::Upstream { target, error } => {
                let (kind, param, code) = match &error.body {
                    Some(b) => (
                        b.error.kind.clone(),
                        b.error.param.clone(),
                        b.error.code.clone(),
                    ),
                    None => ("upstream_error".to_owned(), None, None),
                };
                let kind = if error.kind == ErrorKind::Auth {
                    "upstream_auth_error".to_owned()
                } else {
                    kind
                };
                let message = if error.kind == ErrorKind::Auth {
                    format!(
                        "{target} rejected modelmux's credentials for it (HTTP {}); check the provider's api_key in the modelmux config.",
                        error.status.unwrap_or(0)
                    )
                } else {
                    format!("{target}: {}", error.message)
                };
                ErrorBody {
                    error: modelmux_wire::openai::error::ErrorObject {
                        message,
                        kind,
                        param,
                        code: code.or_else(|| Some(error.kind.as_str().to_owned())),
                    },
                }
            }
            Self::AllFailed { attempts, .. } => ErrorBody::new(
                format!(
                    "All {} attempts failed: {}",
                    attempts.len(),
                    describe(attempts)
                ),
                "upstream_error",
                None,
                Some(all_failed_code(attempts)),
            ),
            Self::Deadline { attempts } => ErrorBody::new(
                if attempts.is_empty() {
                    "The request's deadline passed before any provider answered.".to_owned()
                } else {
                    format!(
                        "The request's deadline passed after {} attempts: {}",
                        attempts.len(),
                        describe(attempts)
                    )
                },
                "timeout",
                None,
                Some("deadline_exceeded"),
            ),
            Self::Internal(m) => ErrorBody::new(m.clone(), "server_error", None, None),
            Self::DuplicateRequestId(_) => ErrorBody::new(
                self.to_string(),
                "invalid_request_error",
                Some("x-modelmux-request-id"),
                Some("duplicate_request_id"),
            ),
            Self::Limit(e) => ErrorBody::new(e.message(), e.error_type(), None, Some(e.code())),
        }
    }
}

/// `openai/gpt-4o-mini → 429 rate_limited; local/qwen → connect_error`
pub fn describe(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|a| {
            let kind = match a.error {
                Some(k) => k.as_str(),
                None if a.cancelled => "cancelled",
                None => "ok",
            };
            match a.status {
                Some(s) => format!("{} → {s} {kind}", a.target),
                None => format!("{} → {kind}", a.target),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn all_failed_status(attempts: &[Attempt]) -> StatusCode {
    let kinds: Vec<ErrorKind> = attempts.iter().filter_map(|a| a.error).collect();
    if !kinds.is_empty()
        && kinds
            .iter()
            .all(|k| matches!(k, ErrorKind::RateLimited | ErrorKind::QuotaExceeded))
    {
        StatusCode::TOO_MANY_REQUESTS
    } else if kinds.last() == Some(&ErrorKind::Timeout) {
        StatusCode::GATEWAY_TIMEOUT
    } else if !kinds.is_empty()
        && kinds.iter().all(|k| {
            matches!(
                k,
                ErrorKind::Overloaded | ErrorKind::Connect | ErrorKind::RateLimited
            )
        })
    {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::BAD_GATEWAY
    }
}

fn all_failed_code(attempts: &[Attempt]) -> &'static str {
    match all_failed_status(attempts) {
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::GATEWAY_TIMEOUT => "upstream_timeout",
        StatusCode::SERVICE_UNAVAILABLE => "upstream_unavailable",
        _ => "upstream_failed",
    }
}

fn anthropic_typed(kind: &str, message: &str) -> String {
    serde_json::json!({"type": "error", "error": {"type": kind, "message": message}}).to_string()
}

/// `{"type":"error","error":{"type","message"}}`, with the Anthropic error type for `status`.
pub fn anthropic_body(status: StatusCode, message: &str) -> String {
    let kind = match status.as_u16() {
        400 | 405 | 409 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    };
    anthropic_typed(kind, message)
}
