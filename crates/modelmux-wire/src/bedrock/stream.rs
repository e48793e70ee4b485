//! ConverseStream bytes → canonical stream events. Frames are cut off a buffer as they
//! complete (bytes may split anywhere), then each event payload is read by its
//! `:event-type`: `messageStart` → `Start`; `contentBlockStart` with a `toolUse` →
//! `ToolCallStart` (tool calls numbered 0, 1, ... in the order they start, mapped from
//! `contentBlockIndex`); `contentBlockDelta` → text, tool-argument, thinking, signature or
//! redacted-thinking deltas (text blocks often have no start event); `contentBlockStop` is
//! ignored; `messageStop` → `Finish`; `metadata` → `Usage`, cache counts included.
//!
//! Order: `Finish` is held back until the `metadata` frame that follows `messageStop` so
//! that encoders see `Usage` before `Finish`, as Anthropic and OpenAI streams put them; if
//! no metadata comes, `finish()` releases it. An `exception` frame (which Bedrock sends inside
//! a 200) becomes a terminal `StreamEvent::Error` (pitfall 27); later frames are ignored and
//! `finish()` is then `Ok`, the error having been reported in-band. Otherwise `finish()` is
//! `Ok` only after `messageStop` and with no partial frame left. Unknown event types and
//! unknown payload keys (the random padding field `p`) are ignored.

use bytes::BytesMut;
use serde::Deserialize;
use serde_json::Value;

use super::error::kind_for;
use super::frames::{Frame, take_frame};
use super::response::{BedrockUsage, finish_reason, new_id, stop_sequence};
use crate::canonical::StreamEvent;
use crate::codec::{ErrorKind, StreamDecoder, TranslateError};

/// Decodes one ConverseStream response body.
#[derive(Debug, Default)]
pub struct BedrockStreamDecoder {
    buf: BytesMut,
    started: bool,
    /// `(contentBlockIndex, tool index)` of every tool block seen.
    tools: Vec<(u64, u32)>,
    stopped: bool,
    pending_finish: Option<StreamEvent>,
    failed: bool,
}

