//! Anthropic streams: the decoder (provider SSE → canonical events), the encoder (canonical
//! events → client SSE, validated by a state machine), round trips, and the passthrough peek.

use bytes::BytesMut;
use modelmux_wire::anthropic::{AnthropicPeek, AnthropicStreamDecoder, AnthropicStreamEncoder};
use modelmux_wire::canonical::{FinishReason, StreamEvent, Usage};
use modelmux_wire::codec::{ErrorKind, StreamDecoder, StreamEncoder};
use modelmux_wire::sse::{SseItem, SseParser};
use serde_json::{Value, json};

/// Builds an Anthropic SSE stream from (event, data) pairs.
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helper: a failed unwrap or assertion is a failed test"
)]
fn sse(events: &[Value]) -> Vec<u8> {
    let mut out = String::new();
    for e in events {
        let name = e["type"].as_str().unwrap();
        out.push_str(&format!("event: {name}\ndata: {e}\n\n"));
    }
    out.into_bytes()
}

fn decode_all(bytes: &[u8]) -> (Vec<StreamEvent>, Result<(), String>) {
    let mut d = AnthropicStreamDecoder::new();
    let mut out = Vec::new();
    if let Err(e) = d.push(bytes, &mut out) {
        return (out, Err(e.message));
    }
    let fin = d.finish(&mut out).map_err(|e| e.message);
    (out, fin)
}

fn encode_all(events: &[StreamEvent]) -> Vec<u8> {
    let mut enc = AnthropicStreamEncoder::new("route-a");
    let mut out = BytesMut::new();
    for e in events {
        enc.encode(e, &mut out);
    }
    enc.finish(&mut out);
    out.to_vec()
}

/// The encoder's output as (event name, data) pairs; the name must equal the data's `type`.
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helper: a failed unwrap or assertion is a failed test"
)]
fn parse_sse(bytes: &[u8]) -> Vec<(String, Value)> {
    let mut p = SseParser::new();
    p.push(bytes);
    let mut out = Vec::new();
    while let Some(item) = p.next_item() {
        let SseItem::Event(e) = item else {
            panic!("comment in an Anthropic stream")
        };
        let name = e.event.expect("every Anthropic event has an event: line");
        let data: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(data["type"], name.as_str());
        out.push((name, data));
    }
    assert!(!p.has_partial());
    out
}

