//! Request translation for the OpenAI Chat Completions format: `from_openai` (client body →
//! canonical) and `to_openai` (canonical → provider body), with JSON literals; the SDK
//! bodies are copied from shared/fixtures/sdk/sdk_requests.jsonl (openai 3.54.0).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Named `openai` so that `cargo test -p modelmux-wire openai` selects these tests.
mod openai {

    use modelmux_wire::canonical::{
        ChatRequest, MediaSource, Message, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
        WireFormat,
    };
    use modelmux_wire::openai::{ChatBody, OpenAiOptions, from_openai, to_openai};
    use serde_json::{Value, json};

    fn body(v: &Value) -> ChatBody {
        ChatBody::parse(v.to_string().as_bytes()).unwrap()
    }

    fn decode(v: &Value) -> ChatRequest {
        from_openai(&body(v)).unwrap()
    }

    fn encode(req: &ChatRequest) -> Value {
        serde_json::from_slice(&to_openai(req, "gpt-4o-mini", &OpenAiOptions::default())).unwrap()
    }

    fn error_param(v: &Value) -> String {
        let err = from_openai(&body(v)).expect_err(&v.to_string());
        assert!(!err.message.is_empty());
        err.param.unwrap_or_default()
    }

    fn get_weather() -> Value {
        json!({"type": "function", "function": {"name": "get_weather", "description": "Get weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
    }

    #[test]
    fn sdk_bodies_round_trip_unchanged() {
        // openai.chat, openai.stream, openai.tools: from_openai → to_openai gives the same JSON.
        let bodies = [
            json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "max_completion_tokens": 50, "temperature": 0.2}),
            json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "stream_options": {"include_usage": true}}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Weather in Paris?"}], "tool_choice": "auto", "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]}),
        ];
        for b in &bodies {
            assert_eq!(&encode(&decode(b)), b);
        }
    }

    #[test]
    fn sdk_tool_loop_round_trips() {
        // The openai.tools request, then the SDK's follow-up turn with the call and its result.
        let follow_up = json!({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_Xk2pL9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_Xk2pL9", "content": "18C, sunny"}
    ], "tool_choice": "auto", "tools": [get_weather()]});
        let req = decode(&follow_up);
        assert_eq!(req.messages.len(), 3);
        assert_eq!(
            req.messages[2].content,
            vec![Part::ToolResult {
                call_id: "call_Xk2pL9".into(),
                name: Some("get_weather".into()),
                content: vec![Part::text("18C, sunny")],
                is_error: false,
                cache_control: None,
            }]
        );
        assert_eq!(encode(&req), follow_up);
        // The streamed variant (openai.tools_stream) gains the usage request the gateway prices by.
        let mut streamed = follow_up.clone();
        streamed["stream"] = json!(true);
        let out = encode(&decode(&streamed));
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
        assert_eq!(out["messages"], follow_up["messages"]);
    }

    #[test]
    fn unknown_fields_go_to_extra_in_order_and_back() {
        // A raw literal: `json!` would sort the keys.
        let src = r#"{"model":"gpt-4o-mini","logprobs":true,"messages":[{"role":"user","content":"x"}],"top_logprobs":2,"logit_bias":{"50256":-100},"service_tier":"flex","store":true,"prompt_cache_key":"k","verbosity":"low","x_vendor":{"deep":[1,2]},"metadata":{"a":"b"}}"#;
        let b: Value = serde_json::from_str(src).unwrap();
        let req = from_openai(&ChatBody::parse(src.as_bytes()).unwrap()).unwrap();
        assert_eq!(req.extra.format, Some(WireFormat::OpenAiChat));
        let keys: Vec<&str> = req.extra.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "logprobs",
                "top_logprobs",
                "logit_bias",
                "service_tier",
                "store",
                "prompt_cache_key",
                "verbosity",
                "x_vendor"
            ]
        );
        assert_eq!(encode(&req), b);
    }

    #[test]
    fn fields_of_other_formats_are_never_written() {
        let mut req =
            decode(&json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}));
        req.extra.format = Some(WireFormat::Anthropic);
        req.extra.fields = vec![
            (
                "context_management".into(),
                serde_json::value::to_raw_value(&json!({"edits": []})).unwrap(),
            ),
            (
                "output_config".into(),
                serde_json::value::to_raw_value(&json!({"effort": "high"})).unwrap(),
            ),
        ];
        req.metadata = Some(serde_json::Map::from_iter([("k".into(), json!("v"))]));
        let out = encode(&req);
        assert_eq!(
            out,
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
        );
    }

    #[test]
    fn parameters_map_both_ways() {
        let b = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.5, "top_p": 0.9, "stop": "END", "seed": -3, "presence_penalty": 0.1,
        "frequency_penalty": 0.2, "n": 2, "user": "u1", "reasoning_effort": "low",
        "parallel_tool_calls": false, "tools": [get_weather()],
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": true}}});
        let req = decode(&b);
        assert_eq!(req.temperature, Some(0.5));
        assert_eq!(req.stop, vec!["END".to_owned()]);
        assert_eq!(req.seed, Some(-3));
        assert_eq!(req.n, Some(2));
        assert_eq!(req.user.as_deref(), Some("u1"));
        assert_eq!(req.parallel_tool_calls, Some(false));
        assert_eq!(
            req.reasoning.as_ref().and_then(|r| r.effort.as_deref()),
            Some("low")
        );
        assert_eq!(
            req.response_format,
            Some(ResponseFormat::JsonSchema {
                name: "w".into(),
                description: None,
                schema: json!({"type": "object"}),
                strict: Some(true)
            })
        );
        let out = encode(&req);
        let mut expected = b.clone();
        expected["model"] = json!("gpt-4o-mini");
        expected["stop"] = json!(["END"]);
        assert_eq!(out, expected);
        // safety_identifier stands in for user, and stays for OpenAI targets.
        let req = decode(
            &json!({"model": "m", "safety_identifier": "s1", "messages": [{"role": "user", "content": "x"}]}),
        );
        assert_eq!(req.user.as_deref(), Some("s1"));
    }

    #[test]
    fn reasoning_budget_maps_to_an_effort() {
        let mut req = ChatRequest {
            messages: vec![Message::text(Role::User, "x")],
            ..Default::default()
        };
        for (budget, effort) in [(1024, "low"), (4096, "medium"), (16000, "high")] {
            req.reasoning = Some(Reasoning {
                budget_tokens: Some(budget),
                enabled: Some(true),
                ..Default::default()
            });
            assert_eq!(encode(&req)["reasoning_effort"], json!(effort), "{budget}");
        }
        req.reasoning = Some(Reasoning {
            enabled: Some(false),
            ..Default::default()
        });
        assert!(encode(&req).get("reasoning_effort").is_none());
    }

    #[test]
    fn pitfall_05_empty_arguments_are_sent_as_empty_object() {
        let req = ChatRequest {
            messages: vec![Message {
                role: Role::Assistant,
                content: vec![Part::ToolCall {
                    id: "toolu_1".into(),
                    name: "now".into(),
                    arguments: String::new(),
                    signature: None,
                }],
                name: None,
            }],
            ..Default::default()
        };
        let out = encode(&req);
        assert_eq!(
            out["messages"][0]["tool_calls"][0]["function"]["arguments"],
            json!("{}")
        );
        assert_eq!(out["messages"][0]["content"], Value::Null);
    }

    #[test]
    fn pitfall_07_each_tool_result_is_its_own_tool_message() {
        let result = |id: &str, content: Vec<Part>| Part::ToolResult {
            call_id: id.into(),
            name: None,
            content,
            is_error: false,
            cache_control: None,
        };
        let png = Part::Image {
            source: MediaSource::Base64 {
                media_type: "image/png".into(),
                data: "iVBO".into(),
            },
            detail: None,
            cache_control: None,
        };
        let req = ChatRequest {
            messages: vec![
                Message {
                    role: Role::Tool,
                    content: vec![
                        result("a", vec![Part::text("one"), png]),
                        result("b", vec![Part::text("two")]),
                    ],
                    name: None,
                },
                Message::text(Role::User, "go on"),
            ],
            ..Default::default()
        };
        let msgs = encode(&req)["messages"].clone();
        assert_eq!(msgs[0]["role"], "tool");
        assert_eq!(msgs[0]["tool_call_id"], "a");
        assert!(
            msgs[0]["content"]
                .as_str()
                .unwrap()
                .starts_with("one\n[image")
        );
        assert_eq!(
            msgs[1],
            json!({"role": "tool", "tool_call_id": "b", "content": "two"})
        );
        // The image follows the whole run of tool messages, as a user message.
        assert_eq!(msgs[2]["role"], "user");
        assert_eq!(
            msgs[2]["content"][1]["image_url"]["url"],
            "data:image/png;base64,iVBO"
        );
        assert_eq!(msgs[3], json!({"role": "user", "content": "go on"}));
    }

    #[test]
    fn pitfall_10_system_messages_stay_in_place() {
        let b = json!({"model": "m", "messages": [
        {"role": "system", "content": "s0"}, {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "a2"}, {"role": "system", "content": "s3"},
        {"role": "user", "content": "u4"}, {"role": "developer", "content": [{"type": "text", "text": "d5"}]}]});
        let req = decode(&b);
        let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::System,
                Role::User,
                Role::Assistant,
                Role::System,
                Role::User,
                Role::Developer
            ]
        );
        let out = encode(&req);
        assert_eq!(
            out["messages"][3],
            json!({"role": "system", "content": "s3"})
        );
        assert_eq!(
            out["messages"][5],
            json!({"role": "developer", "content": "d5"})
        );
    }

    #[test]
    fn pitfall_11_empty_assistant_content_is_no_part() {
        for content in [
            json!(null),
            json!(""),
            json!([{"type": "text", "text": ""}]),
        ] {
            let req = decode(
                &json!({"model": "m", "messages": [{"role": "user", "content": "x"},
            {"role": "assistant", "content": content, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}),
            );
            assert_eq!(req.messages[1].content.len(), 1, "{content}");
            assert!(matches!(req.messages[1].content[0], Part::ToolCall { .. }));
        }
    }

    #[test]
    fn pitfall_12_anthropic_blocks_inside_openai_messages_are_translated() {
        let b = json!({"model": "m", "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "18C"}]},
            {"type": "text", "text": "And tomorrow?"}]}]});
        let req = decode(&b);
        assert_eq!(
            req.messages[1].content[1],
            Part::ToolCall {
                id: "toolu_01".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
                signature: None
            }
        );
        assert_eq!(req.messages[2].role, Role::Tool);
        assert_eq!(req.messages[3], Message::text(Role::User, "And tomorrow?"));
        let out = encode(&req);
        assert_eq!(out["messages"][1]["tool_calls"][0]["id"], json!("toolu_01"));
        assert_eq!(
            out["messages"][2],
            json!({"role": "tool", "tool_call_id": "toolu_01", "content": "18C"})
        );
        // Block types with no translation are rejected, naming the part.
        let bad = json!({"model": "m", "messages": [{"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "server_tool_use", "id": "s", "name": "web_search"}]}]});
        assert_eq!(error_param(&bad), "messages[1].content[0].type");
    }

    #[test]
    fn pitfall_16_reasoning_content_is_sent_back() {
        let b = json!({"model": "deepseek-reasoner", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": null, "reasoning_content": "Need the tool.",
         "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "ok"}]});
        let req = decode(&b);
        assert_eq!(
            req.messages[1].content[0],
            Part::Thinking {
                text: "Need the tool.".into(),
                signature: None
            }
        );
        let out = encode(&req);
        assert_eq!(out["messages"][1]["reasoning_content"], "Need the tool.");
        assert_eq!(out["messages"], b["messages"]);
        // Redacted thinking has no OpenAI carrier.
        let mut req = req;
        req.messages[1]
            .content
            .push(Part::RedactedThinking { data: "xx".into() });
        assert_eq!(encode(&req)["messages"][1], b["messages"][1]);
    }

    #[test]
    fn pitfall_17_tool_choice_and_parallel_calls() {
        let base = |choice: Value| json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [get_weather()], "tool_choice": choice});
        let cases = [
            (json!("auto"), ToolChoice::Auto),
            (json!("none"), ToolChoice::None),
            (json!("required"), ToolChoice::Required),
            (
                json!({"type": "function", "function": {"name": "get_weather"}}),
                ToolChoice::Named("get_weather".into()),
            ),
        ];
        for (wire, canonical) in cases {
            let req = decode(&base(wire.clone()));
            assert_eq!(req.tool_choice, Some(canonical));
            assert_eq!(encode(&req)["tool_choice"], wire);
        }
        // allowed_tools has no canonical form: kept raw for OpenAI targets.
        let allowed =
            json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}});
        let req = decode(&base(allowed.clone()));
        assert_eq!(req.tool_choice, None);
        assert_eq!(encode(&req)["tool_choice"], allowed);
        // Without tools, OpenAI rejects tool_choice and parallel_tool_calls.
        let req = ChatRequest {
            messages: vec![Message::text(Role::User, "x")],
            tool_choice: Some(ToolChoice::Required),
            parallel_tool_calls: Some(false),
            ..Default::default()
        };
        let out = encode(&req);
        assert!(out.get("tool_choice").is_none() && out.get("parallel_tool_calls").is_none());
        // Non-function tools are kept raw, after the function tools.
        let custom = json!({"type": "custom", "custom": {"name": "grammar"}});
        let req = decode(
            &json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [custom, get_weather()]}),
        );
        assert_eq!(req.tools.len(), 1);
        assert_eq!(encode(&req)["tools"], json!([get_weather(), custom]));
    }

    #[test]
    fn pitfall_20_tool_call_ids_are_kept_verbatim() {
        for id in ["toolu_01A09q90qw90lq917835lq9", "aB3dE5gH7", "call_Ab-9_z"] {
            let b = json!({"model": "m", "messages": [{"role": "user", "content": "x"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": id, "content": "r"}]});
            let out = encode(&decode(&b));
            assert_eq!(out["messages"][1]["tool_calls"][0]["id"], json!(id));
            assert_eq!(out["messages"][2]["tool_call_id"], json!(id));
        }
    }

    #[test]
    fn pitfall_21_token_limit_field_per_target() {
        let req = decode(
            &json!({"model": "m", "max_tokens": 77, "messages": [{"role": "user", "content": "x"}]}),
        );
        assert_eq!(req.max_tokens, Some(77));
        let out = encode(&req);
        assert_eq!(out["max_completion_tokens"], 77);
        assert!(out.get("max_tokens").is_none());
        let legacy: Value = serde_json::from_slice(&to_openai(
            &req,
            "m",
            &OpenAiOptions {
                legacy_max_tokens: true,
            },
        ))
        .unwrap();
        assert_eq!(legacy["max_tokens"], 77);
        assert!(legacy.get("max_completion_tokens").is_none());
    }

    #[test]
    fn pitfall_22_images_and_media_parts() {
        let b = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}}]}]});
        let req = decode(&b);
        let c = &req.messages[0].content;
        assert_eq!(
            c[1],
            Part::Image {
                source: MediaSource::Base64 {
                    media_type: "image/png".into(),
                    data: "iVBORw0".into()
                },
                detail: Some("low".into()),
                cache_control: None
            }
        );
        assert!(
            matches!(&c[2], Part::Image { source: MediaSource::Url(u), .. } if u == "https://example.com/cat.jpg")
        );
        assert_eq!(
            c[3],
            Part::Audio {
                format: "wav".into(),
                data: "UklGR".into()
            }
        );
        assert!(
            matches!(&c[4], Part::Document { source: MediaSource::Base64 { media_type, .. }, title: Some(t), .. } if media_type == "application/pdf" && t == "a.pdf")
        );
        assert_eq!(encode(&req)["messages"], b["messages"]);
        let bad = json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}}]}]});
        assert_eq!(error_param(&bad), "messages[0].content[0].image_url.url");
    }

    #[test]
    fn legacy_functions_pair_calls_and_results() {
        let b = json!({"model": "m", "functions": [{"name": "f", "parameters": {"type": "object"}}],
        "function_call": {"name": "f"}, "messages": [{"role": "user", "content": "x"},
        {"role": "assistant", "content": null, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": "done"}]});
        let req = decode(&b);
        assert_eq!(req.tools[0].name, "f");
        assert_eq!(req.tool_choice, Some(ToolChoice::Named("f".into())));
        let Part::ToolCall { id, .. } = &req.messages[1].content[0] else {
            panic!("no call")
        };
        let Part::ToolResult { call_id, name, .. } = &req.messages[2].content[0] else {
            panic!("no result")
        };
        assert_eq!(call_id, id);
        assert_eq!(name.as_deref(), Some("f"));
    }

    #[test]
    fn client_mistakes_name_their_param() {
        let user = json!({"role": "user", "content": "x"});
        let cases = [
            (json!({"messages": [user]}), "model"),
            (json!({"model": "m"}), "messages"),
            (json!({"model": "m", "messages": []}), "messages"),
            (
                json!({"model": "m", "messages": [user, {"role": "robot", "content": "x"}]}),
                "messages[1].role",
            ),
            (
                json!({"model": "m", "messages": [user, user, {"role": "user"}]}),
                "messages[2].content",
            ),
            (
                json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}),
                "messages[0].tool_call_id",
            ),
            (
                json!({"model": "m", "messages": [user, {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f"}}]}]}),
                "messages[1].tool_calls[0].id",
            ),
            (
                json!({"model": "m", "messages": [user], "tools": [{"type": "function", "function": {}}]}),
                "tools[0].function.name",
            ),
            (
                json!({"model": "m", "messages": [user], "response_format": {"type": "yaml"}}),
                "response_format.type",
            ),
            (
                json!({"model": "m", "messages": [user], "tool_choice": "sometimes"}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "messages": [user], "max_completion_tokens": 0}),
                "max_completion_tokens",
            ),
            (
                json!({"model": "m", "messages": [user], "stop": ["a", 3]}),
                "stop[1]",
            ),
            (
                json!({"model": "m", "messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}]}),
                "messages[0].content[0]",
            ),
        ];
        for (b, param) in cases {
            assert_eq!(error_param(&b), param, "{b}");
        }
    }

    #[test]
    fn canonical_tools_and_schema_names_are_sanitised_for_openai() {
        let req = ChatRequest {
            messages: vec![Message::text(Role::User, "x")],
            tools: vec![Tool {
                name: "Read".into(),
                description: None,
                parameters: json!({"type": "object", "properties": {}}),
                strict: None,
                cache_control: Some(json!({"type": "ephemeral"})),
            }],
            response_format: Some(ResponseFormat::JsonSchema {
                name: String::new(),
                description: None,
                schema: json!({"type": "object"}),
                strict: None,
            }),
            stop: vec!["a", "b", "c", "d", "e"]
                .into_iter()
                .map(String::from)
                .collect(),
            ..Default::default()
        };
        let out = encode(&req);
        assert_eq!(
            out["tools"],
            json!([{"type": "function", "function": {"name": "Read", "parameters": {"type": "object", "properties": {}}}}])
        );
        assert_eq!(out["response_format"]["json_schema"]["name"], "response");
        assert_eq!(out["stop"], json!(["a", "b", "c", "d"]));
    }

    /// Every value of a rich body replaced, one at a time, by a value of every other JSON type:
    /// `from_openai` answers (Ok or a named error) and never panics.
    #[test]
    fn no_input_shape_panics() {
        let rich = json!({"model": "m", "stream": true, "stop": ["a"], "tools": [get_weather()],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {}}},
        "functions": [{"name": "f"}], "function_call": {"name": "f"}, "metadata": {"a": "b"},
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "s"}]},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}},
                {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,AA", "filename": "f"}},
                {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "r"}], "is_error": true},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}},
                {"type": "thinking", "thinking": "x", "signature": "s"}], "reasoning_content": "r", "refusal": "no",
             "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
             "function_call": {"name": "f", "arguments": "{}"}},
            {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "r"}]},
            {"role": "function", "name": "f", "content": "r"}]});
        assert!(from_openai(&body(&rich)).is_ok());
        let replacements = [
            json!(null),
            json!(-1),
            json!(1.5),
            json!("s"),
            json!([]),
            json!([1]),
            json!({}),
            json!(true),
        ];
        let mut paths = Vec::new();
        collect_paths(&rich, String::new(), &mut paths);
        let mut tried = 0;
        for path in &paths {
            for r in &replacements {
                let mut v = rich.clone();
                *v.pointer_mut(path).unwrap() = r.clone();
                let _ = from_openai(&body(&v))
                    .map(|req| to_openai(&req, "m", &OpenAiOptions::default()));
                tried += 1;
            }
        }
        assert!(tried > 500, "{tried}");
    }

    fn collect_paths(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, c) in o {
                    let p = format!("{at}/{k}");
                    out.push(p.clone());
                    collect_paths(c, p, out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    let p = format!("{at}/{i}");
                    out.push(p.clone());
                    collect_paths(c, p, out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn null_means_unset() {
        let req = decode(
            &json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "max_tokens": null, "max_completion_tokens": 9, "tools": null, "stop": null, "x_null": null}),
        );
        assert_eq!(req.max_tokens, Some(9));
        assert!(req.tools.is_empty() && req.stop.is_empty());
        let out = encode(&req);
        assert!(out.get("max_tokens").is_none() && out.get("tools").is_none());
        assert_eq!(out["x_null"], Value::Null);
        assert!(
            out.get("x_null").is_some(),
            "unknown fields are kept even when null"
        );
    }
}
