//! Canonical stream events → the Responses SSE event sequence, for Responses clients (Codex)
//! answered by a provider of another format. Every event is `event: <type>` + `data: <json>`
//! with `type` first and a `sequence_number` counting 0, 1, 2, ... over the whole stream; the
//! response id is the one the encoder was built with, and each item's id is fixed when the
//! item is added (`items_out::item_id`, the same ids the complete answer would carry).
//!
//! The sequence: `response.created` and `response.in_progress` (status `in_progress`, output
//! `[]`) at `Start`, or before whatever comes first. Text opens a `message` item
//! (`output_item.added`, `content_part.added` with an empty `output_text`), each delta is an
//! `output_text.delta` with `logprobs: []`, and closing writes `output_text.done`,
//! `content_part.done` and `output_item.done` with the whole text. Thinking opens a
//! `reasoning` item with one summary part (`reasoning_summary_part.added`,
//! `reasoning_summary_text.delta`, `.done`, `reasoning_summary_part.done`); a signature or
//! redacted data ends the item as `encrypted_content` (see `reasoning`). `ToolCallStart`
//! opens a `function_call` item (`call_id`, unflattened `name` and its `namespace`,
//! `arguments: ""`), fragments are `function_call_arguments.delta`, and closing writes
//! `function_call_arguments.done` with `name` and the whole arguments (`{}` when there were
//! none) and `output_item.done`; a call to a custom tool is a `custom_tool_call` item whose raw
//! input is sent at its close (`custom_tool_call_input.delta` / `.done`), since the canonical
//! fragments are JSON around it. An item is closed when another kind of content starts; a tool
//! call when the next one starts once its arguments are complete JSON (an upstream that
//! interleaves parallel calls keeps both open, which the events allow, as they name their
//! item), or at the end. `finish` closes what is open and writes `response.completed` (or
//! `response.incomplete` with `incomplete_details` for a `Length` or content-filter finish,
//! the event the API sends for that status) with every output item and the last usage.
//! `fail` (or an `Error` event) writes `response.failed` with `error {code, message}` and the
//! items completed so far, and never a completion.

use bytes::BytesMut;
use serde_json::{Map, Value, json};

use super::items_out::{call_item, item_id, message_item, text_part};
use super::names::custom_input;
use super::reasoning::{reasoning_item, wrap_signature};
use super::response::{Echo, Status, error_code, now_secs, response_object};
use crate::canonical::{ChatRequest, FinishReason, StreamEvent, Usage};
use crate::codec::{ErrorKind, StreamEncoder};
use crate::sse::put_event;

struct OpenText {
    index: usize,
    id: String,
    text: String,
}

struct OpenReasoning {
    index: usize,
    id: String,
    text: String,
    part_open: bool,
    encrypted: Option<String>,
}

struct OpenTool {
    canonical: u32,
    index: usize,
    id: String,
    call_id: String,
    name: String,
    args: String,
    custom: bool,
    done: bool,
}

/// Encodes canonical events as a Responses API event stream.
pub struct ResponsesStreamEncoder {
    model: String,
    response_id: String,
    created_at: u64,
    echo: Echo,
    seq: u64,
    started: bool,
    closed: bool,
    /// Output items by output index; `Null` while the item is open.
    output: Vec<Value>,
    text: Option<OpenText>,
    reasoning: Option<OpenReasoning>,
    tools: Vec<OpenTool>,
    start_usage: Option<Usage>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
}

impl std::fmt::Debug for ResponsesStreamEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponsesStreamEncoder")
            .field("response_id", &self.response_id)
            .field("seq", &self.seq)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

fn complete_json(args: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(args).is_ok()
}

impl ResponsesStreamEncoder {
    /// `model` is the name the client sees; `response_id` (`resp_...`) names the response.
    pub fn new(model: &str, response_id: &str) -> Self {
        Self {
            model: model.to_owned(),
            response_id: response_id.to_owned(),
            created_at: now_secs(),
            echo: Echo::default(),
            seq: 0,
            started: false,
            closed: false,
            output: Vec::new(),
            text: None,
            reasoning: None,
            tools: Vec::new(),
            start_usage: None,
            usage: None,
            finish: None,
        }
    }

    /// Maps tool names back (namespaces, custom tools) and echoes the request's settings.
    pub fn with_request(mut self, request: &ChatRequest) -> Self {
        self.echo = Echo::from_request(request);
        self
    }

    /// Fixes `created_at` (for reproducible output).
    pub fn with_created(mut self, created_at: u64) -> Self {
        self.created_at = created_at;
        self
    }

    fn emit(&mut self, out: &mut BytesMut, ty: &str, fields: Value) {
        let mut obj = Map::new();
        obj.insert("type".to_owned(), json!(ty));
        if let Value::Object(f) = fields {
            obj.extend(f);
        }
        obj.insert("sequence_number".to_owned(), json!(self.seq));
        self.seq += 1;
        put_event(out, ty, &Value::Object(obj).to_string());
    }

