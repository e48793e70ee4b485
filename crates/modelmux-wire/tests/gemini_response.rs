//! Gemini `generateContent` answers and error bodies read into canonical values.

use std::time::Duration;

use modelmux_wire::canonical::{ChatResponse, FinishReason, Part, Usage};
use modelmux_wire::codec::ErrorKind;
use modelmux_wire::gemini::{classify_error, response_from_gemini};
use serde_json::{Value, json};

#[allow(
    clippy::expect_used,
    reason = "test helper: a failed expectation fails the test"
)]
fn read(body: Value) -> ChatResponse {
    response_from_gemini(body.to_string().as_bytes()).expect("readable answer")
}

fn answer(parts: Value, finish: &str) -> Value {
    json!({
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1"
    })
}

#[test]
fn text_thinking_and_metadata() {
    let r = read(answer(
        json!([
            {"text": "Let me think.", "thought": true, "thoughtSignature": "VGhv"},
            {"text": "Hello"},
            {"text": ""},
            {"text": " world"}
        ]),
        "STOP",
    ));
    assert_eq!(
        r,
        ChatResponse {
            id: "resp-1".into(),
            model: "gemini-2.5-flash".into(),
            content: vec![
                Part::Thinking {
                    text: "Let me think.".into(),
                    signature: Some("VGhv".into())
                },
                Part::text("Hello"),
                Part::text(" world"),
            ],
            finish: Some(FinishReason::Stop),
            stop_sequence: None,
            usage: Usage {
                input: 10,
                output: 5,
                ..Default::default()
            },
            created: 0,
        }
    );
}

#[test]
fn pitfall_04_15_repeated_names_get_distinct_ids() {
    let r = read(answer(
        json!([
            {"functionCall": {"name": "search", "args": {"q": "a"}}, "thoughtSignature": "U0lH"},
            {"functionCall": {"name": "search", "args": {"q": "b"}}},
            {"functionCall": {"id": "gem-id-7", "name": "mcp.fetch", "args": {}}},
            {"functionCall": {"name": "mcp.fetch"}}
        ]),
        "STOP",
    ));
    assert_eq!(
        r.content,
        vec![
            Part::ToolCall {
                id: "call_search_0".into(),
                name: "search".into(),
                arguments: r#"{"q":"a"}"#.into(),
                signature: Some("U0lH".into()),
            },
            Part::ToolCall {
                id: "call_search_1".into(),
                name: "search".into(),
                arguments: r#"{"q":"b"}"#.into(),
                signature: None,
            },
            Part::ToolCall {
                id: "gem-id-7".into(),
                name: "mcp.fetch".into(),
                arguments: "{}".into(),
                signature: None,
            },
            Part::ToolCall {
                id: "call_mcp_fetch_3".into(),
                name: "mcp.fetch".into(),
                arguments: "{}".into(),
                signature: None,
            },
        ]
    );
    assert_eq!(r.finish, Some(FinishReason::ToolCalls));
}

#[test]
fn pitfall_25_usage_counts_thoughts_tool_prompt_and_cache() {
    let mut body = answer(json!([{"text": "x"}]), "STOP");
    body["usageMetadata"] = json!({
        "promptTokenCount": 220, "candidatesTokenCount": 5, "thoughtsTokenCount": 185,
        "toolUsePromptTokenCount": 30, "cachedContentTokenCount": 200, "totalTokenCount": 440
    });
    assert_eq!(
        read(body).usage,
        Usage {
            input: 250,
            output: 190,
            cache_read: 200,
            cache_write: 0,
            reasoning: 185
        }
    );
}

#[test]
fn pitfall_26_finish_reasons_mapped_never_collapsed() {
    let cases = [
        ("STOP", FinishReason::Stop),
        ("MAX_TOKENS", FinishReason::Length),
        ("SAFETY", FinishReason::ContentFilter),
        ("BLOCKLIST", FinishReason::ContentFilter),
        ("PROHIBITED_CONTENT", FinishReason::ContentFilter),
        ("SPII", FinishReason::ContentFilter),
        ("RECITATION", FinishReason::ContentFilter),
        ("IMAGE_SAFETY", FinishReason::ContentFilter),
        (
            "MALFORMED_FUNCTION_CALL",
            FinishReason::Other("MALFORMED_FUNCTION_CALL".into()),
        ),
        ("OTHER", FinishReason::Other("OTHER".into())),
        ("LANGUAGE", FinishReason::Other("LANGUAGE".into())),
        ("SOMETHING_NEW", FinishReason::Other("SOMETHING_NEW".into())),
    ];
    for (raw, expected) in cases {
        assert_eq!(
            read(answer(json!([{"text": "x"}]), raw)).finish,
            Some(expected),
            "{raw}"
        );
    }
    // STOP with a function call is a tool call; MAX_TOKENS stays Length.
    let call = json!([{"functionCall": {"name": "f", "args": {}}}]);
    assert_eq!(
        read(answer(call.clone(), "STOP")).finish,
        Some(FinishReason::ToolCalls)
    );
    assert_eq!(
        read(answer(call, "MAX_TOKENS")).finish,
        Some(FinishReason::Length)
    );
}

