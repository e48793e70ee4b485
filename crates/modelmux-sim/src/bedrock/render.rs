//! Bedrock answers: the Converse JSON (`output.message.content`, `stopReason`, `usage`,
//! `metrics`) and the ConverseStream event-stream frames (`messageStart`, `contentBlockStart` for
//! tool use, `contentBlockDelta`, `contentBlockStop`, `messageStop`, `metadata`), each JSON
//! payload padded with a random `p` field as AWS does. Frames are written with
//! `aws-smithy-eventstream`, so prelude and message CRCs are the real ones.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
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

fn usage(a: &Answer) -> Value {
    let (i, o) = (a.prompt_tokens, a.completion_tokens());
    json!({"inputTokens": i, "outputTokens": o, "totalTokens": u64::from(i) + u64::from(o)})
}

fn input(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or_else(|_| json!({}))
}

/// The non-stream Converse body.
pub(super) fn response(a: &Answer) -> Value {
    let mut content = Vec::new();
    if let Some(t) = &a.thinking {
        content.push(json!({"reasoningContent": {"reasoningText": {"text": t.text(), "signature": t.signature}}}));
    }
    match &a.output {
        Output::Text { pieces, .. } => content.push(json!({"text": pieces.concat()})),
        Output::Tools(calls) => content.extend(calls.iter().map(|c| {
            json!({"toolUse": {"toolUseId": c.id, "name": c.name, "input": input(&c.arguments)}})
        })),
    }
    json!({"output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(a), "usage": usage(a), "metrics": {"latencyMs": a.latency_ms}})
}

fn encode(headers: Vec<Header>, payload: Vec<u8>) -> Bytes {
    let mut buf = Vec::new();
    // Writing to a Vec only fails for oversized headers, which these never are.
    if let Err(e) = write_message_to(&Message::new_from_parts(headers, payload), &mut buf) {
        tracing::warn!(error = %e, "sim could not encode an event-stream frame");
    }
    Bytes::from(buf)
}

fn header(name: &'static str, value: &'static str) -> Header {
    Header::new(name, HeaderValue::String(value.into()))
}

/// Padding like AWS's: a run of letters whose length varies per event.
fn padding() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let n = fastrand::usize(1..=24);
    ALPHABET.iter().take(n).map(|b| *b as char).collect()
}

fn event(event_type: &'static str, mut payload: Value) -> Bytes {
    payload["p"] = json!(padding());
    encode(
        vec![
            header(":event-type", event_type),
            header(":content-type", "application/json"),
            header(":message-type", "event"),
        ],
        payload.to_string().into_bytes(),
    )
}

/// An exception frame (`:message-type: exception`) with a `{"message"}` payload.
pub(super) fn exception(exception_type: &'static str, message: &str) -> Bytes {
    encode(
        vec![
            header(":exception-type", exception_type),
            header(":content-type", "application/json"),
            header(":message-type", "exception"),
        ],
        json!({ "message": message }).to_string().into_bytes(),
    )
}

/// A well-framed event whose JSON payload is broken.
pub(super) fn malformed() -> Bytes {
    encode(
        vec![
            header(":event-type", "contentBlockDelta"),
            header(":content-type", "application/json"),
            header(":message-type", "event"),
        ],
        b"{not json".to_vec(),
    )
}

/// Every frame of a ConverseStream answer (event streams have no keep-alives).
pub(super) fn stream(a: &Answer, _keepalives: u32) -> Vec<Frame> {
    let mut out = vec![Frame::new(
        FrameKind::Head,
        event("messageStart", json!({"role": "assistant"})),
    )];
    let mut index = 0u32;
    let delta = |index: u32, d: Value| {
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": index, "delta": d}),
        )
    };
    let stop = |index: u32| event("contentBlockStop", json!({"contentBlockIndex": index}));
    if let Some(t) = &a.thinking {
        for p in &t.pieces {
            out.push(Frame::new(
                FrameKind::Content,
                delta(index, json!({"reasoningContent": {"text": p}})),
            ));
        }
        out.push(Frame::new(
            FrameKind::Head,
            delta(
                index,
                json!({"reasoningContent": {"signature": t.signature}}),
            ),
        ));
        out.push(Frame::new(FrameKind::Head, stop(index)));
        index += 1;
    }
    match &a.output {
        Output::Text { pieces, .. } => {
            for p in pieces {
                out.push(Frame::new(
                    FrameKind::Content,
                    delta(index, json!({"text": p})),
                ));
            }
            out.push(Frame::new(FrameKind::Head, stop(index)));
        }
        Output::Tools(calls) => {
            for c in calls {
                out.push(Frame::new(
                    FrameKind::Head,
                    event(
                        "contentBlockStart",
                        json!({"contentBlockIndex": index,
                        "start": {"toolUse": {"toolUseId": c.id, "name": c.name}}}),
                    ),
                ));
                for f in fragments(&c.arguments) {
                    out.push(Frame::new(
                        FrameKind::Content,
                        delta(index, json!({"toolUse": {"input": f}})),
                    ));
                }
                out.push(Frame::new(FrameKind::Head, stop(index)));
                index += 1;
            }
        }
    }
    out.push(Frame::new(
        FrameKind::Tail,
        event("messageStop", json!({"stopReason": stop_reason(a)})),
    ));
    out.push(Frame::new(
        FrameKind::Tail,
        event(
            "metadata",
            json!({"usage": usage(a), "metrics": {"latencyMs": a.latency_ms}}),
        ),
    ));
    out
}