impl BedrockStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn handle(&mut self, frame: Frame, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        if self.failed {
            return Ok(());
        }
        match frame.message_type.as_str() {
            "event" => self.event(&frame, out),
            "exception" => {
                let message = exception_message(&frame.payload);
                let kind = kind_for(&frame.exception_type, None, &message);
                self.fail(kind, message, out);
                Ok(())
            }
            "error" => {
                let message = if frame.error_message.is_empty() {
                    format!("Bedrock stream error {}", frame.error_code)
                } else {
                    frame.error_message.clone()
                };
                let kind = kind_for(&frame.error_code, None, &message);
                self.fail(kind, message, out);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: String, out: &mut Vec<StreamEvent>) {
        self.pending_finish = None;
        self.failed = true;
        out.push(StreamEvent::Error { kind, message });
    }

    fn event(&mut self, frame: &Frame, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        let event = frame.event_type.as_str();
        if event == "metadata" {
            let meta: Metadata = parse(event, &frame.payload)?;
            if let Some(usage) = meta.usage {
                out.push(StreamEvent::Usage(usage.canonical()));
            }
            if let Some(finish) = self.pending_finish.take() {
                out.push(finish);
            }
            return Ok(());
        }
        if !matches!(
            event,
            "messageStart" | "contentBlockStart" | "contentBlockDelta" | "messageStop"
        ) {
            return Ok(());
        }
        if let Some(finish) = self.pending_finish.take() {
            out.push(finish);
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: new_id(),
                model: String::new(),
                usage: None,
            });
        }
        match event {
            "contentBlockStart" => {
                let start: BlockStart = parse(event, &frame.payload)?;
                if let Some(tool) = start.start.and_then(|s| s.tool_use) {
                    let index = self.tool_index(start.content_block_index);
                    out.push(StreamEvent::ToolCallStart {
                        index,
                        id: tool.tool_use_id,
                        name: tool.name,
                        signature: None,
                    });
                }
            }
            "contentBlockDelta" => {
                let delta: BlockDelta = parse(event, &frame.payload)?;
                self.delta(delta, out)?;
            }
            "messageStop" => {
                let stop: MessageStop = parse(event, &frame.payload)?;
                self.stopped = true;
                self.pending_finish = Some(StreamEvent::Finish {
                    reason: finish_reason(stop.stop_reason.as_deref().unwrap_or("end_turn")),
                    stop_sequence: stop_sequence(stop.additional_model_response_fields.as_ref()),
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn delta(&mut self, d: BlockDelta, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        let Some(delta) = d.delta else {
            return Ok(());
        };
        if let Some(text) = delta.text
            && !text.is_empty()
        {
            out.push(StreamEvent::TextDelta { text });
        }
        if let Some(tool) = delta.tool_use {
            let Some(index) = self.known_tool(d.content_block_index) else {
                return Err(TranslateError::new(format!(
                    "Bedrock stream: toolUse delta for content block {} that never started",
                    d.content_block_index
                )));
            };
            if !tool.input.is_empty() {
                out.push(StreamEvent::ToolCallDelta {
                    index,
                    arguments: tool.input,
                });
            }
        }
        if let Some(r) = delta.reasoning_content {
            if let Some(text) = r.text
                && !text.is_empty()
            {
                out.push(StreamEvent::ThinkingDelta { text });
            }
            if let Some(signature) = r.signature {
                out.push(StreamEvent::ThinkingSignature { signature });
            }
            if let Some(data) = r.redacted_content {
                out.push(StreamEvent::RedactedThinking { data });
            }
        }
        Ok(())
    }

    fn known_tool(&self, block: u64) -> Option<u32> {
        self.tools
            .iter()
            .find(|(b, _)| *b == block)
            .map(|(_, i)| *i)
    }

    fn tool_index(&mut self, block: u64) -> u32 {
        if let Some(i) = self.known_tool(block) {
            return i;
        }
        let index = u32::try_from(self.tools.len()).unwrap_or(u32::MAX);
        self.tools.push((block, index));
        index
    }
}

impl StreamDecoder for BedrockStreamDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        self.buf.extend_from_slice(bytes);
        while let Some(frame) = take_frame(&mut self.buf)? {
            self.handle(frame, out)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        if !self.buf.is_empty() {
            return Err(TranslateError::new(format!(
                "Bedrock stream truncated: {} bytes of an unfinished event-stream frame",
                self.buf.len()
            )));
        }
        if self.failed {
            return Ok(());
        }
        if !self.stopped {
            return Err(TranslateError::new(
                "Bedrock stream truncated: it ended before messageStop",
            ));
        }
        if let Some(finish) = self.pending_finish.take() {
            out.push(finish);
        }
        Ok(())
    }
}

fn parse<'a, T: Deserialize<'a>>(event: &str, payload: &'a [u8]) -> Result<T, TranslateError> {
    serde_json::from_slice(payload)
        .map_err(|e| TranslateError::new(format!("Bedrock stream: unreadable {event}: {e}")))
}

fn exception_message(payload: &[u8]) -> String {
    let v: Option<Value> = serde_json::from_slice(payload).ok();
    v.as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("Message")))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(payload).chars().take(500).collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStart {
    #[serde(default)]
    content_block_index: u64,
    start: Option<StartBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartBody {
    tool_use: Option<ToolUseStart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUseStart {
    #[serde(default)]
    tool_use_id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockDelta {
    #[serde(default)]
    content_block_index: u64,
    delta: Option<DeltaBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaBody {
    text: Option<String>,
    tool_use: Option<ToolUseDelta>,
    reasoning_content: Option<ReasoningDelta>,
}

#[derive(Deserialize)]
struct ToolUseDelta {
    #[serde(default)]
    input: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReasoningDelta {
    text: Option<String>,
    signature: Option<String>,
    redacted_content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageStop {
    stop_reason: Option<String>,
    additional_model_response_fields: Option<Value>,
}

#[derive(Deserialize)]
struct Metadata {
    usage: Option<BedrockUsage>,
}
