//! An Anthropic provider's SSE stream → canonical stream events, and the peek used when those
//! bytes are relayed unchanged to a Messages client.
//!
//! Bytes go through `sse::SseParser`; each event's JSON is dispatched on its `type`
//! (wire-formats §5.2). `message_start` gives `Start` (with the input-side usage);
//! `content_block_start` opens a block: text and thinking blocks stream their deltas, a
//! `tool_use` block gives `ToolCallStart` with a tool index counting tool_use blocks 0, 1, ...
//! (Anthropic's block index is mapped to it), a `redacted_thinking` block gives
//! `RedactedThinking`, server-tool blocks are ignored. A no-argument tool sends no
//! `input_json_delta` and gives `ToolCallStart` alone (pitfall 5). `message_delta` gives
//! `Finish` and then `Usage`: its usage is cumulative, so the event carries the whole usage so
//! far (input side from `message_start` unless the delta restates it, output from the delta),
//! never an increment (pitfall 24). `message_stop` ends the stream: `finish` is `Ok` only after
//! it. `event: error` gives `StreamEvent::Error`. `ping` and unknown events are ignored; JSON
//! that cannot be read is a `TranslateError`.

use serde::Deserialize;
use serde_json::Value;

use super::error::{WireErrorObject, kind_from_type};
use super::mapping::{WireUsage, finish_from_anthropic};
use super::response::compact_input;
use crate::canonical::{StreamEvent, Usage};
use crate::codec::{ErrorInfo, ErrorKind, StreamDecoder, TranslateError};
use crate::sse::{SseItem, SseParser};

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireEvent {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u64,
        content_block: StartBlock,
    },
    ContentBlockDelta {
        index: u64,
        delta: WireDelta,
    },
    ContentBlockStop {
        #[allow(
            dead_code,
            reason = "read for completeness; blocks need no explicit close"
        )]
        index: u64,
    },
    MessageDelta {
        #[serde(default)]
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: WireErrorObject,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        #[serde(default)]
        data: String,
    },
    ToolUse {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        input: Option<Value>,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireDelta {
    TextDelta {
        #[serde(default)]
        text: String,
    },
    InputJsonDelta {
        #[serde(default)]
        partial_json: String,
    },
    ThinkingDelta {
        #[serde(default)]
        thinking: String,
    },
    SignatureDelta {
        #[serde(default)]
        signature: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    Tool(u32),
    Ignored,
}

/// Decodes an Anthropic Messages SSE stream.
#[derive(Debug, Default)]
pub struct AnthropicStreamDecoder {
    parser: SseParser,
    /// Anthropic block index → what the block is.
    blocks: Vec<(u64, Block)>,
    next_tool: u32,
    start_usage: WireUsage,
    stopped: bool,
    errored: bool,
}

impl AnthropicStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// `message_stop` was seen.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    fn block(&self, index: u64) -> Option<Block> {
        self.blocks
            .iter()
            .rev()
            .find(|(i, _)| *i == index)
            .map(|(_, b)| *b)
    }

    fn event(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        if data.trim().is_empty() || self.stopped {
            return Ok(());
        }
        let ev: WireEvent = serde_json::from_str(data)
            .map_err(|e| TranslateError::new(format!("unreadable Anthropic stream event: {e}")))?;
        match ev {
            WireEvent::MessageStart { message } => {
                let usage = message.usage.unwrap_or_default();
                self.start_usage = usage;
                out.push(StreamEvent::Start {
                    id: message.id,
                    model: message.model,
                    usage: message.usage.map(WireUsage::to_canonical),
                });
            }
            WireEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let block = match content_block {
                    StartBlock::Text { text } => {
                        if !text.is_empty() {
                            out.push(StreamEvent::TextDelta { text });
                        }
                        Block::Text
                    }
                    StartBlock::Thinking {
                        thinking,
                        signature,
                    } => {
                        if !thinking.is_empty() {
                            out.push(StreamEvent::ThinkingDelta { text: thinking });
                        }
                        if let Some(signature) = signature.filter(|s| !s.is_empty()) {
                            out.push(StreamEvent::ThinkingSignature { signature });
                        }
                        Block::Thinking
                    }
                    StartBlock::RedactedThinking { data } => {
                        out.push(StreamEvent::RedactedThinking { data });
                        Block::Ignored
                    }
                    StartBlock::ToolUse { id, name, input } => {
                        let tool = self.next_tool;
                        self.next_tool += 1;
                        out.push(StreamEvent::ToolCallStart {
                            index: tool,
                            id,
                            name,
                            signature: None,
                        });
                        // Some proxies put the whole input in the start block.
                        if let Some(input) =
                            input.filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                        {
                            out.push(StreamEvent::ToolCallDelta {
                                index: tool,
                                arguments: compact_input(Some(input)),
                            });
                        }
                        Block::Tool(tool)
                    }
                    StartBlock::Other => Block::Ignored,
                };
                self.blocks.push((index, block));
            }
            WireEvent::ContentBlockDelta { index, delta } => {
                let block = self.block(index).ok_or_else(|| {
                    TranslateError::new(format!(
                        "Anthropic stream sent a delta for block {index}, which was never started"
                    ))
                })?;
                match (block, delta) {
                    (Block::Text, WireDelta::TextDelta { text }) if !text.is_empty() => {
                        out.push(StreamEvent::TextDelta { text });
                    }
                    (Block::Thinking, WireDelta::ThinkingDelta { thinking })
                        if !thinking.is_empty() =>
                    {
                        out.push(StreamEvent::ThinkingDelta { text: thinking });
                    }
                    (Block::Thinking, WireDelta::SignatureDelta { signature }) => {
                        out.push(StreamEvent::ThinkingSignature { signature });
                    }
                    (Block::Tool(tool), WireDelta::InputJsonDelta { partial_json })
                        if !partial_json.is_empty() =>
                    {
                        out.push(StreamEvent::ToolCallDelta {
                            index: tool,
                            arguments: partial_json,
                        });
                    }
                    // Citations, deltas of ignored blocks, empty fragments.
                    _ => {}
                }
            }
            WireEvent::ContentBlockStop { .. } | WireEvent::Ping | WireEvent::Other => {}
            WireEvent::MessageDelta { delta, usage } => {
                if let Some(reason) = delta.stop_reason.as_deref() {
                    out.push(StreamEvent::Finish {
                        reason: finish_from_anthropic(reason),
                        stop_sequence: delta.stop_sequence,
                    });
                }
                if let Some(u) = usage {
                    let s = self.start_usage;
                    let whole = WireUsage {
                        input_tokens: u.input_tokens.or(s.input_tokens),
                        output_tokens: u.output_tokens.or(s.output_tokens),
                        cache_read_input_tokens: u
                            .cache_read_input_tokens
                            .or(s.cache_read_input_tokens),
                        cache_creation_input_tokens: u
                            .cache_creation_input_tokens
                            .or(s.cache_creation_input_tokens),
                    };
                    out.push(StreamEvent::Usage(whole.to_canonical()));
                }
            }
            WireEvent::MessageStop => self.stopped = true,
            WireEvent::Error { error } => {
                let message = error.message.unwrap_or_default();
                let kind = error
                    .kind
                    .as_deref()
                    .and_then(|t| kind_from_type(t, &message))
                    .unwrap_or(ErrorKind::UpstreamError);
                self.errored = true;
                out.push(StreamEvent::Error { kind, message });
            }
        }
        Ok(())
    }
}