    fn response(&self, status: &Status, usage: Option<&Usage>) -> Value {
        let output = self
            .output
            .iter()
            .filter(|v| !v.is_null())
            .cloned()
            .collect();
        response_object(
            &self.response_id,
            &self.model,
            self.created_at,
            status,
            &self.echo,
            output,
            usage,
        )
    }

    fn ensure_started(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let r = self.response(&Status::InProgress, None);
        self.emit(out, "response.created", json!({ "response": r }));
        self.emit(out, "response.in_progress", json!({ "response": r }));
    }

    fn add_item(&mut self, out: &mut BytesMut, item: Value) -> usize {
        let index = self.output.len();
        self.output.push(Value::Null);
        self.emit(
            out,
            "response.output_item.added",
            json!({ "output_index": index, "item": item }),
        );
        index
    }

    fn done_item(&mut self, out: &mut BytesMut, index: usize, item: Value) {
        if let Some(slot) = self.output.get_mut(index) {
            *slot = item.clone();
        }
        self.emit(
            out,
            "response.output_item.done",
            json!({ "output_index": index, "item": item }),
        );
    }

    fn close_text(&mut self, out: &mut BytesMut) {
        let Some(t) = self.text.take() else { return };
        let (id, index) = (t.id.as_str(), t.index);
        self.emit(
            out,
            "response.output_text.done",
            json!({"item_id": id, "output_index": index, "content_index": 0, "text": t.text, "logprobs": []}),
        );
        self.emit(
            out,
            "response.content_part.done",
            json!({"item_id": id, "output_index": index, "content_index": 0, "part": text_part(&t.text)}),
        );
        self.done_item(out, index, message_item(id, &t.text, "completed"));
    }

    fn close_reasoning(&mut self, out: &mut BytesMut) {
        let Some(r) = self.reasoning.take() else {
            return;
        };
        let (id, index) = (r.id.as_str(), r.index);
        if r.part_open {
            self.emit(
                out,
                "response.reasoning_summary_text.done",
                json!({"item_id": id, "output_index": index, "summary_index": 0, "text": r.text}),
            );
            self.emit(
                out,
                "response.reasoning_summary_part.done",
                json!({"item_id": id, "output_index": index, "summary_index": 0,
                    "part": {"type": "summary_text", "text": r.text}}),
            );
        }
        self.done_item(
            out,
            index,
            reasoning_item(id, &r.text, r.encrypted.as_deref()),
        );
    }

    fn close_tool(&mut self, out: &mut BytesMut, i: usize) {
        let Some(t) = self.tools.get_mut(i) else {
            return;
        };
        if t.done {
            return;
        }
        t.done = true;
        let (id, index, call_id, flat, args, custom) = (
            t.id.clone(),
            t.index,
            t.call_id.clone(),
            t.name.clone(),
            t.args.clone(),
            t.custom,
        );
        if custom {
            let input = custom_input(&args);
            if !input.is_empty() {
                self.emit(
                    out,
                    "response.custom_tool_call_input.delta",
                    json!({"item_id": id, "output_index": index, "delta": input}),
                );
            }
            self.emit(
                out,
                "response.custom_tool_call_input.done",
                json!({"item_id": id, "output_index": index, "input": input}),
            );
        } else {
            let name = self.echo.names.unflatten(&flat).1.to_owned();
            let arguments = if args.trim().is_empty() {
                "{}"
            } else {
                args.as_str()
            };
            self.emit(
                out,
                "response.function_call_arguments.done",
                json!({"item_id": id, "output_index": index, "name": name, "arguments": arguments}),
            );
        }
        let item = call_item(
            &self.echo.names,
            &self.response_id,
            index,
            &call_id,
            &flat,
            &args,
            "completed",
        );
        self.done_item(out, index, item);
    }

    fn close_tools(&mut self, out: &mut BytesMut, only_complete: bool) {
        for i in 0..self.tools.len() {
            let t = &self.tools[i];
            if !only_complete || t.args.is_empty() || complete_json(&t.args) {
                self.close_tool(out, i);
            }
        }
    }

    fn close_all(&mut self, out: &mut BytesMut) {
        self.close_text(out);
        self.close_reasoning(out);
        self.close_tools(out, false);
    }

    fn on_text(&mut self, out: &mut BytesMut, delta: &str) {
        if self.text.is_none() {
            self.close_reasoning(out);
            self.close_tools(out, false);
            let index = self.output.len();
            let id = item_id("msg", &self.response_id, index);
            self.add_item(out, message_item(&id, "", "in_progress"));
            self.emit(
                out,
                "response.content_part.added",
                json!({"item_id": id, "output_index": index, "content_index": 0, "part": text_part("")}),
            );
            self.text = Some(OpenText {
                index,
                id,
                text: String::new(),
            });
        }
        let Some(t) = self.text.as_mut() else { return };
        t.text.push_str(delta);
        let (id, index) = (t.id.clone(), t.index);
        self.emit(
            out,
            "response.output_text.delta",
            json!({"item_id": id, "output_index": index, "content_index": 0, "delta": delta, "logprobs": []}),
        );
    }

