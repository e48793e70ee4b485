//! `GeminiStreamDecoder`: recorded-shape `streamGenerateContent?alt=sse` streams decoded
//! into canonical events, split at every byte offset.

use modelmux_wire::canonical::{FinishReason, StreamEvent, Usage};
use modelmux_wire::codec::{ErrorKind, StreamDecoder};
use modelmux_wire::gemini::GeminiStreamDecoder;
use serde_json::{Value, json};

/// SSE framing as Gemini sends it (CRLF).
fn sse(chunks: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(c.to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
    }
    out
}

#[allow(
    clippy::expect_used,
    reason = "test helper: a failed expectation fails the test"
)]
fn decode_split(bytes: &[u8], split: usize) -> (Vec<StreamEvent>, bool) {
    let mut d = GeminiStreamDecoder::new();
    let mut out = Vec::new();
    d.push(&bytes[..split], &mut out).expect("first half");
    d.push(&bytes[split..], &mut out).expect("second half");
    let ok = d.finish(&mut out).is_ok();
    (out, ok)
}

fn decode(bytes: &[u8]) -> (Vec<StreamEvent>, bool) {
    decode_split(bytes, 0)
}

fn usage(prompt: u64, candidates: u64, thoughts: u64) -> Value {
    json!({"promptTokenCount": prompt, "candidatesTokenCount": candidates,
           "thoughtsTokenCount": thoughts, "totalTokenCount": prompt + candidates + thoughts})
}

fn chunk(parts: Value, finish: Option<&str>, usage: Value) -> Value {
    let mut cand = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(f) = finish {
        cand["finishReason"] = json!(f);
    }
    json!({"candidates": [cand], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash",
           "responseId": "r-1"})
}

fn recorded() -> Vec<u8> {
    sse(&[
        chunk(
            json!([{"text": "Planning", "thought": true}, {"text": "", "thought": true, "thoughtSignature": "U0ln"}]),
            None,
            usage(12, 0, 40),
        ),
        chunk(json!([{"text": "Hel"}]), None, usage(12, 1, 40)),
        chunk(
            json!([{"text": "lo"}, {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                       "thoughtSignature": "Q2FsbA=="}]),
            None,
            usage(12, 3, 40),
        ),
        chunk(
            json!([{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]),
            Some("STOP"),
            usage(12, 9, 40),
        ),
        json!({"usageMetadata": usage(12, 10, 40), "modelVersion": "gemini-2.5-flash", "responseId": "r-1"}),
    ])
}

fn expected() -> Vec<StreamEvent> {
    let u = |c: u64| {
        StreamEvent::Usage(Usage {
            input: 12,
            output: c + 40,
            reasoning: 40,
            ..Default::default()
        })
    };
    vec![
        StreamEvent::Start {
            id: "r-1".into(),
            model: "gemini-2.5-flash".into(),
            usage: None,
        },
        StreamEvent::ThinkingDelta {
            text: "Planning".into(),
        },
        StreamEvent::ThinkingSignature {
            signature: "U0ln".into(),
        },
        u(0),
        StreamEvent::TextDelta { text: "Hel".into() },
        u(1),
        StreamEvent::TextDelta { text: "lo".into() },
        StreamEvent::ToolCallStart {
            index: 0,
            id: "call_get_weather_0".into(),
            name: "get_weather".into(),
            signature: Some("Q2FsbA==".into()),
        },
        StreamEvent::ToolCallDelta {
            index: 0,
            arguments: r#"{"city":"Paris"}"#.into(),
        },
        u(3),
        StreamEvent::ToolCallStart {
            index: 1,
            id: "call_get_weather_1".into(),
            name: "get_weather".into(),
            signature: None,
        },
        StreamEvent::ToolCallDelta {
            index: 1,
            arguments: r#"{"city":"Oslo"}"#.into(),
        },
        u(9),
        u(10),
        StreamEvent::Finish {
            reason: FinishReason::ToolCalls,
            stop_sequence: None,
        },
    ]
}

#[test]
fn pitfall_04_parallel_calls_in_separate_chunks_split_at_every_offset() {
    let bytes = recorded();
    for split in 0..=bytes.len() {
        let (events, ok) = decode_split(&bytes, split);
        assert!(ok, "split at {split}");
        assert_eq!(events, expected(), "split at {split}");
    }
}

#[test]
fn lf_framing_decodes_the_same() {
    let crlf = recorded();
    let lf = String::from_utf8(crlf).expect("utf8").replace("\r\n", "\n");
    assert_eq!(decode(lf.as_bytes()), (expected(), true));
}

#[test]
fn pitfall_24_usage_is_latest_total_and_usage_only_chunk_counts() {
    let bytes = sse(&[
        chunk(json!([{"text": "a"}]), None, usage(5, 1, 0)),
        chunk(json!([{"text": "b"}]), None, usage(5, 1, 0)),
        chunk(json!([{"text": "c"}]), Some("STOP"), usage(5, 3, 0)),
        json!({"usageMetadata": usage(5, 4, 0)}),
    ]);
    let (events, ok) = decode(&bytes);
    assert!(ok);
    let usages: Vec<&StreamEvent> = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Usage(_)))
        .collect();
    let u = |o| {
        StreamEvent::Usage(Usage {
            input: 5,
            output: o,
            ..Default::default()
        })
    };
    // An unchanged running total is not repeated; the last one is the whole answer's.
    assert_eq!(usages, vec![&u(1), &u(3), &u(4)]);
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish {
            reason: FinishReason::Stop,
            stop_sequence: None
        })
    );
}

