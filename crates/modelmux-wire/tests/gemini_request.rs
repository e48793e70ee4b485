//! Canonical requests rendered to Gemini bodies, compared as exact JSON values; one test per
//! applicable pitfall of wire-formats.md §8, plus a full tool round trip.

use modelmux_wire::canonical::{
    ChatRequest, MediaSource, Message, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
};
use modelmux_wire::gemini::to_gemini;
use serde_json::{Value, json};

#[allow(
    clippy::expect_used,
    reason = "test helper: a failed expectation fails the test"
)]
fn render(req: &ChatRequest) -> Value {
    serde_json::from_slice(&to_gemini(req)).expect("to_gemini writes JSON")
}

fn msg(role: Role, content: Vec<Part>) -> Message {
    Message {
        role,
        content,
        name: None,
    }
}

fn call(id: &str, name: &str, args: &str, sig: Option<&str>) -> Part {
    Part::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args.into(),
        signature: sig.map(Into::into),
    }
}

fn result(call_id: &str, name: Option<&str>, text: &str) -> Part {
    Part::ToolResult {
        call_id: call_id.into(),
        name: name.map(Into::into),
        content: vec![Part::text(text)],
        is_error: false,
        cache_control: None,
    }
}

fn weather_tool() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: Some("Weather of a city".into()),
        parameters: json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": false
        }),
        strict: None,
        cache_control: None,
    }
}

fn req(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: "gemini-3-pro-preview".into(),
        messages,
        ..Default::default()
    }
}

#[test]
fn full_tool_round_trip_renders_literally() {
    let mut r = req(vec![
        Message::text(Role::System, "Be brief."),
        Message::text(Role::User, "Weather in Paris?"),
        msg(
            Role::Assistant,
            vec![
                Part::Thinking {
                    text: "I should call the tool.".into(),
                    signature: Some("c2lnLXRoaW5r".into()),
                },
                call(
                    "fc_1",
                    "get_weather",
                    r#"{"city":"Paris"}"#,
                    Some("c2lnLWNhbGw="),
                ),
            ],
        ),
        msg(
            Role::Tool,
            vec![result("fc_1", None, r#"{"temp_c":21,"sky":"clear"}"#)],
        ),
        Message::text(Role::User, "And in °F?"),
    ]);
    r.tools = vec![weather_tool()];
    r.tool_choice = Some(ToolChoice::Auto);
    r.max_tokens = Some(256);
    r.temperature = Some(0.5);
    assert_eq!(
        render(&r),
        json!({
            "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
                {"role": "model", "parts": [
                    {"text": "I should call the tool.", "thought": true, "thoughtSignature": "c2lnLXRoaW5r"},
                    {"functionCall": {"id": "fc_1", "name": "get_weather", "args": {"city": "Paris"}},
                     "thoughtSignature": "c2lnLWNhbGw="}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"id": "fc_1", "name": "get_weather",
                                          "response": {"temp_c": 21, "sky": "clear"}}},
                    {"text": "And in °F?"}
                ]}
            ],
            "tools": [{"functionDeclarations": [{
                "name": "get_weather",
                "description": "Weather of a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"]
                }
            }]}],
            "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
            "generationConfig": {"maxOutputTokens": 256, "temperature": 0.5}
        })
    );
}

#[test]
fn pitfall_05_empty_or_invalid_arguments_become_empty_object() {
    let r = req(vec![
        Message::text(Role::User, "go"),
        msg(
            Role::Assistant,
            vec![
                call("a", "now", "", None),
                call("b", "later", "{not json", None),
            ],
        ),
    ]);
    assert_eq!(
        render(&r)["contents"][1],
        json!({"role": "model", "parts": [
            {"functionCall": {"id": "a", "name": "now", "args": {}}},
            {"functionCall": {"id": "b", "name": "later", "args": {}}}
        ]})
    );
}

