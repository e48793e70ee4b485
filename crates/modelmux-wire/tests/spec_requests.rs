//! Request bodies checked against the providers' official machine-readable specs in
//! `shared/specs`: what `to_openai` writes against OpenAI's `CreateChatCompletionRequest`
//! (OpenAPI 3.1, YAML), what `to_anthropic` writes against Anthropic's `CreateMessageParams`
//! (OpenAPI 3.1, JSON), both with a JSON Schema 2020-12 validator resolving `$ref`s inside the
//! document only (no network), and what `to_bedrock` writes against the botocore shape
//! `ConverseRequest`, walked member by member here (botocore shapes are not JSON Schema:
//! member names, types, required members, enums, unions, length and value bounds). The
//! bodies are a representative set: plain text, tools and every tool choice, tool results,
//! images, a JSON-schema output, reasoning settings, streaming, and one long conversation.
//! The specs are outside the repository: where they are absent the test says it was skipped
//! and why, and passes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test file: a failed unwrap or assertion is a failed test"
)]

use std::path::Path;

use modelmux_wire::anthropic::to_anthropic;
use modelmux_wire::bedrock::to_bedrock;
use modelmux_wire::canonical::{
    ChatRequest, MediaSource, Message, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
};
use modelmux_wire::openai::{ChatBody, OpenAiOptions, from_openai, to_openai};
use serde_json::{Map, Value, json};

const OPENAI_SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/specs/openai/openapi.yaml"
);
const ANTHROPIC_SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/specs/anthropic/openapi.json"
);
const BEDROCK_SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/specs/bedrock/botocore-bedrock-runtime-2023-09-30-service-2.json"
);

/// The spec's text, or `None` (with the reason printed) when it is not on this machine.
#[allow(
    clippy::print_stdout,
    reason = "a skipped test says so and why (DESIGN.md: never pass silently)"
)]
fn read_spec(path: &str, test: &str) -> Option<String> {
    if !Path::new(path).exists() {
        println!("{test}: SKIPPED: the spec {path} is not present on this machine");
        return None;
    }
    Some(std::fs::read_to_string(path).unwrap())
}

// ---------------------------------------------------------------------------------------
// The bodies
// ---------------------------------------------------------------------------------------

const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn user(parts: Vec<Part>) -> Message {
    Message {
        role: Role::User,
        content: parts,
        name: None,
    }
}

fn weather_tool() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: Some("Weather for a city".into()),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"},
            "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["city"],
            "additionalProperties": false}),
        strict: Some(true),
        cache_control: None,
    }
}

fn plain() -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![
            Message::text(Role::System, "Be brief."),
            Message::text(Role::User, "Hi \"there\" 🎉"),
        ],
        max_tokens: Some(256),
        temperature: Some(0.5),
        top_p: Some(0.9),
        stop: vec!["\n\nHuman:".into(), "END".into()],
        seed: Some(7),
        user: Some("user-1".into()),
        ..ChatRequest::default()
    }
}

fn with_tools(choice: Option<ToolChoice>, parallel: Option<bool>) -> ChatRequest {
    ChatRequest {
        tools: vec![weather_tool()],
        tool_choice: choice,
        parallel_tool_calls: parallel,
        ..plain()
    }
}

/// Parallel calls, their results (one with an image), signed thinking, an empty assistant
/// text, system messages in the middle.
fn tool_results() -> ChatRequest {
    let result = |id: &str, content: Vec<Part>, is_error: bool| Message {
        role: Role::Tool,
        content: vec![Part::ToolResult {
            call_id: id.into(),
            name: Some("get_weather".into()),
            content,
            is_error,
            cache_control: None,
        }],
        name: None,
    };
    ChatRequest {
        messages: vec![
            Message::text(Role::System, "S0"),
            Message::text(Role::User, "Weather in Paris and Tokyo?"),
            Message {
                role: Role::Assistant,
                content: vec![
                    Part::Thinking {
                        text: "two calls".into(),
                        signature: Some("sig".into()),
                    },
                    Part::text(""),
                    Part::ToolCall {
                        id: "call_1".into(),
                        name: "get_weather".into(),
                        arguments: "{\"city\":\"Paris\"}".into(),
                        signature: None,
                    },
                    Part::ToolCall {
                        id: "functions.get_weather:2".into(),
                        name: "get_weather".into(),
                        arguments: String::new(),
                        signature: None,
                    },
                ],
                name: None,
            },
            result("call_1", vec![Part::text("18 C")], false),
            result(
                "functions.get_weather:2",
                vec![Part::text("a photo"), image_b64()],
                true,
            ),
            Message::text(Role::System, "S5: metric."),
            Message::text(Role::User, "Thanks."),
        ],
        ..with_tools(Some(ToolChoice::Auto), None)
    }
}

