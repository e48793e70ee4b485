//! The translation contract every wire format implements. Requests and complete answers
//! translate with plain functions in each format's module (`from_anthropic`, `to_gemini`,
//! `response_from_bedrock`, ...); streams translate with a stateful `StreamDecoder` (provider
//! bytes → canonical events) and `StreamEncoder` (canonical events → client bytes), so any
//! provider's stream can be re-spoken in any client's format chunk by chunk. Errors from
//! every provider map onto one `ErrorKind`, which the dispatcher acts on.

use bytes::BytesMut;

use crate::canonical::StreamEvent;

/// A translation failure: a client body that cannot be understood (reported with the
/// parameter at fault), or a provider answer that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TranslateError {
    pub message: String,
    pub param: Option<String>,
}

impl TranslateError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: None,
        }
    }

    pub fn at(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: Some(param.into()),
        }
    }
}

/// Provider bytes → canonical stream events.
pub trait StreamDecoder: Send {
    /// Feeds the next bytes from the provider, appending the events they complete. An error
    /// means the provider sent something unreadable (a malformed chunk).
    fn push(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), TranslateError>;
    /// The provider closed the stream. An error means it stopped before the answer was
    /// complete (no terminal event, or a partial frame left over).
    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError>;
}

/// Canonical stream events → client bytes.
pub trait StreamEncoder: Send {
    /// Appends the bytes for `event` (possibly none: some events only update state).
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut);
    /// Ends a complete stream (`[DONE]`, `message_stop`, `response.completed`, ...).
    fn finish(&mut self, out: &mut BytesMut);
    /// Ends a broken stream with an error in this format; never a completion marker.
    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut);
}

/// What went wrong with a provider call, in one vocabulary for every provider. The
/// dispatcher acts on this alone: retry the same target, fall back to the next, or stop.
/// Substrings (lower case) that mark a context-window error in a provider's message or
/// code, across OpenAI, Azure, OpenRouter, vLLM/sglang, llama.cpp, Cerebras, Anthropic and
/// Bedrock. The one list: the same error is classified alike whichever path reads it (a
/// JSON answer, a translated stream, a same-format stream).
const CONTEXT_SIGNATURES: &[&str] = &[
    "context_length_exceeded",
    "maximum context length",
    "maximum context",
    "longer than the model's context length",
    "context length",
    "context window",
    "exceed context limit",
    "input tokens exceed the configured limit",
    "exceeds the available context size",
    "too many tokens",
    "prompt is too long",
    "input is too long",
];

/// Whether an error text (message, code or type) says the prompt does not fit the model's
/// context window.
pub fn is_context_length(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    CONTEXT_SIGNATURES.iter().any(|s| lower.contains(s))
}

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
    /// A stream that broke, or sent something unreadable.
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

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider error read from its body: the kind, a message fit for the client, and a
/// server-directed wait when the body carries one (Gemini's `RetryInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorInfo {
    pub kind: ErrorKind,
    pub message: String,
    pub retry_after: Option<std::time::Duration>,
}
