//! Canonical stream events → the SSE stream a Messages client needs (wire-formats §5.2; Claude
//! Code needs exactly `message_start` … `message_stop` with `input_json_delta`). Each event is
//! written as soon as it arrives, as `event:` + `data:` (`sse::put_event`).
//!
//! The sequence: `message_start` first (content empty, usage from `Start` or zeros; written
//! lazily if the first event is not `Start`); then blocks with indices 0, 1, 2, ..., each
//! `content_block_start` → deltas → `content_block_stop`, never two open at once: the open
//! block is closed before the next one starts (pitfall 3). Text deltas go to a text block,
//! thinking deltas to a thinking block (`thinking_delta`, then `signature_delta`; a signed block
//! is complete, so later thinking opens a new one), a redacted block is started and stopped at
//! once. `ToolCallStart` opens a `tool_use` block with `input: {}` and every `ToolCallDelta` is
//! forwarded as an `input_json_delta` the moment it arrives (pitfall 6); a tool with no
//! deltas gets none (pitfall 5). `Finish` and `Usage` are remembered; `finish` closes the open
//! block and writes `message_delta` (stop reason, stop sequence, the whole usage) and
//! `message_stop`. `fail` (or an `Error` event) writes `event: error` and nothing after it, no
//! `message_stop` (pitfall 27).
//!
//! Interleaved parallel calls (an OpenAI upstream may start call 1 before call 0's arguments
//! are complete, or send their fragments alternately): a call is switched to only when the
//! open call's arguments are empty or already complete JSON; until then the other call's
//! fragments are buffered, and its block is written, with everything buffered, as soon as the
//! open call is complete, or at the end. A fragment for a call whose block was already closed
//! cannot be written in this format and is dropped (no upstream is known to do this).

use bytes::BytesMut;
use serde_json::json;

use super::error::error_body;
use super::mapping::{message_id, stop_reason_to_anthropic, tool_id, usage_json};
use crate::canonical::{FinishReason, StreamEvent, Usage};
use crate::codec::{ErrorKind, StreamEncoder};
use crate::sse::put_event;

enum OpenKind {
    Text,
    Thinking { signed: bool },
    Tool { tool: u32, args: String },
}

struct Open {
    index: u64,
    kind: OpenKind,
}

struct PendingTool {
    tool: u32,
    id: String,
    name: String,
    args: String,
}

/// Encodes canonical events as an Anthropic Messages SSE stream.
pub struct AnthropicStreamEncoder {
    model: String,
    started: bool,
    done: bool,
    next_index: u64,
    open: Option<Open>,
    pending: Vec<PendingTool>,
    /// Tool indices whose block has been written (open or closed).
    written_tools: Vec<u32>,
    finish: Option<(FinishReason, Option<String>)>,
    start_usage: Option<Usage>,
    usage: Option<Usage>,
}

impl std::fmt::Debug for AnthropicStreamEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicStreamEncoder")
            .field("model", &self.model)
            .field("next_index", &self.next_index)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

fn json_str(s: &str) -> String {
    // Serialising a &str cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}

fn complete_json(args: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(args).is_ok()
}

impl AnthropicStreamEncoder {
    /// `model` is the model name the client sees in `message_start`.
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            started: false,
            done: false,
            next_index: 0,
            open: None,
            pending: Vec::new(),
            written_tools: Vec::new(),
            finish: None,
            start_usage: None,
            usage: None,
        }
    }

    fn message_start(&mut self, id: &str, usage: Option<&Usage>, out: &mut BytesMut) {
        self.started = true;
        let data = json!({
            "type": "message_start",
            "message": {
                "id": message_id(id),
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage_json(&usage.copied().unwrap_or_default()),
            },
        });
        put_event(out, "message_start", &data.to_string());
    }

    fn ensure_started(&mut self, out: &mut BytesMut) {
        if !self.started {
            self.message_start("msg_modelmux", None, out);
        }
    }

    fn close(&mut self, out: &mut BytesMut) {
        if let Some(open) = self.open.take() {
            put_event(
                out,
                "content_block_stop",
                &format!(r#"{{"type":"content_block_stop","index":{}}}"#, open.index),
            );
        }
    }

    fn start_block(&mut self, kind: OpenKind, block: serde_json::Value, out: &mut BytesMut) {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        let data = json!({ "type": "content_block_start", "index": index, "content_block": block });
        put_event(out, "content_block_start", &data.to_string());
        self.open = Some(Open { index, kind });
    }

    fn delta(&self, index: u64, delta: &str, out: &mut BytesMut) {
        put_event(
            out,
            "content_block_delta",
            &format!(r#"{{"type":"content_block_delta","index":{index},"delta":{delta}}}"#),
        );
    }

    fn open_tool(&mut self, tool: u32, id: &str, name: &str, out: &mut BytesMut) {
        let id = if id.is_empty() {
            format!("toolu_{tool}")
        } else {
            tool_id(id).into_owned()
        };
        self.written_tools.push(tool);
        self.start_block(
            OpenKind::Tool {
                tool,
                args: String::new(),
            },
            json!({ "type": "tool_use", "id": id, "name": name, "input": {} }),
            out,
        );
    }

    /// Appends a fragment to the open tool block.
    fn tool_delta(&mut self, fragment: &str, out: &mut BytesMut) {
        if let Some(Open {
            index,
            kind: OpenKind::Tool { args, .. },
        }) = &mut self.open
        {
            args.push_str(fragment);
            let index = *index;
            self.delta(
                index,
                &format!(
                    r#"{{"type":"input_json_delta","partial_json":{}}}"#,
                    json_str(fragment)
                ),
                out,
            );
        }
    }

    /// The open block is a tool call whose arguments may still be arriving.
    fn open_tool_incomplete(&self, empty_counts_as_complete: bool) -> bool {
        match &self.open {
            Some(Open {
                kind: OpenKind::Tool { args, .. },
                ..
            }) => {
                if args.is_empty() {
                    !empty_counts_as_complete
                } else {
                    !complete_json(args)
                }
            }
            _ => false,
        }
    }

    fn open_pending(&mut self, i: usize, out: &mut BytesMut) {
        let p = self.pending.remove(i);
        self.open_tool(p.tool, &p.id, &p.name, out);
        if !p.args.is_empty() {
            self.tool_delta(&p.args, out);
        }
    }

    fn on_tool_start(&mut self, tool: u32, id: &str, name: &str, out: &mut BytesMut) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.tool == tool) {
            // Its fragments came first.
            p.id = id.to_owned();
            p.name = name.to_owned();
            return;
        }
        if self.written_tools.contains(&tool) {
            return;
        }
        if self.open_tool_incomplete(false) {
            self.pending.push(PendingTool {
                tool,
                id: id.to_owned(),
                name: name.to_owned(),
                args: String::new(),
            });
        } else {
            self.open_tool(tool, id, name, out);
        }
    }

    fn on_tool_delta(&mut self, tool: u32, fragment: &str, out: &mut BytesMut) {
        if fragment.is_empty() {
            return;
        }
        if let Some(Open {
            kind: OpenKind::Tool { tool: open, .. },
            ..
        }) = &self.open
            && *open == tool
        {
            self.tool_delta(fragment, out);
            return;
        }
        if let Some(i) = self.pending.iter().position(|p| p.tool == tool) {
            if self.open_tool_incomplete(true) {
                self.pending[i].args.push_str(fragment);
            } else {
                self.open_pending(i, out);
                self.tool_delta(fragment, out);
            }
            return;
        }
        if !self.written_tools.contains(&tool) {
            // A fragment before its ToolCallStart: hold it until the start (or the end).
            self.pending.push(PendingTool {
                tool,
                id: String::new(),
                name: String::new(),
                args: fragment.to_owned(),
            });
        }
    }

    fn open_thinking_if_needed(&mut self, out: &mut BytesMut) {
        if !matches!(
            self.open,
            Some(Open {
                kind: OpenKind::Thinking { signed: false },
                ..
            })
        ) {
            self.start_block(
                OpenKind::Thinking { signed: false },
                json!({ "type": "thinking", "thinking": "", "signature": "" }),
                out,
            );
        }
    }
}