fn image_b64() -> Part {
    Part::Image {
        source: MediaSource::Base64 {
            media_type: "image/png".into(),
            data: PNG_B64.into(),
        },
        detail: Some("high".into()),
        cache_control: None,
    }
}

fn images() -> ChatRequest {
    ChatRequest {
        messages: vec![user(vec![
            Part::text("What is in these?"),
            image_b64(),
            Part::Image {
                source: MediaSource::Url("https://example.com/cat.jpg".into()),
                detail: None,
                cache_control: Some(json!({"type": "ephemeral"})),
            },
        ])],
        ..plain()
    }
}

fn json_schema() -> ChatRequest {
    ChatRequest {
        response_format: Some(ResponseFormat::JsonSchema {
            name: "weather report".into(),
            description: Some("A report".into()),
            schema: json!({"type": "object", "properties": {"temp": {"type": "number"}},
                "required": ["temp"], "additionalProperties": false}),
            strict: Some(true),
        }),
        ..plain()
    }
}

fn reasoning(r: Reasoning) -> ChatRequest {
    ChatRequest {
        reasoning: Some(r),
        max_tokens: Some(8192),
        temperature: None,
        ..plain()
    }
}

fn streamed() -> ChatRequest {
    ChatRequest {
        stream: true,
        ..plain()
    }
}