#[test]
fn pitfall_08_function_responses_match_calls() {
    // Two results in separate tool messages, in the opposite order, one without a name,
    // after an assistant turn split in two messages: one user turn, responses in call order.
    let r = req(vec![
        Message::text(Role::User, "both"),
        msg(
            Role::Assistant,
            vec![
                Part::text("Checking."),
                call("c1", "get_weather", r#"{"city":"A"}"#, None),
            ],
        ),
        msg(Role::Assistant, vec![call("c2", "get_time", "{}", None)]),
        msg(Role::Tool, vec![result("c2", Some("get_time"), "noon")]),
        msg(Role::Tool, vec![result("c1", None, "sunny")]),
    ]);
    assert_eq!(
        render(&r)["contents"],
        json!([
            {"role": "user", "parts": [{"text": "both"}]},
            {"role": "model", "parts": [
                {"text": "Checking."},
                {"functionCall": {"id": "c1", "name": "get_weather", "args": {"city": "A"}}},
                {"functionCall": {"id": "c2", "name": "get_time", "args": {}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "c1", "name": "get_weather", "response": {"result": "sunny"}}},
                {"functionResponse": {"id": "c2", "name": "get_time", "response": {"result": "noon"}}}
            ]}
        ])
    );
}

#[test]
fn pitfall_08_missing_and_orphan_results_keep_counts_equal() {
    let r = req(vec![
        Message::text(Role::User, "go"),
        msg(
            Role::Assistant,
            vec![call("c1", "a", "{}", None), call("c2", "b", "{}", None)],
        ),
        msg(
            Role::Tool,
            vec![
                result("c1", Some("a"), "ok"),
                result("zz", Some("x"), "stray"),
            ],
        ),
    ]);
    assert_eq!(
        render(&r)["contents"][2],
        json!({"role": "user", "parts": [
            {"functionResponse": {"id": "c1", "name": "a", "response": {"result": "ok"}}},
            {"functionResponse": {"id": "c2", "name": "b",
                                  "response": {"error": "no result was provided for this call"}}},
            {"text": "Result of tool x (call zz): {\"result\":\"stray\"}"}
        ]})
    );
}

#[test]
fn pitfall_09_consecutive_same_role_messages_merge() {
    let r = req(vec![
        Message::text(Role::User, "one"),
        Message::text(Role::User, "two"),
        Message::text(Role::Assistant, "three"),
        Message::text(Role::Assistant, "four"),
    ]);
    assert_eq!(
        render(&r)["contents"],
        json!([
            {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
            {"role": "model", "parts": [{"text": "three"}, {"text": "four"}]}
        ])
    );
}

#[test]
fn pitfall_10_system_messages_at_0_3_and_5_keep_text_and_place() {
    let r = req(vec![
        Message::text(Role::System, "S0"),
        Message::text(Role::Developer, "S1"),
        Message::text(Role::User, "U2"),
        Message::text(Role::System, "S3"),
        Message::text(Role::Assistant, "A4"),
        Message::text(Role::System, "S5"),
        Message::text(Role::User, "U6"),
    ]);
    assert_eq!(
        render(&r),
        json!({
            "systemInstruction": {"role": "user", "parts": [{"text": "S0"}, {"text": "S1"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "U2"}, {"text": "System: S3"}]},
                {"role": "model", "parts": [{"text": "A4"}]},
                {"role": "user", "parts": [{"text": "System: S5"}, {"text": "U6"}]}
            ]
        })
    );
}

#[test]
fn pitfall_11_empty_parts_and_turns_are_dropped() {
    let r = req(vec![
        Message::text(Role::User, "hi"),
        msg(
            Role::Assistant,
            vec![Part::text(""), call("c", "f", "{}", None)],
        ),
        msg(Role::Tool, vec![result("c", Some("f"), "")]),
        msg(Role::User, vec![Part::text("")]),
        Message::text(Role::Assistant, ""),
        Message::text(Role::User, "next"),
    ]);
    assert_eq!(
        render(&r)["contents"],
        json!([
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"functionCall": {"id": "c", "name": "f", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "c", "name": "f", "response": {"result": ""}}},
                {"text": "next"}
            ]}
        ])
    );
}

#[test]
fn pitfall_13_signed_thinking_is_replayed_unsigned_is_dropped() {
    let r = req(vec![
        Message::text(Role::User, "q"),
        msg(
            Role::Assistant,
            vec![
                Part::Thinking {
                    text: "unsigned".into(),
                    signature: None,
                },
                Part::RedactedThinking {
                    data: "opaque".into(),
                },
                Part::Thinking {
                    text: "".into(),
                    signature: Some("U0lH".into()),
                },
                Part::text("answer"),
            ],
        ),
    ]);
    assert_eq!(
        render(&r)["contents"][1],
        json!({"role": "model", "parts": [
            {"text": "", "thought": true, "thoughtSignature": "U0lH"},
            {"text": "answer"}
        ]})
    );
}

