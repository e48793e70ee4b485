//! The OpenAI Chat Completions wire format (and the Azure deployment path) as the simulator
//! speaks it: parsing the request body into the neutral request, checking the key and Azure's
//! `api-version`, and rendering the `chat.completion` JSON, the `chat.completion.chunk` events
//! and error bodies.

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Response};
use serde_json::{Value, json};

use crate::exchange::{Frame, FrameKind, Rejected, Wire, has_query};
use crate::fault::{RetryAfter, status_error};
use crate::plan::{Answer, Finish, Msg, Output, Request, Role, Tool, ToolChoice, fragments};
use crate::server::{SimBody, authorized, error, json_response, set_header, unauthorized};
use crate::stats::State;

/// OpenAI Chat Completions; `deployment` is the Azure deployment of the path, if any.
pub(crate) struct OpenAi {
    pub deployment: Option<String>,
}

impl Wire for OpenAi {
    fn parse(&self, _parts: &Parts, body: &[u8]) -> Result<Request, Rejected> {
        parse(body, self.deployment.as_deref()).map_err(|msg| Rejected {
            model: None,
            response: error(400, &msg, "invalid_request_error", None),
        })
    }

    fn authorize(&self, state: &State, parts: &Parts, _: &[u8]) -> Result<(), Response<SimBody>> {
        if !authorized(state.api_key.as_deref(), &parts.headers) {
            return Err(unauthorized());
        }
        if self.deployment.is_some() && !has_query(parts.uri.query(), "api-version") {
            return Err(error(
                400,
                "Missing required query parameter: api-version",
                "invalid_request_error",
                Some("missing_api_version"),
            ));
        }
        Ok(())
    }

    fn bad_request(&self, message: &str) -> Response<SimBody> {
        error(400, message, "invalid_request_error", None)
    }

    fn status_error(&self, code: u16, _: Option<&RetryAfter>) -> Response<SimBody> {
        let (message, ty, err_code) = status_error(code);
        error(code, message, ty, err_code)
    }

    fn context_error(&self, window: u32, prompt: u32, completion: u32) -> Response<SimBody> {
        json_response(400, context_error(window, prompt, completion))
    }

    fn json(&self, answer: &Answer) -> Bytes {
        completion(answer)
    }

    fn stream(&self, answer: &Answer, keepalives: u32) -> Vec<Frame> {
        stream(answer, keepalives)
    }

    fn error_event(&self) -> Bytes {
        sse(&String::from_utf8_lossy(&self.error_body()))
    }

    fn error_body(&self) -> Bytes {
        error_body(
            "simulated upstream error",
            "server_error",
            None,
            Some("simulated"),
        )
    }

    fn decorate(&self, headers: &mut HeaderMap, elapsed_ms: u128) {
        set_header(headers, "openai-processing-ms", elapsed_ms);
    }
}

