//! Canonical events → an OpenAI Chat Completions stream, for OpenAI clients answered by a
//! provider of another format. Every chunk shares one id (`chatcmpl-` + the upstream id, or
//! a generated one) and one `created`; each event is framed at once with `sse::put_data`
//! (`data: ` with a space, blank-line terminated: pitfalls 6 and 29). The role chunk goes
//! first (at `Start`, or before the first content if no `Start` came). Tool calls are
//! numbered 0, 1, ... in start order, id and name sent exactly once each (pitfall 2); thinking
//! goes out as the non-standard `reasoning_content` delta. The finish reason is sent once
//! (pitfall 26), `stop` becoming `tool_calls` when tools were called. With `include_usage`
//! every chunk carries `"usage": null` and `finish` adds exactly one `choices: []` chunk with
//! the last usage seen, never a sum (pitfalls 23, 24), then `data: [DONE]`. `fail` ends with
//! `data: {"error":{...}}` and no `[DONE]` (pitfall 27).

use bytes::BytesMut;
use serde_json::{Value, json};

use super::error::ErrorBody;
use super::error_map::{error_code, error_type};
use super::translate_response::{completion_id, finish_out, usage_out};
use crate::canonical::{FinishReason, StreamEvent, Usage};
use crate::codec::{ErrorKind, StreamEncoder};
use crate::sse::{DONE, put_data};

/// Encodes canonical events as a Chat Completions stream.
#[derive(Debug)]
pub struct OpenAiStreamEncoder {
    model: String,
    include_usage: bool,
    created: u64,
    id: Option<String>,
    role_sent: bool,
    finish_sent: bool,
    closed: bool,
    usage: Option<Usage>,
    /// Canonical tool-call indices in the order they started; the position is the OpenAI index.
    tools: Vec<u32>,
}

impl OpenAiStreamEncoder {
    pub fn new(model: &str, include_usage: bool) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            model: model.to_owned(),
            include_usage,
            created: now.as_secs(),
            id: None,
            role_sent: false,
            finish_sent: false,
            closed: false,
            usage: None,
            tools: Vec::new(),
        }
    }

    /// Fixes `created` (for reproducible output).
    pub fn with_created(mut self, created: u64) -> Self {
        self.created = created;
        self
    }

    fn id(&mut self) -> &str {
        let created = self.created;
        self.id.get_or_insert_with(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            format!("chatcmpl-mm{created:x}{nanos:08x}")
        })
    }

    /// Writes one chunk: `choices` is the JSON of the choices array.
    fn chunk(&mut self, choices: &str, usage: Option<&Value>, out: &mut BytesMut) {
        let id = serde_json::to_string(self.id()).unwrap_or_default();
        let model = serde_json::to_string(&self.model).unwrap_or_default();
        let mut s = format!(
            r#"{{"id":{id},"object":"chat.completion.chunk","created":{},"model":{model},"choices":{choices}"#,
            self.created
        );
        match usage {
            Some(u) => {
                s.push_str(r#","usage":"#);
                s.push_str(&u.to_string());
            }
            None if self.include_usage => s.push_str(r#","usage":null"#),
            None => {}
        }
        s.push('}');
        put_data(out, &s);
    }

    fn delta(&mut self, delta: Value, finish: Option<&str>, out: &mut BytesMut) {
        let choice = json!([{
            "index": 0,
            "delta": delta,
            "logprobs": null,
            "finish_reason": finish,
        }]);
        self.chunk(&choice.to_string(), None, out);
    }

    fn role(&mut self, out: &mut BytesMut) {
        if !self.role_sent {
            self.role_sent = true;
            self.delta(json!({"role": "assistant", "content": ""}), None, out);
        }
    }

    fn tool_index(&mut self, index: u32) -> Option<usize> {
        self.tools.iter().position(|&i| i == index)
    }

    fn error(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        self.closed = true;
        let body = ErrorBody::new(message, error_type(kind), None, error_code(kind));
        put_data(out, &body.to_json());
    }
}

impl StreamEncoder for OpenAiStreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut) {
        if self.closed {
            return;
        }
        match event {
            StreamEvent::Start { id, .. } => {
                if self.id.is_none() && !id.is_empty() {
                    self.id = Some(completion_id(id));
                }
                self.role(out);
            }
            StreamEvent::TextDelta { text } if !text.is_empty() => {
                self.role(out);
                self.delta(json!({"content": text}), None, out);
            }
            StreamEvent::ThinkingDelta { text } if !text.is_empty() => {
                self.role(out);
                self.delta(json!({"reasoning_content": text}), None, out);
            }
            StreamEvent::ToolCallStart {
                index, id, name, ..
            } => {
                if self.tool_index(*index).is_some() {
                    return;
                }
                self.role(out);
                let i = self.tools.len();
                self.tools.push(*index);
                let call = json!({"index": i, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}});
                self.delta(json!({"tool_calls": [call]}), None, out);
            }
            StreamEvent::ToolCallDelta { index, arguments } if !arguments.is_empty() => {
                let i = match self.tool_index(*index) {
                    Some(i) => i,
                    // Arguments for a call that never started: start it, so the client gets
                    // an id and the arguments rather than an orphan fragment.
                    None => {
                        let id =
                            format!("call_{}_{index}", self.id().trim_start_matches("chatcmpl-"));
                        let start = StreamEvent::ToolCallStart {
                            index: *index,
                            id,
                            name: String::new(),
                            signature: None,
                        };
                        self.encode(&start, out);
                        match self.tool_index(*index) {
                            Some(i) => i,
                            None => return,
                        }
                    }
                };
                let call = json!({"index": i, "function": {"arguments": arguments}});
                self.delta(json!({"tool_calls": [call]}), None, out);
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish { reason, .. } => {
                if !self.finish_sent {
                    self.role(out);
                    self.finish_sent = true;
                    let f = finish_out(Some(reason), !self.tools.is_empty());
                    self.delta(json!({}), Some(&f), out);
                }
            }
            StreamEvent::Error { kind, message } => self.error(*kind, message, out),
            StreamEvent::TextDelta { .. }
            | StreamEvent::ThinkingDelta { .. }
            | StreamEvent::ToolCallDelta { .. }
            | StreamEvent::ThinkingSignature { .. }
            | StreamEvent::RedactedThinking { .. } => {}
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.closed {
            return;
        }
        if !self.finish_sent {
            let event = StreamEvent::Finish {
                reason: FinishReason::Stop,
                stop_sequence: None,
            };
            self.encode(&event, out);
        }
        self.closed = true;
        if self.include_usage {
            let usage = usage_out(&self.usage.unwrap_or_default());
            self.chunk("[]", Some(&usage), out);
        }
        put_data(out, DONE);
    }

    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        if !self.closed {
            self.error(kind, message, out);
        }
    }
}