#[test]
fn blocked_prompt_has_empty_content_and_content_filter() {
    let r = read(json!({
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}
    }));
    assert_eq!(r.content, vec![]);
    assert_eq!(r.finish, Some(FinishReason::ContentFilter));
    assert_eq!(r.usage.input, 8);
    assert!(r.id.starts_with("gemini-"), "generated id: {}", r.id);
}

#[test]
fn malformed_answers_are_errors_not_panics() {
    for body in [
        &b"not json"[..],
        b"[1,2]",
        b"{\"candidates\": 5}",
        b"",
        b"{\"error\":{\"code\":500}}",
    ] {
        assert!(
            response_from_gemini(body).is_err(),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
    // Nulls where objects are expected are tolerated.
    let r = read(
        json!({"candidates": [{"content": null, "finishReason": null}], "usageMetadata": null}),
    );
    assert_eq!((r.content, r.finish), (vec![], None));
}

fn err(code: u16, status: &str, message: &str, details: Value) -> Vec<u8> {
    json!({"error": {"code": code, "message": message, "status": status, "details": details}})
        .to_string()
        .into_bytes()
}

#[test]
fn errors_rate_limit_with_retry_info() {
    let body = err(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. Quota exceeded for metric: generate_content_free_tier_requests, limit: 10",
        json!([
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
             "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}
        ]),
    );
    let info = classify_error(429, &body);
    assert_eq!(info.kind, ErrorKind::RateLimited);
    assert_eq!(info.retry_after, Some(Duration::from_millis(1500)));
    assert!(info.message.starts_with("You exceeded your current quota"));
    // The array form non-SSE streams use.
    let array = format!("[{}]", String::from_utf8_lossy(&body));
    assert_eq!(
        classify_error(429, array.as_bytes()).retry_after,
        Some(Duration::from_millis(1500))
    );
}

#[test]
fn errors_hard_quota_is_quota_exceeded() {
    let zero = err(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, model: gemini-2.5-pro",
        json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}]),
    );
    let info = classify_error(429, &zero);
    assert_eq!(
        (info.kind, info.retry_after),
        (ErrorKind::QuotaExceeded, Some(Duration::from_secs(30)))
    );
    let daily = err(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded",
        json!([{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]),
    );
    assert_eq!(classify_error(429, &daily).kind, ErrorKind::QuotaExceeded);
    let vertex = err(
        429,
        "RESOURCE_EXHAUSTED",
        "Resource exhausted. Please try again later.",
        json!([]),
    );
    assert_eq!(classify_error(429, &vertex).kind, ErrorKind::RateLimited);
}

#[test]
fn pitfall_30_context_length_errors_are_normalised() {
    let tokens = err(
        400,
        "INVALID_ARGUMENT",
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        json!([]),
    );
    assert_eq!(
        classify_error(400, &tokens).kind,
        ErrorKind::ContextLengthExceeded
    );
    let payload = err(
        400,
        "INVALID_ARGUMENT",
        "Request payload size exceeds the limit: 20971520 bytes.",
        json!([]),
    );
    assert_eq!(
        classify_error(400, &payload).kind,
        ErrorKind::ContextLengthExceeded
    );
}

#[test]
fn errors_by_status() {
    let key = err(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                "domain": "googleapis.com"}]),
    );
    assert_eq!(classify_error(400, &key).kind, ErrorKind::Auth);
    let cases = [
        (400, "INVALID_ARGUMENT", ErrorKind::BadRequest),
        (400, "FAILED_PRECONDITION", ErrorKind::BadRequest),
        (401, "UNAUTHENTICATED", ErrorKind::Auth),
        (403, "PERMISSION_DENIED", ErrorKind::Auth),
        (404, "NOT_FOUND", ErrorKind::NotFound),
        (500, "INTERNAL", ErrorKind::UpstreamError),
        (503, "UNAVAILABLE", ErrorKind::Overloaded),
        (504, "DEADLINE_EXCEEDED", ErrorKind::Timeout),
        (422, "", ErrorKind::BadRequest),
        (502, "", ErrorKind::UpstreamError),
    ];
    for (code, status, kind) in cases {
        assert_eq!(
            classify_error(code, &err(code, status, "m", json!([]))).kind,
            kind,
            "{code} {status}"
        );
    }
    // Bodies that are not Gemini errors still classify by status, with a useful message.
    let html = classify_error(503, b"<html>Service Unavailable</html>");
    assert_eq!(html.kind, ErrorKind::Overloaded);
    assert_eq!(
        html.message,
        "Gemini returned HTTP 503: <html>Service Unavailable</html>"
    );
    assert_eq!(classify_error(500, b"").message, "Gemini returned HTTP 500");
}