    /// Opens a reasoning item unless an unsigned one is open.
    fn open_reasoning(&mut self, out: &mut BytesMut) {
        if self
            .reasoning
            .as_ref()
            .is_some_and(|r| r.encrypted.is_none())
        {
            return;
        }
        self.close_all(out);
        let index = self.output.len();
        let id = item_id("rs", &self.response_id, index);
        self.add_item(
            out,
            json!({"id": id, "type": "reasoning", "summary": [], "status": "in_progress"}),
        );
        self.reasoning = Some(OpenReasoning {
            index,
            id,
            text: String::new(),
            part_open: false,
            encrypted: None,
        });
    }

    fn on_thinking(&mut self, out: &mut BytesMut, delta: &str) {
        self.open_reasoning(out);
        let Some(r) = self.reasoning.as_mut() else {
            return;
        };
        let (id, index) = (r.id.clone(), r.index);
        let first = !r.part_open;
        r.part_open = true;
        r.text.push_str(delta);
        if first {
            self.emit(
                out,
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": index, "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""}}),
            );
        }
        self.emit(
            out,
            "response.reasoning_summary_text.delta",
            json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": delta}),
        );
    }

    fn on_encrypted(&mut self, out: &mut BytesMut, encrypted: String) {
        self.open_reasoning(out);
        if let Some(r) = self.reasoning.as_mut() {
            r.encrypted = Some(encrypted);
        }
    }

    fn on_tool_start(&mut self, out: &mut BytesMut, canonical: u32, call_id: &str, name: &str) {
        if self.tools.iter().any(|t| t.canonical == canonical) {
            return;
        }
        self.close_text(out);
        self.close_reasoning(out);
        self.close_tools(out, true);
        let index = self.output.len();
        let custom = self.echo.names.is_custom(name);
        let call_id = if call_id.is_empty() {
            item_id("call", &self.response_id, index)
        } else {
            call_id.to_owned()
        };
        let item = call_item(
            &self.echo.names,
            &self.response_id,
            index,
            &call_id,
            name,
            "",
            "in_progress",
        );
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.add_item(out, item);
        self.tools.push(OpenTool {
            canonical,
            index,
            id,
            call_id,
            name: name.to_owned(),
            args: String::new(),
            custom,
            done: false,
        });
    }

    fn on_tool_delta(&mut self, out: &mut BytesMut, canonical: u32, fragment: &str) {
        if !self.tools.iter().any(|t| t.canonical == canonical) {
            // Arguments for a call that never started: start it rather than lose them.
            self.on_tool_start(out, canonical, "", "");
        }
        let Some(t) = self
            .tools
            .iter_mut()
            .find(|t| t.canonical == canonical && !t.done)
        else {
            // Its item is already done; nothing more can be said about it.
            return;
        };
        t.args.push_str(fragment);
        if t.custom {
            return;
        }
        let (id, index) = (t.id.clone(), t.index);
        self.emit(
            out,
            "response.function_call_arguments.delta",
            json!({"item_id": id, "output_index": index, "delta": fragment}),
        );
    }
}

impl StreamEncoder for ResponsesStreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut) {
        if self.closed {
            return;
        }
        match event {
            StreamEvent::Start { usage, .. } => {
                self.start_usage = *usage;
                self.ensure_started(out);
            }
            StreamEvent::TextDelta { text } if !text.is_empty() => {
                self.ensure_started(out);
                self.on_text(out, text);
            }
            StreamEvent::ThinkingDelta { text } if !text.is_empty() => {
                self.ensure_started(out);
                self.on_thinking(out, text);
            }
            StreamEvent::ThinkingSignature { signature } => {
                self.ensure_started(out);
                self.on_encrypted(out, wrap_signature(signature));
            }
            StreamEvent::RedactedThinking { data } => {
                self.ensure_started(out);
                self.on_encrypted(out, data.clone());
            }
            StreamEvent::ToolCallStart {
                index, id, name, ..
            } => {
                self.ensure_started(out);
                self.on_tool_start(out, *index, id, name);
            }
            StreamEvent::ToolCallDelta { index, arguments } if !arguments.is_empty() => {
                self.ensure_started(out);
                self.on_tool_delta(out, *index, arguments);
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish { reason, .. } => self.finish = Some(reason.clone()),
            StreamEvent::Error { kind, message } => self.fail(*kind, message, out),
            StreamEvent::TextDelta { .. }
            | StreamEvent::ThinkingDelta { .. }
            | StreamEvent::ToolCallDelta { .. } => {}
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.closed {
            return;
        }
        self.ensure_started(out);
        self.close_all(out);
        self.closed = true;
        let status = Status::of_finish(self.finish.as_ref());
        let usage = self.usage.or(self.start_usage).unwrap_or_default();
        let r = self.response(&status, Some(&usage));
        self.emit(out, status.event(), json!({ "response": r }));
    }

    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        if self.closed {
            return;
        }
        self.ensure_started(out);
        self.closed = true;
        let status = Status::Failed {
            code: error_code(kind),
            message: message.to_owned(),
        };
        let usage = self.usage.or(self.start_usage);
        let r = self.response(&status, usage.as_ref());
        self.emit(out, "response.failed", json!({ "response": r }));
    }
}
