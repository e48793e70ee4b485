//! Complete answers and errors in the OpenAI Chat Completions format:
//! `response_from_openai`, `response_to_openai`, and the error vocabulary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Named `openai` so that `cargo test -p modelmux-wire openai` selects these tests.
mod openai {

    use modelmux_wire::canonical::{ChatResponse, FinishReason, Part, Usage};
    use modelmux_wire::codec::ErrorKind;
    use modelmux_wire::openai::{
        error_code, error_kind, error_status, error_type, response_from_openai, response_to_openai,
    };
    use serde_json::{Value, json};

    fn read(v: &Value) -> ChatResponse {
        response_from_openai(v.to_string().as_bytes()).unwrap()
    }

    fn write(resp: &ChatResponse) -> Value {
        serde_json::from_slice(&response_to_openai(resp, "chat")).unwrap()
    }

    fn call(id: &str, name: &str, args: &str) -> Part {
        Part::ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: args.into(),
            signature: None,
        }
    }

    #[test]
    fn reads_a_tool_call_answer_with_reasoning_and_usage() {
        let resp = read(&json!({
        "id": "chatcmpl-9x", "object": "chat.completion", "created": 1_700_000_000, "model": "deepseek-reasoner",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Let me look.",
            "reasoning_content": "User wants weather.",
            "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                           {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
            "logprobs": null, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140,
            "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 12}}}));
        assert_eq!(resp.id, "chatcmpl-9x");
        assert_eq!(resp.model, "deepseek-reasoner");
        assert_eq!(resp.created, 1_700_000_000);
        assert_eq!(
            resp.content,
            vec![
                Part::Thinking {
                    text: "User wants weather.".into(),
                    signature: None
                },
                Part::text("Let me look."),
                call("call_a", "get_weather", r#"{"city":"Paris"}"#),
                call("call_b", "get_time", ""),
            ]
        );
        assert_eq!(resp.finish, Some(FinishReason::ToolCalls));
        assert_eq!(
            resp.usage,
            Usage {
                input: 100,
                output: 40,
                cache_read: 64,
                cache_write: 0,
                reasoning: 12
            }
        );
    }

    #[test]
    fn writes_the_shape_the_sdk_parses() {
        let resp = ChatResponse {
            id: "msg_01".into(),
            model: "claude-x".into(),
            content: vec![
                Part::Thinking {
                    text: "hmm".into(),
                    signature: Some("sig".into()),
                },
                call("toolu_01", "get_weather", ""),
            ],
            finish: Some(FinishReason::ToolCalls),
            stop_sequence: None,
            usage: Usage {
                input: 30,
                output: 7,
                cache_read: 20,
                cache_write: 5,
                reasoning: 0,
            },
            created: 42,
        };
        assert_eq!(
            write(&resp),
            json!({
            "id": "chatcmpl-msg_01", "object": "chat.completion", "created": 42, "model": "chat",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": null,
                "reasoning_content": "hmm",
                "tool_calls": [{"id": "toolu_01", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                "logprobs": null, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37,
                "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 5},
                "completion_tokens_details": {"reasoning_tokens": 0}}})
        );
        let mut plain = resp.clone();
        plain.id = "chatcmpl-keep".into();
        plain.content = vec![Part::text("Hel"), Part::text("lo")];
        plain.finish = Some(FinishReason::Stop);
        let out = write(&plain);
        assert_eq!(out["id"], "chatcmpl-keep");
        assert_eq!(out["choices"][0]["message"]["content"], "Hello");
        assert!(out["choices"][0]["message"].get("tool_calls").is_none());
    }

    #[test]
    fn answers_round_trip() {
        let resp = ChatResponse {
            id: "chatcmpl-1".into(),
            model: "chat".into(),
            content: vec![
                Part::Thinking {
                    text: "t".into(),
                    signature: None,
                },
                Part::text("x"),
                call("c1", "f", "{\"a\":1}"),
            ],
            finish: Some(FinishReason::ToolCalls),
            stop_sequence: None,
            usage: Usage {
                input: 3,
                output: 4,
                cache_read: 1,
                cache_write: 0,
                reasoning: 2,
            },
            created: 9,
        };
        assert_eq!(
            response_from_openai(&response_to_openai(&resp, "chat")).unwrap(),
            resp
        );
    }

    #[test]
    fn pitfall_20_ids_are_kept_verbatim_in_answers() {
        let resp = read(
            &json!({"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
        "tool_calls": [{"id": "aB3dE5gH7", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "tool_calls"}]}),
        );
        assert_eq!(resp.content, vec![call("aB3dE5gH7", "f", "{}")]);
        assert_eq!(
            write(&resp)["choices"][0]["message"]["tool_calls"][0]["id"],
            "aB3dE5gH7"
        );
    }

    #[test]
    fn pitfall_26_finish_reasons_map_without_collapsing() {
        let with = |finish: &str, calls: bool| {
            let mut msg = json!({"role": "assistant", "content": "x"});
            if calls {
                msg["tool_calls"] = json!([{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]);
            }
            read(
            &json!({"id": "i", "choices": [{"index": 0, "message": msg, "finish_reason": finish}]}),
        )
        .finish
        };
        assert_eq!(with("stop", false), Some(FinishReason::Stop));
        // Some compatible servers (older Ollama) say "stop" after calling tools.
        assert_eq!(with("stop", true), Some(FinishReason::ToolCalls));
        assert_eq!(with("length", false), Some(FinishReason::Length));
        assert_eq!(
            with("content_filter", false),
            Some(FinishReason::ContentFilter)
        );
        assert_eq!(with("function_call", true), Some(FinishReason::ToolCalls));
        assert_eq!(with("eos", false), Some(FinishReason::Other("eos".into())));
        // Writing: the enum value, tool_calls when calls were made, the raw value otherwise.
        let finish_of = |finish: Option<FinishReason>, content: Vec<Part>| {
            let resp = ChatResponse {
                content,
                finish,
                ..Default::default()
            };
            write(&resp)["choices"][0]["finish_reason"].clone()
        };
        assert_eq!(
            finish_of(Some(FinishReason::Length), vec![Part::text("x")]),
            "length"
        );
        assert_eq!(
            finish_of(Some(FinishReason::Stop), vec![call("c", "f", "{}")]),
            "tool_calls"
        );
        assert_eq!(finish_of(None, vec![Part::text("x")]), "stop");
        assert_eq!(
            finish_of(Some(FinishReason::ContentFilter), vec![]),
            "content_filter"
        );
        assert_eq!(
            finish_of(Some(FinishReason::Other("pause_turn".into())), vec![]),
            "pause_turn"
        );
    }

    #[test]
    fn refusal_and_vllm_stop_reason() {
        let resp = read(
            &json!({"id": "i", "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": "I can't."},
        "finish_reason": "stop", "stop_reason": "###"}]}),
        );
        assert_eq!(resp.content, vec![Part::text("I can't.")]);
        assert_eq!(resp.stop_sequence.as_deref(), Some("###"));
    }

    #[test]
    fn unreadable_answers_are_errors() {
        for body in [
            &b"<html>"[..],
            br#"{"error":{"message":"boom","type":"server_error"}}"#,
            br#"{"id":"x","choices":[]}"#,
            b"[1,2]",
        ] {
            assert!(
                response_from_openai(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    const ALL_KINDS: [ErrorKind; 12] = [
        ErrorKind::RateLimited,
        ErrorKind::QuotaExceeded,
        ErrorKind::Overloaded,
        ErrorKind::ContextLengthExceeded,
        ErrorKind::ContentFilter,
        ErrorKind::Auth,
        ErrorKind::BadRequest,
        ErrorKind::NotFound,
        ErrorKind::UpstreamError,
        ErrorKind::Timeout,
        ErrorKind::Connect,
        ErrorKind::StreamBroken,
    ];

    #[test]
    fn error_statuses_for_openai_clients() {
        let expected = [429, 429, 503, 400, 400, 502, 400, 404, 502, 504, 502, 502];
        for (kind, status) in ALL_KINDS.into_iter().zip(expected) {
            assert_eq!(error_status(kind), status, "{kind}");
        }
    }

    #[test]
    fn error_kinds_survive_the_openai_vocabulary() {
        for kind in ALL_KINDS {
            assert_eq!(
                error_kind(Some(error_type(kind)), error_code(kind), "x"),
                kind,
                "{kind}"
            );
        }
        assert_eq!(
            error_kind(Some("tokens"), Some("rate_limit_exceeded"), ""),
            ErrorKind::RateLimited
        );
        assert_eq!(
            error_kind(Some("insufficient_quota"), Some("insufficient_quota"), ""),
            ErrorKind::QuotaExceeded
        );
        assert_eq!(error_kind(None, Some("429"), ""), ErrorKind::RateLimited);
        assert_eq!(
            error_kind(Some("BadRequestError"), Some("400"), "bad"),
            ErrorKind::BadRequest
        );
        assert_eq!(
            error_kind(
                Some("invalid_request_error"),
                None,
                "Your request was rejected as a result of our safety system."
            ),
            ErrorKind::ContentFilter
        );
    }

    #[test]
    fn pitfall_30_context_length_signatures() {
        for msg in [
            "This model's maximum context length is 8192 tokens. However, your request has 9000 input tokens",
            "Input tokens exceed the configured limit of 272000 tokens",
            "This endpoint's maximum context length is 4096 tokens",
            "The prompt (total length 9000) is longer than the model's context length",
            "the request exceeds the available context size, try increasing it",
        ] {
            assert_eq!(
                error_kind(Some("invalid_request_error"), None, msg),
                ErrorKind::ContextLengthExceeded,
                "{msg}"
            );
        }
        assert_eq!(
            error_kind(
                Some("invalid_request_error"),
                Some("context_length_exceeded"),
                ""
            ),
            ErrorKind::ContextLengthExceeded
        );
    }

    #[test]
    fn no_answer_prefix_panics() {
        let full = response_to_openai(
            &ChatResponse {
                id: "x".into(),
                content: vec![
                    Part::Thinking {
                        text: "t".into(),
                        signature: None,
                    },
                    Part::text("hi"),
                    call("c", "f", "{}"),
                ],
                finish: Some(FinishReason::ToolCalls),
                ..Default::default()
            },
            "m",
        );
        for cut in 0..full.len() {
            assert!(response_from_openai(&full[..cut]).is_err(), "{cut}");
        }
        assert!(response_from_openai(&full).is_ok());
    }
}
