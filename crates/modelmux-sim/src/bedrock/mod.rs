//! The Bedrock Converse wire format: `POST /model/{modelId}/converse` (JSON) and
//! `/converse-stream` (AWS event-stream frames). Auth is SigV4 (verified in `sigv4` when a
//! secret is configured) or a Bedrock API key as Bearer; bodies are validated in `request` and
//! answers rendered in `render`. Errors are `{"message"}` with the type in `x-amzn-ErrorType`.

mod render;
mod request;
mod sigv4;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Response};
use serde_json::json;

use crate::exchange::{Frame, Rejected, Wire};
use crate::fault::RetryAfter;
use crate::plan::{Answer, Request};
use crate::server::{SimBody, json_response, set_header};
use crate::stats::State;
use crate::text::alnum;

/// Bedrock Converse for one (percent-decoded) model id.
pub(crate) struct Bedrock {
    pub model: String,
    pub stream: bool,
}

impl Wire for Bedrock {
    fn parse(&self, _parts: &Parts, body: &[u8]) -> Result<Request, Rejected> {
        request::parse(body, &self.model, self.stream).map_err(|(ty, message)| Rejected {
            model: Some(self.model.clone()),
            response: error(400, ty, &message),
        })
    }

    fn authorize(
        &self,
        state: &State,
        parts: &Parts,
        body: &[u8],
    ) -> Result<(), Response<SimBody>> {
        sigv4::authorize(state, parts, body).map_err(|(ty, message)| error(403, ty, &message))
    }

    fn bad_request(&self, message: &str) -> Response<SimBody> {
        error(400, "ValidationException", message)
    }

    fn status_error(&self, code: u16, _: Option<&RetryAfter>) -> Response<SimBody> {
        let (ty, message) = match code {
            429 => (
                "ThrottlingException",
                "Too many requests, please wait before trying again.",
            ),
            503 | 529 => (
                "ServiceUnavailableException",
                "Bedrock is unable to process your request.",
            ),
            500 => (
                "InternalServerException",
                "The server encountered an internal error while processing the request.",
            ),
            408 => (
                "ModelTimeoutException",
                "Model has timed out in processing the request. Try your request again.",
            ),
            424 => (
                "ModelErrorException",
                "The model returned an error while processing the request.",
            ),
            401 => (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            403 => (
                "AccessDeniedException",
                "You don't have access to the model with the specified model ID.",
            ),
            404 => (
                "ResourceNotFoundException",
                "The specified model could not be found.",
            ),
            c if c >= 500 => ("InternalServerException", "Simulated upstream error."),
            _ => ("ValidationException", "Invalid request (simulated)."),
        };
        error(code, ty, message)
    }

    fn context_error(&self, _: u32, _: u32, _: u32) -> Response<SimBody> {
        error(
            400,
            "ValidationException",
            "Input is too long for requested model.",
        )
    }

    fn json(&self, answer: &Answer) -> Bytes {
        Bytes::from(render::response(answer).to_string())
    }

    fn stream(&self, answer: &Answer, keepalives: u32) -> Vec<Frame> {
        render::stream(answer, keepalives)
    }

    fn stream_content_type(&self) -> &'static str {
        "application/vnd.amazon.eventstream"
    }

    fn error_event(&self) -> Bytes {
        render::exception(
            "throttlingException",
            "Too many requests, please wait before trying again.",
        )
    }

    fn error_body(&self) -> Bytes {
        Bytes::from(
            json!({"message": "Too many requests, please wait before trying again."}).to_string(),
        )
    }

    fn malformed(&self) -> Bytes {
        render::malformed()
    }

    fn decorate(&self, headers: &mut HeaderMap, _: u128) {
        set_header(headers, "x-amzn-requestid", uuid_like());
    }
}

fn uuid_like() -> String {
    let s = alnum(32).to_ascii_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &s[..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..]
    )
}

/// `{"message"}` with `x-amzn-ErrorType: <Type>:http://internal.amazon.com/coral/com.amazon.bedrock/`.
pub(crate) fn error(status: u16, ty: &str, message: &str) -> Response<SimBody> {
    let mut resp = json_response(status, Bytes::from(json!({"message": message}).to_string()));
    set_header(
        resp.headers_mut(),
        "x-amzn-errortype",
        format!("{ty}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
    );
    set_header(resp.headers_mut(), "x-amzn-requestid", uuid_like());
    resp
}
