//! Cross-format round trips: every provider format (OpenAI, Anthropic, Gemini, Bedrock) into
//! every client format (OpenAI, Anthropic). A provider stream written in the provider's native
//! bytes (literal SSE, or `bedrock::encode_event` frames) is fed in small pieces to the
//! provider's decoder, the canonical events go through the client's encoder, whose output is
//! checked for well-formedness (OpenAI: JSON data lines, one usage chunk, one final `[DONE]`;
//! Anthropic: a block state machine) and then read back by the client's own decoder. What comes
//! out must be what went in: text, tool calls (ids and names once each, indices 0 and 1,
//! arguments that parse to the same JSON: pitfalls 1, 2, 4), thinking with its signature (13),
//! one usage value, never summed (23, 24), the finish reason mapped (26). The same is checked
//! for complete answers (`response_from_P` → `response_to_C` → `response_from_C`), and for
//! requests: one canonical conversation (system at 0, 3 and 5, parallel calls and their
//! results, empty assistant content, images, signed thinking) through every `to_X`, read back
//! by `from_openai` / `from_anthropic` or checked structurally for Gemini and Bedrock
//! (pitfalls 7, 8, 9, 10, 11, 20).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test file: a failed unwrap or assertion is a failed test"
)]

use bytes::BytesMut;
use modelmux_wire::anthropic::{
    AnthropicStreamDecoder, AnthropicStreamEncoder, from_anthropic, response_from_anthropic,
    response_to_anthropic, to_anthropic,
};
use modelmux_wire::bedrock::{
    BedrockStreamDecoder, encode_event, response_from_bedrock, to_bedrock,
};
use modelmux_wire::canonical::{
    ChatRequest, ChatResponse, FinishReason, MediaSource, Message, Part, Reasoning, Role,
    StreamEvent, Tool, ToolChoice, Usage, WireFormat,
};
use modelmux_wire::codec::{StreamDecoder, StreamEncoder};
use modelmux_wire::gemini::{GeminiStreamDecoder, response_from_gemini, to_gemini};
use modelmux_wire::openai::{
    ChatBody, OpenAiOptions, OpenAiStreamDecoder, OpenAiStreamEncoder, from_openai,
    response_from_openai, response_to_openai, to_openai,
};
use modelmux_wire::sse::{SseItem, SseParser};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Scenarios and what each must come out as
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
}

const PROVIDERS: [Provider; 4] = [
    Provider::OpenAi,
    Provider::Anthropic,
    Provider::Gemini,
    Provider::Bedrock,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    OpenAi,
    Anthropic,
}

const CLIENTS: [Client; 2] = [Client::OpenAi, Client::Anthropic];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// Plain text in several fragments (unicode, quotes, an emoji).
    Text,
    /// A line of text, then two parallel tool calls with streamed arguments.
    Tools,
    /// Thinking (signed where the provider signs) followed by text.
    Thinking,
    /// No content at all: only the finish.
    Empty,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario::Text,
    Scenario::Tools,
    Scenario::Thinking,
    Scenario::Empty,
];

const TEXT_FRAGMENTS: [&str; 3] = ["Hello, ", "wörld \"q\" 🎉", "!"];
const TOOLS_TEXT: &str = "Let me check.";
const THINKING_FRAGMENTS: [&str; 2] = ["Let me ", "think."];
const ANSWER: &str = "Answer.";
const GEMINI_SIGNATURE: &str = "c2lnLWdlbWluaQ==";

/// A tool call as the client finally sees it.
#[derive(Debug, Clone, PartialEq)]
struct ExpectedCall {
    id: String,
    name: String,
    args: Value,
}

fn call(id: &str, name: &str, args: Value) -> ExpectedCall {
    ExpectedCall {
        id: id.to_owned(),
        name: name.to_owned(),
        args,
    }
}

/// The two calls each provider's tool scenario makes. Gemini sends no call ids (2.x models
/// do not) and both calls have the same name in separate chunks (pitfall 4): the decoder
/// must keep them apart and synthesize distinct ids.
fn expected_calls(p: Provider) -> Vec<ExpectedCall> {
    let weather = json!({"city": "Paris"});
    let time = json!({"tz": "Asia/Tōkyō", "q": "\"x\""});
    match p {
        Provider::OpenAi => vec![
            call("call_a", "get_weather", weather),
            call("call_b", "get_time", time),
        ],
        Provider::Anthropic => vec![
            call("toolu_a", "get_weather", weather),
            call("toolu_b", "get_time", time),
        ],
        Provider::Gemini => vec![
            call("call_get_weather_0", "get_weather", weather),
            call(
                "call_get_weather_1",
                "get_weather",
                json!({"city": "Tōkyō"}),
            ),
        ],
        Provider::Bedrock => vec![
            call("tooluse_a", "get_weather", weather),
            call("tooluse_b", "get_time", time),
        ],
    }
}

/// The signature a provider puts on its thinking (OpenAI has none).
fn provider_signature(p: Provider) -> Option<&'static str> {
    match p {
        Provider::OpenAi => None,
        Provider::Anthropic => Some("sig-anthropic"),
        Provider::Gemini => Some(GEMINI_SIGNATURE),
        Provider::Bedrock => Some("sig-bedrock"),
    }
}

/// Canonical usage of every scenario: 10 prompt tokens of which 6 read from the cache, 5
/// output tokens; in the thinking scenario, providers that count reasoning report 3 of them.
fn expected_usage(p: Provider, s: Scenario) -> Usage {
    let reasoning = match (p, s) {
        (Provider::OpenAi | Provider::Gemini, Scenario::Thinking) => 3,
        _ => 0,
    };
    Usage {
        input: 10,
        output: 5,
        cache_read: 6,
        cache_write: 0,
        reasoning,
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Expected {
    text: String,
    thinking: String,
    signatures: Vec<String>,
    calls: Vec<ExpectedCall>,
    finish: FinishReason,
    usage: Usage,
}

fn expected(p: Provider, s: Scenario, c: Option<Client>) -> Expected {
    let mut e = Expected {
        text: String::new(),
        thinking: String::new(),
        signatures: Vec::new(),
        calls: Vec::new(),
        finish: FinishReason::Stop,
        usage: expected_usage(p, s),
    };
    match s {
        Scenario::Text => e.text = TEXT_FRAGMENTS.concat(),
        Scenario::Tools => {
            e.text = TOOLS_TEXT.to_owned();
            e.calls = expected_calls(p);
            e.finish = FinishReason::ToolCalls;
        }
        Scenario::Thinking => {
            e.thinking = THINKING_FRAGMENTS.concat();
            e.text = ANSWER.to_owned();
            e.signatures = provider_signature(p)
                .into_iter()
                .map(str::to_owned)
                .collect();
        }
        Scenario::Empty => {}
    }
    match c {
        // Known gap, documented in openai/messages_out.rs and stream_encode.rs: OpenAI Chat
        // Completions has no carrier for a thinking signature, so an OpenAI client cannot
        // get it (pitfall 13 needs a carrier or a gateway-side cache).
        Some(Client::OpenAi) => e.signatures.clear(),
        // Anthropic usage has no reasoning-token field.
        Some(Client::Anthropic) => e.usage.reasoning = 0,
        None => {}
    }
    e
}

// ---------------------------------------------------------------------------------------
// Native provider streams
// ---------------------------------------------------------------------------------------

fn sse_data(values: &[Value], crlf: bool) -> Vec<u8> {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    for v in values {
        out.push_str(&format!("data: {v}{nl}{nl}"));
    }
    out.into_bytes()
}

fn sse_named(events: &[Value]) -> Vec<u8> {
    let mut out = String::new();
    for e in events {
        let name = e["type"].as_str().unwrap();
        out.push_str(&format!("event: {name}\ndata: {e}\n\n"));
    }
    out.into_bytes()
}

fn openai_stream(s: Scenario) -> Vec<u8> {
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({"id": "chatcmpl-up1", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-x", "choices": [{"index": 0, "delta": delta, "logprobs": null,
            "finish_reason": finish}], "usage": null})
    };
    let mut chunks = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    let finish = match s {
        Scenario::Text => {
            for t in TEXT_FRAGMENTS {
                chunks.push(chunk(json!({"content": t}), None));
            }
            "stop"
        }
        Scenario::Tools => {
            chunks.push(chunk(json!({"content": TOOLS_TEXT}), None));
            let start = |i: u32, id: &str, name: &str| {
                json!({"tool_calls": [{"index": i, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}}]})
            };
            let args = |i: u32, a: &str| json!({"tool_calls": [{"index": i, "function": {"arguments": a}}]});
            chunks.push(chunk(start(0, "call_a", "get_weather"), None));
            chunks.push(chunk(args(0, "{\"city\":"), None));
            chunks.push(chunk(args(0, " \"Paris\"}"), None));
            chunks.push(chunk(start(1, "call_b", "get_time"), None));
            chunks.push(chunk(args(1, "{\"tz\": \"Asia/Tō"), None));
            chunks.push(chunk(args(1, "kyō\", \"q\": \"\\\"x\\\"\"}"), None));
            "tool_calls"
        }
        Scenario::Thinking => {
            for t in THINKING_FRAGMENTS {
                chunks.push(chunk(json!({"reasoning_content": t}), None));
            }
            chunks.push(chunk(json!({"content": ANSWER}), None));
            "stop"
        }
        Scenario::Empty => "stop",
    };
    chunks.push(chunk(json!({}), Some(finish)));
    let reasoning = expected_usage(Provider::OpenAi, s).reasoning;
    chunks.push(
        json!({"id": "chatcmpl-up1", "object": "chat.completion.chunk", "created": 1,
        "model": "gpt-x", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5,
        "total_tokens": 15, "prompt_tokens_details": {"cached_tokens": 6},
        "completion_tokens_details": {"reasoning_tokens": reasoning}}}),
    );
    let mut bytes = sse_data(&chunks, false);
    bytes.extend_from_slice(b"data: [DONE]\n\n");
    bytes
}

