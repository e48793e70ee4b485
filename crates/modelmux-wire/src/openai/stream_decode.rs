//! An OpenAI-format provider stream (`chat.completion.chunk` SSE) → canonical events.
//! Comments and `data: : keepalive` frames are skipped (pitfall 29); chunks with no choices
//! and no usage (Azure's content-filter chunks) are ignored (pitfall 28); usage is taken from
//! whichever chunk carries it (Grok sends it before the last chunk: pitfall 23), each new
//! value replacing the last (pitfall 24); an in-band `{"error":{...}}` (or vLLM's
//! `{"object":"error",...}`) becomes `StreamEvent::Error` and ends the stream (pitfall 27).
//! Tool calls are tracked per upstream `index`: `ToolCallStart` once both id and name are
//! known (or at the first arguments, with a generated id), argument fragments forwarded as
//! they come (pitfall 6), canonical indices 0, 1, ... in start order (pitfall 2); a new id on
//! a reused index is a new call (pitfall 4). Only choice 0 is read. The stream is complete
//! after `[DONE]` or a `finish_reason`; `[DONE]` without a finish reason is read as `stop`.

use serde::Deserialize;
use serde_json::Value;

use super::error_map::error_kind;
use super::response::OpenAiUsage;
use super::translate_response::finish_in;
use crate::canonical::{StreamEvent, Usage};
use crate::codec::{StreamDecoder, TranslateError};
use crate::sse::{SseEvent, SseItem, SseParser};

/// The key of a legacy `function_call` delta among tool-call indices.
const LEGACY_FUNCTION: u32 = u32::MAX;

/// Decodes an OpenAI Chat Completions stream.
#[derive(Debug, Default)]
pub struct OpenAiStreamDecoder {
    sse: SseParser,
    id: String,
    started: bool,
    finished: bool,
    done: bool,
    failed: bool,
    calls: Vec<Call>,
    next_index: u32,
    last_usage: Option<Usage>,
}

#[derive(Debug)]
struct Call {
    key: Option<u32>,
    id: String,
    name: String,
    /// The canonical index, once `ToolCallStart` went out.
    index: Option<u32>,
    pending: String,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    choices: Option<Vec<ChoiceDelta>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChoiceDelta {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    stop_reason: Option<Value>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    reasoning_content: Option<Value>,
    #[serde(default)]
    reasoning: Option<Value>,
    #[serde(default)]
    refusal: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<CallDelta>>,
    #[serde(default)]
    function_call: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct CallDelta {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<Value>,
}

fn text(v: &Option<Value>) -> Option<&str> {
    v.as_ref().and_then(Value::as_str).filter(|s| !s.is_empty())
}

impl OpenAiStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn event(&mut self, ev: SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        let data = ev.data.trim();
        if self.done || self.failed || data.is_empty() || data.starts_with(':') {
            return Ok(());
        }
        if data == crate::sse::DONE {
            self.done = true;
            if !self.finished {
                self.start(None, None, out);
                self.finish_with("stop", None, out);
            }
            return Ok(());
        }
        let malformed =
            |e: serde_json::Error| TranslateError::new(format!("malformed stream chunk: {e}"));
        let chunk: Chunk = serde_json::from_str(data).map_err(malformed)?;
        let error = match chunk.error.as_ref().filter(|e| !e.is_null()) {
            Some(e) => Some(e.clone()),
            None if chunk.object.as_deref() == Some("error")
                || ev.event.as_deref() == Some("error") =>
            {
                Some(serde_json::from_str::<Value>(data).map_err(malformed)?)
            }
            None => None,
        };
        if let Some(e) = error {
            out.push(error_event(&e));
            self.failed = true;
            return Ok(());
        }
        let usage = chunk
            .usage
            .and_then(|u| serde_json::from_value::<OpenAiUsage>(u).ok())
            .map(|u| u.to_canonical());
        let choices = chunk.choices.unwrap_or_default();
        if choices.is_empty() && usage.is_none() {
            return Ok(());
        }
        self.start(chunk.id, chunk.model, out);
        for choice in choices.into_iter().filter(|c| c.index.unwrap_or(0) == 0) {
            if let Some(d) = choice.delta {
                self.delta(d, out);
            }
            if let Some(f) = choice.finish_reason.as_deref() {
                let stop = choice.stop_reason.as_ref().and_then(Value::as_str);
                self.finish_with(f, stop.map(str::to_owned), out);
            }
        }
        if let Some(u) = usage.filter(|u| self.last_usage != Some(*u)) {
            self.last_usage = Some(u);
            out.push(StreamEvent::Usage(u));
        }
        Ok(())
    }

    fn start(&mut self, id: Option<String>, model: Option<String>, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            self.id = id.unwrap_or_default();
            out.push(StreamEvent::Start {
                id: self.id.clone(),
                model: model.unwrap_or_default(),
                usage: None,
            });
        }
    }