/// An OpenAI SDK body, as a client sends it, read by `from_openai`.
fn from_client() -> ChatRequest {
    let body = json!({"model": "gpt-x", "messages": [
        {"role": "developer", "content": "Be helpful."},
        {"role": "user", "content": [{"type": "text", "text": "hi"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_B64}")}}]},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_9", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "cold"},
    ], "tools": [{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required", "max_completion_tokens": 100, "stream": true,
        "stream_options": {"include_usage": true}, "reasoning_effort": "low",
        "response_format": {"type": "json_object"}, "store": true, "metadata": {"k": "v"}});
    from_openai(&ChatBody::parse(body.to_string().as_bytes()).unwrap()).unwrap()
}

/// The representative set, each with a name for failure messages.
fn bodies() -> Vec<(&'static str, ChatRequest)> {
    vec![
        ("plain", plain()),
        ("tools, no choice", with_tools(None, None)),
        ("tools, auto", with_tools(Some(ToolChoice::Auto), None)),
        (
            "tools, required",
            with_tools(Some(ToolChoice::Required), None),
        ),
        ("tools, none", with_tools(Some(ToolChoice::None), None)),
        (
            "tools, named, no parallel",
            with_tools(Some(ToolChoice::Named("get_weather".into())), Some(false)),
        ),
        ("tool results", tool_results()),
        ("images", images()),
        ("json_schema", json_schema()),
        (
            "json_object",
            ChatRequest {
                response_format: Some(ResponseFormat::JsonObject),
                ..plain()
            },
        ),
        (
            "reasoning effort",
            reasoning(Reasoning {
                effort: Some("high".into()),
                ..Reasoning::default()
            }),
        ),
        (
            "reasoning budget",
            reasoning(Reasoning {
                budget_tokens: Some(2048),
                display: Some("summarized".into()),
                ..Reasoning::default()
            }),
        ),
        (
            "reasoning adaptive",
            reasoning(Reasoning {
                enabled: Some(true),
                ..Reasoning::default()
            }),
        ),
        (
            "reasoning off",
            reasoning(Reasoning {
                enabled: Some(false),
                ..Reasoning::default()
            }),
        ),
        ("stream", streamed()),
        ("from an OpenAI client", from_client()),
    ]
}

// ---------------------------------------------------------------------------------------
// OpenAPI documents as JSON Schema
// ---------------------------------------------------------------------------------------

/// OpenAPI 3.0's `nullable: true`, which some schemas of the OpenAI document still use, is
/// no JSON Schema keyword: it becomes `anyOf: [<the schema>, {type: null}]`, its meaning.
fn nullable_to_anyof(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (_, child) in o.iter_mut() {
                nullable_to_anyof(child);
            }
            if o.remove("nullable") == Some(Value::Bool(true)) {
                let inner = Value::Object(std::mem::take(o));
                o.insert("anyOf".into(), json!([inner, {"type": "null"}]));
            }
        }
        Value::Array(a) => a.iter_mut().for_each(nullable_to_anyof),
        _ => {}
    }
}

/// The YAML text with integers outside i64/u64 written as floats: the OpenAI document bounds
/// `seed` by `±9223372036854776000`, which neither serde_norway nor serde_json's `Value`
/// holds as an integer; a JSON parser would read them as floats, and so they are here.
fn big_integers_as_floats(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 64);
    for line in yaml.lines() {
        let fixed = line.rsplit_once(": ").and_then(|(key, value)| {
            let digits = value.strip_prefix('-').unwrap_or(value);
            let integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            let too_big = value.parse::<i64>().is_err() && value.parse::<u64>().is_err();
            (integer && too_big).then(|| format!("{key}: {value}.0"))
        });
        out.push_str(fixed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// A validator for `#/components/schemas/<name>` of an OpenAPI 3.1 document: the root is a
/// `$ref` to it beside the document's `components`, so every `#/components/...` reference
/// resolves inside the document.
fn component_validator(doc: &Value, name: &str) -> jsonschema::Validator {
    let mut components = doc["components"].clone();
    nullable_to_anyof(&mut components);
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": components,
    });
    jsonschema::draft202012::options()
        .build(&root)
        .unwrap_or_else(|e| panic!("{name} does not compile: {e}"))
}

/// The validator's complaints about `body`, as `<instance path>: <message>`, minus those
/// `excused` accepts (deliberate deviations, each documented where it is given).
fn violations(
    v: &jsonschema::Validator,
    body: &Value,
    excused: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    v.iter_errors(body)
        .map(|e| format!("{}: {}", e.instance_path(), short(&e.to_string())))
        .filter(|e| !excused(e))
        .collect()
}

fn short(s: &str) -> String {
    s.chars().take(300).collect()
}

#[test]
fn openai_request_bodies_match_create_chat_completion_request() {
    let test = "openai_request_bodies_match_create_chat_completion_request";
    let Some(text) = read_spec(OPENAI_SPEC, test) else {
        return;
    };
    let doc: Value = serde_norway::from_str(&big_integers_as_floats(&text)).unwrap();
    let validator = component_validator(&doc, "CreateChatCompletionRequest");
    // The validator is live: bodies the API rejects are rejected here too.
    for bad in [
        json!({"model": "m"}),
        json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]}),
        json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "stop": ["a", "b", "c", "d", "e"]}),
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3}),
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "reasoning_effort": "extreme"}),
        json!({"model": "m", "messages": [{"role": "assistant", "content": null, "tool_calls":
            [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}]}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url",
            "image_url": {"url": "https://x/y.png", "detail": "ultra"}}]}]}),
    ] {
        assert!(!validator.is_valid(&bad), "the spec accepts {bad}");
    }
    let mut checked = 0;
    for (name, req) in bodies() {
        for legacy in [false, true] {
            let bytes = to_openai(
                &req,
                "gpt-x",
                &OpenAiOptions {
                    legacy_max_tokens: legacy,
                },
            );
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            // `reasoning_content` on assistant messages is a non-standard field that
            // DeepSeek, vLLM and other compatible servers need back (pitfall 16); OpenAI's
            // schema has no such property but its assistant message does not forbid
            // unknown ones, so nothing is excused here.
            let errors = violations(&validator, &body, &|_| false);
            assert!(
                errors.is_empty(),
                "{name} (legacy {legacy}): {errors:#?}\n{body}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * bodies().len());
}

#[test]
fn anthropic_request_bodies_match_create_message_params() {
    let test = "anthropic_request_bodies_match_create_message_params";
    let Some(text) = read_spec(ANTHROPIC_SPEC, test) else {
        return;
    };
    let doc: Value = serde_json::from_str(&text).unwrap();
    let validator = component_validator(&doc, "CreateMessageParams");
    for bad in [
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
        json!({"model": "m", "max_tokens": 5,
            "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}),
        json!({"model": "m", "max_tokens": 5, "messages": [], "unknown_field": 1}),
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content":
            [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}]}]}),
        json!({"model": "m", "max_tokens": 2000, "messages": [],
            "thinking": {"type": "enabled", "budget_tokens": 10}}),
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content":
            [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp",
            "data": "AA=="}}]}]}),
    ] {
        assert!(!validator.is_valid(&bad), "the spec accepts {bad}");
    }
    for (name, req) in bodies() {
        let body: Value = serde_json::from_slice(&to_anthropic(&req, "claude-x", 1024)).unwrap();
        let errors = violations(&validator, &body, &|_| false);
        assert!(errors.is_empty(), "{name}: {errors:#?}\n{body}");
    }
}

