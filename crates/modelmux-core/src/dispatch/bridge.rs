//! The bridge between a client's format and a provider's. When both speak the same format
//! the request passes through with only `model` replaced (byte for byte otherwise) and the
//! answer comes back unchanged; otherwise the request goes through the canonical model
//! (`from_<client>` → `to_<provider>`) and the answer back (`response_from_<provider>` →
//! `response_to_<client>`, or a stream decoder feeding the client's stream encoder).

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use modelmux_wire::codec::{StreamDecoder, StreamEncoder};
use modelmux_wire::{
    ChatResponse, Usage, WireFormat, anthropic, bedrock, gemini, openai, responses,
};
use serde_json::value::RawValue;

use super::pipe::{OpenAiPassthrough, Pipe, PipeState, Translate};
use crate::ingress::Inbound;
use crate::providers::{ErrorKind, ProviderError};

/// How to shape request bodies for one target.
#[derive(Debug, Clone, Copy)]
pub struct BodyOptions {
    /// Anthropic requires `max_tokens`: used when the client gave none.
    pub default_max_tokens: u64,
    /// Send `max_tokens` instead of `max_completion_tokens` to an OpenAI-format server.
    pub legacy_max_tokens: bool,
    /// Clamp the output limit to the target's maximum.
    pub max_output_tokens: Option<u64>,
}

fn bad_request(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(ErrorKind::BadRequest, e.to_string())
}

/// The body to send to a provider of format `to` for model `model`.
pub fn request_body(
    inbound: &Inbound,
    to: WireFormat,
    model: &str,
    opts: BodyOptions,
) -> Result<Bytes, ProviderError> {
    if to == inbound.format {
        return match (&inbound.openai, to) {
            (Some(body), WireFormat::OpenAiChat) => Ok(super::openai_body(
                body,
                model,
                inbound.summary.stream,
                opts.max_output_tokens,
            )),
            _ => Ok(passthrough_body(inbound, model, opts.max_output_tokens)),
        };
    }
    let canonical = inbound.canonical().map_err(bad_request)?;
    let mut req = Cow::Borrowed(canonical);
    if let (Some(limit), Some(asked)) = (opts.max_output_tokens, canonical.max_tokens)
        && asked > limit
    {
        req.to_mut().max_tokens = Some(limit);
    }
    let body = match to {
        WireFormat::OpenAiChat | WireFormat::OpenAiResponses => openai::to_openai(
            &req,
            model,
            &openai::OpenAiOptions {
                legacy_max_tokens: opts.legacy_max_tokens,
            },
        ),
        WireFormat::Anthropic => {
            let default = opts
                .max_output_tokens
                .map_or(opts.default_max_tokens, |m| m.min(opts.default_max_tokens));
            anthropic::to_anthropic(&req, model, default)
        }
        WireFormat::Gemini => gemini::to_gemini(&req),
        WireFormat::Bedrock => bedrock::to_bedrock(&req, model),
    };
    Ok(Bytes::from(body))
}

/// Replaces top-level values in a JSON object body, leaving every other byte as it was.
/// Each replacement is `(key, new JSON text)`; a key that is absent is left absent. `None`
/// when the body is not a JSON object.
pub fn splice(raw: &[u8], replacements: &[(&str, String)]) -> Option<Vec<u8>> {
    let fields: HashMap<Cow<'_, str>, &RawValue> = serde_json::from_slice(raw).ok()?;
    let base = raw.as_ptr() as usize;
    let mut spans: Vec<(usize, usize, &str)> = Vec::new();
    for (key, value) in replacements {
        let Some(current) = fields.get(*key) else {
            continue;
        };
        let text = current.get();
        if text == value {
            continue;
        }
        let start = (text.as_ptr() as usize).checked_sub(base)?;
        let end = start + text.len();
        if end > raw.len() {
            return None;
        }
        spans.push((start, end, value.as_str()));
    }
    spans.sort_by_key(|s| s.0);
    let mut out = Vec::with_capacity(raw.len() + 32);
    let mut at = 0;
    for (start, end, value) in spans {
        out.extend_from_slice(&raw[at..start]);
        out.extend_from_slice(value.as_bytes());
        at = end;
    }
    out.extend_from_slice(&raw[at..]);
    Some(out)
}

