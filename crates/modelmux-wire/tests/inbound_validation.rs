//! Every inbound field the gateway reads or translates is checked, in each client format: a
//! wrong type or a missing required member is refused with the field named by its path, one
//! test per case. Chat Completions bodies are checked twice, by `ChatBody::summary` (which
//! runs on every request, same-format passthrough included) and by `from_openai` (when a
//! target speaks another format), and both must name the same parameter. Anthropic names
//! paths its own way (`messages.0.content.0.text`), in the param and at the start of the
//! message. What real clients send (the SDK fixtures, Claude Code, Codex) still passes, and
//! unknown fields still reach the provider untouched.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test file: a failed unwrap or assertion is a failed test"
)]

use modelmux_wire::anthropic::from_anthropic;
use modelmux_wire::openai::{ChatBody, from_openai};
use modelmux_wire::responses::from_responses;
use serde_json::{Value, json};

/// A Chat Completions body both checks refuse, naming `param`.
fn chat_refused(body: Value, param: &str) {
    let text = body.to_string();
    let parsed = ChatBody::parse(text.as_bytes()).unwrap();
    let e = parsed.summary().expect_err(&text);
    assert_eq!(e.param.as_deref(), Some(param), "summary: {text}: {e}");
    assert!(
        !e.message.is_empty() && !e.message.contains("line 1"),
        "{e}"
    );
    let t = from_openai(&parsed).expect_err(&text);
    assert_eq!(t.param.as_deref(), Some(param), "from_openai: {text}: {t}");
}

fn responses_refused(body: Value, param: &str) {
    let text = body.to_string();
    let e = from_responses(text.as_bytes()).expect_err(&text);
    assert_eq!(e.param.as_deref(), Some(param), "{text}: {e}");
    assert!(
        !e.message.is_empty() && !e.message.contains("line 1"),
        "{e}"
    );
}

fn anthropic_refused(body: Value, param: &str) {
    let text = body.to_string();
    let e = from_anthropic(text.as_bytes()).expect_err(&text);
    assert_eq!(e.param.as_deref(), Some(param), "{text}: {e}");
    assert!(e.message.starts_with(&format!("{param}: ")), "{e}");
}

macro_rules! cases {
    ($check:ident { $($name:ident: $body:tt => $param:literal;)* }) => {
        $(
            #[test]
            fn $name() {
                $check(json!($body), $param);
            }
        )*
    };
}

mod chat {
    use super::*;

