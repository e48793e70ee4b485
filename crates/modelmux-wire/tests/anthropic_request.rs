//! Anthropic request translation: `from_anthropic` (ingress validation and decoding) and
//! `to_anthropic` (egress to an Anthropic provider), one test per applicable pitfall of
//! wire-formats.md §8, round trips, and a realistic Claude Code body.

use modelmux_wire::anthropic::{from_anthropic, to_anthropic};
use modelmux_wire::canonical::{
    ChatRequest, Extra, MediaSource, Message, Part, Reasoning, ResponseFormat, Role, Tool,
    ToolChoice, WireFormat,
};
use serde_json::{Value, json};

#[allow(
    clippy::unwrap_used,
    reason = "test helper: a failed unwrap is a failed test"
)]
fn parse(body: &Value) -> ChatRequest {
    from_anthropic(body.to_string().as_bytes()).unwrap()
}

#[allow(
    clippy::unwrap_used,
    reason = "test helper: a failed unwrap is a failed test"
)]
fn encode(req: &ChatRequest) -> Value {
    serde_json::from_slice(&to_anthropic(req, "claude-x", 4096)).unwrap()
}

fn msg(role: Role, content: Vec<Part>) -> Message {
    Message {
        role,
        content,
        name: None,
    }
}

fn call(id: &str, name: &str, args: &str) -> Part {
    Part::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args.into(),
        signature: None,
    }
}

fn result(id: &str, text: &str) -> Part {
    Part::ToolResult {
        call_id: id.into(),
        name: None,
        content: vec![Part::text(text)],
        is_error: false,
        cache_control: None,
    }
}

/// A canonical request as a non-Anthropic (OpenAI) client would produce it.
fn openai_req(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: "route".into(),
        messages,
        ..ChatRequest::default()
    }
}

fn tool(name: &str) -> Tool {
    Tool {
        name: name.into(),
        description: None,
        parameters: json!({"type": "object", "properties": {}}),
        strict: None,
        cache_control: None,
    }
}

// ---------------------------------------------------------------- from_anthropic

#[test]
fn sdk_body_decodes() {
    let req = parse(&json!({
        "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}],
        "model": "claude-sonnet-4-5", "system": "Be brief."
    }));
    assert_eq!(req.model, "claude-sonnet-4-5");
    assert_eq!(req.max_tokens, Some(50));
    assert_eq!(
        req.messages,
        vec![
            Message::text(Role::System, "Be brief."),
            Message::text(Role::User, "Hi")
        ]
    );
    assert_eq!(req.extra.format, Some(WireFormat::Anthropic));
    assert!(req.extra.fields.is_empty());
    assert!(!req.stream);
}

#[test]
fn client_mistakes_name_their_param() {
    let ok_msgs = json!([{"role": "user", "content": "x"}]);
    let cases: Vec<(Value, Option<&str>)> = vec![
        (json!([1]), None),
        (json!({"max_tokens": 5, "messages": ok_msgs}), Some("model")),
        (
            json!({"model": "", "max_tokens": 5, "messages": ok_msgs}),
            Some("model"),
        ),
        (
            json!({"model": 5, "max_tokens": 5, "messages": ok_msgs}),
            Some("model"),
        ),
        (
            json!({"model": "m", "messages": ok_msgs}),
            Some("max_tokens"),
        ),
        (
            json!({"model": "m", "max_tokens": 0, "messages": ok_msgs}),
            Some("max_tokens"),
        ),
        (
            json!({"model": "m", "max_tokens": -1, "messages": ok_msgs}),
            Some("max_tokens"),
        ),
        (
            json!({"model": "m", "max_tokens": 1.5, "messages": ok_msgs}),
            Some("max_tokens"),
        ),
        (
            json!({"model": "m", "max_tokens": "9", "messages": ok_msgs}),
            Some("max_tokens"),
        ),
        (json!({"model": "m", "max_tokens": 5}), Some("messages")),
        (
            json!({"model": "m", "max_tokens": 5, "messages": []}),
            Some("messages"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": "hi"}),
            Some("messages"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"content": "x"}]}),
            Some("messages.0.role"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]}),
            Some("messages.0.role"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user"}]}),
            Some("messages.0.content"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": [{"text": "x"}]}]}),
            Some("messages.1.content.0.type"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            Some("messages.0.content.0.text"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": "x"}]}]}),
            Some("messages.0.content.0.input"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "a"}]}]}),
            Some("messages.0.content"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": ok_msgs, "thinking": {"type": "sometimes"}}),
            Some("thinking.type"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": ok_msgs, "thinking": {"type": "enabled"}}),
            Some("thinking.budget_tokens"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": ok_msgs, "tools": [{"name": "f"}]}),
            Some("tools.0.input_schema"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": ok_msgs, "tool_choice": {"type": "tool"}}),
            Some("tool_choice.name"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": ok_msgs, "metadata": {"user_id": 7}}),
            Some("metadata.user_id"),
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": ok_msgs, "stream": "yes"}),
            Some("stream"),
        ),
    ];
    for (body, param) in cases {
        let err = from_anthropic(body.to_string().as_bytes()).expect_err(&body.to_string());
        assert_eq!(err.param.as_deref(), param, "{body}: {err}");
        if let Some(p) = param {
            assert!(err.message.starts_with(p), "{}", err.message);
        }
    }
    assert!(from_anthropic(b"{").is_err());
}

#[test]
fn system_blocks_keep_cache_control_and_come_first() {
    let req = parse(&json!({
        "model": "m", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "system": [
            {"type": "text", "text": "A"},
            {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}}
        ]
    }));
    assert_eq!(req.messages.len(), 2);
    assert_eq!(
        req.messages[0],
        msg(
            Role::System,
            vec![
                Part::text("A"),
                Part::Text {
                    text: "B".into(),
                    cache_control: Some(json!({"type": "ephemeral"}))
                }
            ]
        )
    );
}

#[test]
fn system_role_inside_messages_stays_at_its_position() {
    let req = parse(&json!({
        "model": "m", "max_tokens": 10,
        "system": "top",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "mid"}]},
            {"role": "user", "content": "again"}
        ]
    }));
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        vec![Role::System, Role::User, Role::System, Role::User]
    );
    assert_eq!(req.messages[2].joined_text(), "mid");
}

