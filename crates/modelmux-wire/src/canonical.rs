//! Canonical values shared by every wire format: token usage and finish reasons. Each
//! provider's own shape is converted into these once, so cost accounting, records and
//! translation never need to know which vendor answered.

use serde::{Deserialize, Serialize};

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
