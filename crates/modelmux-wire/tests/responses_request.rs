//! Requests in the OpenAI Responses format: `from_responses` on realistic Codex CLI bodies,
//! input items, tools (function, custom, namespace, built-ins), settings kept in `extra`, and
//! `items_to_messages` on stored output items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Named `responses` so that `cargo test -p modelmux-wire responses` selects these tests.
mod responses {
    use modelmux_wire::canonical::{
        ChatResponse, FinishReason, MediaSource, Part, ResponseFormat, Role, ToolChoice, Usage,
        WireFormat,
    };
    use modelmux_wire::responses::{
        FlatNames, builtin_tools, from_responses, items_to_messages, output_items,
        output_items_with, response_to_responses,
    };
    use serde_json::{Value, json};

    /// A Codex CLI 0.169.0 second turn, as real-clients.md describes it.
    fn codex_body() -> Value {
        json!({
            "model": "gpt-5-codex",
            "instructions": "You are Codex, a coding agent.",
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions instructions>sandbox: workspace-write</permissions instructions>"}]},
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<collaboration_mode>default</collaboration_mode>"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context><cwd>/repo</cwd></environment_context>"}, {"type": "input_text", "text": "List the files."}]},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "**Listing files**"}], "content": null, "encrypted_content": "gAAAAenc=="},
                {"type": "function_call", "id": "fc_1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}", "call_id": "call_A"},
                {"type": "function_call", "name": "spawn_agent", "namespace": "multi_agent_v1", "arguments": "{\"message\":\"explore\"}", "call_id": "call_B"},
                {"type": "function_call_output", "call_id": "call_A", "output": "Cargo.toml\nsrc\n"},
                {"type": "function_call_output", "call_id": "call_B", "output": [{"type": "input_text", "text": "{\"agent_id\":\"a1\"}"}]}
            ],
            "tools": [
                {"type": "function", "name": "exec_command", "description": "Runs a command in a PTY.", "strict": false,
                 "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}, "yield_time_ms": {"type": "number"}}, "required": ["cmd"], "additionalProperties": false}},
                {"type": "function", "name": "write_stdin", "description": "Writes to a session.", "strict": false,
                 "parameters": {"type": "object", "properties": {"session_id": {"type": "number"}, "chars": {"type": "string"}}, "required": ["session_id"], "additionalProperties": false}},
                {"type": "function", "name": "view_image", "description": "Attach a local image.", "strict": false,
                 "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"], "additionalProperties": false}},
                {"type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents.", "tools": [
                    {"type": "function", "name": "spawn_agent", "description": "Spawn an agent.", "strict": false,
                     "parameters": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}},
                    {"type": "function", "name": "wait", "description": "Wait for agents.", "strict": false,
                     "parameters": {"type": "object", "properties": {"ids": {"type": "array", "items": {"type": "string"}}}, "required": ["ids"]}}
                ]},
                {"type": "web_search", "external_web_access": false}
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": true,
            "reasoning": {"summary": "auto"},
            "store": false,
            "stream": true,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "019a-thread",
            "client_metadata": {"originator": "codex_exec"}
        })
    }

    fn decode(v: &Value) -> modelmux_wire::ChatRequest {
        from_responses(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn codex_body_decodes() {
        let req = decode(&codex_body());
        assert_eq!(req.model, "gpt-5-codex");
        assert!(req.stream);
        assert_eq!(req.extra.format, Some(WireFormat::OpenAiResponses));
        let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::System,
                Role::Developer,
                Role::Developer,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Tool
            ]
        );
        assert_eq!(
            req.messages[0].joined_text(),
            "You are Codex, a coding agent."
        );
        assert_eq!(req.messages[3].content.len(), 2);
        // Reasoning and both calls in one assistant message, in order.
        let a = &req.messages[4].content;
        assert_eq!(
            a[0],
            Part::Thinking {
                text: "**Listing files**".into(),
                signature: None
            }
        );
        assert_eq!(
            a[1],
            Part::RedactedThinking {
                data: "gAAAAenc==".into()
            }
        );
        assert!(
            matches!(&a[2], Part::ToolCall { id, name, arguments, .. } if id == "call_A" && name == "exec_command" && arguments == "{\"cmd\":\"ls\"}")
        );
        assert!(
            matches!(&a[3], Part::ToolCall { id, name, .. } if id == "call_B" && name == "multi_agent_v1__spawn_agent")
        );
        match &req.messages[6].content[0] {
            Part::ToolResult {
                call_id,
                name,
                content,
                ..
            } => {
                assert_eq!(call_id, "call_B");
                assert_eq!(name.as_deref(), Some("multi_agent_v1__spawn_agent"));
                assert_eq!(content, &vec![Part::text("{\"agent_id\":\"a1\"}")]);
            }
            other => panic!("{other:?}"),
        }
        // Tools: 3 functions + 2 flattened; web_search only in extra.
        let names: Vec<&str> = req.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "exec_command",
                "write_stdin",
                "view_image",
                "multi_agent_v1__spawn_agent",
                "multi_agent_v1__wait"
            ]
        );
        assert!(
            req.tools[3]
                .description
                .as_deref()
                .unwrap()
                .contains("Sub-agents.")
        );
        assert_eq!(builtin_tools(&req), ["web_search"]);
        assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(req.parallel_tool_calls, Some(true));
        let r = req.reasoning.as_ref().unwrap();
        assert_eq!(r.display.as_deref(), Some("auto"));
        assert_eq!(r.effort, None);
        // Kept raw, in order, for a Responses target.
        let kept: Vec<&str> = req.extra.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kept,
            [
                "instructions",
                "tools",
                "store",
                "include",
                "prompt_cache_key",
                "client_metadata"
            ]
        );
        assert_eq!(req.extra.get("store").unwrap().get(), "false");
        let tools: Value = serde_json::from_str(req.extra.get("tools").unwrap().get()).unwrap();
        assert_eq!(tools, codex_body()["tools"]);
    }

    #[test]
    fn namespace_names_flatten_and_map_back() {
        let req = decode(&codex_body());
        let names = FlatNames::from_request(&req);
        assert_eq!(
            names.unflatten("multi_agent_v1__wait"),
            (Some("multi_agent_v1"), "wait")
        );
        assert_eq!(names.unflatten("exec_command"), (None, "exec_command"));
        let resp = ChatResponse {
            id: "x".into(),
            content: vec![Part::ToolCall {
                id: "call_9".into(),
                name: "multi_agent_v1__wait".into(),
                arguments: "{\"ids\":[\"a1\"]}".into(),
                signature: None,
            }],
            finish: Some(FinishReason::ToolCalls),
            ..Default::default()
        };
        let items = output_items_with(&resp, &names, "resp_1");
        assert_eq!(
            items,
            vec![
                json!({"id": "fc_1_0", "type": "function_call", "status": "completed", "call_id": "call_9",
                "name": "wait", "arguments": "{\"ids\":[\"a1\"]}", "namespace": "multi_agent_v1"})
            ]
        );
        // Replaying the client's item flattens it again.
        let back = items_to_messages(&items).unwrap();
        assert!(
            matches!(&back[0].content[0], Part::ToolCall { name, .. } if name == "multi_agent_v1__wait")
        );
        // The complete answer echoes the original tools and maps the name back too.
        let body: Value =
            serde_json::from_slice(&response_to_responses(&resp, "gpt-5-codex", &req, "resp_1"))
                .unwrap();
        assert_eq!(body["output"][0]["name"], "wait");
        assert_eq!(body["tools"], codex_body()["tools"]);
        assert_eq!(body["store"], false);
        assert_eq!(body["instructions"], "You are Codex, a coding agent.");
        assert_eq!(
            body["reasoning"],
            json!({"effort": null, "summary": "auto"})
        );
    }

    #[test]
    fn flat_name_collisions_are_refused() {
        let body = json!({"model": "m", "input": "hi", "tools": [
            {"type": "function", "name": "ns__a", "parameters": {}},
            {"type": "namespace", "name": "ns", "description": "", "tools": [{"type": "function", "name": "a"}]}
        ]});
        let e = from_responses(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[1].tools[0]"));
    }

    #[test]
    fn string_input_and_settings() {
        let body = json!({
            "model": "gpt-4.1", "input": "Hello", "max_output_tokens": 50, "temperature": 0.2,
            "top_p": 0.9, "user": "u1", "safety_identifier": "s1", "metadata": {"k": "v"},
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}, "verbosity": "low"},
            "reasoning": {"effort": "none", "summary": "concise"},
            "tool_choice": {"type": "function", "name": "f"},
            "previous_response_id": "resp_prev", "service_tier": "flex", "truncation": "auto"
        });
        let req = decode(&body);
        assert_eq!(req.messages.len(), 1);
        assert_eq!(req.messages[0].role, Role::User);
        assert_eq!(req.max_tokens, Some(50));
        assert_eq!(req.temperature, Some(0.2));
        assert_eq!(req.user.as_deref(), Some("u1"));
        assert_eq!(req.metadata.as_ref().unwrap()["k"], "v");
        assert!(matches!(
            &req.response_format,
            Some(ResponseFormat::JsonSchema { name, strict: Some(true), .. }) if name == "out"
        ));
        let r = req.reasoning.as_ref().unwrap();
        assert_eq!(
            (r.effort.as_deref(), r.enabled, r.display.as_deref()),
            (Some("none"), Some(false), Some("concise"))
        );
        assert_eq!(req.tool_choice, Some(ToolChoice::Named("f".into())));
        assert_eq!(
            req.extra.get("text").unwrap().get(),
            r#"{"verbosity":"low"}"#
        );
        for k in [
            "safety_identifier",
            "previous_response_id",
            "service_tier",
            "truncation",
        ] {
            assert!(req.extra.get(k).is_some(), "{k}");
        }
        for k in [
            "model",
            "input",
            "max_output_tokens",
            "reasoning",
            "metadata",
            "user",
        ] {
            assert!(req.extra.get(k).is_none(), "{k}");
        }
    }

    #[test]
    fn content_parts_and_custom_tools() {
        let body = json!({"model": "m", "input": [
            {"role": "user", "content": [
                {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "high"},
                {"type": "input_image", "file_id": "file-img"},
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBER"},
                {"type": "input_file", "file_url": "https://x/y.pdf"}
            ]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok", "annotations": []}]},
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch\n"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "Done"}
        ], "tools": [{"type": "custom", "name": "apply_patch", "description": "Patch files.",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}]});
        let req = decode(&body);
        let u = &req.messages[0].content;
        assert!(
            matches!(&u[0], Part::Image { source: MediaSource::Base64 { media_type, data }, detail: Some(d), .. }
            if media_type == "image/png" && data == "iVBOR" && d == "high")
        );
        assert!(
            matches!(&u[1], Part::Image { source: MediaSource::Url(id), .. } if id == "file-img")
        );
        assert!(
            matches!(&u[2], Part::Document { source: MediaSource::Base64 { media_type, .. }, title: Some(t), .. }
            if media_type == "application/pdf" && t == "a.pdf")
        );
        assert!(
            matches!(&u[3], Part::Document { source: MediaSource::Url(u), .. } if u == "https://x/y.pdf")
        );
        // The assistant text and the custom call are one assistant message.
        let a = &req.messages[1];
        assert_eq!(a.role, Role::Assistant);
        assert_eq!(a.content[0], Part::text("ok"));
        match &a.content[1] {
            Part::ToolCall { arguments, .. } => {
                let v: Value = serde_json::from_str(arguments).unwrap();
                assert_eq!(v, json!({"input": "*** Begin Patch\n"}));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(req.messages[2].role, Role::Tool);
        // The custom tool is a function taking {"input": string}.
        let t = &req.tools[0];
        assert_eq!(t.parameters["required"], json!(["input"]));
        assert!(t.description.as_deref().unwrap().contains("start: x"));
        // And its call goes back out as a custom_tool_call with the raw input.
        let resp = ChatResponse {
            content: vec![Part::ToolCall {
                id: "c2".into(),
                name: "apply_patch".into(),
                arguments: "{\"input\":\"diff\"}".into(),
                signature: None,
            }],
            ..Default::default()
        };
        let items = output_items_with(&resp, &FlatNames::from_request(&req), "resp_z");
        assert_eq!(items[0]["type"], "custom_tool_call");
        assert_eq!(items[0]["input"], "diff");
        assert_eq!(items[0]["id"], "ctc_z_0");
    }

    #[test]
    fn item_reference_and_bad_bodies_are_refused() {
        for (body, param) in [
            (
                json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}),
                Some("input[0]"),
            ),
            (json!({"input": "x"}), Some("model")),
            (
                json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}),
                Some("input[0].role"),
            ),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image"}]}]}),
                Some("input[0].content[0].image_url"),
            ),
            (
                json!({"model": "m", "input": [{"type": "function_call_output", "output": "x"}]}),
                Some("input[0].call_id"),
            ),
            (
                json!({"model": "m", "max_output_tokens": 0}),
                Some("max_output_tokens"),
            ),
            (
                json!({"model": "m", "tool_choice": "maybe"}),
                Some("tool_choice"),
            ),
        ] {
            let e = from_responses(body.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.param.as_deref(), param, "{body}");
        }
        assert!(from_responses(b"[1]").is_err());
        assert!(from_responses(b"{not json").is_err());
    }

    #[test]
    fn unknown_items_are_skipped_and_arbitrary_input_never_panics() {
        let body = json!({"model": "m", "input": [
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}},
            {"type": "message", "role": "user", "content": "hi"}
        ]});
        assert_eq!(decode(&body).messages.len(), 1);
        let weird = [
            json!({"model": "m", "input": [null, 1, "x"]}),
            json!({"model": "m", "input": [{"type": 5}]}),
            json!({"model": "m", "input": [{"type": "reasoning", "summary": "x"}]}),
            json!({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": 3}]}),
            json!({"model": "m", "tools": [{"type": "namespace", "name": "n", "tools": [7]}]}),
            json!({"model": "m", "tools": [{}], "text": 3, "reasoning": []}),
        ];
        for w in weird {
            let _ = from_responses(w.to_string().as_bytes());
        }
    }

    #[test]
    fn stored_output_items_round_trip() {
        let resp = ChatResponse {
            id: "resp_abc".into(),
            content: vec![
                Part::Thinking {
                    text: "thinking".into(),
                    signature: Some("sigA".into()),
                },
                Part::text("Let me check."),
                Part::ToolCall {
                    id: "call_1".into(),
                    name: "exec_command".into(),
                    arguments: "".into(),
                    signature: None,
                },
                Part::RedactedThinking {
                    data: "opaque".into(),
                },
            ],
            finish: Some(FinishReason::ToolCalls),
            usage: Usage {
                input: 10,
                output: 5,
                ..Default::default()
            },
            ..Default::default()
        };
        let items = output_items(&resp);
        let types: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["reasoning", "message", "function_call", "reasoning"]
        );
        assert_eq!(items[0]["id"], "rs_abc_0");
        assert_eq!(items[2]["arguments"], "{}");
        let msgs = items_to_messages(&items).unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(
            msgs[0].content[0],
            Part::Thinking {
                text: "thinking".into(),
                signature: Some("sigA".into())
            }
        );
        assert_eq!(msgs[0].content[1], Part::text("Let me check."));
        assert_eq!(
            msgs[0].content[3],
            Part::RedactedThinking {
                data: "opaque".into()
            }
        );
    }

    #[test]
    fn complete_answer_shape() {
        let req = decode(&json!({"model": "m", "input": "hi", "max_output_tokens": 3}));
        let resp = ChatResponse {
            id: "up".into(),
            content: vec![Part::text("one two three")],
            finish: Some(FinishReason::Length),
            usage: Usage {
                input: 7,
                output: 3,
                cache_read: 2,
                cache_write: 0,
                reasoning: 1,
            },
            created: 1_700_000_000,
            ..Default::default()
        };
        let body: Value =
            serde_json::from_slice(&response_to_responses(&resp, "alias", &req, "resp_q")).unwrap();
        assert_eq!(body["object"], "response");
        assert_eq!(body["id"], "resp_q");
        assert_eq!(body["model"], "alias");
        assert_eq!(body["created_at"], 1_700_000_000);
        assert_eq!(body["status"], "incomplete");
        assert_eq!(
            body["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(body["max_output_tokens"], 3);
        assert_eq!(
            body["output"],
            json!([{"id": "msg_q_0", "type": "message", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": "one two three", "annotations": [], "logprobs": []}]}])
        );
        assert_eq!(
            body["usage"],
            json!({"input_tokens": 7, "input_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 0},
                "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 10})
        );
        for k in [
            "error",
            "instructions",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "text",
            "metadata",
            "temperature",
            "top_p",
            "previous_response_id",
        ] {
            assert!(body.get(k).is_some(), "{k}");
        }
        assert_eq!(body["text"], json!({"format": {"type": "text"}}));
    }
}