#[test]
fn user_turn_with_tool_results_and_text_splits_in_order() {
    let req = parse(&json!({
        "model": "m", "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"city": "Paris", "n": [1, 2]}},
                {"type": "tool_use", "id": "toolu_2", "name": "noop", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
                 "content": [{"type": "text", "text": "boom"}], "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "and tomorrow?"}
            ]}
        ]
    }));
    assert_eq!(
        req.messages[1],
        msg(
            Role::Assistant,
            vec![
                Part::text("Checking."),
                call("toolu_1", "get", r#"{"city":"Paris","n":[1,2]}"#),
                call("toolu_2", "noop", "{}"),
            ]
        )
    );
    assert_eq!(
        req.messages[2],
        msg(
            Role::Tool,
            vec![
                result("toolu_1", "sunny"),
                Part::ToolResult {
                    call_id: "toolu_2".into(),
                    name: None,
                    content: vec![Part::text("boom")],
                    is_error: true,
                    cache_control: Some(json!({"type": "ephemeral"})),
                }
            ]
        )
    );
    assert_eq!(req.messages[3], Message::text(Role::User, "and tomorrow?"));
    assert_eq!(req.messages.len(), 4);
}

#[test]
fn media_thinking_and_documents_decode() {
    let req = parse(&json!({
        "model": "m", "max_tokens": 10,
        "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}, "cache_control": {"type": "ephemeral"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}, "title": "T"},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
                {"type": "search_result", "source": "s", "title": "t", "content": []}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig=="},
                {"type": "redacted_thinking", "data": "ENC"},
                {"type": "text", "text": "ok"}
            ]}
        ]
    }));
    assert_eq!(
        req.messages[0].content,
        vec![
            Part::Image {
                source: MediaSource::Base64 {
                    media_type: "image/png".into(),
                    data: "iVBO".into()
                },
                detail: None,
                cache_control: None
            },
            Part::Image {
                source: MediaSource::Url("https://x/y.png".into()),
                detail: None,
                cache_control: Some(json!({"type": "ephemeral"}))
            },
            Part::Document {
                source: MediaSource::Base64 {
                    media_type: "application/pdf".into(),
                    data: "JVBE".into()
                },
                title: Some("T".into()),
                cache_control: None
            },
            Part::Document {
                source: MediaSource::Text("plain".into()),
                title: None,
                cache_control: None
            },
        ]
    );
    assert_eq!(
        req.messages[1].content,
        vec![
            Part::Thinking {
                text: "hmm".into(),
                signature: Some("sig==".into())
            },
            Part::RedactedThinking { data: "ENC".into() },
            Part::text("ok"),
        ]
    );
}