fn anthropic_stream(s: Scenario) -> Vec<u8> {
    let mut ev = vec![
        json!({"type": "message_start", "message": {"id": "msg_up1", "type": "message",
            "role": "assistant", "model": "claude-x", "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": 4, "output_tokens": 1,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 6}}}),
        json!({"type": "ping"}),
    ];
    let start = |i: u64, block: Value| json!({"type": "content_block_start", "index": i, "content_block": block});
    let delta = |i: u64, d: Value| json!({"type": "content_block_delta", "index": i, "delta": d});
    let stop = |i: u64| json!({"type": "content_block_stop", "index": i});
    let text = |t: &str| json!({"type": "text_delta", "text": t});
    let reason = match s {
        Scenario::Text => {
            ev.push(start(0, json!({"type": "text", "text": ""})));
            for t in TEXT_FRAGMENTS {
                ev.push(delta(0, text(t)));
            }
            ev.push(stop(0));
            "end_turn"
        }
        Scenario::Tools => {
            let json_delta = |p: &str| json!({"type": "input_json_delta", "partial_json": p});
            ev.push(start(0, json!({"type": "text", "text": ""})));
            ev.push(delta(0, text(TOOLS_TEXT)));
            ev.push(stop(0));
            ev.push(start(
                1,
                json!({"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}),
            ));
            ev.push(delta(1, json_delta("")));
            ev.push(delta(1, json_delta("{\"city\":")));
            ev.push(delta(1, json_delta(" \"Paris\"}")));
            ev.push(stop(1));
            ev.push(start(
                2,
                json!({"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}}),
            ));
            ev.push(delta(2, json_delta("{\"tz\": \"Asia/Tō")));
            ev.push(delta(2, json_delta("kyō\", \"q\": \"\\\"x\\\"\"}")));
            ev.push(stop(2));
            "tool_use"
        }
        Scenario::Thinking => {
            ev.push(start(
                0,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
            ));
            for t in THINKING_FRAGMENTS {
                ev.push(delta(0, json!({"type": "thinking_delta", "thinking": t})));
            }
            ev.push(delta(
                0,
                json!({"type": "signature_delta", "signature": "sig-anthropic"}),
            ));
            ev.push(stop(0));
            ev.push(start(1, json!({"type": "text", "text": ""})));
            ev.push(delta(1, text(ANSWER)));
            ev.push(stop(1));
            "end_turn"
        }
        Scenario::Empty => "end_turn",
    };
    // `message_delta.usage` is cumulative: 5 output tokens in all, not 1 + 5 (pitfall 24).
    ev.push(
        json!({"type": "message_delta", "delta": {"stop_reason": reason,
        "stop_sequence": null}, "usage": {"output_tokens": 5}}),
    );
    ev.push(json!({"type": "message_stop"}));
    sse_named(&ev)
}

fn gemini_stream(s: Scenario) -> Vec<u8> {
    // Running totals (pitfall 24): the first chunk says 2 output tokens, the last one 5.
    let usage = |candidates: u64, thoughts: u64| {
        json!({"promptTokenCount": 10, "candidatesTokenCount": candidates,
            "thoughtsTokenCount": thoughts, "cachedContentTokenCount": 6,
            "totalTokenCount": 10 + candidates + thoughts})
    };
    let chunk = |parts: Value, finish: Option<&str>, usage: Value| {
        let mut cand = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            cand["finishReason"] = json!(f);
        }
        json!({"candidates": [cand], "usageMetadata": usage, "modelVersion": "gemini-x",
            "responseId": "resp-g1"})
    };
    let chunks = match s {
        Scenario::Text => vec![
            chunk(json!([{"text": TEXT_FRAGMENTS[0]}]), None, usage(2, 0)),
            chunk(json!([{"text": TEXT_FRAGMENTS[1]}]), None, usage(4, 0)),
            chunk(
                json!([{"text": TEXT_FRAGMENTS[2]}]),
                Some("STOP"),
                usage(5, 0),
            ),
        ],
        // Two calls with the same name in separate chunks, no ids, `STOP` as the finish
        // reason (Gemini never says "tool"): pitfalls 4 and 26.
        Scenario::Tools => vec![
            chunk(json!([{"text": TOOLS_TEXT}]), None, usage(2, 0)),
            chunk(
                json!([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]),
                None,
                usage(3, 0),
            ),
            chunk(
                json!([{"functionCall": {"name": "get_weather", "args": {"city": "Tōkyō"}}}]),
                Some("STOP"),
                usage(5, 0),
            ),
        ],
        Scenario::Thinking => vec![
            chunk(
                json!([{"text": THINKING_FRAGMENTS[0], "thought": true}]),
                None,
                usage(0, 2),
            ),
            chunk(
                json!([{"text": THINKING_FRAGMENTS[1], "thought": true,
                    "thoughtSignature": GEMINI_SIGNATURE}]),
                None,
                usage(0, 3),
            ),
            chunk(json!([{"text": ANSWER}]), Some("STOP"), usage(2, 3)),
        ],
        Scenario::Empty => vec![json!({"candidates": [{"finishReason": "STOP", "index": 0}],
            "usageMetadata": usage(5, 0), "modelVersion": "gemini-x", "responseId": "resp-g1"})],
    };
    // Native Gemini framing is CRLF.
    sse_data(&chunks, true)
}

fn bedrock_stream(s: Scenario) -> Vec<u8> {
    let mut frames: Vec<(&str, Value)> = vec![("messageStart", json!({"role": "assistant"}))];
    let delta = |i: u64, d: Value| {
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": i, "delta": d}),
        )
    };
    let stop = |i: u64| ("contentBlockStop", json!({"contentBlockIndex": i}));
    let reason = match s {
        Scenario::Text => {
            // Plain text blocks have no start event.
            for t in TEXT_FRAGMENTS {
                frames.push(delta(0, json!({"text": t})));
            }
            frames.push(stop(0));
            "end_turn"
        }
        Scenario::Tools => {
            frames.push(delta(0, json!({"text": TOOLS_TEXT})));
            frames.push(stop(0));
            let start = |i: u64, id: &str, name: &str| {
                (
                    "contentBlockStart",
                    json!({"contentBlockIndex": i,
                        "start": {"toolUse": {"toolUseId": id, "name": name}}}),
                )
            };
            let input = |i: u64, a: &str| delta(i, json!({"toolUse": {"input": a}}));
            frames.push(start(1, "tooluse_a", "get_weather"));
            frames.push(input(1, "{\"city\":"));
            frames.push(input(1, " \"Paris\"}"));
            frames.push(stop(1));
            frames.push(start(2, "tooluse_b", "get_time"));
            frames.push(input(2, "{\"tz\": \"Asia/Tō"));
            frames.push(input(2, "kyō\", \"q\": \"\\\"x\\\"\"}"));
            frames.push(stop(2));
            "tool_use"
        }
        Scenario::Thinking => {
            for t in THINKING_FRAGMENTS {
                frames.push(delta(0, json!({"reasoningContent": {"text": t}})));
            }
            frames.push(delta(
                0,
                json!({"reasoningContent": {"signature": "sig-bedrock"}}),
            ));
            frames.push(stop(0));
            frames.push(delta(1, json!({"text": ANSWER})));
            frames.push(stop(1));
            "end_turn"
        }
        Scenario::Empty => "end_turn",
    };
    frames.push(("messageStop", json!({"stopReason": reason})));
    frames.push((
        "metadata",
        json!({"usage": {"inputTokens": 4, "outputTokens": 5, "totalTokens": 15,
            "cacheReadInputTokens": 6}, "metrics": {"latencyMs": 120}, "p": "abcdef"}),
    ));
    frames
        .iter()
        .flat_map(|(t, p)| encode_event(t, p))
        .collect()
}

fn provider_stream(p: Provider, s: Scenario) -> Vec<u8> {
    match p {
        Provider::OpenAi => openai_stream(s),
        Provider::Anthropic => anthropic_stream(s),
        Provider::Gemini => gemini_stream(s),
        Provider::Bedrock => bedrock_stream(s),
    }
}

fn provider_decoder(p: Provider) -> Box<dyn StreamDecoder> {
    match p {
        Provider::OpenAi => Box::new(OpenAiStreamDecoder::new()),
        Provider::Anthropic => Box::new(AnthropicStreamDecoder::new()),
        Provider::Gemini => Box::new(GeminiStreamDecoder::new()),
        Provider::Bedrock => Box::new(BedrockStreamDecoder::new()),
    }
}

/// Feeds `bytes` to `d` `step` bytes at a time (splitting frames and UTF-8 sequences), then
/// finishes; the stream must decode without error.
fn decode_with(
    mut d: Box<dyn StreamDecoder>,
    bytes: &[u8],
    step: usize,
    what: &str,
) -> Vec<StreamEvent> {
    let mut out = Vec::new();
    for piece in bytes.chunks(step.max(1)) {
        d.push(piece, &mut out)
            .unwrap_or_else(|e| panic!("{what}: push failed: {e}"));
    }
    d.finish(&mut out)
        .unwrap_or_else(|e| panic!("{what}: finish failed: {e}"));
    out
}

// ---------------------------------------------------------------------------------------
// Client encoders, their well-formedness, and their decoders
// ---------------------------------------------------------------------------------------

fn encode_client(c: Client, events: &[StreamEvent], include_usage: bool) -> Vec<u8> {
    let mut enc: Box<dyn StreamEncoder> = match c {
        Client::OpenAi => {
            Box::new(OpenAiStreamEncoder::new("route-x", include_usage).with_created(7))
        }
        Client::Anthropic => Box::new(AnthropicStreamEncoder::new("route-x")),
    };
    let mut out = BytesMut::new();
    for e in events {
        enc.encode(e, &mut out);
    }
    enc.finish(&mut out);
    out.to_vec()
}

fn sse_events(bytes: &[u8]) -> Vec<(Option<String>, String)> {
    let mut p = SseParser::new();
    p.push(bytes);
    let mut out = Vec::new();
    while let Some(item) = p.next_item() {
        match item {
            SseItem::Event(e) => out.push((e.event, e.data)),
            other => panic!("the encoder wrote a non-event item: {other:?}"),
        }
    }
    assert!(!p.has_partial(), "the encoder left a partial SSE event");
    out
}

/// Checks an OpenAI Chat Completions stream as the SDK reads it: every data line is JSON
/// except one final `[DONE]`; every chunk is a `chat.completion.chunk` with one id; the
/// finish reason is sent once; with `include_usage` every chunk has a `usage` key, exactly one
/// of them non-null, on a `choices: []` chunk right before `[DONE]` (pitfall 23); each tool
/// call's first delta has id, type and name and no later delta repeats them, indices 0, 1, ...
/// in order (pitfall 2). Returns the parsed chunks.
fn check_openai_stream(bytes: &[u8], include_usage: bool, what: &str) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    for line in text.split('\n') {
        assert!(
            line.is_empty() || line.starts_with("data: "),
            "{what}: unexpected line {line:?}"
        );
    }
    let events = sse_events(bytes);
    let (last, rest) = events
        .split_last()
        .unwrap_or_else(|| panic!("{what}: empty stream"));
    assert_eq!(last.1, "[DONE]", "{what}: the last event must be [DONE]");
    let mut chunks = Vec::new();
    for (name, data) in rest {
        assert!(name.is_none(), "{what}: OpenAI streams have no event names");
        assert_ne!(data, "[DONE]", "{what}: [DONE] before the end");
        let v: Value = serde_json::from_str(data)
            .unwrap_or_else(|e| panic!("{what}: data line is not JSON ({e}): {data}"));
        assert!(v.is_object(), "{what}: {v}");
        assert_eq!(v["object"], "chat.completion.chunk", "{what}: {v}");
        chunks.push(v);
    }
    let id = &chunks[0]["id"];
    assert!(
        id.as_str().is_some_and(|s| s.starts_with("chatcmpl-")),
        "{what}: id {id}"
    );
    assert!(chunks.iter().all(|c| &c["id"] == id), "{what}: ids differ");
    let finishes = chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().cloned().unwrap_or_default())
        .filter(|ch| !ch["finish_reason"].is_null())
        .count();
    assert_eq!(
        finishes, 1,
        "{what}: finish_reason must be sent exactly once"
    );
    let with_usage: Vec<usize> = chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.get("usage").is_some_and(|u| !u.is_null()))
        .map(|(i, _)| i)
        .collect();
    if include_usage {
        assert!(
            chunks.iter().all(|c| c.get("usage").is_some()),
            "{what}: with include_usage every chunk carries a usage key"
        );
        assert_eq!(
            with_usage,
            vec![chunks.len() - 1],
            "{what}: one usage chunk, last"
        );
        assert_eq!(chunks[chunks.len() - 1]["choices"], json!([]), "{what}");
    } else {
        assert!(with_usage.is_empty(), "{what}: usage without include_usage");
    }
    let mut seen: Vec<u64> = Vec::new();
    for c in &chunks {
        for ch in c["choices"].as_array().into_iter().flatten() {
            for tc in ch["delta"]["tool_calls"].as_array().into_iter().flatten() {
                let i = tc["index"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{what}: index {tc}"));
                if seen.contains(&i) {
                    assert!(tc.get("id").is_none(), "{what}: id repeated: {tc}");
                    assert!(
                        tc["function"].get("name").is_none(),
                        "{what}: name repeated: {tc}"
                    );
                } else {
                    assert_eq!(
                        i,
                        seen.len() as u64,
                        "{what}: tool indices must count 0, 1, ..."
                    );
                    assert!(
                        tc["id"].as_str().is_some_and(|s| !s.is_empty()),
                        "{what}: {tc}"
                    );
                    assert_eq!(tc["type"], "function", "{what}: {tc}");
                    assert!(tc["function"]["name"].is_string(), "{what}: {tc}");
                    seen.push(i);
                }
            }
        }
    }
    chunks
}

