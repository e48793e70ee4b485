//! Converse answers read into canonical `ChatResponse`s: content blocks, stop reasons and
//! usage (cache tokens included in the input, pitfall 25).

// In a `bedrock` module so that `cargo test -p modelmux-wire bedrock` selects these tests.
#[cfg(test)]
mod bedrock {
    use modelmux_wire::bedrock::response_from_bedrock;
    use modelmux_wire::canonical::{FinishReason, Part, Usage};
    use serde_json::json;

    fn read(body: serde_json::Value) -> modelmux_wire::ChatResponse {
        response_from_bedrock(body.to_string().as_bytes()).expect("readable response")
    }

    #[test]
    fn text_tool_use_and_reasoning_become_parts_in_order() {
        let r = read(json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig=="}}},
                {"reasoningContent": {"redactedContent": "cmVkYWN0ZWQ="}},
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris", "days": 2}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 12, "outputTokens": 5, "totalTokens": 17},
            "metrics": {"latencyMs": 42}
        }));
        assert_eq!(
            r.content,
            vec![
                Part::Thinking {
                    text: "hmm".into(),
                    signature: Some("sig==".into())
                },
                Part::RedactedThinking {
                    data: "cmVkYWN0ZWQ=".into()
                },
                Part::text("Checking."),
                Part::ToolCall {
                    id: "tooluse_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris","days":2}"#.into(),
                    signature: None,
                },
            ]
        );
        assert_eq!(r.finish, Some(FinishReason::ToolCalls));
        assert_eq!(
            r.usage,
            Usage {
                input: 12,
                output: 5,
                ..Usage::default()
            }
        );
        assert!(r.id.starts_with("bedrock-"), "{}", r.id);
        assert_eq!(r.model, "");
    }

    #[test]
    fn pitfall_05_no_argument_tool_use_reads_as_empty_object_arguments() {
        let r = read(json!({
            "output": {"message": {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "t", "name": "now", "input": {}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
        }));
        let Part::ToolCall { arguments, .. } = &r.content[0] else {
            panic!("expected a tool call: {:?}", r.content);
        };
        assert_eq!(arguments, "{}");
    }

    #[test]
    fn pitfall_25_cache_tokens_are_added_to_input() {
        let r = read(json!({
            "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 5, "outputTokens": 200, "totalTokens": 5505,
                      "cacheReadInputTokens": 5100, "cacheWriteInputTokens": 200}
        }));
        assert_eq!(
            r.usage,
            Usage {
                input: 5305,
                output: 200,
                cache_read: 5100,
                cache_write: 200,
                reasoning: 0
            }
        );
    }

    #[test]
    fn pitfall_26_stop_reasons_map_and_unknown_ones_stay_raw() {
        let cases = [
            ("end_turn", FinishReason::Stop),
            ("stop_sequence", FinishReason::Stop),
            ("max_tokens", FinishReason::Length),
            ("model_context_window_exceeded", FinishReason::Length),
            ("tool_use", FinishReason::ToolCalls),
            ("guardrail_intervened", FinishReason::ContentFilter),
            ("content_filtered", FinishReason::ContentFilter),
            (
                "malformed_tool_use",
                FinishReason::Other("malformed_tool_use".into()),
            ),
        ];
        for (raw, expected) in cases {
            let r = read(json!({
                "output": {"message": {"role": "assistant", "content": []}},
                "stopReason": raw,
                "usage": {"inputTokens": 1, "outputTokens": 0, "totalTokens": 1}
            }));
            assert_eq!(r.finish, Some(expected), "{raw}");
        }
    }

    #[test]
    fn matched_stop_sequence_is_read_from_additional_fields() {
        let r = read(json!({
            "output": {"message": {"role": "assistant", "content": [{"text": "a"}]}},
            "stopReason": "stop_sequence",
            "additionalModelResponseFields": {"stop_sequence": "\n\nHuman:"},
            "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
        }));
        assert_eq!(r.stop_sequence.as_deref(), Some("\n\nHuman:"));
    }

    #[test]
    fn citations_content_keeps_its_text_and_unknown_keys_are_ignored() {
        let r = read(json!({
            "output": {"message": {"role": "assistant", "content": [
                {"citationsContent": {"content": [{"text": "cited answer"}], "citations": []}},
                {"somethingNew": {"x": 1}}
            ]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
            "trace": {}, "serviceTier": {"type": "default"}
        }));
        assert_eq!(r.content, vec![Part::text("cited answer")]);
    }

    #[test]
    fn unreadable_bodies_are_errors_not_panics() {
        assert!(response_from_bedrock(b"<html>").is_err());
        assert!(response_from_bedrock(b"{}").is_err());
        assert!(response_from_bedrock(br#"{"output":{}}"#).is_err());
        assert!(response_from_bedrock(br#"{"output":{"message":{"content":"x"}}}"#).is_err());
    }
}
