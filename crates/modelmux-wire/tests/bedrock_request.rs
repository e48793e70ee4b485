//! Canonical requests rendered to Bedrock Converse bodies, compared as exact JSON values; one
//! test per applicable pitfall of wire-formats.md §8, plus a literal full-conversation body.

// In a `bedrock` module so that `cargo test -p modelmux-wire bedrock` selects these tests.
#[cfg(test)]
mod bedrock {
    use modelmux_wire::bedrock::to_bedrock;
    use modelmux_wire::canonical::{
        ChatRequest, Extra, MediaSource, Message, Part, Reasoning, ResponseFormat, Role, Tool,
        ToolChoice, WireFormat,
    };
    use serde_json::{Value, json};

    const CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    const LLAMA: &str = "meta.llama3-70b-instruct-v1:0";

    fn render(req: &ChatRequest, model: &str) -> Value {
        serde_json::from_slice(&to_bedrock(req, model)).expect("to_bedrock writes JSON")
    }

    fn msg(role: Role, content: Vec<Part>) -> Message {
        Message {
            role,
            content,
            name: None,
        }
    }

    fn call(id: &str, name: &str, arguments: &str) -> Part {
        Part::ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
            signature: None,
        }
    }

    fn result(id: &str, text: &str, is_error: bool) -> Part {
        Part::ToolResult {
            call_id: id.into(),
            name: None,
            content: vec![Part::text(text)],
            is_error,
            cache_control: None,
        }
    }

    fn weather_tool() -> Tool {
        Tool {
            name: "get_weather".into(),
            description: Some("Get weather".into()),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            strict: None,
            cache_control: None,
        }
    }

    fn req(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: "route".into(),
            messages,
            ..ChatRequest::default()
        }
    }

    #[test]
    fn full_conversation_body_is_exact() {
        let mut r = req(vec![
            Message::text(Role::System, "Be brief."),
            Message::text(Role::User, "Weather in Paris and Rome?"),
            msg(
                Role::Assistant,
                vec![
                    Part::text("Checking."),
                    call("call_1", "get_weather", r#"{"city":"Paris"}"#),
                    call("call_2", "get_weather", r#"{"city":"Rome"}"#),
                ],
            ),
            msg(Role::Tool, vec![result("call_1", "18C", false)]),
            msg(Role::Tool, vec![result("call_2", "timeout", true)]),
            Message::text(Role::User, "And tomorrow?"),
        ]);
        r.tools = vec![weather_tool()];
        r.tool_choice = Some(ToolChoice::Auto);
        r.max_tokens = Some(50);
        r.temperature = Some(0.2);
        r.top_p = Some(0.9);
        r.stop = vec!["\n\nHuman:".into()];
        r.seed = Some(7);
        r.presence_penalty = Some(0.5);
        r.parallel_tool_calls = Some(false);
        r.stream = true;
        let expected = json!({
            "system": [{"text": "Be brief."}],
            "messages": [
                {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"text": "Checking."},
                    {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
                    {"toolUse": {"toolUseId": "call_2", "name": "get_weather", "input": {"city": "Rome"}}}
                ]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C"}]}},
                    {"toolResult": {"toolUseId": "call_2", "content": [{"text": "timeout"}], "status": "error"}},
                    {"text": "And tomorrow?"}
                ]}
            ],
            "inferenceConfig": {"maxTokens": 50, "temperature": 0.2, "topP": 0.9, "stopSequences": ["\n\nHuman:"]},
            "toolConfig": {
                "tools": [{"toolSpec": {
                    "name": "get_weather",
                    "description": "Get weather",
                    "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
                }}],
                "toolChoice": {"auto": {}}
            }
        });
        assert_eq!(render(&r, CLAUDE), expected);
    }

    #[test]
    fn pitfall_05_zero_argument_and_invalid_tool_arguments_become_objects() {
        let r = req(vec![
            Message::text(Role::User, "go"),
            msg(
                Role::Assistant,
                vec![
                    call("a", "now", ""),
                    call("b", "now", "{not json"),
                    call("c", "now", "[1,2]"),
                    call("d", "now", "  {}  "),
                ],
            ),
            msg(
                Role::Tool,
                vec![
                    result("a", "1", false),
                    result("b", "2", false),
                    result("c", "3", false),
                    result("d", "4", false),
                ],
            ),
        ]);
        let body = render(&r, CLAUDE);
        let calls = body["messages"][1]["content"].as_array().unwrap();
        assert_eq!(calls.len(), 4);
        for c in calls {
            assert_eq!(c["toolUse"]["input"], json!({}), "{c}");
        }
    }

    #[test]
    fn pitfall_07_parallel_tool_results_share_one_user_message_results_first() {
        let r = req(vec![
            Message::text(Role::User, "two calls"),
            msg(
                Role::Assistant,
                vec![call("t1", "f", "{}"), call("t2", "g", "{}")],
            ),
            // A user remark arriving before the results: the results still go first.
            Message::text(Role::User, "here you go"),
            msg(Role::Tool, vec![result("t1", "one", false)]),
            msg(Role::Tool, vec![result("t2", "two", true)]),
        ]);
        let body = render(&r, CLAUDE);
        assert_eq!(body["messages"].as_array().unwrap().len(), 3);
        assert_eq!(
            body["messages"][2],
            json!({"role": "user", "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"text": "one"}]}},
                {"toolResult": {"toolUseId": "t2", "content": [{"text": "two"}], "status": "error"}},
                {"text": "here you go"}
            ]})
        );
    }

    #[test]
    fn pitfall_09_consecutive_same_role_messages_merge() {
        let r = req(vec![
            Message::text(Role::User, "a"),
            Message::text(Role::User, "b"),
            Message::text(Role::Assistant, "c"),
            // An empty assistant turn disappears, so the users around it merge too.
            Message::text(Role::User, "d"),
            msg(Role::Assistant, vec![Part::text("")]),
            Message::text(Role::User, "e"),
            Message::text(Role::Assistant, "f"),
            Message::text(Role::Assistant, "g"),
        ]);
        assert_eq!(
            render(&r, LLAMA)["messages"],
            json!([
                {"role": "user", "content": [{"text": "a"}, {"text": "b"}]},
                {"role": "assistant", "content": [{"text": "c"}]},
                {"role": "user", "content": [{"text": "d"}, {"text": "e"}]},
                {"role": "assistant", "content": [{"text": "f"}, {"text": "g"}]}
            ])
        );
    }

    #[test]
    fn pitfall_10_system_messages_at_0_3_and_5_keep_text_and_place() {
        let r = req(vec![
            Message::text(Role::System, "rule zero"),
            Message::text(Role::User, "u1"),
            Message::text(Role::Assistant, "a1"),
            Message::text(Role::System, "rule three"),
            Message::text(Role::User, "u2"),
            Message::text(Role::Developer, "rule five"),
            Message::text(Role::Assistant, "a2"),
        ]);
        let body = render(&r, CLAUDE);
        assert_eq!(body["system"], json!([{"text": "rule zero"}]));
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [{"text": "u1"}]},
                {"role": "assistant", "content": [{"text": "a1"}]},
                {"role": "user", "content": [
                    {"text": "System: rule three"}, {"text": "u2"}, {"text": "System: rule five"}
                ]},
                {"role": "assistant", "content": [{"text": "a2"}]}
            ])
        );
    }

    #[test]
    fn pitfall_10_several_leading_system_and_developer_messages_all_go_to_system() {
        let r = req(vec![
            Message::text(Role::System, "one"),
            Message::text(Role::Developer, "two"),
            Message::text(Role::System, "   "),
            Message::text(Role::User, "hi"),
        ]);
        let body = render(&r, CLAUDE);
        assert_eq!(body["system"], json!([{"text": "one"}, {"text": "two"}]));
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn pitfall_11_empty_text_is_dropped_and_tool_only_turns_hold_only_tool_use() {
        let r = req(vec![
            msg(
                Role::User,
                vec![Part::text(""), Part::text("hi"), Part::text(" \n")],
            ),
            msg(
                Role::Assistant,
                vec![Part::text(""), call("x", "f", r#"{"a":1}"#)],
            ),
            msg(
                Role::Tool,
                vec![Part::ToolResult {
                    call_id: "x".into(),
                    name: None,
                    content: vec![Part::text("")],
                    is_error: false,
                    cache_control: None,
                }],
            ),
            // A trailing empty assistant message is dropped, not sent as an empty turn.
            msg(Role::Assistant, vec![]),
        ]);
        assert_eq!(
            render(&r, CLAUDE)["messages"],
            json!([
                {"role": "user", "content": [{"text": "hi"}]},
                {"role": "assistant", "content": [
                    {"toolUse": {"toolUseId": "x", "name": "f", "input": {"a": 1}}}
                ]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "x", "content": []}}]}
            ])
        );
    }

    #[test]
    fn pitfall_13_thinking_and_redacted_thinking_replay_byte_exact() {
        let sig = "EqQBCkYIAxgCIkB+/=sig";
        let r = req(vec![
            Message::text(Role::User, "think"),
            msg(
                Role::Assistant,
                vec![
                    Part::Thinking {
                        text: "Let me see.\n  ".into(),
                        signature: Some(sig.into()),
                    },
                    // display:"omitted" gives signed blocks with no text: they must survive.
                    Part::Thinking {
                        text: String::new(),
                        signature: Some("c2ln".into()),
                    },
                    Part::RedactedThinking {
                        data: "RW5jcnlwdGVk+/==".into(),
                    },
                    // Unsigned thinking (another provider's) cannot be replayed: dropped.
                    Part::Thinking {
                        text: "deepseek musings".into(),
                        signature: None,
                    },
                    call("t", "f", "{}"),
                ],
            ),
            msg(Role::Tool, vec![result("t", "ok", false)]),
        ]);
        assert_eq!(
            render(&r, CLAUDE)["messages"][1]["content"],
            json!([
                {"reasoningContent": {"reasoningText": {"text": "Let me see.\n  ", "signature": sig}}},
                {"reasoningContent": {"reasoningText": {"text": "", "signature": "c2ln"}}},
                {"reasoningContent": {"redactedContent": "RW5jcnlwdGVk+/=="}},
                {"toolUse": {"toolUseId": "t", "name": "f", "input": {}}}
            ])
        );
    }

    fn with_choice(choice: Option<ToolChoice>, history: bool) -> ChatRequest {
        let mut messages = vec![Message::text(Role::User, "hi")];
        if history {
            messages.push(msg(Role::Assistant, vec![call("c", "get_weather", "{}")]));
            messages.push(msg(Role::Tool, vec![result("c", "sunny", false)]));
        }
        let mut r = req(messages);
        r.tools = vec![weather_tool()];
        r.tool_choice = choice;
        r.parallel_tool_calls = Some(false);
        r
    }

    #[test]
    fn pitfall_17_tool_choice_auto_required_named() {
        let cases = [
            (Some(ToolChoice::Auto), Some(json!({"auto": {}}))),
            (Some(ToolChoice::Required), Some(json!({"any": {}}))),
            (
                Some(ToolChoice::Named("get_weather".into())),
                Some(json!({"tool": {"name": "get_weather"}})),
            ),
            (None, None),
        ];
        for (choice, expected) in cases {
            let body = render(&with_choice(choice.clone(), false), CLAUDE);
            assert_eq!(
                body["toolConfig"].get("toolChoice").cloned(),
                expected,
                "{choice:?}"
            );
            assert_eq!(body["toolConfig"]["tools"].as_array().unwrap().len(), 1);
            let text = body.to_string();
            assert!(!text.contains("parallel"), "{text}");
        }
    }

    #[test]
    fn pitfall_17_tool_choice_none_has_no_bedrock_form() {
        // No tool blocks in the history: no toolConfig at all.
        let body = render(&with_choice(Some(ToolChoice::None), false), CLAUDE);
        assert!(body.get("toolConfig").is_none(), "{body}");
        // Tool blocks in the history: Bedrock insists on toolConfig, so the tools stay and only
        // the choice is omitted.
        let body = render(&with_choice(Some(ToolChoice::None), true), CLAUDE);
        assert_eq!(
            body["toolConfig"],
            json!({"tools": [{"toolSpec": {
                "name": "get_weather",
                "description": "Get weather",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
            }}]})
        );
    }

    #[test]
    fn pitfall_17_history_with_tool_blocks_but_no_tools_gets_a_placeholder_tool_config() {
        let mut r = with_choice(None, true);
        r.tools.clear();
        let body = render(&r, CLAUDE);
        let tools = body["toolConfig"]["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0]["toolSpec"]["name"], "modelmux_no_tools");
        assert!(body["toolConfig"].get("toolChoice").is_none());
    }

    #[test]
    fn pitfall_20_tool_use_ids_are_sanitised_the_same_way_for_call_and_result() {
        let r = req(vec![
            Message::text(Role::User, "go"),
            msg(Role::Assistant, vec![call("call/1 x", "f", "{}")]),
            msg(Role::Tool, vec![result("call/1 x", "ok", false)]),
        ]);
        let body = render(&r, CLAUDE);
        assert_eq!(
            body["messages"][1]["content"][0]["toolUse"]["toolUseId"],
            "call_1_x"
        );
        assert_eq!(
            body["messages"][2]["content"][0]["toolResult"]["toolUseId"],
            "call_1_x"
        );
    }

    #[test]
    fn pitfall_21_claude_thinking_budget_and_its_constraints() {
        let mut r = with_choice(Some(ToolChoice::Required), false);
        r.reasoning = Some(Reasoning {
            budget_tokens: Some(500),
            ..Reasoning::default()
        });
        r.max_tokens = Some(4000);
        r.temperature = Some(0.3);
        r.top_k = Some(40);
        r.top_p = Some(0.5);
        let body = render(&r, "us.anthropic.claude-sonnet-4-20250514-v1:0");
        assert_eq!(
            body["additionalModelRequestFields"],
            json!({"thinking": {"type": "enabled", "budget_tokens": 1024}})
        );
        assert_eq!(body["inferenceConfig"], json!({"maxTokens": 4000}));
        assert_eq!(body["toolConfig"]["toolChoice"], json!({"auto": {}}));

        // Effort maps to a budget, which must stay below maxTokens.
        let mut r = req(vec![Message::text(Role::User, "hi")]);
        r.reasoning = Some(Reasoning {
            effort: Some("high".into()),
            ..Reasoning::default()
        });
        r.max_tokens = Some(3000);
        assert_eq!(
            render(&r, CLAUDE)["additionalModelRequestFields"]["thinking"],
            json!({"type": "enabled", "budget_tokens": 2999})
        );
        // Reasoning off, or a non-Claude model: no thinking field.
        r.reasoning = Some(Reasoning {
            enabled: Some(false),
            ..Reasoning::default()
        });
        assert!(
            render(&r, CLAUDE)
                .get("additionalModelRequestFields")
                .is_none()
        );
        r.reasoning = Some(Reasoning {
            effort: Some("high".into()),
            ..Reasoning::default()
        });
        assert!(
            render(&r, LLAMA)
                .get("additionalModelRequestFields")
                .is_none()
        );
    }

    #[test]
    fn top_k_goes_where_each_family_reads_it() {
        let mut r = req(vec![Message::text(Role::User, "hi")]);
        r.top_k = Some(40);
        assert_eq!(
            render(&r, CLAUDE)["additionalModelRequestFields"],
            json!({"top_k": 40})
        );
        assert_eq!(
            render(&r, "amazon.nova-pro-v1:0")["additionalModelRequestFields"],
            json!({"inferenceConfig": {"topK": 40}})
        );
        assert!(
            render(&r, LLAMA)
                .get("additionalModelRequestFields")
                .is_none()
        );
    }

    #[test]
    fn pitfall_22_url_images_become_text_and_inline_images_travel_as_bytes() {
        let image = |source| Part::Image {
            source,
            detail: Some("high".into()),
            cache_control: None,
        };
        let r = req(vec![
            msg(
                Role::User,
                vec![
                    image(MediaSource::Url("https://example.com/cat.png".into())),
                    image(MediaSource::Url("data:image/jpeg;base64,AAAA".into())),
                    image(MediaSource::Base64 {
                        media_type: "image/webp".into(),
                        data: "BBBB".into(),
                    }),
                    image(MediaSource::Base64 {
                        media_type: "image/tiff".into(),
                        data: "CCCC".into(),
                    }),
                ],
            ),
            msg(Role::Assistant, vec![call("v", "view", "{}")]),
            msg(
                Role::Tool,
                vec![Part::ToolResult {
                    call_id: "v".into(),
                    name: None,
                    content: vec![
                        image(MediaSource::Url("https://example.com/dog.gif".into())),
                        image(MediaSource::Base64 {
                            media_type: "image/gif".into(),
                            data: "DDDD".into(),
                        }),
                    ],
                    is_error: false,
                    cache_control: None,
                }],
            ),
        ]);
        let body = render(&r, CLAUDE);
        assert_eq!(
            body["messages"][0]["content"],
            json!([
                {"text": "[image: https://example.com/cat.png]"},
                {"image": {"format": "jpeg", "source": {"bytes": "AAAA"}}},
                {"image": {"format": "webp", "source": {"bytes": "BBBB"}}},
                {"text": "[image: unsupported type image/tiff]"}
            ])
        );
        assert_eq!(
            body["messages"][2]["content"][0]["toolResult"]["content"],
            json!([
                {"text": "[image: https://example.com/dog.gif]"},
                {"image": {"format": "gif", "source": {"bytes": "DDDD"}}}
            ])
        );
    }

    #[test]
    fn documents_become_document_blocks_with_safe_names() {
        let r = req(vec![msg(
            Role::User,
            vec![
                Part::Document {
                    source: MediaSource::Base64 {
                        media_type: "application/pdf".into(),
                        data: "JVBERi0=".into(),
                    },
                    title: Some("Q3 report: final.pdf".into()),
                    cache_control: None,
                },
                Part::Document {
                    source: MediaSource::Text("plain words".into()),
                    title: None,
                    cache_control: None,
                },
            ],
        )]);
        assert_eq!(
            render(&r, CLAUDE)["messages"][0]["content"],
            json!([
                {"document": {"format": "pdf", "name": "Q3 report final pdf", "source": {"bytes": "JVBERi0="}}},
                {"document": {"format": "txt", "name": "document", "source": {"text": "plain words"}}}
            ])
        );
    }

    #[test]
    fn cache_control_becomes_a_following_cache_point() {
        let ephemeral = Some(json!({"type": "ephemeral"}));
        let mut r = req(vec![
            msg(
                Role::System,
                vec![Part::Text {
                    text: "long rules".into(),
                    cache_control: ephemeral.clone(),
                }],
            ),
            msg(
                Role::User,
                vec![Part::Text {
                    text: "big context".into(),
                    cache_control: ephemeral.clone(),
                }],
            ),
        ]);
        let mut tool = weather_tool();
        tool.cache_control = ephemeral;
        r.tools = vec![tool];
        let body = render(&r, CLAUDE);
        assert_eq!(
            body["system"],
            json!([{"text": "long rules"}, {"cachePoint": {"type": "default"}}])
        );
        assert_eq!(
            body["messages"][0]["content"],
            json!([{"text": "big context"}, {"cachePoint": {"type": "default"}}])
        );
        assert_eq!(
            body["toolConfig"]["tools"][1],
            json!({"cachePoint": {"type": "default"}})
        );
    }

    #[test]
    fn json_schema_response_format_goes_to_output_config_text_format() {
        let mut r = req(vec![Message::text(Role::User, "hi")]);
        r.response_format = Some(ResponseFormat::JsonSchema {
            name: "answer".into(),
            description: None,
            schema: json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
            strict: Some(true),
        });
        let mut out = render(&r, CLAUDE)["outputConfig"].clone();
        // The service model types `schema` as a string holding the JSON Schema.
        let schema_text = out["textFormat"]["structure"]["jsonSchema"]["schema"]
            .as_str()
            .expect("schema is JSON text")
            .to_owned();
        assert_eq!(
            serde_json::from_str::<Value>(&schema_text).unwrap(),
            json!({"type": "object", "properties": {"a": {"type": "integer"}}})
        );
        out["textFormat"]["structure"]["jsonSchema"]["schema"] = json!("<schema>");
        assert_eq!(
            out,
            json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
                "schema": "<schema>",
                "name": "answer"
            }}}})
        );
        r.response_format = Some(ResponseFormat::JsonObject);
        assert!(render(&r, CLAUDE).get("outputConfig").is_none());
    }

    #[test]
    fn user_and_string_metadata_go_to_request_metadata_when_the_pattern_allows() {
        let mut r = req(vec![Message::text(Role::User, "hi")]);
        r.user = Some("user-42@example.com".into());
        let mut meta = serde_json::Map::new();
        meta.insert("team".into(), json!("search"));
        meta.insert("count".into(), json!(3));
        meta.insert("emoji".into(), json!("no ✨ here"));
        r.metadata = Some(meta);
        assert_eq!(
            render(&r, CLAUDE)["requestMetadata"],
            json!({"team": "search", "user": "user-42@example.com"})
        );
        r.user = Some("{\"device\":\"x\"}".into());
        r.metadata = None;
        assert!(render(&r, CLAUDE).get("requestMetadata").is_none());
    }

    #[test]
    fn extra_fields_of_other_formats_are_never_written() {
        let mut r = req(vec![Message::text(Role::User, "hi")]);
        r.extra = Extra {
            format: Some(WireFormat::OpenAiChat),
            fields: vec![(
                "logit_bias".into(),
                serde_json::value::RawValue::from_string(r#"{"1":2}"#.into()).unwrap(),
            )],
        };
        assert_eq!(
            render(&r, CLAUDE),
            json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})
        );
    }
}