/// Checks an Anthropic Messages stream against the state machine the SDK's accumulator
/// assumes (pitfall 3): every event named after its `type`; `message_start` first,
/// `message_stop` last, one `message_delta` right before it; blocks numbered 0, 1, 2, ...,
/// each `content_block_start` → deltas of its own kind → `content_block_stop`, never two open
/// at once; a tool block starts with `input: {}` and its `input_json_delta`s join into a JSON
/// object; a `signature_delta` is the last delta of its thinking block. Returns the events.
fn check_anthropic_stream(bytes: &[u8], what: &str) -> Vec<Value> {
    std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    let mut out = Vec::new();
    for (name, data) in sse_events(bytes) {
        let v: Value = serde_json::from_str(&data)
            .unwrap_or_else(|e| panic!("{what}: data is not JSON ({e}): {data}"));
        assert_eq!(
            name.as_deref(),
            v["type"].as_str(),
            "{what}: event name ≠ type: {v}"
        );
        out.push(v);
    }
    let types: Vec<&str> = out.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"message_start"), "{what}: {types:?}");
    assert_eq!(types.last(), Some(&"message_stop"), "{what}: {types:?}");
    assert_eq!(types[types.len() - 2], "message_delta", "{what}: {types:?}");
    assert_eq!(
        types.iter().filter(|t| **t == "message_delta").count(),
        1,
        "{what}"
    );
    assert_eq!(
        types.iter().filter(|t| **t == "message_start").count(),
        1,
        "{what}"
    );
    let mut open: Option<(u64, String, String, bool)> = None; // index, type, tool json, signed
    let mut next = 0u64;
    for v in &out {
        match v["type"].as_str().unwrap() {
            "content_block_start" => {
                assert!(
                    open.is_none(),
                    "{what}: block started while {open:?} is open"
                );
                let i = v["index"].as_u64().unwrap();
                assert_eq!(i, next, "{what}: block indices must be 0, 1, 2, ...");
                next += 1;
                let kind = v["content_block"]["type"].as_str().unwrap().to_owned();
                if kind == "tool_use" {
                    assert_eq!(v["content_block"]["input"], json!({}), "{what}: {v}");
                    assert!(
                        v["content_block"]["id"]
                            .as_str()
                            .is_some_and(|s| !s.is_empty())
                    );
                }
                open = Some((i, kind, String::new(), false));
            }
            "content_block_delta" => {
                let Some((i, kind, json_text, signed)) = open.as_mut() else {
                    panic!("{what}: delta outside a block: {v}");
                };
                assert_eq!(
                    v["index"].as_u64(),
                    Some(*i),
                    "{what}: delta for another block"
                );
                assert!(!*signed, "{what}: delta after the signature: {v}");
                let d = v["delta"]["type"].as_str().unwrap();
                match (kind.as_str(), d) {
                    ("text", "text_delta") | ("thinking", "thinking_delta") => {}
                    ("thinking", "signature_delta") => *signed = true,
                    ("tool_use", "input_json_delta") => {
                        json_text.push_str(v["delta"]["partial_json"].as_str().unwrap());
                    }
                    _ => panic!("{what}: {d} inside a {kind} block"),
                }
            }
            "content_block_stop" => {
                let Some((i, kind, json_text, _)) = open.take() else {
                    panic!("{what}: stop with no open block: {v}");
                };
                assert_eq!(
                    v["index"].as_u64(),
                    Some(i),
                    "{what}: stop for another block"
                );
                if kind == "tool_use" && !json_text.is_empty() {
                    let parsed: Value = serde_json::from_str(&json_text)
                        .unwrap_or_else(|e| panic!("{what}: tool input {json_text:?}: {e}"));
                    assert!(parsed.is_object(), "{what}: tool input {parsed}");
                }
            }
            "message_delta" | "message_stop" => {
                assert!(open.is_none(), "{what}: {open:?} still open at the end");
            }
            "message_start" | "ping" => {}
            other => panic!("{what}: unexpected event {other}"),
        }
    }
    out
}

