//! What can go wrong on one upstream call, in one vocabulary for every provider. The
//! dispatcher acts on `ErrorKind` alone: retry the same target, fall back to the next, or
//! stop and tell the client. Vendor status codes and bodies are mapped into it by each
//! adapter's classifier.

use std::fmt;
use std::time::Duration;

use modelmux_wire::openai::ErrorBody;

pub use modelmux_wire::codec::ErrorKind;

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
    pub body: Option<Box<ErrorBody>>,
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