/// The state machine a Messages client (and the SDK's accumulator) relies on (pitfall 3):
/// `message_start` first; per block `content_block_start` → deltas of the block's kind →
/// `content_block_stop`, indices 0, 1, 2, ... and never two blocks open; then one
/// `message_delta` and `message_stop` last. Returns the assembled tool inputs by block.
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helper: a failed unwrap or assertion is a failed test"
)]
fn check_stream(events: &[(String, Value)]) -> Vec<(String, Value)> {
    assert!(!events.is_empty());
    assert_eq!(events[0].0, "message_start");
    assert_eq!(events[0].1["message"]["content"], json!([]));
    let mut next_index = 0u64;
    let mut open: Option<(u64, String)> = None;
    let mut tools: Vec<(String, String)> = Vec::new();
    let mut saw_delta = false;
    for (i, (name, data)) in events.iter().enumerate().skip(1) {
        match name.as_str() {
            "message_start" => panic!("second message_start at {i}"),
            "content_block_start" => {
                assert!(open.is_none(), "block opened while {open:?} is open");
                assert!(!saw_delta, "block after message_delta");
                let index = data["index"].as_u64().unwrap();
                assert_eq!(index, next_index, "indices must be 0, 1, 2, ...");
                next_index += 1;
                let kind = data["content_block"]["type"].as_str().unwrap().to_owned();
                match kind.as_str() {
                    "text" => assert_eq!(data["content_block"]["text"], ""),
                    "tool_use" => {
                        assert_eq!(data["content_block"]["input"], json!({}));
                        let id = data["content_block"]["id"].as_str().unwrap();
                        assert!(
                            !id.is_empty()
                                && id
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        );
                        tools.push((
                            data["content_block"]["name"].as_str().unwrap().to_owned(),
                            String::new(),
                        ));
                    }
                    "thinking" | "redacted_thinking" => {}
                    other => panic!("unexpected block type {other}"),
                }
                open = Some((index, kind));
            }
            "content_block_delta" => {
                let (index, kind) = open.as_ref().expect("delta outside a block");
                assert_eq!(data["index"].as_u64(), Some(*index));
                let dt = data["delta"]["type"].as_str().unwrap();
                let ok = match dt {
                    "text_delta" => kind == "text",
                    "input_json_delta" => {
                        tools
                            .last_mut()
                            .unwrap()
                            .1
                            .push_str(data["delta"]["partial_json"].as_str().unwrap());
                        kind == "tool_use"
                    }
                    "thinking_delta" | "signature_delta" => kind == "thinking",
                    _ => false,
                };
                assert!(ok, "{dt} inside a {kind} block");
            }
            "content_block_stop" => {
                let (index, _) = open.take().expect("stop without an open block");
                assert_eq!(data["index"].as_u64(), Some(index));
            }
            "message_delta" => {
                assert!(open.is_none(), "message_delta with a block open");
                assert!(!saw_delta, "two message_delta events");
                assert!(data["delta"]["stop_reason"].is_string());
                assert!(data["usage"]["output_tokens"].is_u64());
                saw_delta = true;
            }
            "message_stop" => {
                assert!(saw_delta, "message_stop without message_delta");
                assert_eq!(i, events.len() - 1, "message_stop must be last");
            }
            "ping" => {}
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(events.last().unwrap().0, "message_stop");
    tools
        .into_iter()
        .map(|(name, json)| {
            let input = if json.is_empty() {
                json!({})
            } else {
                serde_json::from_str(&json).unwrap()
            };
            (name, input)
        })
        .collect()
}

fn start(usage: Option<Usage>) -> StreamEvent {
    StreamEvent::Start {
        id: "msg_1".into(),
        model: "route-a".into(),
        usage,
    }
}

fn text(t: &str) -> StreamEvent {
    StreamEvent::TextDelta { text: t.into() }
}

fn tool_start(index: u32, id: &str, name: &str) -> StreamEvent {
    StreamEvent::ToolCallStart {
        index,
        id: id.into(),
        name: name.into(),
        signature: None,
    }
}

fn tool_delta(index: u32, args: &str) -> StreamEvent {
    StreamEvent::ToolCallDelta {
        index,
        arguments: args.into(),
    }
}

fn finish(reason: FinishReason) -> StreamEvent {
    StreamEvent::Finish {
        reason,
        stop_sequence: None,
    }
}

/// wire-formats §5.2, as the API sends it.
fn documented_stream() -> Vec<u8> {
    sse(&[
        json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}),
        json!({"type":"ping"}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}),
        json!({"type":"content_block_stop","index":0}),
        json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}),
        json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": "}}),
        json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}),
        json!({"type":"content_block_stop","index":1}),
        json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":5}}),
        json!({"type":"message_stop"}),
    ])
}

fn documented_events() -> Vec<StreamEvent> {
    vec![
        StreamEvent::Start {
            id: "msg_1".into(),
            model: "claude-sonnet-4-5".into(),
            usage: Some(Usage {
                input: 12,
                output: 1,
                ..Usage::default()
            }),
        },
        text("Hel"),
        tool_start(0, "toolu_01", "get_weather"),
        tool_delta(0, "{\"city\": "),
        tool_delta(0, "\"Paris\"}"),
        finish(FinishReason::ToolCalls),
        StreamEvent::Usage(Usage {
            input: 12,
            output: 5,
            ..Usage::default()
        }),
    ]
}

// ---------------------------------------------------------------- decoder

#[test]
fn decoder_reads_the_documented_sequence() {
    let (events, fin) = decode_all(&documented_stream());
    assert_eq!(fin, Ok(()));
    assert_eq!(events, documented_events());
}

#[test]
fn decoder_accepts_bytes_split_anywhere() {
    let bytes = documented_stream();
    for split in 0..bytes.len() {
        let mut d = AnthropicStreamDecoder::new();
        let mut out = Vec::new();
        d.push(&bytes[..split], &mut out).unwrap();
        d.push(&bytes[split..], &mut out).unwrap();
        d.finish(&mut out).unwrap();
        assert_eq!(out, documented_events(), "split at {split}");
    }
}

