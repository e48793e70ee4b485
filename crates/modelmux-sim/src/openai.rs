//! The OpenAI Chat Completions wire format as the simulator speaks it: parsing the request body
//! into what the simulator needs, deciding the answer (words, echo, tool calls, tool results),
//! and building the `chat.completion` JSON, the `chat.completion.chunk` events and error bodies.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::behaviour::Behaviour;
use crate::text::{alnum, generated, pieces};
use crate::tools::{self, ToolCall};

/// What the simulator reads from a chat completions request.
#[derive(Debug)]
pub(crate) struct ChatRequest {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub max_tokens: Option<u32>,
    pub prompt_tokens: u32,
    messages: Vec<Value>,
    tools: Vec<Value>,
    tool_choice: Option<Value>,
    parallel_tool_calls: Option<bool>,
}

/// Parse a request body; `deployment` (Azure) replaces the body's `model`.
/// The error is the message of a 400 answer.
pub(crate) fn parse(body: &[u8], deployment: Option<&str>) -> Result<ChatRequest, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("We could not parse the JSON body of your request. ({e})"))?;
    let model = match deployment {
        Some(d) => d.to_owned(),
        None => v
            .get("model")
            .and_then(Value::as_str)
            .ok_or("you must provide a model parameter")?
            .to_owned(),
    };
    let messages = match v.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m.clone(),
        Some(Value::Array(_)) => return Err("[] is too short - 'messages'".into()),
        _ => return Err("Missing required parameter: 'messages'.".into()),
    };
    let max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_u64))
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    let chars: usize = messages.iter().map(|m| text_of(m).chars().count()).sum();
    let prompt_tokens = u32::try_from(chars.div_ceil(4) + 3 * messages.len()).unwrap_or(u32::MAX);
    Ok(ChatRequest {
        model,
        stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: v
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_tokens,
        prompt_tokens,
        messages,
        tools: v
            .get("tools")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        tool_choice: v.get("tool_choice").cloned(),
        parallel_tool_calls: v.get("parallel_tool_calls").and_then(Value::as_bool),
    })
}

/// The text content of a message: a string, or the `text` of its content parts.
fn text_of(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

fn role(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or_default()
}

/// What the simulated model answers.
#[derive(Debug)]
pub(crate) enum Output {
    Text {
        pieces: Vec<String>,
        finish: &'static str,
    },
    Tools(Vec<ToolCall>),
}

impl ChatRequest {
    /// Decide the answer: tool calls on a user turn that offers tools, the tool results on a
    /// tool turn, the text after `ECHO:`, the fixed reply, or generated words.
    pub(crate) fn output(&self, b: &Behaviour) -> Output {
        let last = self.messages.last().map(role).unwrap_or_default();
        if last == "user" && !self.tools.is_empty() {
            let parallel = b.parallel_tool_calls && self.parallel_tool_calls != Some(false);
            let calls = tools::plan(&self.tools, self.tool_choice.as_ref(), parallel);
            if !calls.is_empty() {
                return Output::Tools(calls);
            }
        }
        let mut words = if last == "tool" {
            let results: Vec<String> = self
                .messages
                .iter()
                .rev()
                .take_while(|m| role(m) == "tool")
                .map(text_of)
                .collect();
            let results: Vec<String> = results.into_iter().rev().collect();
            pieces(&format!("The tool returned: {}", results.join(" ")))
        } else if let Some(echo) = self.echo() {
            pieces(&echo)
        } else if let Some(reply) = &b.reply {
            pieces(reply)
        } else {
            generated(b.output_tokens)
        };
        let mut finish = "stop";
        if let Some(max) = self.max_tokens {
            if words.len() > max as usize {
                words.truncate(max as usize);
                finish = "length";
            }
        }
        Output::Text {
            pieces: words,
            finish,
        }
    }

    fn echo(&self) -> Option<String> {
        let user = self.messages.iter().rev().find(|m| role(m) == "user")?;
        let text = text_of(user);
        let (_, after) = text.split_once("ECHO:")?;
        Some(after.trim_start().to_owned())
    }
}

impl Output {
    pub(crate) fn completion_tokens(&self) -> u32 {
        match self {
            Output::Text { pieces, .. } => u32::try_from(pieces.len()).unwrap_or(u32::MAX),
            Output::Tools(calls) => {
                let n: usize = calls.iter().map(|c| c.arguments.len().div_ceil(4)).sum();
                u32::try_from(n.max(1)).unwrap_or(u32::MAX)
            }
        }
    }

    fn finish_reason(&self) -> &'static str {
        match self {
            Output::Text { finish, .. } => finish,
            Output::Tools(_) => "tool_calls",
        }
    }
}

/// One streamed delta; `content` marks the word/argument chunks that faults count.
pub(crate) struct Delta {
    pub delta: Value,
    pub content: bool,
}

/// A built answer: ids and usage fixed, rendered as JSON or as stream events.
pub(crate) struct Answer {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    prompt_tokens: u32,
    pub output: Output,
}

impl Answer {
    pub(crate) fn new(req: &ChatRequest, output: Output) -> Answer {
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Answer {
            id: format!("chatcmpl-{}", alnum(24)),
            created,
            model: req.model.clone(),
            include_usage: req.include_usage,
            prompt_tokens: req.prompt_tokens,
            output,
        }
    }

