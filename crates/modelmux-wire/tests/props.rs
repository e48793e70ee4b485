//! Property tests (proptest, 256 cases each): the translators are total. Any canonical
//! `ChatRequest` a client could produce (every role, text with unicode, quotes and empty
//! strings, images, documents, audio, tool calls with valid, empty or invalid JSON
//! arguments, tool results, signed and unsigned thinking, tools with arbitrary JSON schemas,
//! extra fields of every format) becomes a JSON object through `to_openai`, `to_anthropic`,
//! `to_gemini` and `to_bedrock`, without a panic, and keeps the invariants every target needs
//! (pitfalls 5, 11). Arbitrary bytes never make a stream decoder, an answer reader or
//! `from_anthropic` / `from_openai` panic, and arbitrary event sequences never make a stream
//! encoder panic or write anything but UTF-8.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test file: a failed unwrap or assertion is a failed test"
)]

use bytes::BytesMut;
use modelmux_wire::anthropic::{
    AnthropicStreamDecoder, AnthropicStreamEncoder, from_anthropic, response_from_anthropic,
    response_to_anthropic, to_anthropic,
};
use modelmux_wire::bedrock::{BedrockStreamDecoder, response_from_bedrock, to_bedrock};
use modelmux_wire::canonical::{
    ChatRequest, ChatResponse, Extra, FinishReason, MediaSource, Message, Part, Reasoning,
    ResponseFormat, Role, StreamEvent, Tool, ToolChoice, Usage, WireFormat,
};
use modelmux_wire::codec::{ErrorKind, StreamDecoder, StreamEncoder};
use modelmux_wire::gemini::{GeminiStreamDecoder, response_from_gemini, to_gemini};
use modelmux_wire::openai::{
    ChatBody, OpenAiOptions, OpenAiStreamDecoder, OpenAiStreamEncoder, from_openai,
    response_from_openai, response_to_openai, to_openai,
};
use proptest::prelude::*;
use serde_json::Value;
use serde_json::value::RawValue;

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

/// Strings that stress encoders: empty, whitespace, quotes, backslashes, control characters,
/// JSON-looking text, unicode, and anything else.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_owned()),
        Just("\n\n".to_owned()),
        Just("\"".to_owned()),
        Just("\\\"}{".to_owned()),
        Just("\u{0}\u{1f}".to_owned()),
        Just("data: [DONE]\n\n".to_owned()),
        Just("héllo wörld 🎉 日本".to_owned()),
        "[a-zA-Z0-9_ .:-]{0,12}",
        any::<String>(),
    ]
    .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// JSON schemas: realistic object schemas, and arbitrary JSON.
fn schema() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(
            serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}},
            "required": ["a"], "additionalProperties": false})
        ),
        Just(serde_json::json!({"type": "object", "properties": {}})),
        Just(serde_json::json!({"$defs": {"x": {"type": "integer"}},
            "properties": {"x": {"$ref": "#/$defs/x"}, "y": {"anyOf": [{"type": "string"},
            {"type": "null"}]}}})),
        json_value(),
    ]
    .boxed()
}

/// Tool-call arguments: valid JSON of any shape, empty, or not JSON at all.
fn arguments() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just("{".to_owned()),
        Just("null".to_owned()),
        json_value().prop_map(|v| v.to_string()),
        text(),
    ]
    .boxed()
}

/// A media source; `with_text` allows `MediaSource::Text`, which only documents use.
fn media(with_text: bool) -> BoxedStrategy<MediaSource> {
    let media_type = prop_oneof![
        Just("image/png".to_owned()),
        Just("image/jpeg".to_owned()),
        Just("application/pdf".to_owned()),
        Just("text/plain".to_owned()),
        text(),
    ];
    prop_oneof![
        text().prop_map(MediaSource::Url),
        Just(MediaSource::Url("https://example.com/a.png".to_owned())),
        Just(MediaSource::Url(
            "data:image/png;base64,iVBORw0K".to_owned()
        )),
        Just(MediaSource::Url("gs://bucket/doc.pdf".to_owned())),
        (media_type, text())
            .prop_map(|(media_type, data)| MediaSource::Base64 { media_type, data }),
        text().prop_map(move |t| if with_text {
            MediaSource::Text(t)
        } else {
            MediaSource::Url(t)
        }),
    ]
    .boxed()
}

fn cache_control() -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(serde_json::json!({"type": "ephemeral"}))),
        1 => json_value().prop_map(Some),
    ]
    .boxed()
}