// ---------------------------------------------------------------------------------------
// botocore shapes
// ---------------------------------------------------------------------------------------

struct Shapes<'a> {
    shapes: &'a Map<String, Value>,
    errors: Vec<String>,
}

impl Shapes<'_> {
    fn shape(&self, name: &str) -> &Value {
        self.shapes
            .get(name)
            .unwrap_or_else(|| panic!("no shape {name}"))
    }

    fn err(&mut self, path: &str, msg: String) {
        self.errors.push(format!("{path}: {msg}"));
    }

    fn bounds(&mut self, path: &str, shape: &Value, n: f64, what: &str) {
        if let Some(min) = shape["min"].as_f64()
            && n < min
        {
            self.err(path, format!("{what} {n} < min {min}"));
        }
        if let Some(max) = shape["max"].as_f64()
            && n > max
        {
            self.err(path, format!("{what} {n} > max {max}"));
        }
    }

    /// Checks `v` against the shape `name`, recursively.
    fn check(&mut self, path: &str, name: &str, v: &Value) {
        let shape = self.shape(name).clone();
        if shape["document"] == true {
            return; // any JSON
        }
        match shape["type"].as_str().unwrap() {
            "structure" => self.structure(path, name, &shape, v),
            "list" => match v.as_array() {
                Some(items) => {
                    self.bounds(path, &shape, items.len() as f64, "length");
                    let member = shape["member"]["shape"].as_str().unwrap();
                    for (i, item) in items.iter().enumerate() {
                        self.check(&format!("{path}[{i}]"), member, item);
                    }
                }
                None => self.err(path, format!("{name} must be a list, got {v}")),
            },
            "map" => match v.as_object() {
                Some(o) => {
                    self.bounds(path, &shape, o.len() as f64, "entries");
                    let key = shape["key"]["shape"].as_str().unwrap();
                    let value = shape["value"]["shape"].as_str().unwrap();
                    for (k, item) in o {
                        self.check(&format!("{path}.<key {k}>"), key, &Value::String(k.clone()));
                        self.check(&format!("{path}.{k}"), value, item);
                    }
                }
                None => self.err(path, format!("{name} must be a map, got {v}")),
            },
            "string" => match v.as_str() {
                Some(s) => {
                    self.bounds(path, &shape, s.chars().count() as f64, "length");
                    if let Some(allowed) = shape["enum"].as_array()
                        && !allowed.iter().any(|a| a == s)
                    {
                        self.err(path, format!("{s:?} is not one of {allowed:?}"));
                    }
                }
                None => self.err(path, format!("{name} must be a string, got {v}")),
            },
            // JSON carries blobs as base64 strings.
            "blob" => match v.as_str() {
                Some(s) => {
                    let ok = s.len() % 4 == 0
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                    if !ok {
                        self.err(path, format!("{name}: not base64: {s:?}"));
                    }
                }
                None => self.err(path, format!("{name} must be a base64 string, got {v}")),
            },
            "integer" | "long" => match v.as_i64() {
                Some(n) => self.bounds(path, &shape, n as f64, "value"),
                None => self.err(path, format!("{name} must be an integer, got {v}")),
            },
            "float" | "double" => match v.as_f64() {
                Some(n) => self.bounds(path, &shape, n, "value"),
                None => self.err(path, format!("{name} must be a number, got {v}")),
            },
            "boolean" => {
                if !v.is_boolean() {
                    self.err(path, format!("{name} must be a boolean, got {v}"));
                }
            }
            other => self.err(path, format!("{name}: unexpected shape type {other}")),
        }
    }

    fn structure(&mut self, path: &str, name: &str, shape: &Value, v: &Value) {
        let Some(o) = v.as_object() else {
            self.err(path, format!("{name} must be an object, got {v}"));
            return;
        };
        let members = shape["members"].as_object().unwrap();
        // Members bound to the URI or headers (`modelId`) are not in the body.
        let in_body = |m: &Value| m.get("location").is_none();
        for req in shape["required"].as_array().into_iter().flatten() {
            let req = req.as_str().unwrap();
            if in_body(&members[req]) && !o.contains_key(req) {
                self.err(path, format!("{name}: required member {req} missing"));
            }
        }
        if shape["union"] == true && o.len() != 1 {
            self.err(
                path,
                format!("{name} is a union: exactly one member, got {:?}", o.keys()),
            );
        }
        for (k, item) in o {
            match members.get(k) {
                Some(m) if in_body(m) => {
                    let member_shape = m["shape"].as_str().unwrap();
                    self.check(&format!("{path}.{k}"), member_shape, item);
                }
                _ => self.err(path, format!("{name} has no member {k:?}")),
            }
        }
    }
}