#[test]
fn pitfall_14_thought_signature_replayed_on_function_call_part() {
    let r = req(vec![
        Message::text(Role::User, "q"),
        msg(
            Role::Assistant,
            vec![
                call("x1", "f", r#"{"a":1}"#, Some("Zmlyc3Q=")),
                call("x2", "f", r#"{"a":2}"#, None),
            ],
        ),
        msg(
            Role::Tool,
            vec![result("x1", Some("f"), "1"), result("x2", Some("f"), "2")],
        ),
    ]);
    let body = render(&r);
    assert_eq!(
        body["contents"][1]["parts"],
        json!([
            {"functionCall": {"id": "x1", "name": "f", "args": {"a": 1}}, "thoughtSignature": "Zmlyc3Q="},
            {"functionCall": {"id": "x2", "name": "f", "args": {"a": 2}}}
        ])
    );
}

#[test]
fn pitfall_15_call_ids_echoed_on_function_responses() {
    // Same name twice; results carry no name; ids must come through on each response, and
    // a result that names the tool but lacks an id gets the call's id.
    let r = req(vec![
        Message::text(Role::User, "q"),
        msg(
            Role::Assistant,
            vec![
                call("call_search_0", "search", r#"{"q":"a"}"#, None),
                call("call_search_1", "search", r#"{"q":"b"}"#, None),
            ],
        ),
        msg(
            Role::Tool,
            vec![
                result("call_search_1", None, "B"),
                Part::ToolResult {
                    call_id: String::new(),
                    name: Some("search".into()),
                    content: vec![Part::text("A")],
                    is_error: true,
                    cache_control: None,
                },
            ],
        ),
    ]);
    assert_eq!(
        render(&r)["contents"][2]["parts"],
        json!([
            {"functionResponse": {"id": "call_search_0", "name": "search", "response": {"error": "A"}}},
            {"functionResponse": {"id": "call_search_1", "name": "search", "response": {"result": "B"}}}
        ])
    );
}

#[test]
fn pitfall_17_tool_choice_modes() {
    let cases = [
        (ToolChoice::Auto, json!({"mode": "AUTO"})),
        (ToolChoice::None, json!({"mode": "NONE"})),
        (ToolChoice::Required, json!({"mode": "ANY"})),
        (
            ToolChoice::Named("get_weather".into()),
            json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
        ),
    ];
    for (choice, expected) in cases {
        let mut r = req(vec![Message::text(Role::User, "q")]);
        r.tools = vec![weather_tool()];
        r.tool_choice = Some(choice);
        r.parallel_tool_calls = Some(false);
        assert_eq!(
            render(&r)["toolConfig"],
            json!({"functionCallingConfig": expected})
        );
    }
}

#[test]
fn pitfall_18_json_schema_output_native_and_dropped_with_tools() {
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}},
                        "additionalProperties": false});
    let mut r = req(vec![Message::text(Role::User, "q")]);
    r.response_format = Some(ResponseFormat::JsonSchema {
        name: "out".into(),
        description: None,
        schema: schema.clone(),
        strict: Some(true),
    });
    assert_eq!(
        render(&r)["generationConfig"],
        json!({"responseMimeType": "application/json", "responseJsonSchema": schema})
    );
    r.response_format = Some(ResponseFormat::JsonObject);
    assert_eq!(
        render(&r)["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    // With tools Gemini rejects the JSON mime type: it is dropped.
    r.tools = vec![weather_tool()];
    let body = render(&r);
    assert_eq!(body.get("generationConfig"), None);
    assert!(body.get("tools").is_some());
}

#[test]
fn pitfall_19_tool_parameters_cleaned_to_object_and_empty_declared_without() {
    let mut r = req(vec![Message::text(Role::User, "q")]);
    r.tools = vec![
        Tool {
            name: "Bash".into(),
            description: None,
            parameters: json!({
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command"},
                    "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 120000}
                },
                "required": ["command", "gone"],
                "additionalProperties": false
            }),
            strict: None,
            cache_control: None,
        },
        Tool {
            name: "noop".into(),
            description: Some("No arguments".into()),
            parameters: json!({"type": "object", "properties": {}, "additionalProperties": false}),
            strict: None,
            cache_control: None,
        },
    ];
    assert_eq!(
        render(&r)["tools"],
        json!([{"functionDeclarations": [
            {"name": "Bash", "parameters": {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command"},
                    "timeout": {"type": "number", "minimum": 0}
                },
                "required": ["command"]
            }},
            {"name": "noop", "description": "No arguments"}
        ]}])
    );
}