    fn usage(&self) -> Value {
        let (p, c) = (self.prompt_tokens, self.output.completion_tokens());
        json!({
            "prompt_tokens": p, "completion_tokens": c, "total_tokens": u64::from(p) + u64::from(c),
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        })
    }

    /// The non-stream `chat.completion` body.
    pub(crate) fn completion(&self) -> Bytes {
        let (content, tool_calls) = match &self.output {
            Output::Text { pieces, .. } => (json!(pieces.concat()), None),
            Output::Tools(calls) => {
                let calls: Vec<Value> = calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
                (Value::Null, Some(calls))
            }
        };
        let mut message =
            json!({"role": "assistant", "content": content, "refusal": null, "annotations": []});
        if let Some(calls) = tool_calls {
            message["tool_calls"] = Value::Array(calls);
        }
        let body = json!({
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": self.output.finish_reason()}],
            "usage": self.usage(), "service_tier": "default", "system_fingerprint": "fp_modelmux_sim",
            "sim_extra": {"echo": true}
        });
        Bytes::from(body.to_string())
    }

    /// One SSE event carrying a chunk with the given `choices` (and the usage when `usage`).
    fn event(&self, choices: Value, usage: bool) -> Bytes {
        let mut chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "service_tier": "default", "system_fingerprint": "fp_modelmux_sim", "choices": choices,
        });
        if self.include_usage {
            chunk["usage"] = if usage { self.usage() } else { Value::Null };
        }
        sse(&chunk.to_string())
    }

    pub(crate) fn delta_event(&self, delta: &Value, finish: Option<&str>) -> Bytes {
        self.event(
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]),
            false,
        )
    }

    pub(crate) fn role_event(&self) -> Bytes {
        self.delta_event(
            &json!({"role": "assistant", "content": "", "refusal": null}),
            None,
        )
    }

    pub(crate) fn finish_event(&self) -> Bytes {
        self.delta_event(&json!({}), Some(self.output.finish_reason()))
    }

    /// The trailing usage chunk, only when the request asked for `include_usage`.
    pub(crate) fn usage_event(&self) -> Option<Bytes> {
        self.include_usage.then(|| self.event(json!([]), true))
    }

    /// The deltas between the role chunk and the finish chunk.
    pub(crate) fn deltas(&self) -> Vec<Delta> {
        match &self.output {
            Output::Text { pieces, .. } => pieces
                .iter()
                .map(|p| Delta {
                    delta: json!({"content": p}),
                    content: true,
                })
                .collect(),
            Output::Tools(calls) => {
                let mut out = Vec::new();
                for (i, c) in calls.iter().enumerate() {
                    let head = json!({"index": i, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": ""}});
                    out.push(Delta {
                        delta: json!({"tool_calls": [head]}),
                        content: false,
                    });
                    for frag in fragments(&c.arguments) {
                        let d =
                            json!({"tool_calls": [{"index": i, "function": {"arguments": frag}}]});
                        out.push(Delta {
                            delta: d,
                            content: true,
                        });
                    }
                }
                out
            }
        }
    }
}

/// Split arguments into 2-3 fragments (fewer only when too short).
fn fragments(args: &str) -> Vec<String> {
    let chars: Vec<char> = args.chars().collect();
    let n = match chars.len() {
        0 | 1 => 1,
        2..=5 => 2,
        _ => 3,
    };
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

pub(crate) fn sse(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

/// An OpenAI-shaped error body: `{"error":{"message","type","param","code"}}`.
pub(crate) fn error_body(
    message: &str,
    ty: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Bytes {
    Bytes::from(
        json!({"error": {"message": message, "type": ty, "param": param, "code": code}})
            .to_string(),
    )
}

/// OpenAI's context_length_exceeded body.
pub(crate) fn context_error(window: u32, prompt: u32, completion: u32) -> Bytes {
    let msg = format!(
        "This model's maximum context length is {window} tokens. However, you requested {} tokens ({prompt} in the messages, {completion} in the completion). Please reduce the length of the messages or completion.",
        u64::from(prompt) + u64::from(completion)
    );
    error_body(
        &msg,
        "invalid_request_error",
        Some("messages"),
        Some("context_length_exceeded"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_estimates_prompt_tokens_and_rejects_bad_bodies() {
        let body = br#"{"model":"m","messages":[{"role":"system","content":"12345678"},{"role":"user","content":[{"type":"text","text":"abc"}]}],"max_tokens":5}"#;
        let r = parse(body, None).unwrap();
        assert_eq!(
            (r.model.as_str(), r.prompt_tokens, r.max_tokens),
            ("m", 3 + 6, Some(5))
        );
        assert_eq!(parse(body, Some("dep")).unwrap().model, "dep");
        assert!(parse(b"{not json", None).is_err());
        assert!(parse(br#"{"messages":[{"role":"user","content":"x"}]}"#, None).is_err());
        assert!(parse(br#"{"model":"m"}"#, None).is_err());
    }

    #[test]
    fn fragments_concatenate() {
        for s in ["{}", "{\"city\":\"Paris\"}", "x"] {
            let f = fragments(s);
            assert_eq!(f.concat(), s);
            assert!(f.len() <= 3);
        }
        assert_eq!(fragments("{\"city\":\"Paris\"}").len(), 3);
    }
}
