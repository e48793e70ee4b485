//! Gemini answers: a `GenerateContentResponse` with one candidate (thought part, text or whole
//! `functionCall` parts), `usageMetadata`, `modelVersion` and `responseId`; streamed as
//! `data: <GenerateContentResponse>\r\n\r\n` chunks that carry only new parts and running usage
//! totals, with `finishReason` on the last chunk and no `[DONE]`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::exchange::{Frame, FrameKind};
use crate::plan::{Answer, Finish, Output};

fn finish_reason(a: &Answer) -> &'static str {
    match a.finish() {
        Some(Finish::Length) => "MAX_TOKENS",
        // Function calls end with STOP, as Gemini does.
        _ => "STOP",
    }
}

fn signature(a: &Answer) -> Option<String> {
    a.thinking.as_ref().map(|t| STANDARD.encode(&t.signature))
}

fn usage(a: &Answer, candidates: u32, thoughts: u32) -> Value {
    let mut u = json!({"promptTokenCount": a.prompt_tokens, "candidatesTokenCount": candidates,
        "totalTokenCount": u64::from(a.prompt_tokens) + u64::from(candidates) + u64::from(thoughts)});
    if a.thinking.is_some() {
        u["thoughtsTokenCount"] = json!(thoughts);
    }
    u
}

fn call_part(c: &crate::tools::ToolCall) -> Value {
    let args: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
    json!({"functionCall": {"id": c.id, "name": c.name, "args": args}})
}

fn chunk(a: &Answer, parts: Vec<Value>, finish: Option<&str>, usage: Value) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(f);
    }
    json!({"candidates": [candidate], "usageMetadata": usage, "modelVersion": a.model,
        "responseId": a.id})
}

/// The non-stream body.
pub(super) fn response(a: &Answer) -> Value {
    let mut parts = Vec::new();
    if let Some(t) = &a.thinking {
        parts.push(json!({"text": t.text(), "thought": true}));
    }
    match &a.output {
        Output::Text { pieces, .. } => parts.push(json!({"text": pieces.concat()})),
        Output::Tools(calls) => parts.extend(calls.iter().map(call_part)),
    }
    if let Some(sig) = signature(a) {
        // The signature rides on the first part after the thought, as Gemini 2.5+ does.
        if let Some(p) = parts.get_mut(1) {
            p["thoughtSignature"] = json!(sig);
        }
    }
    chunk(
        a,
        parts,
        Some(finish_reason(a)),
        usage(a, a.output_tokens(), a.thinking_tokens()),
    )
}

pub(super) fn sse(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\r\n\r\n"))
}

/// Every chunk of a `streamGenerateContent?alt=sse` answer (Gemini has no keep-alives, so
/// `keepalives` is ignored).
pub(super) fn stream(a: &Answer, _keepalives: u32) -> Vec<Frame> {
    let mut out = Vec::new();
    let (mut thoughts, mut candidates) = (0u32, 0u32);
    let mut sig = signature(a);
    if let Some(t) = &a.thinking {
        for p in &t.pieces {
            thoughts += 1;
            let part = json!({"text": p, "thought": true});
            let c = chunk(a, vec![part], None, usage(a, candidates, thoughts));
            out.push(Frame::new(FrameKind::Content, sse(&c.to_string())));
        }
    }
    let mut first = |mut part: Value| {
        if let Some(s) = sig.take() {
            part["thoughtSignature"] = json!(s);
        }
        part
    };
    match &a.output {
        Output::Text { pieces, .. } => {
            for p in pieces {
                candidates += 1;
                let c = chunk(
                    a,
                    vec![first(json!({"text": p}))],
                    None,
                    usage(a, candidates, thoughts),
                );
                out.push(Frame::new(FrameKind::Content, sse(&c.to_string())));
            }
        }
        Output::Tools(calls) => {
            for call in calls {
                let c = chunk(
                    a,
                    vec![first(call_part(call))],
                    None,
                    usage(a, candidates, thoughts),
                );
                out.push(Frame::new(FrameKind::Content, sse(&c.to_string())));
            }
        }
    }
    let last = chunk(
        a,
        vec![json!({"text": ""})],
        Some(finish_reason(a)),
        usage(a, a.output_tokens(), a.thinking_tokens()),
    );
    out.push(Frame::new(FrameKind::Tail, sse(&last.to_string())));
    out
}
