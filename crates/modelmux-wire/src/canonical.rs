//! The canonical model: one shape for a chat request, its answer and its stream, that every
//! wire format translates into and out of. A request in any client format is decoded into a
//! `ChatRequest`; an adapter encodes that for its provider; the provider's answer comes back
//! as a `ChatResponse` or a sequence of `StreamEvent`s, which the client's encoder turns into
//! the client's format. System and developer messages stay in place in `messages` (their
//! position matters to some providers); tool results are `Role::Tool` messages holding
//! `Part::ToolResult`s, grouped or not as the source had them. Fields with no canonical place
//! are kept raw in `extra`, tagged with the format they came from, so they survive when the
//! target speaks that same format and are dropped (never forwarded blindly) otherwise.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// The wire formats the gateway speaks, on either side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireFormat {
    /// OpenAI Chat Completions (also Azure OpenAI and every OpenAI-compatible server).
    #[serde(rename = "openai_chat")]
    OpenAiChat,
    /// OpenAI Responses API.
    #[serde(rename = "openai_responses")]
    OpenAiResponses,
    /// Anthropic Messages.
    Anthropic,
    /// Gemini generateContent (AI Studio and Vertex AI).
    Gemini,
    /// AWS Bedrock Converse.
    Bedrock,
}

impl WireFormat {
    /// The format's one name, wherever a name is shown or stored: records, the rule variable
    /// `format`, explain, logs (`openai_chat`, `openai_responses`, `anthropic`, `gemini`,
    /// `bedrock`; the same as its serde form).
    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAiChat => "openai_chat",
            Self::OpenAiResponses => "openai_responses",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Bedrock => "bedrock",
        }
    }
}

/// A chat request in canonical form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)` forbids parallel tool calls.
    pub parallel_tool_calls: Option<bool>,
    pub response_format: Option<ResponseFormat>,
    pub reasoning: Option<Reasoning>,
    /// The output token limit (`max_completion_tokens`, `max_tokens`, `maxOutputTokens`, ...).
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    /// Number of choices; only OpenAI-format targets honour more than one.
    pub n: Option<u32>,
    pub stream: bool,
    /// The end user, for abuse tracking (`user`, `metadata.user_id`, `safety_identifier`).
    pub user: Option<String>,
    /// Free metadata the client attached (OpenAI `metadata`; Anthropic `metadata` other than user_id).
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// Fields of the source format with no canonical place, in their original order.
    pub extra: Extra,
}

/// Raw fields of one source format.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub format: Option<WireFormat>,
    pub fields: Vec<(String, Box<RawValue>)>,
}

impl PartialEq for Extra {
    fn eq(&self, other: &Self) -> bool {
        self.format == other.format
            && self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(&other.fields)
                .all(|((ka, va), (kb, vb))| ka == kb && va.get() == vb.get())
    }
}

impl Extra {
    /// The raw fields, if the target speaks the format they came from.
    pub fn for_format(&self, target: WireFormat) -> &[(String, Box<RawValue>)] {
        if self.format == Some(target) {
            &self.fields
        } else {
            &[]
        }
    }

    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| &**v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Part>,
    /// OpenAI's optional participant name.
    pub name: Option<String>,
}

impl Message {
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: vec![Part::text(text)],
            name: None,
        }
    }

    /// All text parts joined (for system instructions and estimates).
    pub fn joined_text(&self) -> String {
        let mut out = String::new();
        for p in &self.content {
            if let Part::Text { text, .. } = p {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(text);
            }
        }
        out
    }
}

/// One piece of message content.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text {
        text: String,
        /// Anthropic prompt-cache marker, kept raw (`{"type":"ephemeral"}`).
        cache_control: Option<Value>,
    },
    Image {
        source: MediaSource,
        /// OpenAI's `detail` (auto, low, high).
        detail: Option<String>,
        cache_control: Option<Value>,
    },
    /// A document (PDF, plain text) where the provider takes one.
    Document {
        source: MediaSource,
        title: Option<String>,
        cache_control: Option<Value>,
    },
    Audio {
        /// `wav`, `mp3`, ...
        format: String,
        /// Base64.
        data: String,
    },
    /// A call the assistant made.
    ToolCall {
        id: String,
        name: String,
        /// The arguments as JSON text (OpenAI's form). May be empty for no-argument tools.
        arguments: String,
        /// Gemini's `thoughtSignature` on a functionCall part, which must be replayed.
        signature: Option<String>,
    },
    /// The result of a call, in a `Role::Tool` message.
    ToolResult {
        call_id: String,
        /// The tool's name when the source knew it (Gemini needs it on functionResponse).
        name: Option<String>,
        /// Text and image parts.
        content: Vec<Part>,
        is_error: bool,
        cache_control: Option<Value>,
    },
    /// Visible reasoning, with the signature that lets it be replayed.
    Thinking {
        text: String,
        signature: Option<String>,
    },
    /// Encrypted reasoning the client cannot read but must send back.
    RedactedThinking { data: String },
}

