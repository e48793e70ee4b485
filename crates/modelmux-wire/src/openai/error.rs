//! The OpenAI error body, `{"error":{"message","type","param","code"}}`, with all four keys
//! always present (`param` and `code` may be null), as the spec and the SDKs expect.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorObject {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub param: Option<String>,
    #[serde(default, deserialize_with = "code_any")]
    pub code: Option<String>,
}

impl ErrorBody {
    pub fn new(
        message: impl Into<String>,
        kind: &str,
        param: Option<&str>,
        code: Option<&str>,
    ) -> Self {
        Self {
            error: ErrorObject {
                message: message.into(),
                kind: kind.to_owned(),
                param: param.map(str::to_owned),
                code: code.map(str::to_owned),
            },
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"error":{"message":"error","type":"server_error","param":null,"code":null}}"#
                .to_owned()
        })
    }

    /// Reads an upstream error body leniently: OpenAI-compatible servers differ in what they
    /// put where (numeric codes, missing type, a bare `{"message"}` or `{"detail"}`).
    pub fn parse_lenient(body: &[u8]) -> Option<Self> {
        if let Ok(b) = serde_json::from_slice::<LenientOuter>(body) {
            if let Some(e) = b.error {
                return Some(Self {
                    error: ErrorObject {
                        message: e.message.unwrap_or_default(),
                        kind: e.kind.unwrap_or_else(|| "upstream_error".to_owned()),
                        param: e.param,
                        code: e.code.and_then(value_to_code),
                    },
                });
            }
            if let Some(m) = b.message.or(b.detail) {
                return Some(Self::new(m, "upstream_error", None, None));
            }
        }
        None
    }
}

#[derive(Deserialize)]
struct LenientOuter {
    error: Option<LenientError>,
    message: Option<String>,
    detail: Option<String>,
}

#[derive(Deserialize)]
struct LenientError {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    param: Option<String>,
    code: Option<serde_json::Value>,
}

fn value_to_code(v: serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn code_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.and_then(value_to_code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_has_four_keys() {
        let s = ErrorBody::new("bad", "invalid_request_error", None, None).to_json();
        assert_eq!(
            s,
            r#"{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}"#
        );
    }

    #[test]
    fn lenient_parse_variants() {
        let e = ErrorBody::parse_lenient(br#"{"error":{"message":"m","code":429}}"#).unwrap();
        assert_eq!(e.error.code.as_deref(), Some("429"));
        assert_eq!(e.error.kind, "upstream_error");
        let e = ErrorBody::parse_lenient(br#"{"detail":"nope"}"#).unwrap();
        assert_eq!(e.error.message, "nope");
        assert!(ErrorBody::parse_lenient(b"<html>").is_none());
    }
}