fn client_decoder(c: Client) -> Box<dyn StreamDecoder> {
    match c {
        Client::OpenAi => Box::new(OpenAiStreamDecoder::new()),
        Client::Anthropic => Box::new(AnthropicStreamDecoder::new()),
    }
}

// ---------------------------------------------------------------------------------------
// What a sequence of canonical events says
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Seen {
    text: String,
    thinking: String,
    signatures: Vec<String>,
    /// (index, id, name, arguments, number of starts for that index)
    calls: Vec<(u32, String, String, String, usize)>,
    usages: Vec<Usage>,
    finishes: Vec<FinishReason>,
    errors: usize,
    starts: usize,
}

fn summarise(events: &[StreamEvent], what: &str) -> Seen {
    let mut s = Seen::default();
    for e in events {
        match e {
            StreamEvent::Start { .. } => s.starts += 1,
            StreamEvent::TextDelta { text } => s.text.push_str(text),
            StreamEvent::ThinkingDelta { text } => s.thinking.push_str(text),
            StreamEvent::ThinkingSignature { signature } => s.signatures.push(signature.clone()),
            StreamEvent::RedactedThinking { .. } => {}
            StreamEvent::ToolCallStart {
                index, id, name, ..
            } => match s.calls.iter_mut().find(|c| c.0 == *index) {
                Some(c) => c.4 += 1,
                None => s
                    .calls
                    .push((*index, id.clone(), name.clone(), String::new(), 1)),
            },
            StreamEvent::ToolCallDelta { index, arguments } => {
                let c = s
                    .calls
                    .iter_mut()
                    .find(|c| c.0 == *index)
                    .unwrap_or_else(|| panic!("{what}: arguments before the start of {index}"));
                c.3.push_str(arguments);
            }
            StreamEvent::Usage(u) => s.usages.push(*u),
            StreamEvent::Finish { reason, .. } => s.finishes.push(reason.clone()),
            StreamEvent::Error { .. } => s.errors += 1,
        }
    }
    s
}

