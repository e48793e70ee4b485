//! Bad client bodies over HTTP: whatever the target (one that speaks the client's format, so
//! the body would be relayed as it is, or one that needs a translation), a wrong type or a
//! missing required member is answered 400 in the client's own error shape, naming the field
//! by its path, and the provider is never called. OpenAI clients (Chat Completions and
//! Responses) get `{"error": {message, type: "invalid_request_error", param, code}}`;
//! Anthropic clients get `{"type": "error", "error": {"type": "invalid_request_error",
//! message}}` with the path at the start of the message, as Anthropic words it.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use common::*;
use modelmux_core::RunningGateway;
use modelmux_sim::{Behaviour, SimHandle};
use serde_json::{Value, json};

/// One simulator speaking every format, and routes to it as an OpenAI Chat target (`chat`),
/// an Anthropic target (`anth`) and an OpenAI Responses target (`resp`).
async fn setup() -> (RunningGateway, SimHandle) {
    let s = sim(&[("m", Behaviour::default())]).await;
    let root = s.root_url();
    let gw = gateway(&format!(
        "[providers.oai]\nkind = \"openai\"\nbase_url = \"{root}/v1\"\n\
         [providers.ant]\nkind = \"anthropic\"\nbase_url = \"{root}/v1\"\napi_key = \"k\"\n\
         [providers.rsp]\nkind = \"openai\"\nbase_url = \"{root}/v1\"\nresponses_api = true\n\
         [[routes]]\nname = \"chat\"\ntargets = [\"oai/m\"]\nnum_retries = 0\n\
         [[routes]]\nname = \"anth\"\ntargets = [\"ant/m\"]\nnum_retries = 0\n\
         [[routes]]\nname = \"resp\"\ntargets = [\"rsp/m\"]\nnum_retries = 0\n"
    ))
    .await;
    (gw, s)
}

async fn send(gw: &RunningGateway, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", gw.url()))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Sends `body` with each route as its model and checks the OpenAI error shape and param.
async fn openai_refused(gw: &RunningGateway, path: &str, body: &Value, param: &str) {
    for route in ["chat", "anth", "resp"] {
        let mut b = body.clone();
        b["model"] = json!(route);
        let resp = send(gw, path, &b).await;
        assert_eq!(resp.status(), 400, "{path} {route}: {b}");
        let v = json_of(resp).await;
        let e = error_object(&v);
        assert_eq!(e["type"], "invalid_request_error", "{v}");
        assert_eq!(e["param"], param, "{path} {route}: {b}\n{v}");
    }
}

fn chat(extra: Value, messages: Value) -> Value {
    let mut b = json!({"model": "chat", "messages": messages});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

#[tokio::test]
async fn chat_completions_bodies_are_refused_before_any_provider_call() {
    let (gw, s) = setup().await;
    let user = json!([{"role": "user", "content": "x"}]);
    let cases = [
        (
            chat(
                json!({}),
                json!([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text"}]}]),
            ),
            "messages[0].content[1].text",
        ),
        (
            chat(json!({"temperature": "hot"}), user.clone()),
            "temperature",
        ),
        (chat(json!({"top_p": "1"}), user.clone()), "top_p"),
        (chat(json!({"max_tokens": "9"}), user.clone()), "max_tokens"),
        (
            chat(json!({"max_completion_tokens": -1}), user.clone()),
            "max_completion_tokens",
        ),
        (chat(json!({"stop": 5}), user.clone()), "stop"),
        (chat(json!({"n": "2"}), user.clone()), "n"),
        (chat(json!({"seed": "s"}), user.clone()), "seed"),
        (
            chat(json!({"presence_penalty": "1"}), user.clone()),
            "presence_penalty",
        ),
        (chat(json!({"stream": "yes"}), user.clone()), "stream"),
        (chat(json!({"tool_choice": 1}), user.clone()), "tool_choice"),
        (
            chat(
                json!({"tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}},
                {"type": "function", "function": {"description": "nameless"}}]}),
                user.clone(),
            ),
            "tools[2].function.name",
        ),
        (
            chat(
                json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]}),
                user.clone(),
            ),
            "tools[0].function.parameters",
        ),
        (
            chat(json!({"response_format": {"type": "yaml"}}), user.clone()),
            "response_format.type",
        ),
        (
            chat(json!({"metadata": {"n": 1}}), user.clone()),
            "metadata.n",
        ),
        (
            chat(json!({"reasoning_effort": 1}), user.clone()),
            "reasoning_effort",
        ),
        (
            chat(json!({}), json!([{"role": "robot", "content": "x"}])),
            "messages[0].role",
        ),
        (
            chat(
                json!({}),
                json!([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]),
            ),
            "messages[0].content[0].image_url.url",
        ),
        (
            chat(
                json!({}),
                json!([{"role": "user", "content": "x"}, {"role": "assistant", "content": null,
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}]}]),
            ),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            chat(json!({}), json!([{"role": "tool", "content": "r"}])),
            "messages[0].tool_call_id",
        ),
    ];
    for (body, param) in &cases {
        openai_refused(&gw, "/v1/chat/completions", body, param).await;
    }
    assert_eq!(s.total_requests(), 0, "a bad body reached the provider");
    // The counter counts: a good body is relayed.
    let resp = send(&gw, "/v1/chat/completions", &chat(json!({}), user)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(s.total_requests(), 1);
}