fn leaf_part() -> BoxedStrategy<Part> {
    prop_oneof![
        4 => (text(), cache_control()).prop_map(|(text, cache_control)| Part::Text { text, cache_control }),
        1 => (media(false), prop::option::of(text()), cache_control())
            .prop_map(|(source, detail, cache_control)| Part::Image { source, detail, cache_control }),
        1 => (media(true), prop::option::of(text()), cache_control())
            .prop_map(|(source, title, cache_control)| Part::Document { source, title, cache_control }),
    ]
    .boxed()
}

fn part() -> BoxedStrategy<Part> {
    prop_oneof![
        4 => leaf_part(),
        1 => (text(), text()).prop_map(|(format, data)| Part::Audio { format, data }),
        2 => (text(), text(), arguments(), prop::option::of(text())).prop_map(
            |(id, name, arguments, signature)| Part::ToolCall { id, name, arguments, signature }
        ),
        2 => (text(), prop::option::of(text()), prop::collection::vec(leaf_part(), 0..3),
            any::<bool>(), cache_control())
            .prop_map(|(call_id, name, content, is_error, cache_control)| Part::ToolResult {
                call_id, name, content, is_error, cache_control,
            }),
        1 => (text(), prop::option::of(text()))
            .prop_map(|(text, signature)| Part::Thinking { text, signature }),
        1 => text().prop_map(|data| Part::RedactedThinking { data }),
    ]
    .boxed()
}

fn role() -> BoxedStrategy<Role> {
    prop_oneof![
        Just(Role::System),
        Just(Role::Developer),
        Just(Role::User),
        Just(Role::Assistant),
        Just(Role::Tool),
    ]
    .boxed()
}

fn message() -> BoxedStrategy<Message> {
    (
        role(),
        prop::collection::vec(part(), 0..4),
        prop::option::of(text()),
    )
        .prop_map(|(role, content, name)| Message {
            role,
            content,
            name,
        })
        .boxed()
}

fn tool() -> BoxedStrategy<Tool> {
    (
        text(),
        prop::option::of(text()),
        schema(),
        prop::option::of(any::<bool>()),
        cache_control(),
    )
        .prop_map(
            |(name, description, parameters, strict, cache_control)| Tool {
                name,
                description,
                parameters,
                strict,
                cache_control,
            },
        )
        .boxed()
}

fn tool_choice() -> BoxedStrategy<Option<ToolChoice>> {
    prop::option::of(prop_oneof![
        Just(ToolChoice::Auto),
        Just(ToolChoice::None),
        Just(ToolChoice::Required),
        text().prop_map(ToolChoice::Named),
    ])
    .boxed()
}

fn response_format() -> BoxedStrategy<Option<ResponseFormat>> {
    prop::option::of(prop_oneof![
        Just(ResponseFormat::Text),
        Just(ResponseFormat::JsonObject),
        (
            text(),
            prop::option::of(text()),
            schema(),
            prop::option::of(any::<bool>())
        )
            .prop_map(
                |(name, description, schema, strict)| ResponseFormat::JsonSchema {
                    name,
                    description,
                    schema,
                    strict,
                }
            ),
    ])
    .boxed()
}

fn reasoning() -> BoxedStrategy<Option<Reasoning>> {
    let effort = prop::option::of(prop_oneof![
        Just("none".to_owned()),
        Just("minimal".to_owned()),
        Just("low".to_owned()),
        Just("high".to_owned()),
        Just("max".to_owned()),
        text(),
    ]);
    prop::option::of(
        (
            effort,
            prop::option::of(any::<u64>()),
            prop::option::of(any::<bool>()),
            prop::option::of(text()),
        )
            .prop_map(|(effort, budget_tokens, enabled, display)| Reasoning {
                effort,
                budget_tokens,
                enabled,
                display,
            }),
    )
    .boxed()
}

fn extra() -> BoxedStrategy<Extra> {
    let format = prop::option::of(prop_oneof![
        Just(WireFormat::OpenAiChat),
        Just(WireFormat::Anthropic),
        Just(WireFormat::Gemini),
        Just(WireFormat::Bedrock),
    ]);
    let key = prop_oneof![
        Just("tools".to_owned()),
        Just("thinking".to_owned()),
        Just("output_config".to_owned()),
        Just("store".to_owned()),
        Just("model".to_owned()),
        text(),
    ];
    (format, prop::collection::vec((key, json_value()), 0..4))
        .prop_map(|(format, fields)| Extra {
            format,
            fields: fields
                .into_iter()
                .map(|(k, v)| (k, RawValue::from_string(v.to_string()).unwrap()))
                .collect(),
        })
        .boxed()
}