    cases!(chat_refused {
        model_not_a_string: {"model": 5, "messages": [{"role": "user", "content": "x"}]} => "model";
        temperature_as_string: {"model": "m", "temperature": "hot", "messages": [{"role": "user", "content": "x"}]} => "temperature";
        top_p_as_bool: {"model": "m", "top_p": true, "messages": [{"role": "user", "content": "x"}]} => "top_p";
        max_tokens_as_string: {"model": "m", "max_tokens": "100", "messages": [{"role": "user", "content": "x"}]} => "max_tokens";
        max_tokens_negative: {"model": "m", "max_tokens": -1, "messages": [{"role": "user", "content": "x"}]} => "max_tokens";
        max_completion_tokens_fraction: {"model": "m", "max_completion_tokens": 1.5, "messages": [{"role": "user", "content": "x"}]} => "max_completion_tokens";
        max_completion_tokens_zero: {"model": "m", "max_completion_tokens": 0, "messages": [{"role": "user", "content": "x"}]} => "max_completion_tokens";
        stop_as_number: {"model": "m", "stop": 5, "messages": [{"role": "user", "content": "x"}]} => "stop";
        stop_item_not_a_string: {"model": "m", "stop": ["a", 1], "messages": [{"role": "user", "content": "x"}]} => "stop[1]";
        n_as_string: {"model": "m", "n": "2", "messages": [{"role": "user", "content": "x"}]} => "n";
        n_zero: {"model": "m", "n": 0, "messages": [{"role": "user", "content": "x"}]} => "n";
        seed_fraction: {"model": "m", "seed": 1.5, "messages": [{"role": "user", "content": "x"}]} => "seed";
        presence_penalty_as_string: {"model": "m", "presence_penalty": "0.5", "messages": [{"role": "user", "content": "x"}]} => "presence_penalty";
        frequency_penalty_as_object: {"model": "m", "frequency_penalty": {}, "messages": [{"role": "user", "content": "x"}]} => "frequency_penalty";
        stream_as_string: {"model": "m", "stream": "yes", "messages": [{"role": "user", "content": "x"}]} => "stream";
        include_usage_as_string: {"model": "m", "stream": true, "stream_options": {"include_usage": "yes"}, "messages": [{"role": "user", "content": "x"}]} => "stream_options.include_usage";
        parallel_tool_calls_as_string: {"model": "m", "parallel_tool_calls": "no", "messages": [{"role": "user", "content": "x"}]} => "parallel_tool_calls";
        user_as_number: {"model": "m", "user": 7, "messages": [{"role": "user", "content": "x"}]} => "user";
        reasoning_effort_as_number: {"model": "m", "reasoning_effort": 3, "messages": [{"role": "user", "content": "x"}]} => "reasoning_effort";
        messages_not_an_array: {"model": "m", "messages": {"role": "user"}} => "messages";
        message_not_an_object: {"model": "m", "messages": ["hi"]} => "messages[0]";
        role_as_number: {"model": "m", "messages": [{"role": 5, "content": "x"}]} => "messages[0].role";
        role_unknown: {"model": "m", "messages": [{"role": "robot", "content": "x"}]} => "messages[0].role";
        content_as_number: {"model": "m", "messages": [{"role": "user", "content": 5}]} => "messages[0].content";
        content_as_object: {"model": "m", "messages": [{"role": "user", "content": {"type": "text", "text": "x"}}]} => "messages[0].content";
        part_without_type: {"model": "m", "messages": [{"role": "user", "content": [{"text": "x"}]}]} => "messages[0].content[0].type";
        part_type_as_number: {"model": "m", "messages": [{"role": "user", "content": [{"type": 1, "text": "x"}]}]} => "messages[0].content[0].type";
        text_part_without_text: {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text"}]}]} => "messages[0].content[1].text";
        text_part_text_as_number: {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]} => "messages[0].content[0].text";
        image_part_without_image_url: {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]} => "messages[0].content[0].image_url";
        image_part_without_url: {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"detail": "low"}}]}]} => "messages[0].content[0].image_url.url";
        image_url_as_number: {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 5}]}]} => "messages[0].content[0].image_url";
        image_url_url_as_number: {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 5}}]}]} => "messages[0].content[0].image_url.url";
        image_url_bad_data_uri: {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,xyz"}}]}]} => "messages[0].content[0].image_url.url";
        audio_part_without_format: {"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAAA"}}]}]} => "messages[0].content[0].input_audio.format";
        file_part_without_data_or_id: {"model": "m", "messages": [{"role": "user", "content": [{"type": "file", "file": {"filename": "a.pdf"}}]}]} => "messages[0].content[0].file.file_data";
        refusal_part_without_refusal: {"model": "m", "messages": [{"role": "assistant", "content": [{"type": "refusal"}]}]} => "messages[0].content[0].refusal";
        tool_message_without_tool_call_id: {"model": "m", "messages": [{"role": "tool", "content": "r"}]} => "messages[0].tool_call_id";
        tool_call_id_as_number: {"model": "m", "messages": [{"role": "tool", "tool_call_id": 5, "content": "r"}]} => "messages[0].tool_call_id";
        tool_result_block_without_tool_use_id: {"model": "m", "messages": [{"role": "user", "content": [{"type": "tool_result", "content": "r"}]}]} => "messages[0].content[0].tool_use_id";
        tool_calls_not_an_array: {"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": {}}]} => "messages[1].tool_calls";
        tool_call_without_id: {"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]} => "messages[1].tool_calls[0].id";
        tool_call_without_function: {"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function"}]}]} => "messages[1].tool_calls[0].function";
        tool_call_without_name: {"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"arguments": "{}"}}]}]} => "messages[1].tool_calls[0].function.name";
        tool_call_arguments_as_object: {"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]}]} => "messages[1].tool_calls[0].function.arguments";
        legacy_function_call_arguments_as_object: {"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "function_call": {"name": "f", "arguments": {}}}]} => "messages[1].function_call.arguments";
        function_message_without_name: {"model": "m", "messages": [{"role": "function", "content": "r"}]} => "messages[0].name";
        tools_not_an_array: {"model": "m", "tools": {}, "messages": [{"role": "user", "content": "x"}]} => "tools";
        tool_without_name: {"model": "m", "tools": [
            {"type": "function", "function": {"name": "a"}},
            {"type": "function", "function": {"name": "b"}},
            {"type": "function", "function": {"description": "no name"}}],
            "messages": [{"role": "user", "content": "x"}]} => "tools[2].function.name";
        tool_name_as_number: {"model": "m", "tools": [{"type": "function", "function": {"name": 5}}], "messages": [{"role": "user", "content": "x"}]} => "tools[0].function.name";
        tool_name_empty: {"model": "m", "tools": [{"type": "function", "function": {"name": ""}}], "messages": [{"role": "user", "content": "x"}]} => "tools[0].function.name";
        tool_without_function: {"model": "m", "tools": [{"type": "function"}], "messages": [{"role": "user", "content": "x"}]} => "tools[0].function";
        tool_parameters_as_string: {"model": "m", "tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}], "messages": [{"role": "user", "content": "x"}]} => "tools[0].function.parameters";
        tool_strict_as_string: {"model": "m", "tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}], "messages": [{"role": "user", "content": "x"}]} => "tools[0].function.strict";
        tool_type_as_number: {"model": "m", "tools": [{"type": 1, "function": {"name": "f"}}], "messages": [{"role": "user", "content": "x"}]} => "tools[0].type";
        legacy_function_without_name: {"model": "m", "functions": [{"parameters": {}}], "messages": [{"role": "user", "content": "x"}]} => "functions[0].name";
        tool_choice_as_number: {"model": "m", "tool_choice": 1, "messages": [{"role": "user", "content": "x"}]} => "tool_choice";
        tool_choice_unknown_string: {"model": "m", "tool_choice": "always", "messages": [{"role": "user", "content": "x"}]} => "tool_choice";
        tool_choice_function_without_name: {"model": "m", "tool_choice": {"type": "function", "function": {}}, "messages": [{"role": "user", "content": "x"}]} => "tool_choice.function.name";
        tool_choice_function_name_as_number: {"model": "m", "tool_choice": {"type": "function", "function": {"name": 5}}, "messages": [{"role": "user", "content": "x"}]} => "tool_choice.function.name";
        legacy_function_call_unknown_string: {"model": "m", "function_call": "always", "messages": [{"role": "user", "content": "x"}]} => "function_call";
        response_format_as_string: {"model": "m", "response_format": "json", "messages": [{"role": "user", "content": "x"}]} => "response_format";
        response_format_without_type: {"model": "m", "response_format": {}, "messages": [{"role": "user", "content": "x"}]} => "response_format.type";
        response_format_unknown_type: {"model": "m", "response_format": {"type": "yaml"}, "messages": [{"role": "user", "content": "x"}]} => "response_format.type";
        response_format_without_json_schema: {"model": "m", "response_format": {"type": "json_schema"}, "messages": [{"role": "user", "content": "x"}]} => "response_format.json_schema";
        response_format_schema_as_string: {"model": "m", "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": "{}"}}, "messages": [{"role": "user", "content": "x"}]} => "response_format.json_schema.schema";
        metadata_as_string: {"model": "m", "metadata": "x", "messages": [{"role": "user", "content": "x"}]} => "metadata";
        metadata_value_as_number: {"model": "m", "metadata": {"team": "a", "n": 1}, "messages": [{"role": "user", "content": "x"}]} => "metadata.n";
    });

    fn summary_ok(body: &Value) -> modelmux_wire::openai::ChatSummary {
        ChatBody::parse(body.to_string().as_bytes())
            .unwrap()
            .summary()
            .unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    #[test]
    fn type_errors_are_worded_like_openai() {
        let body = json!({"model": "m", "temperature": "hot", "messages": [{"role": "user", "content": "x"}]});
        let e = ChatBody::parse(body.to_string().as_bytes())
            .unwrap()
            .summary()
            .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid type for 'temperature': expected a number, but got a string instead."
        );
        assert_eq!(e.code, Some("invalid_type"));
        let body = json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": ["a"]}]}]});
        let e = ChatBody::parse(body.to_string().as_bytes())
            .unwrap()
            .summary()
            .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid type for 'messages[0].content[0].text': expected a string, but got an array instead."
        );
        let body =
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]});
        let e = ChatBody::parse(body.to_string().as_bytes())
            .unwrap()
            .summary()
            .unwrap_err();
        assert_eq!(
            e.message,
            "Missing required parameter: 'messages[0].content[0].text'."
        );
        assert_eq!(e.code, Some("missing_required_parameter"));
    }

    #[test]
    fn what_clients_send_still_passes() {
        let bodies = [
            // The official SDK's bodies (shared/fixtures/sdk).
            json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "max_completion_tokens": 50, "temperature": 0.2}),
            json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "stream_options": {"include_usage": true}}),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Weather in Paris?"}], "tool_choice": "auto", "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]}),
            // The SDK's tool loop: the assistant's calls and the tool's answer.
            json!({"model": "m", "messages": [{"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}],
                "tools": [{"type": "function", "function": {"name": "get_weather", "strict": true, "parameters": {"type": "object", "additionalProperties": false}}}]}),
            // opencode: max_tokens, stream_options, a JSON string literal as the content.
            json!({"model": "r", "stream": true, "stream_options": {"include_usage": true}, "max_tokens": 16384,
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "\"text\""}, {"role": "user", "content": "u"}]}),
            // Every standard field, with nulls for "not set".
            json!({"model": "m", "messages": [{"role": "developer", "content": [{"type": "text", "text": "d"}]},
                {"role": "user", "name": "ann", "content": [{"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"}},
                    {"type": "image_url", "image_url": "https://x/y.png"},
                    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                    {"type": "file", "file": {"file_id": "file-1"}}]},
                {"role": "assistant", "refusal": "no"}],
                "temperature": 1, "top_p": 0.5, "n": 1, "seed": -3, "stop": "END", "presence_penalty": -1, "frequency_penalty": 0.5,
                "tool_choice": {"type": "function", "function": {"name": "f"}}, "parallel_tool_calls": false,
                "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}},
                "reasoning_effort": "low", "metadata": {"team": "a"}, "user": "u", "logprobs": null, "max_tokens": null}),
            // Tools and calls the gateway does not translate still pass on passthrough.
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": "https://x/v.mp4"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "custom", "custom": {"name": "g", "input": "x"}}]}],
                "tools": [{"type": "custom", "custom": {"name": "g"}}],
                "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}}),
        ];
        for b in &bodies {
            summary_ok(b);
        }
        // The ones the gateway can translate also translate.
        for b in &bodies[..6] {
            from_openai(&ChatBody::parse(b.to_string().as_bytes()).unwrap())
                .unwrap_or_else(|e| panic!("{b}: {e}"));
        }
    }

    #[test]
    fn unknown_fields_pass_through_untouched() {
        let src = r#"{"model":"m","messages":[{"role":"user","content":"hi","x_note":{"deep":[1]}}],"temperature":0.2,"x_vendor":{"k":"v"},"logit_bias":{"50256":-100},"top_logprobs":"anything"}"#;
        let body = ChatBody::parse(src.as_bytes()).unwrap();
        body.summary().unwrap();
        assert_eq!(String::from_utf8(body.to_bytes()).unwrap(), src);
    }

    #[test]
    fn summary_reads_the_checked_fields() {
        let s = summary_ok(&json!({"model": "m",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "ab"}, {"type": "image_url", "image_url": "https://x/y.png"}]}],
            "functions": [{"name": "f"}], "tool_choice": "required", "reasoning_effort": "high",
            "response_format": {"type": "json_object"}, "metadata": {"a": "1"}, "max_tokens": 9}));
        assert!(s.has_tools && s.has_images && s.reasoning);
        assert_eq!(s.tool_choice, Some("required"));
        assert_eq!(s.output_format, Some("json_object"));
        assert_eq!(s.metadata, vec![("a".to_owned(), "1".to_owned())]);
        assert_eq!(s.max_output_tokens, Some(9));
        assert_eq!(s.last_user_text, "ab");
    }
}