#[test]
fn pitfall_05_no_argument_tool_gives_start_only() {
    let (events, fin) = decode_all(&sse(&[
        json!({"type":"message_start","message":{"id":"msg_2","model":"m","usage":{"input_tokens":3,"output_tokens":1}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_9","name":"now","input":{}}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}),
        json!({"type":"content_block_stop","index":0}),
        json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_10","name":"later","input":{}}}),
        json!({"type":"content_block_stop","index":1}),
        json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}),
        json!({"type":"message_stop"}),
    ]));
    assert_eq!(fin, Ok(()));
    assert_eq!(
        events[1..3],
        [
            tool_start(0, "toolu_9", "now"),
            tool_start(1, "toolu_10", "later")
        ]
    );
    assert_eq!(events.len(), 5);
}

#[test]
fn pitfall_24_cumulative_usage_is_not_double_counted() {
    let (events, fin) = decode_all(&sse(&[
        json!({"type":"message_start","message":{"id":"m","model":"m","usage":{"input_tokens":10,"cache_read_input_tokens":1000,"cache_creation_input_tokens":50,"output_tokens":1}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}),
        json!({"type":"content_block_stop","index":0}),
        json!({"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":4}}),
        json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9,"input_tokens":10,"cache_read_input_tokens":1000,"cache_creation_input_tokens":50}}),
        json!({"type":"message_stop"}),
    ]));
    assert_eq!(fin, Ok(()));
    let usages: Vec<Usage> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Usage(u) => Some(*u),
            _ => None,
        })
        .collect();
    let whole = |output| Usage {
        input: 1060,
        output,
        cache_read: 1000,
        cache_write: 50,
        reasoning: 0,
    };
    // Each Usage event is the whole usage so far: the last one replaces, never adds.
    assert_eq!(usages, vec![whole(4), whole(9)]);
    assert_eq!(
        events[0],
        StreamEvent::Start {
            id: "m".into(),
            model: "m".into(),
            usage: Some(whole(1))
        }
    );
}

#[test]
fn thinking_and_redacted_blocks_decode() {
    let (events, fin) = decode_all(&sse(&[
        json!({"type":"message_start","message":{"id":"m","model":"m","usage":{"input_tokens":1,"output_tokens":1}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me"}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" think."}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB=="}}),
        json!({"type":"content_block_stop","index":0}),
        json!({"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"ENC"}}),
        json!({"type":"content_block_stop","index":1}),
        json!({"type":"content_block_start","index":2,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}),
        json!({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"query\":\"x\"}"}}),
        json!({"type":"content_block_stop","index":2}),
        json!({"type":"content_block_start","index":3,"content_block":{"type":"text","text":""}}),
        json!({"type":"content_block_delta","index":3,"delta":{"type":"citations_delta","citation":{}}}),
        json!({"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"ok"}}),
        json!({"type":"content_block_stop","index":3}),
        json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":20}}),
        json!({"type":"message_stop"}),
    ]));
    assert_eq!(fin, Ok(()));
    assert_eq!(
        events[1..6],
        [
            StreamEvent::ThinkingDelta {
                text: "Let me".into()
            },
            StreamEvent::ThinkingDelta {
                text: " think.".into()
            },
            StreamEvent::ThinkingSignature {
                signature: "EqQB==".into()
            },
            StreamEvent::RedactedThinking { data: "ENC".into() },
            text("ok"),
        ]
    );
    assert_eq!(events[6], finish(FinishReason::Stop));
}

#[test]
fn pitfall_27_error_event_inside_a_stream_decodes() {
    let mut bytes = sse(&[
        json!({"type":"message_start","message":{"id":"m","model":"m","usage":{"input_tokens":1,"output_tokens":1}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"par"}}),
    ]);
    bytes.extend_from_slice(
        b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    let (events, fin) = decode_all(&bytes);
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Error {
            kind: ErrorKind::Overloaded,
            message: "Overloaded".into()
        })
    );
    assert!(fin.is_err(), "no message_stop: the stream is not complete");
    for (ty, kind) in [
        ("rate_limit_error", ErrorKind::RateLimited),
        ("api_error", ErrorKind::UpstreamError),
        ("invalid_request_error", ErrorKind::BadRequest),
        ("brand_new_error", ErrorKind::UpstreamError),
    ] {
        let (events, _) = decode_all(&sse(&[
            json!({"type":"error","error":{"type":ty,"message":"m"}}),
        ]));
        assert_eq!(
            events,
            vec![StreamEvent::Error {
                kind,
                message: "m".into()
            }]
        );
    }
}

#[test]
fn decoder_rejects_broken_streams() {
    let start = json!({"type":"message_start","message":{"id":"m","model":"m","usage":{"input_tokens":1,"output_tokens":1}}});
    // Malformed JSON.
    let (_, r) = decode_all(b"event: message_start\ndata: {\"type\":\"message_st\n\n");
    assert!(r.is_err());
    // A delta for a block that never started.
    let (_, r) = decode_all(&sse(&[
        start.clone(),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}),
    ]));
    assert!(r.is_err());
    // No message_stop.
    let (_, r) = decode_all(&sse(std::slice::from_ref(&start)));
    assert!(r.is_err());
    // Cut in the middle of an event.
    let mut bytes = sse(&[start]);
    bytes.extend_from_slice(b"event: message_stop\ndata: {\"type\":\"message_stop\"}");
    let (_, r) = decode_all(&bytes);
    assert!(r.is_err());
}