/// Parse a request body; `deployment` (Azure) replaces the body's `model`.
/// The error is the message of a 400 answer.
pub(crate) fn parse(body: &[u8], deployment: Option<&str>) -> Result<Request, String> {
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
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => return Err("[] is too short - 'messages'".into()),
        _ => return Err("Missing required parameter: 'messages'.".into()),
    };
    let mut r = Request::new(model, messages.iter().map(message).collect());
    r.max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_u64))
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    r.stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    r.include_usage = v
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    r.tools = v
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter(|t| {
                    t.get("type").and_then(Value::as_str).unwrap_or("function") == "function"
                })
                .filter_map(|t| t.get("function"))
                .filter_map(|f| {
                    Some(Tool {
                        name: f.get("name")?.as_str()?.to_owned(),
                        schema: f.get("parameters").cloned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    r.tool_choice = match v.get("tool_choice") {
        Some(Value::String(s)) if s == "none" => ToolChoice::None,
        Some(Value::String(s)) if s == "required" => ToolChoice::Required,
        Some(Value::Object(o)) => match o
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
        {
            Some(name) => ToolChoice::Named(name.to_owned()),
            None => ToolChoice::Required,
        },
        _ => ToolChoice::Auto,
    };
    r.parallel_tool_calls = v.get("parallel_tool_calls").and_then(Value::as_bool);
    Ok(r)
}

fn message(m: &Value) -> Msg {
    let text = text_of(m);
    let role = match m.get("role").and_then(Value::as_str).unwrap_or_default() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" | "function" => Role::Tool,
        _ => Role::System,
    };
    let tool_calls = m
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .map(|c| {
                    let s = |p: &str| c.pointer(p).and_then(Value::as_str).unwrap_or_default();
                    (s("/id").to_owned(), s("/function/name").to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    let tool_results = if role == Role::Tool {
        vec![text.clone()]
    } else {
        Vec::new()
    };
    Msg {
        role,
        text,
        tool_calls,
        tool_results,
    }
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

fn finish_reason(a: &Answer) -> &'static str {
    match a.finish() {
        None => "tool_calls",
        Some(Finish::Stop) => "stop",
        Some(Finish::Length) => "length",
    }
}

fn created() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn usage(a: &Answer) -> Value {
    let (p, c) = (a.prompt_tokens, a.completion_tokens());
    json!({
        "prompt_tokens": p, "completion_tokens": c, "total_tokens": u64::from(p) + u64::from(c),
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": a.thinking_tokens(), "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

/// The non-stream `chat.completion` body.
fn completion(a: &Answer) -> Bytes {
    let (content, tool_calls) = match &a.output {
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
    if let Some(t) = &a.thinking {
        message["reasoning_content"] = json!(t.text());
    }
    if let Some(calls) = tool_calls {
        message["tool_calls"] = Value::Array(calls);
    }
    let body = json!({
        "id": format!("chatcmpl-{}", a.id), "object": "chat.completion", "created": created(), "model": a.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(a)}],
        "usage": usage(a), "service_tier": "default", "system_fingerprint": "fp_modelmux_sim",
        "sim_extra": {"echo": true}
    });
    Bytes::from(body.to_string())
}

/// Every frame of a chat completions stream.
fn stream(a: &Answer, keepalives: u32) -> Vec<Frame> {
    let id = format!("chatcmpl-{}", a.id);
    let created = created();
    // One SSE event carrying a chunk with the given `choices` (and the usage when `usage`).
    let event = |choices: Value, usage_here: bool| {
        let mut chunk = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": a.model,
            "service_tier": "default", "system_fingerprint": "fp_modelmux_sim", "choices": choices,
        });
        if a.include_usage {
            chunk["usage"] = if usage_here { usage(a) } else { Value::Null };
        }
        sse(&chunk.to_string())
    };
    let delta = |d: Value, finish: Option<&str>| {
        event(
            json!([{"index": 0, "delta": d, "logprobs": null, "finish_reason": finish}]),
            false,
        )
    };
    let mut out: Vec<Frame> = (0..keepalives)
        .map(|_| {
            Frame::new(
                FrameKind::Head,
                &b": OPENROUTER PROCESSING

"[..],
            )
        })
        .collect();
    out.push(Frame::new(
        FrameKind::Head,
        delta(
            json!({"role": "assistant", "content": "", "refusal": null}),
            None,
        ),
    ));
    if let Some(t) = &a.thinking {
        for p in &t.pieces {
            out.push(Frame::new(
                FrameKind::Content,
                delta(json!({"reasoning_content": p}), None),
            ));
        }
    }
    match &a.output {
        Output::Text { pieces, .. } => {
            for p in pieces {
                out.push(Frame::new(
                    FrameKind::Content,
                    delta(json!({"content": p}), None),
                ));
            }
        }
        Output::Tools(calls) => {
            for (i, c) in calls.iter().enumerate() {
                let head = json!({"index": i, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": ""}});
                out.push(Frame::new(
                    FrameKind::Head,
                    delta(json!({"tool_calls": [head]}), None),
                ));
                for frag in fragments(&c.arguments) {
                    let d = json!({"tool_calls": [{"index": i, "function": {"arguments": frag}}]});
                    out.push(Frame::new(FrameKind::Content, delta(d, None)));
                }
            }
        }
    }
    out.push(Frame::new(
        FrameKind::Tail,
        delta(json!({}), Some(finish_reason(a))),
    ));
    if a.include_usage {
        out.push(Frame::new(FrameKind::Tail, event(json!([]), true)));
    }
    out.push(Frame::new(FrameKind::Tail, sse("[DONE]")));
    out
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
            (r.model.as_str(), r.prompt_tokens(), r.max_tokens),
            ("m", 3 + 6, Some(5))
        );
        assert_eq!(parse(body, Some("dep")).unwrap().model, "dep");
        assert!(parse(b"{not json", None).is_err());
        assert!(parse(br#"{"messages":[{"role":"user","content":"x"}]}"#, None).is_err());
        assert!(parse(br#"{"model":"m"}"#, None).is_err());
    }
}