mod responses {
    use super::*;

    cases!(responses_refused {
        model_not_a_string: {"model": 5, "input": "x"} => "model";
        temperature_as_string: {"model": "m", "input": "x", "temperature": "hot"} => "temperature";
        top_p_as_string: {"model": "m", "input": "x", "top_p": "1"} => "top_p";
        max_output_tokens_as_string: {"model": "m", "input": "x", "max_output_tokens": "100"} => "max_output_tokens";
        max_output_tokens_zero: {"model": "m", "input": "x", "max_output_tokens": 0} => "max_output_tokens";
        stream_as_string: {"model": "m", "input": "x", "stream": "yes"} => "stream";
        store_as_string: {"model": "m", "input": "x", "store": "no"} => "store";
        previous_response_id_as_number: {"model": "m", "input": "x", "previous_response_id": 5} => "previous_response_id";
        parallel_tool_calls_as_string: {"model": "m", "input": "x", "parallel_tool_calls": "yes"} => "parallel_tool_calls";
        user_as_number: {"model": "m", "input": "x", "user": 1} => "user";
        instructions_as_number: {"model": "m", "input": "x", "instructions": 1} => "instructions";
        input_as_number: {"model": "m", "input": 5} => "input";
        item_not_an_object: {"model": "m", "input": ["x"]} => "input[0]";
        item_type_as_number: {"model": "m", "input": [{"type": 1, "role": "user", "content": "x"}]} => "input[0].type";
        role_unknown: {"model": "m", "input": [{"type": "message", "role": "robot", "content": "x"}]} => "input[0].role";
        role_as_number: {"model": "m", "input": [{"type": "message", "role": 1, "content": "x"}]} => "input[0].role";
        content_as_number: {"model": "m", "input": [{"type": "message", "role": "user", "content": 5}]} => "input[0].content";
        content_missing: {"model": "m", "input": [{"type": "message", "role": "user"}]} => "input[0].content";
        part_type_as_number: {"model": "m", "input": [{"role": "user", "content": [{"type": 5, "text": "x"}]}]} => "input[0].content[0].type";
        part_without_type: {"model": "m", "input": [{"role": "user", "content": [{"text": "x"}]}]} => "input[0].content[0].type";
        text_part_without_text: {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text"}]}]} => "input[0].content[1].text";
        text_part_text_as_number: {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": 5}]}]} => "input[0].content[0].text";
        image_part_without_url_or_id: {"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "detail": "auto"}]}]} => "input[0].content[0].image_url";
        image_url_as_object: {"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": {"url": "https://x"}}]}]} => "input[0].content[0].image_url";
        file_data_as_number: {"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_data": 5}]}]} => "input[0].content[0].file_data";
        function_call_without_call_id: {"model": "m", "input": [{"role": "user", "content": "x"}, {"type": "function_call", "name": "f", "arguments": "{}"}]} => "input[1].call_id";
        function_call_name_as_number: {"model": "m", "input": [{"role": "user", "content": "x"}, {"type": "function_call", "call_id": "c", "name": 5, "arguments": "{}"}]} => "input[1].name";
        function_call_without_name: {"model": "m", "input": [{"role": "user", "content": "x"}, {"type": "function_call", "call_id": "c", "arguments": "{}"}]} => "input[1].name";
        function_call_arguments_as_object: {"model": "m", "input": [{"role": "user", "content": "x"}, {"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}]} => "input[1].arguments";
        function_call_output_without_call_id: {"model": "m", "input": [{"type": "function_call_output", "output": "r"}]} => "input[0].call_id";
        function_call_output_without_output: {"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]} => "input[0].output";
        tools_not_an_array: {"model": "m", "input": "x", "tools": {}} => "tools";
        tool_without_type: {"model": "m", "input": "x", "tools": [{"name": "f"}]} => "tools[0].type";
        tool_type_as_number: {"model": "m", "input": "x", "tools": [{"type": 1, "name": "f"}]} => "tools[0].type";
        tool_without_name: {"model": "m", "input": "x", "tools": [{"type": "function", "name": "a"}, {"type": "function", "parameters": {}}]} => "tools[1].name";
        tool_name_as_number: {"model": "m", "input": "x", "tools": [{"type": "function", "name": 5}]} => "tools[0].name";
        tool_parameters_as_string: {"model": "m", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": "{}"}]} => "tools[0].parameters";
        namespace_tool_without_name: {"model": "m", "input": "x", "tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "function"}]}]} => "tools[0].tools[0].name";
        tool_choice_as_number: {"model": "m", "input": "x", "tool_choice": 1} => "tool_choice";
        tool_choice_unknown_string: {"model": "m", "input": "x", "tool_choice": "always"} => "tool_choice";
        tool_choice_function_without_name: {"model": "m", "input": "x", "tool_choice": {"type": "function"}} => "tool_choice.name";
        tool_choice_name_as_number: {"model": "m", "input": "x", "tool_choice": {"type": "function", "name": 5}} => "tool_choice.name";
        text_as_string: {"model": "m", "input": "x", "text": "json"} => "text";
        text_format_as_string: {"model": "m", "input": "x", "text": {"format": "json"}} => "text.format";
        text_format_unknown_type: {"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}} => "text.format.type";
        text_format_without_schema: {"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}} => "text.format.schema";
        text_format_schema_as_string: {"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "n", "schema": "{}"}}} => "text.format.schema";
        text_format_name_as_number: {"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": 5, "schema": {}}}} => "text.format.name";
        reasoning_as_string: {"model": "m", "input": "x", "reasoning": "high"} => "reasoning";
        reasoning_effort_as_number: {"model": "m", "input": "x", "reasoning": {"effort": 3}} => "reasoning.effort";
        reasoning_summary_as_bool: {"model": "m", "input": "x", "reasoning": {"summary": true}} => "reasoning.summary";
        metadata_as_string: {"model": "m", "input": "x", "metadata": "x"} => "metadata";
        metadata_value_as_number: {"model": "m", "input": "x", "metadata": {"n": 1}} => "metadata.n";
    });

    #[test]
    fn what_codex_sends_still_passes() {
        let body = json!({"model": "gpt-5", "instructions": "You are Codex.", "stream": true, "store": false,
            "tool_choice": "auto", "parallel_tool_calls": true, "reasoning": {"effort": "medium", "summary": "auto"},
            "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k", "client_metadata": {"x": 1},
            "text": {"verbosity": "low"},
            "tools": [{"type": "function", "name": "exec_command", "description": "Run", "strict": false,
                       "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
                      {"type": "namespace", "name": "multi_agent_v1", "description": "Agents",
                       "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object"}}]},
                      {"type": "web_search"}],
            "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "d"}]},
                      {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ls"}]},
                      {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}], "encrypted_content": "e"},
                      {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
                      {"type": "function_call_output", "call_id": "c1", "output": "a.txt"}]});
        let req = from_responses(body.to_string().as_bytes()).unwrap();
        assert_eq!(req.messages.len(), 5);
        assert!(req.extra.get("client_metadata").is_some());
        // The SDK's plain forms.
        for b in [
            json!({"model": "m", "input": "Hi", "max_output_tokens": 50, "temperature": 0.2, "metadata": {"a": "b"}}),
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]}],
                   "text": {"format": {"type": "json_schema", "name": "o", "schema": {"type": "object"}, "strict": true}},
                   "tool_choice": {"type": "function", "name": "f"}, "tools": [{"type": "function", "name": "f"}],
                   "store": true, "previous_response_id": null, "user": null}),
        ] {
            from_responses(b.to_string().as_bytes()).unwrap_or_else(|e| panic!("{b}: {e}"));
        }
    }
}