#[test]
fn pitfall_22_url_and_gs_images_become_file_data() {
    let image = |source| Part::Image {
        source,
        detail: Some("high".into()),
        cache_control: None,
    };
    let r = req(vec![msg(
        Role::User,
        vec![
            image(MediaSource::Url(
                "https://example.com/cat.PNG?size=large".into(),
            )),
            image(MediaSource::Url("gs://bucket/photos/dog.webp".into())),
            image(MediaSource::Url("https://example.com/render".into())),
            image(MediaSource::Url("data:image/gif;base64,R0lGOD".into())),
            image(MediaSource::Base64 {
                media_type: "image/png".into(),
                data: "iVBOR".into(),
            }),
            Part::Document {
                source: MediaSource::Url("gs://bucket/report.pdf".into()),
                title: None,
                cache_control: None,
            },
            Part::Document {
                source: MediaSource::Text("body".into()),
                title: Some("Notes".into()),
                cache_control: None,
            },
            Part::Audio {
                format: "wav".into(),
                data: "UklGR".into(),
            },
        ],
    )]);
    assert_eq!(
        render(&r)["contents"][0]["parts"],
        json!([
            {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.PNG?size=large"}},
            {"fileData": {"mimeType": "image/webp", "fileUri": "gs://bucket/photos/dog.webp"}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/render"}},
            {"inlineData": {"mimeType": "image/gif", "data": "R0lGOD"}},
            {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
            {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/report.pdf"}},
            {"text": "Notes\n\nbody"},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklGR"}}
        ])
    );
}

#[test]
fn tool_result_images_follow_the_responses() {
    let r = req(vec![
        Message::text(Role::User, "shot"),
        msg(Role::Assistant, vec![call("s", "screenshot", "{}", None)]),
        msg(
            Role::Tool,
            vec![Part::ToolResult {
                call_id: "s".into(),
                name: None,
                content: vec![
                    Part::text("taken"),
                    Part::Image {
                        source: MediaSource::Base64 {
                            media_type: "image/png".into(),
                            data: "AAA".into(),
                        },
                        detail: None,
                        cache_control: None,
                    },
                ],
                is_error: false,
                cache_control: None,
            }],
        ),
    ]);
    assert_eq!(
        render(&r)["contents"][2]["parts"],
        json!([
            {"functionResponse": {"id": "s", "name": "screenshot", "response": {"result": "taken"}}},
            {"inlineData": {"mimeType": "image/png", "data": "AAA"}}
        ])
    );
}

#[test]
fn generation_config_maps_every_parameter() {
    let mut r = req(vec![Message::text(Role::User, "q")]);
    r.max_tokens = Some(1000);
    r.temperature = Some(1.5);
    r.top_p = Some(0.9);
    r.top_k = Some(40);
    r.stop = vec!["END".into()];
    r.seed = Some(7);
    r.presence_penalty = Some(0.1);
    r.frequency_penalty = Some(0.2);
    r.n = Some(2);
    r.user = Some("u-1".into());
    r.stream = true;
    assert_eq!(
        render(&r)["generationConfig"],
        json!({
            "maxOutputTokens": 1000, "temperature": 1.5, "topP": 0.9, "topK": 40,
            "stopSequences": ["END"], "seed": 7, "presencePenalty": 0.1,
            "frequencyPenalty": 0.2, "candidateCount": 2
        })
    );
}

#[test]
fn reasoning_maps_to_thinking_config() {
    let think = |reasoning: Reasoning, model: &str| {
        let mut r = req(vec![Message::text(Role::User, "q")]);
        r.model = model.into();
        r.reasoning = Some(reasoning);
        render(&r)["generationConfig"]["thinkingConfig"].clone()
    };
    let g3 = "gemini-3-pro-preview";
    assert_eq!(
        think(
            Reasoning {
                budget_tokens: Some(2048),
                ..Default::default()
            },
            g3
        ),
        json!({"thinkingBudget": 2048, "includeThoughts": true})
    );
    assert_eq!(
        think(
            Reasoning {
                enabled: Some(false),
                budget_tokens: Some(2048),
                ..Default::default()
            },
            g3
        ),
        json!({"thinkingBudget": 0})
    );
    assert_eq!(
        think(
            Reasoning {
                effort: Some("none".into()),
                ..Default::default()
            },
            g3
        ),
        json!({"thinkingBudget": 0})
    );
    assert_eq!(
        think(
            Reasoning {
                effort: Some("high".into()),
                ..Default::default()
            },
            g3
        ),
        json!({"thinkingLevel": "HIGH", "includeThoughts": true})
    );
    assert_eq!(
        think(
            Reasoning {
                effort: Some("minimal".into()),
                ..Default::default()
            },
            g3
        ),
        json!({"thinkingLevel": "MINIMAL", "includeThoughts": true})
    );
    assert_eq!(
        think(
            Reasoning {
                enabled: Some(true),
                display: Some("omitted".into()),
                ..Default::default()
            },
            g3
        ),
        json!({"includeThoughts": false})
    );
    // Gemini 2.x has no thinkingLevel: the effort becomes a budget.
    assert_eq!(
        think(
            Reasoning {
                effort: Some("low".into()),
                ..Default::default()
            },
            "gemini-2.5-flash"
        ),
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
}

#[test]
fn extra_fields_of_other_formats_are_never_written() {
    let mut r = req(vec![Message::text(Role::User, "q")]);
    r.extra.format = Some(modelmux_wire::WireFormat::Anthropic);
    r.extra.fields.push((
        "context_management".into(),
        serde_json::value::RawValue::from_string("{}".into()).expect("raw"),
    ));
    assert_eq!(
        render(&r),
        json!({"contents": [{"role": "user", "parts": [{"text": "q"}]}]})
    );
}