/// Asserts that `events` say what `exp` says. `exactly_one_usage` holds after a client
/// encoder (the provider side may send running totals).
fn assert_matches(events: &[StreamEvent], exp: &Expected, exactly_one_usage: bool, what: &str) {
    let s = summarise(events, what);
    assert_eq!(s.errors, 0, "{what}: {events:?}");
    assert_eq!(s.starts, 1, "{what}: one Start");
    assert_eq!(s.text, exp.text, "{what}: text");
    assert_eq!(s.thinking, exp.thinking, "{what}: thinking");
    assert_eq!(
        s.signatures, exp.signatures,
        "{what}: signatures (pitfall 13)"
    );
    let indices: Vec<u32> = s.calls.iter().map(|c| c.0).collect();
    let want: Vec<u32> = (0..exp.calls.len() as u32).collect();
    assert_eq!(indices, want, "{what}: tool indices (pitfall 2)");
    for (got, want) in s.calls.iter().zip(&exp.calls) {
        assert_eq!(
            got.4, 1,
            "{what}: {} started {} times (pitfall 2)",
            got.1, got.4
        );
        assert_eq!(got.1, want.id, "{what}: call id");
        assert_eq!(got.2, want.name, "{what}: call name");
        let args: Value = serde_json::from_str(&got.3)
            .unwrap_or_else(|e| panic!("{what}: arguments {:?} are not JSON: {e}", got.3));
        assert_eq!(args, want.args, "{what}: arguments (pitfall 1)");
    }
    assert_eq!(
        s.finishes,
        vec![exp.finish.clone()],
        "{what}: finish (pitfall 26)"
    );
    if exactly_one_usage {
        assert_eq!(
            s.usages,
            vec![exp.usage],
            "{what}: one usage value (pitfalls 23, 24)"
        );
    } else {
        assert_eq!(
            s.usages.last(),
            Some(&exp.usage),
            "{what}: last usage (pitfall 24)"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Streams: provider → canonical → client → canonical
// ---------------------------------------------------------------------------------------

fn run_stream(p: Provider, s: Scenario, c: Client) {
    let what = format!("{p:?} → {c:?}, {s:?}");
    let native = provider_stream(p, s);
    let events = decode_with(
        provider_decoder(p),
        &native,
        7,
        &format!("{what} (provider)"),
    );
    // Whole or in 7-byte pieces, the provider decoder says the same (Start ids aside).
    let whole = decode_with(provider_decoder(p), &native, native.len(), &what);
    assert_eq!(events.len(), whole.len(), "{what}: split decoding differs");
    assert_matches(
        &events,
        &expected(p, s, None),
        false,
        &format!("{what} (provider)"),
    );

    let client_bytes = encode_client(c, &events, true);
    match c {
        Client::OpenAi => {
            let chunks = check_openai_stream(&client_bytes, true, &what);
            // The one usage chunk holds the final total, not a sum of running totals.
            let usage = &chunks[chunks.len() - 1]["usage"];
            assert_eq!(usage["prompt_tokens"], 10, "{what}: {usage}");
            assert_eq!(usage["completion_tokens"], 5, "{what}: {usage}");
            assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 6, "{what}");
        }
        Client::Anthropic => {
            let evs = check_anthropic_stream(&client_bytes, &what);
            let delta = &evs[evs.len() - 2];
            assert_eq!(delta["usage"]["output_tokens"], 5, "{what}: {delta}");
            assert_eq!(delta["usage"]["input_tokens"], 4, "{what}: {delta}");
            assert_eq!(
                delta["usage"]["cache_read_input_tokens"], 6,
                "{what}: {delta}"
            );
            let want = if s == Scenario::Tools {
                "tool_use"
            } else {
                "end_turn"
            };
            assert_eq!(delta["delta"]["stop_reason"], want, "{what}: pitfall 26");
        }
    }
    let back = decode_with(
        client_decoder(c),
        &client_bytes,
        5,
        &format!("{what} (client)"),
    );
    assert_matches(
        &back,
        &expected(p, s, Some(c)),
        true,
        &format!("{what} (client)"),
    );
}

#[test]
fn stream_text_every_provider_into_every_client() {
    for p in PROVIDERS {
        for c in CLIENTS {
            run_stream(p, Scenario::Text, c);
        }
    }
}

#[test]
fn stream_parallel_tool_calls_every_provider_into_every_client_pitfalls_1_2_4_26() {
    for p in PROVIDERS {
        for c in CLIENTS {
            run_stream(p, Scenario::Tools, c);
        }
    }
}

#[test]
fn stream_thinking_then_text_every_provider_into_every_client_pitfall_13() {
    for p in PROVIDERS {
        for c in CLIENTS {
            run_stream(p, Scenario::Thinking, c);
        }
    }
}

#[test]
fn stream_empty_answer_every_provider_into_every_client() {
    for p in PROVIDERS {
        for c in CLIENTS {
            run_stream(p, Scenario::Empty, c);
        }
    }
}

#[test]
fn openai_client_without_include_usage_gets_no_usage_chunk_pitfall_23() {
    for p in PROVIDERS {
        for s in SCENARIOS {
            let what = format!("{p:?} → OpenAi (no include_usage), {s:?}");
            let events = decode_with(provider_decoder(p), &provider_stream(p, s), 11, &what);
            let bytes = encode_client(Client::OpenAi, &events, false);
            check_openai_stream(&bytes, false, &what);
            let back = decode_with(client_decoder(Client::OpenAi), &bytes, 9, &what);
            assert!(
                back.iter().all(|e| !matches!(e, StreamEvent::Usage(_))),
                "{what}: {back:?}"
            );
        }
    }
}

/// An OpenAI upstream that starts both calls before either's arguments are complete and then
/// alternates their fragments: the Anthropic client still gets properly nested blocks, each
/// call's arguments whole (pitfalls 2, 3).
#[test]
fn interleaved_openai_parallel_calls_into_anthropic_stay_nested_pitfall_3() {
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({"id": "chatcmpl-i", "object": "chat.completion.chunk", "created": 1,
            "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let start = |i: u32, id: &str| {
        json!({"tool_calls": [{"index": i, "id": id, "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}]})
    };
    let args =
        |i: u32, a: &str| json!({"tool_calls": [{"index": i, "function": {"arguments": a}}]});
    let chunks = vec![
        chunk(json!({"role": "assistant"}), None),
        chunk(start(0, "call_0"), None),
        chunk(start(1, "call_1"), None),
        chunk(args(0, "{\"city\": \"Pa"), None),
        chunk(args(1, "{\"city\": \"Be"), None),
        chunk(args(0, "ris\"}"), None),
        chunk(args(1, "rlin\"}"), None),
        chunk(json!({}), Some("tool_calls")),
    ];
    let mut native = sse_data(&chunks, false);
    native.extend_from_slice(b"data: [DONE]\n\n");
    let events = decode_with(
        Box::new(OpenAiStreamDecoder::new()),
        &native,
        3,
        "interleaved",
    );
    let bytes = encode_client(Client::Anthropic, &events, true);
    check_anthropic_stream(&bytes, "interleaved");
    let back = decode_with(
        Box::new(AnthropicStreamDecoder::new()),
        &bytes,
        4,
        "interleaved",
    );
    let exp = Expected {
        text: String::new(),
        thinking: String::new(),
        signatures: Vec::new(),
        calls: vec![
            call("call_0", "get_weather", json!({"city": "Paris"})),
            call("call_1", "get_weather", json!({"city": "Berlin"})),
        ],
        finish: FinishReason::ToolCalls,
        usage: Usage::default(),
    };
    assert_matches(&back, &exp, true, "interleaved");
}

// ---------------------------------------------------------------------------------------
// Complete answers: native → response_from_P → response_to_C → response_from_C
// ---------------------------------------------------------------------------------------

fn openai_answer(s: Scenario) -> Value {
    let mut message = json!({"role": "assistant", "content": null, "refusal": null});
    let mut finish = "stop";
    match s {
        Scenario::Text => message["content"] = json!(TEXT_FRAGMENTS.concat()),
        Scenario::Tools => {
            message["content"] = json!(TOOLS_TEXT);
            message["tool_calls"] = json!([
                {"id": "call_a", "type": "function", "function": {"name": "get_weather",
                    "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "get_time",
                    "arguments": "{\"tz\":\"Asia/Tōkyō\",\"q\":\"\\\"x\\\"\"}"}},
            ]);
            finish = "tool_calls";
        }
        Scenario::Thinking => {
            message["reasoning_content"] = json!(THINKING_FRAGMENTS.concat());
            message["content"] = json!(ANSWER);
        }
        Scenario::Empty => message["content"] = json!(""),
    }
    json!({"id": "chatcmpl-up1", "object": "chat.completion", "created": 5, "model": "gpt-x",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 6},
            "completion_tokens_details": {"reasoning_tokens": expected_usage(Provider::OpenAi, s).reasoning}}})
}

fn anthropic_answer(s: Scenario) -> Value {
    let (content, reason) = match s {
        Scenario::Text => (
            json!([{"type": "text", "text": TEXT_FRAGMENTS.concat()}]),
            "end_turn",
        ),
        Scenario::Tools => (
            json!([
                {"type": "text", "text": TOOLS_TEXT},
                {"type": "tool_use", "id": "toolu_a", "name": "get_weather",
                    "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_b", "name": "get_time",
                    "input": {"tz": "Asia/Tōkyō", "q": "\"x\""}},
            ]),
            "tool_use",
        ),
        Scenario::Thinking => (
            json!([
                {"type": "thinking", "thinking": THINKING_FRAGMENTS.concat(),
                    "signature": "sig-anthropic"},
                {"type": "text", "text": ANSWER},
            ]),
            "end_turn",
        ),
        Scenario::Empty => (json!([]), "end_turn"),
    };
    json!({"id": "msg_up1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": content, "stop_reason": reason, "stop_sequence": null,
        "usage": {"input_tokens": 4, "output_tokens": 5, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 6}})
}

fn gemini_answer(s: Scenario) -> Value {
    let (parts, thoughts) = match s {
        Scenario::Text => (json!([{"text": TEXT_FRAGMENTS.concat()}]), 0),
        Scenario::Tools => (
            json!([
                {"text": TOOLS_TEXT},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Tōkyō"}}},
            ]),
            0,
        ),
        Scenario::Thinking => (
            json!([
                {"text": THINKING_FRAGMENTS.concat(), "thought": true,
                    "thoughtSignature": GEMINI_SIGNATURE},
                {"text": ANSWER},
            ]),
            3,
        ),
        Scenario::Empty => (json!([]), 0),
    };
    json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
        "index": 0}], "usageMetadata": {"promptTokenCount": 10,
        "candidatesTokenCount": 5 - thoughts, "thoughtsTokenCount": thoughts,
        "cachedContentTokenCount": 6, "totalTokenCount": 15}, "modelVersion": "gemini-x",
        "responseId": "resp-g1"})
}

fn bedrock_answer(s: Scenario) -> Value {
    let (content, reason) = match s {
        Scenario::Text => (json!([{"text": TEXT_FRAGMENTS.concat()}]), "end_turn"),
        Scenario::Tools => (
            json!([
                {"text": TOOLS_TEXT},
                {"toolUse": {"toolUseId": "tooluse_a", "name": "get_weather",
                    "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "tooluse_b", "name": "get_time",
                    "input": {"tz": "Asia/Tōkyō", "q": "\"x\""}}},
            ]),
            "tool_use",
        ),
        Scenario::Thinking => (
            json!([
                {"reasoningContent": {"reasoningText": {"text": THINKING_FRAGMENTS.concat(),
                    "signature": "sig-bedrock"}}},
                {"text": ANSWER},
            ]),
            "end_turn",
        ),
        Scenario::Empty => (json!([]), "end_turn"),
    };
    json!({"output": {"message": {"role": "assistant", "content": content}},
        "stopReason": reason, "usage": {"inputTokens": 4, "outputTokens": 5, "totalTokens": 15,
        "cacheReadInputTokens": 6}, "metrics": {"latencyMs": 80}})
}

fn response_from_provider(p: Provider, s: Scenario) -> ChatResponse {
    let (body, parsed) = match p {
        Provider::OpenAi => {
            let b = openai_answer(s).to_string();
            let r = response_from_openai(b.as_bytes());
            (b, r)
        }
        Provider::Anthropic => {
            let b = anthropic_answer(s).to_string();
            let r = response_from_anthropic(b.as_bytes());
            (b, r)
        }
        Provider::Gemini => {
            let b = gemini_answer(s).to_string();
            let r = response_from_gemini(b.as_bytes());
            (b, r)
        }
        Provider::Bedrock => {
            let b = bedrock_answer(s).to_string();
            let r = response_from_bedrock(b.as_bytes());
            (b, r)
        }
    };
    parsed.unwrap_or_else(|e| panic!("{p:?} {s:?}: {e}: {body}"))
}

/// A complete answer reduced to what must survive a translation.
#[derive(Debug, PartialEq)]
struct AnswerSummary {
    text: String,
    thinking: Vec<(String, Option<String>)>,
    calls: Vec<ExpectedCall>,
    finish: Option<FinishReason>,
    usage: Usage,
}

fn answer_summary(r: &ChatResponse) -> AnswerSummary {
    let mut a = AnswerSummary {
        text: String::new(),
        thinking: Vec::new(),
        calls: Vec::new(),
        finish: r.finish.clone(),
        usage: r.usage,
    };
    for p in &r.content {
        match p {
            Part::Text { text, .. } => a.text.push_str(text),
            // An Anthropic `thinking` block always has a `signature`; `""` is its "unsigned".
            Part::Thinking { text, signature } => a
                .thinking
                .push((text.clone(), signature.clone().filter(|s| !s.is_empty()))),
            Part::ToolCall {
                id,
                name,
                arguments,
                ..
            } => a.calls.push(ExpectedCall {
                id: id.clone(),
                name: name.clone(),
                args: serde_json::from_str(arguments)
                    .unwrap_or_else(|e| panic!("arguments {arguments:?}: {e}")),
            }),
            other => panic!("unexpected part {other:?}"),
        }
    }
    a
}

fn expected_answer(p: Provider, s: Scenario, c: Option<Client>) -> AnswerSummary {
    let e = expected(p, s, c);
    let thinking = if e.thinking.is_empty() {
        Vec::new()
    } else {
        vec![(e.thinking.clone(), e.signatures.first().cloned())]
    };
    AnswerSummary {
        text: e.text,
        thinking,
        calls: e.calls,
        finish: Some(e.finish),
        usage: e.usage,
    }
}

#[test]
fn complete_answers_every_provider_into_every_client() {
    for p in PROVIDERS {
        for s in SCENARIOS {
            let original = response_from_provider(p, s);
            assert_eq!(
                answer_summary(&original),
                expected_answer(p, s, None),
                "{p:?} {s:?}"
            );
            for c in CLIENTS {
                let what = format!("{p:?} → {c:?}, {s:?} (complete)");
                let back = match c {
                    Client::OpenAi => {
                        let body = response_to_openai(&original, "route-x");
                        let v: Value = serde_json::from_slice(&body).unwrap();
                        assert_eq!(v["object"], "chat.completion", "{what}");
                        let want = if s == Scenario::Tools {
                            "tool_calls"
                        } else {
                            "stop"
                        };
                        assert_eq!(v["choices"][0]["finish_reason"], want, "{what}");
                        response_from_openai(&body)
                    }
                    Client::Anthropic => {
                        let body = response_to_anthropic(&original, "route-x");
                        let v: Value = serde_json::from_slice(&body).unwrap();
                        assert_eq!(v["type"], "message", "{what}");
                        // Pitfall 11: no empty text block, ever.
                        for b in v["content"].as_array().unwrap() {
                            assert!(b["type"] != "text" || b["text"] != "", "{what}: {v}");
                        }
                        let want = if s == Scenario::Tools {
                            "tool_use"
                        } else {
                            "end_turn"
                        };
                        assert_eq!(v["stop_reason"], want, "{what}");
                        response_from_anthropic(&body)
                    }
                }
                .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(
                    answer_summary(&back),
                    expected_answer(p, s, Some(c)),
                    "{what}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests: one canonical conversation into every provider format
// ---------------------------------------------------------------------------------------

const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const CALL_1: &str = "call_1";
/// A Kimi-style id with characters Anthropic's pattern rejects (pitfall 20).
const CALL_2: &str = "functions.get_weather:2";

fn png() -> Part {
    Part::Image {
        source: MediaSource::Base64 {
            media_type: "image/png".into(),
            data: PNG_B64.into(),
        },
        detail: None,
        cache_control: None,
    }
}

fn tool_result(call_id: &str, content: Vec<Part>) -> Message {
    Message {
        role: Role::Tool,
        content: vec![Part::ToolResult {
            call_id: call_id.into(),
            name: None,
            content,
            is_error: false,
            cache_control: None,
        }],
        name: None,
    }
}

/// System at 0, 3 and 5; an image by value and by URL; an assistant turn with empty text,
/// signed thinking and two parallel calls; their results as two separate tool messages (the
/// OpenAI shape), one with an image; an empty assistant message; a final user turn.
fn conversation() -> ChatRequest {
    let msgs = vec![
        Message::text(Role::System, "S0: you are terse."),
        Message {
            role: Role::User,
            content: vec![Part::text("Look at this."), png()],
            name: None,
        },
        Message::text(Role::Assistant, "A square pixel."),
        Message::text(Role::System, "S3: use metric units."),
        Message {
            role: Role::User,
            content: vec![
                Part::text("Weather in Paris and Tokyo?"),
                Part::Image {
                    source: MediaSource::Url("https://example.com/map.png".into()),
                    detail: Some("low".into()),
                    cache_control: None,
                },
            ],
            name: None,
        },
        Message::text(Role::System, "S5: be brief."),
        Message {
            role: Role::Assistant,
            content: vec![
                Part::Thinking {
                    text: "Two cities, two calls.".into(),
                    signature: Some("sig-req".into()),
                },
                Part::text(""),
                Part::ToolCall {
                    id: CALL_1.into(),
                    name: "get_weather".into(),
                    arguments: "{\"city\":\"Paris\"}".into(),
                    signature: None,
                },
                Part::ToolCall {
                    id: CALL_2.into(),
                    name: "get_weather".into(),
                    arguments: "{\"city\":\"Tokyo\"}".into(),
                    signature: None,
                },
            ],
            name: None,
        },
        tool_result(CALL_1, vec![Part::text("18 C")]),
        tool_result(CALL_2, vec![Part::text("22 C and a photo"), png()]),
        Message {
            role: Role::Assistant,
            content: vec![Part::text("")],
            name: None,
        },
        Message::text(Role::User, "Thanks. And tomorrow?"),
    ];
    ChatRequest {
        model: "route-x".into(),
        messages: msgs,
        tools: vec![Tool {
            name: "get_weather".into(),
            description: Some("Weather for a city".into()),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}},
                "required": ["city"]}),
            strict: None,
            cache_control: None,
        }],
        tool_choice: Some(ToolChoice::Auto),
        reasoning: Some(Reasoning {
            budget_tokens: Some(2048),
            ..Reasoning::default()
        }),
        max_tokens: Some(4096),
        ..ChatRequest::default()
    }
}

/// The tool-call ids of assistant turns, and the ids tool results answer, in order.
fn canonical_ids(req: &ChatRequest) -> (Vec<String>, Vec<String>) {
    let mut calls = Vec::new();
    let mut results = Vec::new();
    for m in &req.messages {
        for p in &m.content {
            match p {
                Part::ToolCall { id, .. } => calls.push(id.clone()),
                Part::ToolResult { call_id, .. } => results.push(call_id.clone()),
                _ => {}
            }
        }
    }
    (calls, results)
}

fn roles(req: &ChatRequest) -> Vec<Role> {
    req.messages.iter().map(|m| m.role).collect()
}

#[test]
fn request_to_openai_and_back_keeps_order_ids_and_content_pitfalls_7_10_11_20() {
    let req = conversation();
    let body = to_openai(&req, "gpt-x", &OpenAiOptions::default());
    let v: Value = serde_json::from_slice(&body).unwrap();
    let msgs = v["messages"].as_array().unwrap();
    // System messages keep their places (pitfall 10); each result is its own tool message
    // right after the calling assistant turn (pitfall 7, OpenAI side); the image a tool
    // returned follows in a user message.
    let wire_roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        wire_roles,
        [
            "system",
            "user",
            "assistant",
            "system",
            "user",
            "system",
            "assistant",
            "tool",
            "tool",
            "user",
            "assistant",
            "user"
        ]
    );
    // Pitfall 11: an assistant turn that only calls tools has `content: null`.
    assert_eq!(msgs[6]["content"], Value::Null);
    assert_eq!(msgs[6]["tool_calls"][1]["id"], CALL_2);
    assert_eq!(msgs[8]["tool_call_id"], CALL_2);

    let back = from_openai(&ChatBody::parse(&body).unwrap()).unwrap();
    let (calls, results) = canonical_ids(&back);
    assert_eq!(calls, [CALL_1, CALL_2], "pitfall 20");
    assert_eq!(results, [CALL_1, CALL_2], "pitfall 20");
    let system_at: Vec<usize> = back
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.role == Role::System)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(system_at, [0, 3, 5], "pitfall 10");
    assert_eq!(back.messages[3].joined_text(), "S3: use metric units.");
    // The base64 image survives as base64; the URL image as the URL with its detail.
    assert!(back.messages[1].content.contains(&png()));
    assert!(back.messages[4].content.iter().any(|p| matches!(p,
        Part::Image { source: MediaSource::Url(u), detail: Some(d), .. }
            if u == "https://example.com/map.png" && d == "low")));
    // Thinking text comes back (as reasoning_content); the signature has no OpenAI carrier.
    assert!(back.messages[6].content.iter().any(|p| matches!(p,
        Part::Thinking { text, .. } if text == "Two cities, two calls.")));
    assert!(back.tools.len() == 1 && back.tools[0].name == "get_weather");
}

