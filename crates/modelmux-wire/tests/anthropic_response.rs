//! Anthropic answers (both directions), error classification and bodies, and the token
//! estimate.

use modelmux_wire::anthropic::{
    classify_error, error_body, error_status, estimate_input_tokens, response_from_anthropic,
    response_to_anthropic,
};
use modelmux_wire::canonical::{
    ChatRequest, ChatResponse, FinishReason, MediaSource, Message, Part, Role, Tool, Usage,
};
use modelmux_wire::codec::ErrorKind;
use serde_json::{Value, json};

#[allow(
    clippy::unwrap_used,
    reason = "test helper: a failed unwrap is a failed test"
)]
fn from(body: Value) -> ChatResponse {
    response_from_anthropic(body.to_string().as_bytes()).unwrap()
}

#[allow(
    clippy::unwrap_used,
    reason = "test helper: a failed unwrap is a failed test"
)]
fn to(resp: &ChatResponse) -> Value {
    serde_json::from_slice(&response_to_anthropic(resp, "route-a")).unwrap()
}

#[test]
fn answer_blocks_become_parts() {
    let resp = from(json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "SIG"},
            {"type": "redacted_thinking", "data": "ENC"},
            {"type": "text", "text": "Let me check.", "citations": null},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris", "days": [1, 2]}, "caller": {"type": "direct"}},
            {"type": "tool_use", "id": "toolu_02", "name": "noop", "input": {}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 30}
    }));
    assert_eq!(
        resp,
        ChatResponse {
            id: "msg_01".into(),
            model: "claude-sonnet-4-5".into(),
            content: vec![
                Part::Thinking {
                    text: "hmm".into(),
                    signature: Some("SIG".into())
                },
                Part::RedactedThinking { data: "ENC".into() },
                Part::text("Let me check."),
                Part::ToolCall {
                    id: "toolu_01".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris","days":[1,2]}"#.into(),
                    signature: None
                },
                Part::ToolCall {
                    id: "toolu_02".into(),
                    name: "noop".into(),
                    arguments: "{}".into(),
                    signature: None
                },
            ],
            finish: Some(FinishReason::ToolCalls),
            stop_sequence: None,
            usage: Usage {
                input: 12,
                output: 30,
                ..Usage::default()
            },
            created: 0,
        }
    );
}

#[test]
fn stop_reasons_map() {
    let cases = [
        ("end_turn", FinishReason::Stop),
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("tool_use", FinishReason::ToolCalls),
        ("refusal", FinishReason::ContentFilter),
        ("pause_turn", FinishReason::Other("pause_turn".into())),
        (
            "model_context_window_exceeded",
            FinishReason::Other("model_context_window_exceeded".into()),
        ),
    ];
    for (raw, want) in cases {
        let resp = from(json!({"id": "m", "content": [], "stop_reason": raw,
            "stop_sequence": if raw == "stop_sequence" { json!("END") } else { Value::Null },
            "usage": {"input_tokens": 1, "output_tokens": 1}}));
        assert_eq!(resp.finish, Some(want), "{raw}");
        if raw == "stop_sequence" {
            assert_eq!(resp.stop_sequence.as_deref(), Some("END"));
        }
    }
}

#[test]
fn pitfall_25_cache_tokens_count_into_input() {
    let resp = from(json!({
        "id": "m", "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 300,
                  "output_tokens": 7, "cache_creation": {"ephemeral_5m_input_tokens": 300}}
    }));
    assert_eq!(
        resp.usage,
        Usage {
            input: 2310,
            output: 7,
            cache_read: 2000,
            cache_write: 300,
            reasoning: 0
        }
    );
    // And back: input_tokens excludes the cached parts again.
    assert_eq!(
        to(&resp)["usage"],
        json!({"input_tokens": 10, "output_tokens": 7, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 300})
    );
}