mod anthropic {
    use super::*;

    cases!(anthropic_refused {
        model_not_a_string: {"model": 5, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]} => "model";
        max_tokens_missing: {"model": "m", "messages": [{"role": "user", "content": "x"}]} => "max_tokens";
        max_tokens_as_string: {"model": "m", "max_tokens": "10", "messages": [{"role": "user", "content": "x"}]} => "max_tokens";
        max_tokens_zero: {"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]} => "max_tokens";
        temperature_as_string: {"model": "m", "max_tokens": 10, "temperature": "hot", "messages": [{"role": "user", "content": "x"}]} => "temperature";
        top_p_as_string: {"model": "m", "max_tokens": 10, "top_p": "1", "messages": [{"role": "user", "content": "x"}]} => "top_p";
        top_k_negative: {"model": "m", "max_tokens": 10, "top_k": -1, "messages": [{"role": "user", "content": "x"}]} => "top_k";
        stop_sequences_as_string: {"model": "m", "max_tokens": 10, "stop_sequences": "END", "messages": [{"role": "user", "content": "x"}]} => "stop_sequences";
        stop_sequence_as_number: {"model": "m", "max_tokens": 10, "stop_sequences": ["a", 1], "messages": [{"role": "user", "content": "x"}]} => "stop_sequences.1";
        stream_as_string: {"model": "m", "max_tokens": 10, "stream": "yes", "messages": [{"role": "user", "content": "x"}]} => "stream";
        system_as_number: {"model": "m", "max_tokens": 10, "system": 5, "messages": [{"role": "user", "content": "x"}]} => "system";
        system_block_without_text: {"model": "m", "max_tokens": 10, "system": [{"type": "text"}], "messages": [{"role": "user", "content": "x"}]} => "system.0.text";
        messages_missing: {"model": "m", "max_tokens": 10} => "messages";
        messages_not_a_list: {"model": "m", "max_tokens": 10, "messages": {"role": "user"}} => "messages";
        role_unknown: {"model": "m", "max_tokens": 10, "messages": [{"role": "robot", "content": "x"}]} => "messages.0.role";
        role_missing: {"model": "m", "max_tokens": 10, "messages": [{"content": "x"}]} => "messages.0.role";
        content_as_number: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": 5}]} => "messages.0.content";
        block_without_type: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [{"text": "x"}]}]} => "messages.0.content.0.type";
        text_block_without_text: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "text"}]}]} => "messages.0.content.0.text";
        text_block_text_as_number: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": 5}]}]} => "messages.0.content.1.text";
        image_block_without_source: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "image"}]}]} => "messages.0.content.0.source";
        image_source_without_data: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png"}}]}]} => "messages.0.content.0.source.data";
        tool_use_without_id: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]} => "messages.1.content.0.id";
        tool_use_input_as_string: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}]}]} => "messages.1.content.0.input";
        tool_result_without_tool_use_id: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "tool_result", "content": "r"}]}]} => "messages.0.content.0.tool_use_id";
        tool_result_is_error_as_string: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}]}]} => "messages.0.content.0.is_error";
        tools_not_a_list: {"model": "m", "max_tokens": 10, "tools": {}, "messages": [{"role": "user", "content": "x"}]} => "tools";
        tool_without_name: {"model": "m", "max_tokens": 10, "tools": [{"input_schema": {"type": "object"}}], "messages": [{"role": "user", "content": "x"}]} => "tools.0.name";
        tool_name_as_number: {"model": "m", "max_tokens": 10, "tools": [{"name": 5, "input_schema": {"type": "object"}}], "messages": [{"role": "user", "content": "x"}]} => "tools.0.name";
        tool_without_input_schema: {"model": "m", "max_tokens": 10, "tools": [{"name": "f"}], "messages": [{"role": "user", "content": "x"}]} => "tools.0.input_schema";
        tool_input_schema_as_string: {"model": "m", "max_tokens": 10, "tools": [{"name": "f", "input_schema": "{}"}], "messages": [{"role": "user", "content": "x"}]} => "tools.0.input_schema";
        tool_choice_as_string: {"model": "m", "max_tokens": 10, "tool_choice": "auto", "messages": [{"role": "user", "content": "x"}]} => "tool_choice";
        tool_choice_unknown_type: {"model": "m", "max_tokens": 10, "tool_choice": {"type": "always"}, "messages": [{"role": "user", "content": "x"}]} => "tool_choice.type";
        tool_choice_tool_without_name: {"model": "m", "max_tokens": 10, "tool_choice": {"type": "tool"}, "messages": [{"role": "user", "content": "x"}]} => "tool_choice.name";
        thinking_without_budget: {"model": "m", "max_tokens": 10, "thinking": {"type": "enabled"}, "messages": [{"role": "user", "content": "x"}]} => "thinking.budget_tokens";
        thinking_unknown_type: {"model": "m", "max_tokens": 10, "thinking": {"type": "max"}, "messages": [{"role": "user", "content": "x"}]} => "thinking.type";
        output_format_without_schema: {"model": "m", "max_tokens": 10, "output_config": {"format": {"type": "json_schema"}}, "messages": [{"role": "user", "content": "x"}]} => "output_config.format.schema";
        metadata_as_string: {"model": "m", "max_tokens": 10, "metadata": "x", "messages": [{"role": "user", "content": "x"}]} => "metadata";
        metadata_user_id_as_number: {"model": "m", "max_tokens": 10, "metadata": {"user_id": 5}, "messages": [{"role": "user", "content": "x"}]} => "metadata.user_id";
    });

    #[test]
    fn what_claude_code_and_the_sdk_send_still_passes() {
        for b in [
            json!({"max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}], "model": "claude-sonnet-4-5", "system": "Be brief."}),
            json!({"max_tokens": 200, "messages": [{"role": "user", "content": "Weather in Paris?"}], "model": "claude-sonnet-4-5", "tool_choice": {"type": "auto"}, "tools": [{"name": "get_weather", "description": "Get weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}),
            json!({"model": "r", "max_tokens": 32000, "stream": true,
                "system": [{"type": "text", "text": "a"}, {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}],
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                             {"role": "system", "content": "reminder"},
                             {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"cmd": "ls"}}]},
                             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "a.txt"}]}]}],
                "tools": [{"name": "Bash", "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": false}}],
                "thinking": {"type": "adaptive", "display": "omitted"}, "context_management": {"edits": []},
                "output_config": {"effort": "high"}, "metadata": {"user_id": "{\"device\":\"d\"}"}}),
        ] {
            from_anthropic(b.to_string().as_bytes()).unwrap_or_else(|e| panic!("{b}: {e}"));
        }
    }
}