prop_compose! {
    fn request()(
        model in text(),
        messages in prop::collection::vec(message(), 0..7),
        tools in prop::collection::vec(tool(), 0..3),
        tool_choice in tool_choice(),
        parallel_tool_calls in prop::option::of(any::<bool>()),
        response_format in response_format(),
        reasoning in reasoning(),
        max_tokens in prop::option::of(any::<u64>()),
        sampling in (prop::option::of(any::<f64>()), prop::option::of(any::<f64>()),
            prop::option::of(any::<u64>())),
        stop in prop::collection::vec(text(), 0..6),
        seed in prop::option::of(any::<i64>()),
        penalties in (prop::option::of(any::<f64>()), prop::option::of(any::<f64>())),
        n in prop::option::of(any::<u32>()),
        stream in any::<bool>(),
        user in prop::option::of(text()),
        metadata in prop::option::of(prop::collection::vec((text(), json_value()), 0..20)),
        extra in extra(),
    ) -> ChatRequest {
        ChatRequest {
            model,
            messages,
            tools,
            tool_choice,
            parallel_tool_calls,
            response_format,
            reasoning,
            max_tokens,
            temperature: sampling.0,
            top_p: sampling.1,
            top_k: sampling.2,
            stop,
            seed,
            presence_penalty: penalties.0,
            frequency_penalty: penalties.1,
            n,
            stream,
            user,
            metadata: metadata.map(|kv| kv.into_iter().collect()),
            extra,
        }
    }
}

fn usage() -> BoxedStrategy<Usage> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(input, output, cache_read, cache_write, reasoning)| Usage {
                input: u64::from(input),
                output: u64::from(output),
                cache_read: u64::from(cache_read),
                cache_write: u64::from(cache_write),
                reasoning: u64::from(reasoning),
            },
        )
        .boxed()
}

fn finish_reason() -> BoxedStrategy<FinishReason> {
    prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::ContentFilter),
        text().prop_map(FinishReason::Other),
    ]
    .boxed()
}

fn error_kind() -> BoxedStrategy<ErrorKind> {
    prop_oneof![
        Just(ErrorKind::RateLimited),
        Just(ErrorKind::Overloaded),
        Just(ErrorKind::ContextLengthExceeded),
        Just(ErrorKind::BadRequest),
        Just(ErrorKind::StreamBroken),
    ]
    .boxed()
}

fn event() -> BoxedStrategy<StreamEvent> {
    let index = 0u32..4;
    prop_oneof![
        1 => (text(), text(), prop::option::of(usage()))
            .prop_map(|(id, model, usage)| StreamEvent::Start { id, model, usage }),
        4 => text().prop_map(|text| StreamEvent::TextDelta { text }),
        2 => text().prop_map(|text| StreamEvent::ThinkingDelta { text }),
        1 => text().prop_map(|signature| StreamEvent::ThinkingSignature { signature }),
        1 => text().prop_map(|data| StreamEvent::RedactedThinking { data }),
        2 => (index.clone(), text(), text(), prop::option::of(text())).prop_map(
            |(index, id, name, signature)| StreamEvent::ToolCallStart { index, id, name, signature }
        ),
        3 => (index, arguments())
            .prop_map(|(index, arguments)| StreamEvent::ToolCallDelta { index, arguments }),
        1 => usage().prop_map(StreamEvent::Usage),
        1 => (finish_reason(), prop::option::of(text()))
            .prop_map(|(reason, stop_sequence)| StreamEvent::Finish { reason, stop_sequence }),
        1 => (error_kind(), text()).prop_map(|(kind, message)| StreamEvent::Error { kind, message }),
    ]
    .boxed()
}

/// Bytes that look like a stream: SSE lines of JSON fragments, event-stream-ish binary, or
/// plain noise.
fn stream_bytes() -> BoxedStrategy<Vec<u8>> {
    let line = prop_oneof![
        json_value().prop_map(|v| format!("data: {v}\n\n")),
        text().prop_map(|t| format!("data: {t}\n")),
        Just("data: [DONE]\n\n".to_owned()),
        Just(": keepalive\n\n".to_owned()),
        Just("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n".to_owned()),
        Just("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n".to_owned()),
        Just("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":4294967295,\"function\":{\"arguments\":\"{\"}}]}}]}\n\n".to_owned()),
        Just("data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\"}}]},\"finishReason\":\"STOP\"}]}\r\n\r\n".to_owned()),
        text().prop_map(|t| format!("event: {t}\ndata: {t}\n\n")),
    ];
    prop_oneof![
        prop::collection::vec(line, 0..8).prop_map(|l| l.concat().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..256),
        // An event-stream prelude with a plausible length and garbage after it.
        (16u32..512, prop::collection::vec(any::<u8>(), 0..512)).prop_map(|(len, rest)| {
            let mut b = len.to_be_bytes().to_vec();
            b.extend_from_slice(&[0, 0, 0, 16]);
            b.extend(rest);
            b
        }),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------
// Invariants of the encoded bodies
// ---------------------------------------------------------------------------------------

fn object(bytes: &[u8], what: &str) -> serde_json::Map<String, Value> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(o)) => o,
        Ok(other) => panic!("{what}: not a JSON object: {other}"),
        Err(e) => panic!("{what}: not JSON ({e}): {}", String::from_utf8_lossy(bytes)),
    }
}