#[test]
fn settings_decode_and_raw_fields_go_to_extra_in_order() {
    let req = parse(&json!({
        "model": "m", "max_tokens": 2048,
        "messages": [{"role": "user", "content": "x"}],
        "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
        "tools": [
            {"name": "f", "description": "d", "input_schema": {"type": "object", "$schema": "https://json-schema.org/draft/2020-12/schema",
             "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}, "s": {"type": "string", "pattern": "^a+$"}}},
             "cache_control": {"type": "ephemeral"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "thinking": {"type": "enabled", "budget_tokens": 1500, "display": "summarized"},
        "output_config": {"effort": "high", "format": {"type": "json_schema", "schema": {"type": "object"}}},
        "stop_sequences": ["END"], "temperature": 0.5, "top_p": 0.9, "top_k": 40, "stream": true,
        "metadata": {"user_id": "{\"device_id\":\"d1\",\"session_id\":\"s1\"}"},
        "service_tier": "auto", "inference_geo": "us", "container": "c1", "future_field": [1]
    }));
    assert_eq!(
        req.tools,
        vec![Tool {
            name: "f".into(),
            description: Some("d".into()),
            parameters: json!({"type": "object", "$schema": "https://json-schema.org/draft/2020-12/schema",
                "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}, "s": {"type": "string", "pattern": "^a+$"}}}),
            strict: None,
            cache_control: Some(json!({"type": "ephemeral"})),
        }]
    );
    assert_eq!(req.tool_choice, Some(ToolChoice::Required));
    assert_eq!(req.parallel_tool_calls, Some(false));
    assert_eq!(
        req.reasoning,
        Some(Reasoning {
            effort: Some("high".into()),
            budget_tokens: Some(1500),
            enabled: Some(true),
            display: Some("summarized".into()),
        })
    );
    assert!(matches!(
        &req.response_format,
        Some(ResponseFormat::JsonSchema { schema, .. }) if *schema == json!({"type": "object"})
    ));
    assert_eq!(req.stop, vec!["END"]);
    assert_eq!(
        (req.temperature, req.top_p, req.top_k),
        (Some(0.5), Some(0.9), Some(40))
    );
    assert!(req.stream);
    assert_eq!(
        req.user.as_deref(),
        Some(r#"{"device_id":"d1","session_id":"s1"}"#)
    );
    let mut keys: Vec<&str> = req.extra.fields.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "container",
            "context_management",
            "future_field",
            "inference_geo",
            "output_config",
            "service_tier",
            "thinking",
            "tools"
        ]
    );
    // Extra keeps the client's order (json! above sorts keys, so check with a literal body).
    let literal = br#"{"zeta":1,"model":"m","alpha":{"b":2,"a":1},"max_tokens":5,"messages":[{"role":"user","content":"x"}],"mid":null}"#;
    let req2 = from_anthropic(literal).unwrap();
    let raw: Vec<(&str, &str)> = req2
        .extra
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.get()))
        .collect();
    assert_eq!(
        raw,
        vec![
            ("zeta", "1"),
            ("alpha", r#"{"b":2,"a":1}"#),
            ("mid", "null")
        ]
    );
    assert_eq!(req.extra.get("future_field").map(|r| r.get()), Some("[1]"));
}

#[test]
fn adaptive_and_disabled_thinking() {
    let base =
        json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]});
    let mut b = base.clone();
    b["thinking"] = json!({"type": "adaptive", "display": "omitted"});
    assert_eq!(
        parse(&b).reasoning,
        Some(Reasoning {
            enabled: Some(true),
            display: Some("omitted".into()),
            ..Reasoning::default()
        })
    );
    b["thinking"] = json!({"type": "disabled"});
    assert_eq!(
        parse(&b).reasoning,
        Some(Reasoning {
            enabled: Some(false),
            ..Reasoning::default()
        })
    );
    assert_eq!(parse(&base).reasoning, None);
}

#[test]
fn large_bodies_are_normal() {
    let big = "lorem ipsum dolor sit amet ".repeat(2500);
    let body =
        json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": big}]});
    assert!(body.to_string().len() > 60_000);
    let req = parse(&body);
    assert_eq!(req.messages[0].joined_text().len(), big.len());
}

// ---------------------------------------------------------------- to_anthropic

#[test]
fn minimal_request_and_default_max_tokens() {
    let mut req = openai_req(vec![
        Message::text(Role::System, "Be brief."),
        Message::text(Role::User, "Hi"),
    ]);
    req.n = Some(3);
    req.seed = Some(1);
    assert_eq!(
        encode(&req),
        json!({"model": "claude-x", "max_tokens": 4096, "system": "Be brief.",
               "messages": [{"role": "user", "content": "Hi"}]})
    );
    req.max_tokens = Some(77);
    assert_eq!(encode(&req)["max_tokens"], 77);
}

#[test]
fn pitfall_07_parallel_tool_results_become_one_user_message() {
    let req = openai_req(vec![
        Message::text(Role::User, "weather in Paris and Rome?"),
        msg(
            Role::Assistant,
            vec![
                call("call_1", "get", r#"{"city":"Paris"}"#),
                call("call_2", "get", r#"{"city":"Rome"}"#),
            ],
        ),
        msg(Role::Tool, vec![result("call_1", "sunny")]),
        msg(Role::Tool, vec![result("call_2", "rain")]),
        Message::text(Role::User, "thanks, and tomorrow?"),
    ]);
    assert_eq!(
        encode(&req)["messages"],
        json!([
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "get", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get", "input": {"city": "Rome"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "rain"},
                {"type": "text", "text": "thanks, and tomorrow?"}
            ]}
        ])
    );
}

#[test]
fn pitfall_09_consecutive_same_role_messages_merge() {
    let req = openai_req(vec![
        Message::text(Role::User, "a"),
        Message::text(Role::User, "b"),
        Message::text(Role::Assistant, "c"),
        Message::text(Role::Assistant, "d"),
    ]);
    assert_eq!(
        encode(&req)["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]}
        ])
    );
}