// ---------------------------------------------------------------- encoder

#[test]
fn encoder_writes_exact_bytes() {
    let out = encode_all(&[
        start(Some(Usage {
            input: 30,
            output: 1,
            cache_read: 20,
            cache_write: 0,
            reasoning: 0,
        })),
        text("Hi"),
        text(" there"),
        finish(FinishReason::Stop),
        StreamEvent::Usage(Usage {
            input: 30,
            output: 4,
            cache_read: 20,
            cache_write: 0,
            reasoning: 0,
        }),
    ]);
    let want = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"route-a","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":20}}}"#,
        "\n\n",
        "event: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        "\n\n",
        "event: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
        "\n\n",
        "event: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}"#,
        "\n\n",
        "event: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":0}"#,
        "\n\n",
        "event: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":10,"output_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":20}}"#,
        "\n\n",
        "event: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n",
    );
    assert_eq!(String::from_utf8(out).unwrap(), want);
}

#[test]
fn pitfall_01_tool_arguments_arrive_as_input_json_delta() {
    // As an OpenAI upstream streams a call: id and name first, then argument fragments.
    let events = parse_sse(&encode_all(&[
        start(None),
        tool_start(0, "call_abc", "get_weather"),
        tool_delta(0, "{\"ci"),
        tool_delta(0, "ty\": \"Paris\"}"),
        finish(FinishReason::ToolCalls),
    ]));
    let tools = check_stream(&events);
    assert_eq!(
        tools,
        vec![("get_weather".to_owned(), json!({"city": "Paris"}))]
    );
    assert!(
        !events
            .iter()
            .any(|(_, d)| d["delta"]["type"] == "text_delta")
    );
    let md = events.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(md.1["delta"]["stop_reason"], "tool_use");
}

#[test]
fn pitfall_03_every_emitted_stream_is_a_valid_block_sequence() {
    let sig = |s: &str| StreamEvent::ThinkingSignature {
        signature: s.into(),
    };
    let think = |s: &str| StreamEvent::ThinkingDelta { text: s.into() };
    let cases: Vec<Vec<StreamEvent>> = vec![
        vec![],
        vec![finish(FinishReason::Stop)],
        vec![
            start(None),
            text("a"),
            tool_start(0, "c0", "f"),
            text("b"),
            tool_start(1, "c1", "g"),
            tool_delta(1, "{}"),
        ],
        vec![
            start(None),
            think("t"),
            sig("s1"),
            think("u"),
            sig("s2"),
            text("x"),
        ],
        vec![start(None), sig("only-signature"), tool_start(0, "c", "f")],
        vec![
            start(None),
            StreamEvent::RedactedThinking { data: "r".into() },
            StreamEvent::RedactedThinking { data: "r2".into() },
            text(""),
            text("x"),
        ],
        // A fragment before its start, and a start for an unknown call.
        vec![
            start(None),
            tool_delta(3, "{\"a\":1}"),
            tool_start(3, "c3", "h"),
        ],
        vec![start(None), tool_delta(5, "{}")],
    ];
    for events in cases {
        let out = parse_sse(&encode_all(&events));
        check_stream(&out);
    }
}

