//! The Gemini wire format, for AI Studio (`/v1beta/models/{model}:generateContent`, key in
//! `x-goog-api-key` or `?key=`) and Vertex AI (`/v1/projects/…/publishers/google/models/
//! {model}:generateContent`, OAuth bearer token from `POST /token` in `token`). Bodies are read
//! and validated in `request` and answers rendered in `render`; errors are
//! `{"error":{"code","message","status"}}`.

mod render;
mod request;
mod token;

pub(crate) use token::token;

use bytes::Bytes;
use http::Response;
use http::request::Parts;
use serde_json::{Value, json};

use crate::exchange::{Frame, Rejected, Wire, query_value};
use crate::fault::RetryAfter;
use crate::plan::{Answer, Request};
use crate::server::{SimBody, json_response};
use crate::stats::State;
use crate::text::percent_decode;

/// The `{model}:{method}` last path segment.
pub(crate) struct Call {
    pub model: String,
    pub stream: bool,
}

impl Call {
    pub(crate) fn parse(segment: &str) -> Option<Call> {
        let decoded = percent_decode(segment);
        let (model, method) = decoded.rsplit_once(':')?;
        let stream = match method {
            "generateContent" => false,
            "streamGenerateContent" => true,
            _ => return None,
        };
        Some(Call {
            model: model.to_owned(),
            stream,
        })
    }
}

/// Gemini generateContent on AI Studio (`vertex: false`) or Vertex AI.
pub(crate) struct Gemini {
    pub call: Call,
    pub vertex: bool,
}

impl Wire for Gemini {
    fn parse(&self, _parts: &Parts, body: &[u8]) -> Result<Request, Rejected> {
        request::parse(body, &self.call.model, self.call.stream).map_err(|message| Rejected {
            model: Some(self.call.model.clone()),
            response: error(400, &message),
        })
    }

    fn authorize(&self, state: &State, parts: &Parts, _: &[u8]) -> Result<(), Response<SimBody>> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        if self.vertex {
            if !state.vertex_auth && state.api_key.is_none() {
                return Ok(());
            }
            let bearer = header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            return match bearer {
                Some(t) if state.token_valid(t) || state.api_key.as_deref() == Some(t) => Ok(()),
                _ => Err(error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                )),
            };
        }
        let Some(key) = state.api_key.as_deref() else {
            return Ok(());
        };
        let query_key = query_value(parts.uri.query(), "key").map(percent_decode);
        let sent = header("x-goog-api-key").map(str::to_owned).or(query_key);
        match sent {
            Some(k) if k == key => Ok(()),
            Some(_) => Err(with_details(
                400,
                "API key not valid. Please pass a valid API key.",
                json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]),
            )),
            None => Err(error(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
            )),
        }
    }

    fn bad_request(&self, message: &str) -> Response<SimBody> {
        error(400, message)
    }

    fn status_error(&self, code: u16, retry_after: Option<&RetryAfter>) -> Response<SimBody> {
        let message = match code {
            429 => "Resource has been exhausted (e.g. check quota).",
            500 => {
                "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
            }
            503 | 529 => "The model is overloaded. Please try again later.",
            401 => "API key not valid. Please pass a valid API key.",
            403 => "The caller does not have permission",
            404 => "Requested entity was not found.",
            408 | 504 => "Deadline expired before operation could complete.",
            c if c >= 500 => "Simulated upstream error.",
            _ => "Invalid request (simulated).",
        };
        let delay = match retry_after {
            Some(RetryAfter::Seconds(s)) => Some(format!("{s}s")),
            Some(RetryAfter::Millis(ms)) => Some(format!("{}s", *ms as f64 / 1000.0)),
            None => None,
        };
        match (code, delay) {
            (429, Some(d)) => with_details(
                code,
                message,
                json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": d}]),
            ),
            (401, _) => with_details(
                code,
                message,
                json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]),
            ),
            _ => error(code, message),
        }
    }

    fn context_error(&self, window: u32, prompt: u32, _completion: u32) -> Response<SimBody> {
        error(
            400,
            &format!(
                "The input token count ({prompt}) exceeds the maximum number of tokens allowed ({window})."
            ),
        )
    }

    fn json(&self, answer: &Answer) -> Bytes {
        Bytes::from(render::response(answer).to_string())
    }

    fn stream(&self, answer: &Answer, keepalives: u32) -> Vec<Frame> {
        render::stream(answer, keepalives)
    }

    fn error_event(&self) -> Bytes {
        render::sse(&String::from_utf8_lossy(&self.error_body()))
    }

    fn error_body(&self) -> Bytes {
        Bytes::from(
            body(
                503,
                "The model is overloaded. Please try again later.",
                None,
            )
            .to_string(),
        )
    }

    fn malformed(&self) -> Bytes {
        Bytes::from_static(b"data: {not json\r\n\r\n")
    }
}

/// The canonical status name of an HTTP code.
fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        408 | 504 => "DEADLINE_EXCEEDED",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 | 529 => "UNAVAILABLE",
        c if c >= 500 => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    }
}

fn body(code: u16, message: &str, details: Option<Value>) -> Value {
    let mut e = json!({"code": code, "message": message, "status": status_name(code)});
    if let Some(d) = details {
        e["details"] = d;
    }
    json!({ "error": e })
}

pub(crate) fn error(code: u16, message: &str) -> Response<SimBody> {
    json_response(code, Bytes::from(body(code, message, None).to_string()))
}

fn with_details(code: u16, message: &str, details: Value) -> Response<SimBody> {
    json_response(
        code,
        Bytes::from(body(code, message, Some(details)).to_string()),
    )
}