#[test]
fn pitfall_10_system_messages_in_the_middle() {
    let messages = vec![
        Message::text(Role::System, "S0"),
        Message::text(Role::User, "u1"),
        Message::text(Role::Assistant, "a2"),
        Message::text(Role::Developer, "S3"),
        Message::text(Role::User, "u4"),
        Message::text(Role::System, "S5"),
        Message::text(Role::User, "u6"),
    ];
    // From a non-Anthropic client: every system text goes to `system`, in order.
    let out = encode(&openai_req(messages.clone()));
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "S0"}, {"type": "text", "text": "S3"}, {"type": "text", "text": "S5"}])
    );
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "a2"},
            {"role": "user", "content": [{"type": "text", "text": "u4"}, {"type": "text", "text": "u6"}]}
        ])
    );
    // From an Anthropic client (which sent them inside `messages`): kept in place.
    let mut req = openai_req(messages);
    req.extra = Extra {
        format: Some(WireFormat::Anthropic),
        fields: vec![],
    };
    let out = encode(&req);
    assert_eq!(out["system"], json!("S0"));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "a2"},
            {"role": "system", "content": "S3"},
            {"role": "user", "content": "u4"},
            {"role": "system", "content": "S5"},
            {"role": "user", "content": "u6"}
        ])
    );
}

#[test]
fn pitfall_11_empty_content_is_never_sent() {
    let req = openai_req(vec![
        msg(Role::User, vec![Part::text(""), Part::text("q")]),
        msg(
            Role::Assistant,
            vec![Part::text(""), call("call_1", "f", "{}")],
        ),
        msg(Role::Tool, vec![result("call_1", "")]),
        msg(Role::User, vec![Part::text("")]),
        msg(Role::Assistant, vec![]),
    ]);
    assert_eq!(
        encode(&req)["messages"],
        json!([
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1"}]}
        ])
    );
}

#[test]
fn pitfall_05_tool_arguments_always_become_an_object() {
    let req = openai_req(vec![
        Message::text(Role::User, "go"),
        msg(
            Role::Assistant,
            vec![
                call("a", "f", ""),
                call("b", "f", "{\"x\":"),
                call("c", "f", "[1]"),
                call("d", "f", "null"),
            ],
        ),
    ]);
    let inputs: Vec<Value> = encode(&req)["messages"][1]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["input"].clone())
        .collect();
    assert_eq!(
        inputs,
        vec![
            json!({}),
            json!({"_raw": "{\"x\":"}),
            json!({"_raw": "[1]"}),
            json!({})
        ]
    );
}

#[test]
fn pitfall_13_thinking_blocks_are_replayed_exactly() {
    let req = openai_req(vec![
        Message::text(Role::User, "q"),
        msg(
            Role::Assistant,
            vec![
                Part::Thinking {
                    text: "Let me think: é \"quoted\"\n".into(),
                    signature: Some("EqQBCkYIBxgCKkD+/=".into()),
                },
                // display: omitted gives empty thinking with a signature: still replayed.
                Part::Thinking {
                    text: String::new(),
                    signature: Some("SIG2".into()),
                },
                Part::RedactedThinking {
                    data: "EmwKAhgBEgy3va3p".into(),
                },
                // Another provider's reasoning has no signature: it cannot be replayed.
                Part::Thinking {
                    text: "deepseek reasoning".into(),
                    signature: None,
                },
                call("toolu_1", "f", "{}"),
            ],
        ),
        msg(Role::Tool, vec![result("toolu_1", "ok")]),
    ]);
    assert_eq!(
        encode(&req)["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "Let me think: é \"quoted\"\n", "signature": "EqQBCkYIBxgCKkD+/="},
            {"type": "thinking", "thinking": "", "signature": "SIG2"},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
        ])
    );
}