impl StreamDecoder for AnthropicStreamDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        self.parser.push(bytes);
        while let Some(item) = self.parser.next_item() {
            if let SseItem::Event(ev) = item {
                self.event(&ev.data, out)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        if self.stopped {
            return Ok(());
        }
        if self.errored {
            return Err(TranslateError::new(
                "Anthropic stream ended with an error event",
            ));
        }
        if self.parser.has_partial() {
            return Err(TranslateError::new(
                "Anthropic stream ended in the middle of an event",
            ));
        }
        Err(TranslateError::new(
            "Anthropic stream ended before message_stop",
        ))
    }
}

/// What a relayed (unchanged) Anthropic stream carries, for the gateway's bookkeeping: whether
/// content started (the commit point), the usage so far, whether `message_stop` was seen, and
/// an in-stream error.
#[derive(Debug, Default)]
pub struct AnthropicPeek {
    decoder: AnthropicStreamDecoder,
    scratch: Vec<StreamEvent>,
    content_started: bool,
    usage: Option<Usage>,
    error: Option<ErrorInfo>,
}

impl AnthropicPeek {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the next bytes of the stream (the same bytes that are forwarded).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), TranslateError> {
        self.decoder.push(bytes, &mut self.scratch)?;
        for ev in self.scratch.drain(..) {
            if ev.is_content() {
                self.content_started = true;
            }
            match ev {
                StreamEvent::Start { usage: Some(u), .. } | StreamEvent::Usage(u) => {
                    self.usage = Some(u);
                }
                StreamEvent::Error { kind, message } => {
                    self.error = Some(ErrorInfo {
                        kind,
                        message,
                        retry_after: None,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn content_started(&self) -> bool {
        self.content_started
    }

    /// The latest usage (from `message_start`, then each `message_delta`).
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// `message_stop` was seen.
    pub fn finished(&self) -> bool {
        self.decoder.stopped()
    }

    /// The `event: error` the stream carried, if any.
    pub fn error(&self) -> Option<ErrorInfo> {
        self.error.clone()
    }
}