/// The field a format's request body carries its output limit in.
fn output_limit_field(format: WireFormat) -> &'static str {
    match format {
        WireFormat::OpenAiResponses => "max_output_tokens",
        _ => "max_tokens",
    }
}

/// A same-format body with `model` set and, when the target's output limit is known and
/// lower than what was asked, the format's output limit clamped to it.
fn passthrough_body(inbound: &Inbound, model: &str, clamp: Option<u64>) -> Bytes {
    let mut replacements = vec![("model", serde_json::Value::from(model).to_string())];
    if let (Some(limit), Some(asked)) = (clamp, inbound.summary.max_output_tokens)
        && asked > limit
    {
        replacements.push((output_limit_field(inbound.format), limit.to_string()));
    }
    splice(&inbound.raw, &replacements).map_or_else(|| inbound.raw.clone(), Bytes::from)
}

/// Reads a complete answer from a provider of format `from` and renders it for a client of
/// format `to`. Same format: the bytes are relayed unchanged; only usage is read.
pub fn json_answer(
    inbound: &Inbound,
    from: WireFormat,
    body: Bytes,
    model: &str,
) -> Result<(Bytes, Option<Usage>), ProviderError> {
    let to = inbound.format;
    let unreadable = |e: modelmux_wire::TranslateError| {
        ProviderError::new(
            ErrorKind::UpstreamError,
            format!("the provider's answer could not be read: {}", e.message),
        )
    };
    if to == from {
        let usage = match from {
            WireFormat::OpenAiChat => {
                let peek = openai::UsagePeek::parse(&body).ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::UpstreamError,
                        "the provider answered 200 with a body that is not a JSON object",
                    )
                })?;
                peek.usage.map(|u| u.to_canonical())
            }
            WireFormat::Anthropic => Some(
                anthropic::response_from_anthropic(&body)
                    .map_err(unreadable)?
                    .usage,
            ),
            _ => None,
        };
        return Ok((body, usage));
    }
    let resp: ChatResponse = match from {
        WireFormat::OpenAiChat | WireFormat::OpenAiResponses => openai::response_from_openai(&body),
        WireFormat::Anthropic => anthropic::response_from_anthropic(&body),
        WireFormat::Gemini => gemini::response_from_gemini(&body),
        WireFormat::Bedrock => bedrock::response_from_bedrock(&body),
    }
    .map_err(unreadable)?;
    let usage = Some(resp.usage);
    let out = match to {
        WireFormat::Anthropic => anthropic::response_to_anthropic(&resp, model),
        WireFormat::OpenAiResponses => {
            let req = inbound.canonical().map_err(bad_request)?;
            responses::response_to_responses(&resp, model, req, inbound.response_id())
        }
        _ => openai::response_to_openai(&resp, model),
    };
    Ok((Bytes::from(out), usage))
}

/// The pipe that turns a provider's stream of format `from` into the client's format `to`.
pub fn pipe(
    inbound: &Inbound,
    from: WireFormat,
    model: &str,
    include_usage: bool,
) -> Box<dyn Pipe> {
    match (inbound.format, from) {
        (WireFormat::OpenAiChat, WireFormat::OpenAiChat) => {
            Box::new(OpenAiPassthrough::new(include_usage))
        }
        (WireFormat::Anthropic, WireFormat::Anthropic) => Box::new(AnthropicPassthrough::default()),
        (WireFormat::OpenAiResponses, WireFormat::OpenAiResponses) => {
            Box::new(ResponsesPassthrough::default())
        }
        (WireFormat::OpenAiResponses, _) => {
            let mut enc = responses::ResponsesStreamEncoder::new(model, inbound.response_id());
            if let Ok(req) = inbound.canonical() {
                enc = enc.with_request(req);
            }
            Box::new(Translate::new(decoder(from), Box::new(enc)))
        }
        (to, _) => Box::new(Translate::new(
            decoder(from),
            encoder(to, model, include_usage),
        )),
    }
}