#[test]
fn request_to_anthropic_and_back_groups_results_and_keeps_ids_pitfalls_7_10_11_13_20() {
    for from_anthropic_client in [false, true] {
        let mut req = conversation();
        if from_anthropic_client {
            req.extra.format = Some(WireFormat::Anthropic);
        }
        let what = format!("anthropic client: {from_anthropic_client}");
        let body = to_anthropic(&req, "claude-x", 1024);
        let v: Value = serde_json::from_slice(&body).unwrap();
        let msgs = v["messages"].as_array().unwrap();
        // Pitfall 11: no empty text block anywhere, no empty message.
        for m in msgs {
            match &m["content"] {
                Value::String(s) => assert!(!s.is_empty(), "{what}: {m}"),
                Value::Array(blocks) => {
                    assert!(!blocks.is_empty(), "{what}: {m}");
                    for b in blocks {
                        assert!(b["type"] != "text" || b["text"] != "", "{what}: {m}");
                    }
                }
                other => panic!("{what}: content {other}"),
            }
        }
        // Pitfall 7: both results in ONE user message, tool_result blocks first.
        let with_results: Vec<&Value> = msgs
            .iter()
            .filter(|m| {
                m["content"]
                    .as_array()
                    .is_some_and(|b| b.iter().any(|b| b["type"] == "tool_result"))
            })
            .collect();
        assert_eq!(with_results.len(), 1, "{what}: {v}");
        let blocks = with_results[0]["content"].as_array().unwrap();
        assert_eq!(with_results[0]["role"], "user");
        assert_eq!(blocks[0]["type"], "tool_result");
        assert_eq!(blocks[1]["type"], "tool_result");
        // Pitfall 20: sanitised ids, the same on the call and on its result.
        let uses: Vec<&Value> = msgs
            .iter()
            .flat_map(|m| m["content"].as_array().into_iter().flatten())
            .filter(|b| b["type"] == "tool_use")
            .collect();
        assert_eq!(uses.len(), 2);
        for (u, r) in uses.iter().zip(blocks) {
            let id = u["id"].as_str().unwrap();
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{id}"
            );
            assert_eq!(r["tool_use_id"], u["id"], "{what}");
        }
        // Pitfall 13: the signed thinking block is replayed with its signature, first.
        let assistant = msgs
            .iter()
            .find(|m| {
                m["role"] == "assistant" && m["content"].as_array().is_some_and(|b| b.len() > 1)
            })
            .unwrap();
        assert_eq!(assistant["content"][0]["type"], "thinking");
        assert_eq!(assistant["content"][0]["signature"], "sig-req");

        let back = from_anthropic(&body).unwrap_or_else(|e| panic!("{what}: {e}"));
        let (calls, results) = canonical_ids(&back);
        assert_eq!(calls, results, "{what}: results still answer their calls");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0], CALL_1);
        let system: Vec<String> = back
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(Message::joined_text)
            .collect();
        let all = system.join("\n");
        for s in ["S0", "S3", "S5"] {
            assert!(all.contains(s), "{what}: {s} lost: {system:?}");
        }
        if from_anthropic_client {
            // Claude Code's mid-conversation system messages stay in place (pitfall 10).
            let at: Vec<Role> = roles(&back);
            assert_eq!(at[0], Role::System);
            assert!(
                at.iter().skip(1).filter(|r| **r == Role::System).count() == 2,
                "{at:?}"
            );
        } else {
            assert!(
                back.messages.iter().skip(1).all(|m| m.role != Role::System),
                "{what}"
            );
        }
        assert!(
            back.messages.iter().any(|m| m.content.contains(&png())),
            "{what}: image"
        );
    }
}