    fn finish_with(&mut self, reason: &str, stop: Option<String>, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        self.finished = true;
        for i in 0..self.calls.len() {
            self.start_call(i, out);
        }
        out.push(StreamEvent::Finish {
            reason: finish_in(reason, !self.calls.is_empty()),
            stop_sequence: stop,
        });
    }

    fn delta(&mut self, d: Delta, out: &mut Vec<StreamEvent>) {
        if let Some(t) = text(&d.reasoning_content).or_else(|| text(&d.reasoning)) {
            out.push(StreamEvent::ThinkingDelta { text: t.to_owned() });
        }
        for t in [text(&d.content), text(&d.refusal)].into_iter().flatten() {
            out.push(StreamEvent::TextDelta { text: t.to_owned() });
        }
        for c in d.tool_calls.unwrap_or_default() {
            self.call_delta(c, out);
        }
        if let Some(f) = d.function_call {
            let c = CallDelta {
                index: Some(LEGACY_FUNCTION),
                id: None,
                function: Some(f),
            };
            self.call_delta(c, out);
        }
    }

    fn call_delta(&mut self, c: CallDelta, out: &mut Vec<StreamEvent>) {
        let (name, args) = match c.function {
            Some(f) => (
                f.name.filter(|n| !n.is_empty()),
                match f.arguments {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                },
            ),
            None => (None, String::new()),
        };
        let id = c.id.filter(|s| !s.is_empty());
        let mut slot = match c.index {
            Some(k) => self.calls.iter().rposition(|s| s.key == Some(k)),
            None if id
                .as_ref()
                .is_some_and(|id| self.calls.iter().all(|s| s.id != *id)) =>
            {
                None
            }
            None => self.calls.len().checked_sub(1),
        };
        if let (Some(i), Some(id)) = (slot, &id)
            && !self.calls[i].id.is_empty()
            && self.calls[i].id != *id
        {
            slot = None;
        }
        let i = slot.unwrap_or_else(|| {
            self.calls.push(Call {
                key: c.index,
                id: String::new(),
                name: String::new(),
                index: None,
                pending: String::new(),
            });
            self.calls.len() - 1
        });
        let call = &mut self.calls[i];
        if call.index.is_none() {
            if let Some(id) = id {
                call.id = id;
            }
            if let Some(n) = name {
                call.name = n;
            }
            if !call.name.is_empty() && (!call.id.is_empty() || !args.is_empty()) {
                self.start_call(i, out);
            }
        }
        match self.calls[i].index {
            Some(index) if !args.is_empty() => out.push(StreamEvent::ToolCallDelta {
                index,
                arguments: args,
            }),
            Some(_) => {}
            None => self.calls[i].pending.push_str(&args),
        }
    }

    fn start_call(&mut self, i: usize, out: &mut Vec<StreamEvent>) {
        let index = self.next_index;
        let resp_id = &self.id;
        let Some(call) = self.calls.get_mut(i) else {
            return;
        };
        if call.index.is_some() {
            return;
        }
        call.index = Some(index);
        self.next_index += 1;
        if call.id.is_empty() {
            call.id = format!("call_{resp_id}_{index}");
        }
        out.push(StreamEvent::ToolCallStart {
            index,
            id: call.id.clone(),
            name: call.name.clone(),
            signature: None,
        });
        if !call.pending.is_empty() {
            out.push(StreamEvent::ToolCallDelta {
                index,
                arguments: std::mem::take(&mut call.pending),
            });
        }
    }
}

fn error_event(e: &Value) -> StreamEvent {
    let (message, kind, code) = match e {
        Value::Object(o) => {
            let code = match o.get("code") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            (
                o.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                o.get("type").and_then(Value::as_str),
                code,
            )
        }
        Value::String(s) => (s.clone(), None, None),
        other => (other.to_string(), None, None),
    };
    StreamEvent::Error {
        kind: error_kind(kind, code.as_deref(), &message),
        message,
    }
}

impl StreamDecoder for OpenAiStreamDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        self.sse.push(bytes);
        while let Some(item) = self.sse.next_item() {
            if let SseItem::Event(ev) = item {
                self.event(ev, out)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        if self.sse.has_partial() {
            // A last frame without its blank line; unreadable, it only matters before the end.
            let flushed = self.push(b"\n\n", out);
            if !self.finished {
                flushed?;
            }
        }
        if self.done || self.failed || self.finished {
            Ok(())
        } else {
            Err(TranslateError::new(
                "the stream ended before the answer was complete (no finish_reason, no [DONE])",
            ))
        }
    }
}
