//! Anthropic answers: the `message` JSON and the SSE sequence `message_start`, `ping`, per block
//! `content_block_start` / `content_block_delta` (thinking, signature, text, input JSON) /
//! `content_block_stop`, then `message_delta` and `message_stop`, each as `event:` + `data:`.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::exchange::{Frame, FrameKind};
use crate::plan::{Answer, Finish, Output, fragments};

fn stop_reason(a: &Answer) -> &'static str {
    match a.finish() {
        None => "tool_use",
        Some(Finish::Stop) => "end_turn",
        Some(Finish::Length) => "max_tokens",
    }
}

fn usage(a: &Answer, output_tokens: u32) -> Value {
    json!({"input_tokens": a.prompt_tokens, "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
}

fn input(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or_else(|_| json!({}))
}

/// The non-stream `message` body.
pub(super) fn message(a: &Answer) -> Bytes {
    let mut content = Vec::new();
    if let Some(t) = &a.thinking {
        content.push(json!({"type": "thinking", "thinking": t.text(), "signature": t.signature}));
    }
    match &a.output {
        Output::Text { pieces, .. } => content.push(json!({"type": "text", "text": pieces.concat()})),
        Output::Tools(calls) => content.extend(calls.iter().map(|c| {
            json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input(&c.arguments)})
        })),
    }
    let body = json!({
        "id": format!("msg_{}", a.id), "type": "message", "role": "assistant", "model": a.model,
        "content": content, "stop_reason": stop_reason(a), "stop_sequence": null,
        "usage": usage(a, a.completion_tokens()),
    });
    Bytes::from(body.to_string())
}

/// One SSE event: `event: <name>` and its JSON `data:` line.
pub(super) fn event(name: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

fn ev(kind: FrameKind, data: Value) -> Frame {
    let name = data
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("error")
        .to_owned();
    Frame::new(kind, event(&name, &data.to_string()))
}

/// Every event of a Messages stream; `keepalives` extra pings come before the first block.
pub(super) fn stream(a: &Answer, keepalives: u32) -> Vec<Frame> {
    let start = json!({"type": "message_start", "message": {
        "id": format!("msg_{}", a.id), "type": "message", "role": "assistant", "model": a.model,
        "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage(a, 1)}});
    let mut out = vec![ev(FrameKind::Head, start)];
    for _ in 0..=keepalives {
        out.push(ev(FrameKind::Head, json!({"type": "ping"})));
    }
    let mut index = 0usize;
    let mut block = |out: &mut Vec<Frame>, start: Value, deltas: Vec<(FrameKind, Value)>| {
        out.push(ev(
            FrameKind::Head,
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        for (kind, d) in deltas {
            out.push(ev(
                kind,
                json!({"type": "content_block_delta", "index": index, "delta": d}),
            ));
        }
        out.push(ev(
            FrameKind::Head,
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    };
    if let Some(t) = &a.thinking {
        let mut deltas: Vec<(FrameKind, Value)> = t
            .pieces
            .iter()
            .map(|p| {
                (
                    FrameKind::Content,
                    json!({"type": "thinking_delta", "thinking": p}),
                )
            })
            .collect();
        deltas.push((
            FrameKind::Head,
            json!({"type": "signature_delta", "signature": t.signature}),
        ));
        block(
            &mut out,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
            deltas,
        );
    }
    match &a.output {
        Output::Text { pieces, .. } => {
            let deltas = pieces
                .iter()
                .map(|p| (FrameKind::Content, json!({"type": "text_delta", "text": p})))
                .collect();
            block(&mut out, json!({"type": "text", "text": ""}), deltas);
        }
        Output::Tools(calls) => {
            for c in calls {
                let deltas = fragments(&c.arguments)
                    .into_iter()
                    .map(|f| {
                        (
                            FrameKind::Content,
                            json!({"type": "input_json_delta", "partial_json": f}),
                        )
                    })
                    .collect();
                block(
                    &mut out,
                    json!({"type": "tool_use", "id": c.id, "name": c.name, "input": {}}),
                    deltas,
                );
            }
        }
    }
    out.push(ev(
        FrameKind::Tail,
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(a), "stop_sequence": null},
            "usage": {"output_tokens": a.completion_tokens()}}),
    ));
    out.push(ev(FrameKind::Tail, json!({"type": "message_stop"})));
    out
}