fn assert_alternates(turns: &[Value], model_role: &str, what: &str) {
    assert_eq!(turns[0]["role"], "user", "{what}: starts with a user turn");
    for w in turns.windows(2) {
        assert_ne!(
            w[0]["role"], w[1]["role"],
            "{what}: two {} turns in a row (pitfall 9)",
            w[0]["role"]
        );
    }
    for t in turns {
        let r = t["role"].as_str().unwrap();
        assert!(r == "user" || r == model_role, "{what}: role {r}");
    }
}

#[test]
fn request_to_gemini_pairs_every_call_with_one_response_pitfalls_8_9_10_11_15() {
    let req = conversation();
    let v: Value = serde_json::from_slice(&to_gemini(&req)).unwrap();
    assert_eq!(
        v["systemInstruction"]["parts"],
        json!([{"text": "S0: you are terse."}])
    );
    let turns = v["contents"].as_array().unwrap();
    assert_alternates(turns, "model", "gemini");
    let all_text: Vec<&str> = turns
        .iter()
        .flat_map(|t| t["parts"].as_array().unwrap())
        .filter_map(|p| p["text"].as_str())
        .collect();
    // Pitfall 10: later system messages keep their place as text.
    assert!(
        all_text.contains(&"System: S3: use metric units."),
        "{all_text:?}"
    );
    assert!(all_text.contains(&"System: S5: be brief."), "{all_text:?}");
    for (i, t) in turns.iter().enumerate() {
        let parts = t["parts"].as_array().unwrap();
        assert!(!parts.is_empty(), "pitfall 11: turn {i} has no parts");
        for p in parts {
            assert!(
                p.get("text").is_none_or(|t| t != ""),
                "pitfall 11: empty text in turn {i}"
            );
        }
        // Pitfall 8: a model turn's calls are answered one for one, in order and by id, at
        // the start of the next turn (pitfall 15).
        let calls: Vec<&Value> = parts.iter().filter_map(|p| p.get("functionCall")).collect();
        if calls.is_empty() {
            continue;
        }
        let next = turns[i + 1]["parts"].as_array().unwrap();
        let responses: Vec<&Value> = next
            .iter()
            .filter_map(|p| p.get("functionResponse"))
            .collect();
        assert_eq!(responses.len(), calls.len(), "pitfall 8");
        for (k, (c, r)) in calls.iter().zip(&responses).enumerate() {
            assert!(
                next[k].get("functionResponse").is_some(),
                "responses come first"
            );
            assert_eq!(c["id"], r["id"], "pitfall 15");
            assert_eq!(c["name"], r["name"]);
            assert!(c["args"].is_object() && r["response"].is_object());
        }
        assert_eq!(calls[0]["id"], CALL_1);
        assert_eq!(calls[1]["id"], CALL_2);
    }
    // Signed thinking is replayed as a thought part; images by value and by URL.
    let parts: Vec<&Value> = turns
        .iter()
        .flat_map(|t| t["parts"].as_array().unwrap())
        .collect();
    assert!(
        parts
            .iter()
            .any(|p| p["thought"] == true && p["thoughtSignature"] == "sig-req")
    );
    assert!(
        parts
            .iter()
            .any(|p| p["inlineData"]["mimeType"] == "image/png")
    );
    assert!(
        parts
            .iter()
            .any(|p| p["fileData"]["fileUri"] == "https://example.com/map.png")
    );
}

