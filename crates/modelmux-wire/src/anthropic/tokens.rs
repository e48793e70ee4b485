//! The token estimate behind `count_tokens` when the target has no counter of its own. A
//! canonical request passes through once; the estimate is documented so clients can tell what
//! they are looking at, and errs on the high side.
//!
//! - text (system, messages, thinking, tool-call names and arguments, tool results, tool names,
//!   descriptions and schemas as JSON): characters / 4, rounded up, over the whole request;
//! - 4 tokens of framing per message and 3 for the request;
//! - 20 tokens per tool definition, plus 300 once when there are tools (the tool-use system
//!   prompt Anthropic adds);
//! - 1,600 tokens per image (Anthropic's largest standard image);
//! - documents: text sources by characters; base64 and URL documents 1,500 tokens each (about
//!   one PDF page, which cannot be counted without decoding).

use crate::canonical::{ChatRequest, MediaSource, Part};

const PER_REQUEST: u64 = 3;
const PER_MESSAGE: u64 = 4;
const PER_TOOL: u64 = 20;
const TOOL_PREAMBLE: u64 = 300;
const PER_IMAGE: u64 = 1600;
const PER_DOCUMENT: u64 = 1500;

/// Estimated input tokens of `req` (see the module notes for the rule).
pub fn estimate_input_tokens(req: &ChatRequest) -> u64 {
    let mut chars: u64 = 0;
    let mut fixed = PER_REQUEST;
    for m in &req.messages {
        fixed += PER_MESSAGE;
        for p in &m.content {
            count_part(p, &mut chars, &mut fixed);
        }
    }
    if !req.tools.is_empty() {
        fixed += TOOL_PREAMBLE;
    }
    for t in &req.tools {
        fixed += PER_TOOL;
        chars += t.name.chars().count() as u64;
        chars += t
            .description
            .as_deref()
            .map_or(0, |d| d.chars().count() as u64);
        chars += t.parameters.to_string().chars().count() as u64;
    }
    chars.div_ceil(4) + fixed
}

fn count_part(p: &Part, chars: &mut u64, fixed: &mut u64) {
    let len = |s: &str| s.chars().count() as u64;
    match p {
        Part::Text { text, .. } | Part::Thinking { text, .. } => *chars += len(text),
        Part::Image { .. } => *fixed += PER_IMAGE,
        Part::Document { source, title, .. } => {
            *chars += title.as_deref().map_or(0, len);
            match source {
                MediaSource::Text(t) => *chars += len(t),
                MediaSource::Url(_) | MediaSource::Base64 { .. } => *fixed += PER_DOCUMENT,
            }
        }
        // Audio does not reach Anthropic targets; counted by its encoded size all the same.
        Part::Audio { data, .. } => *chars += len(data) / 8,
        Part::ToolCall {
            name, arguments, ..
        } => *chars += len(name) + len(arguments),
        Part::ToolResult { content, .. } => {
            for c in content {
                count_part(c, chars, fixed);
            }
        }
        Part::RedactedThinking { data } => *chars += len(data) / 4,
    }
}