/// Anthropic: every text block non-blank (pitfall 11), every tool_use input an object
/// (pitfall 5), no empty message content, roles only user/assistant/system.
fn check_anthropic(body: &serde_json::Map<String, Value>) {
    let blank =
        |b: &Value| b["type"] == "text" && b["text"].as_str().is_some_and(|t| t.trim().is_empty());
    if let Some(Value::Array(system)) = body.get("system") {
        assert!(
            !system.is_empty() && !system.iter().any(blank),
            "{system:?}"
        );
    }
    if let Some(Value::String(system)) = body.get("system") {
        assert!(!system.trim().is_empty());
    }
    assert!(body["max_tokens"].as_u64().is_some_and(|n| n >= 1));
    for m in body["messages"].as_array().unwrap() {
        let role = m["role"].as_str().unwrap();
        assert!(matches!(role, "user" | "assistant" | "system"), "{role}");
        match &m["content"] {
            Value::String(s) => assert!(!s.trim().is_empty(), "{m}"),
            Value::Array(blocks) => {
                assert!(!blocks.is_empty(), "{m}");
                for b in blocks {
                    assert!(!blank(b), "blank text block: {m}");
                    if b["type"] == "tool_use" {
                        assert!(b["input"].is_object(), "pitfall 5: {b}");
                        let id = b["id"].as_str().unwrap();
                        assert!(
                            !id.is_empty()
                                && id
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                            "pitfall 20: {id:?}"
                        );
                    }
                    if let Some(Value::Array(inner)) = b.get("content") {
                        assert!(!inner.iter().any(blank), "blank text in a tool result: {b}");
                    }
                    if let Some(Value::String(inner)) = b.get("content") {
                        assert!(!inner.trim().is_empty(), "blank tool result: {b}");
                    }
                }
            }
            other => panic!("content {other}"),
        }
    }
}

/// Gemini: roles user/model, no turn without parts, functionCall args and functionResponse
/// response are objects.
fn check_gemini(body: &serde_json::Map<String, Value>) {
    for t in body["contents"].as_array().unwrap() {
        assert!(matches!(t["role"].as_str(), Some("user" | "model")), "{t}");
        let parts = t["parts"].as_array().unwrap();
        assert!(!parts.is_empty(), "pitfall 11: {t}");
        for p in parts {
            if let Some(c) = p.get("functionCall") {
                assert!(c["args"].is_object(), "{p}");
            }
            if let Some(r) = p.get("functionResponse") {
                assert!(r["response"].is_object(), "{p}");
            }
        }
    }
}

/// Bedrock: strictly alternating user/assistant turns (pitfall 9), none empty, no blank text
/// (pitfall 11), toolUse input an object (pitfall 5).
fn check_bedrock(body: &serde_json::Map<String, Value>) {
    let turns = body["messages"].as_array().unwrap();
    for w in turns.windows(2) {
        assert_ne!(w[0]["role"], w[1]["role"], "pitfall 9");
    }
    for t in turns {
        assert!(
            matches!(t["role"].as_str(), Some("user" | "assistant")),
            "{t}"
        );
        let blocks = t["content"].as_array().unwrap();
        assert!(!blocks.is_empty(), "pitfall 11: {t}");
        for b in blocks {
            if let Some(text) = b.get("text") {
                assert!(text.as_str().is_some_and(|s| !s.trim().is_empty()), "{b}");
            }
            if let Some(u) = b.get("toolUse") {
                assert!(u["input"].is_object(), "{b}");
            }
        }
    }
}

fn decode_all(mut d: Box<dyn StreamDecoder>, bytes: &[u8], step: usize) {
    let mut out = Vec::new();
    for piece in bytes.chunks(step.max(1)) {
        if d.push(piece, &mut out).is_err() {
            return;
        }
    }
    let _ = d.finish(&mut out);
}