/// Usage from a Responses API answer (`usage.input_tokens`, ...).
pub fn responses_usage(body: &[u8]) -> Option<Usage> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    usage_of_response(&v)
}

fn usage_of_response(v: &serde_json::Value) -> Option<Usage> {
    let u = v.get("usage")?;
    let n = |p: &str| {
        u.pointer(p)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    Some(Usage {
        input: n("/input_tokens"),
        output: n("/output_tokens"),
        cache_read: n("/input_tokens_details/cached_tokens"),
        cache_write: 0,
        reasoning: n("/output_tokens_details/reasoning_tokens"),
    })
}

/// Responses upstream → Responses client: bytes relayed unchanged behind a peek at the
/// event types (output started, `response.completed`, `response.failed`, `error`).
#[derive(Default)]
struct ResponsesPassthrough {
    parser: modelmux_wire::sse::SseParser,
    state: PipeState,
}

impl Pipe for ResponsesPassthrough {
    fn push(&mut self, bytes: &[u8], out: &mut BytesMut) {
        out.put_slice(bytes);
        self.parser.push(bytes);
        while let Some(item) = self.parser.next_item() {
            let modelmux_wire::sse::SseItem::Event(ev) = item else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&ev.data) else {
                self.state.error = Some(ProviderError::new(
                    ErrorKind::StreamBroken,
                    "the provider sent a malformed stream event",
                ));
                return;
            };
            self.state.events += 1;
            match v
                .get("type")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
            {
                "response.output_text.delta"
                | "response.function_call_arguments.delta"
                | "response.reasoning_summary_text.delta"
                | "response.output_item.added" => {
                    self.state.started = true;
                }
                "response.completed" | "response.incomplete" => {
                    self.state.usage = v.get("response").and_then(usage_of_response);
                    self.state.started = true;
                    self.state.complete = true;
                }
                "response.failed" | "error" => {
                    let message = v
                        .pointer("/response/error/message")
                        .or_else(|| v.get("message"))
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("the provider reported an error");
                    self.state.error = Some(ProviderError::new(
                        ErrorKind::UpstreamError,
                        message.to_owned(),
                    ));
                    self.state.error_forwarded = self.state.started;
                }
                _ => {}
            }
        }
    }

    fn end(&mut self, _out: &mut BytesMut) -> bool {
        self.state.complete
    }

    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        let mut enc = responses::ResponsesStreamEncoder::new("", "resp_failed");
        enc.fail(kind, message, out);
    }

    fn state(&self) -> &PipeState {
        &self.state
    }
}

fn decoder(from: WireFormat) -> Box<dyn StreamDecoder> {
    match from {
        WireFormat::Anthropic => Box::new(anthropic::AnthropicStreamDecoder::new()),
        WireFormat::Gemini => Box::new(gemini::GeminiStreamDecoder::new()),
        WireFormat::Bedrock => Box::new(bedrock::BedrockStreamDecoder::new()),
        WireFormat::OpenAiChat | WireFormat::OpenAiResponses => {
            Box::new(openai::OpenAiStreamDecoder::new())
        }
    }
}

fn encoder(to: WireFormat, model: &str, include_usage: bool) -> Box<dyn StreamEncoder> {
    match to {
        WireFormat::Anthropic => Box::new(anthropic::AnthropicStreamEncoder::new(model)),
        _ => Box::new(openai::OpenAiStreamEncoder::new(model, include_usage)),
    }
}

