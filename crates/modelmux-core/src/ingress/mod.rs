//! Ingress: a client's body, decoded once, whatever its format (Chat Completions, Messages,
//! and the Responses API in `responses`). `Inbound` keeps the raw bytes (for same-format
//! passthrough, where only `model` changes), the format-neutral `Summary` that routing and
//! limits need, the canonical request (built only when some candidate speaks another
//! format), and the client headers that may be forwarded to a provider of the same format.

use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use modelmux_wire::codec::TranslateError;
use modelmux_wire::openai::ChatBody;
use modelmux_wire::{ChatRequest, WireFormat};

use crate::error::GatewayError;

mod responses;

/// What routing needs to know about a request, whatever format it came in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub model: String,
    pub stream: bool,
    /// OpenAI clients: `stream_options.include_usage`.
    pub include_usage: bool,
    pub max_output_tokens: Option<u64>,
    pub estimated_input_tokens: u64,
    pub message_count: usize,
    /// Assistant messages in the conversation sent (what `episode::turn` counts).
    pub assistant_turns: usize,
    pub has_tools: bool,
    pub has_images: bool,
    pub tool_choice: Option<&'static str>,
    pub output_format: Option<&'static str>,
    pub reasoning: bool,
    pub last_user_text: String,
    pub metadata: Vec<(String, String)>,
}

/// A decoded client request.
#[derive(Debug)]
pub struct Inbound {
    pub format: WireFormat,
    pub raw: Bytes,
    pub summary: Summary,
    /// OpenAI Chat clients: the body as ordered raw fields.
    pub openai: Option<ChatBody>,
    canonical: OnceLock<Result<ChatRequest, TranslateError>>,
    /// Client headers forwarded to a provider that speaks the client's format.
    pub forward: Vec<(HeaderName, HeaderValue)>,
    /// Responses API clients: the id the answer gets, whether to store it, and the full input
    /// (earlier turns included) to store with it.
    pub responses: Option<ResponsesMeta>,
}

#[derive(Debug, Clone)]
pub struct ResponsesMeta {
    pub id: String,
    pub store: bool,
    pub input_items: Vec<serde_json::Value>,
    /// The `previous_response_id` the client continued from, echoed on the answer.
    pub previous: Option<String>,
    /// Who stores the answer (`responses_store::owner_of` the caller).
    pub owner: String,
}

impl Inbound {
    /// An OpenAI Chat Completions body.
    pub fn openai_chat(raw: Bytes) -> Result<Self, GatewayError> {
        let body = ChatBody::parse(&raw).map_err(decode_error)?;
        let s = body.summary().map_err(decode_error)?;
        let summary = Summary {
            estimated_input_tokens: s.estimated_input_tokens(),
            model: s.model,
            stream: s.stream,
            include_usage: s.include_usage,
            max_output_tokens: s.max_output_tokens,
            message_count: s.message_count,
            assistant_turns: s.assistant_count,
            has_tools: s.has_tools,
            has_images: s.has_images,
            tool_choice: s.tool_choice,
            output_format: s.output_format,
            reasoning: s.reasoning,
            last_user_text: s.last_user_text,
            metadata: s.metadata,
        };
        Ok(Self {
            format: WireFormat::OpenAiChat,
            raw,
            summary,
            openai: Some(body),
            canonical: OnceLock::new(),
            forward: Vec::new(),
            responses: None,
        })
    }

    /// A body already decoded into canonical form by the format's own decoder.
    pub fn from_canonical(
        format: WireFormat,
        raw: Bytes,
        req: ChatRequest,
        forward: Vec<(HeaderName, HeaderValue)>,
    ) -> Self {
        let summary = summarise(&req);
        let canonical = OnceLock::new();
        let _ = canonical.set(Ok(req));
        Self {
            format,
            raw,
            summary,
            openai: None,
            canonical,
            forward,
            responses: None,
        }
    }

    /// The id a Responses answer gets.
    pub fn response_id(&self) -> &str {
        self.responses
            .as_ref()
            .map_or("resp_modelmux", |r| r.id.as_str())
    }

