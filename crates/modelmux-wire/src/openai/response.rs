//! Peeks into Chat Completions answers and stream chunks. The gateway relays OpenAI-format
//! answers unchanged, so it never rebuilds them; it only needs a few facts from each: usage
//! (for cost), the finish reason, whether a chunk carries content (the commit point of a
//! stream), and in-band errors. These views deserialize just those fields and skip the rest.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::canonical::{FinishReason, Usage};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OpenAiUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    pub completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

impl OpenAiUsage {
    pub fn to_canonical(&self) -> Usage {
        let p = self.prompt_tokens_details.as_ref();
        Usage {
            input: self.prompt_tokens,
            output: self.completion_tokens,
            cache_read: p.and_then(|d| d.cached_tokens).unwrap_or(0),
            cache_write: p.and_then(|d| d.cache_write_tokens).unwrap_or(0),
            reasoning: self
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

/// Only the usage of a non-streaming answer: every other field is skipped unread (the
/// same-format path relays the answer's bytes as they are and needs nothing else).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UsagePeek {
    #[serde(default)]
    pub usage: Option<OpenAiUsage>,
}

impl UsagePeek {
    /// `None` when `body` is not a JSON object.
    pub fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }
}

/// What the gateway reads from a non-streaming answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponsePeek {
    #[serde(default)]
    pub usage: Option<OpenAiUsage>,
    #[serde(default)]
    choices: Vec<ChoicePeek>,
}

impl ResponsePeek {
    pub fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }

    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.choices
            .iter()
            .find_map(|c| c.finish_reason.as_deref())
            .map(FinishReason::from_openai)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ChoicePeek {
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    delta: Option<DeltaPeek>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct DeltaPeek {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    function_call: Option<Box<RawValue>>,
}

/// What the gateway reads from one stream chunk.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChunkPeek {
    #[serde(default)]
    pub usage: Option<OpenAiUsage>,
    #[serde(default)]
    choices: Vec<ChoicePeek>,
    #[serde(default)]
    pub error: Option<Box<RawValue>>,
}

impl ChunkPeek {
    /// Parses a chunk's `data`; `None` means it is not a JSON object (a malformed chunk).
    pub fn parse(data: &str) -> Option<Self> {
        serde_json::from_str(data).ok()
    }

    /// True when the chunk carries something a client would show or act on: text, a refusal,
    /// reasoning, a tool call, or the finish. A role-only first chunk is not content.
    pub fn has_content(&self) -> bool {
        self.choices.iter().any(|c| {
            c.finish_reason.is_some()
                || c.delta.as_ref().is_some_and(|d| {
                    d.content.as_deref().is_some_and(|s| !s.is_empty())
                        || d.refusal.as_deref().is_some_and(|s| !s.is_empty())
                        || d.reasoning_content
                            .as_deref()
                            .is_some_and(|s| !s.is_empty())
                        || d.tool_calls.as_ref().is_some_and(|t| !t.is_empty())
                        || d.function_call.is_some()
                })
        })
    }

    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.choices
            .iter()
            .find_map(|c| c.finish_reason.as_deref())
            .map(FinishReason::from_openai)
    }

    /// The final usage-only chunk of `include_usage` streams: no choices, usage set.
    pub fn is_usage_only(&self) -> bool {
        self.choices.is_empty() && self.usage.is_some()
    }

    /// Output produced in this chunk, in characters: for a running output estimate when a
    /// stream is cut before its usage arrives.
    pub fn content_chars(&self) -> usize {
        self.choices
            .iter()
            .filter_map(|c| c.delta.as_ref())
            .map(|d| {
                d.content.as_deref().map_or(0, str::len)
                    + d.reasoning_content.as_deref().map_or(0, str::len)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_maps_cache_and_reasoning() {
        let p = ResponsePeek::parse(
            br#"{"choices":[{"finish_reason":"length"}],"usage":{"prompt_tokens":100,"completion_tokens":50,"prompt_tokens_details":{"cached_tokens":40},"completion_tokens_details":{"reasoning_tokens":20}}}"#,
        )
        .unwrap();
        assert_eq!(
            p.usage.as_ref().unwrap().to_canonical(),
            Usage {
                input: 100,
                output: 50,
                cache_read: 40,
                cache_write: 0,
                reasoning: 20
            }
        );
        assert_eq!(p.finish_reason(), Some(FinishReason::Length));
    }

    #[test]
    fn chunk_content_detection() {
        let role = ChunkPeek::parse(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}],"usage":null}"#).unwrap();
        assert!(!role.has_content());
        let text =
            ChunkPeek::parse(r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#).unwrap();
        assert!(text.has_content());
        let tool = ChunkPeek::parse(
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c"}]}}]}"#,
        )
        .unwrap();
        assert!(tool.has_content());
        let azure_filter =
            ChunkPeek::parse(r#"{"id":"","choices":[],"prompt_filter_results":[]}"#).unwrap();
        assert!(!azure_filter.has_content() && !azure_filter.is_usage_only());
        let usage =
            ChunkPeek::parse(r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#)
                .unwrap();
        assert!(usage.is_usage_only());
        let err = ChunkPeek::parse(r#"{"error":{"message":"x"}}"#).unwrap();
        assert!(err.error.is_some());
        assert!(ChunkPeek::parse("{not json").is_none());
    }
}