/// Anthropic upstream → Anthropic client: the provider's bytes go out exactly as they came
/// (thinking signatures, every event), while a peek learns what they carry.
#[derive(Default)]
struct AnthropicPassthrough {
    peek: anthropic::AnthropicPeek,
    state: PipeState,
}

impl Pipe for AnthropicPassthrough {
    fn push(&mut self, bytes: &[u8], out: &mut BytesMut) {
        out.put_slice(bytes);
        if let Err(e) = self.peek.push(bytes) {
            self.state.error = Some(ProviderError::new(ErrorKind::StreamBroken, e.message));
        }
        self.state.started |= self.peek.content_started();
        self.state.usage = self.peek.usage().or(self.state.usage);
        self.state.complete |= self.peek.finished();
        self.state.events += 1;
        if let Some(info) = self.peek.error()
            && self.state.error.is_none()
        {
            self.state.error = Some(ProviderError::new(info.kind, info.message));
            self.state.error_forwarded = self.state.started;
        }
    }

    fn end(&mut self, _out: &mut BytesMut) -> bool {
        self.state.complete
    }

    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        let mut enc = anthropic::AnthropicStreamEncoder::new("");
        enc.fail(kind, message, out);
    }

    fn state(&self) -> &PipeState {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(m: &str) -> String {
        serde_json::Value::from(m).to_string()
    }

    #[test]
    fn splice_replaces_only_the_named_values() {
        let raw = br#"{ "max_tokens" : 128000,
  "model":   "claude-route" , "system":[{"type":"text","text":"x","cache_control":{"type":"ephemeral"}}]}"#;
        let out = splice(
            raw,
            &[
                ("model", model("claude-sonnet-4-5")),
                ("max_tokens", "64000".into()),
            ],
        )
        .unwrap();
        let expected = String::from_utf8_lossy(raw)
            .replace("\"claude-route\"", "\"claude-sonnet-4-5\"")
            .replace("128000", "64000");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert_eq!(
            splice(raw, &[("model", model("claude-route"))]).unwrap(),
            raw.to_vec()
        );
        assert_eq!(
            splice(raw, &[("absent", "1".into())]).unwrap(),
            raw.to_vec()
        );
        assert!(splice(b"[1]", &[("model", model("m"))]).is_none());
        // An escaped model string is replaced whole.
        let out = splice(br#"{"model":"a\"b","x":1}"#, &[("model", model("m"))]).unwrap();
        assert_eq!(out, br#"{"model":"m","x":1}"#.to_vec());
    }
}

#[cfg(test)]
mod clamp_tests {
    use super::*;

    fn clamped(format: WireFormat, raw: &'static str) -> serde_json::Value {
        let raw = Bytes::from_static(raw.as_bytes());
        let req = match format {
            WireFormat::OpenAiResponses => responses::from_responses(&raw).unwrap(),
            _ => anthropic::from_anthropic(&raw).unwrap(),
        };
        let inbound = Inbound::from_canonical(format, raw, req, Vec::new());
        let opts = BodyOptions {
            default_max_tokens: 4096,
            legacy_max_tokens: false,
            max_output_tokens: Some(100),
        };
        let body = request_body(&inbound, format, "target-model", opts).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[test]
    fn a_responses_passthrough_is_clamped_in_max_output_tokens() {
        let v = clamped(
            WireFormat::OpenAiResponses,
            r#"{"model":"r","input":"hi","max_output_tokens":5000}"#,
        );
        assert_eq!(v["max_output_tokens"], 100, "{v}");
        assert_eq!(v["model"], "target-model");
        assert!(v.get("max_tokens").is_none(), "{v}");
    }

    #[test]
    fn a_messages_passthrough_is_clamped_in_max_tokens() {
        let v = clamped(
            WireFormat::Anthropic,
            r#"{"model":"r","max_tokens":5000,"messages":[{"role":"user","content":"hi"}]}"#,
        );
        assert_eq!(v["max_tokens"], 100, "{v}");
    }
}