    /// The canonical request, decoded on first use.
    pub fn canonical(&self) -> Result<&ChatRequest, GatewayError> {
        let result = self.canonical.get_or_init(|| match &self.openai {
            Some(body) => modelmux_wire::openai::from_openai(body),
            None => Err(TranslateError::new("no canonical form for this request")),
        });
        result.as_ref().map_err(|e| translate_error(e.clone()))
    }
}

/// Decodes a client body of `format` for `caller`, with the client headers that may be
/// forwarded. A Responses body resolves `previous_response_id` from the caller's stored
/// responses (`responses::decode`).
pub async fn decode(
    state: &crate::state::AppState,
    caller: &crate::auth::Caller,
    format: WireFormat,
    raw: Bytes,
    headers: &HeaderMap,
) -> Result<Inbound, GatewayError> {
    if format == WireFormat::OpenAiResponses {
        return responses::decode(&state.responses, &caller.tenant(), raw, headers).await;
    }
    decode_stateless(format, raw, headers)
}

/// Decodes a Chat Completions or Messages body (they need nothing stored).
pub fn decode_stateless(
    format: WireFormat,
    raw: Bytes,
    headers: &HeaderMap,
) -> Result<Inbound, GatewayError> {
    let forward = forwardable(headers, format);
    match format {
        WireFormat::Anthropic => {
            let req = modelmux_wire::anthropic::from_anthropic(&raw).map_err(translate_error)?;
            Ok(Inbound::from_canonical(format, raw, req, forward))
        }
        _ => {
            let mut inbound = Inbound::openai_chat(raw)?;
            inbound.forward = forward;
            Ok(inbound)
        }
    }
}

/// A client mistake found by a format's decoder, as the 400 it answers.
pub fn translate_error(e: TranslateError) -> GatewayError {
    GatewayError::InvalidRequest {
        message: e.message,
        param: e.param,
        code: None,
    }
}

fn decode_error(e: modelmux_wire::openai::DecodeError) -> GatewayError {
    GatewayError::InvalidRequest {
        message: e.message,
        param: e.param,
        code: e.code,
    }
}

/// The format-neutral summary of a canonical request.
pub fn summarise(req: &ChatRequest) -> Summary {
    use modelmux_wire::canonical::{Part, ResponseFormat, Role, ToolChoice};
    let has_images = req
        .messages
        .iter()
        .any(|m| m.content.iter().any(|p| matches!(p, Part::Image { .. })));
    let last_user_text = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.joined_text())
        .unwrap_or_default();
    Summary {
        tool_choice: req.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => "auto",
            ToolChoice::None => "none",
            ToolChoice::Required => "required",
            ToolChoice::Named(_) => "named",
        }),
        output_format: req.response_format.as_ref().map(|f| match f {
            ResponseFormat::Text => "text",
            ResponseFormat::JsonObject => "json_object",
            ResponseFormat::JsonSchema { .. } => "json_schema",
        }),
        reasoning: req
            .reasoning
            .as_ref()
            .is_some_and(|r| r.enabled != Some(false) && r.effort.as_deref() != Some("none")),
        last_user_text,
        metadata: req
            .metadata
            .as_ref()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
        model: req.model.clone(),
        stream: req.stream,
        include_usage: false,
        max_output_tokens: req.max_tokens,
        estimated_input_tokens: modelmux_wire::tokens::estimate_input_tokens(req),
        message_count: req.messages.len(),
        assistant_turns: req
            .messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .count(),
        has_tools: !req.tools.is_empty(),
        has_images,
    }
}

/// Client headers worth forwarding to a provider of the client's own format: protocol
/// headers (`anthropic-version`, `anthropic-beta`, OpenAI's session headers), never
/// credentials or hop-by-hop headers.
pub fn forwardable(headers: &HeaderMap, format: WireFormat) -> Vec<(HeaderName, HeaderValue)> {
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            match format {
                WireFormat::Anthropic => {
                    n.starts_with("anthropic-") || n == "x-app" || n.starts_with("x-claude-code")
                }
                WireFormat::OpenAiChat | WireFormat::OpenAiResponses => {
                    n.starts_with("openai-")
                        || n == "session-id"
                        || n == "thread-id"
                        || n == "originator"
                        || n.starts_with("x-codex-")
                        || n == "x-client-request-id"
                }
                WireFormat::Gemini | WireFormat::Bedrock => false,
            }
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}