#[test]
fn pitfall_26_finish_once_and_mapped() {
    // A proxy that repeats finishReason on every chunk still yields one Finish, at the end.
    let bytes = sse(&[
        chunk(json!([{"text": "a"}]), Some("STOP"), usage(1, 1, 0)),
        chunk(json!([{"text": "b"}]), Some("STOP"), usage(1, 2, 0)),
    ]);
    let (events, ok) = decode(&bytes);
    assert!(ok);
    let finishes = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Finish { .. }))
        .count();
    assert_eq!(finishes, 1);
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish {
            reason: FinishReason::Stop,
            stop_sequence: None
        })
    );

    for (raw, reason) in [
        ("MAX_TOKENS", FinishReason::Length),
        ("SAFETY", FinishReason::ContentFilter),
        (
            "MALFORMED_FUNCTION_CALL",
            FinishReason::Other("MALFORMED_FUNCTION_CALL".into()),
        ),
    ] {
        let (events, ok) = decode(&sse(&[chunk(
            json!([{"text": "x"}]),
            Some(raw),
            usage(1, 1, 0),
        )]));
        assert!(ok);
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finish {
                reason,
                stop_sequence: None
            }),
            "{raw}"
        );
    }
}

#[test]
fn pitfall_27_error_chunk_becomes_error_event() {
    let cases = [
        ("UNAVAILABLE", 503, ErrorKind::Overloaded),
        ("RESOURCE_EXHAUSTED", 429, ErrorKind::RateLimited),
        ("INTERNAL", 500, ErrorKind::UpstreamError),
        ("INVALID_ARGUMENT", 400, ErrorKind::BadRequest),
        ("DEADLINE_EXCEEDED", 504, ErrorKind::Timeout),
    ];
    for (status, code, kind) in cases {
        let bytes = sse(&[
            chunk(json!([{"text": "partial"}]), None, usage(3, 1, 0)),
            json!({"error": {"code": code, "message": "The model is overloaded.", "status": status}}),
            chunk(json!([{"text": "ignored"}]), Some("STOP"), usage(3, 2, 0)),
        ]);
        let (events, ok) = decode(&bytes);
        assert!(!ok, "a stream that ended in an error is not complete");
        assert_eq!(
            events[1..],
            [
                StreamEvent::TextDelta {
                    text: "partial".into()
                },
                StreamEvent::Usage(Usage {
                    input: 3,
                    output: 1,
                    ..Default::default()
                }),
                StreamEvent::Error {
                    kind,
                    message: "The model is overloaded.".into()
                },
            ],
            "{status}"
        );
    }
}

#[test]
fn truncated_stream_fails_finish() {
    let bytes = sse(&[chunk(json!([{"text": "Hel"}]), None, usage(3, 1, 0))]);
    let (events, ok) = decode(&bytes);
    assert!(!ok);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, StreamEvent::Finish { .. }))
    );
    // Nothing at all.
    assert_eq!(decode(b""), (vec![], false));
}

#[test]
fn last_event_without_blank_line_is_still_read() {
    let mut bytes = sse(&[chunk(json!([{"text": "a"}]), None, usage(1, 1, 0))]);
    bytes.extend_from_slice(b"data: ");
    bytes.extend_from_slice(
        chunk(json!([]), Some("STOP"), usage(1, 1, 0))
            .to_string()
            .as_bytes(),
    );
    let (events, ok) = decode(&bytes);
    assert!(ok);
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish {
            reason: FinishReason::Stop,
            stop_sequence: None
        })
    );
}

#[test]
fn blocked_prompt_stream_finishes_with_content_filter() {
    let bytes = sse(&[
        json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                              "usageMetadata": {"promptTokenCount": 4}, "responseId": "b-1"}),
    ]);
    let (events, ok) = decode(&bytes);
    assert!(ok);
    assert_eq!(
        events,
        vec![
            StreamEvent::Start {
                id: "b-1".into(),
                model: String::new(),
                usage: None
            },
            StreamEvent::Usage(Usage {
                input: 4,
                ..Default::default()
            }),
            StreamEvent::Finish {
                reason: FinishReason::ContentFilter,
                stop_sequence: None
            },
        ]
    );
}

#[test]
fn pitfall_29_comments_skipped_and_malformed_json_is_an_error() {
    let mut bytes = b": keepalive\r\n\r\n".to_vec();
    bytes.extend(sse(&[chunk(
        json!([{"text": "ok"}]),
        Some("STOP"),
        usage(1, 1, 0),
    )]));
    let (events, ok) = decode(&bytes);
    assert!(ok);
    assert_eq!(events[1], StreamEvent::TextDelta { text: "ok".into() });

    // A `[DONE]` added by a proxy is not an error.
    let mut done = sse(&[chunk(json!([{"text": "ok"}]), Some("STOP"), usage(1, 1, 0))]);
    done.extend_from_slice(b"data: [DONE]\r\n\r\n");
    assert!(decode(&done).1);

    let mut d = GeminiStreamDecoder::new();
    let mut out = Vec::new();
    assert!(
        d.push(b"data: {\"candidates\": [oops\r\n\r\n", &mut out)
            .is_err()
    );
    let mut d = GeminiStreamDecoder::new();
    assert!(d.push(b"data: [1, 2]\r\n\r\n", &mut out).is_err());
}