fn decoders() -> Vec<Box<dyn StreamDecoder>> {
    vec![
        Box::new(OpenAiStreamDecoder::new()),
        Box::new(AnthropicStreamDecoder::new()),
        Box::new(GeminiStreamDecoder::new()),
        Box::new(BedrockStreamDecoder::new()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_request_encoder_writes_a_json_object(req in request()) {
        let openai = object(&to_openai(&req, "m", &OpenAiOptions::default()), "to_openai");
        prop_assert!(openai["messages"].is_array());
        object(&to_openai(&req, "m", &OpenAiOptions { legacy_max_tokens: true }), "to_openai legacy");
        let anthropic = object(&to_anthropic(&req, "m", 1024), "to_anthropic");
        check_anthropic(&anthropic);
        let gemini = object(&to_gemini(&req), "to_gemini");
        check_gemini(&gemini);
        let bedrock = object(&to_bedrock(&req, "anthropic.claude-x"), "to_bedrock");
        check_bedrock(&bedrock);
        object(&to_bedrock(&req, "amazon.nova-pro-v1:0"), "to_bedrock nova");
    }

    /// What `to_openai` / `to_anthropic` write, the matching ingress reads without a panic
    /// (it may reject it: a canonical request need not be a valid client request).
    #[test]
    fn encoded_requests_read_back_without_panicking(req in request()) {
        let body = to_openai(&req, "m", &OpenAiOptions::default());
        if let Ok(parsed) = ChatBody::parse(&body) {
            let _ = from_openai(&parsed);
        }
        let _ = from_anthropic(&to_anthropic(&req, "m", 1024));
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_reader(bytes in stream_bytes(), step in 1usize..17) {
        for d in decoders() {
            decode_all(d, &bytes, step);
        }
        let _ = response_from_openai(&bytes);
        let _ = response_from_anthropic(&bytes);
        let _ = response_from_gemini(&bytes);
        let _ = response_from_bedrock(&bytes);
        let _ = from_anthropic(&bytes);
        if let Ok(body) = ChatBody::parse(&bytes) {
            let _ = from_openai(&body);
        }
    }

    /// JSON-shaped noise reaches deeper than random bytes: every reader gets arbitrary JSON.
    #[test]
    fn arbitrary_json_never_panics_a_reader(v in json_value()) {
        let bytes = v.to_string().into_bytes();
        let _ = response_from_openai(&bytes);
        let _ = response_from_anthropic(&bytes);
        let _ = response_from_gemini(&bytes);
        let _ = response_from_bedrock(&bytes);
        let _ = from_anthropic(&bytes);
        if let Ok(body) = ChatBody::parse(&bytes) {
            let _ = from_openai(&body);
        }
        let mut sse = format!("data: {v}\n\n").into_bytes();
        sse.extend_from_slice(format!("event: x\ndata: {v}\n\n").as_bytes());
        for d in decoders() {
            decode_all(d, &sse, 64);
        }
    }

    #[test]
    fn arbitrary_events_never_panic_an_encoder(
        events in prop::collection::vec(event(), 0..24),
        include_usage in any::<bool>(),
        fail in any::<bool>(),
    ) {
        let encoders: Vec<Box<dyn StreamEncoder>> = vec![
            Box::new(OpenAiStreamEncoder::new("m", include_usage)),
            Box::new(AnthropicStreamEncoder::new("m")),
        ];
        for mut enc in encoders {
            let mut out = BytesMut::new();
            for e in &events {
                enc.encode(e, &mut out);
            }
            if fail {
                enc.fail(ErrorKind::StreamBroken, "broken \"stream\"", &mut out);
            } else {
                enc.finish(&mut out);
            }
            // After the end, nothing more is written.
            let len = out.len();
            enc.finish(&mut out);
            enc.encode(&StreamEvent::TextDelta { text: "late".into() }, &mut out);
            prop_assert_eq!(out.len(), len);
            prop_assert!(std::str::from_utf8(&out).is_ok());
        }
    }

    #[test]
    fn arbitrary_answers_never_panic_a_response_writer(
        parts in prop::collection::vec(part(), 0..6),
        finish in prop::option::of(finish_reason()),
        stop_sequence in prop::option::of(text()),
        usage in usage(),
        id in text(),
    ) {
        let resp = ChatResponse {
            id,
            model: "m".into(),
            content: parts,
            finish,
            stop_sequence,
            usage,
            created: 0,
        };
        let openai = object(&response_to_openai(&resp, "m"), "response_to_openai");
        prop_assert!(response_from_openai(&serde_json::to_vec(&openai).unwrap()).is_ok());
        let anthropic = object(&response_to_anthropic(&resp, "m"), "response_to_anthropic");
        prop_assert!(response_from_anthropic(&serde_json::to_vec(&anthropic).unwrap()).is_ok());
    }
}
