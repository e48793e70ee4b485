//! The gateway's one token estimate: what routing compares against context windows, what
//! budgets reserve and what `count_tokens` answers when the target has no counter of its own.
//! A canonical request passes through once (`estimate_input_tokens`); a Chat Completions body
//! on the passthrough path, which is never made canonical, counts the same things as it is
//! summarised and applies the same rule (`Counts::tokens`). The rule is documented so
//! clients can tell what they are looking at, and errs on the high side:
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

/// What the estimate counts in a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Characters of text: content, tool calls and results, tool definitions.
    pub chars: u64,
    pub messages: u64,
    pub tools: u64,
    pub images: u64,
    pub documents: u64,
}

impl Counts {
    /// The estimate (see the module notes for the rule).
    pub fn tokens(&self) -> u64 {
        let preamble = if self.tools > 0 { TOOL_PREAMBLE } else { 0 };
        self.chars.div_ceil(4)
            + PER_REQUEST
            + PER_MESSAGE * self.messages
            + preamble
            + PER_TOOL * self.tools
            + PER_IMAGE * self.images
            + PER_DOCUMENT * self.documents
    }
}

/// Estimated input tokens of `req` (see the module notes for the rule).
pub fn estimate_input_tokens(req: &ChatRequest) -> u64 {
    counts(req).tokens()
}

/// What the estimate counts in `req`.
pub fn counts(req: &ChatRequest) -> Counts {
    let mut c = Counts {
        messages: req.messages.len() as u64,
        tools: req.tools.len() as u64,
        ..Counts::default()
    };
    for m in &req.messages {
        for p in &m.content {
            count_part(p, &mut c);
        }
    }
    for t in &req.tools {
        c.chars += t.name.chars().count() as u64;
        c.chars += t
            .description
            .as_deref()
            .map_or(0, |d| d.chars().count() as u64);
        c.chars += t.parameters.to_string().chars().count() as u64;
    }
    c
}

fn count_part(p: &Part, c: &mut Counts) {
    let len = |s: &str| s.chars().count() as u64;
    match p {
        Part::Text { text, .. } | Part::Thinking { text, .. } => c.chars += len(text),
        Part::Image { .. } => c.images += 1,
        Part::Document { source, title, .. } => {
            c.chars += title.as_deref().map_or(0, len);
            match source {
                MediaSource::Text(t) => c.chars += len(t),
                MediaSource::Url(_) | MediaSource::Base64 { .. } => c.documents += 1,
            }
        }
        // Audio is counted by its encoded size.
        Part::Audio { data, .. } => c.chars += len(data) / 8,
        Part::ToolCall {
            name, arguments, ..
        } => c.chars += len(name) + len(arguments),
        Part::ToolResult { content, .. } => {
            for part in content {
                count_part(part, c);
            }
        }
        Part::RedactedThinking { data } => c.chars += len(data) / 4,
    }
}