#[test]
fn pitfall_05_no_argument_tools_encode_without_deltas() {
    let events = parse_sse(&encode_all(&[
        start(None),
        tool_start(0, "c0", "now"),
        tool_delta(0, ""),
        tool_start(1, "c1", "later"),
        finish(FinishReason::ToolCalls),
    ]));
    let tools = check_stream(&events);
    assert_eq!(
        tools,
        vec![
            ("now".to_owned(), json!({})),
            ("later".to_owned(), json!({}))
        ]
    );
    assert!(
        !events
            .iter()
            .any(|(_, d)| d["delta"]["type"] == "input_json_delta")
    );
}

#[test]
fn pitfall_06_each_tool_delta_is_written_when_it_arrives() {
    let mut enc = AnthropicStreamEncoder::new("m");
    let mut out = BytesMut::new();
    enc.encode(&start(None), &mut out);
    enc.encode(&tool_start(0, "c0", "f"), &mut out);
    assert!(
        String::from_utf8_lossy(&out).contains(r#""type":"tool_use""#),
        "the block starts at once"
    );
    for frag in ["{\"q\":", "\"abc", "def\"", "}"] {
        out.clear();
        enc.encode(&tool_delta(0, frag), &mut out);
        let written = String::from_utf8(out.to_vec()).unwrap();
        let events = parse_sse(written.as_bytes());
        assert_eq!(events.len(), 1, "one event per fragment: {written}");
        assert_eq!(events[0].1["delta"]["partial_json"], frag);
    }
    // The second of two sequential calls streams too.
    out.clear();
    enc.encode(&tool_start(1, "c1", "g"), &mut out);
    enc.encode(&tool_delta(1, "{\"z\""), &mut out);
    let events = parse_sse(&out);
    assert_eq!(
        events.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        vec![
            "content_block_stop",
            "content_block_start",
            "content_block_delta"
        ]
    );
}

#[test]
fn interleaved_parallel_calls_are_buffered_not_lost() {
    let events = parse_sse(&encode_all(&[
        start(None),
        tool_start(0, "c0", "f"),
        tool_start(1, "c1", "g"),
        tool_delta(0, "{\"a\":"),
        tool_delta(1, "{\"b\":"),
        tool_delta(0, "1}"),
        tool_delta(1, "2}"),
        tool_start(2, "c2", "h"),
        tool_delta(2, "{\"c\":3}"),
        finish(FinishReason::ToolCalls),
    ]));
    let tools = check_stream(&events);
    assert_eq!(
        tools,
        vec![
            ("f".to_owned(), json!({"a": 1})),
            ("g".to_owned(), json!({"b": 2})),
            ("h".to_owned(), json!({"c": 3})),
        ]
    );
}

#[test]
fn pitfall_27_failure_is_an_error_event_without_message_stop() {
    let mut enc = AnthropicStreamEncoder::new("m");
    let mut out = BytesMut::new();
    enc.encode(&start(None), &mut out);
    enc.encode(&text("partial"), &mut out);
    out.clear();
    enc.fail(ErrorKind::Overloaded, "Overloaded", &mut out);
    assert_eq!(
        String::from_utf8(out.to_vec()).unwrap(),
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
    );
    out.clear();
    enc.encode(&text("more"), &mut out);
    enc.finish(&mut out);
    assert!(out.is_empty(), "nothing after the error");

    // An Error event from the provider's decoder ends the client stream the same way.
    let events = parse_sse(&encode_all(&[
        start(None),
        StreamEvent::Error {
            kind: ErrorKind::RateLimited,
            message: "slow".into(),
        },
        text("ignored"),
    ]));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["message_start", "error"]);
    assert_eq!(events[1].1["error"]["type"], "rate_limit_error");
}

#[test]
fn finish_only_stream_is_valid_and_empty() {
    let events = parse_sse(&encode_all(&[finish(FinishReason::Length)]));
    check_stream(&events);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["message_start", "message_delta", "message_stop"]
    );
    assert_eq!(events[1].1["delta"]["stop_reason"], "max_tokens");
}

#[test]
fn stop_sequence_is_reported() {
    let events = parse_sse(&encode_all(&[
        text("x"),
        StreamEvent::Finish {
            reason: FinishReason::Stop,
            stop_sequence: Some("END".into()),
        },
    ]));
    check_stream(&events);
    let md = &events[events.len() - 2].1;
    assert_eq!(
        md["delta"],
        json!({"stop_reason": "stop_sequence", "stop_sequence": "END"})
    );
}

