//! What can go wrong on one upstream call, in one vocabulary for every provider. The
//! dispatcher acts on `ErrorKind` alone: retry the same target, fall back to the next, or
//! stop and tell the client. Vendor status codes and bodies are mapped into it by each
//! adapter's classifier.

use std::fmt;
use std::time::Duration;

use modelmux_wire::openai::ErrorBody;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 429 that clears with time.
    RateLimited,
    /// 429 for an exhausted quota or billing: waiting will not help, another target may.
    QuotaExceeded,
    /// 503, 529: the provider is overloaded or not ready.
    Overloaded,
    ContextLengthExceeded,
    ContentFilter,
    /// The provider rejected the gateway's credentials (401, 403).
    Auth,
    BadRequest,
    NotFound,
    /// 5xx, 409 and other failures of the provider.
    UpstreamError,
    /// The attempt, or the time to first token, ran out.
    Timeout,
    /// No connection could be made, or it broke before an answer.
    Connect,
    /// A stream that broke, or sent something unreadable, before its first content.
    StreamBroken,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::QuotaExceeded => "quota_exceeded",
            Self::Overloaded => "overloaded",
            Self::ContextLengthExceeded => "context_length_exceeded",
            Self::ContentFilter => "content_filter",
            Self::Auth => "auth",
            Self::BadRequest => "bad_request",
            Self::NotFound => "not_found",
            Self::UpstreamError => "upstream_error",
            Self::Timeout => "timeout",
            Self::Connect => "connect_error",
            Self::StreamBroken => "stream_broken",
        }
    }

    /// Worth another try on the same target after a pause.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited
                | Self::Overloaded
                | Self::UpstreamError
                | Self::Timeout
                | Self::Connect
                | Self::StreamBroken
        )
    }

    /// Worth moving to the next candidate (retryable kinds, and quota).
    pub fn may_fall_back(self) -> bool {
        self.is_retryable() || self == Self::QuotaExceeded
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed upstream call.
#[derive(Debug, Clone)]
pub struct ProviderError {
    pub kind: ErrorKind,
    /// The upstream HTTP status, when an answer arrived.
    pub status: Option<u16>,
    /// How long the provider asked us to wait (`retry-after-ms`, `retry-after`).
    pub retry_after: Option<Duration>,
    /// A short description; never holds a secret.
    pub message: String,
    /// The provider's error body, when it sent one we could read.
    pub body: Option<ErrorBody>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: None,
            retry_after: None,
            message: message.into(),
            body: None,
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "{s} {}: {}", self.kind, self.message),
            None => write!(f, "{}: {}", self.kind, self.message),
        }
    }
}