#[test]
fn request_to_bedrock_alternates_and_groups_results_pitfalls_7_9_10_11_13_20() {
    let req = conversation();
    let v: Value =
        serde_json::from_slice(&to_bedrock(&req, "anthropic.claude-sonnet-4-v1:0")).unwrap();
    assert_eq!(v["system"], json!([{"text": "S0: you are terse."}]));
    let turns = v["messages"].as_array().unwrap();
    assert_alternates(turns, "assistant", "bedrock");
    let blocks: Vec<&Value> = turns
        .iter()
        .flat_map(|t| t["content"].as_array().unwrap())
        .collect();
    let texts: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
    assert!(
        texts.contains(&"System: S3: use metric units."),
        "pitfall 10: {texts:?}"
    );
    assert!(
        texts.contains(&"System: S5: be brief."),
        "pitfall 10: {texts:?}"
    );
    assert!(
        texts.iter().all(|t| !t.trim().is_empty()),
        "pitfall 11: {texts:?}"
    );
    for t in turns {
        assert!(
            !t["content"].as_array().unwrap().is_empty(),
            "pitfall 11: {t}"
        );
    }
    // Pitfall 7: one user message holds both results, first.
    let with_results: Vec<&Value> = turns
        .iter()
        .filter(|t| {
            t["content"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b.get("toolResult").is_some())
        })
        .collect();
    assert_eq!(with_results.len(), 1, "{v}");
    let content = with_results[0]["content"].as_array().unwrap();
    assert!(content[0].get("toolResult").is_some() && content[1].get("toolResult").is_some());
    // Pitfall 20: the ids on the results are the ids on the calls.
    let uses: Vec<&Value> = blocks.iter().filter_map(|b| b.get("toolUse")).collect();
    assert_eq!(uses.len(), 2);
    assert_eq!(uses[0]["toolUseId"], content[0]["toolResult"]["toolUseId"]);
    assert_eq!(uses[1]["toolUseId"], content[1]["toolResult"]["toolUseId"]);
    assert!(uses.iter().all(|u| u["input"].is_object()));
    // Pitfall 13: reasoning replayed with its signature; the tool config is present.
    assert!(
        blocks
            .iter()
            .any(|b| b["reasoningContent"]["reasoningText"]["signature"] == "sig-req")
    );
    assert!(
        v["toolConfig"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    // Base64 images go by value; Bedrock cannot fetch the URL one (pitfall 22).
    assert!(blocks.iter().any(|b| b["image"]["format"] == "png"));
    assert!(
        texts
            .iter()
            .any(|t| t.contains("https://example.com/map.png"))
    );
}

/// An Anthropic client answered by an OpenAI-format upstream got thinking with no signature
/// (`"signature": ""`, the only form the block allows) and sends it back in its history. No
/// target can replay that block: Anthropic and Gemini drop it, and so must Bedrock, which
/// validates the signature and rejects an empty one (pitfall 13).
#[test]
fn unsigned_thinking_replayed_by_an_anthropic_client_is_dropped_for_every_target() {
    let answer = response_from_provider(Provider::OpenAi, Scenario::Thinking);
    let client_body = response_to_anthropic(&answer, "route-x");
    let content: Value = serde_json::from_slice::<Value>(&client_body).unwrap()["content"].clone();
    assert_eq!(content[0]["signature"], "");
    let history = json!({"model": "route-x", "max_tokens": 4096, "messages": [
        {"role": "user", "content": "Think."},
        {"role": "assistant", "content": content},
        {"role": "user", "content": "Again."},
    ]});
    let req = from_anthropic(history.to_string().as_bytes()).unwrap();

    let anthropic: Value = serde_json::from_slice(&to_anthropic(&req, "claude-x", 1024)).unwrap();
    let gemini: Value = serde_json::from_slice(&to_gemini(&req)).unwrap();
    let bedrock: Value =
        serde_json::from_slice(&to_bedrock(&req, "anthropic.claude-sonnet-4-v1:0")).unwrap();
    for (target, body) in [
        ("anthropic", &anthropic),
        ("gemini", &gemini),
        ("bedrock", &bedrock),
    ] {
        let text = body.to_string();
        assert!(
            !text.contains("Let me think."),
            "{target} replays unsigned thinking: {text}"
        );
        assert!(
            text.contains(ANSWER),
            "{target} lost the answer text: {text}"
        );
    }
}

/// OpenAI-format models often put `"\n\n"` in `content` next to their tool calls, and
/// clients send such turns back verbatim. Anthropic rejects a whitespace-only text block
/// ("text content blocks must contain non-whitespace text"; LibreChat-AI/agents#124,
/// anthropics/claude-code#23440), so `to_anthropic` must drop it like an empty one, as
/// `to_bedrock` already does (pitfall 11).
#[test]
fn whitespace_only_text_from_an_openai_client_never_reaches_anthropic_pitfall_11() {
    let body = json!({"model": "route-x", "messages": [
        {"role": "system", "content": " "},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "\n\n", "tool_calls": [{"id": "call_1",
            "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "user", "content": [{"type": "text", "text": "\t"}, {"type": "text", "text": "Thanks"}]},
    ]});
    let req = from_openai(&ChatBody::parse(body.to_string().as_bytes()).unwrap()).unwrap();
    let v: Value = serde_json::from_slice(&to_anthropic(&req, "claude-x", 1024)).unwrap();
    assert!(v.get("system").is_none(), "{v}");
    for m in v["messages"].as_array().unwrap() {
        match &m["content"] {
            Value::String(s) => assert!(!s.trim().is_empty(), "{m}"),
            Value::Array(blocks) => {
                for b in blocks {
                    let blank = b["text"].as_str().is_some_and(|t| t.trim().is_empty());
                    assert!(!blank, "whitespace-only text block: {m}");
                    let inner = b["content"].as_array().into_iter().flatten();
                    for c in inner {
                        assert!(
                            c["text"].as_str().is_none_or(|t| !t.trim().is_empty()),
                            "{m}"
                        );
                    }
                }
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(v["messages"][1]["content"][0]["type"], "tool_use", "{v}");
}

/// The stream checkers above are live: they reject the broken sequences gateways are known
/// to produce (overlapping blocks, a delta for a closed block, two usage chunks, no [DONE]).
#[test]
fn the_stream_checkers_reject_broken_streams() {
    let rejects = |f: &(dyn Fn() + std::panic::RefUnwindSafe)| std::panic::catch_unwind(f).is_err();
    let start = json!({"type": "message_start", "message": {"id": "m", "type": "message",
        "role": "assistant", "model": "x", "content": [], "usage": {}}});
    let tail = [
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}}),
        json!({"type": "message_stop"}),
    ];
    let text_start = |i: u64| json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}});
    let stop = |i: u64| json!({"type": "content_block_stop", "index": i});
    let delta = |i: u64| json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": "x"}});
    let ok: Vec<Value> = [
        vec![start.clone(), text_start(0), delta(0), stop(0)],
        tail.to_vec(),
    ]
    .concat();
    check_anthropic_stream(&sse_named(&ok), "ok");
    let overlapping: Vec<Value> = [
        vec![
            start.clone(),
            text_start(0),
            text_start(1),
            stop(1),
            stop(0),
        ],
        tail.to_vec(),
    ]
    .concat();
    assert!(rejects(&|| {
        check_anthropic_stream(&sse_named(&overlapping), "overlapping");
    }));
    let late: Vec<Value> = [
        vec![start.clone(), text_start(0), stop(0), delta(0)],
        tail.to_vec(),
    ]
    .concat();
    assert!(rejects(&|| {
        check_anthropic_stream(&sse_named(&late), "late delta");
    }));
    let skipped: Vec<Value> = [vec![start, text_start(1), stop(1)], tail.to_vec()].concat();
    assert!(rejects(&|| {
        check_anthropic_stream(&sse_named(&skipped), "index 1 first");
    }));

    let chunk = |choices: Value, usage: Value| json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": choices, "usage": usage});
    let finish = json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]);
    let usage = json!({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2});
    let good = sse_data(
        &[
            chunk(finish.clone(), Value::Null),
            chunk(json!([]), usage.clone()),
        ],
        false,
    );
    let mut with_done = good.clone();
    with_done.extend_from_slice(b"data: [DONE]\n\n");
    check_openai_stream(&with_done, true, "ok");
    assert!(rejects(&|| {
        check_openai_stream(&good, true, "no [DONE]");
    }));
    let mut twice = sse_data(
        &[
            chunk(finish.clone(), usage.clone()),
            chunk(json!([]), usage.clone()),
        ],
        false,
    );
    twice.extend_from_slice(b"data: [DONE]\n\n");
    assert!(rejects(&|| {
        check_openai_stream(&twice, true, "two usage chunks");
    }));
}
