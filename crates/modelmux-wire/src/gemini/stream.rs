//! `streamGenerateContent?alt=sse` bytes → canonical stream events. The dispatcher feeds
//! the provider's bytes, split anywhere, to [`GeminiStreamDecoder::push`] and calls
//! `finish` when the connection closes; the events go to the client's encoder.
//!
//! Each SSE event (`data: <GenerateContentResponse>`, CRLF or LF, no `[DONE]`) carries only
//! new parts. The first chunk yields `Start` (id = `responseId`); text parts yield
//! `TextDelta`, thought parts `ThinkingDelta` (+ `ThinkingSignature` when signed);
//! `functionCall` parts arrive whole and yield `ToolCallStart` (indices 0, 1, 2 ... in
//! arrival order across chunks, never merged by name: pitfall 4) and one `ToolCallDelta`
//! with the whole arguments. `usageMetadata` is a running total: each new value yields a
//! `Usage` that replaces the last (pitfall 24), usage-only chunks included. The finish
//! reason is held back and emitted once, by `finish`, after the last usage and mapped with
//! knowledge of every call in the stream (`STOP` + calls → `ToolCalls`, pitfall 26). An
//! in-band `{"error":{...}}` chunk yields one `Error` event (pitfall 27) and ends decoding.
//! `finish` fails when no finish reason (or prompt block) was seen: the stream was cut.

use super::error::{kind_of, retry_delay};
use super::response::{
    GenerateContentResponse, UsageMetadata, arguments_json, call_id, finish_reason, generated_id,
};
use crate::canonical::{FinishReason, StreamEvent, Usage};
use crate::codec::{StreamDecoder, TranslateError};
use crate::sse::{SseItem, SseParser};

/// Decoder state for one Gemini stream.
#[derive(Debug, Default)]
pub struct GeminiStreamDecoder {
    parser: SseParser,
    started: bool,
    /// The index the next function call gets.
    next_index: u32,
    /// The latest `finishReason` seen.
    finish: Option<String>,
    /// `promptFeedback.blockReason` without candidates.
    blocked: bool,
    last_usage: Option<Usage>,
    /// An in-band error was reported; nothing after it is read.
    errored: bool,
    /// `Finish` was emitted.
    done: bool,
}

impl GeminiStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn drain(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        while let Some(item) = self.parser.next_item() {
            let SseItem::Event(event) = item else {
                continue;
            };
            if self.errored {
                continue;
            }
            let data = event.data.trim();
            // Gemini sends no `[DONE]`, but OpenAI-minded proxies in front of it may.
            if data.is_empty() || data == crate::sse::DONE {
                continue;
            }
            self.data(data, out)?;
        }
        Ok(())
    }

    fn data(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        let unreadable =
            |e: serde_json::Error| TranslateError::new(format!("unreadable Gemini chunk: {e}"));
        if data.starts_with('[') {
            let chunks: Vec<GenerateContentResponse> =
                serde_json::from_str(data).map_err(unreadable)?;
            for chunk in chunks {
                if !self.errored {
                    self.chunk(chunk, data, out);
                }
            }
        } else {
            let chunk: GenerateContentResponse = serde_json::from_str(data).map_err(unreadable)?;
            self.chunk(chunk, data, out);
        }
        Ok(())
    }

    fn chunk(&mut self, chunk: GenerateContentResponse, raw: &str, out: &mut Vec<StreamEvent>) {
        if let Some(err) = chunk.error {
            let kind = kind_of(0, &err, retry_delay(&err).is_some());
            out.push(StreamEvent::Error {
                kind,
                message: err
                    .message
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "Gemini reported an error in the stream".to_owned()),
            });
            self.errored = true;
            return;
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: chunk
                    .response_id
                    .clone()
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| generated_id(raw.as_bytes())),
                model: chunk.model_version.clone().unwrap_or_default(),
                usage: None,
            });
        }
        let candidate = chunk.candidates.unwrap_or_default().into_iter().next();
        if let Some(cand) = candidate {
            for part in cand.content.and_then(|c| c.parts).unwrap_or_default() {
                if let Some(call) = part.function_call {
                    let index = self.next_index;
                    self.next_index = self.next_index.saturating_add(1);
                    let name = call.name.unwrap_or_default();
                    out.push(StreamEvent::ToolCallStart {
                        index,
                        id: call_id(call.id.as_deref(), &name, index as usize),
                        name,
                        signature: part.thought_signature,
                    });
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: arguments_json(call.args.as_ref()),
                    });
                } else if let Some(text) = part.text {
                    if part.thought == Some(true) {
                        if !text.is_empty() {
                            out.push(StreamEvent::ThinkingDelta { text });
                        }
                        if let Some(signature) = part.thought_signature.filter(|s| !s.is_empty()) {
                            out.push(StreamEvent::ThinkingSignature { signature });
                        }
                    } else if !text.is_empty() {
                        out.push(StreamEvent::TextDelta { text });
                    }
                }
            }
            if let Some(reason) = cand.finish_reason.filter(|r| !r.is_empty()) {
                self.finish = Some(reason);
            }
        } else if chunk.prompt_feedback.and_then(|f| f.block_reason).is_some() {
            self.blocked = true;
        }
        if let Some(usage) = chunk.usage_metadata.map(UsageMetadata::to_canonical)
            && self.last_usage != Some(usage)
        {
            self.last_usage = Some(usage);
            out.push(StreamEvent::Usage(usage));
        }
    }
}

impl StreamDecoder for GeminiStreamDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        self.parser.push(bytes);
        self.drain(out)
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        if self.done {
            return Ok(());
        }
        // A last event without its blank line: complete it and read it.
        if self.parser.has_partial() {
            self.parser.push(b"\n\n");
            self.drain(out)?;
        }
        if self.errored {
            return Err(TranslateError::new("the Gemini stream ended with an error"));
        }
        let reason = match (&self.finish, self.blocked) {
            (Some(raw), _) => finish_reason(raw, self.next_index > 0),
            (None, true) => FinishReason::ContentFilter,
            (None, false) => {
                return Err(TranslateError::new(
                    "the Gemini stream ended without a finish reason (truncated)",
                ));
            }
        };
        self.done = true;
        out.push(StreamEvent::Finish {
            reason,
            stop_sequence: None,
        });
        Ok(())
    }
}