#[test]
fn pitfall_17_tool_choice_and_parallel_calls() {
    let cases = [
        (Some(ToolChoice::Auto), None, Some(json!({"type": "auto"}))),
        (
            Some(ToolChoice::Required),
            None,
            Some(json!({"type": "any"})),
        ),
        (Some(ToolChoice::None), None, Some(json!({"type": "none"}))),
        (
            Some(ToolChoice::Named("f".into())),
            None,
            Some(json!({"type": "tool", "name": "f"})),
        ),
        (
            Some(ToolChoice::Required),
            Some(false),
            Some(json!({"type": "any", "disable_parallel_tool_use": true})),
        ),
        (
            None,
            Some(false),
            Some(json!({"type": "auto", "disable_parallel_tool_use": true})),
        ),
        (
            Some(ToolChoice::Auto),
            Some(true),
            Some(json!({"type": "auto"})),
        ),
        (None, Some(true), None),
        (None, None, None),
    ];
    for (choice, parallel, want) in cases {
        let mut req = openai_req(vec![Message::text(Role::User, "x")]);
        req.tools = vec![tool("f")];
        req.tool_choice = choice.clone();
        req.parallel_tool_calls = parallel;
        let out = encode(&req);
        assert_eq!(
            out.get("tool_choice"),
            want.as_ref(),
            "{choice:?} {parallel:?}"
        );
    }
    // No tools: no tool_choice either.
    let mut req = openai_req(vec![Message::text(Role::User, "x")]);
    req.tool_choice = Some(ToolChoice::None);
    assert_eq!(encode(&req).get("tool_choice"), None);
}

#[test]
fn pitfall_18_structured_output_is_native_never_a_forced_tool() {
    let mut req = openai_req(vec![Message::text(Role::User, "x")]);
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false});
    req.response_format = Some(ResponseFormat::JsonSchema {
        name: "out".into(),
        description: None,
        schema: schema.clone(),
        strict: Some(true),
    });
    let out = encode(&req);
    assert_eq!(
        out["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
    assert_eq!(out.get("tools"), None);
    assert_eq!(out.get("tool_choice"), None);
    // json_object has no Anthropic form: nothing is invented.
    req.response_format = Some(ResponseFormat::JsonObject);
    assert_eq!(encode(&req).get("output_config"), None);
}

#[test]
fn pitfall_20_tool_ids_are_sanitised_consistently() {
    let req = openai_req(vec![
        Message::text(Role::User, "x"),
        msg(
            Role::Assistant,
            vec![
                call("functions.get:0", "get", "{}"),
                call("functions.get:1", "get", "{}"),
            ],
        ),
        msg(
            Role::Tool,
            vec![
                result("functions.get:0", "a"),
                result("functions.get:1", "b"),
            ],
        ),
    ]);
    let out = encode(&req);
    let calls = &out["messages"][1]["content"];
    let results = &out["messages"][2]["content"];
    let re_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    for i in 0..2 {
        let id = calls[i]["id"].as_str().unwrap();
        assert!(re_ok(id), "{id}");
        assert_eq!(results[i]["tool_use_id"], calls[i]["id"]);
    }
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    // The same id maps the same way in a later request (a new turn).
    assert_eq!(
        encode(&req)["messages"][1]["content"][0]["id"],
        calls[0]["id"]
    );
}

#[test]
fn pitfall_21_thinking_constraints() {
    let mut req = openai_req(vec![Message::text(Role::User, "x")]);
    req.tools = vec![tool("f")];
    req.tool_choice = Some(ToolChoice::Named("f".into()));
    req.temperature = Some(0.3);
    req.top_k = Some(5);
    req.top_p = Some(0.5);
    req.max_tokens = Some(8000);
    req.reasoning = Some(Reasoning {
        budget_tokens: Some(500),
        ..Reasoning::default()
    });
    let out = encode(&req);
    assert_eq!(
        out["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert_eq!(out["tool_choice"], json!({"type": "auto"}));
    assert_eq!(out.get("temperature"), None);
    assert_eq!(out.get("top_k"), None);
    assert_eq!(out.get("top_p"), None);

    // Budget must stay below max_tokens.
    req.reasoning = Some(Reasoning {
        budget_tokens: Some(20_000),
        enabled: Some(true),
        ..Reasoning::default()
    });
    assert_eq!(
        encode(&req)["thinking"],
        json!({"type": "enabled", "budget_tokens": 7999})
    );
    // No room for the minimum budget: no thinking, and sampling settings stay.
    req.max_tokens = Some(1024);
    let out = encode(&req);
    assert_eq!(out.get("thinking"), None);
    assert_eq!(out["temperature"], json!(0.3));
    assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "f"}));

    // Enabled without a budget is adaptive; effort goes to output_config.
    req.max_tokens = None;
    req.reasoning = Some(Reasoning {
        enabled: Some(true),
        effort: Some("minimal".into()),
        display: Some("omitted".into()),
        ..Reasoning::default()
    });
    let out = encode(&req);
    assert_eq!(
        out["thinking"],
        json!({"type": "adaptive", "display": "omitted"})
    );
    assert_eq!(out["output_config"], json!({"effort": "low"}));
    assert_eq!(out["max_tokens"], 4096);

    // Effort alone: no thinking block; effort none: thinking off.
    req.reasoning = Some(Reasoning {
        effort: Some("high".into()),
        ..Reasoning::default()
    });
    let out = encode(&req);
    assert_eq!(out.get("thinking"), None);
    assert_eq!(out["output_config"], json!({"effort": "high"}));
    req.reasoning = Some(Reasoning {
        effort: Some("none".into()),
        ..Reasoning::default()
    });
    let out = encode(&req);
    assert_eq!(out["thinking"], json!({"type": "disabled"}));
    assert_eq!(out.get("output_config"), None);
    assert_eq!(out["temperature"], json!(0.3));
}