fn bedrock_violations(shapes: &Map<String, Value>, body: &Value) -> Vec<String> {
    let mut s = Shapes {
        shapes,
        errors: Vec::new(),
    };
    s.check("$", "ConverseRequest", body);
    s.errors
}

#[test]
fn bedrock_request_bodies_match_the_converse_request_shape() {
    let test = "bedrock_request_bodies_match_the_converse_request_shape";
    let Some(text) = read_spec(BEDROCK_SPEC, test) else {
        return;
    };
    let model: Value = serde_json::from_str(&text).unwrap();
    let shapes = model["shapes"].as_object().unwrap();
    // The checker is live: bodies Bedrock rejects are rejected here too.
    for bad in [
        json!({"messages": [{"role": "tool", "content": [{"text": "x"}]}]}),
        json!({"messages": [{"role": "user", "content": [{"text": "x", "image": {}}]}]}),
        json!({"messages": [{"role": "user", "content": [{"text": 5}]}]}),
        json!({"messages": [], "toolConfig": {"toolChoice": {"none": {}}, "tools": []}}),
        json!({"messages": [], "inferenceConfig": {"maxTokens": 0}}),
        json!({"messages": [], "system": [{"text": "x"}], "stream": true}),
        json!({"messages": [{"role": "user", "content": [{"image": {"format": "bmp",
            "source": {"bytes": "AA=="}}}]}]}),
        json!({"messages": [{"role": "user", "content": [{"toolResult": {"toolUseId": "t",
            "content": [{"text": "x"}], "status": "failed"}}]}]}),
    ] {
        assert!(
            !bedrock_violations(shapes, &bad).is_empty(),
            "the shape accepts {bad}"
        );
    }
    for (name, req) in bodies() {
        for model_id in [
            "anthropic.claude-sonnet-4-v1:0",
            "amazon.nova-pro-v1:0",
            "meta.llama3",
        ] {
            let body: Value = serde_json::from_slice(&to_bedrock(&req, model_id)).unwrap();
            let errors = bedrock_violations(shapes, &body);
            assert!(
                errors.is_empty(),
                "{name} ({model_id}): {errors:#?}\n{body}"
            );
        }
    }
}