// ---------------------------------------------------------------- round trips

#[test]
fn pitfall_02_decoder_of_encoder_is_identity() {
    let u0 = Usage {
        input: 500,
        output: 1,
        cache_read: 300,
        cache_write: 100,
        reasoning: 0,
    };
    let events = vec![
        StreamEvent::Start {
            id: "msg_1".into(),
            model: "route-a".into(),
            usage: Some(u0),
        },
        StreamEvent::ThinkingDelta {
            text: "Let me think \"hard\"\n".into(),
        },
        StreamEvent::ThinkingDelta { text: "é.".into() },
        StreamEvent::ThinkingSignature {
            signature: "EqQBCkYI==".into(),
        },
        text("I'll call two tools."),
        tool_start(0, "toolu_a", "get_weather"),
        tool_delta(0, "{\"city\":"),
        tool_delta(0, "\"Paris\"}"),
        tool_start(1, "toolu_b", "get_time"),
        tool_delta(1, "{\"tz\":\"CET\"}"),
        finish(FinishReason::ToolCalls),
        StreamEvent::Usage(Usage { output: 77, ..u0 }),
    ];
    let bytes = encode_all(&events);
    check_stream(&parse_sse(&bytes));
    let (decoded, fin) = decode_all(&bytes);
    assert_eq!(fin, Ok(()));
    assert_eq!(decoded, events);
}

// ---------------------------------------------------------------- peek

#[test]
fn peek_reports_what_a_relayed_stream_carries() {
    let bytes = documented_stream();
    let mut peek = AnthropicPeek::new();
    // message_start and the ping: no content yet.
    let first_block = bytes
        .windows(b"event: content_block_start".len())
        .position(|w| w == b"event: content_block_start")
        .unwrap();
    peek.push(&bytes[..first_block]).unwrap();
    assert!(!peek.content_started());
    assert_eq!(peek.usage().map(|u| u.input), Some(12));
    assert!(!peek.finished());
    peek.push(&bytes[first_block..]).unwrap();
    assert!(peek.content_started());
    assert!(peek.finished());
    assert_eq!(
        peek.usage(),
        Some(Usage {
            input: 12,
            output: 5,
            ..Usage::default()
        })
    );
    assert_eq!(peek.error(), None);

    let mut peek = AnthropicPeek::new();
    peek.push(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")
        .unwrap();
    let err = peek.error().unwrap();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::Overloaded, "Overloaded")
    );
    assert!(!peek.finished());
    assert!(peek.push(b"data: {oops}\n\n").is_err());
}

/// Every field of every event of a stream replaced by wrong-typed values, and the bytes cut
/// anywhere: the decoder returns events or an error, never panics; the peek likewise.
#[test]
fn no_stream_input_panics() {
    let events: Vec<Value> = parse_sse(&documented_stream())
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let subs = [
        Value::Null,
        json!(-1),
        json!("x"),
        json!([]),
        json!({}),
        json!(u64::MAX),
    ];
    for i in 0..events.len() {
        let keys: Vec<String> = events[i].as_object().unwrap().keys().cloned().collect();
        for k in keys {
            for sub in &subs {
                let mut evs = events.clone();
                evs[i][&k] = sub.clone();
                let mut bytes = Vec::new();
                for (e, orig) in evs.iter().zip(&events) {
                    bytes.extend_from_slice(
                        format!("event: {}\ndata: {e}\n\n", orig["type"].as_str().unwrap())
                            .as_bytes(),
                    );
                }
                let _ = decode_all(&bytes);
                let mut peek = AnthropicPeek::new();
                let _ = peek.push(&bytes);
            }
        }
    }
    let bytes = documented_stream();
    for cut in 0..bytes.len() {
        let (_, fin) = decode_all(&bytes[..cut]);
        assert!(
            fin.is_err(),
            "a cut stream is never complete (cut at {cut})"
        );
    }
    // Huge usage values saturate instead of overflowing.
    let (events, _) = decode_all(&sse(&[
        json!({"type":"message_start","message":{"id":"m","model":"m","usage":{"input_tokens":u64::MAX,"cache_read_input_tokens":u64::MAX,"output_tokens":1}}}),
    ]));
    assert!(matches!(&events[0], StreamEvent::Start { usage: Some(u), .. } if u.input == u64::MAX));
}