#[test]
fn pitfall_22_images_keep_their_source_kind() {
    let img = |source| Part::Image {
        source,
        detail: Some("high".into()),
        cache_control: None,
    };
    let req = openai_req(vec![msg(
        Role::User,
        vec![
            img(MediaSource::Url("https://example.com/cat.png".into())),
            img(MediaSource::Url("data:image/jpeg;base64,/9j/4AAQ".into())),
            img(MediaSource::Base64 {
                media_type: "image/png".into(),
                data: "iVBORw0KGgo".into(),
            }),
        ],
    )]);
    assert_eq!(
        encode(&req)["messages"][0]["content"],
        json!([
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo"}}
        ])
    );
}

#[test]
fn sampling_stop_user_and_stream_map() {
    let mut req = openai_req(vec![Message::text(Role::User, "x")]);
    req.temperature = Some(1.7);
    req.top_p = Some(0.8);
    req.stop = vec!["\n\nHuman:".into()];
    req.user = Some("u-1".into());
    req.stream = true;
    req.presence_penalty = Some(0.5);
    req.metadata = Some(serde_json::Map::from_iter([("k".to_owned(), json!("v"))]));
    assert_eq!(
        encode(&req),
        json!({"model": "claude-x", "max_tokens": 4096, "messages": [{"role": "user", "content": "x"}],
               "temperature": 1.0, "top_p": 0.8, "stop_sequences": ["\n\nHuman:"],
               "metadata": {"user_id": "u-1"}, "stream": true})
    );
}

