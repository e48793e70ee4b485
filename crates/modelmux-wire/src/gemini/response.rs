//! Gemini answers (`GenerateContentResponse`) read into the canonical `ChatResponse`. The
//! provider adapter hands the body of a `:generateContent` call to [`response_from_gemini`];
//! the same wire types and mappings (parts, finish reason, usage, synthesized call ids) are
//! used by the stream decoder for each `streamGenerateContent` chunk.
//!
//! Only the first candidate is read. Thought parts become `Part::Thinking` with their
//! `thoughtSignature`; `functionCall` parts become `Part::ToolCall` carrying the call id (or a
//! synthesized `call_<name>_<n>`, unique within the answer) and the signature to replay. A
//! `STOP` that ends an answer holding function calls is reported as `ToolCalls` (pitfall 26);
//! unknown reasons are kept raw. Usage follows §4: output = candidates + thoughts (pitfall 25).

use serde::Deserialize;
use serde_json::Value;

use crate::canonical::{ChatResponse, FinishReason, MediaSource, Part, Usage};
use crate::codec::TranslateError;

/// One `GenerateContentResponse`, a whole answer or one stream chunk. Every field is
/// optional and `null`-tolerant: upstreams omit whatever is empty.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateContentResponse {
    #[serde(default)]
    pub candidates: Option<Vec<Candidate>>,
    #[serde(default)]
    pub prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    pub model_version: Option<String>,
    #[serde(default)]
    pub response_id: Option<String>,
    /// An in-band error (stream chunks only).
    #[serde(default)]
    pub error: Option<ApiError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Candidate {
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Content {
    #[serde(default)]
    pub parts: Option<Vec<WirePart>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WirePart {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub thought: Option<bool>,
    #[serde(default)]
    pub thought_signature: Option<String>,
    #[serde(default)]
    pub function_call: Option<FunctionCall>,
    #[serde(default)]
    pub inline_data: Option<InlineData>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct FunctionCall {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub args: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InlineData {
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PromptFeedback {
    #[serde(default)]
    pub block_reason: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UsageMetadata {
    #[serde(default)]
    pub prompt_token_count: Option<u64>,
    #[serde(default)]
    pub candidates_token_count: Option<u64>,
    #[serde(default)]
    pub thoughts_token_count: Option<u64>,
    #[serde(default)]
    pub tool_use_prompt_token_count: Option<u64>,
    #[serde(default)]
    pub cached_content_token_count: Option<u64>,
}

/// `{"code","message","status","details"}`, the body of every Gemini error.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub code: Option<Value>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub details: Option<Vec<Value>>,
}

impl UsageMetadata {
    /// §4: input includes cached and tool-use prompt tokens; output includes thoughts.
    pub fn to_canonical(self) -> Usage {
        let thoughts = self.thoughts_token_count.unwrap_or(0);
        Usage {
            input: self
                .prompt_token_count
                .unwrap_or(0)
                .saturating_add(self.tool_use_prompt_token_count.unwrap_or(0)),
            output: self
                .candidates_token_count
                .unwrap_or(0)
                .saturating_add(thoughts),
            cache_read: self.cached_content_token_count.unwrap_or(0),
            cache_write: 0,
            reasoning: thoughts,
        }
    }
}

/// Maps a Gemini `finishReason`; `saw_calls` turns `STOP` into `ToolCalls` (pitfall 26).
pub(crate) fn finish_reason(raw: &str, saw_calls: bool) -> FinishReason {
    match raw {
        "STOP" if saw_calls => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "RECITATION"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "MODEL_ARMOR" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The id of a function call: Gemini's own when it sent one, else `call_<name>_<n>` with `n`
/// the call's position in the answer, so repeated names never collide (pitfalls 4, 15).
/// Characters outside `[A-Za-z0-9_-]` become `_` (Anthropic's id pattern).
pub(crate) fn call_id(given: Option<&str>, name: &str, n: usize) -> String {
    match given {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => {
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("call_{safe}_{n}")
        }
    }
}

/// A function call's arguments as compact JSON text (`{}` when absent).
pub(crate) fn arguments_json(args: Option<&Value>) -> String {
    match args {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// A stable id for an answer that came without `responseId`.
pub(crate) fn generated_id(seed: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    format!("gemini-{:016x}", h.finish())
}

/// Reads a `:generateContent` answer body.
pub fn response_from_gemini(body: &[u8]) -> Result<ChatResponse, TranslateError> {
    let resp: GenerateContentResponse = serde_json::from_slice(body)
        .map_err(|e| TranslateError::new(format!("unreadable Gemini answer: {e}")))?;
    if let Some(err) = &resp.error {
        return Err(TranslateError::new(format!(
            "Gemini answered with an error: {}",
            err.message.as_deref().unwrap_or("(no message)")
        )));
    }
    let mut content = Vec::new();
    let mut calls = 0usize;
    let mut finish = None;
    let candidate = resp.candidates.as_ref().and_then(|c| c.first());
    if let Some(cand) = candidate {
        for part in cand
            .content
            .as_ref()
            .and_then(|c| c.parts.as_deref())
            .unwrap_or_default()
        {
            if let Some(call) = &part.function_call {
                let name = call.name.clone().unwrap_or_default();
                content.push(Part::ToolCall {
                    id: call_id(call.id.as_deref(), &name, calls),
                    arguments: arguments_json(call.args.as_ref()),
                    name,
                    signature: part.thought_signature.clone(),
                });
                calls += 1;
            } else if let Some(text) = &part.text {
                if part.thought == Some(true) {
                    content.push(Part::Thinking {
                        text: text.clone(),
                        signature: part.thought_signature.clone(),
                    });
                } else if !text.is_empty() {
                    content.push(Part::text(text.clone()));
                }
            } else if let Some(InlineData {
                mime_type: Some(media_type),
                data: Some(data),
            }) = &part.inline_data
            {
                content.push(Part::Image {
                    source: MediaSource::Base64 {
                        media_type: media_type.clone(),
                        data: data.clone(),
                    },
                    detail: None,
                    cache_control: None,
                });
            }
        }
        finish = cand
            .finish_reason
            .as_deref()
            .map(|r| finish_reason(r, calls > 0));
    } else if resp
        .prompt_feedback
        .as_ref()
        .and_then(|f| f.block_reason.as_ref())
        .is_some()
    {
        finish = Some(FinishReason::ContentFilter);
    }
    Ok(ChatResponse {
        id: resp
            .response_id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| generated_id(body)),
        model: resp.model_version.unwrap_or_default(),
        content,
        finish,
        stop_sequence: None,
        usage: resp
            .usage_metadata
            .map(UsageMetadata::to_canonical)
            .unwrap_or_default(),
        created: 0,
    })
}