impl StreamEncoder for AnthropicStreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, usage, .. } => {
                self.start_usage = *usage;
                if !self.started {
                    self.message_start(id, usage.as_ref(), out);
                }
            }
            StreamEvent::TextDelta { text } => {
                if text.is_empty() {
                    return;
                }
                self.ensure_started(out);
                if !matches!(
                    self.open,
                    Some(Open {
                        kind: OpenKind::Text,
                        ..
                    })
                ) {
                    self.start_block(OpenKind::Text, json!({ "type": "text", "text": "" }), out);
                }
                if let Some(open) = &self.open {
                    self.delta(
                        open.index,
                        &format!(r#"{{"type":"text_delta","text":{}}}"#, json_str(text)),
                        out,
                    );
                }
            }
            StreamEvent::ThinkingDelta { text } => {
                if text.is_empty() {
                    return;
                }
                self.ensure_started(out);
                self.open_thinking_if_needed(out);
                if let Some(open) = &self.open {
                    self.delta(
                        open.index,
                        &format!(
                            r#"{{"type":"thinking_delta","thinking":{}}}"#,
                            json_str(text)
                        ),
                        out,
                    );
                }
            }
            StreamEvent::ThinkingSignature { signature } => {
                self.ensure_started(out);
                self.open_thinking_if_needed(out);
                if let Some(open) = &mut self.open {
                    open.kind = OpenKind::Thinking { signed: true };
                    let index = open.index;
                    self.delta(
                        index,
                        &format!(
                            r#"{{"type":"signature_delta","signature":{}}}"#,
                            json_str(signature)
                        ),
                        out,
                    );
                }
            }
            StreamEvent::RedactedThinking { data } => {
                self.ensure_started(out);
                self.start_block(
                    OpenKind::Text,
                    json!({ "type": "redacted_thinking", "data": data }),
                    out,
                );
                self.close(out);
            }
            StreamEvent::ToolCallStart {
                index, id, name, ..
            } => {
                self.ensure_started(out);
                self.on_tool_start(*index, id, name, out);
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                self.ensure_started(out);
                self.on_tool_delta(*index, arguments, out);
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish {
                reason,
                stop_sequence,
            } => self.finish = Some((reason.clone(), stop_sequence.clone())),
            StreamEvent::Error { kind, message } => self.fail(*kind, message, out),
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.done {
            return;
        }
        self.ensure_started(out);
        self.close(out);
        while !self.pending.is_empty() {
            self.open_pending(0, out);
            self.close(out);
        }
        let (reason, stop_sequence) = match &self.finish {
            Some((r, s)) => (Some(r), s.as_deref()),
            None => (None, None),
        };
        let stop_reason =
            stop_reason_to_anthropic(reason, stop_sequence, !self.written_tools.is_empty());
        let stop_sequence = stop_sequence.filter(|_| stop_reason == "stop_sequence");
        let usage = self.usage.or(self.start_usage).unwrap_or_default();
        let data = json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason, "stop_sequence": stop_sequence },
            "usage": usage_json(&usage),
        });
        put_event(out, "message_delta", &data.to_string());
        put_event(out, "message_stop", r#"{"type":"message_stop"}"#);
        self.done = true;
    }

    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        if self.done {
            return;
        }
        self.done = true;
        put_event(out, "error", &error_body(kind, message));
    }
}