#[test]
fn extra_fields_are_appended_only_for_their_own_format_and_never_override() {
    let raw = |s: &str| serde_json::value::RawValue::from_string(s.to_owned()).unwrap();
    let mut req = openai_req(vec![Message::text(Role::User, "x")]);
    req.extra = Extra {
        format: Some(WireFormat::Anthropic),
        fields: vec![
            ("service_tier".into(), raw(r#""auto""#)),
            ("max_tokens".into(), raw("1")),
            ("context_management".into(), raw(r#"{"edits":[]}"#)),
        ],
    };
    let out = encode(&req);
    assert_eq!(out["service_tier"], "auto");
    assert_eq!(out["max_tokens"], 4096);
    assert_eq!(out["context_management"], json!({"edits": []}));
    let text = String::from_utf8(to_anthropic(&req, "m", 10)).unwrap();
    assert_eq!(text.matches("max_tokens").count(), 1);
    assert!(
        text.ends_with(r#""context_management":{"edits":[]}}"#),
        "{text}"
    );

    req.extra.format = Some(WireFormat::OpenAiChat);
    let out = encode(&req);
    assert_eq!(out.get("service_tier"), None);
    assert_eq!(out.get("context_management"), None);
}

#[test]
fn server_tools_and_unmodelled_tool_keys_survive() {
    let body = json!({
        "model": "m", "max_tokens": 100,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
            {"type": "custom", "name": "f", "input_schema": {"type": "object"}, "defer_loading": true},
            {"name": "g", "input_schema": {"type": "object"}}
        ]
    });
    let mut req = parse(&body);
    assert_eq!(
        req.tools
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        vec!["f", "g"]
    );
    assert_eq!(encode(&req)["tools"], body["tools"]);
    // A tool the gateway removed stays removed; the server tool stays.
    req.tools.retain(|t| t.name != "f");
    assert_eq!(
        encode(&req)["tools"],
        json!([
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
            {"name": "g", "input_schema": {"type": "object"}}
        ])
    );
}

// ---------------------------------------------------------------- round trips

#[test]
fn canonical_round_trip_keeps_messages_tools_and_thinking() {
    let req = ChatRequest {
        model: "claude-x".into(),
        messages: vec![
            msg(
                Role::System,
                vec![Part::Text {
                    text: "sys".into(),
                    cache_control: Some(json!({"type": "ephemeral", "ttl": "1h"})),
                }],
            ),
            Message::text(Role::User, "q"),
            msg(
                Role::Assistant,
                vec![
                    Part::Thinking {
                        text: "t".into(),
                        signature: Some("s".into()),
                    },
                    Part::RedactedThinking { data: "r".into() },
                    Part::text("calling"),
                    call("toolu_a", "f", r#"{"x":1}"#),
                    call("toolu_b", "g", "{}"),
                ],
            ),
            msg(
                Role::Tool,
                vec![
                    result("toolu_a", "1"),
                    Part::ToolResult {
                        call_id: "toolu_b".into(),
                        name: None,
                        content: vec![
                            Part::text("img:"),
                            Part::Image {
                                source: MediaSource::Base64 {
                                    media_type: "image/png".into(),
                                    data: "AAAA".into(),
                                },
                                detail: None,
                                cache_control: None,
                            },
                        ],
                        is_error: true,
                        cache_control: None,
                    },
                ],
            ),
            Message::text(Role::User, "more"),
        ],
        tools: vec![Tool {
            name: "f".into(),
            description: Some("does f".into()),
            parameters: json!({"type": "object", "properties": {"x": {"type": "integer", "exclusiveMinimum": 0}}}),
            strict: Some(true),
            cache_control: Some(json!({"type": "ephemeral"})),
        }],
        tool_choice: Some(ToolChoice::Named("f".into())),
        parallel_tool_calls: Some(false),
        reasoning: None,
        max_tokens: Some(3000),
        temperature: Some(0.2),
        top_p: Some(0.9),
        top_k: Some(3),
        stop: vec!["STOP".into()],
        stream: true,
        user: Some("user-9".into()),
        ..ChatRequest::default()
    };
    let back = from_anthropic(&to_anthropic(&req, "claude-x", 1)).unwrap();
    assert_eq!(back.messages, req.messages);
    assert_eq!(back.tools, req.tools);
    assert_eq!(back.tool_choice, req.tool_choice);
    assert_eq!(back.parallel_tool_calls, req.parallel_tool_calls);
    assert_eq!(back.max_tokens, req.max_tokens);
    assert_eq!(
        (back.temperature, back.top_p, back.top_k),
        (req.temperature, req.top_p, req.top_k)
    );
    assert_eq!(
        (back.stop, back.stream, back.user),
        (req.stop.clone(), true, req.user.clone())
    );

    // With thinking on.
    let mut req2 = req.clone();
    req2.tool_choice = Some(ToolChoice::Auto);
    req2.temperature = None;
    req2.top_k = None;
    req2.top_p = None;
    req2.reasoning = Some(Reasoning {
        enabled: Some(true),
        budget_tokens: Some(2000),
        display: Some("summarized".into()),
        effort: Some("medium".into()),
    });
    let back = from_anthropic(&to_anthropic(&req2, "claude-x", 1)).unwrap();
    assert_eq!(back.reasoning, req2.reasoning);
    assert_eq!(back.messages, req2.messages);
}

/// A first-turn Claude Code body, as real-clients.md describes it.
fn claude_code_body() -> Value {
    json!({
        "model": "claude-opus-4-7",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>\nAs you answer the user's questions, you can use the following context...\n</system-reminder>"},
                {"type": "text", "text": "list the files here", "cache_control": {"type": "ephemeral"}}
            ]},
            {"role": "system", "content": "The user is working in /home/u/project. Today is 2026-11-24."},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "", "signature": "EuYBCkQYAiJA2c3Q=="},
                {"type": "tool_use", "id": "toolu_01AbC", "name": "Bash", "input": {"command": "ls -la", "description": "List files"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01AbC", "content": "total 0\ndrwxr-xr-x  2 u u 40 .", "is_error": false,
                 "cache_control": {"type": "ephemeral"}}
            ]}
        ],
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328; cc_entrypoint=sdk-cli"},
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "You are an interactive agent that helps users with software engineering tasks...", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ],
        "tools": [
            {"name": "Bash", "description": "Executes a given bash command...",
             "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": false,
                "properties": {
                    "command": {"type": "string", "description": "The command to execute"},
                    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600000},
                    "description": {"type": "string", "maxLength": 200}
                },
                "required": ["command"]}},
            {"name": "Read", "description": "Reads a file",
             "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": false,
                "properties": {
                    "file_path": {"type": "string", "pattern": "^/"},
                    "offset": {"type": "integer", "exclusiveMinimum": 0, "default": 1},
                    "pages": {"type": "array", "items": {"type": "integer"}, "maxItems": 20},
                    "mode": {"type": "string", "enum": ["text", "binary"]}
                },
                "required": ["file_path"]},
             "cache_control": {"type": "ephemeral"}}
        ],
        "metadata": {"user_id": "{\"device_id\":\"8f3a0c5e\",\"account_uuid\":\"\",\"session_id\":\"5b7d2e11-0c1f-4bd2-9a51-7e0f1f6c9d3a\"}"},
        "max_tokens": 128000,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "stream": true
    })
}

