//! The errors of virtual keys: `KeysError` (setting up or changing the key store),
//! `KeyError` (a presented key that does not authenticate) and `LimitError` (a request over
//! a rate limit or a hard budget, or limits that cannot be checked). Each knows its status
//! and says itself in a message with no secret in it; the lead renders them in the client's
//! wire format.
//!
//! A key over a hard budget gets **429** with code `insufficient_quota`, as OpenAI answers an
//! exhausted quota: every OpenAI-compatible client and agent harness already treats that
//! code as "stop, not transient", where 402 would be an unfamiliar status most SDKs surface
//! as a generic error. Because SDKs retry a plain 429, the response should carry
//! `x-should-retry: false` (honoured by the OpenAI and Anthropic SDKs); see
//! `LimitError::should_retry`.

use std::time::Duration;

use http::StatusCode;

use super::key::Period;

/// Setting up or changing keys failed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("key store {path}: {message}")]
    Store { path: String, message: String },
    #[error("no key with id {0:?}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the system random generator failed")]
    Random,
    #[error("redis: {0}")]
    Redis(String),
}

impl KeysError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Store { .. } | Self::Random | Self::Redis(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ring::error::Unspecified> for KeysError {
    fn from(_: ring::error::Unspecified) -> Self {
        Self::Random
    }
}

/// A presented key that does not authenticate. All are 401 `invalid_api_key`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("You didn't provide an API key. Send it as `Authorization: Bearer <key>`.")]
    Missing,
    #[error("Incorrect API key provided.")]
    Invalid,
    #[error("This API key has been revoked.")]
    Revoked,
}

impl KeyError {
    pub fn status(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    pub fn code(&self) -> &'static str {
        "invalid_api_key"
    }

    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// A request the limits refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    /// Over the key's RPM or TPM limit. 429 `rate_limit_exceeded`, with `Retry-After`.
    #[error("Rate limit reached for this key: {what}. Try again in {}s.", secs_ceil(*retry_after))]
    RateLimited {
        retry_after: Duration,
        /// e.g. "50 requests per minute".
        what: String,
    },
    /// The reservation would take spend past a hard cap. 429 `insufficient_quota`.
    #[error(
        "This key has used its {} budget: ${spent:.4} spent or reserved of ${cap:.2}; this request is estimated at ${estimate:.4}.{}",
        period.name(),
        resets_in.map(|d| format!(" The budget resets in {}.", human(d))).unwrap_or_default()
    )]
    BudgetExceeded {
        period: Period,
        cap: f64,
        /// Settled plus reserved, before this request.
        spent: f64,
        estimate: f64,
        /// When the period starts over (`None` for the total budget).
        resets_in: Option<Duration>,
    },
    /// The shared counters cannot be reached and `fail_open = false`. 503.
    #[error(
        "Limits cannot be checked right now (the shared limit store is unreachable). Try again shortly."
    )]
    Unavailable,
}

impl LimitError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::RateLimited { .. } | Self::BudgetExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The OpenAI `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::BudgetExceeded { .. } => "insufficient_quota",
            Self::Unavailable => "limits_unavailable",
        }
    }

    /// The OpenAI `error.type`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "requests",
            Self::BudgetExceeded { .. } => "insufficient_quota",
            Self::Unavailable => "server_error",
        }
    }

    /// A `Retry-After` worth sending.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::Unavailable => Some(Duration::from_secs(1)),
            Self::BudgetExceeded { .. } => None,
        }
    }

    /// Whether an SDK should retry on its own (`x-should-retry`): not for a spent budget.
    pub fn should_retry(&self) -> bool {
        !matches!(self, Self::BudgetExceeded { .. })
    }
}

/// Whole seconds, rounded up, at least 1 (what `Retry-After` carries).
pub fn secs_ceil(d: Duration) -> u64 {
    u64::try_from(d.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 {
        format!("{}d {}h", s / 86_400, (s % 86_400) / 3600)
    } else if s >= 3600 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m {}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_status() {
        let e = LimitError::BudgetExceeded {
            period: Period::Daily,
            cap: 1.0,
            spent: 0.99,
            estimate: 0.03,
            resets_in: Some(Duration::from_secs(3 * 3600 + 120)),
        };
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.code(), "insufficient_quota");
        assert!(!e.should_retry());
        assert_eq!(
            e.message(),
            "This key has used its daily budget: $0.9900 spent or reserved of $1.00; this request is estimated at $0.0300. The budget resets in 3h 2m."
        );
        let r = LimitError::RateLimited {
            retry_after: Duration::from_millis(1500),
            what: "50 requests per minute".into(),
        };
        assert_eq!(
            r.message(),
            "Rate limit reached for this key: 50 requests per minute. Try again in 2s."
        );
        assert_eq!(LimitError::Unavailable.status().as_u16(), 503);
    }
}