impl Part {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            cache_control: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MediaSource {
    /// An http(s) URL, or a provider file URI (`gs://...`).
    Url(String),
    Base64 {
        media_type: String,
        data: String,
    },
    /// Plain text (Anthropic text documents).
    Text(String),
}

impl MediaSource {
    /// Parses a `data:<media type>;base64,<data>` URI.
    pub fn from_data_uri(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("data:")?;
        let (meta, data) = rest.split_once(',')?;
        let media_type = meta.strip_suffix(";base64")?;
        Some(Self::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        })
    }

    /// The URL form: a data URI for base64 content.
    pub fn to_url(&self) -> String {
        match self {
            Self::Url(u) => u.clone(),
            Self::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
            Self::Text(t) => format!("data:text/plain,{t}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments, as the client wrote it.
    pub parameters: Value,
    pub strict: Option<bool>,
    pub cache_control: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Named(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        description: Option<String>,
        schema: Value,
        strict: Option<bool>,
    },
}

/// Reasoning settings, in whichever form the client gave them; adapters map them to the
/// target's knob (`reasoning_effort`, `thinking`, `thinkingConfig`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reasoning {
    /// `none`, `minimal`, `low`, `medium`, `high`, `xhigh`, `max`.
    pub effort: Option<String>,
    /// An explicit thinking budget in tokens.
    pub budget_tokens: Option<u64>,
    /// `Some(false)` turns reasoning off; `Some(true)` with neither effort nor budget means
    /// "adaptive" (the model decides).
    pub enabled: Option<bool>,
    /// Whether thoughts should be returned, summarised or omitted (`display`, `summary`,
    /// `includeThoughts`).
    pub display: Option<String>,
}

/// A complete (non-streaming) answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatResponse {
    pub id: String,
    pub model: String,
    /// Text, tool calls and thinking, in the order the model produced them.
    pub content: Vec<Part>,
    pub finish: Option<FinishReason>,
    /// The stop sequence that ended the answer, when one did.
    pub stop_sequence: Option<String>,
    pub usage: Usage,
    /// Unix seconds.
    pub created: u64,
}

/// One event of an answer being streamed, in canonical form. Decoders of each provider
/// format produce these; encoders of each client format consume them. Tool calls are
/// numbered by `index` in the order they start (0, 1, ...); their arguments arrive as JSON
/// fragments that concatenate to the whole arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The answer begins. `usage` carries what is known up front (Anthropic's input tokens).
    Start {
        id: String,
        model: String,
        usage: Option<Usage>,
    },
    TextDelta {
        text: String,
    },
    ThinkingDelta {
        text: String,
    },
    /// The signature closing the current thinking block.
    ThinkingSignature {
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
    ToolCallStart {
        index: u32,
        id: String,
        name: String,
        signature: Option<String>,
    },
    ToolCallDelta {
        index: u32,
        arguments: String,
    },
    /// Usage so far; a later event replaces an earlier one (never add them up).
    Usage(Usage),
    Finish {
        reason: FinishReason,
        stop_sequence: Option<String>,
    },
    /// The provider reported an error inside the stream.
    Error {
        kind: crate::codec::ErrorKind,
        message: String,
    },
}

impl StreamEvent {
    /// True for events a client would see as the answer having started (the commit point).
    pub fn is_content(&self) -> bool {
        match self {
            Self::TextDelta { text } | Self::ThinkingDelta { text } => !text.is_empty(),
            Self::ToolCallStart { .. } | Self::RedactedThinking { .. } | Self::Finish { .. } => {
                true
            }
            Self::ToolCallDelta { arguments, .. } => !arguments.is_empty(),
            Self::ThinkingSignature { .. } => true,
            Self::Start { .. } | Self::Usage(_) | Self::Error { .. } => false,
        }
    }
}

/// Token usage of one answer, in the gateway's own terms.
///
/// `input` counts every prompt token, cached ones included (OpenAI's `prompt_tokens`; for
/// Anthropic the sum of `input_tokens`, cache reads and cache writes). `output` includes
/// reasoning tokens; `reasoning` says how many of them were reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input + self.output
    }
}

/// Why the model stopped, normalised across providers. Unknown vendor reasons are kept raw
/// rather than collapsed into a misleading bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Other(String),
}

impl FinishReason {
    /// Reads an OpenAI `finish_reason` value.
    pub fn from_openai(s: &str) -> Self {
        match s {
            "stop" => Self::Stop,
            "length" => Self::Length,
            "tool_calls" | "function_call" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_openai(&self) -> &str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::Other(s) => s,
        }
    }
}

#[cfg(test)]
mod format_name_tests {
    use super::WireFormat;

    #[test]
    fn name_is_the_serde_form() {
        for f in [
            WireFormat::OpenAiChat,
            WireFormat::OpenAiResponses,
            WireFormat::Anthropic,
            WireFormat::Gemini,
            WireFormat::Bedrock,
        ] {
            let serde = serde_json::to_value(f).unwrap();
            assert_eq!(serde.as_str(), Some(f.name()));
        }
    }
}