#[test]
fn claude_code_body_survives_decode_and_encode() {
    let body = claude_code_body();
    let req = parse(&body);
    assert_eq!(req.messages[0].role, Role::System);
    assert_eq!(req.messages[0].content.len(), 3);
    assert_eq!(req.messages[2].role, Role::System);
    assert_eq!(req.messages[4].role, Role::Tool);
    assert_eq!(
        req.reasoning,
        Some(Reasoning {
            enabled: Some(true),
            effort: Some("high".into()),
            display: Some("omitted".into()),
            budget_tokens: None,
        })
    );
    assert_eq!(req.user.as_deref(), body["metadata"]["user_id"].as_str());
    let out: Value = serde_json::from_slice(&to_anthropic(&req, "claude-opus-4-7", 32000)).unwrap();
    let mut want = body.clone();
    // `is_error: false` is the default and is not written back.
    want["messages"][3]["content"][0]
        .as_object_mut()
        .unwrap()
        .remove("is_error");
    assert_eq!(out, want);
}

#[test]
fn unmodelled_thinking_and_output_config_keys_survive() {
    let body = json!({
        "model": "m", "max_tokens": 5000, "messages": [{"role": "user", "content": "x"}],
        "thinking": {"type": "enabled", "budget_tokens": 2048, "future": 1},
        "output_config": {"effort": "max", "verbosity": "low"}
    });
    let out: Value = serde_json::from_slice(&to_anthropic(&parse(&body), "m", 1)).unwrap();
    assert_eq!(out, body);
}

/// Every node of a realistic body replaced by each wrong-typed value: decoding never panics,
/// and whatever decodes also encodes.
#[test]
fn no_input_panics() {
    fn paths(v: &Value, here: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(here.clone());
        match v {
            Value::Object(o) => {
                for (k, c) in o {
                    let mut p = here.clone();
                    p.push(k.clone());
                    paths(c, p, out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    let mut p = here.clone();
                    p.push(i.to_string());
                    paths(c, p, out);
                }
            }
            _ => {}
        }
    }
    let body = claude_code_body();
    let mut all = Vec::new();
    paths(&body, Vec::new(), &mut all);
    assert!(all.len() > 100);
    let subs = [
        Value::Null,
        json!(-1),
        json!(1.5),
        json!(""),
        json!([]),
        json!({}),
        json!(u64::MAX),
    ];
    for p in &all[1..] {
        for sub in &subs {
            let mut b = body.clone();
            let mut node = &mut b;
            for k in p {
                node = match node {
                    Value::Object(o) => o.get_mut(k).unwrap(),
                    Value::Array(a) => &mut a[k.parse::<usize>().unwrap()],
                    _ => unreachable!(),
                };
            }
            *node = sub.clone();
            if let Ok(req) = from_anthropic(b.to_string().as_bytes()) {
                let out = to_anthropic(&req, "m", 0);
                assert!(serde_json::from_slice::<Value>(&out).is_ok());
                modelmux_wire::anthropic::estimate_input_tokens(&req);
            }
        }
    }
}
