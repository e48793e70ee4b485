//! Faults a simulated provider can inject, written as short strings (`"429:retry-after=2"`,
//! `"cut:3"`, `"hang"`) so configs, headers and tests all share one spelling. `FromStr` and
//! `Display` are exact inverses; `Deserialize` goes through `FromStr`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// One injected failure (or oddity) for one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Answer with this HTTP status and an OpenAI-shaped error body.
    Status {
        code: u16,
        retry_after: Option<RetryAfter>,
    },
    /// Never answer.
    Hang,
    /// Close the connection without any response.
    Reset,
    /// Abort the body after N content chunks (no finish chunk, no `[DONE]`).
    CutAfter(u32),
    /// After N content chunks send `data: {not json` and end.
    MalformedAfter(u32),
    /// After N content chunks send an OpenAI error event and end without `[DONE]`.
    ErrorEventAfter(u32),
    /// 400 with OpenAI's `context_length_exceeded` body.
    ContextLength,
    /// Send N SSE keep-alive comments before the first chunk, then answer normally.
    KeepAliveThenOk(u32),
}

/// How a status fault tells the client to wait.
#[derive(Clone, Debug, PartialEq)]
pub enum RetryAfter {
    /// `retry-after: <secs>` (an integer when whole).
    Seconds(f64),
    /// `retry-after-ms: <ms>`.
    Millis(u64),
}

/// A fault string that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "invalid fault {0:?}: expected a status 400-599 (optionally `:retry-after=S` or `:retry-after-ms=MS`), hang, reset, context_length, cut:N, malformed:N, error_event:N or keepalive:N"
)]
pub struct ParseFaultError(String);

impl FromStr for Fault {
    type Err = ParseFaultError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseFaultError(s.to_owned());
        let (head, arg) = match s.split_once(':') {
            Some((h, a)) => (h, Some(a)),
            None => (s, None),
        };
        let count = |a: Option<&str>| a.and_then(|a| a.parse::<u32>().ok()).ok_or_else(bad);
        match head {
            "hang" if arg.is_none() => Ok(Fault::Hang),
            "reset" if arg.is_none() => Ok(Fault::Reset),
            "context_length" if arg.is_none() => Ok(Fault::ContextLength),
            "cut" => Ok(Fault::CutAfter(count(arg)?)),
            "malformed" => Ok(Fault::MalformedAfter(count(arg)?)),
            "error_event" => Ok(Fault::ErrorEventAfter(count(arg)?)),
            "keepalive" => Ok(Fault::KeepAliveThenOk(count(arg)?)),
            _ => {
                let code: u16 = head.parse().map_err(|_| bad())?;
                if !(400..=599).contains(&code) {
                    return Err(bad());
                }
                let retry_after = match arg {
                    None => None,
                    Some(a) => Some(if let Some(ms) = a.strip_prefix("retry-after-ms=") {
                        RetryAfter::Millis(ms.parse().map_err(|_| bad())?)
                    } else if let Some(secs) = a.strip_prefix("retry-after=") {
                        let secs: f64 = secs.parse().map_err(|_| bad())?;
                        if !secs.is_finite() || secs < 0.0 {
                            return Err(bad());
                        }
                        RetryAfter::Seconds(secs)
                    } else {
                        return Err(bad());
                    }),
                };
                Ok(Fault::Status { code, retry_after })
            }
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Status {
                code,
                retry_after: None,
            } => write!(f, "{code}"),
            Fault::Status {
                code,
                retry_after: Some(RetryAfter::Seconds(s)),
            } => {
                write!(f, "{code}:retry-after={s}")
            }
            Fault::Status {
                code,
                retry_after: Some(RetryAfter::Millis(ms)),
            } => {
                write!(f, "{code}:retry-after-ms={ms}")
            }
            Fault::Hang => f.write_str("hang"),
            Fault::Reset => f.write_str("reset"),
            Fault::ContextLength => f.write_str("context_length"),
            Fault::CutAfter(n) => write!(f, "cut:{n}"),
            Fault::MalformedAfter(n) => write!(f, "malformed:{n}"),
            Fault::ErrorEventAfter(n) => write!(f, "error_event:{n}"),
            Fault::KeepAliveThenOk(n) => write!(f, "keepalive:{n}"),
        }
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The OpenAI-shaped `(message, type, code)` of the error body a status fault answers with.
pub(crate) fn status_error(code: u16) -> (&'static str, &'static str, Option<&'static str>) {
    match code {
        429 => (
            "Rate limit reached for requests",
            "requests",
            Some("rate_limit_exceeded"),
        ),
        500 => (
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            Some("server_error"),
        ),
        503 => (
            "The server is overloaded or not ready yet.",
            "server_error",
            Some("service_unavailable"),
        ),
        529 => ("Overloaded", "server_error", Some("overloaded")),
        408 => ("Request timed out.", "server_error", Some("timeout")),
        401 => (
            "Incorrect API key provided.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        400 => (
            "Invalid request (simulated).",
            "invalid_request_error",
            None,
        ),
        c if c >= 500 => ("Simulated upstream error.", "server_error", None),
        _ => ("Simulated client error.", "invalid_request_error", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<RetryAfter>) -> Fault {
        Fault::Status { code, retry_after }
    }

    #[test]
    fn every_fault_string_round_trips() {
        let mut cases: Vec<(String, Fault)> = [429, 500, 503, 529, 408, 400, 401]
            .map(|c| (c.to_string(), status(c, None)))
            .into();
        cases.extend([
            (
                "429:retry-after=2".into(),
                status(429, Some(RetryAfter::Seconds(2.0))),
            ),
            (
                "429:retry-after=1.5".into(),
                status(429, Some(RetryAfter::Seconds(1.5))),
            ),
            (
                "503:retry-after-ms=300".into(),
                status(503, Some(RetryAfter::Millis(300))),
            ),
            ("hang".into(), Fault::Hang),
            ("reset".into(), Fault::Reset),
            ("cut:2".into(), Fault::CutAfter(2)),
            ("malformed:0".into(), Fault::MalformedAfter(0)),
            ("error_event:3".into(), Fault::ErrorEventAfter(3)),
            ("context_length".into(), Fault::ContextLength),
            ("keepalive:4".into(), Fault::KeepAliveThenOk(4)),
        ]);
        for (s, fault) in cases {
            assert_eq!(s.parse::<Fault>(), Ok(fault.clone()), "{s}");
            assert_eq!(fault.to_string(), s);
        }
    }

    #[test]
    fn bad_fault_strings_are_rejected() {
        let bad = "|200|999|abc|cut|cut:x|hang:1|429:retry=2|429:retry-after=-1|keepalive:-1|429:";
        for s in bad.split('|') {
            assert!(s.parse::<Fault>().is_err(), "{s} should not parse");
        }
    }

    #[test]
    fn faults_deserialize_from_strings() {
        let v: Vec<Fault> = serde_json::from_str(r#"["cut:1","503:retry-after-ms=5"]"#).unwrap();
        assert_eq!(
            v,
            [Fault::CutAfter(1), status(503, Some(RetryAfter::Millis(5)))]
        );
        assert!(serde_json::from_str::<Fault>(r#""nope""#).is_err());
    }
}