#[test]
fn unreadable_answers_are_errors() {
    assert!(response_from_anthropic(b"<html>").is_err());
    assert!(
        response_from_anthropic(br#"{"type":"error","error":{"type":"api_error","message":"x"}}"#)
            .is_err()
    );
}

#[test]
fn canonical_answer_becomes_a_message() {
    let resp = ChatResponse {
        id: "chatcmpl-AB.12".into(),
        model: "gpt-4o".into(),
        content: vec![
            Part::Thinking {
                text: "reasoning".into(),
                signature: None,
            },
            Part::text("Checking."),
            Part::ToolCall {
                id: "call_1".into(),
                name: "get".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
                signature: None,
            },
        ],
        finish: Some(FinishReason::ToolCalls),
        stop_sequence: None,
        usage: Usage {
            input: 100,
            output: 20,
            cache_read: 60,
            cache_write: 0,
            reasoning: 5,
        },
        created: 1,
    };
    assert_eq!(
        to(&resp),
        json!({
            "id": "msg_chatcmpl-AB_12", "type": "message", "role": "assistant", "model": "route-a",
            "content": [
                {"type": "thinking", "thinking": "reasoning", "signature": ""},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "get", "input": {"city": "Paris"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 40, "output_tokens": 20, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 0}
        })
    );
    let mut r2 = resp.clone();
    r2.id = "msg_keep".into();
    assert_eq!(to(&r2)["id"], "msg_keep");
}

#[test]
fn pitfall_11_no_empty_text_block_in_answers() {
    let resp = ChatResponse {
        id: "x".into(),
        content: vec![
            Part::text(""),
            Part::ToolCall {
                id: "functions.f:0".into(),
                name: "f".into(),
                arguments: String::new(),
                signature: None,
            },
        ],
        // Some providers say "stop" next to a tool call: the client must still see tool_use.
        finish: Some(FinishReason::Stop),
        ..ChatResponse::default()
    };
    let out = to(&resp);
    let content = out["content"].as_array().unwrap();
    assert_eq!(content.len(), 1);
    // pitfall 5: input is an object even for empty arguments; pitfall 20: id sanitised.
    assert_eq!(content[0]["input"], json!({}));
    let id = content[0]["id"].as_str().unwrap();
    assert!(
        id.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    );
    assert_eq!(out["stop_reason"], "tool_use");
    // An answer with no content at all is an empty list, not an empty text block.
    let empty = ChatResponse {
        finish: Some(FinishReason::Stop),
        ..ChatResponse::default()
    };
    assert_eq!(to(&empty)["content"], json!([]));
}

#[test]
fn finish_reasons_map_back() {
    let cases = [
        (Some(FinishReason::Stop), None, "end_turn", Value::Null),
        (
            Some(FinishReason::Stop),
            Some("END"),
            "stop_sequence",
            json!("END"),
        ),
        (Some(FinishReason::Length), None, "max_tokens", Value::Null),
        (
            Some(FinishReason::ContentFilter),
            None,
            "refusal",
            Value::Null,
        ),
        (
            Some(FinishReason::Other("pause_turn".into())),
            None,
            "pause_turn",
            Value::Null,
        ),
        (
            Some(FinishReason::Other("MALFORMED_FUNCTION_CALL".into())),
            None,
            "end_turn",
            Value::Null,
        ),
        (None, None, "end_turn", Value::Null),
    ];
    for (finish, seq, reason, want_seq) in cases {
        let resp = ChatResponse {
            content: vec![Part::text("x")],
            finish: finish.clone(),
            stop_sequence: seq.map(str::to_owned),
            ..ChatResponse::default()
        };
        let out = to(&resp);
        assert_eq!(out["stop_reason"], reason, "{finish:?}");
        assert_eq!(out["stop_sequence"], want_seq, "{finish:?}");
    }
}

#[test]
fn provider_errors_classify() {
    let body = |t: &str, m: &str| {
        json!({"type": "error", "error": {"type": t, "message": m}, "request_id": "req_1"})
            .to_string()
    };
    let cases = [
        (
            400,
            body("invalid_request_error", "max_tokens: Field required"),
            ErrorKind::BadRequest,
        ),
        (
            400,
            body(
                "invalid_request_error",
                "prompt is too long: 209353 tokens > 199999 maximum",
            ),
            ErrorKind::ContextLengthExceeded,
        ),
        (
            400,
            body(
                "invalid_request_error",
                "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000",
            ),
            ErrorKind::ContextLengthExceeded,
        ),
        (
            400,
            body(
                "invalid_request_error",
                "Your credit balance is too low to access the Anthropic API.",
            ),
            ErrorKind::QuotaExceeded,
        ),
        (
            401,
            body("authentication_error", "invalid x-api-key"),
            ErrorKind::Auth,
        ),
        (
            402,
            body("billing_error", "billing"),
            ErrorKind::QuotaExceeded,
        ),
        (403, body("permission_error", "no"), ErrorKind::Auth),
        (
            404,
            body("not_found_error", "model: claude-x"),
            ErrorKind::NotFound,
        ),
        (
            413,
            body(
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
            ),
            ErrorKind::BadRequest,
        ),
        (
            429,
            body("rate_limit_error", "slow down"),
            ErrorKind::RateLimited,
        ),
        (
            500,
            body("api_error", "Internal server error"),
            ErrorKind::UpstreamError,
        ),
        (504, body("timeout_error", "timeout"), ErrorKind::Timeout),
        (
            529,
            body("overloaded_error", "Overloaded"),
            ErrorKind::Overloaded,
        ),
        // Bodies from proxies in front of the provider: the status decides.
        (529, "<html>busy</html>".to_owned(), ErrorKind::Overloaded),
        (503, String::new(), ErrorKind::Overloaded),
        (502, "bad gateway".to_owned(), ErrorKind::UpstreamError),
        (429, "{}".to_owned(), ErrorKind::RateLimited),
        (408, String::new(), ErrorKind::Timeout),
        (401, String::new(), ErrorKind::Auth),
    ];
    for (status, body, kind) in cases {
        let info = classify_error(status, body.as_bytes());
        assert_eq!(info.kind, kind, "{status} {body}");
        assert!(!info.message.is_empty());
        assert_eq!(info.retry_after, None);
    }
    assert_eq!(
        classify_error(529, body("overloaded_error", "Overloaded").as_bytes()).message,
        "Overloaded"
    );
}

#[test]
fn client_error_bodies_and_statuses() {
    assert_eq!(
        error_body(ErrorKind::Overloaded, "Overloaded \"now\""),
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded \"now\""}}"#
    );
    let cases = [
        (ErrorKind::Overloaded, 529, "overloaded_error"),
        (ErrorKind::RateLimited, 429, "rate_limit_error"),
        (ErrorKind::QuotaExceeded, 402, "billing_error"),
        (ErrorKind::BadRequest, 400, "invalid_request_error"),
        (
            ErrorKind::ContextLengthExceeded,
            400,
            "invalid_request_error",
        ),
        (ErrorKind::ContentFilter, 400, "invalid_request_error"),
        (ErrorKind::Auth, 401, "authentication_error"),
        (ErrorKind::NotFound, 404, "not_found_error"),
        (ErrorKind::UpstreamError, 500, "api_error"),
        (ErrorKind::Timeout, 504, "timeout_error"),
        (ErrorKind::Connect, 502, "api_error"),
        (ErrorKind::StreamBroken, 502, "api_error"),
    ];
    for (kind, status, ty) in cases {
        assert_eq!(error_status(kind), status, "{kind}");
        let v: Value = serde_json::from_str(&error_body(kind, "m")).unwrap();
        assert_eq!(
            v,
            json!({"type": "error", "error": {"type": ty, "message": "m"}})
        );
        // What we write, we read back as the same kind (for kinds Anthropic can express).
        if !matches!(
            kind,
            ErrorKind::ContextLengthExceeded
                | ErrorKind::ContentFilter
                | ErrorKind::Connect
                | ErrorKind::StreamBroken
        ) {
            assert_eq!(
                classify_error(status, error_body(kind, "m").as_bytes()).kind,
                kind
            );
        }
    }
}

#[test]
fn token_estimate_follows_its_documented_rule() {
    let req = ChatRequest {
        messages: vec![
            Message::text(Role::System, "abcd"),   // 4 chars
            Message::text(Role::User, "abcdefgh"), // 8 chars
            Message {
                role: Role::User,
                content: vec![Part::Image {
                    source: MediaSource::Url("https://x".into()),
                    detail: None,
                    cache_control: None,
                }],
                name: None,
            },
        ],
        tools: vec![Tool {
            name: "fn".into(),              // 2 chars
            description: Some("dd".into()), // 2 chars
            parameters: json!({}),          // "{}" 2 chars
            strict: None,
            cache_control: None,
        }],
        ..ChatRequest::default()
    };
    // chars 18 → 5; request 3 + 3 messages × 4 + image 1600 + tools 300 + 20.
    assert_eq!(estimate_input_tokens(&req), 5 + 3 + 12 + 1600 + 300 + 20);
    assert_eq!(estimate_input_tokens(&ChatRequest::default()), 3);
}