#[tokio::test]
async fn responses_bodies_are_refused_before_any_provider_call() {
    let (gw, s) = setup().await;
    let with = |extra: Value| {
        let mut b = json!({"model": "resp", "input": "x"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (with(json!({"temperature": "hot"})), "temperature"),
        (with(json!({"max_output_tokens": "9"})), "max_output_tokens"),
        (with(json!({"stream": 1})), "stream"),
        (with(json!({"store": "no"})), "store"),
        (
            with(json!({"previous_response_id": 5})),
            "previous_response_id",
        ),
        (with(json!({"tool_choice": 1})), "tool_choice"),
        (
            with(json!({"tools": [{"type": "function", "parameters": {}}]})),
            "tools[0].name",
        ),
        (
            with(json!({"text": {"format": {"type": "json_schema", "name": "n", "schema": "{}"}}})),
            "text.format.schema",
        ),
        (
            with(json!({"reasoning": {"effort": 3}})),
            "reasoning.effort",
        ),
        (with(json!({"metadata": {"n": 1}})), "metadata.n"),
        (
            with(json!({"input": [{"role": "user", "content": [{"type": "input_text"}]}]})),
            "input[0].content[0].text",
        ),
        (
            with(
                json!({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]}),
            ),
            "input[0].arguments",
        ),
        (
            with(json!({"input": [{"type": "function_call_output", "output": "r"}]})),
            "input[0].call_id",
        ),
    ];
    for (body, param) in &cases {
        openai_refused(&gw, "/v1/responses", body, param).await;
    }
    assert_eq!(s.total_requests(), 0, "a bad body reached the provider");
}

#[tokio::test]
async fn messages_bodies_are_refused_before_any_provider_call() {
    let (gw, s) = setup().await;
    let with = |extra: Value| {
        let mut b = json!({"model": "anth", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (
            with(json!({"messages": [{"role": "user", "content": [{"type": "text"}]}]})),
            "messages.0.content.0.text",
        ),
        (with(json!({"max_tokens": "10"})), "max_tokens"),
        (with(json!({"temperature": "hot"})), "temperature"),
        (with(json!({"stream": "yes"})), "stream"),
        (with(json!({"tool_choice": 1})), "tool_choice"),
        (
            with(json!({"tools": [{"input_schema": {"type": "object"}}]})),
            "tools.0.name",
        ),
        (with(json!({"stop_sequences": [1]})), "stop_sequences.0"),
        (
            with(json!({"metadata": {"user_id": 5}})),
            "metadata.user_id",
        ),
        (
            with(json!({"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]})),
            "messages.0.content.0.tool_use_id",
        ),
    ];
    for (body, param) in &cases {
        for route in ["anth", "chat", "resp"] {
            let mut b = body.clone();
            b["model"] = json!(route);
            let resp = send(&gw, "/v1/messages", &b).await;
            assert_eq!(resp.status(), 400, "{route}: {b}");
            let v = json_of(resp).await;
            assert_eq!(v["type"], "error", "{v}");
            assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with(&format!("{param}: ")),
                "{route}: {b}\n{v}"
            );
        }
    }
    let mut b = with(json!({}));
    b.as_object_mut().unwrap().remove("max_tokens");
    let v = json_of(send(&gw, "/v1/messages", &b).await).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("max_tokens: "),
        "{v}"
    );
    assert_eq!(s.total_requests(), 0, "a bad body reached the provider");
}
